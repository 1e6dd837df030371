package raftfsm

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// ErrNotLeader is the error of an Apply on a replica that does not lead.
var ErrNotLeader = raft.ErrNotLeader

// Server is a member of the replicated configuration.
type Server struct {
	ID    string
	Addr  string // "" in Config.Bootstrap: this replica's own address
	Voter bool
}

// Stream carries raft's connections between replicas: a listener for the
// ones peers open, and a dialer for this replica's own.
type Stream interface {
	net.Listener
	DialTimeout(addr string, timeout time.Duration) (net.Conn, error)
}

// MemoryStorage is a replica's log, stable state and snapshots kept in
// memory, so that a replica started again on it in the same process comes
// back with its log.
type MemoryStorage struct {
	logs  *raft.InmemStore
	snaps *raft.InmemSnapshotStore
}

// NewMemoryStorage returns empty in-memory storage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{logs: raft.NewInmemStore(), snaps: raft.NewInmemSnapshotStore()}
}

// Config configures a Replica.
type Config struct {
	ID     string
	Logger *slog.Logger

	// Stream, when set, connects this replica to its peers, and Advertise is
	// the address they reach it at. Nil: a single replica on an in-memory
	// transport.
	Stream    Stream
	Advertise string

	// ElectionTimeout is the heartbeat and election timeout of an ensemble
	// of several replicas. Single: raft's shortest timings, for an
	// ensemble of one that has nobody to wait for.
	ElectionTimeout time.Duration
	Single          bool

	SnapshotThreshold uint64 // zero: raft's default
	TrailingLogs      uint64 // zero: raft's default
	SnapshotInterval  time.Duration

	// DataDir keeps the log and stable state in a badger database and
	// snapshots in files; else Memory, else fresh memory.
	DataDir string
	Memory  *MemoryStorage

	// MaxSnapshotSize bounds a snapshot a leader may install here; zero
	// means DefaultMaxSnapshotSize. Larger ones are refused unread.
	MaxSnapshotSize int64

	// Bootstrap is the configuration a replica without state starts with.
	// Nil: it waits to be bootstrapped (BootstrapCluster) or added by a
	// leader.
	Bootstrap []Server
}

// Replica is one member of a raft ensemble replicating a StateMachine.
type Replica struct {
	r        *raft.Raft
	guard    *guard // nil without a network transport
	id       string
	notify   chan bool
	hadState bool
	closers  []func() error

	store     *BadgerStore                     // nil in memory
	stable    atomic.Pointer[raft.StableStore] // for currentTerm before r is set
	raftReady atomic.Bool                      // r is set
	beats     heartbeats                       // followers raft fails to reach (status.go)

	observed chan raft.Observation
	done     chan struct{}
	changeMu sync.Mutex
	changed  chan struct{} // guarded by changeMu: closed at the next leader change
}

// Start opens the stores, bootstraps them when they are empty and
// cfg.Bootstrap is set, and starts raft over sm.
func Start(cfg Config, sm StateMachine) (rep *Replica, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rep = &Replica{id: cfg.ID, notify: make(chan bool, 16), changed: make(chan struct{}), done: make(chan struct{})}
	self := rep // the error returns set rep to nil
	defer func() {
		if err != nil {
			self.closeStores()
		}
	}()
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = NewLogger(cfg.Logger, "raft")
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
	rc.NotifyCh = rep.notify
	if cfg.Single {
		// A single voter has nobody to wait for: raft's shortest timings
		// make it leader within a few milliseconds.
		rc.HeartbeatTimeout = 5 * time.Millisecond
		rc.ElectionTimeout = 5 * time.Millisecond
		rc.LeaderLeaseTimeout = 5 * time.Millisecond
	} else {
		// A follower stands for election after a random 1–2 heartbeat
		// timeouts without a leader. Half an election timeout puts a new
		// leader within about one election timeout of the old one's death
		// (a vote round included), as ZooKeeper's ensembles manage; never
		// under 100ms, below which a loaded machine's scheduling pauses
		// would depose healthy leaders.
		hb := cfg.ElectionTimeout / 2
		if hb < 100*time.Millisecond {
			hb = min(cfg.ElectionTimeout, 100*time.Millisecond)
		}
		rc.HeartbeatTimeout = hb
		rc.ElectionTimeout = cfg.ElectionTimeout
		rc.LeaderLeaseTimeout = hb
	}
	// Followers learn of commits on the next append; while idle the
	// leader sends one after CommitTimeout. Forwarded writes wait for
	// their node to apply, so keep it short.
	rc.CommitTimeout = time.Millisecond

	var trans raft.Transport
	selfAddr := raft.ServerAddress(cfg.Advertise)
	if cfg.Stream != nil {
		nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:  streamLayer{cfg.Stream},
			MaxPool: 3,
			Timeout: 2 * time.Second,
			Logger:  NewLogger(cfg.Logger, "raft-net"),
		})
		rep.guard = newGuard(nt, cfg.MaxSnapshotSize, rep.currentTerm, func(msg string, args ...any) {
			cfg.Logger.Warn(msg, args...)
		})
		trans = rep.guard
		rep.closers = append(rep.closers, rep.guard.Close)
	} else {
		var it *raft.InmemTransport
		selfAddr, it = raft.NewInmemTransport(raft.ServerAddress(cfg.ID))
		trans = it
	}

	var logs raft.LogStore
	var stable raft.StableStore
	var snaps raft.SnapshotStore
	switch {
	case cfg.DataDir != "":
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		bs, err := OpenBadgerStore(filepath.Join(cfg.DataDir, "raft"), BadgerOptions{
			Logger:     cfg.Logger,
			GCInterval: 5 * time.Minute,
		})
		if err != nil {
			return nil, fmt.Errorf("open raft store: %w", err)
		}
		rep.closers = append(rep.closers, bs.Close)
		rep.store = bs
		fs, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 3, NewLogger(cfg.Logger, "snapshot"))
		if err != nil {
			return nil, fmt.Errorf("snapshot store: %w", err)
		}
		logs, stable, snaps = bs, bs, fs
	case cfg.Memory != nil:
		logs, stable, snaps = cfg.Memory.logs, cfg.Memory.logs, cfg.Memory.snaps
	default:
		s := raft.NewInmemStore()
		logs, stable, snaps = s, s, raft.NewInmemSnapshotStore()
	}

	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return nil, fmt.Errorf("read raft state: %w", err)
	}
	rep.hadState = has
	if !has && cfg.Bootstrap != nil {
		conf := raft.Configuration{Servers: toRaft(cfg.Bootstrap, selfAddr)}
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, trans, conf); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
	}
	rep.stable.Store(&stable)
	r, err := newRaftSkippingBadSnapshots(cfg, rc, &fsmAdapter{sm: sm}, logs, stable, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	rep.r = r
	rep.raftReady.Store(true)
	rep.observed = make(chan raft.Observation, 16)
	r.RegisterObserver(raft.NewObserver(rep.observed, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	rep.watchHeartbeats()
	go rep.observe()
	return rep, nil
}

// observe turns raft's leader observations into LeaderChanged's signal.
// Observations that arrive while the channel is full are dropped by raft;
// one wake-up per burst is all LeaderChanged promises.
func (rep *Replica) observe() {
	for {
		select {
		case <-rep.observed:
			rep.changeMu.Lock()
			close(rep.changed)
			rep.changed = make(chan struct{})
			rep.changeMu.Unlock()
		case <-rep.done:
			return
		}
	}
}

// StoreFailed is closed when the log store has failed for good (never for
// an in-memory replica); StoreErr says why.
func (rep *Replica) StoreFailed() <-chan struct{} {
	if rep.store == nil {
		return nil
	}
	return rep.store.Failed()
}

// StoreErr returns why the log store failed, or nil.
func (rep *Replica) StoreErr() error {
	if rep.store == nil {
		return nil
	}
	return rep.store.Err()
}

// LeaderChanged returns a channel that is closed when this replica next
// observes a change of leader (a new leader, or none).
func (rep *Replica) LeaderChanged() <-chan struct{} {
	rep.changeMu.Lock()
	defer rep.changeMu.Unlock()
	return rep.changed
}

// Term is the current raft term as this replica knows it.
func (rep *Replica) Term() uint64 { return rep.r.CurrentTerm() }

// Leads reports whether raft considers this replica the leader right now.
func (rep *Replica) Leads() bool { return rep.r.State() == raft.Leader }

func toRaft(servers []Server, self raft.ServerAddress) []raft.Server {
	out := make([]raft.Server, 0, len(servers))
	for _, s := range servers {
		addr := raft.ServerAddress(s.Addr)
		if addr == "" {
			addr = self
		}
		suf := raft.Nonvoter
		if s.Voter {
			suf = raft.Voter
		}
		out = append(out, raft.Server{ID: raft.ServerID(s.ID), Address: addr, Suffrage: suf})
	}
	return out
}

func (rep *Replica) closeStores() error {
	var err error
	for _, f := range rep.closers {
		if cerr := f(); cerr != nil && err == nil {
			err = cerr
		}
	}
	rep.closers = nil
	return err
}

// HadState reports whether the stores held state when the replica started.
func (rep *Replica) HadState() bool { return rep.hadState }

// Leadership delivers true when this replica becomes leader and false when
// it stops leading.
func (rep *Replica) Leadership() <-chan bool { return rep.notify }

// Apply proposes data as a log entry; this replica must lead.
func (rep *Replica) Apply(data []byte) Future { return rep.r.Apply(data, 0) }

// Future is the fate of an Apply: Error waits for it.
type Future interface {
	Error() error
	Index() uint64
}

// Leader returns the leader's address and id as this replica knows them;
// both are empty while there is none.
func (rep *Replica) Leader() (addr, id string) {
	a, i := rep.r.LeaderWithID()
	return string(a), string(i)
}

// LastContact is when this replica last heard from a leader.
func (rep *Replica) LastContact() time.Time { return rep.r.LastContact() }

// LastIndex is the index of the last entry in the log.
func (rep *Replica) LastIndex() uint64 { return rep.r.LastIndex() }

// Snapshot snapshots the state machine now and truncates the log.
func (rep *Replica) Snapshot() error { return rep.r.Snapshot().Error() }

// LeadershipTransfer hands leadership to another voter.
func (rep *Replica) LeadershipTransfer() error { return rep.r.LeadershipTransfer().Error() }

// TransferLeadership hands leadership to the given voter.
func (rep *Replica) TransferLeadership(id, addr string) error {
	return rep.r.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr)).Error()
}

// Servers returns the configuration as this replica knows it.
func (rep *Replica) Servers() ([]Server, error) {
	f := rep.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

const membershipTimeout = 5 * time.Second

// AddNonvoter adds a member that replicates but does not vote.
func (rep *Replica) AddNonvoter(id, addr string) error {
	return rep.r.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout).Error()
}

// AddVoter adds a voting member, or promotes a non-voter.
func (rep *Replica) AddVoter(id, addr string) error {
	return rep.r.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout).Error()
}

// RemoveServer removes a member.
func (rep *Replica) RemoveServer(id string) error {
	return rep.r.RemoveServer(raft.ServerID(id), 0, membershipTimeout).Error()
}

// BootstrapCluster starts an ensemble that has no state anywhere yet with
// the given voters. It is not an error when this replica already has
// state.
func (rep *Replica) BootstrapCluster(voters []Server) error {
	err := rep.r.BootstrapCluster(raft.Configuration{Servers: toRaft(voters, "")}).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return nil
	}
	return err
}

// Stats returns raft's counters, as hashicorp/raft names them.
func (rep *Replica) Stats() map[string]string { return rep.r.Stats() }

// Shutdown stops raft, then closes the transport and the stores.
func (rep *Replica) Shutdown() error {
	err := rep.r.Shutdown().Error()
	select {
	case <-rep.done:
	default:
		close(rep.done)
	}
	if cerr := rep.closeStores(); err == nil {
		err = cerr
	}
	return err
}

// streamLayer is raft's StreamLayer over a Stream.
type streamLayer struct{ Stream }

func (s streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.DialTimeout(string(addr), timeout)
}

// Entries calls fn for every entry in the stored log, in order.
func (m *MemoryStorage) Entries(fn func(Entry)) error {
	first, err := m.logs.FirstIndex()
	if err != nil {
		return err
	}
	last, err := m.logs.LastIndex()
	if err != nil {
		return err
	}
	for i := first; i <= last && last > 0; i++ {
		var l raft.Log
		if err := m.logs.GetLog(i, &l); err != nil {
			return err
		}
		fn(Entry{Index: l.Index, Command: l.Type == raft.LogCommand, Data: l.Data})
	}
	return nil
}
