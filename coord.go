package coord

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Config configures a Node. The zero value is a ready single-node,
// in-memory engine. Open copies the Config; it never changes the caller's.
type Config struct {
	// NodeID names this node in its ensemble. Empty: a random id.
	NodeID string

	// Logger receives the node's logs, raft's included. Nil discards them.
	Logger *slog.Logger

	// TickTime is ZooKeeper's basic time unit: session timeouts are
	// negotiated into [2, 20] ticks by default, and local sessions are
	// heartbeated every tick. Zero means 2s.
	TickTime time.Duration

	// MinSessionTimeout and MaxSessionTimeout bound negotiated session
	// timeouts. Zero means 2 and 20 ticks.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration

	// MaxDataSize is the largest data a znode may hold, in bytes. Zero means
	// 1 MiB (ZooKeeper's jute.maxbuffer); at most 32 MiB, the most one
	// command may carry.
	MaxDataSize int

	// EnforceQuota makes hard quota limits (countHardLimit and
	// byteHardLimit in /zookeeper/quota/<path>/zookeeper_limits) refuse
	// creates and setData with ErrQuotaExceeded, as ZooKeeper's
	// zookeeper.enforceQuota=true. False (ZooKeeper's default) only keeps
	// the usage stats up to date. Apply reads it: give every member of an
	// ensemble the same value.
	EnforceQuota bool

	// SuperDigest, when set, is a digest id ("super:base64(sha1)", as
	// ZooKeeper's zookeeper.DigestAuthenticationProvider.superDigest) whose
	// holder bypasses every ACL check.
	SuperDigest string

	// ContainerCheckInterval is how often the leader looks for empty
	// containers and expired TTL nodes to delete. Zero means 60s, as
	// ZooKeeper's znode.container.checkIntervalMs.
	ContainerCheckInterval time.Duration

	// BindAddr is the address of this node's cluster listener, which
	// carries raft and the cluster RPC ("127.0.0.1:7000"). Peers reach the
	// node at this address, so it must be the one listed for it in Peers.
	// Empty with no Peers: a single node with no listener.
	BindAddr string

	// Peers lists the voters of a statically configured ensemble, this node
	// included (ZooKeeper's server.N= lines). Every member must be given
	// the same list. Empty: a single-node ensemble.
	Peers []Peer

	// DataDir, when set, makes the node durable: the raft log and stable
	// state live in a badger database there (fsynced on every append) and
	// snapshots beside it. A node restarted on the same DataDir rejoins its
	// ensemble with everything it had acknowledged. Empty: in memory.
	DataDir string

	// GossipAddr, when set, runs hashicorp/memberlist on this address
	// ("127.0.0.1:7946") so nodes find each other instead of (or besides)
	// a static Peers list. Membership then drives raft: see Join,
	// BootstrapExpect and Voters.
	GossipAddr string

	// Join lists gossip addresses of existing members to join (seeds).
	Join []string

	// BootstrapExpect, with gossip and no Peers, is how many members a new
	// cluster waits for before it bootstraps: once that many are seen and
	// none has raft state, all bootstrap the same voters. Give it the same
	// value on every node; later nodes join the running cluster.
	BootstrapExpect int

	// Voters is how many members vote in raft; others are non-voters
	// (ZooKeeper's observers: they serve sessions and reads). Odd; zero
	// means 3.
	Voters int

	// ClusterName keeps clusters apart: gossip from a member with another
	// name is refused. Empty means "coord".
	ClusterName string

	// GossipKey encrypts gossip (16, 24 or 32 bytes, AES). Members without
	// the key cannot join.
	GossipKey []byte

	// AdvertiseAddr is the cluster address gossiped to others, when
	// BindAddr is not dialable as such (e.g. "0.0.0.0:7000").
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

	// GossipConfig, if set, adjusts memberlist's configuration (timings)
	// before it starts.
	GossipConfig func(*memberlist.Config)

	// Network carries cluster traffic. Nil means TCP; TLSNetwork adds
	// mutual TLS.
	Network Network

	// ElectionTimeout is raft's heartbeat and election timeout for
	// multi-node ensembles: a dead leader is replaced after about one to two
	// of these. Zero means 1s (LAN). Single-node ensembles use raft's
	// minimum.
	ElectionTimeout time.Duration

	// SnapshotThreshold is how many raft entries accumulate before the
	// node snapshots its state and truncates its log, keeping
	// TrailingLogs entries for followers that lag a little. Zero means
	// 8192 and 10240 (hashicorp/raft's defaults).
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotInterval is how often the node checks SnapshotThreshold.
	// Zero means 2 minutes (hashicorp/raft's default).
	SnapshotInterval time.Duration

	// Storage keeps an in-memory node's raft state across Open calls in one
	// process, so a "restarted" node comes back with its log. coordtest uses
	// it; most programs want DataDir instead.
	Storage *MemoryStorage

	// MaxBatch caps how many commands the leader packs into one raft entry.
	// Zero means 1024.
	MaxBatch int
}

// Node is one member of a coord ensemble: it holds a replica of the tree,
// takes part in raft, and serves sessions. A Node is safe for concurrent use.
type Node struct {
	cfg Config
	log *slog.Logger
	tag uint64 // this incarnation's origin tag on proposals

	raft     *raft.Raft
	notify   chan bool
	mux      *mux           // nil for a single node without a listener
	closeFns []func() error // stores to close after raft stops
	fsm      *fsm
	proposer *proposer
	watches  *registry // watches of local sessions

	mu       sync.Mutex
	sessions map[int64]*Session // local sessions; guarded by mu
	closed   bool               // guarded by mu

	isLeader    atomic.Bool
	lastInTouch atomic.Int64 // unix ns when this node last had a leader
	tracker     *tracker
	stop        chan struct{}
	wg          sync.WaitGroup

	members *membership // nil without gossip

	rpcMu      sync.Mutex
	rpcClients map[string]*rpcClient // guarded by rpcMu
}

// ErrClosed is returned by calls on a Node or Session that has been closed.
var ErrClosed = errors.New("coord: closed")

func (c *Config) fillDefaults() error {
	if c.NodeID == "" {
		c.NodeID = fmt.Sprintf("node-%x", randUint64()&0xffffffffff)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TickTime == 0 {
		c.TickTime = 2 * time.Second
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MaxDataSize == 0 {
		c.MaxDataSize = 1 << 20
	}
	if c.ContainerCheckInterval == 0 {
		c.ContainerCheckInterval = 60 * time.Second
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = time.Second
	}
	if len(c.Peers) > 0 {
		if c.BindAddr == "" {
			return fmt.Errorf("coord: Peers needs BindAddr")
		}
		self := false
		for _, p := range c.Peers {
			if p.ID == "" || p.Addr == "" {
				return fmt.Errorf("coord: peer %+v needs ID and Addr", p)
			}
			self = self || p.ID == c.NodeID
		}
		if !self {
			return fmt.Errorf("coord: Peers does not list this node (%s)", c.NodeID)
		}
	}
	if c.Network == nil {
		c.Network = TCPNetwork{}
	}
	if c.Voters == 0 {
		c.Voters = 3
	}
	if c.Voters < 1 || c.Voters%2 == 0 {
		return fmt.Errorf("coord: Voters must be odd, got %d", c.Voters)
	}
	if c.ClusterName == "" {
		c.ClusterName = "coord"
	}
	if c.DeadNodeTimeout == 0 {
		c.DeadNodeTimeout = time.Minute
	}
	if c.StabilizationTime == 0 {
		c.StabilizationTime = 10 * time.Second
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = time.Second
	}
	if c.GossipAddr != "" {
		if c.BindAddr == "" {
			return fmt.Errorf("coord: GossipAddr needs BindAddr")
		}
		switch len(c.GossipKey) {
		case 0, 16, 24, 32:
		default:
			return fmt.Errorf("coord: GossipKey must be 16, 24 or 32 bytes, got %d", len(c.GossipKey))
		}
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
	switch {
	case c.TickTime < 0, c.MinSessionTimeout < 0, c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("coord: invalid session timing: tick %v, min %v, max %v", c.TickTime, c.MinSessionTimeout, c.MaxSessionTimeout)
	case c.MaxDataSize < 0 || c.MaxDataSize > maxCommandBytes:
		return fmt.Errorf("coord: invalid MaxDataSize %d (0 to %d)", c.MaxDataSize, maxCommandBytes)
	case c.ContainerCheckInterval < 0:
		return fmt.Errorf("coord: invalid ContainerCheckInterval %v", c.ContainerCheckInterval)
	case c.SuperDigest != "" && !validDigestID(c.SuperDigest):
		return fmt.Errorf("coord: SuperDigest %q is not user:base64-digest", c.SuperDigest)
	}
	return nil
}

// Open starts a Node and returns once it can serve sessions. With no peers
// configured it is a single-voter raft ensemble with in-memory stores.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.fillDefaults(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger,
		tag:      randUint64() | 1,
		sessions: make(map[int64]*Session),
		stop:     make(chan struct{}),

		rpcClients: make(map[string]*rpcClient),
	}
	n.watches = newRegistry()
	n.fsm = newFSM(n, treeLimits{maxData: cfg.MaxDataSize, enforceQuota: cfg.EnforceQuota})
	n.tracker = newTracker()
	// Before raft: it may apply (or restore) at once, and apply tells the
	// proposer what it applied.
	n.proposer = newProposer(n)

	if err := n.startRaft(); err != nil {
		return nil, err
	}

	n.lastInTouch.Store(time.Now().UnixNano())
	n.wg.Add(3)
	go n.watchLeadership(n.notify)
	go n.proposer.run()
	go n.tickLoop()
	if n.mux != nil {
		n.wg.Add(1)
		go n.rpcAcceptLoop()
	}

	// Ready once a leader exists and this node has applied everything that
	// was committed before it asked.
	if err := n.proposer.syncMarker(ctx); err != nil {
		n.Close(context.Background())
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("coord: joining the ensemble: %w", err)
	}
	return n, nil
}

// Snapshot makes the node snapshot its state now and truncate its log.
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Close stops the node. Local sessions are closed (their ephemerals
// deleted) while the ensemble can still take the writes; ctx bounds that.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	sessions := make([]*Session, 0, len(n.sessions))
	for _, s := range n.sessions {
		sessions = append(sessions, s)
	}
	n.mu.Unlock()
	for _, s := range sessions {
		_ = s.Close(ctx)
	}
	if n.isLeader.Load() && (len(n.cfg.Peers) > 1 || n.members != nil) {
		// Hand leadership over so the ensemble does not wait out an
		// election timeout.
		_ = n.raft.LeadershipTransfer().Error()
	}
	if n.members != nil {
		n.members.leave() // the leader removes us from raft
	}
	return n.shutdown()
}

// Abort stops the node at once, as a crash would: local sessions are not
// closed (the ensemble expires them after their timeout) and leadership is
// not handed over. The node cannot be used afterwards.
func (n *Node) Abort() error {
	n.mu.Lock()
	n.closed = true
	sessions := make([]*Session, 0, len(n.sessions))
	for _, s := range n.sessions {
		sessions = append(sessions, s)
	}
	n.mu.Unlock()
	err := n.shutdown()
	// The process's sessions die with it; the ensemble expires them.
	for _, s := range sessions {
		s.end(StateClosed, ErrClosed, true)
	}
	return err
}

// shutdown stops raft and every goroutine without touching sessions: what
// a crash looks like to the rest of the ensemble.
func (n *Node) shutdown() error {
	select {
	case <-n.stop:
		return nil
	default:
	}
	close(n.stop)
	n.isLeader.Store(false)
	if n.members != nil {
		_ = n.members.ml.Shutdown()
	}
	err := n.raft.Shutdown().Error()
	if n.mux != nil {
		n.mux.close()
	}
	n.rpcMu.Lock()
	for _, c := range n.rpcClients {
		c.fail(ErrClosed)
	}
	n.rpcMu.Unlock()
	n.wg.Wait()
	// Only now: the batching loop has stopped reading proposals, so the
	// ones failed here can go back to their pool safely.
	n.proposer.shutdown()
	for _, f := range n.closeFns {
		if cerr := f(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// LastZxid returns the zxid of the last change this node has applied.
func (n *Node) LastZxid() int64 {
	n.fsm.mu.RLock()
	defer n.fsm.mu.RUnlock()
	return n.fsm.t.zxid
}

// Digest returns a digest of this node's tree and the zxid it covers.
// Replicas that applied the same changes have the same digest.
func (n *Node) Digest() (digest uint64, zxid int64) {
	n.fsm.mu.RLock()
	defer n.fsm.mu.RUnlock()
	return n.fsm.t.digest, n.fsm.t.zxid
}

// Role returns the node's role as ZooKeeper names it: "standalone" for a
// single-node ensemble, else "leader", "follower" or "observer" (a
// non-voting member).
func (n *Node) Role() string {
	if len(n.cfg.Peers) <= 1 && n.cfg.GossipAddr == "" {
		return "standalone"
	}
	if n.isLeader.Load() {
		return "leader"
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if string(s.ID) == n.cfg.NodeID && s.Suffrage != raft.Voter {
				return "observer"
			}
		}
	}
	return "follower"
}

// IsLeader reports whether this node currently leads its ensemble.
func (n *Node) IsLeader() bool { return n.isLeader.Load() }

func (n *Node) watchLeadership(ch <-chan bool) {
	defer n.wg.Done()
	for {
		select {
		case lead := <-ch:
			n.isLeader.Store(lead)
			if lead {
				n.tracker.resetAll(n.fsm.sessionTimeouts, time.Now())
			}
		case <-n.stop:
			return
		}
	}
}

// tickLoop runs the leader's periodic duties: session expiry every tick
// fraction, container/TTL cleanup every ContainerCheckInterval.
func (n *Node) tickLoop() {
	defer n.wg.Done()
	expiry := time.NewTicker(n.expiryInterval())
	defer expiry.Stop()
	containers := time.NewTicker(n.cfg.ContainerCheckInterval)
	defer containers.Stop()
	for {
		select {
		case <-n.stop:
			return
		case now := <-expiry.C:
			n.touchLocalSessions(now)
			if n.isLeader.Load() {
				n.expireSessions(now)
			}
		case now := <-containers.C:
			if n.isLeader.Load() {
				n.cleanupContainers(now)
			}
		}
	}
}

func (n *Node) expiryInterval() time.Duration {
	d := n.cfg.TickTime / 2
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return d
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
