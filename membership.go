package coord

import (
	"fmt"
	"time"

	"github.com/coordkit/coord/internal/gossip"
)

// GossipConfig configures membership by gossip (hashicorp/memberlist):
// every node advertises its id and cluster address; a fresh cluster
// bootstraps once BootstrapExpect members are seen, and afterwards the
// leader keeps raft's configuration in step with gossip.
type GossipConfig struct {
	// Addr, when set, is where gossip listens ("127.0.0.1:7946"; port 0
	// picks a free one). Membership then drives raft: see Join,
	// BootstrapExpect and Voters.
	Addr string

	// Join lists gossip addresses of existing members to join (seeds).
	Join []string

	// BootstrapExpect, with no Peers, is how many members a new cluster
	// waits for before it bootstraps: once that many are seen and none has
	// raft state, all bootstrap the same voters. Give it the same value on
	// every node; later nodes join the running cluster.
	BootstrapExpect int

	// Voters is how many members vote in raft; others are non-voters
	// (ZooKeeper's observers: they serve sessions and reads). Odd; zero
	// means 3.
	Voters int

	// ClusterName keeps clusters apart: gossip from a member with another
	// name is refused. Empty means "coord".
	ClusterName string

	// Key encrypts gossip (16, 24 or 32 bytes, AES). Members without the
	// key cannot join.
	Key []byte

	// AdvertiseAddr is the cluster address gossiped to others, when
	// Config.BindAddr is not dialable as such (e.g. "0.0.0.0:7000").
	AdvertiseAddr string

	// DeadNodeTimeout is how long a failed member stays in raft before the
	// leader removes it. Zero means 1 minute. A member that leaves
	// gracefully is removed at once.
	DeadNodeTimeout time.Duration

	// StabilizationTime is how long a new member must stay healthy before
	// it is promoted to voter. Zero means 10s.
	StabilizationTime time.Duration

	// ReconcileInterval is how often the leader reconciles raft with
	// gossip. Zero means 1s.
	ReconcileInterval time.Duration

	// Timing of failure detection and dissemination; zero values keep
	// memberlist's LAN defaults (probe every 1s, gossip every 200ms,
	// full state exchange every 30s). Tests on loopback shorten them.
	Timing GossipTiming

	// transport replaces memberlist's network transport (tests only): a
	// memberlist.NodeAwareTransport, typed any so that coord's API shows
	// no memberlist type.
	transport any
}

// GossipTiming tunes gossip's failure detector; see GossipConfig.Timing.
type GossipTiming struct {
	ProbeInterval    time.Duration // how often a random member is probed
	ProbeTimeout     time.Duration // how long a probe waits for an ack
	GossipInterval   time.Duration // how often updates are gossiped
	PushPullInterval time.Duration // how often full state is exchanged
	SuspicionMult    int           // how many probe intervals a suspect has to refute
	TCPTimeout       time.Duration // timeout of a stream connection
}

func (g *GossipConfig) withDefaults() {
	if g.Voters == 0 {
		g.Voters = 3
	}
	if g.ClusterName == "" {
		g.ClusterName = "coord"
	}
	if g.DeadNodeTimeout == 0 {
		g.DeadNodeTimeout = time.Minute
	}
	if g.StabilizationTime == 0 {
		g.StabilizationTime = 10 * time.Second
	}
	if g.ReconcileInterval == 0 {
		g.ReconcileInterval = time.Second
	}
}

func (g *GossipConfig) validate() error {
	if g.Voters < 1 || g.Voters%2 == 0 {
		return fmt.Errorf("coord: Gossip.Voters must be odd, got %d", g.Voters)
	}
	switch len(g.Key) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("coord: Gossip.Key must be 16, 24 or 32 bytes, got %d", len(g.Key))
	}
	return nil
}

// ErrWrongCluster is why a node of another cluster is refused.
var ErrWrongCluster = gossip.ErrWrongCluster

// advertise is the cluster address others should dial.
func (n *Node) advertise() string {
	for _, p := range n.cfg.Peers {
		if p.ID == n.cfg.NodeID {
			return p.Addr
		}
	}
	if n.cfg.Gossip.AdvertiseAddr != "" {
		return n.cfg.Gossip.AdvertiseAddr
	}
	if n.mux != nil {
		return n.mux.Addr().String()
	}
	return n.cfg.BindAddr
}

// startGossip starts membership by gossip over the started replica.
func (n *Node) startGossip(hasState bool) error {
	g := n.cfg.Gossip
	key, acceptedKeys, err := n.gossipKeys()
	if err != nil {
		return err
	}
	gc := gossip.Config{
		NodeID:            n.cfg.NodeID,
		ClusterName:       g.ClusterName,
		BindAddr:          g.Addr,
		Advertise:         n.advertise(),
		Join:              g.Join,
		BootstrapExpect:   g.BootstrapExpect,
		Voters:            g.Voters,
		Key:               key,
		AcceptedKeys:      acceptedKeys,
		HasState:          hasState,
		DeadNodeTimeout:   g.DeadNodeTimeout,
		StabilizationTime: g.StabilizationTime,
		ReconcileInterval: g.ReconcileInterval,
		ProbeInterval:     g.Timing.ProbeInterval,
		ProbeTimeout:      g.Timing.ProbeTimeout,
		GossipInterval:    g.Timing.GossipInterval,
		PushPullInterval:  g.Timing.PushPullInterval,
		SuspicionMult:     g.Timing.SuspicionMult,
		TCPTimeout:        g.Timing.TCPTimeout,
		Logger:            n.log,
		IsLeader:          n.isLeader.Load,
	}
	if g.transport != nil {
		gc.Transport = g.transport.(gossip.Transport)
	}
	m, err := gossip.Start(gc, n.replica)
	if err != nil {
		return err
	}
	n.members = m
	return nil
}

// GossipAddr returns the address gossip listens on, or "".
func (n *Node) GossipAddr() string {
	if n.members == nil {
		return ""
	}
	return n.members.Addr()
}

// Members returns the ids of the alive gossip members of this node's
// cluster, sorted.
func (n *Node) Members() []string {
	if n.members == nil {
		return nil
	}
	return n.members.Members()
}

// ServerInfo describes a member of the raft configuration.
type ServerInfo struct {
	ID    string
	Addr  string
	Voter bool
}

// Servers returns the raft configuration as this node knows it.
func (n *Node) Servers() ([]ServerInfo, error) {
	servers, err := n.replica.Servers()
	if err != nil {
		return nil, err
	}
	out := make([]ServerInfo, 0, len(servers))
	for _, s := range servers {
		out = append(out, ServerInfo(s))
	}
	return out, nil
}
