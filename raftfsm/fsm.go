package raftfsm

import (
	"io"

	"github.com/hashicorp/raft"
)

// Entry is one committed log entry as the state machine sees it.
type Entry struct {
	Index uint64
	// Command is false for raft's own entries (configuration changes,
	// no-ops, barriers): they carry no Data for the state machine, but
	// their Index still counts as applied.
	Command bool
	Data    []byte
}

// StateMachine is what a Replica replicates. The Replica calls ApplyBatch,
// Snapshot and Restore from one goroutine, never concurrently with each
// other; the implementation guards its state against its own readers.
type StateMachine interface {
	// ApplyBatch applies committed entries in log order. It must be
	// deterministic: every replica applies the same entries alike.
	ApplyBatch(entries []Entry)
	// Snapshot captures the state as of the last applied entry. The
	// returned Snapshot is written later, possibly while ApplyBatch runs.
	Snapshot() (Snapshot, error)
	// Restore replaces the state with a snapshot's.
	Restore(r io.Reader) error
}

// Snapshot is a point-in-time state being written out.
type Snapshot interface {
	// Persist writes the whole snapshot to w.
	Persist(w io.Writer) error
	// Release is called once the snapshot is written or abandoned.
	Release()
}

// fsmAdapter presents a StateMachine to hashicorp/raft.
type fsmAdapter struct {
	sm  StateMachine
	buf []Entry // reused: raft calls ApplyBatch from one goroutine
}

var (
	_ raft.BatchingFSM = (*fsmAdapter)(nil)
	_ raft.FSMSnapshot = snapshotAdapter{}
)

func (a *fsmAdapter) Apply(l *raft.Log) interface{} {
	a.ApplyBatch([]*raft.Log{l})
	return nil
}

func (a *fsmAdapter) ApplyBatch(logs []*raft.Log) []interface{} {
	es := a.buf[:0]
	for _, l := range logs {
		es = append(es, Entry{Index: l.Index, Command: l.Type == raft.LogCommand, Data: l.Data})
	}
	a.sm.ApplyBatch(es)
	clear(es)
	a.buf = es
	return make([]interface{}, len(logs))
}

func (a *fsmAdapter) Snapshot() (raft.FSMSnapshot, error) {
	s, err := a.sm.Snapshot()
	if err != nil {
		return nil, err
	}
	return snapshotAdapter{s}, nil
}

func (a *fsmAdapter) Restore(r io.ReadCloser) error {
	defer r.Close()
	return a.sm.Restore(r)
}

type snapshotAdapter struct{ s Snapshot }

func (s snapshotAdapter) Persist(sink raft.SnapshotSink) error {
	if err := s.s.Persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshotAdapter) Release() { s.s.Release() }
