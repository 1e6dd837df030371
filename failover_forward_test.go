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

// TestObservers: 3 voters and 2 observers (zoo.cfg's :observer). The
// observers serve sessions, reads and writes and say so in Role, but never
// count in a quorum: with two voters gone, nobody can write.
func TestObservers(t *testing.T) {
	nodes := openTCPCluster(t, 5, "o", func(i int, cfg *Config) {
		cfg.ElectionTimeout = 300 * time.Millisecond
		cfg.Peers[3].Observer = true
		cfg.Peers[4].Observer = true
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, n := range nodes {
		want := "follower"
		if i >= 3 {
			want = "observer"
		}
		if role := n.Role(); role != want && role != "leader" {
			t.Errorf("node %d: role %s, want %s", i, role, want)
		}
		if i >= 3 && n.IsLeader() {
			t.Errorf("observer %d leads", i)
		}
	}
	servers, err := nodes[3].Servers()
	if err != nil {
		t.Fatal(err)
	}
	voters := 0
	for _, s := range servers {
		if s.Voter {
			voters++
		}
	}
	if len(servers) != 5 || voters != 3 {
		t.Fatalf("configuration %+v: want 5 servers, 3 voters", servers)
	}
	obs := newSession(t, nodes[4], SessionConfig{Timeout: 10 * time.Second})
	mustCreate(t, obs, "/from-observer", nil, Persistent, OpenACL)

	// Two voters die: 3 of 5 members remain, but only 1 of 3 voters.
	leader := -1
	for i := 0; i < 3; i++ {
		if nodes[i].IsLeader() {
			leader = i
		}
	}
	survivor := (leader + 1) % 3
	for i := 0; i < 3; i++ {
		if i != survivor {
			nodes[i].Abort()
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
	defer wcancel()
	if _, err := obs.Create(wctx, "/without-quorum", nil, Persistent, OpenACL); err == nil {
		t.Fatal("a write succeeded with one voter of three alive")
	}
	for i := 0; i < 5; i++ {
		if (i == survivor || i >= 3) && nodes[i].IsLeader() {
			t.Errorf("node %d leads without a quorum of voters", i)
		}
	}
}
