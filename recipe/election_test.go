package recipe

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

func TestElectionBasic(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	obs := NewElection(e.session(), "/election/basic", Options{})
	if _, err := obs.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("Leader with no candidates: %v", err)
	}
	octx, ocancel := context.WithCancel(ctx)
	defer ocancel()
	seen := obs.Observe(octx)
	if l := wait(t, seen, "first observation"); l.Path != "" {
		t.Fatalf("first observation %+v, want no leader", l)
	}

	names := []string{"a", "b", "c"}
	won := make(chan *Leadership, len(names))
	var elections []*Election
	for i, name := range names {
		el := NewElection(e.session(), "/election/basic", Options{Identifier: []byte(name)})
		elections = append(elections, el)
		go func() {
			l, err := el.Campaign(ctx)
			if err != nil {
				t.Error(err)
			}
			won <- l
		}()
		waitChildren(t, e.session(), "/election/basic", i+1)
	}
	var prev int64
	for i, name := range names {
		l := wait(t, won, "leadership")
		got, err := obs.Leader(ctx)
		if err != nil || string(got.Identifier) != name || got.Token != l.Token() || got.Path != l.Path() {
			t.Fatalf("Leader = %+v, %v; want %s with token %d", got, err, name, l.Token())
		}
		if o := wait(t, seen, "observed leader"); string(o.Identifier) != name {
			t.Fatalf("observed %q, want %q", o.Identifier, name)
		}
		if l.Token() <= prev {
			t.Fatalf("token %d after %d", l.Token(), prev)
		}
		prev = l.Token()
		cs, err := elections[i].Contenders(ctx)
		if err != nil || len(cs) != len(names)-i || string(cs[0].Identifier) != name {
			t.Fatalf("contenders %+v %v", cs, err)
		}
		if err := l.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		wait(t, l.Done(), "resigned leadership done")
	}
	if l := wait(t, seen, "no leader after all resigned"); l.Path != "" {
		t.Fatalf("observed %+v, want no leader", l)
	}
}

// TestElectionFailover: candidates campaign in a loop; a killer expires
// the leader's session again and again. Each leader writes to a fenced
// store until it learns it lost. Checks: a new leader follows every
// expiry (liveness), every write a deposed leader gets in after its
// successor's is rejected (the fencing token), and leaders' tokens
// increase.
func TestElectionFailover(t *testing.T) {
	e := newEnv(t)
	testElectionFailover(t, e, 5, 8)
}

func TestElectionFailoverEnsemble(t *testing.T) {
	if testing.Short() {
		t.Skip("ensemble")
	}
	testElectionFailover(t, newEnsembleEnv(t, 3), 3, 4)
}

func testElectionFailover(t *testing.T, e *env, candidates, failovers int) {
	ctx, cancel := context.WithCancel(timeout(t))
	defer cancel()
	var store fencedStore
	type reign struct {
		s *coord.Session
		l *Leadership
	}
	reigns := make(chan reign)
	var wg sync.WaitGroup
	for i := 0; i < candidates; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				s, err := e.trySession()
				if err != nil {
					t.Error(err)
					return
				}
				el := NewElection(s, "/election/failover", Options{})
				l, err := el.Campaign(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, coord.ErrSessionExpired) {
						t.Error(err)
					}
					continue
				}
				select {
				case reigns <- reign{s, l}:
				case <-ctx.Done():
					return
				}
				// Lead: write until told leadership may be lost. Writes
				// racing the loss may land after the successor's: the
				// store must reject exactly those.
				for {
					err := store.write(l.Token(), func(v int) int { return v + 1 })
					if err != nil {
						select {
						case <-l.Done():
						case <-time.After(10 * time.Second):
							t.Errorf("write rejected (%v) but leadership not lost", err)
						}
						break
					}
					select {
					case <-l.Done():
					case <-time.After(time.Millisecond):
						continue
					}
					break
				}
			}
		}()
	}
	var last int64
	var r reign
	for i := 0; ; i++ {
		r = wait(t, reigns, "a leader")
		if r.l.Token() <= last {
			t.Fatalf("leader token %d after %d", r.l.Token(), last)
		}
		store.waitToken(t, r.l.Token()) // the new leader has written
		if i > 0 {
			// The deposed leader, resuming late, writes with its token.
			if err := store.write(last, func(v int) int { return -1000 }); !errors.Is(err, errFenced) {
				t.Fatalf("late write of deposed leader (token %d): %v, want rejection", last, err)
			}
		}
		last = r.l.Token()
		if i == failovers {
			break
		}
		e.expire(r.s)
		wait(t, r.l.Done(), "deposed leader told")
		if !errors.Is(r.l.Err(), coord.ErrSessionExpired) {
			t.Fatalf("deposed leader Err = %v", r.l.Err())
		}
	}
	_, tokens, rejected := store.snapshot()
	for i := 1; i < len(tokens); i++ {
		if tokens[i] < tokens[i-1] {
			t.Fatalf("accepted tokens decrease: %d then %d", tokens[i-1], tokens[i])
		}
	}
	t.Logf("%d accepted writes, %d rejected", len(tokens), rejected)
	cancel()
	_ = r.l.Resign(bg())
	wg.Wait()
}

// TestElectionDisconnected: the leader's node is cut off from the
// ensemble. The leader is told at once that it may no longer lead
// (Disconnected); the ensemble expires its session after the timeout and
// a candidate on the majority side takes over with a higher token. The
// cut-off leader's write with its old token is rejected.
func TestElectionDisconnected(t *testing.T) {
	if testing.Short() {
		t.Skip("ensemble")
	}
	e := newEnsembleEnv(t, 3)
	ctx := timeout(t)
	sA := e.sessionOn(e.ens.Node(0))
	sB := e.sessionOn(e.ens.Node(1))
	la, err := NewElection(sA, "/election/part", Options{Identifier: []byte("A")}).Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var store fencedStore
	if err := store.write(la.Token(), func(int) int { return 1 }); err != nil {
		t.Fatal(err)
	}
	won := make(chan *Leadership, 1)
	go func() {
		l, err := NewElection(sB, "/election/part", Options{Identifier: []byte("B")}).Campaign(ctx)
		if err != nil {
			t.Error(err)
		}
		won <- l
	}()
	waitChildren(t, sB, "/election/part", 2)
	e.ens.Partition([]int{0}, []int{1, 2})
	start := time.Now()
	wait(t, la.Done(), "cut-off leader told")
	if !errors.Is(la.Err(), coord.ErrConnectionLoss) {
		t.Fatalf("cut-off leader Err = %v, want ErrConnectionLoss", la.Err())
	}
	told := time.Since(start)
	lb := wait(t, won, "new leader on the majority side")
	took := time.Since(start)
	if told > took {
		t.Fatalf("old leader told after %v, new leader elected after %v", told, took)
	}
	if lb.Token() <= la.Token() {
		t.Fatalf("new token %d <= old %d", lb.Token(), la.Token())
	}
	if err := store.write(lb.Token(), func(int) int { return 2 }); err != nil {
		t.Fatal(err)
	}
	if err := store.write(la.Token(), func(int) int { return 3 }); !errors.Is(err, errFenced) {
		t.Fatalf("old leader's write: %v, want rejection", err)
	}
	t.Logf("old leader told after %v; new leader after %v", told, took)
	e.ens.Heal()
}

func TestElectionCampaignCancel(t *testing.T) {
	e := newEnv(t)
	obs := e.session()
	if _, err := NewElection(e.session(), "/election/cancel", Options{}).Campaign(timeout(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg())
	errc := make(chan error, 1)
	el := NewElection(e.session(), "/election/cancel", Options{})
	go func() {
		_, err := el.Campaign(ctx)
		errc <- err
	}()
	waitChildren(t, obs, "/election/cancel", 2)
	cancel()
	if err := wait(t, errc, "cancelled campaign"); err != context.Canceled {
		t.Fatalf("Campaign = %v", err)
	}
	waitChildren(t, obs, "/election/cancel", 1)
}
