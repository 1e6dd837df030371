package coord

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// This file holds the accessors that monitoring (package metrics, the
// admin server, zkserver's mntr) reads. They read counters and raft's
// status; none takes the tree's lock for long.

// proposerMetrics are the proposer's counters, updated with atomics only.
type proposerMetrics struct {
	batches      atomic.Int64 // entries this node proposed
	batched      atomic.Int64 // commands in them
	lastBatch    atomic.Int64 // commands in the last one
	inFlight     atomic.Int64 // entries proposed or forwarded, not yet settled
	pendingSyncs atomic.Int64 // sync markers waiting for their entry to apply
}

func (m *proposerMetrics) noteBatch(n int) {
	m.batches.Add(1)
	m.batched.Add(int64(n))
	m.lastBatch.Store(int64(n))
}

// ProposerStats are the figures of a Node's proposer: how it groups
// commands into raft entries.
type ProposerStats struct {
	// Batches counts the raft entries this node proposed (as leader) or
	// forwarded (as follower) with commands of its own; Commands the
	// commands in them. Commands/Batches is the mean batch size.
	Batches, Commands int64
	// LastBatch is the number of commands in the latest batch.
	LastBatch int64
	// InFlight is the number of entries on their way to raft and not yet
	// settled.
	InFlight int64
	// PendingSyncs counts syncs (Session.Sync, CatchUp, ZooKeeper's sync)
	// waiting for their place in the log to apply.
	PendingSyncs int64
	// ForwardTimeouts, LeaderChanges and StaleForwards count forwards
	// given up on, settled because the leader changed, and dropped as
	// received in an earlier term.
	ForwardTimeouts, LeaderChanges, StaleForwards int64
}

// ProposerStats returns the proposer's counters.
func (n *Node) ProposerStats() ProposerStats {
	p := n.proposer
	return ProposerStats{
		Batches:         p.m.batches.Load(),
		Commands:        p.m.batched.Load(),
		LastBatch:       p.m.lastBatch.Load(),
		InFlight:        p.m.inFlight.Load(),
		PendingSyncs:    p.m.pendingSyncs.Load(),
		ForwardTimeouts: p.forwardTimeouts.Load(),
		LeaderChanges:   p.leaderChanges.Load(),
		StaleForwards:   p.staleForwards.Load(),
	}
}

// RaftStats are raft's figures for this node.
type RaftStats struct {
	State         string // Leader, Follower, Candidate, Shutdown
	Term          uint64
	LastLogIndex  uint64
	LastLogTerm   uint64
	CommitIndex   uint64
	AppliedIndex  uint64
	LastSnapshot  uint64 // index of the latest snapshot
	LogEntries    uint64 // entries in the log past the latest snapshot (LastLogIndex - LastSnapshot)
	LastContact   time.Duration
	LeaderID      string
	LeaderAddr    string
	NumPeers      int
	LogStoreLSM   int64 // bytes badger reports for the raft log (0 in memory)
	LogStoreVLog  int64
	SnapshotBytes int64 // bytes of the snapshots on disk (0 in memory)

	// Raw is hashicorp/raft's Stats map, as it names the figures.
	Raw map[string]string
}

// RaftStats returns raft's figures for this node.
func (n *Node) RaftStats() RaftStats {
	raw := n.replica.Stats()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(raw[k], 10, 64); return v }
	st := RaftStats{
		State:        raw["state"],
		Term:         u("term"),
		LastLogIndex: u("last_log_index"),
		LastLogTerm:  u("last_log_term"),
		CommitIndex:  u("commit_index"),
		AppliedIndex: u("applied_index"),
		LastSnapshot: u("last_snapshot_index"),
		NumPeers:     int(u("num_peers")),
		Raw:          raw,
	}
	if st.LastLogIndex > st.LastSnapshot {
		st.LogEntries = st.LastLogIndex - st.LastSnapshot
	}
	switch lc := raw["last_contact"]; lc {
	case "never", "", "0":
	default:
		st.LastContact, _ = time.ParseDuration(lc)
	}
	st.LeaderAddr, st.LeaderID = n.replica.Leader()
	st.LogStoreLSM, st.LogStoreVLog = n.replica.StoreSizes()
	if n.cfg.DataDir != "" {
		st.SnapshotBytes = dirSize(filepath.Join(n.cfg.DataDir, "snapshots"))
	}
	return st
}

// FollowerInfo is a follower as this node's raft sees it.
type FollowerInfo struct {
	ServerInfo
	// Synced is false while the leader fails to reach it (only the leader
	// knows: on other nodes it is true).
	Synced bool
	// LastContact is when it last answered, when not Synced.
	LastContact time.Time
}

// Followers returns the other members of the ensemble (voters and
// observers) with whether the leader reaches them. ZooKeeper's mntr
// reports them on the leader as zk_followers and zk_synced_followers.
func (n *Node) Followers() []FollowerInfo {
	fs, err := n.replica.Followers()
	if err != nil {
		return nil
	}
	out := make([]FollowerInfo, 0, len(fs))
	for _, f := range fs {
		out = append(out, FollowerInfo{ServerInfo: ServerInfo(f.Server), Synced: !f.Failing, LastContact: f.LastContact})
	}
	return out
}

// DiskUsage returns the bytes this node keeps in its DataDir: all of it,
// and the raft log's part (ZooKeeper's dataDirSize and dataLogSize). Both
// are 0 for an in-memory node.
func (n *Node) DiskUsage() (dataDir, log int64) {
	if n.cfg.DataDir == "" {
		return 0, 0
	}
	return dirSize(n.cfg.DataDir), dirSize(filepath.Join(n.cfg.DataDir, "raft"))
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// Healthy reports nil while the node runs: it is not closed and has not
// stopped on its own (Err). It says nothing of the ensemble: see Ready.
func (n *Node) Healthy() error {
	select {
	case <-n.stop:
		if err := n.Err(); err != nil {
			return err
		}
		return ErrClosed
	default:
	}
	return nil
}

// ErrNotReady is Ready's error when the node is not part of a working
// quorum or has not caught up with it.
var ErrNotReady = errors.New("coord: not ready")

// Ready reports nil when the node can serve: it runs, it is in touch with
// a leader (it leads, or heard from the leader within two election
// timeouts), and it has applied every change that leader committed before
// the call. The catch-up is bounded by ctx and by two election timeouts,
// whichever ends first. The errors wrap ErrNotReady.
func (n *Node) Ready(ctx context.Context) error {
	if err := n.Healthy(); err != nil {
		return errors.Join(ErrNotReady, err)
	}
	if !n.connected(time.Now()) {
		return errors.Join(ErrNotReady, errors.New("no leader in touch"))
	}
	bound := 2 * n.cfg.ElectionTimeout
	if bound <= 0 {
		bound = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if err := n.CatchUp(ctx); err != nil {
		return errors.Join(ErrNotReady, err)
	}
	return nil
}
