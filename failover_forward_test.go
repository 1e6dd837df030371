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
