// Package raftfsm is everything hashicorp/raft sees of coord. A Replica
// (Start) runs raft over a StateMachine that package coord implements:
// committed entries reach StateMachine.ApplyBatch in log order, one batch
// at a time; snapshots are taken with StateMachine.Snapshot and written
// while apply goes on; a lagging replica receives one through Restore.
//
// The package also holds raft's storage: a BadgerStore (badger v4, one
// fsync per append, a failure that cannot be retried safely stops writes
// and is reported by Failed), file snapshots beside it, or MemoryStorage
// for tests; and NewLogger, an hclog.Logger (the logger type raft takes)
// that writes to log/slog and keeps raft's key/value pairs as attributes.
//
// Nothing here knows what the entries mean: the formats are coord's.
package raftfsm
