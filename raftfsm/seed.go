package raftfsm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// SeedDataDir prepares an empty data directory so that a replica started
// on it (Start with Config.DataDir) begins from a state machine snapshot
// with the given configuration: raft's snapshot store holds the snapshot
// at index 1, term 1, with servers as its configuration, and the stable
// store the term. It is how every member of a new ensemble is restored
// from the same backup (as etcd's snapshot restore does): they start with
// the same state and configuration, elect a leader, and go on from index
// 2. A server with no Addr is the replica itself at self, its address
// (for a replica without a Stream, its ID).
//
// persist writes the snapshot, as StateMachine.Restore reads it.
func SeedDataDir(dir string, servers []Server, self string, persist func(io.Writer) error, logger *slog.Logger) (err error) {
	if len(servers) == 0 {
		return errors.New("raftfsm: a seeded configuration needs a server")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	bs, err := OpenBadgerStore(filepath.Join(dir, "raft"), BadgerOptions{Logger: logger, GCInterval: -1})
	if err != nil {
		return fmt.Errorf("open raft store: %w", err)
	}
	defer func() {
		if cerr := bs.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if last, err := bs.LastIndex(); err != nil || last != 0 {
		return fmt.Errorf("raftfsm: %s already holds a raft log", dir)
	}
	// The stable store's key for the term, as hashicorp/raft spells it.
	if err := bs.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 3, NewLogger(logger, "snapshot"))
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	if list, err := snaps.List(); err != nil || len(list) > 0 {
		return fmt.Errorf("raftfsm: %s already holds snapshots", dir)
	}
	_, trans := raft.NewInmemTransport(raft.ServerAddress(self))
	defer trans.Close()
	conf := raft.Configuration{Servers: toRaft(servers, raft.ServerAddress(self))}
	sink, err := snaps.Create(raft.SnapshotVersionMax, 1, 1, conf, 1, trans)
	if err != nil {
		return err
	}
	if err := persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}
