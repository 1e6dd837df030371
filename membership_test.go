package coord_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// freePort returns a loopback address with a port that was free a moment
// ago (memberlist needs its port before a seed address can be shared).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// fastGossip detects failures within a few hundred milliseconds on loopback.
var fastGossip = coord.GossipTiming{
	ProbeInterval:    100 * time.Millisecond,
	ProbeTimeout:     50 * time.Millisecond,
	GossipInterval:   20 * time.Millisecond,
	SuspicionMult:    2,
	PushPullInterval: 500 * time.Millisecond,
	TCPTimeout:       time.Second,
}

func gossipConfig(id, seed string, key []byte) coord.Config {
	cfg := coord.Config{
		NodeID:          id,
		BindAddr:        "127.0.0.1:0",
		ElectionTimeout: 150 * time.Millisecond,
		TickTime:        100 * time.Millisecond,
		Gossip: coord.GossipConfig{
			Addr:              "127.0.0.1:0",
			BootstrapExpect:   3,
			StabilizationTime: 200 * time.Millisecond,
			ReconcileInterval: 50 * time.Millisecond,
			DeadNodeTimeout:   300 * time.Millisecond,
			Timing:            fastGossip,
			Key:               key,
		},
	}
	if seed != "" {
		cfg.Gossip.Join = []string{seed}
	}
	return cfg
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countSuffrage(n *coord.Node) (voters, nonvoters int) {
	servers, err := n.Servers()
	if err != nil {
		return -1, -1
	}
	for _, s := range servers {
		if s.Voter {
			voters++
		} else {
			nonvoters++
		}
	}
	return voters, nonvoters
}

func TestGossipFormsAndHeals(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	seed := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := make([]*coord.Node, 5)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range nodes {
		cfg := gossipConfig(fmt.Sprintf("g%d", i), seed, key)
		if i == 0 {
			cfg.Gossip.Addr, cfg.Gossip.Join = seed, nil
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nodes[i], errs[i] = coord.Open(ctx, cfg)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				n.Abort()
			}
		}
	})
	t.Logf("5 nodes open (ensemble serving writes) after %v", time.Since(start))

	var leader *coord.Node
	waitFor(t, "3 voters + 2 non-voters", 15*time.Second, func() bool {
		for _, n := range nodes {
			if n.IsLeader() {
				leader = n
				v, nv := countSuffrage(n)
				return v == 3 && nv == 2
			}
		}
		return false
	})

	s, err := nodes[4].NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/before", nil, coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}

	// Kill a voter that is not the leader: a non-voter is promoted.
	var victim int
	servers, _ := leader.Servers()
	for _, srv := range servers {
		for i, n := range nodes {
			if srv.Voter && n.ID() == srv.ID && n != leader {
				victim = i
			}
		}
	}
	killed := time.Now()
	nodes[victim].Abort()
	waitFor(t, "a non-voter promoted after a voter died", 15*time.Second, func() bool {
		for i, n := range nodes {
			if i != victim && n.IsLeader() {
				v, nv := countSuffrage(n)
				return v == 3 && nv == 1
			}
		}
		return false
	})
	t.Logf("voter replaced %v after its kill", time.Since(killed))
	survivor := nodes[(victim+1)%5]
	s2, err := survivor.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Create(ctx, "/after", nil, coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	nodes[victim] = nil
}

func TestGossipRefusesStrangers(t *testing.T) {
	key := make([]byte, 16)
	rand.Read(key)
	seed := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfgs := make([]coord.Config, 3)
	for i := range cfgs {
		cfgs[i] = gossipConfig(fmt.Sprintf("m%d", i), seed, key)
	}
	cfgs[0].Gossip.Addr, cfgs[0].Gossip.Join = seed, nil
	nodes, ok := openAll(t, ctx, cfgs)
	if !ok {
		return
	}
	for _, tc := range []struct {
		name string
		cfg  coord.Config
	}{
		{"other cluster name", func() coord.Config {
			c := gossipConfig("stranger-name", seed, key)
			c.Gossip.ClusterName = "other"
			return c
		}()},
		{"no gossip key", gossipConfig("stranger-nokey", seed, nil)},
		{"wrong gossip key", gossipConfig("stranger-key", seed, make([]byte, 16))},
	} {
		t.Run(tc.name, func(t *testing.T) { wantStrangerRefused(t, nodes[0], tc.cfg, time.Second) })
	}
}

// openAll opens the nodes of cfgs at once (a gossip cluster bootstraps
// only when they meet) and aborts them when the test ends. It reports
// false, with the test failed, if any did not open.
func openAll(t *testing.T, ctx context.Context, cfgs []coord.Config) ([]*coord.Node, bool) {
	t.Helper()
	var nodes []*coord.Node
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, cfg := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := coord.Open(ctx, cfg)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			nodes = append(nodes, n)
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Abort()
		}
	})
	return nodes, !t.Failed()
}

// wantStrangerRefused opens a node with cfg, which must not get in within
// wait: its Open fails, and member neither lists it in gossip nor has it
// in raft.
func wantStrangerRefused(t *testing.T, member *coord.Node, cfg coord.Config, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if n, err := coord.Open(ctx, cfg); err == nil {
		n.Abort()
		t.Fatal("a stranger joined the ensemble")
	}
	for _, m := range member.Members() {
		if m == cfg.NodeID {
			t.Fatalf("the ensemble lists %s as a member", m)
		}
	}
	servers, _ := member.Servers()
	for _, s := range servers {
		if s.ID == cfg.NodeID {
			t.Fatalf("the stranger is in raft")
		}
	}
}
