package coord_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// TestRollingRestartUnderLoad restarts every member of a durable gossip
// ensemble, one at a time, while a writer keeps writing: no acknowledged
// write is lost and writes resume after every restart. The longest
// leaderless gap is logged, not asserted: on a starved CPU an election
// takes as long as the scheduler makes it.
func TestRollingRestartUnderLoad(t *testing.T) {
	const size = 3
	seed := freePort(t)
	dir := t.TempDir()
	cfgs := make([]coord.Config, size)
	for i := range cfgs {
		cfgs[i] = gossipConfig(fmt.Sprintf("r%d", i), seed, nil)
		cfgs[i].DataDir = filepath.Join(dir, fmt.Sprint(i))
		cfgs[i].Gossip.Addr = freePort(t)
		cfgs[i].BindAddr = freePort(t) // fixed, so a restarted node keeps its raft address
		if i == 0 {
			cfgs[i].Gossip.Addr, cfgs[i].Gossip.Join = seed, nil
		}
	}
	var mu sync.Mutex
	nodes := make([]*coord.Node, size)
	node := func(i int) *coord.Node { mu.Lock(); defer mu.Unlock(); return nodes[i] }
	open := func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := coord.Open(ctx, cfgs[i])
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			return
		}
		mu.Lock()
		nodes[i] = n
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func(i int) { defer wg.Done(); open(i) }(i)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() {
		for i := range nodes {
			if n := node(i); n != nil {
				n.Abort()
			}
		}
	})
	leaderOf := func() *coord.Node {
		for i := range nodes {
			if n := node(i); n != nil && n.IsLeader() {
				return n
			}
		}
		return nil
	}
	fullVoters := func() bool {
		l := leaderOf()
		if l == nil {
			return false
		}
		v, nv := countSuffrage(l)
		return v == size && nv == 0
	}
	waitFor(t, "3 voters", 20*time.Second, fullVoters)

	// Watch for leaderless gaps.
	stop := make(chan struct{})
	var maxGap atomic.Int64
	go func() {
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if leaderOf() != nil {
				if g := time.Since(last); int64(g) > maxGap.Load() {
					maxGap.Store(int64(g))
				}
				last = time.Now()
			}
		}
	}()

	// The writer: sequential creates through whichever node is up.
	var acked []string
	var ackMu sync.Mutex
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var s *coord.Session
		for k := 0; k < 5000; k++ {
			select {
			case <-stop:
				return
			default:
			}
			if s == nil || s.State() == coord.StateClosed || s.State() == coord.StateExpired {
				s = nil
				for i := 0; i < size && s == nil; i++ {
					if n := node((k + i) % size); n != nil {
						ctx, cancel := context.WithTimeout(context.Background(), time.Second)
						s, _ = n.NewSession(ctx, coord.SessionConfig{})
						cancel()
					}
				}
				if s == nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
			}
			p := fmt.Sprintf("/w-%05d", k)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := s.Create(ctx, p, nil, coord.Persistent, nil)
			cancel()
			if err == nil {
				ackMu.Lock()
				acked = append(acked, p)
				ackMu.Unlock()
			}
		}
	}()

	// progress waits until the writer has acknowledged 5 more writes.
	progress := func(what string) {
		ackMu.Lock()
		base := len(acked)
		ackMu.Unlock()
		waitFor(t, what, 20*time.Second, func() bool {
			ackMu.Lock()
			defer ackMu.Unlock()
			return len(acked) >= base+5
		})
	}
	for i := 0; i < size; i++ {
		progress(fmt.Sprintf("writes before restarting node %d", i))
		n := node(i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.Close(ctx); err != nil {
			t.Logf("close %d: %v", i, err)
		}
		cancel()
		mu.Lock()
		nodes[i] = nil
		mu.Unlock()
		if i == 0 {
			// The seed restarts as any member does: joining the others.
			// With no seeds of its own it waits to be found, and peers
			// that declared it dead meanwhile never look for it.
			cfgs[0].Gossip.Join = []string{cfgs[1].Gossip.Addr, cfgs[2].Gossip.Addr}
		}
		open(i)
		if t.Failed() {
			break
		}
		waitFor(t, fmt.Sprintf("node %d back as a voter", i), 20*time.Second, fullVoters)
	}
	if !t.Failed() {
		progress("writes after the last restart")
	}
	close(stop)
	<-writerDone
	if t.Failed() {
		t.FailNow()
	}

	ackMu.Lock()
	defer ackMu.Unlock()
	t.Logf("%d writes acknowledged across %d restarts; longest leaderless gap %v (election timeout %v)",
		len(acked), size, time.Duration(maxGap.Load()), cfgs[0].ElectionTimeout)
	ctx := context.Background()
	for i := range nodes {
		s, err := node(i).NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sync(ctx, "/"); err != nil {
			t.Fatal(err)
		}
		for _, p := range acked {
			if ok, _, err := s.Exists(ctx, p); err != nil || !ok {
				t.Fatalf("node %d lost acknowledged write %s (%v)", i, p, err)
			}
		}
	}
}
