package coord

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coordkit/coord/raftfsm"
	"github.com/hashicorp/raft"
)

// MemoryStorage is raft state kept in memory across Open calls: see
// Config.Storage. The zero value is not usable; call NewMemoryStorage.
type MemoryStorage struct {
	mu    sync.Mutex
	logs  *raft.InmemStore
	snaps *raft.InmemSnapshotStore
}

// NewMemoryStorage returns empty in-memory raft storage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{logs: raft.NewInmemStore(), snaps: raft.NewInmemSnapshotStore()}
}

// startRaft builds the transport, the stores and raft itself, bootstrapping
// the configured voters when the stores hold no state yet.
func (n *Node) startRaft() error {
	cfg := &n.cfg
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = newHclogAdapter(cfg.Logger, "raft")
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	n.notify = make(chan bool, 16)
	rc.NotifyCh = n.notify
	if len(cfg.Peers) > 1 || cfg.GossipAddr != "" {
		rc.HeartbeatTimeout = cfg.ElectionTimeout
		rc.ElectionTimeout = cfg.ElectionTimeout
		rc.LeaderLeaseTimeout = cfg.ElectionTimeout / 2
		// Followers learn of commits on the next append; while idle the
		// leader sends one after CommitTimeout. Forwarded writes wait for
		// their node to apply, so keep it short.
		rc.CommitTimeout = time.Millisecond
	} else {
		// A single voter has nobody to wait for: raft's shortest timings
		// make it leader within a few milliseconds.
		rc.HeartbeatTimeout = 5 * time.Millisecond
		rc.ElectionTimeout = 5 * time.Millisecond
		rc.LeaderLeaseTimeout = 5 * time.Millisecond
		rc.CommitTimeout = time.Millisecond
	}

	var trans raft.Transport
	var self raft.ServerAddress
	if cfg.BindAddr != "" {
		l, err := cfg.Network.Listen(cfg.BindAddr)
		if err != nil {
			return fmt.Errorf("coord: listen %s: %w", cfg.BindAddr, err)
		}
		n.mux = newMux(l, cfg.Network)
		nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:  raftLayer{n.mux},
			MaxPool: 3,
			Timeout: 2 * time.Second,
			Logger:  newHclogAdapter(cfg.Logger, "raft-net"),
		})
		trans = nt
		self = raft.ServerAddress(cfg.BindAddr)
		for _, p := range cfg.Peers {
			if p.ID == cfg.NodeID {
				self = raft.ServerAddress(p.Addr)
			}
		}
		n.closeFns = append(n.closeFns, nt.Close)
	} else {
		var it *raft.InmemTransport
		self, it = raft.NewInmemTransport(raft.ServerAddress(cfg.NodeID))
		trans = it
	}

	var logs raft.LogStore
	var stable raft.StableStore
	var snaps raft.SnapshotStore
	switch {
	case cfg.DataDir != "":
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return fmt.Errorf("coord: data dir: %w", err)
		}
		bs, err := raftfsm.OpenBadgerStore(filepath.Join(cfg.DataDir, "raft"), raftfsm.BadgerOptions{
			Logger:     cfg.Logger,
			GCInterval: 5 * time.Minute,
		})
		if err != nil {
			return fmt.Errorf("coord: open raft store: %w", err)
		}
		n.closeFns = append(n.closeFns, bs.Close)
		fs, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 3, newHclogAdapter(cfg.Logger, "snapshot"))
		if err != nil {
			return fmt.Errorf("coord: snapshot store: %w", err)
		}
		logs, stable, snaps = bs, bs, fs
	case cfg.Storage != nil:
		logs, stable, snaps = cfg.Storage.logs, cfg.Storage.logs, cfg.Storage.snaps
	default:
		s := raft.NewInmemStore()
		logs, stable, snaps = s, s, raft.NewInmemSnapshotStore()
	}

	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return fmt.Errorf("coord: read raft state: %w", err)
	}
	if !has && (cfg.GossipAddr == "" || len(cfg.Peers) > 0) {
		conf := raft.Configuration{}
		if len(cfg.Peers) == 0 {
			conf.Servers = []raft.Server{{ID: rc.LocalID, Address: self, Suffrage: raft.Voter}}
		}
		for _, p := range cfg.Peers {
			conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr), Suffrage: raft.Voter})
		}
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, trans, conf); err != nil {
			return fmt.Errorf("coord: bootstrap: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, stable, snaps, trans)
	if err != nil {
		for _, f := range n.closeFns {
			_ = f()
		}
		return fmt.Errorf("coord: start raft: %w", err)
	}
	n.raft = r
	if cfg.GossipAddr != "" {
		if err := n.startGossip(has); err != nil {
			r.Shutdown()
			for _, f := range n.closeFns {
				_ = f()
			}
			return err
		}
	}
	return nil
}
