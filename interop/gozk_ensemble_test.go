package interop

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// orderedHosts is a go-zookeeper HostProvider that tries servers in the
// order it was built with (zk.Connect shuffles the list it passes to Init,
// and its default provider shuffles again), so a test can put a client on
// a chosen server first and still let it fail over to the others.
type orderedHosts struct {
	mu      sync.Mutex
	servers []string
	next    int
	tried   int
}

func (h *orderedHosts) Init(servers []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.servers) == 0 {
		h.servers = slices.Clone(servers)
	}
	return nil
}

func (h *orderedHosts) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.servers)
}

func (h *orderedHosts) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.servers[h.next]
	h.next = (h.next + 1) % len(h.servers)
	h.tried++
	retryStart := h.tried > len(h.servers)
	if retryStart {
		h.tried = 1
	}
	return s, retryStart
}

func (h *orderedHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tried = 0
}

// gozkClient is a go-zookeeper session whose session events are observable.
type gozkClient struct {
	c  *zk.Conn
	mu sync.Mutex
	ev []zk.Event
	ch chan struct{} // signalled on every session event
}

// dialGoZK connects to servers in order and waits for a session.
func dialGoZK(t *testing.T, servers []string, timeout time.Duration) *gozkClient {
	t.Helper()
	gc := &gozkClient{ch: make(chan struct{}, 1)}
	cb := func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		gc.mu.Lock()
		gc.ev = append(gc.ev, ev)
		gc.mu.Unlock()
		select {
		case gc.ch <- struct{}{}:
		default:
		}
	}
	c, _, err := zk.Connect(servers, timeout, zk.WithHostProvider(&orderedHosts{servers: slices.Clone(servers)}),
		zk.WithLogger(nopLogger{}), zk.WithLogInfo(false), zk.WithEventCallback(cb))
	if err != nil {
		t.Fatalf("connect %v: %v", servers, err)
	}
	gc.c = c
	t.Cleanup(c.Close)
	if gc.waitSession(func(zk.Event) bool { return true }, 15*time.Second) == nil {
		t.Fatalf("no session with %v within 15s", servers)
	}
	return gc
}

// waitSession waits for a StateHasSession event that ok accepts, counting
// from the first event recorded.
func (gc *gozkClient) waitSession(ok func(zk.Event) bool, d time.Duration) *zk.Event {
	deadline := time.After(d)
	for {
		gc.mu.Lock()
		for _, ev := range gc.ev {
			if ev.State == zk.StateHasSession && ok(ev) {
				gc.mu.Unlock()
				return &ev
			}
		}
		gc.mu.Unlock()
		select {
		case <-gc.ch:
		case <-deadline:
			return nil
		}
	}
}

func mustGet(t *testing.T, c *zk.Conn, path string) string {
	t.Helper()
	if _, err := c.Sync(path); err != nil {
		t.Fatalf("sync %s: %v", path, err)
	}
	b, _, err := c.Get(path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return string(b)
}

// TestGoZKCoorddEnsemble runs three coordd processes configured like a
// ZooKeeper ensemble (zoo.cfg with server.N lines, myid) and checks with
// go-zookeeper that a write on any server is visible on the others and that
// SIGKILL of the leader process leaves the ensemble serving: a client on
// the dead leader moves to another server with its session, ephemerals and
// watches, and the killed server rejoins and catches up when restarted.
func TestGoZKCoorddEnsemble(t *testing.T) {
	e := startCoorddEnsemble(t, 3, coorddOptions{})
	addrs := e.addrs()
	const sess = 10 * time.Second

	// One client pinned to each server.
	pinned := make([]*gozkClient, 3)
	for i := range pinned {
		pinned[i] = dialGoZK(t, []string{addrs[i]}, sess)
	}

	// Writes on one server are visible on the others.
	if _, err := pinned[0].c.Create("/ens", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		if got := mustGet(t, pinned[i].c, "/ens"); got != "v1" {
			t.Fatalf("server %d reads %q, want v1", i+1, got)
		}
	}
	for i, cl := range pinned {
		if _, err := cl.c.Create(fmt.Sprintf("/ens/from-%d", i+1), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create via server %d: %v", i+1, err)
		}
	}
	for i, cl := range pinned {
		if _, err := cl.c.Sync("/ens"); err != nil {
			t.Fatal(err)
		}
		kids, _, err := cl.c.Children("/ens")
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(kids)
		if !slices.Equal(kids, []string{"from-1", "from-2", "from-3"}) {
			t.Fatalf("server %d sees children %v", i+1, kids)
		}
	}
	// A watch set on one server fires for a write on another.
	_, _, wch, err := pinned[2].c.GetW("/ens")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pinned[1].c.Set("/ens", []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-wch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/ens" {
			t.Fatalf("watch event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no NodeDataChanged on server 3 for a write on server 2")
	}

	// A client on the leader, with an ephemeral and a pending watch.
	li := e.leader(15 * time.Second)
	order := []string{addrs[li]}
	for i, a := range addrs {
		if i != li {
			order = append(order, a)
		}
	}
	mover := dialGoZK(t, order, sess)
	if got := mover.c.Server(); got != addrs[li] {
		t.Fatalf("mover connected to %s, want the leader %s", got, addrs[li])
	}
	sid := mover.c.SessionID()
	if _, err := mover.c.Create("/ens/mover", []byte("eph"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, after, err := mover.c.ExistsW("/ens/after")
	if err != nil {
		t.Fatal(err)
	}

	killedAt := time.Now()
	e.kill(li)
	t.Logf("killed leader coordd %d (%s)", li+1, addrs[li])

	ev := mover.waitSession(func(ev zk.Event) bool { return ev.Server != addrs[li] }, 20*time.Second)
	if ev == nil {
		t.Fatalf("the client on the killed leader did not get a session on another server within 20s")
	}
	t.Logf("client moved to %s %v after the kill", ev.Server, time.Since(killedAt).Round(time.Millisecond))
	if mover.c.SessionID() != sid {
		t.Fatalf("session changed on failover: %x -> %x", sid, mover.c.SessionID())
	}
	// The ensemble of two serves writes; the session and its ephemeral
	// survived; the watch was carried over to the new server.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := mover.c.Create("/ens/after", []byte("x"), 0, zk.WorldACL(zk.PermAll))
		if err == nil || err == zk.ErrNodeExists {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted 15s after the kill: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case ev := <-after:
		if ev.Type != zk.EventNodeCreated || ev.Path != "/ens/after" {
			t.Fatalf("carried-over watch: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the exists watch set before the failover did not fire")
	}
	if got := mustGet(t, mover.c, "/ens/mover"); got != "eph" {
		t.Fatalf("ephemeral after failover: %q", got)
	}
	if nl := e.leader(15 * time.Second); nl == li {
		t.Fatalf("killed node %d still leads", li+1)
	}
	for i, cl := range pinned {
		if i == li {
			continue
		}
		if _, err := cl.c.Set("/ens", []byte(fmt.Sprintf("v3-%d", i+1)), -1); err != nil {
			t.Fatalf("set via surviving server %d: %v", i+1, err)
		}
	}

	// The killed server comes back on its dataDir and catches up.
	e.start(li)
	e.waitServing(li, 30*time.Second)
	back := dialGoZK(t, []string{addrs[li]}, sess)
	want := mustGet(t, pinned[(li+1)%3].c, "/ens")
	if got := mustGet(t, back.c, "/ens"); got != want {
		t.Fatalf("restarted server reads %q, want %q", got, want)
	}
	if ok, _, err := back.c.Exists("/ens/after"); err != nil || !ok {
		t.Fatalf("restarted server: /ens/after exists=%v err=%v", ok, err)
	}

	// Closing the session removes its ephemeral everywhere.
	mover.c.Close()
	if _, err := back.c.Sync("/ens"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		ok, _, err := back.c.Exists("/ens/mover")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ephemeral of the closed session still there after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
