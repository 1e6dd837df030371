package coord_test

import (
	"context"
	"fmt"
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
	cfgs := make([]coord.Config, 3)
	for i := range cfgs {
		cfgs[i] = keyed(fmt.Sprintf("k%d", i), key)
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
