package coord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNewLeaderDoesNotForwardToItself: writers on every node of a TCP
// ensemble keep writing while the leader is aborted. The node that wins the
// election hears from raft that it leads before it has marked itself
// leader; a batch it forwarded to itself then would wait in its own queue
// behind itself until forwardWait ran out, and every follower's forward
// with it. Writes go on on both survivors, and no forward times out.
func TestNewLeaderDoesNotForwardToItself(t *testing.T) {
	nodes := openTCPCluster(t, 3, "f", func(_ int, cfg *Config) { cfg.ElectionTimeout = 300 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	leader := -1
	eventually(t, "a leader", func() bool {
		for i, n := range nodes {
			if n.IsLeader() {
				leader = i
				return true
			}
		}
		return false
	})
	const perNode = 4
	var stop atomic.Bool
	acked := make([]atomic.Int64, len(nodes)) // writes acknowledged after the abort
	var aborted atomic.Bool
	for i, n := range nodes {
		for w := range perNode {
			s := newSession(t, n, SessionConfig{Timeout: 10 * time.Second})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; !stop.Load() && k < 100000; k++ {
					wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := s.Create(wctx, fmt.Sprintf("/n%d-w%d-%d", i, w, k), nil, Persistent, OpenACL)
					cancel()
					switch {
					case err == nil && aborted.Load():
						acked[i].Add(1)
					case err != nil && i == leader:
						return // its node is gone
					case err != nil && !errors.Is(err, ErrConnectionLoss):
						t.Errorf("node %d: %v", i, err)
						return
					}
				}
			}()
		}
	}
	eventually(t, "writes before the abort", func() bool { return nodes[leader].LastZxid() > 200 })
	aborted.Store(true)
	nodes[leader].Abort()
	eventually(t, "writes acknowledged on both survivors", func() bool {
		for i := range nodes {
			if i != leader && acked[i].Load() < 50 {
				return false
			}
		}
		return true
	})
	stop.Store(true)
	wg.Wait()
	for i, n := range nodes {
		if i != leader {
			if k := n.proposer.forwardTimeouts.Load(); k != 0 {
				t.Errorf("node %d: %d forwards timed out", i, k)
			}
		}
	}
}

// TestStaleForwardNeverProposed: a follower's forward reaches the leader,
// which holds it; leadership moves away, so the follower settles the
// forward's fate through the new leader and writes again; leadership comes
// back to the old leader, which only then queues the forward it held. It
// must not propose it: the sender has already settled it, and a copy
// committed now could be applied besides the sender's retry.
func TestStaleForwardNeverProposed(t *testing.T) {
	nodes := openTCPCluster(t, 3, "s", func(_ int, cfg *Config) { cfg.ElectionTimeout = 300 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leaderOf := func() int {
		for i, n := range nodes {
			if n.IsLeader() {
				return i
			}
		}
		return -1
	}
	var li int
	eventually(t, "a leader", func() bool { li = leaderOf(); return li >= 0 })
	old := nodes[li]
	f := nodes[(li+1)%3]
	s := newSession(t, f, SessionConfig{Timeout: 10 * time.Second})
	mustCreate(t, s, "/q", nil, Persistent, OpenACL)

	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	hold := func() {
		select {
		case entered <- struct{}{}:
			<-release // only the first forward is held
		default:
		}
	}
	old.proposer.holdForward.Store(&hold)
	defer close(release)
	created := make(chan error, 1)
	go func() {
		_, err := s.Create(ctx, "/q/once-", nil, PersistentSequential, OpenACL)
		created <- err
	}()
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatal("the forward never reached the leader")
	}
	if err := old.replica.LeadershipTransfer(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	select {
	case err := <-created:
		if err != nil {
			t.Fatalf("the write after the leader changed: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the follower did not settle its forward through the new leader")
	}
	if f.proposer.leaderChanges.Load() == 0 && !f.IsLeader() {
		t.Error("the follower's forward was not settled on the leader change")
	}
	// Leadership back to the node that holds the stale forward.
	eventually(t, "the old leader leads again", func() bool {
		cur := leaderOf()
		if cur == li {
			return true
		}
		if cur >= 0 {
			_ = nodes[cur].replica.TransferLeadership(old.cfg.NodeID, old.cfg.BindAddr)
		}
		return false
	})
	old.proposer.holdForward.Store(nil)
	release <- struct{}{}
	eventually(t, "the stale forward dropped", func() bool { return old.proposer.staleForwards.Load() == 1 })
	if _, err := s.Sync(ctx, "/q"); err != nil {
		t.Fatal(err)
	}
	kids, _, err := s.GetChildren(ctx, "/q")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 1 {
		t.Fatalf("children of /q: %v, want exactly one", kids)
	}
}
