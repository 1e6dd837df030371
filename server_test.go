package coord_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// eventLog is a ServerSession's Notify function that records events.
type eventLog struct {
	mu     sync.Mutex
	events []coord.Event
}

func (l *eventLog) notify(ev coord.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// watchEvents returns the watch events so far (state changes left out).
func (l *eventLog) watchEvents() []coord.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []coord.Event
	for _, ev := range l.events {
		if ev.Type != coord.EventNone {
			out = append(out, ev)
		}
	}
	return out
}

func (l *eventLog) hasState(st coord.State) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.events {
		if ev.Type == coord.EventNone && ev.State == st {
			return true
		}
	}
	return false
}

func openNode(t *testing.T) (*coord.Node, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	n, err := coord.Open(ctx, coord.Config{TickTime: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, ctx
}

func TestServerSessionWatchesAndNotify(t *testing.T) {
	n, ctx := openNode(t)
	var log eventLog
	ss, err := n.NewServerSession(ctx, coord.ServerSessionConfig{ClientIP: "127.0.0.1", Notify: log.notify})
	if err != nil {
		t.Fatal(err)
	}
	if !log.hasState(coord.StateSyncConnected) {
		t.Fatal("no SyncConnected")
	}
	if ids := ss.Identities(); !slices.Contains(ids, coord.ID{Scheme: "ip", ID: "127.0.0.1"}) {
		t.Fatalf("identities %v", ids)
	}
	open := []coord.ACL{{Perms: coord.PermAll, Scheme: "world", ID: "anyone"}}
	if _, _, err := ss.Create(ctx, coord.CreateOp{Path: "/a", ACL: open}); err != nil {
		t.Fatal(err)
	}
	// An empty ACL is not OpenACL here.
	if _, _, err := ss.Create(ctx, coord.CreateOp{Path: "/b", ACL: []coord.ACL{}}); !errors.Is(err, coord.ErrInvalidACL) {
		t.Fatalf("empty ACL: %v", err)
	}
	// An invalid path names no node; exists still sets its watch.
	if ok, _, err := ss.Exists(ctx, "bad//path", true); ok || err != nil {
		t.Fatalf("exists on a bad path: %v %v", ok, err)
	}
	if err := ss.CheckWatches("bad//path", coord.WatcherData); err != nil {
		t.Fatalf("checkWatches: %v", err)
	}
	// Two watches on /a (data and exists) fire one event per trigger.
	if _, _, err := ss.GetData(ctx, "/a", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ss.Exists(ctx, "/a", true); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Session().SetData(ctx, "/a", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	if evs := log.watchEvents(); len(evs) != 1 || evs[0].Type != coord.EventNodeDataChanged || evs[0].Path != "/a" {
		t.Fatalf("events %+v", evs)
	}
	st := n.Stats()
	if len(st.Sessions) != 1 || st.Sessions[0].ID != ss.Session().ID() || !slices.Equal(st.Sessions[0].Watches, []string{"bad//path"}) {
		t.Fatalf("stats sessions %+v", st.Sessions)
	}
	if st.Znodes < 2 || st.Zxid != n.LastZxid() || st.GlobalSessions != 1 || st.Watches != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServerSessionSetWatchesAndDetach(t *testing.T) {
	n, ctx := openNode(t)
	var log eventLog
	ss, err := n.NewServerSession(ctx, coord.ServerSessionConfig{Timeout: time.Second, Notify: log.notify})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ss.Create(ctx, coord.CreateOp{Path: "/e", Mode: coord.Ephemeral, ACL: coord.OpenACL}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ss.Create(ctx, coord.CreateOp{Path: "/d", ACL: coord.OpenACL}); err != nil {
		t.Fatal(err)
	}
	rel := n.LastZxid()
	if _, err := ss.Session().SetData(ctx, "/d", nil, -1); err != nil {
		t.Fatal(err)
	}
	ss.SetWatches(rel, coord.WatchSet{Data: []string{"/d", "/gone"}, Exist: []string{"/e"}, Child: []string{"/"}})
	evs := log.watchEvents()
	want := []coord.EventType{coord.EventNodeDataChanged, coord.EventNodeDeleted, coord.EventNodeCreated}
	if len(evs) != len(want) {
		t.Fatalf("catch-up events %+v", evs)
	}
	for i, ev := range evs {
		if ev.Type != want[i] || ev.Zxid != -1 {
			t.Fatalf("catch-up event %d: %+v", i, ev)
		}
	}
	// The child watch on / did not fire: it is set.
	if err := ss.CheckWatches("/", coord.WatcherChildren); err != nil {
		t.Fatal(err)
	}
	if got := ss.Ephemerals("/"); !slices.Equal(got, []string{"/e"}) {
		t.Fatalf("ephemerals %v", got)
	}

	// Detached, the session lives on without its watches; re-attached, the
	// old handle is moved.
	ss.Detach()
	if err := ss.CheckWatches("/", coord.WatcherChildren); !errors.Is(err, coord.ErrNoWatcher) {
		t.Fatalf("watch after Detach: %v", err)
	}
	s := ss.Session()
	again, err := n.NewServerSession(ctx, coord.ServerSessionConfig{ID: s.ID(), Password: s.Password()})
	if err != nil {
		t.Fatal(err)
	}
	if !log.hasState(coord.StateDisconnected) {
		t.Fatal("old handle not told")
	}
	if _, _, err := ss.GetData(ctx, "/d", false); !errors.Is(err, coord.ErrSessionMoved) {
		t.Fatalf("old handle: %v", err)
	}
	if got := again.Ephemerals(""); !slices.Equal(got, []string{"/e"}) {
		t.Fatalf("ephemerals after re-attach %v", got)
	}
	if _, err := n.NewServerSession(ctx, coord.ServerSessionConfig{ID: s.ID(), Password: []byte("wrong password..")}); !errors.Is(err, coord.ErrSessionExpired) {
		t.Fatalf("wrong password: %v", err)
	}
}
