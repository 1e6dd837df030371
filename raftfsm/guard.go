package raftfsm

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// DefaultMaxSnapshotSize bounds a snapshot a leader may install on this
// replica when Config.MaxSnapshotSize is zero. A coord snapshot is the
// whole tree, which every replica holds in memory, so it is bounded by
// the memory of the smallest member; 4 GiB is four times the heap
// ZooKeeper is usually given and still bounds the disk an errant peer can
// fill with one request. Raise it for larger trees.
const DefaultMaxSnapshotSize int64 = 4 << 30

// Bounds on the terms of incoming RPCs. A term grows by one per election,
// so a peer more than maxTermLead ahead of ours did not get there by
// elections; and a term near 2^64 could wrap to 0, after which no leader
// could ever be elected again (the term is persisted).
const (
	maxTermLead uint64 = 1 << 32
	termCeiling uint64 = math.MaxUint64 - 1<<16
)

// ErrRefused is the error a guarded replica answers a refused RPC with.
var ErrRefused = errors.New("raftfsm: rpc refused")

// guard wraps raft's transport so that every incoming RPC is checked
// before raft sees it: raft trusts its peers, and some of what a peer can
// send breaks a replica for good (a term that wraps, a snapshot without a
// configuration, which makes raft panic, or one that fills the disk). It
// is defence in depth: the cluster key (or TLS) keeps outsiders from
// sending anything at all.
type guard struct {
	raft.Transport
	maxSnapshot int64
	term        func() uint64 // this replica's current term
	log         func(msg string, args ...any)

	out       chan raft.RPC
	stop      chan struct{}
	closeOnce sync.Once
	refused   atomic.Uint64
}

func newGuard(inner raft.Transport, maxSnapshot int64, term func() uint64, log func(string, ...any)) *guard {
	if maxSnapshot <= 0 {
		maxSnapshot = DefaultMaxSnapshotSize
	}
	g := &guard{Transport: inner, maxSnapshot: maxSnapshot, term: term, log: log, out: make(chan raft.RPC), stop: make(chan struct{})}
	go g.run()
	return g
}

// Consumer implements raft.Transport: the RPCs that passed the checks.
func (g *guard) Consumer() <-chan raft.RPC { return g.out }

// AppendEntriesPipeline turns off hashicorp/raft's pipelined replication.
// In raft v1.8.0 a pipeline whose decoder stopped (a stale term, a failed
// append) leaves nobody reading its responses: once 128 appends are
// outstanding the sender blocks for good, replication to that follower
// stops while its heartbeats go on, and Shutdown waits on the stuck
// goroutine forever. The proposer keeps one entry in flight on the leader,
// so pipelining gains little here.
func (g *guard) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// SetHeartbeatHandler implements raft.Transport: heartbeats take a fast
// path around the consumer channel, so they are checked here.
func (g *guard) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		g.Transport.SetHeartbeatHandler(nil)
		return
	}
	g.Transport.SetHeartbeatHandler(func(rpc raft.RPC) {
		if g.refuse(rpc) {
			return
		}
		cb(rpc)
	})
}

// RequestPreVote implements raft.WithPreVote when the inner transport does.
func (g *guard) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	if pv, ok := g.Transport.(raft.WithPreVote); ok {
		return pv.RequestPreVote(id, target, args, resp)
	}
	return errors.New("raftfsm: transport without pre-vote")
}

// Close implements raft.WithClose.
func (g *guard) Close() error {
	g.closeOnce.Do(func() { close(g.stop) })
	if c, ok := g.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

func (g *guard) run() {
	in := g.Transport.Consumer()
	for {
		select {
		case rpc := <-in:
			if g.refuse(rpc) {
				continue
			}
			select {
			case g.out <- rpc:
			case <-g.stop:
				rpc.Respond(nil, raft.ErrTransportShutdown)
				return
			}
		case <-g.stop:
			return
		}
	}
}

// refuse answers rpc with an error and reports true when it must not
// reach raft.
func (g *guard) refuse(rpc raft.RPC) bool {
	err := g.check(rpc)
	if err == nil {
		return false
	}
	g.refused.Add(1)
	g.log("refused raft rpc", "err", err)
	var resp any
	cur := g.term()
	switch req := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		resp = &raft.AppendEntriesResponse{Term: cur}
	case *raft.RequestVoteRequest:
		resp = &raft.RequestVoteResponse{Term: cur}
	case *raft.RequestPreVoteRequest:
		resp = &raft.RequestPreVoteResponse{Term: cur}
	case *raft.InstallSnapshotRequest:
		resp = &raft.InstallSnapshotResponse{Term: cur}
		// Keep the stream in step when the data is of a size we accept
		// to read; else leave it: the transport then fails to parse what
		// follows and drops the connection.
		if rpc.Reader != nil && req.Size >= 0 && req.Size <= g.maxSnapshot {
			_, _ = io.Copy(io.Discard, rpc.Reader)
		}
	case *raft.TimeoutNowRequest:
		resp = &raft.TimeoutNowResponse{}
	}
	rpc.Respond(resp, fmt.Errorf("%w: %v", ErrRefused, err))
	return true
}

// check returns why rpc must not reach raft, or nil.
func (g *guard) check(rpc raft.RPC) error {
	var term uint64
	switch req := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		term = req.Term
	case *raft.RequestVoteRequest:
		term = req.Term
	case *raft.RequestPreVoteRequest:
		term = req.Term
	case *raft.InstallSnapshotRequest:
		term = req.Term
		if err := checkSnapshot(req, g.maxSnapshot); err != nil {
			return err
		}
	case *raft.TimeoutNowRequest:
		return nil
	default:
		return fmt.Errorf("unknown rpc %T", rpc.Command)
	}
	return checkTerm(term, g.term())
}

func checkTerm(term, cur uint64) error {
	if term > termCeiling {
		return fmt.Errorf("term %d is too close to wrapping", term)
	}
	if term > cur && term-cur > maxTermLead {
		return fmt.Errorf("term %d is absurdly ahead of ours (%d)", term, cur)
	}
	return nil
}

func checkSnapshot(req *raft.InstallSnapshotRequest, max int64) error {
	if req.Size < 0 || req.Size > max {
		return fmt.Errorf("snapshot of %d bytes is larger than the %d allowed", req.Size, max)
	}
	if req.SnapshotVersion < 1 || req.SnapshotVersion > raft.SnapshotVersionMax {
		return fmt.Errorf("snapshot version %d unsupported", req.SnapshotVersion)
	}
	if req.ConfigurationIndex > req.LastLogIndex {
		return fmt.Errorf("snapshot configuration index %d after its last index %d", req.ConfigurationIndex, req.LastLogIndex)
	}
	conf, err := decodeConfiguration(req.Configuration)
	if err != nil {
		return err
	}
	voters := 0
	for _, s := range conf.Servers {
		if s.ID == "" || s.Address == "" {
			return errors.New("snapshot configuration names a server without id or address")
		}
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if voters == 0 {
		return errors.New("snapshot without a configuration (no voter)")
	}
	return nil
}

// decodeConfiguration is raft.DecodeConfiguration, which panics on bad
// input, with the panic turned into an error.
func decodeConfiguration(b []byte) (conf raft.Configuration, err error) {
	if len(b) == 0 {
		return conf, errors.New("snapshot without a configuration")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("snapshot configuration unreadable: %v", r)
		}
	}()
	return raft.DecodeConfiguration(b), nil
}
