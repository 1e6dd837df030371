package interop

// A minimal ZooKeeper wire client, for the requests go-zookeeper/zk v1.0.4
// cannot send (addWatch, getAllChildrenNumber, getEphemerals, whoAmI,
// multiRead, a bare check, create2) and for requests that its client-side
// validation would refuse (invalid paths, odd create flags).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Opcodes not exported by go-zookeeper.
const (
	opCreate          = 1
	opDelete          = 2
	opExists          = 3
	opGetData         = 4
	opSetData         = 5
	opGetACL          = 6
	opSetACL          = 7
	opGetChildren     = 8
	opSync            = 9
	opPing            = 11
	opGetChildren2    = 12
	opCheck           = 13
	opMulti           = 14
	opCreate2         = 15
	opCheckWatches    = 17
	opRemoveWatches   = 18
	opCreateContainer = 19
	opCreateTTL       = 21
	opMultiRead       = 22
	opAuth            = 100
	opGetEphemerals   = 103
	opGetAllChildrenN = 104
	opAddWatch        = 106
	opWhoAmI          = 107
	opCloseSession    = -11
)

// ---- jute encoding ----

type jw struct{ b []byte }

func (w *jw) i32(v int32) *jw { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)); return w }
func (w *jw) i64(v int64) *jw { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)); return w }
func (w *jw) bool(v bool) *jw {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
	return w
}
func (w *jw) str(s string) *jw { w.i32(int32(len(s))); w.b = append(w.b, s...); return w }

// buf writes a jute buffer; nil is written as length -1 (null).
func (w *jw) buf(b []byte) *jw {
	if b == nil {
		return w.i32(-1)
	}
	w.i32(int32(len(b)))
	w.b = append(w.b, b...)
	return w
}
func (w *jw) acls(a []zk.ACL) *jw {
	w.i32(int32(len(a)))
	for _, x := range a {
		w.i32(x.Perms).str(x.Scheme).str(x.ID)
	}
	return w
}
func (w *jw) strs(ss []string) *jw {
	w.i32(int32(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
	return w
}

type jr struct {
	b   []byte
	err error
}

var errShort = errors.New("short jute record")

func (r *jr) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		if r.err == nil {
			r.err = errShort
		}
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *jr) i32() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}
func (r *jr) i64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}
func (r *jr) bool() bool {
	b := r.take(1)
	return b != nil && b[0] != 0
}

// buf reads a jute buffer; a -1 length yields nil, an empty one []byte{}.
func (r *jr) buf() []byte {
	n := r.i32()
	if r.err != nil || n < 0 {
		return nil
	}
	b := r.take(int(n))
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
func (r *jr) str() string { return string(r.buf()) }
func (r *jr) strs() []string {
	n := r.i32()
	if n < 0 || r.err != nil {
		return nil
	}
	out := []string{}
	for i := int32(0); i < n && r.err == nil; i++ {
		out = append(out, r.str())
	}
	return out
}
func (r *jr) stat() zk.Stat {
	return zk.Stat{
		Czxid: r.i64(), Mzxid: r.i64(), Ctime: r.i64(), Mtime: r.i64(),
		Version: r.i32(), Cversion: r.i32(), Aversion: r.i32(),
		EphemeralOwner: r.i64(), DataLength: r.i32(), NumChildren: r.i32(),
		Pzxid: r.i64(),
	}
}
func (r *jr) acls() []zk.ACL {
	n := r.i32()
	if n < 0 || r.err != nil {
		return nil
	}
	out := []zk.ACL{}
	for i := int32(0); i < n && r.err == nil; i++ {
		out = append(out, zk.ACL{Perms: r.i32(), Scheme: r.str(), ID: r.str()})
	}
	return out
}

// ---- connection ----

type rawReply struct {
	xid  int32
	zxid int64
	err  int32
	body []byte
}

type rawEvent struct {
	zxid  int64 // reply-header zxid of the notification
	typ   int32
	state int32
	path  string
}

// errConnClosed is the pseudo outcome of a request whose connection the
// server closed (or that got no answer in time).
var errConnClosed = errors.New("connection closed")

type rawConn struct {
	nc      net.Conn
	session int64
	timeout int32
	passwd  []byte

	wmu sync.Mutex
	xid atomic.Int32

	replies chan rawReply
	done    chan struct{} // closed when the reader stops

	emu    sync.Mutex
	events []rawEvent

	closeOnce sync.Once
}

// dialRaw opens a session with a plain ConnectRequest (no readOnly byte, as
// go-zookeeper sends it).
func dialRaw(addr string, timeoutMs int32) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	req := (&jw{}).i32(0).i64(0).i32(timeoutMs).i64(0).buf(make([]byte, 16))
	if err := writeFrame(nc, req.b); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	body, err := readFrame(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect response: %w", err)
	}
	nc.SetReadDeadline(time.Time{})
	r := &jr{b: body}
	r.i32() // protocol version
	to := r.i32()
	sid := r.i64()
	pw := r.buf()
	if r.err != nil || sid == 0 {
		nc.Close()
		return nil, fmt.Errorf("bad connect response (session %d, err %v)", sid, r.err)
	}
	c := &rawConn{nc: nc, session: sid, timeout: to, passwd: pw,
		replies: make(chan rawReply, 64), done: make(chan struct{})}
	go c.readLoop()
	go c.pingLoop()
	return c, nil
}

func writeFrame(w io.Writer, body []byte) error {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	_, err := w.Write(append(b, body...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > 16<<20 {
		return nil, fmt.Errorf("frame too large: %d", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func (c *rawConn) readLoop() {
	defer close(c.done)
	for {
		body, err := readFrame(c.nc)
		if err != nil {
			return
		}
		r := &jr{b: body}
		rep := rawReply{xid: r.i32(), zxid: r.i64(), err: r.i32()}
		if r.err != nil {
			return
		}
		rep.body = r.b
		switch rep.xid {
		case -2: // ping
		case -1:
			ev := rawEvent{zxid: rep.zxid, typ: r.i32(), state: r.i32(), path: r.str()}
			c.emu.Lock()
			c.events = append(c.events, ev)
			c.emu.Unlock()
		default:
			select {
			case c.replies <- rep:
			default:
				// Nobody is listening for this many replies: a bug in a
				// scenario. Drop the connection rather than block.
				c.nc.Close()
				return
			}
		}
	}
}

func (c *rawConn) pingLoop() {
	iv := time.Duration(c.timeout) * time.Millisecond / 3
	if iv <= 0 {
		iv = time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.send(-2, opPing, nil)
		}
	}
}

func (c *rawConn) send(xid, op int32, body []byte) error {
	h := (&jw{}).i32(xid).i32(op)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return writeFrame(c.nc, append(h.b, body...))
}

// call sends one request and waits for its reply (5s, then the connection
// is dropped).
func (c *rawConn) call(op int32, body []byte) (rawReply, error) {
	return c.callWait(op, body, 5*time.Second, true)
}

// callWait is call with a chosen wait; with closeOnTimeout false a missing
// reply leaves the connection open (a late reply is then skipped).
func (c *rawConn) callWait(op int32, body []byte, wait time.Duration, closeOnTimeout bool) (rawReply, error) {
	xid := c.xid.Add(1)
	if op == opAuth {
		xid = -4
	}
	return c.callXid(xid, op, body, wait, closeOnTimeout)
}

func (c *rawConn) callXid(xid, op int32, body []byte, wait time.Duration, closeOnTimeout bool) (rawReply, error) {
	if err := c.send(xid, op, body); err != nil {
		return rawReply{}, errConnClosed
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case rep := <-c.replies:
			if rep.xid > 0 && xid > 0 && rep.xid < xid {
				continue // late reply to a request we gave up on
			}
			if rep.xid != xid {
				return rep, fmt.Errorf("reply xid %d, want %d", rep.xid, xid)
			}
			return rep, nil
		case <-c.done:
			// Drain a reply that raced with the close.
			select {
			case rep := <-c.replies:
				if rep.xid == xid {
					return rep, nil
				}
			default:
			}
			return rawReply{}, errConnClosed
		case <-timer.C:
			if closeOnTimeout {
				c.nc.Close()
				return rawReply{}, fmt.Errorf("no reply in %v: %w", wait, errConnClosed)
			}
			return rawReply{}, fmt.Errorf("no reply in %v (connection left open)", wait)
		}
	}
}

// takeEvents returns and clears the notifications received so far.
func (c *rawConn) takeEvents() []rawEvent {
	c.emu.Lock()
	defer c.emu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

func (c *rawConn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// close ends the session politely (closeSession) and drops the socket.
func (c *rawConn) close() {
	c.closeOnce.Do(func() {
		if c.alive() {
			c.callXid(c.xid.Add(1), opCloseSession, nil, 2*time.Second, true)
		}
		c.nc.Close()
		<-c.done
	})
}
