package raftfsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// currentTerm is the replica's current term: raft's once it runs, the
// stored one before (RPCs may arrive while NewRaft is still starting).
func (rep *Replica) currentTerm() uint64 {
	if rep.raftReady.Load() {
		return rep.r.CurrentTerm()
	}
	if st := rep.stable.Load(); st != nil {
		if t, err := (*st).GetUint64([]byte("CurrentTerm")); err == nil {
			return t
		}
	}
	return 0
}

// AppliedIndex is the index of the last entry applied to the state
// machine.
func (rep *Replica) AppliedIndex() uint64 { return rep.r.AppliedIndex() }

// RefusedRPCs counts the incoming raft RPCs the guard refused.
func (rep *Replica) RefusedRPCs() uint64 {
	if rep.guard == nil {
		return 0
	}
	return rep.guard.refused.Load()
}

// errNoSnapshotLoads is raft's error when snapshots exist and none could
// be restored.
const errNoSnapshotLoads = "failed to load any existing snapshots"

// newRaftSkippingBadSnapshots starts raft, and deals with snapshot files
// that cannot be restored (corrupt on disk, or junk a peer sent):
//
//   - hashicorp/raft itself tries the snapshots newest first and restores
//     the first that works. The ones newer than it are moved aside
//     (DataDir/snapshots-bad/) and logged as errors, so they are not tried
//     at every start.
//   - When none works, NewRaft fails: all are moved aside and raft starts
//     again from the log alone.
//
// Either way the log must still hold every entry after the snapshot
// restored (or from index 1 without one); when it was compacted past that
// point the replica cannot rebuild its state locally, and Start fails with
// an error saying so rather than let raft panic on the missing entries.
func newRaftSkippingBadSnapshots(cfg Config, rc *raft.Config, fsm raft.FSM, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, trans raft.Transport) (*raft.Raft, error) {
	fs, ok := snaps.(*raft.FileSnapshotStore)
	if !ok {
		return raft.NewRaft(rc, fsm, logs, stable, snaps, trans)
	}
	listed, err := fs.List()
	if err != nil {
		return nil, err
	}
	r, err := raft.NewRaft(rc, fsm, logs, stable, snaps, trans)
	restored := uint64(0)
	switch {
	case err == nil:
		restored, _ = strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64)
	case len(listed) > 0 && err.Error() == errNoSnapshotLoads:
	default:
		return nil, err
	}
	var bad []*raft.SnapshotMeta
	for _, s := range listed {
		if s.Index > restored {
			bad = append(bad, s)
		}
	}
	if len(bad) == 0 {
		return r, nil
	}
	first, ferr := logs.FirstIndex()
	last, lerr := logs.LastIndex()
	if ferr != nil || lerr != nil {
		return shutdownWith(r, errors.Join(ferr, lerr))
	}
	if last > 0 && first > restored+1 {
		return shutdownWith(r, fmt.Errorf("snapshot %s (index %d) cannot be restored and the log starts at %d, after the previous snapshot (index %d): this replica cannot rebuild its state; remove %s so that it starts empty and the leader sends it a snapshot",
			bad[len(bad)-1].ID, bad[len(bad)-1].Index, first, restored, cfg.DataDir))
	}
	dir := filepath.Join(cfg.DataDir, "snapshots-bad")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return shutdownWith(r, err)
	}
	for _, s := range bad {
		dst := filepath.Join(dir, s.ID+"-"+time.Now().UTC().Format("20060102T150405"))
		if err := os.Rename(filepath.Join(cfg.DataDir, "snapshots", s.ID), dst); err != nil {
			return shutdownWith(r, fmt.Errorf("moving aside bad snapshot %s: %w", s.ID, err))
		}
		cfg.Logger.Error("snapshot cannot be restored: moved aside; starting from an older snapshot and the log",
			"snapshot", s.ID, "index", s.Index, "moved_to", dst, "restored_index", restored)
	}
	if r != nil {
		return r, nil
	}
	return raft.NewRaft(rc, fsm, logs, stable, snaps, trans)
}

func shutdownWith(r *raft.Raft, err error) (*raft.Raft, error) {
	if r != nil {
		_ = r.Shutdown().Error()
	}
	return nil, err
}
