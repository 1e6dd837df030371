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
		t.Run(tc.name, func(t *testing.T) { wantStrangerRefused(t, nodes[0], tc.cfg, 2*time.Second) })
	}
}
