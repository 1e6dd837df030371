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
	// 1 MiB (ZooKeeper's jute.maxbuffer).
	MaxDataSize int

	// SuperDigest, when set, is a digest id ("super:base64(sha1)", as
	// ZooKeeper's zookeeper.DigestAuthenticationProvider.superDigest) whose
	// holder bypasses every ACL check.
	SuperDigest string

	// ContainerCheckInterval is how often the leader looks for empty
	// containers and expired TTL nodes to delete. Zero means 60s, as
	// ZooKeeper's znode.container.checkIntervalMs.
	ContainerCheckInterval time.Duration

	// ClientAddr, when set, is the TCP address ("127.0.0.1:2181", or ":0"
	// for any free port) where the node serves ZooKeeper's client wire
	// protocol, so existing ZooKeeper clients and tools can connect.
	ClientAddr string

	// MaxClientCnxns limits concurrent wire connections from one IP
	// address. Zero means 60, as ZooKeeper; negative means no limit.
	MaxClientCnxns int

	// FourLetterWords lists the four-letter words the wire server answers
	// ("ruok", "srvr", "mntr", …). Nil means ZooKeeper's default whitelist
	// (srvr only); []string{"*"} allows all.
	FourLetterWords []string

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
	fsm      *fsm
	proposer *proposer
	watches  *registry // watches of local sessions

	mu       sync.Mutex
	sessions map[int64]*Session // local sessions; guarded by mu
	closed   bool               // guarded by mu

	isLeader atomic.Bool
	tracker  *tracker
	stop     chan struct{}
	wg       sync.WaitGroup
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
	if c.MaxClientCnxns == 0 {
		c.MaxClientCnxns = 60
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
	switch {
	case c.TickTime < 0, c.MinSessionTimeout < 0, c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("coord: invalid session timing: tick %v, min %v, max %v", c.TickTime, c.MinSessionTimeout, c.MaxSessionTimeout)
	case c.MaxDataSize < 0:
		return fmt.Errorf("coord: invalid MaxDataSize %d", c.MaxDataSize)
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
	}
	n.watches = newRegistry()
	n.fsm = newFSM(n, treeLimits{maxData: cfg.MaxDataSize})
	n.tracker = newTracker()

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = newHclogAdapter(cfg.Logger, "raft")
	// A single voter has nobody to wait for: the shortest timings raft
	// accepts make it leader within a few milliseconds.
	rc.HeartbeatTimeout = 5 * time.Millisecond
	rc.ElectionTimeout = 5 * time.Millisecond
	rc.LeaderLeaseTimeout = 5 * time.Millisecond
	rc.CommitTimeout = 1 * time.Millisecond
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	notify := make(chan bool, 16)
	rc.NotifyCh = notify

	addr, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.NodeID))
	logs := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: addr, Suffrage: raft.Voter}}}
	if err := raft.BootstrapCluster(rc, logs, logs, snaps, trans, conf); err != nil {
		return nil, fmt.Errorf("coord: bootstrap: %w", err)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, logs, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("coord: start raft: %w", err)
	}
	n.raft = r
	n.proposer = newProposer(n)

	n.wg.Add(3)
	go n.watchLeadership(notify)
	go n.proposer.run()
	go n.tickLoop()

	// Ready when this node leads (single node) and has applied its own term.
	select {
	case <-n.proposer.ready:
	case <-ctx.Done():
		n.Close(context.Background())
		return nil, ctx.Err()
	}
	if cfg.ClientAddr != "" {
		if err := n.startZK(cfg.ClientAddr); err != nil {
			n.Close(context.Background())
			return nil, fmt.Errorf("coord: client listener: %w", err)
		}
	}
	return n, nil
}

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
	n.stopZK()
	close(n.stop)
	err := n.raft.Shutdown().Error()
	n.proposer.shutdown()
	n.wg.Wait()
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

// IsLeader reports whether this node currently leads its ensemble.
func (n *Node) IsLeader() bool { return n.isLeader.Load() }

func (n *Node) watchLeadership(ch <-chan bool) {
	defer n.wg.Done()
	for {
		select {
		case lead := <-ch:
			n.isLeader.Store(lead)
			if lead {
				n.tracker.resetAll(n.fsm.sessionTimeouts(), time.Now())
				n.proposer.leaderElected()
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
