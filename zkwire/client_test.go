package zkwire_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
	"github.com/coordkit/coord/zkwire"
)

// Client tests: against coord's wire server for the real protocol, and
// against a scripted fake server for pings and broken connections.

var openACL = []zkwire.ACL{{Perms: zkwire.PermAll, ID: zkwire.ID{Scheme: "world", ID: "anyone"}}}

func startCoord(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := coord.Open(ctx, coord.Config{TickTime: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := zkserver.Listen("127.0.0.1:0", n, zkserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Close()
		n.Close(ctx)
	})
	return srv.Addr().String()
}

func dial(t testing.TB, addr string) *zkwire.Client {
	t.Helper()
	c, err := zkwire.Dial(addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// nextEvent takes one event from c, failing after a few seconds.
func nextEvent(t testing.TB, c *zkwire.Client) zkwire.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return zkwire.Event{}
}

func TestClientHandshake(t *testing.T) {
	addr := startCoord(t)
	c := dial(t, addr)
	if c.SessionID() == 0 || len(c.Passwd()) != zkwire.PasswordLen || c.State() != zkwire.ConnConnected {
		t.Fatalf("session %#x passwd %d bytes state %v", c.SessionID(), len(c.Passwd()), c.State())
	}
	// coord clamps to [2, 20] ticks: 2s asked, 2s granted.
	if got := c.SessionTimeout(); got != 2*time.Second {
		t.Errorf("negotiated timeout %v", got)
	}
	if ev := nextEvent(t, c); ev != (zkwire.Event{Type: zkwire.EventNone, State: zkwire.StateSyncConnected}) {
		t.Errorf("first event %+v", ev)
	} else if ev.String() != "WatchedEvent state:SyncConnected type:None path:null" {
		t.Errorf("event text %q", ev.String())
	}
	if c.EventCount() != 1 {
		t.Errorf("EventCount %d", c.EventCount())
	}

	// Re-attaching with the password works; with a wrong one the server
	// refuses the session.
	c2, err := zkwire.DialConfig(context.Background(), addr, zkwire.ClientConfig{
		SessionTimeout: 2 * time.Second, SessionID: c.SessionID(), Passwd: c.Passwd()})
	must(t, err)
	if c2.SessionID() != c.SessionID() {
		t.Errorf("re-attached to %#x, want %#x", c2.SessionID(), c.SessionID())
	}
	c2.Close()
	bad := c.Passwd()
	bad[0] ^= 0xff
	_, err = zkwire.DialConfig(context.Background(), addr, zkwire.ClientConfig{
		SessionTimeout: 2 * time.Second, SessionID: c.SessionID(), Passwd: bad})
	if !errors.Is(err, zkwire.ErrSessionExpired) {
		t.Errorf("wrong password: %v", err)
	}
	// Nothing listening: a dial error, quickly.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	if _, err := zkwire.Dial(dead, time.Second); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}

func TestClientOperationsAndErrors(t *testing.T) {
	c := dial(t, startCoord(t))
	p, err := c.Create("/a", []byte("x"), openACL, zkwire.FlagPersistent)
	must(t, err)
	if p != "/a" {
		t.Errorf("created %q", p)
	}
	p, st, err := c.Create2("/a/s-", nil, openACL, zkwire.FlagPersistentSequential)
	must(t, err)
	if p != "/a/s-0000000000" || st.Czxid == 0 {
		t.Errorf("create2: %q %+v", p, st)
	}
	_, err = c.Create("/a", nil, openACL, 0)
	if !errors.Is(err, zkwire.ErrNodeExists) || err.Error() != "KeeperErrorCode = NodeExists for /a" {
		t.Errorf("duplicate create: %v", err)
	}
	_, _, err = c.Get("/nope", false)
	if !errors.Is(err, zkwire.ErrNoNode) || !errors.Is(err, &zkwire.Error{Code: zkwire.CodeNoNode, Path: "/nope"}) ||
		errors.Is(err, &zkwire.Error{Code: zkwire.CodeNoNode, Path: "/other"}) || zkwire.CodeOf(err) != zkwire.CodeNoNode {
		t.Errorf("get missing: %v", err)
	}
	if err.Error() != "KeeperErrorCode = NoNode for /nope" {
		t.Errorf("error text %q", err.Error())
	}
	if _, err := c.Create("/b", nil, nil, 0); err == nil || err.Error() != "KeeperErrorCode = InvalidACL" {
		t.Errorf("empty ACL: %v", err)
	}
	if err := c.Delete("/a", -1); err == nil || err.Error() != "KeeperErrorCode = Directory not empty for /a" {
		t.Errorf("delete non-empty: %v", err)
	}
	if _, err := c.Set("/a", []byte("y"), 7); !errors.Is(err, zkwire.ErrBadVersion) {
		t.Errorf("bad version: %v", err)
	}
	st, err = c.Set("/a", []byte("yy"), 0)
	must(t, err)
	data, st2, err := c.Get("/a", false)
	must(t, err)
	if string(data) != "yy" || st2 != st || st.Version != 1 || st.DataLength != 2 {
		t.Errorf("get after set: %q %+v %+v", data, st2, st)
	}
	// Null data stays null, empty stays empty.
	_, err = c.Create("/null", nil, openACL, 0)
	must(t, err)
	_, err = c.Create("/empty", []byte{}, openACL, 0)
	must(t, err)
	if d, _, _ := c.Get("/null", false); d != nil {
		t.Errorf("null data read back as %q", d)
	}
	if d, _, _ := c.Get("/empty", false); d == nil || len(d) != 0 {
		t.Errorf("empty data read back as %v", d)
	}
	kids, st, err := c.Children("/a", false)
	must(t, err)
	if len(kids) != 1 || kids[0] != "s-0000000000" || st.NumChildren != 1 {
		t.Errorf("children %v %+v", kids, st)
	}
	_, ok, err := c.Exists("/nope", false)
	if ok || err != nil {
		t.Errorf("exists missing: %v %v", ok, err)
	}
	if _, ok, err := c.Exists("/a", false); !ok || err != nil {
		t.Errorf("exists: %v %v", ok, err)
	}
	acl, _, err := c.GetACL("/a")
	must(t, err)
	if len(acl) != 1 || acl[0] != openACL[0] {
		t.Errorf("acl %+v", acl)
	}
	st, err = c.SetACL("/a", []zkwire.ACL{{Perms: zkwire.PermRead | zkwire.PermAdmin | zkwire.PermCreate | zkwire.PermDelete, ID: openACL[0].ID}}, 0)
	must(t, err)
	if st.Aversion != 1 {
		t.Errorf("aversion %d", st.Aversion)
	}
	if _, err := c.Set("/a", nil, -1); !errors.Is(err, zkwire.ErrNoAuth) {
		t.Errorf("set without WRITE: %v", err)
	}
	if p, err := c.Sync("/a"); err != nil || p != "/a" {
		t.Errorf("sync: %q %v", p, err)
	}
	if n, err := c.GetAllChildrenNumber("/"); err != nil || n != 7 {
		t.Errorf("getAllChildrenNumber: %d %v", n, err)
	}
	_, err = c.Create("/a/e", nil, openACL, zkwire.FlagEphemeral)
	must(t, err)
	if eph, err := c.GetEphemerals("/"); err != nil || len(eph) != 1 || eph[0] != "/a/e" {
		t.Errorf("ephemerals %v %v", eph, err)
	}
	_, _, err = c.CreateTTL("/ttl", nil, openACL, zkwire.FlagPersistentWithTTL, time.Minute)
	must(t, err)
	_, err = c.Create("/cont", nil, openACL, zkwire.FlagContainer)
	must(t, err)

	must(t, c.AddAuth("digest", []byte("bob:secret")))
	who, err := c.WhoAmI()
	must(t, err)
	if fmt.Sprint(who) != "[{ip 127.0.0.1} {digest bob}]" {
		t.Errorf("whoami %v", who)
	}

	// multi: all or nothing; the error names the failing op.
	res, err := c.Multi(
		zkwire.MultiOp{Type: zkwire.OpCreate, Req: &zkwire.CreateRequest{Path: "/m1", ACL: openACL}},
		zkwire.MultiOp{Type: zkwire.OpDelete, Req: &zkwire.DeleteRequest{Path: "/missing", Version: -1}},
	)
	if !errors.Is(err, &zkwire.Error{Code: zkwire.CodeNoNode, Path: "/missing"}) || len(res) != 2 {
		t.Errorf("failed multi: %v %+v", err, res)
	}
	res, err = c.Multi(
		zkwire.MultiOp{Type: zkwire.OpCreate, Req: &zkwire.CreateRequest{Path: "/m1", ACL: openACL}},
		zkwire.MultiOp{Type: zkwire.OpDelete, Req: &zkwire.DeleteRequest{Path: "/m1", Version: -1}},
	)
	if err != nil || len(res) != 2 || res[0].Path != "/m1" {
		t.Errorf("multi: %v %+v", err, res)
	}
}

// TestClientPipelining sends many requests before reading any reply, from
// one goroutine and from many, and checks every reply reached its caller.
func TestClientPipelining(t *testing.T) {
	c := dial(t, startCoord(t))
	const n = 300
	creates := make([]*zkwire.Call, n)
	for i := range creates {
		creates[i] = c.Go(zkwire.OpCreate, &zkwire.CreateRequest{Path: fmt.Sprintf("/p%03d", i), Data: []byte(fmt.Sprint(i)), ACL: openACL}, &zkwire.CreateResponse{})
	}
	gets := make([]*zkwire.Call, n)
	for i := range gets {
		gets[i] = c.Go(zkwire.OpGetData, &zkwire.GetDataRequest{Path: fmt.Sprintf("/p%03d", i)}, &zkwire.GetDataResponse{})
	}
	var last int64
	for i, call := range creates {
		must(t, call.Wait())
		if p := call.Resp.(*zkwire.CreateResponse).Path; p != fmt.Sprintf("/p%03d", i) {
			t.Fatalf("create %d answered with %q", i, p)
		}
		if call.Zxid <= last {
			t.Fatalf("create %d: zxid %#x not after %#x: replies out of order", i, call.Zxid, last)
		}
		last = call.Zxid
	}
	for i, call := range gets {
		must(t, call.Wait())
		if d := string(call.Resp.(*zkwire.GetDataResponse).Data); d != fmt.Sprint(i) {
			t.Fatalf("get %d answered with %q", i, d)
		}
	}
	if c.LastZxid() < last {
		t.Errorf("LastZxid %#x < %#x", c.LastZxid(), last)
	}

	var wg sync.WaitGroup
	var bad atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				p := fmt.Sprintf("/p%03d", i)
				d, _, err := c.Get(p, false)
				if err != nil || string(d) != fmt.Sprint(i) {
					bad.Add(1)
				}
				if _, err := c.Set(p, []byte("v"), 0); err != nil {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d concurrent calls failed", bad.Load())
	}
	// A context ending first abandons the wait, not the connection.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, zkwire.OpSync, &zkwire.SyncRequest{Path: "/"}, &zkwire.SyncResponse{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Do: %v", err)
	}
	if _, err := c.Sync("/"); err != nil {
		t.Errorf("sync after a cancelled Do: %v", err)
	}
}

func TestClientWatches(t *testing.T) {
	addr := startCoord(t)
	c, other := dial(t, addr), dial(t, addr)
	nextEvent(t, c) // SyncConnected
	_, err := c.Create("/w", []byte("1"), openACL, 0)
	must(t, err)

	// A notification caused by our own write is queued before the write's
	// reply comes back.
	_, _, err = c.Get("/w", true)
	must(t, err)
	before := c.EventCount()
	_, err = c.Set("/w", []byte("2"), -1)
	must(t, err)
	if c.EventCount() != before+1 {
		t.Fatalf("EventCount %d after own set, want %d", c.EventCount(), before+1)
	}
	want := zkwire.Event{Type: zkwire.EventNodeDataChanged, State: zkwire.StateSyncConnected, Path: "/w"}
	if ev := nextEvent(t, c); ev != want {
		t.Fatalf("event %+v, want %+v", ev, want)
	}

	// One-shot watches fire once; exists on a missing node watches its
	// creation; children watches see creations.
	_, _, err = c.Exists("/w/new", true)
	must(t, err)
	_, _, err = c.Children("/w", true)
	must(t, err)
	_, err = other.Create("/w/new", nil, openACL, 0)
	must(t, err)
	got := map[zkwire.Event]bool{nextEvent(t, c): true, nextEvent(t, c): true}
	for _, ev := range []zkwire.Event{
		{Type: zkwire.EventNodeCreated, State: zkwire.StateSyncConnected, Path: "/w/new"},
		{Type: zkwire.EventNodeChildrenChanged, State: zkwire.StateSyncConnected, Path: "/w"},
	} {
		if !got[ev] {
			t.Errorf("missing %v among %v", ev, got)
		}
	}
	_, err = other.Set("/w", []byte("3"), -1)
	must(t, err)
	_, err = c.Sync("/") // a round trip: any event would be queued by now
	must(t, err)
	if n := c.EventCount(); n != before+3 {
		t.Errorf("EventCount %d: a fired watch fired again", n)
	}

	// Persistent recursive watches keep firing, for the whole subtree.
	must(t, c.AddWatch("/w", zkwire.AddWatchPersistentRecursive))
	_, err = other.Set("/w/new", []byte("x"), -1)
	must(t, err)
	must(t, other.Delete("/w/new", -1))
	if ev := nextEvent(t, c); ev.Type != zkwire.EventNodeDataChanged || ev.Path != "/w/new" {
		t.Errorf("recursive: %v", ev)
	}
	if ev := nextEvent(t, c); ev.Type != zkwire.EventNodeDeleted || ev.Path != "/w/new" {
		t.Errorf("recursive: %v", ev)
	}

	// removeWatches: the removal is reported as an event; nothing left to
	// remove is NoWatcher.
	must(t, c.RemoveWatches("/w", zkwire.WatcherAny, false))
	if ev := nextEvent(t, c); ev.Type != zkwire.EventPersistentWatchRemoved || ev.Path != "/w" {
		t.Errorf("removal event %v", ev)
	}
	if err := c.RemoveWatches("/w", zkwire.WatcherAny, false); !errors.Is(err, zkwire.ErrNoWatcher) ||
		err.Error() != "KeeperErrorCode = No such watcher for /w" {
		t.Errorf("second removal: %v", err)
	}
	_, _, err = c.Get("/w", true)
	must(t, err)
	if err := c.RemoveWatches("/w", zkwire.WatcherChildren, false); !errors.Is(err, zkwire.ErrNoWatcher) {
		t.Errorf("removing an absent child watch: %v", err)
	}
	must(t, c.RemoveWatches("/w", zkwire.WatcherData, false))
	if ev := nextEvent(t, c); ev.Type != zkwire.EventDataWatchRemoved || ev.Path != "/w" {
		t.Errorf("removal event %v", ev)
	}
	_, err = other.Set("/w", []byte("4"), -1)
	must(t, err)
	_, err = c.Sync("/")
	must(t, err)
	select {
	case ev := <-c.Events():
		t.Errorf("event after the watch was removed: %v", ev)
	default:
	}
}

func TestClientClose(t *testing.T) {
	addr := startCoord(t)
	c, other := dial(t, addr), dial(t, addr)
	_, err := c.Create("/eph", nil, openACL, zkwire.FlagEphemeral)
	must(t, err)
	_, _, err = other.Exists("/eph", true)
	must(t, err)
	must(t, c.Close())
	if c.State() != zkwire.ConnClosed {
		t.Errorf("state %v", c.State())
	}
	// closeSession removed the ephemeral at once.
	if ev := nextEvent(t, other); ev.Type != zkwire.EventNone {
		t.Fatalf("unexpected %v", ev)
	}
	if ev := nextEvent(t, other); ev.Type != zkwire.EventNodeDeleted || ev.Path != "/eph" {
		t.Errorf("other saw %v", ev)
	}
	var evs []string
	for ev := range c.Events() {
		evs = append(evs, ev.String())
	}
	if strings.Join(evs, "|") != "WatchedEvent state:SyncConnected type:None path:null|WatchedEvent state:Closed type:None path:null" {
		t.Errorf("events %v", evs)
	}
	if _, _, err := c.Get("/", false); !errors.Is(err, zkwire.ErrConnectionLoss) {
		t.Errorf("call after close: %v", err)
	}
	must(t, c.Close())
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed")
	}
}

// fakeServer accepts one connection, answers the handshake with the given
// timeout and hands the connection to serve.
func fakeServer(t *testing.T, timeout time.Duration, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		body, err := zkwire.ReadFrame(conn, nil, 0)
		if err != nil {
			return
		}
		var req zkwire.ConnectRequest
		if zkwire.Unmarshal(body, &req) != nil || !req.HasReadOnly {
			return
		}
		resp := &zkwire.ConnectResponse{TimeOut: int32(timeout / time.Millisecond), SessionID: 42,
			Passwd: make([]byte, 16), HasReadOnly: true}
		frame, _ := zkwire.AppendFrame(nil, resp)
		conn.Write(frame)
		serve(conn)
	}()
	return l.Addr().String()
}

func TestClientPings(t *testing.T) {
	var pings atomic.Int32
	addr := fakeServer(t, time.Second, func(conn net.Conn) {
		for {
			body, err := zkwire.ReadFrame(conn, nil, 0)
			if err != nil {
				return
			}
			h, _, err := zkwire.ParseRequest(body)
			if err != nil {
				return
			}
			if h.Type == zkwire.OpPing {
				pings.Add(1)
			}
			if h.Type == zkwire.OpCloseSession {
				frame, _ := zkwire.AppendFrame(nil, &zkwire.ReplyHeader{Xid: h.Xid})
				conn.Write(frame)
				return
			}
			frame, _ := zkwire.AppendFrame(nil, &zkwire.ReplyHeader{Xid: h.Xid})
			conn.Write(frame)
		}
	})
	c, err := zkwire.Dial(addr, time.Second)
	must(t, err)
	// A ping every 333ms keeps the 666ms read timeout from firing: three
	// pings span more than one read timeout of an otherwise idle connection.
	// Await them rather than count pings in a fixed time.
	deadline := time.Now().Add(10 * time.Second)
	for pings.Load() < 3 {
		if c.State() != zkwire.ConnConnected {
			t.Fatalf("state %v after %d pings (%v)", c.State(), pings.Load(), c.Err())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pings in 10s with a 1s session", pings.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c.State() != zkwire.ConnConnected {
		t.Fatalf("state %v (%v)", c.State(), c.Err())
	}
	must(t, c.Close())
	if c.State() != zkwire.ConnClosed {
		t.Errorf("state %v", c.State())
	}
}

func TestClientConnectionLoss(t *testing.T) {
	got := make(chan struct{})
	addr := fakeServer(t, 5*time.Second, func(conn net.Conn) {
		// Take one request, then drop the connection without answering.
		zkwire.ReadFrame(conn, nil, 0)
		close(got)
	})
	c, err := zkwire.Dial(addr, 5*time.Second)
	must(t, err)
	defer c.Close()
	call := c.Go(zkwire.OpGetData, &zkwire.GetDataRequest{Path: "/x", Watch: true}, &zkwire.GetDataResponse{})
	<-got
	if err := call.Wait(); !errors.Is(err, zkwire.ErrConnectionLoss) || err.Error() != "KeeperErrorCode = ConnectionLoss for /x" {
		t.Errorf("pending call: %v", err)
	}
	<-c.Done()
	if c.State() != zkwire.ConnNotConnected || c.Err() == nil {
		t.Errorf("state %v err %v", c.State(), c.Err())
	}
	var evs []zkwire.Event
	for ev := range c.Events() {
		evs = append(evs, ev)
	}
	if len(evs) != 2 || evs[1] != (zkwire.Event{Type: zkwire.EventNone, State: zkwire.StateDisconnected}) {
		t.Errorf("events %v", evs)
	}
	// removeWatches -l still removes locally when the server is gone.
	if err := c.RemoveWatches("/x", zkwire.WatcherAny, true); !errors.Is(err, zkwire.ErrNoWatcher) {
		t.Errorf("local removal of a never-registered watch: %v", err)
	}
}

func TestClientReadTimeout(t *testing.T) {
	addr := fakeServer(t, 300*time.Millisecond, func(conn net.Conn) {
		// Read and never answer, not even pings.
		for {
			if _, err := zkwire.ReadFrame(conn, nil, 0); err != nil {
				return
			}
		}
	})
	c, err := zkwire.Dial(addr, 300*time.Millisecond)
	must(t, err)
	defer c.Close()
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("a silent server was not noticed")
	}
	var ne net.Error
	if !errors.As(c.Err(), &ne) || !ne.Timeout() {
		t.Errorf("cause %v", c.Err())
	}
}

func TestClientAuthFailed(t *testing.T) {
	c := dial(t, startCoord(t))
	nextEvent(t, c)
	err := c.AddAuth("nosuchscheme", []byte("x"))
	if !errors.Is(err, zkwire.ErrAuthFailed) {
		t.Fatalf("AddAuth: %v", err)
	}
	if ev := nextEvent(t, c); ev.State != zkwire.StateAuthFailed {
		t.Errorf("event %v", ev)
	}
	<-c.Done()
	if c.State() != zkwire.ConnAuthFailed {
		t.Errorf("state %v", c.State())
	}
}
