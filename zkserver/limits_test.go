package zkserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkwire"
)

// startWireData is startWire with the Node's MaxDataSize (jute.maxbuffer
// as coordd maps it).
func startWireData(t testing.TB, maxData int, mod func(*Config)) *wireNode {
	t.Helper()
	cfg := Config{FourLetterWords: []string{"*"}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wireWait)
	defer cancel()
	n, err := coord.Open(ctx, coord.Config{TickTime: 50 * time.Millisecond, MaxSessionTimeout: 5 * time.Second, MaxDataSize: maxData})
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

func bigZK(t testing.TB, n *wireNode) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{n.ClientAddr()}, 2*time.Second, zk.WithLogger(wireQuietLogger{}),
		zk.WithMaxBufferSize(8<<20), zk.WithMaxConnBufferSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	return wireWaitSession(t, conn, events)
}

// TestFrameLimitFollowsMaxDataSize: a Node with jute.maxbuffer=4194304
// (MaxDataSize) takes a 2 MB create over the wire and returns it.
func TestFrameLimitFollowsMaxDataSize(t *testing.T) {
	n := startWireData(t, 4194304, nil)
	if got := n.zk().FrameLimit(); got != 4194304 {
		t.Fatalf("FrameLimit = %d, want 4194304", got)
	}
	c := bigZK(t, n)
	data := bytes.Repeat([]byte("x"), 2_000_000)
	wireCreate(t, c, "/big", data, 0, zk.WorldACL(zk.PermAll))
	got, st, err := c.Get("/big")
	if err != nil || !bytes.Equal(got, data) || st.DataLength != int32(len(data)) {
		t.Fatalf("get /big: %d bytes, %v", len(got), err)
	}
}

// TestFrameLimitDefault: with coord's default data limit the frame limit
// is ZooKeeper's 0xfffff: a larger request closes the connection (the
// session lives on), and a reply that would be larger (a node written
// in-process under a larger data limit, then served with an explicit
// MaxFrameSize) fails with MarshallingError instead of being sent.
func TestFrameLimitDefault(t *testing.T) {
	n := startWire(t, nil)
	if got := n.zk().FrameLimit(); got != zkwire.DefaultMaxBuffer {
		t.Fatalf("FrameLimit = %d, want %d", got, zkwire.DefaultMaxBuffer)
	}
	r := wireConnectRaw(t, n, 0, nil)
	r.request(zkwire.OpCreate, &zkwire.CreateRequest{Path: "/big", Data: make([]byte, 2<<20), ACL: []zkwire.ACL{{Perms: 31, ID: zkwire.ID{Scheme: "world", ID: "anyone"}}}})
	if _, err := r.readFrame(); err == nil {
		t.Fatal("a 2 MB frame was answered; want the connection closed")
	}

	m := startWireData(t, 4<<20, func(c *Config) { c.MaxFrameSize = 1 << 20 })
	s, err := m.NewSession(context.Background(), coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(context.Background(), "/big", make([]byte, 2<<20), coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	c := bigZK(t, m)
	if _, _, err := c.Get("/big"); err == nil || !strings.Contains(fmt4(err), "-5") {
		t.Fatalf("get of a node larger than the frame limit: %v, want MarshallingError", err)
	}
	if _, _, err := c.Exists("/big"); err != nil {
		t.Fatalf("the connection serves on after the refused reply: %v", err)
	}
}

func fmt4(err error) string {
	if err == nil {
		return ""
	}
	return strings.ToLower(err.Error())
}

// slowReader is a raw client that sends getData requests and never reads.
func slowReader(t testing.TB, n *wireNode, path string, requests int) *wireRaw {
	t.Helper()
	r := wireConnectRaw(t, n, 0, nil)
	if tc, ok := r.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	for i := 0; i < requests; i++ {
		r.request(zkwire.OpGetData, &zkwire.GetDataRequest{Path: path})
	}
	return r
}

// waitDropped waits until r's connection is closed by the server: reading
// everything the server wrote ends in EOF or a reset.
func waitDropped(t testing.TB, r *wireRaw) {
	t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(wireWait))
	_, err := io.Copy(io.Discard, r.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the slow reader was not dropped")
	}
}

// TestPerConnectionQueueCap: a client that sends requests but never reads
// is dropped once its queued replies pass MaxConnQueuedBytes; a normal
// client carries on.
func TestPerConnectionQueueCap(t *testing.T) {
	n := startWire(t, func(c *Config) { c.MaxConnQueuedBytes = 1 << 20 })
	c, _ := wireDialZK(t, n)
	wireCreate(t, c, "/blob", make([]byte, 256<<10), 0, zk.WorldACL(zk.PermAll))

	slow := slowReader(t, n, "/blob", 200) // 50 MB of replies
	waitDropped(t, slow)
	if n.zk().DroppedSlowReaders() < 1 {
		t.Fatal("DroppedSlowReaders = 0")
	}
	for i := 0; i < 20; i++ {
		if _, _, err := c.Get("/blob"); err != nil {
			t.Fatalf("the normal client: %v", err)
		}
	}
	wireWaitFor(t, "queued bytes released", func() bool { return n.zk().QueuedBytes() == 0 })
}

// TestQueuedBytesBudget: slow readers that each stay under their own cap
// but together pass MaxQueuedBytes are dropped, largest first, before the
// node suffers; a normal client carries on, and the budget is released.
func TestQueuedBytesBudget(t *testing.T) {
	n := startWire(t, func(c *Config) {
		c.MaxConnQueuedBytes = -1 // only the server-wide budget
		c.MaxQueuedBytes = 4 << 20
	})
	c, _ := wireDialZK(t, n)
	wireCreate(t, c, "/blob", make([]byte, 256<<10), 0, zk.WorldACL(zk.PermAll))

	a := slowReader(t, n, "/blob", 200)
	b := slowReader(t, n, "/blob", 200)
	waitDropped(t, a)
	waitDropped(t, b)
	if got := n.zk().DroppedSlowReaders(); got < 2 {
		t.Fatalf("DroppedSlowReaders = %d, want 2", got)
	}
	for i := 0; i < 20; i++ {
		if _, _, err := c.Get("/blob"); err != nil {
			t.Fatalf("the normal client: %v", err)
		}
	}
	wireWaitFor(t, "queued bytes released", func() bool { return n.zk().QueuedBytes() == 0 })
}

// TestMaxConnectionsRefuses: ZooKeeper's maxCnxns: the connection over the
// cap is closed on arrival; once one leaves, a new one is let in.
func TestMaxConnectionsRefuses(t *testing.T) {
	n := startWire(t, func(c *Config) { c.MaxConnections = 2; c.MaxClientCnxns = -1 })
	a := wireConnectRaw(t, n, 0, nil)
	wireConnectRaw(t, n, 0, nil)

	extra := wireDialRaw(t, n.ClientAddr())
	if _, err := extra.connect(zkwire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}); err == nil {
		t.Fatal("a third connection got a session past MaxConnections=2")
	}
	if got := n.zk().RefusedConnections(); got != 1 {
		t.Fatalf("RefusedConnections = %d, want 1", got)
	}
	a.nc.Close()
	wireWaitFor(t, "the closed connection is forgotten", func() bool { return n.zk().numConnections() == 1 })
	wireConnectRaw(t, n, 0, nil)
}
