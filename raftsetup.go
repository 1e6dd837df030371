package coord

import (
	"fmt"

	"github.com/coordkit/coord/internal/cluster"
	"github.com/coordkit/coord/raftfsm"
)

// MemoryStorage is raft state kept in memory across Open calls: see
// Config.Storage. The zero value is not usable; call NewMemoryStorage.
type MemoryStorage struct{ s *raftfsm.MemoryStorage }

// NewMemoryStorage returns empty in-memory raft storage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{s: raftfsm.NewMemoryStorage()}
}

// startReplica opens the cluster listener and starts the raft replica,
// bootstrapping the configured voters when the stores hold no state yet,
// and gossip when configured.
func (n *Node) startReplica() error {
	cfg := &n.cfg
	rc := raftfsm.Config{
		ID:                cfg.NodeID,
		Logger:            cfg.Logger,
		ElectionTimeout:   cfg.ElectionTimeout,
		Single:            !cfg.multiNode(),
		SnapshotThreshold: cfg.SnapshotThreshold,
		TrailingLogs:      cfg.TrailingLogs,
		SnapshotInterval:  cfg.SnapshotInterval,
		DataDir:           cfg.DataDir,
		MaxSnapshotSize:   cfg.MaxSnapshotSize,
	}
	if err := n.secureCluster(); err != nil {
		return err
	}
	if cfg.Storage != nil {
		rc.Memory = cfg.Storage.s
	}
	if cfg.BindAddr != "" {
		l, err := cfg.Network.Listen(cfg.BindAddr)
		if err != nil {
			return fmt.Errorf("coord: listen %s: %w", cfg.BindAddr, err)
		}
		n.mux = cluster.NewMux(l, cfg.Network)
		n.rpc = cluster.NewPool(n.mux)
		rc.Stream = n.mux.Raft()
		rc.Advertise = cfg.BindAddr
		for _, p := range cfg.Peers {
			if p.ID == cfg.NodeID {
				rc.Advertise = p.Addr
			}
		}
	}
	// A gossip-formed cluster bootstraps once it sees its members.
	if cfg.Gossip.Addr == "" || len(cfg.Peers) > 0 {
		rc.Bootstrap = cfg.bootstrapServers()
	}
	rep, err := raftfsm.Start(rc, n.fsm)
	if err != nil {
		if n.mux != nil {
			n.mux.Close()
		}
		return fmt.Errorf("coord: %w", err)
	}
	n.replica = rep
	if cfg.Gossip.Addr != "" {
		if err := n.startGossip(rep.HadState()); err != nil {
			_ = rep.Shutdown()
			return err
		}
	}
	return nil
}

// bootstrapServers is the configuration a node without raft state starts
// with: the Peers, or the node alone. The entry without Addr is the node
// itself.
func (cfg *Config) bootstrapServers() []raftfsm.Server {
	servers := []raftfsm.Server{}
	if len(cfg.Peers) == 0 {
		servers = append(servers, raftfsm.Server{ID: cfg.NodeID, Voter: true})
	}
	for _, p := range cfg.Peers {
		servers = append(servers, raftfsm.Server{ID: p.ID, Addr: p.Addr, Voter: !p.Observer})
	}
	return servers
}

// raftSelf is the node's own raft address: what peers dial, or its id on
// the in-memory transport of a node without a listener.
func (cfg *Config) raftSelf() string {
	if cfg.BindAddr == "" {
		return cfg.NodeID
	}
	for _, p := range cfg.Peers {
		if p.ID == cfg.NodeID {
			return p.Addr
		}
	}
	return cfg.BindAddr
}
