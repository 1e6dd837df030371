package coord

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord/internal/cluster"
	"github.com/coordkit/coord/internal/gossip"
	"github.com/coordkit/coord/raftfsm"
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

	// Gossip, when Gossip.Addr is set, lets nodes find each other by
	// gossip instead of (or besides) a static Peers list.
	Gossip GossipConfig

	// Network carries cluster traffic. Nil means TCP; TLSNetwork adds
	// mutual TLS.
	Network Network

	// ClusterKey (32 random bytes, the same on every member) authenticates
	// and encrypts all cluster traffic: raft and the cluster RPC go over
	// mutual TLS 1.3 that only holders of the key can complete, and gossip
	// is encrypted with a key derived from it. AcceptedClusterKeys are
	// accepted from peers but never presented (key rotation). See
	// clusterkey.go for the design, NewClusterKey to make one.
	ClusterKey          []byte
	AcceptedClusterKeys [][]byte

	// MaxSnapshotSize bounds a snapshot a leader may install on this node;
	// zero means 4 GiB.
	MaxSnapshotSize int64

	// ElectionTimeout is raft's election timeout for multi-node
	// ensembles: followers that hear nothing from the leader for a random
	// half to one of these stand for election, so a dead or cut-off leader
	// is replaced within about one to one and a half of them. Zero means 1s
	// (LAN). Single-node ensembles use raft's minimum.
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

	replica  *raftfsm.Replica
	mux      *cluster.Mux  // nil for a single node without a listener
	rpc      *cluster.Pool // nil without mux
	fsm      *fsm
	proposer *proposer
	watches  *registry // watches of local sessions

	mu       sync.Mutex
	sessions map[int64]*Session // local sessions; guarded by mu
	closed   bool               // guarded by mu

	isLeader    atomic.Bool
	lastInTouch atomic.Int64 // unix ns when this node last had a leader
	tracker     *tracker
	stop        chan struct{} // closed when the node starts to stop
	wg          sync.WaitGroup

	stopOnce sync.Once
	stopped  chan struct{} // closed once shutdown has finished
	stopErr  error         // set before stopped is closed
	stage    atomic.Value  // string: what shutdown is doing
	failure  atomic.Pointer[error]

	members *gossip.Membership // nil without gossip
}

// leads reports whether this node proposes to raft itself: it leads, or it
// is alone (no cluster listener, so nobody to forward to).
func (n *Node) leads() bool { return n.mux == nil || n.isLeader.Load() }

// ErrClosed is returned by calls on a Node or Session that has been closed.
var ErrClosed = errors.New("coord: closed")

// withDefaults fills in the zero fields that have a default.
func (c *Config) withDefaults() {
	if c.NodeID == "" && c.DataDir == "" { // a data dir keeps its own (identity.go)
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
	if c.Network == nil {
		c.Network = TCPNetwork{}
	}
	c.Gossip.withDefaults()
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
}

// validate checks a Config that has its defaults.
func (c *Config) validate() error {
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
		if !slices.ContainsFunc(c.Peers, func(p Peer) bool { return !p.Observer }) {
			return fmt.Errorf("coord: Peers lists no voter, only observers")
		}
	}
	if c.Gossip.Addr != "" && c.BindAddr == "" {
		return fmt.Errorf("coord: Gossip.Addr needs BindAddr")
	}
	if err := c.Gossip.validate(); err != nil {
		return err
	}
	if err := c.validateClusterKey(); err != nil {
		return err
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

// multiNode reports whether the node may have peers: a static ensemble of
// several voters, or gossip.
func (c *Config) multiNode() bool { return len(c.Peers) > 1 || c.Gossip.Addr != "" }

// Open starts a Node and returns once it can serve sessions. With no peers
// configured it is a single-voter raft ensemble with in-memory stores.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	cfg.withDefaults()
	recordIdentity, err := cfg.resolveIdentity()
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := recordIdentity(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger,
		tag:      randUint64() | 1,
		sessions: make(map[int64]*Session),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	n.watches = newRegistry()
	n.fsm = newFSM(n, treeLimits{maxData: cfg.MaxDataSize, enforceQuota: cfg.EnforceQuota})
	n.tracker = newTracker()
	// Before raft: it may apply (or restore) at once, and apply tells the
	// proposer what it applied.
	n.proposer = newProposer(n)

	if err := n.startReplica(); err != nil {
		return nil, err
	}

	n.lastInTouch.Store(time.Now().UnixNano())
	go n.watchStore()
	n.wg.Add(3)
	go n.watchLeadership(n.replica.Leadership())
	go n.proposer.run()
	go n.tickLoop()
	if n.mux != nil {
		n.wg.Add(1)
		go n.rpcAcceptLoop()
	}

	// Ready once a leader exists and this node has applied everything that
	// was committed before it asked.
	waitCtx, stopReport := context.WithCancel(ctx)
	go n.reportWaiting(waitCtx)
	err = n.proposer.syncMarker(ctx)
	stopReport()
	if err == nil && n.mux == nil {
		// Alone, nobody else has to read a newer format: use it from the
		// start rather than after the first format check.
		n.maybeRaiseFormat()
	}
	if err != nil {
		n.Close(context.Background())
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("coord: joining the ensemble: %w", err)
	}
	return n, nil
}

// Snapshot makes the node snapshot its state now and truncate its log.
func (n *Node) Snapshot() error { return n.replica.Snapshot() }

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Close stops the node. Local sessions are closed (their ephemerals
// deleted) while the ensemble can still take the writes; ctx bounds that.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return n.stopWithin(ctx)
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
	handover := make(chan struct{})
	go func() {
		defer close(handover)
		if n.isLeader.Load() && n.cfg.multiNode() {
			// Hand leadership over so the ensemble does not wait out an
			// election timeout.
			n.stage.Store("handing leadership over")
			_ = n.replica.LeadershipTransfer()
		}
		if n.members != nil {
			n.stage.Store("leaving gossip")
			n.members.Leave() // the leader removes us from raft
		}
	}()
	select {
	case <-handover:
	case <-ctx.Done():
		// Stop anyway: what is left of the time goes to shutting down.
	}
	return n.stopWithin(ctx)
}

// abortTimeout bounds Abort: a store that cannot close (a failing disk)
// must not hang the caller.
const abortTimeout = 10 * time.Second

// Abort stops the node at once, as a crash would: local sessions are not
// closed (the ensemble expires them after their timeout) and leadership is
// not handed over. The node cannot be used afterwards. It returns within
// 10 seconds even if the log store cannot close.
func (n *Node) Abort() error {
	n.mu.Lock()
	n.closed = true
	sessions := make([]*Session, 0, len(n.sessions))
	for _, s := range n.sessions {
		sessions = append(sessions, s)
	}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	err := n.stopWithin(ctx)
	// The process's sessions die with it; the ensemble expires them.
	for _, s := range sessions {
		s.end(StateClosed, ErrClosed, true)
	}
	return err
}

// stopWithin stops the node (once, whoever asks) and waits for it until
// ctx ends; then it says what did not finish. The rest goes on in the
// background.
func (n *Node) stopWithin(ctx context.Context) error {
	n.stopOnce.Do(func() {
		go func() {
			n.stopErr = n.shutdown()
			close(n.stopped)
		}()
	})
	select {
	case <-n.stopped:
		return n.stopErr
	case <-ctx.Done():
		stage, _ := n.stage.Load().(string)
		return fmt.Errorf("coord: the node did not stop in time (still %s): %w", stage, ctx.Err())
	}
}

// shutdown stops raft and every goroutine without touching sessions: what
// a crash looks like to the rest of the ensemble. Called once.
func (n *Node) shutdown() error {
	close(n.stop)
	n.isLeader.Store(false)
	if n.members != nil {
		n.stage.Store("stopping gossip")
		n.members.Shutdown()
	}
	n.stage.Store("stopping raft and closing the log store")
	err := n.replica.Shutdown()
	if n.mux != nil {
		n.mux.Close()
		n.rpc.FailAll(ErrClosed)
	}
	n.stage.Store("waiting for the node's goroutines")
	if n.members != nil {
		n.members.Wait()
	}
	n.wg.Wait()
	// Only now: the batching loop has stopped reading proposals, so the
	// ones failed here can go back to their pool safely.
	n.proposer.shutdown()
	n.stage.Store("stopped")
	return err
}

// Done is closed when the node starts to stop: closed, aborted, or stopped
// on its own (Err says why).
func (n *Node) Done() <-chan struct{} { return n.stop }

// Err returns why the node stopped on its own (its log store failed, or it
// met a log entry of a format it does not know), or nil.
func (n *Node) Err() error {
	if e := n.failure.Load(); e != nil {
		return *e
	}
	return nil
}

// fail stops the node on its own, as a crash would, recording why.
func (n *Node) fail(err error) {
	if n.failure.CompareAndSwap(nil, &err) {
		n.log.Error("stopping the node", "err", err)
		go n.Abort()
	}
}

// watchStore stops the node when its log store fails for good: badger
// would otherwise retry a failing flush forever.
func (n *Node) watchStore() {
	select {
	case <-n.replica.StoreFailed():
		n.fail(n.replica.StoreErr())
	case <-n.stop:
	}
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
	if !n.cfg.multiNode() {
		return "standalone"
	}
	if n.isLeader.Load() {
		return "leader"
	}
	if servers, err := n.replica.Servers(); err == nil {
		for _, s := range servers {
			if s.ID == n.cfg.NodeID && !s.Voter {
				return "observer"
			}
		}
	}
	return "follower"
}

// Leader returns the id of the ensemble's leader as this node knows it,
// or "" while there is none (an election, or no quorum).
func (n *Node) Leader() string {
	if n.isLeader.Load() {
		return n.cfg.NodeID
	}
	_, id := n.replica.Leader()
	return id
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
	formats := time.NewTicker(formatCheckInterval)
	defer formats.Stop()
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
		case <-formats.C:
			if n.isLeader.Load() {
				n.maybeRaiseFormat()
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
