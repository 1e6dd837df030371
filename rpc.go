package coord

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The cluster RPC: followers forward write batches to the leader and
// heartbeat their sessions. Frames are
//
//	request:  len uint32 | type byte | id uint64 | payload
//	response: len uint32 | id uint64 | status byte | payload
//
// Many requests are in flight per connection; responses may come in any
// order and are matched by id. The leader proposes forwarded batches in the
// order it reads them, so each session's writes keep their order.
const (
	rpcForward byte = 1
	rpcTouch   byte = 2

	rpcOK        byte = 0
	rpcNotLeader byte = 1
	rpcFailed    byte = 2
	rpcRejected  byte = 3 // a forwarded batch that does not decode: not proposed

	maxRPCFrame = 64 << 20
)

var errNotLeader = errors.New("coord: not the leader")

// rpcClient is one connection to a peer's RPC endpoint.
type rpcClient struct {
	conn    net.Conn
	writeMu sync.Mutex
	w       *bufio.Writer

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan rpcResult // guarded by mu
	err     error                     // guarded by mu: set once the connection failed
}

type rpcResult struct {
	status  byte
	payload []byte
	err     error
	notSent bool // the request never fully left: safe to send again
}

func (n *Node) rpcClientFor(ctx context.Context, addr string) (*rpcClient, error) {
	n.rpcMu.Lock()
	c := n.rpcClients[addr]
	n.rpcMu.Unlock()
	if c != nil && c.broken() == nil {
		return c, nil
	}
	conn, err := n.mux.dial(ctx, addr, muxRPC)
	if err != nil {
		return nil, err
	}
	c = &rpcClient{conn: conn, w: bufio.NewWriterSize(conn, 64<<10), pending: make(map[uint64]chan rpcResult)}
	n.rpcMu.Lock()
	if old := n.rpcClients[addr]; old != nil && old.broken() == nil {
		// Someone dialed at the same time: keep theirs, so requests already
		// on it are not given up while the leader may still read them.
		n.rpcMu.Unlock()
		conn.Close()
		return old, nil
	}
	n.rpcClients[addr] = c
	n.rpcMu.Unlock()
	go c.readLoop()
	return c, nil
}

func (c *rpcClient) broken() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *rpcClient) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	pend := c.pending
	c.pending = make(map[uint64]chan rpcResult)
	c.mu.Unlock()
	c.conn.Close()
	for _, ch := range pend {
		ch <- rpcResult{err: err}
	}
}

// send writes a request and returns the channel its response arrives on.
func (c *rpcClient) send(typ byte, payload []byte) <-chan rpcResult {
	ch := make(chan rpcResult, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		ch <- rpcResult{err: c.err, notSent: true}
		return ch
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	var hdr [13]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(9+len(payload)))
	hdr[4] = typ
	binary.BigEndian.PutUint64(hdr[5:], id)
	c.writeMu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.w.Write(hdr[:])
	if err == nil {
		_, err = c.w.Write(payload)
	}
	if err == nil {
		err = c.w.Flush()
	}
	c.writeMu.Unlock()
	if err != nil {
		// A frame is only processed once whole, and this one did not get
		// out whole: the caller may send it again.
		c.mu.Lock()
		_, mine := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if mine { // else fail() already answered it
			ch <- rpcResult{err: err, notSent: true}
		}
		c.fail(err)
	}
	return ch
}

func (c *rpcClient) readLoop() {
	r := bufio.NewReaderSize(c.conn, 64<<10)
	for {
		var hdr [13]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			c.fail(err)
			return
		}
		size := binary.BigEndian.Uint32(hdr[:4])
		if size < 9 || size > maxRPCFrame {
			c.fail(errors.New("coord: bad rpc frame"))
			return
		}
		id := binary.BigEndian.Uint64(hdr[4:12])
		status := hdr[12]
		payload := make([]byte, size-9)
		if _, err := io.ReadFull(r, payload); err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- rpcResult{status: status, payload: payload}
		}
	}
}

// serveRPC answers one peer's connection.
func (n *Node) serveRPC(conn net.Conn) {
	defer conn.Close()
	// Close the connection when the node stops, so peers learn at once.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-n.stop:
			conn.Close()
		case <-done:
		}
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	// Replies go out through one writer, so that whoever answers (the
	// reader here, or the proposer settling a forwarded batch) never waits
	// on the peer, and replies that are ready together share one write.
	replies := make(chan rpcReply, rpcReplyQueue)
	go n.writeReplies(conn, replies, done)
	respond := func(id uint64, status byte, payload []byte) {
		select {
		case <-done:
		case replies <- rpcReply{id: id, status: status, payload: payload}:
		default:
			// The peer has stopped reading: drop it rather than queue
			// without bound; it settles what it sent another way.
			conn.Close()
		}
	}
	for {
		var hdr [13]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		size := binary.BigEndian.Uint32(hdr[:4])
		if size < 9 || size > maxRPCFrame {
			return
		}
		typ := hdr[4]
		id := binary.BigEndian.Uint64(hdr[5:])
		payload := make([]byte, size-9)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		switch typ {
		case rpcForward:
			if !n.isLeader.Load() || n.stopping() {
				respond(id, rpcNotLeader, nil)
				continue
			}
			// Every replica must be able to decode what is proposed.
			if _, err := decodeBatch(payload); err != nil {
				respond(id, rpcRejected, []byte(err.Error()))
				continue
			}
			// The batch rides in this node's next entry, with whatever
			// else is waiting; its fate comes back through settle.
			n.proposer.forwarded(payload, func(status byte, payload []byte) {
				respond(id, status, payload)
			})
		case rpcTouch:
			now := time.Now()
			for p := payload; len(p) > 0; {
				v, k := binary.Varint(p)
				if k <= 0 {
					break
				}
				p = p[k:]
				n.tracker.touch(v, 0, now)
			}
			respond(id, rpcOK, nil)
		default:
			respond(id, rpcFailed, []byte("unknown rpc"))
		}
	}
}

type rpcReply struct {
	id      uint64
	status  byte
	payload []byte
}

// rpcReplyQueue bounds the replies waiting for a peer that reads slowly.
const rpcReplyQueue = 4096

// writeReplies writes replies to conn until done is closed. A reply that
// does not get out would leave the peer waiting, so any failure closes the
// connection.
func (n *Node) writeReplies(conn net.Conn, replies <-chan rpcReply, done <-chan struct{}) {
	w := bufio.NewWriterSize(conn, 64<<10)
	for {
		var r rpcReply
		select {
		case r = <-replies:
		case <-done:
			return
		}
		var hdr [13]byte
		binary.BigEndian.PutUint32(hdr[:4], uint32(9+len(r.payload)))
		binary.BigEndian.PutUint64(hdr[4:12], r.id)
		hdr[12] = r.status
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := w.Write(hdr[:])
		if err == nil {
			_, err = w.Write(r.payload)
		}
		if err == nil && len(replies) == 0 {
			err = w.Flush()
		}
		if err != nil {
			conn.Close()
			return
		}
	}
}

func (n *Node) rpcAcceptLoop() {
	defer n.wg.Done()
	for {
		select {
		case c := <-n.mux.rpcCh:
			go n.serveRPC(c)
		case <-n.mux.closed:
			return
		case <-n.stop:
			return
		}
	}
}

func (n *Node) stopping() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// leaderAddr returns the current leader's cluster address, waiting up to
// wait for one to be known. It reports false at once when the leader is
// this node: raft names it before watchLeadership has marked it leader,
// and a forward to itself would wait in its own queue behind itself.
func (n *Node) leaderAddr(wait time.Duration) (string, bool) {
	deadline := time.Now().Add(wait)
	for {
		addr, id := n.raft.LeaderWithID()
		if id == raft.ServerID(n.cfg.NodeID) {
			return "", false
		}
		if addr != "" {
			return string(addr), true
		}
		if time.Now().After(deadline) {
			return "", false
		}
		select {
		case <-n.stop:
			return "", false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sendTouches heartbeats the local sessions to the leader.
func (n *Node) sendTouches(ids []int64) {
	if len(ids) == 0 || n.isLeader.Load() || n.mux == nil {
		return
	}
	addr, ok := n.leaderAddr(0)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := n.rpcClientFor(ctx, addr)
	if err != nil {
		return
	}
	var buf []byte
	for _, id := range ids {
		buf = binary.AppendVarint(buf, id)
	}
	c.send(rpcTouch, buf)
}
