package coordtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// writeN creates /p/<prefix>-i for i in [0,n) through s and returns the
// paths that were acknowledged.
func writeN(t *testing.T, s *coord.Session, prefix string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var acked []string
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/%s-%03d", prefix, i)
		if _, err := s.Create(ctx, p, []byte(p), coord.Persistent, nil); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		acked = append(acked, p)
	}
	return acked
}

// assertPresent checks on every live node (after Sync) that paths exist
// with their own name as data.
func assertPresent(t *testing.T, e *Ensemble, paths []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < e.Size(); i++ {
		n := e.Node(i)
		if n == nil {
			continue
		}
		s := e.Session(n)
		if _, err := s.Sync(ctx, "/"); err != nil {
			t.Fatalf("node %d sync: %v", i, err)
		}
		for _, p := range paths {
			d, _, err := s.GetData(ctx, p)
			if err != nil || string(d) != p {
				t.Fatalf("node %d: %s = %q, %v", i, p, d, err)
			}
		}
	}
}

func TestLeaderKilled(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			e := NewEnsemble(t, size)
			li := e.LeaderIndex()
			f := (li + 1) % size
			s := e.Session(e.Node(f))
			acked := writeN(t, s, "before", 20)
			e.Kill(li)
			acked = append(acked, writeN(t, s, "after", 20)...)
			if e.LeaderIndex() == li {
				t.Fatal("killed node still leads")
			}
			e.Restart(li)
			e.WaitConverged()
			assertPresent(t, e, acked)
		})
	}
}

func TestPartitions(t *testing.T) {
	cases := []struct {
		name     string
		size     int
		minority func(leader int, size int) []int
	}{
		{"3/leader-isolated", 3, func(l, n int) []int { return []int{l} }},
		{"3/follower-isolated", 3, func(l, n int) []int { return []int{(l + 1) % n} }},
		{"5/leader-and-follower-in-minority", 5, func(l, n int) []int { return []int{l, (l + 1) % n} }},
		{"5/two-followers-in-minority", 5, func(l, n int) []int { return []int{(l + 1) % n, (l + 2) % n} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnsemble(t, tc.size)
			ctx := context.Background()
			li := e.LeaderIndex()
			minority := tc.minority(li, tc.size)
			inMinority := map[int]bool{}
			for _, i := range minority {
				inMinority[i] = true
			}
			var majority []int
			for i := 0; i < tc.size; i++ {
				if !inMinority[i] {
					majority = append(majority, i)
				}
			}
			sMin := e.Session(e.Node(minority[0]))
			sMaj := e.Session(e.Node(majority[0]))
			acked := writeN(t, sMaj, "pre", 5)

			e.Partition(minority, majority)
			// The majority keeps (or elects) a leader and takes writes.
			acked = append(acked, writeN(t, sMaj, "during", 10)...)
			// The minority cannot commit: its write fails in time, and its
			// sessions are told they are disconnected.
			wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err := sMin.Create(wctx, "/minority-write", nil, coord.Persistent, nil)
			cancel()
			if err == nil {
				t.Fatal("a write on the minority side succeeded")
			}
			waitState(t, sMin, coord.StateDisconnected)
			if li2 := e.LeaderIndex(); inMinority[li2] {
				t.Fatalf("leader %d is in the minority", li2)
			}

			e.Heal()
			waitState(t, sMin, coord.StateSyncConnected)
			e.WaitConverged()
			assertPresent(t, e, acked)
		})
	}
}

// waitState waits for the session to report state on its Events channel.
func waitState(t *testing.T, s *coord.Session, want coord.State) {
	t.Helper()
	if s.State() == want {
		return
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("session ended waiting for %v (now %v)", want, s.State())
			}
			if ev.Type == coord.EventNone && ev.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("session state %v, waited for %v", s.State(), want)
		}
	}
}

func TestFollowerRestartCatchesUp(t *testing.T) {
	e := NewEnsemble(t, 3)
	li := e.LeaderIndex()
	f := (li + 1) % 3
	e.Kill(f)
	acked := writeN(t, e.Session(e.Leader()), "while-down", 50)
	e.Restart(f)
	e.WaitConverged()
	assertPresent(t, e, acked)
}

func TestLaggingFollowerGetsSnapshot(t *testing.T) {
	e := NewEnsembleWith(t, 3, Options{Configure: func(i int, cfg *coord.Config) {
		cfg.SnapshotThreshold = 32
		cfg.TrailingLogs = 8
	}})
	li := e.LeaderIndex()
	f := (li + 1) % 3
	e.Kill(f)
	s := e.Session(e.Leader())
	acked := writeN(t, s, "lag", 300)
	// Snapshot and truncate the log on the survivors: the follower's next
	// entry is gone, so only a snapshot can bring it back.
	for i := 0; i < 3; i++ {
		if n := e.Node(i); n != nil {
			if err := n.Snapshot(); err != nil {
				t.Fatalf("snapshot on node %d: %v", i, err)
			}
		}
	}
	acked = append(acked, writeN(t, s, "after-snap", 10)...)
	e.Restart(f)
	e.WaitConverged()
	assertPresent(t, e, acked)
}

func TestEphemeralsOfKilledNodeExpire(t *testing.T) {
	e := NewEnsemble(t, 3)
	ctx := context.Background()
	li := e.LeaderIndex()
	victim := (li + 1) % 3
	owner, err := e.Node(victim).NewSession(ctx, coord.SessionConfig{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Create(ctx, "/eph", nil, coord.Ephemeral, nil); err != nil {
		t.Fatal(err)
	}
	watcher := e.Session(e.Node(li))
	if _, err := watcher.Sync(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	ok, _, ch, err := watcher.ExistsW(ctx, "/eph")
	if err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	killed := time.Now()
	e.Kill(victim)
	select {
	case ev := <-ch:
		if ev.Type != coord.EventNodeDeleted || ev.Path != "/eph" {
			t.Fatalf("event %+v", ev)
		}
		took := time.Since(killed)
		t.Logf("ephemeral removed %v after the kill (timeout %v, tick 50ms)", took, owner.Timeout())
	case <-time.After(10 * time.Second):
		t.Fatal("ephemeral of the killed node's session was not removed")
	}
	if ok, _, err := watcher.Exists(ctx, "/eph"); err != nil || ok {
		t.Fatalf("after expiry: exists=%v err=%v", ok, err)
	}
}

func TestSessionExpiresWhilePartitioned(t *testing.T) {
	e := NewEnsemble(t, 3)
	ctx := context.Background()
	li := e.LeaderIndex()
	f := (li + 1) % 3
	s, err := e.Node(f).NewSession(ctx, coord.SessionConfig{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/mine", nil, coord.Ephemeral, nil); err != nil {
		t.Fatal(err)
	}
	others := []int{li, (li + 2) % 3}
	e.Partition([]int{f}, others)
	waitState(t, s, coord.StateDisconnected)
	// The majority expires the session; once healed, the node learns it.
	leader := e.Session(e.Node(li))
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := leader.Exists(ctx, "/mine")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the majority did not expire the cut-off session")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Heal()
	waitState(t, s, coord.StateExpired)
	if _, _, err := s.GetData(ctx, "/"); !errors.Is(err, coord.ErrSessionExpired) {
		t.Fatalf("op on expired session: %v", err)
	}
	e.WaitConverged()
}

func TestSessionMovesBetweenNodes(t *testing.T) {
	e := NewEnsemble(t, 3)
	ctx := context.Background()
	old, err := e.Node(0).NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Create(ctx, "/mine", nil, coord.Ephemeral, nil); err != nil {
		t.Fatal(err)
	}
	moved, err := e.Node(1).NewSession(ctx, coord.SessionConfig{ID: old.ID(), Password: old.Password()})
	if err != nil {
		t.Fatalf("re-attach on another node: %v", err)
	}
	select {
	case <-old.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the old handle was not told the session moved")
	}
	if _, err := old.Create(ctx, "/late", nil, coord.Persistent, nil); !errors.Is(err, coord.ErrSessionMoved) {
		t.Fatalf("write through the old handle: %v, want ErrSessionMoved", err)
	}
	eph, err := moved.GetEphemerals(ctx, "/")
	if err != nil || len(eph) != 1 || eph[0] != "/mine" {
		t.Fatalf("ephemerals after the move: %v %v", eph, err)
	}
	if _, err := moved.Create(ctx, "/from-new-node", nil, coord.Ephemeral, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Node(2).NewSession(ctx, coord.SessionConfig{ID: old.ID(), Password: []byte("wrong password..")}); !errors.Is(err, coord.ErrSessionExpired) {
		t.Fatalf("re-attach with a wrong password: %v", err)
	}
	if err := moved.Close(ctx); err != nil {
		t.Fatal(err)
	}
	e.WaitConverged()
}

// TestInflightWritesSettleWhenLeaderDies: writes in flight through
// followers when the leader crashes all get an answer (applied exactly once
// or refused), none hangs.
func TestInflightWritesSettleWhenLeaderDies(t *testing.T) {
	e := NewEnsemble(t, 3)
	li := e.LeaderIndex()
	var sessions []*coord.Session
	for i := 0; i < 3; i++ {
		if i != li {
			sessions = append(sessions, e.Session(e.Node(i)))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error, 40)
	for k := 0; k < 40; k++ {
		go func(k int) {
			_, err := sessions[k%2].Create(ctx, fmt.Sprintf("/inflight-%02d", k), nil, coord.Persistent, nil)
			errs <- err
		}(k)
	}
	e.Kill(li)
	ok := 0
	for k := 0; k < 40; k++ {
		select {
		case err := <-errs:
			if err == nil {
				ok++
			} else if !errors.Is(err, coord.ErrConnectionLoss) {
				t.Errorf("write %d: %v", k, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%d writes still unanswered 15s after the leader died", 40-k)
		}
	}
	t.Logf("%d of 40 in-flight writes applied, the rest refused", ok)
	if _, err := sessions[0].Sync(ctx, "/"); err != nil {
		t.Fatalf("sync after failover: %v", err)
	}
	// Exactly once: every acknowledged create exists, once.
	e.Restart(li)
	e.WaitConverged()
}

// TestWatchFiresAcrossSnapshotInstall: a follower cut off long enough to
// need a snapshot still tells its watchers what changed meanwhile.
func TestWatchFiresAcrossSnapshotInstall(t *testing.T) {
	e := NewEnsembleWith(t, 3, Options{Configure: func(i int, cfg *coord.Config) {
		cfg.SnapshotThreshold = 32
		cfg.TrailingLogs = 8
	}})
	ctx := context.Background()
	li := e.LeaderIndex()
	f := (li + 1) % 3
	other := (li + 2) % 3
	sl := e.Session(e.Leader())
	if _, err := sl.Create(ctx, "/watched", []byte("v1"), coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	sf := e.Session(e.Node(f))
	if _, err := sf.Sync(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := sf.GetDataW(ctx, "/watched")
	if err != nil {
		t.Fatal(err)
	}
	e.Partition([]int{f}, []int{li, other})
	if _, err := sl.SetData(ctx, "/watched", []byte("v2"), coord.AnyVersion); err != nil {
		t.Fatal(err)
	}
	writeN(t, sl, "filler", 100)
	for _, i := range []int{li, other} {
		if err := e.Node(i).Snapshot(); err != nil {
			t.Fatalf("snapshot on %d: %v", i, err)
		}
	}
	writeN(t, sl, "after-snap", 5)
	e.Heal()
	select {
	case ev := <-ch:
		if ev.Type != coord.EventNodeDataChanged || ev.Path != "/watched" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the watch did not fire after the follower caught up")
	}
	e.WaitConverged()
}
