package zkserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkwire"
)

// Helpers for the wire server's tests: a Node with a client listener on
// 127.0.0.1, go-zookeeper/zk connections, and a raw client that speaks
// frames through zkwire for what go-zookeeper/zk cannot send.

const wireWait = 10 * time.Second // deadline for anything a test waits on

// wireNode is a Node with its wire server.
type wireNode struct {
	*coord.Node
	srv *Server
}

// ClientAddr is the wire server's address.
func (n *wireNode) ClientAddr() string { return n.srv.Addr().String() }

// zk returns the wire server.
func (n *wireNode) zk() *Server { return n.srv }

func startWire(t testing.TB, mod func(*Config)) *wireNode {
	t.Helper()
	cfg := Config{FourLetterWords: []string{"*"}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wireWait)
	defer cancel()
	n, err := coord.Open(ctx, coord.Config{
		TickTime:          50 * time.Millisecond,
		MaxSessionTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", n, cfg)
	if err != nil {
		n.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wireWait)
		defer cancel()
		srv.Close()
		n.Close(ctx)
	})
	return &wireNode{Node: n, srv: srv}
}

type wireQuietLogger struct{}

func (wireQuietLogger) Printf(string, ...any) {}

// wireDialZK connects go-zookeeper/zk and waits for its session.
func wireDialZK(t testing.TB, n *wireNode) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	conn, events, err := zk.Connect([]string{n.ClientAddr()}, 2*time.Second, zk.WithLogger(wireQuietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	return wireWaitSession(t, conn, events), events
}

// wireWaitSession waits until conn has a session; it closes conn at cleanup.
func wireWaitSession(t testing.TB, conn *zk.Conn, events <-chan zk.Event) *zk.Conn {
	t.Helper()
	t.Cleanup(conn.Close)
	deadline := time.After(wireWait)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("no session: state %v", conn.State())
		}
	}
	return conn
}

// wireCreate creates a node through go-zookeeper/zk and returns its path.
func wireCreate(t testing.TB, c *zk.Conn, path string, data []byte, flags int32, acl []zk.ACL) string {
	t.Helper()
	p, err := c.Create(path, data, flags, acl)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	return p
}

func wireOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wireEvent waits for one event on ch.
func wireEvent(t testing.TB, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(wireWait):
		t.Fatal("no event")
	}
	return zk.Event{}
}

// wireWaitFor polls cond until it holds or the deadline passes.
func wireWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wireWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Raw client

type wireRaw struct {
	t       testing.TB
	nc      net.Conn
	br      *bufio.Reader
	xid     int32
	sid     int64
	passwd  []byte
	timeout int32
	events  []zkwire.WatcherEvent // notifications read while waiting for replies
}

func wireDialRaw(t testing.TB, addr string) *wireRaw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wireWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &wireRaw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// wireConnectRaw dials and establishes a session (or re-attaches sid/passwd).
func wireConnectRaw(t testing.TB, n *wireNode, sid int64, passwd []byte) *wireRaw {
	t.Helper()
	r := wireDialRaw(t, n.ClientAddr())
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	resp, err := r.connect(zkwire.ConnectRequest{TimeOut: 4000, SessionID: sid, Passwd: passwd})
	if err != nil {
		t.Fatal(err)
	}
	if resp.SessionID == 0 {
		t.Fatal("session refused")
	}
	return r
}

func (r *wireRaw) write(b []byte) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(wireWait))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *wireRaw) readFrame() ([]byte, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(wireWait))
	return zkwire.ReadFrame(r.br, nil, 16<<20)
}

func (r *wireRaw) connect(req zkwire.ConnectRequest) (zkwire.ConnectResponse, error) {
	frame, err := zkwire.AppendFrame(nil, &req)
	if err != nil {
		return zkwire.ConnectResponse{}, err
	}
	r.write(frame)
	body, err := r.readFrame()
	if err != nil {
		return zkwire.ConnectResponse{}, err
	}
	var resp zkwire.ConnectResponse
	if err := zkwire.Unmarshal(body, &resp); err != nil {
		return resp, err
	}
	r.sid, r.passwd, r.timeout = resp.SessionID, resp.Passwd, resp.TimeOut
	return resp, nil
}

// request sends one request and returns its xid.
func (r *wireRaw) request(op int32, req zkwire.Record) int32 {
	r.t.Helper()
	r.xid++
	frame, err := zkwire.AppendFrame(nil, &zkwire.RequestHeader{Xid: r.xid, Type: op}, req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(frame)
	return r.xid
}

// reply reads frames until the reply to xid, keeping notifications.
func (r *wireRaw) reply(xid int32) (zkwire.ReplyHeader, []byte, error) {
	for {
		body, err := r.readFrame()
		if err != nil {
			return zkwire.ReplyHeader{}, nil, err
		}
		var h zkwire.ReplyHeader
		d := zkwire.NewDecoder(body)
		h.Decode(d)
		if d.Err() != nil {
			return h, nil, d.Err()
		}
		rest := body[d.Offset():]
		if h.Xid == zkwire.XidNotification {
			var ev zkwire.WatcherEvent
			if err := zkwire.Unmarshal(rest, &ev); err != nil {
				return h, nil, err
			}
			r.events = append(r.events, ev)
			continue
		}
		if h.Xid != xid {
			return h, nil, fmt.Errorf("reply xid %d, want %d", h.Xid, xid)
		}
		return h, rest, nil
	}
}

// call sends a request and decodes its reply into resp (when err is 0).
func (r *wireRaw) call(op int32, req, resp zkwire.Record) zkwire.ErrCode {
	r.t.Helper()
	xid := r.request(op, req)
	h, body, err := r.reply(xid)
	if err != nil {
		r.t.Fatalf("%s: %v", zkwire.OpName(op), err)
	}
	if h.Err == 0 && resp != nil {
		if err := zkwire.Unmarshal(body, resp); err != nil {
			r.t.Fatalf("%s: decoding reply: %v", zkwire.OpName(op), err)
		}
	}
	return h.Err
}

// event returns the next notification, reading if none is buffered.
func (r *wireRaw) event() zkwire.WatcherEvent {
	r.t.Helper()
	for len(r.events) == 0 {
		body, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("waiting for a notification: %v", err)
		}
		var h zkwire.ReplyHeader
		d := zkwire.NewDecoder(body)
		h.Decode(d)
		if h.Xid != zkwire.XidNotification {
			r.t.Fatalf("unexpected reply xid %d while waiting for a notification", h.Xid)
		}
		var ev zkwire.WatcherEvent
		if err := zkwire.Unmarshal(body[d.Offset():], &ev); err != nil {
			r.t.Fatal(err)
		}
		r.events = append(r.events, ev)
	}
	ev := r.events[0]
	r.events = r.events[1:]
	return ev
}

// expectClosed reads until the server closes the connection; frames read
// on the way are returned.
func (r *wireRaw) expectClosed() [][]byte {
	r.t.Helper()
	var frames [][]byte
	for {
		body, err := r.readFrame()
		if err == nil {
			frames = append(frames, body)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatal("connection not closed by the server")
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !wireIsOpError(err) {
			r.t.Fatalf("unexpected error waiting for close: %v", err)
		}
		return frames
	}
}

func wireIsOpError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

// wireFourLetter sends a four-letter word and returns the whole answer.
func wireFourLetter(t testing.TB, addr, cmd string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wireWait)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(wireWait))
	if _, err := nc.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
