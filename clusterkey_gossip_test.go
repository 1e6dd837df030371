package coord_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// A gossip ensemble keyed by ClusterKey forms; a node without the key, or
// with another, neither joins gossip nor gets into raft.
func TestGossipClusterKeyRefusesStrangers(t *testing.T) {
	key := coord.NewClusterKey()
	seed := freePort(t)
	keyed := func(id string, k []byte) coord.Config {
		c := gossipConfig(id, seed, nil)
		c.ClusterKey = k
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nodes []*coord.Node
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		cfg := keyed(fmt.Sprintf("k%d", i), key)
		if i == 0 {
			cfg.Gossip.Addr, cfg.Gossip.Join = seed, nil
		}
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
	if t.Failed() {
		return
	}
	for _, tc := range []struct {
		name string
		cfg  coord.Config
	}{
		{"no key", keyed("stranger-nokey", nil)},
		{"wrong key", keyed("stranger-key", coord.NewClusterKey())},
		{"gossip key only", gossipConfig("stranger-gossip", seed, make([]byte, 32))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			octx, ocancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer ocancel()
			n, err := coord.Open(octx, tc.cfg)
			if err == nil {
				n.Abort()
				t.Fatal("a stranger joined the ensemble")
			}
			for _, m := range nodes[0].Members() {
				if m == tc.cfg.NodeID {
					t.Fatalf("the ensemble lists %s as a member", m)
				}
			}
			servers, _ := nodes[0].Servers()
			for _, s := range servers {
				if s.ID == tc.cfg.NodeID {
					t.Fatalf("the stranger is in raft")
				}
			}
		})
	}
}
