package coord

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// Shared helpers of the package's internal tests.

// waitTimeout bounds every wait on an event or a condition. It is generous
// so that a loaded CI machine running -race does not flake; tests that pass
// return long before it.
const waitTimeout = 10 * time.Second

// openNode opens a single-node Node and closes it when the test ends.
func openNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// newSession opens a session on n.
func newSession(t testing.TB, n *Node, cfg SessionConfig) *Session {
	t.Helper()
	s, err := n.NewSession(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewSession(%+v): %v", cfg, err)
	}
	return s
}

// wantOpError checks that err matches want with errors.Is and is an
// *OpError naming op and path.
func wantOpError(t testing.TB, err, want error, op, path string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var oe *OpError
	if !errors.As(err, &oe) {
		t.Fatalf("err %v (%T) is not an *OpError", err, err)
	}
	if oe.Op != op || oe.Path != path {
		t.Fatalf("OpError{Op: %q, Path: %q}, want {%q, %q}", oe.Op, oe.Path, op, path)
	}
}

func mustCreate(t testing.TB, s *Session, path string, data []byte, mode CreateMode, acl []ACL) string {
	t.Helper()
	p, err := s.Create(context.Background(), path, data, mode, acl)
	if err != nil {
		t.Fatalf("Create(%q, %v): %v", path, mode, err)
	}
	return p
}

func mustStat(t testing.TB, s *Session, path string) Stat {
	t.Helper()
	ok, st, err := s.Exists(context.Background(), path)
	if err != nil || !ok {
		t.Fatalf("Exists(%q) = %v, %v", path, ok, err)
	}
	return st
}

func mustNotExist(t testing.TB, s *Session, path string) {
	t.Helper()
	ok, _, err := s.Exists(context.Background(), path)
	if err != nil || ok {
		t.Fatalf("Exists(%q) = %v, %v; want false, nil", path, ok, err)
	}
}

// recv waits for the next event on ch, failing the test after waitTimeout
// or if ch is closed.
func recv(t testing.TB, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed, want an event")
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatalf("no event within %v", waitTimeout)
	}
	panic("unreachable")
}

// queued returns the event already buffered on ch. Every one-shot watch
// is delivered by apply before the write that fires it returns, so a
// buffered event is the exact expectation, not a race.
func queued(t testing.TB, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed, want a queued event")
		}
		return ev
	default:
		t.Fatalf("no event queued")
	}
	panic("unreachable")
}

// nothingQueued fails if ch holds an event (or is closed).
func nothingQueued(t testing.TB, ch <-chan Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		t.Fatalf("unexpected event %+v (open %v)", ev, ok)
	default:
	}
}

// wantClosed checks that ch is closed with nothing left in it.
func wantClosed(t testing.TB, ch <-chan Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %+v, want a closed channel", ev)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("channel not closed within %v", waitTimeout)
	}
}

// wantEvent checks an event's type, path and zxid (zxid < 0: not checked).
func wantEvent(t testing.TB, ev Event, typ EventType, path string, zxid int64) {
	t.Helper()
	if ev.Type != typ || ev.Path != path || ev.State != StateSyncConnected || (zxid >= 0 && ev.Zxid != zxid) {
		t.Fatalf("event %+v, want {Type: %v, Path: %q, State: SyncConnected, Zxid: %d}", ev, typ, path, zxid)
	}
}

// waitState reads session events until one with state st, failing after
// waitTimeout.
func waitState(t testing.TB, s *Session, st State) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("session events closed before state %v", st)
			}
			if ev.Type == EventNone && ev.State == st {
				return
			}
		case <-deadline:
			t.Fatalf("session did not reach %v within %v", st, waitTimeout)
		}
	}
}

// eventually polls cond until it holds, failing after waitTimeout. It is
// for conditions that have no event to wait on (the passing of a TTL).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitClockPast waits until the wall clock in ms is past ms, so that a
// following write gets a later mtime.
func waitClockPast(t testing.TB, ms int64) {
	t.Helper()
	eventually(t, "clock advance", func() bool { return time.Now().UnixMilli() > ms })
}

// loopbackAddr returns a free 127.0.0.1 address.
func loopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// openTCPCluster opens size nodes that form a static ensemble over loopback
// TCP, named prefix0, prefix1, …; configure, if set, adjusts each node's
// Config after NodeID, BindAddr and Peers are set. The nodes are aborted
// when the test ends.
func openTCPCluster(t testing.TB, size int, prefix string, configure func(i int, cfg *Config)) []*Node {
	t.Helper()
	// Hold every port until all are chosen, so that no two nodes get the
	// same one, then release them for the nodes to bind.
	peers := make([]Peer, size)
	held := make([]net.Listener, size)
	for i := range peers {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held[i] = l
		peers[i] = Peer{ID: fmt.Sprintf("%s%d", prefix, i), Addr: l.Addr().String()}
	}
	for _, l := range held {
		l.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes := make([]*Node, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for i := range nodes {
		cfg := Config{NodeID: peers[i].ID, BindAddr: peers[i].Addr, Peers: slices.Clone(peers)}
		if configure != nil {
			configure(i, &cfg)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nodes[i], errs[i] = Open(ctx, cfg)
		}(i)
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				_ = n.Abort()
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	return nodes
}
