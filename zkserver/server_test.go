package zkserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord"
)

// Tests of the wire server through go-zookeeper/zk, a real ZooKeeper
// client. Raw-frame tests are in raw_test.go.

var wireOpenACL = zk.WorldACL(zk.PermAll)

func TestWireCRUD(t *testing.T) {
	n := startWire(t, nil)
	c, _ := wireDialZK(t, n)

	p := wireCreate(t, c, "/a", []byte("one"), 0, wireOpenACL)
	if p != "/a" {
		t.Fatalf("create returned %q", p)
	}
	if _, err := c.Create("/a", nil, 0, wireOpenACL); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := c.Create("/missing/child", nil, 0, wireOpenACL); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("create under missing parent: %v", err)
	}
	if _, err := c.Create("/noacl", nil, 0, nil); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("create with an empty ACL: %v", err)
	}

	data, st, err := c.Get("/a")
	wireOK(t, err)
	if string(data) != "one" || st.Version != 0 || st.DataLength != 3 || st.Czxid == 0 || st.Czxid != st.Mzxid {
		t.Fatalf("get: %q %+v", data, st)
	}
	st2, err := c.Set("/a", []byte("two"), 0)
	wireOK(t, err)
	if st2.Version != 1 || st2.Mzxid <= st.Mzxid {
		t.Fatalf("set stat %+v", st2)
	}
	if _, err := c.Set("/a", []byte("x"), 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("set with a stale version: %v", err)
	}
	exists, st3, err := c.Exists("/a")
	wireOK(t, err)
	if !exists || *st3 != *st2 {
		t.Fatalf("exists: %v %+v", exists, st3)
	}
	exists, _, err = c.Exists("/nope")
	if err != nil || exists {
		t.Fatalf("exists on a missing node: %v %v", exists, err)
	}

	// Sequential and ephemeral children, getChildren2's stat.
	s1 := wireCreate(t, c, "/a/q-", nil, zk.FlagSequence, wireOpenACL)
	s2 := wireCreate(t, c, "/a/q-", nil, zk.FlagEphemeralSequential, wireOpenACL)
	if s1 != "/a/q-0000000000" || s2 != "/a/q-0000000001" {
		t.Fatalf("sequential names %q %q", s1, s2)
	}
	kids, kst, err := c.Children("/a")
	wireOK(t, err)
	slices.Sort(kids)
	if !slices.Equal(kids, []string{"q-0000000000", "q-0000000001"}) || kst.NumChildren != 2 || kst.Cversion != 2 {
		t.Fatalf("children %v %+v", kids, kst)
	}
	_, est, err := c.Get(s2)
	wireOK(t, err)
	if est.EphemeralOwner != c.SessionID() {
		t.Fatalf("ephemeral owner %x, session %x", est.EphemeralOwner, c.SessionID())
	}
	if _, err := c.Create(s2+"/x", nil, 0, wireOpenACL); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
		t.Fatalf("child of an ephemeral: %v", err)
	}

	if err := c.Delete("/a", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	wireOK(t, c.Delete(s1, 0))
	wireOK(t, c.Delete(s2, -1))
	if err := c.Delete("/a", 5); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("delete bad version: %v", err)
	}
	wireOK(t, c.Delete("/a", -1))
	if _, _, err := c.Get("/a"); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := c.Delete("/zookeeper", -1); !errors.Is(err, zk.ErrBadArguments) {
		t.Fatalf("delete /zookeeper: %v", err)
	}

	// Sync returns the path.
	if p, err := c.Sync("/"); err != nil || p != "/" {
		t.Fatalf("sync returned %q", p)
	}

	// Containers and TTL nodes (go-zookeeper sends createContainer and
	// createTTL; the server answers with create2-style replies).
	cp, err := c.CreateContainer("/box", nil, zk.FlagContainer, wireOpenACL)
	wireOK(t, err)
	if cp != "/box" {
		t.Fatalf("container path %q", cp)
	}
	tp, err := c.CreateTTL("/ttl-", []byte("t"), zk.FlagPersistentSequentialWithTTL, wireOpenACL, time.Hour)
	wireOK(t, err)
	if !strings.HasPrefix(tp, "/ttl-") || len(tp) != len("/ttl-")+10 {
		t.Fatalf("TTL path %q", tp)
	}
	if _, err := c.CreateTTL("/ttl2", nil, zk.FlagTTL, wireOpenACL, 0); !errors.Is(err, zk.ErrBadArguments) {
		t.Fatalf("TTL of zero: %v", err)
	}
}

func TestWireACLAndAuth(t *testing.T) {
	n := startWire(t, nil)
	owner, _ := wireDialZK(t, n)
	other, _ := wireDialZK(t, n)

	wireOK(t, owner.AddAuth("digest", []byte("alice:secret")))
	wireCreate(t, owner, "/private", []byte("p"), 0, zk.DigestACL(zk.PermAll, "alice", "secret"))
	wireCreate(t, owner, "/creator", nil, 0, zk.AuthACL(zk.PermAll))

	if _, _, err := other.Get("/private"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("get without auth: %v", err)
	}
	// getACL needs READ or ADMIN.
	if _, _, err := other.GetACL("/private"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("getACL without auth: %v", err)
	}
	acl, _, err := owner.GetACL("/creator")
	wireOK(t, err)
	if len(acl) != 1 || acl[0].Scheme != "digest" || acl[0].ID != coord.DigestID("alice", "secret") {
		t.Fatalf("auth ACL expanded to %+v", acl)
	}

	wireOK(t, other.AddAuth("digest", []byte("alice:secret")))
	data, _, err := other.Get("/private")
	if err != nil || string(data) != "p" {
		t.Fatalf("get after auth: %q %v", data, err)
	}

	// setACL bumps aversion; a stale aversion fails.
	st, err := owner.SetACL("/private", wireOpenACL, 0)
	wireOK(t, err)
	if st.Aversion != 1 {
		t.Fatalf("aversion %d", st.Aversion)
	}
	if _, err := owner.SetACL("/private", wireOpenACL, 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("setACL with a stale aversion: %v", err)
	}
	// Without ADMIN, digest ids are masked.
	wireCreate(t, owner, "/masked", nil, 0, append(zk.WorldACL(zk.PermRead), zk.DigestACL(zk.PermAll, "bob", "pw")...))
	third, _ := wireDialZK(t, n)
	acl, _, err = third.GetACL("/masked")
	wireOK(t, err)
	if len(acl) != 2 || acl[1].ID != "bob:x" {
		t.Fatalf("masked ACL %+v", acl)
	}
}

func TestWireWatches(t *testing.T) {
	n := startWire(t, nil)
	c, _ := wireDialZK(t, n)
	w, _ := wireDialZK(t, n)

	wireCreate(t, c, "/w", []byte("0"), 0, wireOpenACL)

	// Data watch: the notification arrives before the reply to the write
	// that caused it (same connection), so it is in the channel by then.
	_, _, dch, err := c.GetW("/w")
	wireOK(t, err)
	_, _, other, err := w.GetW("/w")
	wireOK(t, err)
	_, err = c.Set("/w", []byte("1"), -1)
	wireOK(t, err)
	select {
	case ev := <-dch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/w" || ev.State != zk.StateSyncConnected {
			t.Fatalf("data event %+v", ev)
		}
	default:
		t.Fatal("the notification did not precede the setData reply")
	}
	if ev := wireEvent(t, other); ev.Type != zk.EventNodeDataChanged {
		t.Fatalf("other connection's event %+v", ev)
	}

	// A one-shot watch fires once.
	_, _, dch, err = c.GetW("/w")
	wireOK(t, err)
	_, err = c.Set("/w", []byte("2"), -1)
	wireOK(t, err)
	wireEvent(t, dch)
	_, err = c.Set("/w", []byte("3"), -1)
	wireOK(t, err)
	if _, ok := <-dch; ok {
		t.Fatal("a one-shot watch fired twice")
	}

	// Exists watch on a missing node fires on create.
	ok2, _, ech, err := c.ExistsW("/later")
	wireOK(t, err)
	if ok2 {
		t.Fatal("exists")
	}
	wireCreate(t, w, "/later", nil, 0, wireOpenACL)
	if ev := wireEvent(t, ech); ev.Type != zk.EventNodeCreated || ev.Path != "/later" {
		t.Fatalf("exists event %+v", ev)
	}

	// Child watch, then delete of the watched node.
	_, _, cch, err := c.ChildrenW("/w")
	wireOK(t, err)
	wireCreate(t, w, "/w/kid", nil, 0, wireOpenACL)
	if ev := wireEvent(t, cch); ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/w" {
		t.Fatalf("child event %+v", ev)
	}
	wireOK(t, w.Delete("/w/kid", -1))
	_, _, dch, err = c.GetW("/w")
	wireOK(t, err)
	_, _, cch, err = c.ChildrenW("/w")
	wireOK(t, err)
	wireOK(t, w.Delete("/w", -1))
	if ev := wireEvent(t, dch); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("data watch on delete: %+v", ev)
	}
	if ev := wireEvent(t, cch); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("child watch on delete: %+v", ev)
	}
}

func TestWireMulti(t *testing.T) {
	n := startWire(t, nil)
	c, _ := wireDialZK(t, n)

	res, err := c.Multi(
		&zk.CreateRequest{Path: "/m", Data: []byte("x"), Acl: wireOpenACL},
		&zk.CreateRequest{Path: "/m/s-", Acl: wireOpenACL, Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: "/m", Data: []byte("y"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
	)
	wireOK(t, err)
	if len(res) != 4 || res[0].String != "/m" || res[1].String != "/m/s-0000000000" || res[2].Stat == nil || res[2].Stat.Version != 1 {
		t.Fatalf("multi results %+v", res)
	}
	for i, r := range res {
		if r.Error != nil {
			t.Fatalf("result %d: %v", i, r.Error)
		}
	}

	// Failure: nothing applied, per-op error results.
	res, err = c.Multi(
		&zk.CreateRequest{Path: "/m2", Acl: wireOpenACL},
		&zk.DeleteRequest{Path: "/nope", Version: -1},
		&zk.SetDataRequest{Path: "/m", Data: nil, Version: -1},
	)
	if !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("failed multi: %v", err)
	}
	if len(res) != 3 || res[0].Error != nil || !errors.Is(res[1].Error, zk.ErrNoNode) || !wireIsRuntimeInconsistency(res[2].Error) {
		t.Fatalf("failed multi results %+v", res)
	}
	if exists, _, _ := c.Exists("/m2"); exists {
		t.Fatal("a failed multi applied its first op")
	}

	// An invalid path fails at its place, as ZooKeeper's prep does; an
	// earlier failing op wins.
	res, err = c.Multi(
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
		&zk.CreateRequest{Path: "bad", Acl: wireOpenACL},
	)
	if !errors.Is(err, zk.ErrBadArguments) || res[0].Error != nil || !errors.Is(res[1].Error, zk.ErrBadArguments) {
		t.Fatalf("multi with a bad path: %v %+v", err, res)
	}
	res, err = c.Multi(
		&zk.CheckVersionRequest{Path: "/m", Version: 7},
		&zk.CreateRequest{Path: "bad", Acl: wireOpenACL},
	)
	if !errors.Is(err, zk.ErrBadVersion) || !wireIsRuntimeInconsistency(res[1].Error) {
		t.Fatalf("multi failing before a bad path: %v %+v", err, res)
	}
}

func TestWireEphemeralsGoOnClose(t *testing.T) {
	n := startWire(t, nil)
	c, _ := wireDialZK(t, n)
	obs, _ := wireDialZK(t, n)
	wireCreate(t, c, "/e", nil, zk.FlagEphemeral, wireOpenACL)
	_, _, ch, err := obs.ExistsW("/e")
	wireOK(t, err)
	c.Close()
	if ev := wireEvent(t, ch); ev.Type != zk.EventNodeDeleted || ev.Path != "/e" {
		t.Fatalf("event %+v", ev)
	}
	wireWaitFor(t, "the session to go", func() bool {
		return len(n.Stats().Sessions) == 1
	})

}

// A dropped connection leaves the session: go-zookeeper reconnects with the
// same session, keeps its ephemerals and re-sends its watches with
// SetWatches, and the server's catch-up fires the ones that missed changes.
func TestWireReconnectKeepsSessionAndWatches(t *testing.T) {
	n := startWire(t, nil)
	gate := make(chan struct{}, 1)
	gate <- struct{}{} // the first dial goes through
	dialer := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		select {
		case <-gate:
		case <-time.After(wireWait):
		}
		return net.DialTimeout(network, addr, timeout)
	}
	conn, events, err := zk.Connect([]string{n.ClientAddr()}, 2*time.Second, zk.WithLogger(wireQuietLogger{}), zk.WithDialer(dialer))
	wireOK(t, err)
	c := wireWaitSession(t, conn, events)
	w, _ := wireDialZK(t, n)

	sid := c.SessionID()
	wireCreate(t, c, "/eph", nil, zk.FlagEphemeral, wireOpenACL)
	wireCreate(t, c, "/data", nil, 0, wireOpenACL)
	wireCreate(t, c, "/kids", nil, 0, wireOpenACL)
	wireCreate(t, c, "/quiet", nil, 0, wireOpenACL)
	_, _, dataCh, err := c.GetW("/data")
	wireOK(t, err)
	_, _, existCh, err := c.ExistsW("/born")
	wireOK(t, err)
	_, _, kidsCh, err := c.ChildrenW("/kids")
	wireOK(t, err)
	_, _, quietCh, err := c.GetW("/quiet")
	wireOK(t, err)

	// Drop the connection server-side; hold the reconnect until the
	// changes are made.
	wireDropConns(n, sid)
	wireWaitFor(t, "the client to notice", func() bool { return c.State() != zk.StateHasSession })
	_, err = w.Set("/data", []byte("changed"), -1)
	wireOK(t, err)
	wireCreate(t, w, "/born", nil, 0, wireOpenACL)
	wireCreate(t, w, "/kids/k", nil, 0, wireOpenACL)
	gate <- struct{}{}

	if ev := wireEvent(t, dataCh); ev.Type != zk.EventNodeDataChanged {
		t.Fatalf("data catch-up %+v", ev)
	}
	if ev := wireEvent(t, existCh); ev.Type != zk.EventNodeCreated {
		t.Fatalf("exist catch-up %+v", ev)
	}
	if ev := wireEvent(t, kidsCh); ev.Type != zk.EventNodeChildrenChanged {
		t.Fatalf("child catch-up %+v", ev)
	}
	wireWaitFor(t, "reconnect", func() bool { return c.State() == zk.StateHasSession })
	if c.SessionID() != sid {
		t.Fatalf("session changed from %x to %x", sid, c.SessionID())
	}
	if exists, _, err := w.Exists("/eph"); err != nil || !exists {
		t.Fatalf("ephemeral lost on reconnect: %v %v", exists, err)
	}
	// The untouched watch was re-armed, not fired.
	_, err = w.Set("/quiet", []byte("now"), -1)
	wireOK(t, err)
	if ev := wireEvent(t, quietCh); ev.Type != zk.EventNodeDataChanged {
		t.Fatalf("re-armed watch %+v", ev)
	}
}

// wireDropConns aborts the wire connections of session sid.
func wireDropConns(n *wireNode, sid int64) {
	for _, c := range n.zk().connections() {
		if ss := c.sess.Load(); ss != nil && ss.Session().ID() == sid {
			c.abort()
		}
	}
}

func TestWireExpiryNotifiesAndCloses(t *testing.T) {
	n := startWire(t, nil)
	c, events := wireDialZK(t, n)
	sid := c.SessionID()
	wireCreate(t, c, "/eph", nil, zk.FlagEphemeral, wireOpenACL)
	ctx, cancel := context.WithTimeout(context.Background(), wireWait)
	defer cancel()
	wireOK(t, n.ExpireSession(ctx, sid))
	deadline := time.After(wireWait)
	for {
		select {
		case ev := <-events:
			if ev.Type == zk.EventSession && ev.State == zk.StateExpired {
				goto expired
			}
		case <-deadline:
			t.Fatal("no expiry event")
		}
	}
expired:
	w, _ := wireDialZK(t, n)
	if exists, _, _ := w.Exists("/eph"); exists {
		t.Fatal("ephemeral of an expired session survives")
	}
}

func TestWireFourLetterWords(t *testing.T) {
	n := startWire(t, nil)
	c, _ := wireDialZK(t, n)
	wireCreate(t, c, "/x", nil, zk.FlagEphemeral, wireOpenACL)
	addr := n.ClientAddr()

	if oks := zk.FLWRuok([]string{addr}, wireWait); len(oks) != 1 || !oks[0] {
		t.Fatalf("ruok %v", oks)
	}
	stats, good := zk.FLWSrvr([]string{addr}, wireWait)
	if !good || len(stats) != 1 || stats[0].Error != nil {
		t.Fatalf("srvr: %v %+v", good, stats)
	}
	s := stats[0]
	if s.Mode != zk.ModeStandalone || s.NodeCount != int64(nodeCount(n.Stats())) || s.Received == 0 || s.Connections < 1 || s.Version != zkServerVersion {
		t.Fatalf("srvr parsed %+v", s)
	}
	cons, good := zk.FLWCons([]string{addr}, wireWait)
	if !good || len(cons) != 1 || cons[0].Error != nil || len(cons[0].Clients) != 1 || cons[0].Clients[0].SessionID != c.SessionID() {
		t.Fatalf("cons: %v %+v", good, cons)
	}

	out := wireFourLetter(t, addr, "mntr")
	for _, key := range []string{"zk_version\t" + zkFullVersion, "zk_server_state\tstandalone", "zk_znode_count\t", "zk_watch_count\t",
		"zk_ephemerals_count\t1", "zk_approximate_data_size\t", "zk_num_alive_connections\t", "zk_outstanding_requests\t",
		"zk_avg_latency\t", "zk_min_latency\t", "zk_max_latency\t", "zk_packets_received\t", "zk_packets_sent\t"} {
		if !strings.Contains(out, "\n"+key) && !strings.HasPrefix(out, key) {
			t.Errorf("mntr lacks %q:\n%s", key, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if k, _, found := strings.Cut(line, "\t"); !found || !strings.HasPrefix(k, "zk_") {
			t.Errorf("mntr line %q", line)
		}
	}
	if got := wireFourLetter(t, addr, "isro"); got != "rw" {
		t.Errorf("isro %q", got)
	}
	for _, cmd := range []string{"stat", "conf", "envi", "wchs", "wchc", "wchp", "dump", "crst", "srst"} {
		if out := wireFourLetter(t, addr, cmd); out == "" {
			t.Errorf("%s: empty answer", cmd)
		}
	}
	if out := wireFourLetter(t, addr, "dump"); !strings.Contains(out, "\t/x\n") {
		t.Errorf("dump lacks the ephemeral:\n%s", out)
	}
	_, _, _, err := c.GetW("/x")
	wireOK(t, err)
	sid := fmt.Sprintf("0x%x", c.SessionID())
	if out := wireFourLetter(t, addr, "wchp"); out != "/x\n\t"+sid+"\n\n" {
		t.Errorf("wchp %q", out)
	}
	if out := wireFourLetter(t, addr, "wchc"); out != sid+"\n\t/x\n\n" {
		t.Errorf("wchc %q", out)
	}
	if out := wireFourLetter(t, addr, "wchs"); out != "1 connections watching 1 paths\nTotal watches:1\n" {
		t.Errorf("wchs %q", out)
	}

	// ZooKeeper's default whitelist is srvr alone.
	n2 := startWire(t, func(c *Config) { c.FourLetterWords = nil })
	if got := wireFourLetter(t, n2.ClientAddr(), "ruok"); got != "ruok is not executed because it is not in the whitelist.\n" {
		t.Errorf("ruok outside the whitelist: %q", got)
	}
	if _, good := zk.FLWSrvr([]string{n2.ClientAddr()}, wireWait); !good {
		t.Error("srvr is always allowed")
	}
}

func TestWirePerIPLimit(t *testing.T) {
	n := startWire(t, func(c *Config) { c.MaxClientCnxns = 2 })
	a := wireConnectRaw(t, n, 0, nil)
	b := wireConnectRaw(t, n, 0, nil)
	third := wireDialRaw(t, n.ClientAddr())
	third.expectClosed()
	// Closing one lets another in.
	a.nc.Close()
	wireWaitFor(t, "a slot", func() bool { return n.zk().numConnections() < 2 })
	wireConnectRaw(t, n, 0, nil)
	_ = b
}

func TestWireTotalLimit(t *testing.T) {
	n := startWire(t, nil)
	srv := n.zk()
	srv.mu.Lock()
	srv.maxConns = 1
	srv.mu.Unlock()
	wireConnectRaw(t, n, 0, nil)
	wireDialRaw(t, n.ClientAddr()).expectClosed()
}

// wireIsRuntimeInconsistency: go-zookeeper/zk has no sentinel for code -2.
func wireIsRuntimeInconsistency(err error) bool {
	return err != nil && err.Error() == "unknown error: -2"
}
