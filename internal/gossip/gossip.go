// Package gossip finds the members of an ensemble with hashicorp/memberlist
// and keeps the replica's raft configuration in step with them: a fresh
// cluster bootstraps once the expected number of members is seen, and the
// leader adds new members as non-voters, promotes them to keep the target
// number of voters once they are stable and caught up, and removes members
// that left (at once) or failed (after a timeout).
package gossip

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coordkit/coord/raftfsm"
	"github.com/hashicorp/memberlist"
)

// MetaVersion is the version of the metadata a member advertises. 2 adds
// the applied index, without which a member is not promoted to voter.
const MetaVersion = 2

// CatchUpBound is how many entries a non-voter's applied index (as it
// last gossiped it) may lag the leader's for it to be promoted: a voter
// that is far behind weakens the quorum it joins until it catches up.
const CatchUpBound = 256

// meta is what a member advertises about itself.
type meta struct {
	Version  int    `json:"v,omitempty"` // absent before versioning: 0
	Cluster  string `json:"c"`
	ID       string `json:"i"`
	RPC      string `json:"r"`
	HasState bool   `json:"s,omitempty"`
	Applied  uint64 `json:"a,omitempty"` // version 2: the member's applied raft index

	// ours is our applied index when this meta arrived: Applied is
	// compared with it, so that how long gossip took to carry it does not
	// count as lag.
	ours uint64
}

// Replica is the part of the raft replica that membership drives.
type Replica interface {
	Servers() ([]raftfsm.Server, error)
	AddNonvoter(id, addr string) error
	AddVoter(id, addr string) error
	RemoveServer(id string) error
	BootstrapCluster(voters []raftfsm.Server) error
	LastIndex() uint64
	AppliedIndex() uint64
}

// Config configures membership.
type Config struct {
	NodeID      string
	ClusterName string
	BindAddr    string   // host:port memberlist listens on
	Advertise   string   // this member's cluster (raft and RPC) address
	Join        []string // seeds
	// BootstrapExpect: how many members a new cluster waits for.
	BootstrapExpect int
	Voters          int
	Key             []byte
	// AcceptedKeys decrypt gossip too, but Key encrypts (rotation).
	AcceptedKeys [][]byte
	HasState     bool // the replica had state when it started

	DeadNodeTimeout   time.Duration
	StabilizationTime time.Duration
	ReconcileInterval time.Duration

	// memberlist timings; zero keeps memberlist's LAN defaults.
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	GossipInterval   time.Duration
	PushPullInterval time.Duration
	SuspicionMult    int
	TCPTimeout       time.Duration

	// Transport replaces memberlist's network transport (tests).
	Transport Transport

	Logger   *slog.Logger
	IsLeader func() bool
}

// Transport is memberlist's network transport.
type Transport = memberlist.NodeAwareTransport

// ErrWrongCluster is why a member of another cluster is refused.
var ErrWrongCluster = errors.New("coord: member of another cluster")

// Membership is a running member.
type Membership struct {
	cfg Config
	rep Replica
	ml  *memberlist.Memberlist
	log *slog.Logger

	mu        sync.Mutex
	hasState  bool                 // guarded by mu
	applied   uint64               // guarded by mu: the applied index last advertised
	failedAt  map[string]time.Time // guarded by mu: member id -> when it was seen failed or missing
	left      map[string]bool      // guarded by mu: members that left gracefully
	live      map[string]meta      // guarded by mu: alive members of our cluster, from gossip events
	joinedAt  map[string]time.Time // guarded by mu: member id -> when it was last seen joining
	bootstrap chan struct{}        // closed once the raft configuration exists
	bootOnce  sync.Once
	wake      chan struct{}

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// Start creates the memberlist, then joins the seeds and reconciles in the
// background.
func Start(cfg Config, rep Replica) (*Membership, error) {
	m := &Membership{
		cfg:       cfg,
		rep:       rep,
		log:       cfg.Logger,
		hasState:  cfg.HasState,
		failedAt:  make(map[string]time.Time),
		left:      make(map[string]bool),
		live:      make(map[string]meta),
		joinedAt:  make(map[string]time.Time),
		bootstrap: make(chan struct{}),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	mc := memberlist.DefaultLANConfig()
	setDur(&mc.ProbeInterval, cfg.ProbeInterval)
	setDur(&mc.ProbeTimeout, cfg.ProbeTimeout)
	setDur(&mc.GossipInterval, cfg.GossipInterval)
	setDur(&mc.PushPullInterval, cfg.PushPullInterval)
	setDur(&mc.TCPTimeout, cfg.TCPTimeout)
	if cfg.SuspicionMult > 0 {
		mc.SuspicionMult = cfg.SuspicionMult
	}
	if cfg.Transport != nil {
		mc.Transport = cfg.Transport
	}
	mc.Name = cfg.NodeID
	host, port, err := net.SplitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("coord: gossip address: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("coord: gossip port: %w", err)
	}
	mc.BindAddr, mc.BindPort = host, p
	if p != 0 {
		mc.AdvertisePort = p
	}
	mc.Delegate = m
	mc.Events = m
	mc.Alive = m
	if len(cfg.Key) > 0 {
		kr, err := memberlist.NewKeyring(cfg.AcceptedKeys, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("coord: gossip key: %w", err)
		}
		mc.Keyring = kr
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	mc.Logger = log.New(raftfsm.LineWriter{L: cfg.Logger.With("component", "memberlist")}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("coord: gossip: %w", err)
	}
	m.ml = ml
	if cfg.HasState {
		m.bootOnce.Do(func() { close(m.bootstrap) })
	}
	m.wg.Add(2)
	go m.joinLoop()
	go m.reconcileLoop()
	return m, nil
}

func setDur(dst *time.Duration, v time.Duration) {
	if v > 0 {
		*dst = v
	}
}

func (m *Membership) meta() meta {
	m.mu.Lock()
	defer m.mu.Unlock()
	return meta{Version: MetaVersion, Cluster: m.cfg.ClusterName, ID: m.cfg.NodeID, RPC: m.cfg.Advertise, HasState: m.hasState, Applied: m.applied}
}

// NodeMeta implements memberlist.Delegate.
func (m *Membership) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(m.meta())
	if len(b) > limit {
		return nil
	}
	return b
}

func (m *Membership) NotifyMsg([]byte)                           {}
func (m *Membership) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (m *Membership) LocalState(join bool) []byte                { return nil }
func (m *Membership) MergeRemoteState(buf []byte, join bool)     {}

// NotifyAlive implements memberlist.AliveDelegate: members of another
// cluster (or with unreadable metadata) are not let in.
func (m *Membership) NotifyAlive(peer *memberlist.Node) error {
	var mm meta
	if err := json.Unmarshal(peer.Meta, &mm); err != nil {
		return fmt.Errorf("coord: unreadable member metadata from %s", peer.Name)
	}
	if mm.Cluster != m.cfg.ClusterName {
		return fmt.Errorf("%w: %q is in %q, we are %q", ErrWrongCluster, peer.Name, mm.Cluster, m.cfg.ClusterName)
	}
	return nil
}

// NotifyJoin, NotifyLeave and NotifyUpdate implement memberlist.EventDelegate.
// memberlist calls the event delegate with its node lock held, so the
// node may be read here (and only here: Members() hands out pointers it
// keeps mutating).
func (m *Membership) NotifyJoin(node *memberlist.Node) {
	m.note(node)
	m.mu.Lock()
	delete(m.failedAt, node.Name)
	delete(m.left, node.Name)
	m.joinedAt[node.Name] = time.Now()
	m.mu.Unlock()
	m.poke()
}

func (m *Membership) NotifyLeave(node *memberlist.Node) {
	m.mu.Lock()
	delete(m.live, node.Name)
	if node.State == memberlist.StateLeft {
		m.left[node.Name] = true
	} else if _, ok := m.failedAt[node.Name]; !ok {
		m.failedAt[node.Name] = time.Now()
	}
	m.mu.Unlock()
	m.poke()
}

func (m *Membership) NotifyUpdate(node *memberlist.Node) {
	m.note(node)
	m.poke()
}

func (m *Membership) note(node *memberlist.Node) {
	var mm meta
	if json.Unmarshal(node.Meta, &mm) != nil || mm.Cluster != m.cfg.ClusterName {
		return
	}
	mm.ours = m.rep.AppliedIndex()
	m.mu.Lock()
	m.live[node.Name] = mm
	m.mu.Unlock()
}

func (m *Membership) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Addr returns the address memberlist listens on.
func (m *Membership) Addr() string {
	a := m.ml.LocalNode()
	return net.JoinHostPort(a.Addr.String(), strconv.Itoa(int(a.Port)))
}

// Members returns the ids of the alive members of this cluster, sorted.
func (m *Membership) Members() []string {
	var ids []string
	for _, mm := range m.alive() {
		ids = append(ids, mm.ID)
	}
	return ids
}

func (m *Membership) alive() []meta {
	m.mu.Lock()
	out := make([]meta, 0, len(m.live))
	for _, mm := range m.live {
		out = append(out, mm)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b meta) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func (m *Membership) joinLoop() {
	defer m.wg.Done()
	seeds := m.cfg.Join
	if len(seeds) == 0 {
		return
	}
	for attempt := 0; ; attempt++ {
		if _, err := m.ml.Join(seeds); err == nil {
			return
		} else if attempt%10 == 0 {
			m.log.Info("joining gossip seeds", "seeds", seeds, "err", err)
		}
		select {
		case <-m.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// maybeBootstrap bootstraps raft once BootstrapExpect members, none with
// raft state, are seen: all of them compute the same configuration, the
// first BootstrapExpect ids in order.
func (m *Membership) maybeBootstrap() {
	select {
	case <-m.bootstrap:
		return
	default:
	}
	expect := m.cfg.BootstrapExpect
	if expect == 0 {
		return
	}
	members := m.alive()
	for _, mm := range members {
		if mm.HasState {
			// An existing cluster: wait to be added by its leader.
			m.bootOnce.Do(func() { close(m.bootstrap) })
			return
		}
	}
	if len(members) < expect {
		return
	}
	voters := members[:expect]
	if !slices.ContainsFunc(voters, func(mm meta) bool { return mm.ID == m.cfg.NodeID }) {
		m.bootOnce.Do(func() { close(m.bootstrap) })
		return
	}
	servers := make([]raftfsm.Server, 0, len(voters))
	for _, mm := range voters {
		servers = append(servers, raftfsm.Server{ID: mm.ID, Addr: mm.RPC, Voter: true})
	}
	if err := m.rep.BootstrapCluster(servers); err != nil {
		m.log.Warn("bootstrap failed", "err", err)
		return
	}
	m.log.Info("bootstrapped", "voters", len(voters))
	m.setHasState()
	m.bootOnce.Do(func() { close(m.bootstrap) })
}

func (m *Membership) setHasState() {
	m.mu.Lock()
	m.hasState = true
	m.mu.Unlock()
	_ = m.ml.UpdateNode(time.Second)
}

func (m *Membership) reconcileLoop() {
	defer m.wg.Done()
	tick := time.NewTicker(m.cfg.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		case <-m.wake:
		}
		m.maybeBootstrap()
		if m.cfg.IsLeader() {
			m.reconcile()
		}
		if !m.knownState() && m.rep.LastIndex() > 0 {
			m.setHasState()
		}
		m.advertiseApplied()
	}
}

func (m *Membership) knownState() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hasState
}

// advertiseApplied gossips this member's applied index while it does not
// vote, so that the leader can tell when it has caught up; at most once a
// reconcile interval. A voter advertises it only every CatchUpBound/2
// entries: it may be a non-voter already without knowing it yet.
func (m *Membership) advertiseApplied() {
	voter := false
	if servers, err := m.rep.Servers(); err == nil {
		for _, s := range servers {
			if s.ID == m.cfg.NodeID {
				voter = s.Voter
			}
		}
	}
	applied := m.rep.AppliedIndex()
	m.mu.Lock()
	changed := (!voter && applied != m.applied) || applied >= m.applied+CatchUpBound/2
	if changed {
		m.applied = applied
	}
	m.mu.Unlock()
	if changed {
		_ = m.ml.UpdateNode(time.Second)
	}
}

// caughtUp reports whether a non-voter's advertised applied index was
// within CatchUpBound of ours (the leader's) when it arrived.
func (m *Membership) caughtUp(mm meta) (bool, uint64) {
	if mm.Version < 2 {
		return false, 0
	}
	return mm.Applied+CatchUpBound >= mm.ours, mm.ours
}

// reconcile runs on the leader: it adds alive members raft does not know
// (as non-voters), promotes caught-up non-voters while voters are short of
// the target, removes members that left, and removes members failed for
// longer than DeadNodeTimeout.
func (m *Membership) reconcile() {
	servers, err := m.rep.Servers()
	if err != nil {
		return
	}
	inRaft := make(map[string]raftfsm.Server, len(servers))
	voters := 0
	for _, s := range servers {
		inRaft[s.ID] = s
		if s.Voter {
			voters++
		}
	}
	alive := m.alive()
	aliveIDs := make(map[string]meta, len(alive))
	for _, mm := range alive {
		aliveIDs[mm.ID] = mm
	}
	now := time.Now()
	target := m.cfg.Voters

	// Members gone from gossip: left at once, failed after the timeout.
	for _, srv := range servers {
		id := srv.ID
		if id == m.cfg.NodeID {
			continue
		}
		if _, ok := aliveIDs[id]; ok {
			continue
		}
		m.mu.Lock()
		left := m.left[id]
		since, seen := m.failedAt[id]
		if !seen && !left {
			m.failedAt[id] = now // missing without a word: count from now
		}
		m.mu.Unlock()
		// Removing a dead voter shrinks the quorum the rest must reach;
		// keep at least one voter besides ourselves.
		if !left && (!seen || now.Sub(since) <= m.cfg.DeadNodeTimeout || (srv.Voter && voters <= 2)) {
			continue
		}
		why := "failed"
		if left {
			why = "left"
		}
		if err := m.rep.RemoveServer(id); err != nil {
			m.log.Warn("remove server", "id", id, "why", why, "err", err)
		} else {
			m.log.Info("removed server", "id", id, "why", why)
		}
		if srv.Voter {
			voters--
		}
		delete(inRaft, id)
	}

	// New members join as non-voters and catch up first.
	for _, mm := range alive {
		if _, ok := inRaft[mm.ID]; ok {
			continue
		}
		if err := m.rep.AddNonvoter(mm.ID, mm.RPC); err != nil {
			m.log.Warn("add non-voter", "id", mm.ID, "err", err)
			continue
		}
		m.log.Info("added non-voter", "id", mm.ID)
		m.mu.Lock()
		m.joinedAt[mm.ID] = now
		m.mu.Unlock()
		inRaft[mm.ID] = raftfsm.Server{ID: mm.ID, Addr: mm.RPC}
	}

	// Promote healthy non-voters while voters are short; a dead voter is
	// replaced this way once it has been removed.
	ids := make([]string, 0, len(inRaft))
	for id := range inRaft {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if voters >= target {
			break
		}
		s := inRaft[id]
		if s.Voter {
			continue
		}
		if _, ok := aliveIDs[id]; !ok {
			continue
		}
		m.mu.Lock()
		since := m.joinedAt[id]
		m.mu.Unlock()
		if now.Sub(since) < m.cfg.StabilizationTime {
			continue
		}
		if ok, lead := m.caughtUp(aliveIDs[id]); !ok {
			m.log.Debug("not promoting a non-voter that has not caught up", "id", id,
				"applied", aliveIDs[id].Applied, "leader_applied", lead, "meta_version", aliveIDs[id].Version)
			continue
		}
		if err := m.rep.AddVoter(s.ID, s.Addr); err != nil {
			m.log.Warn("promote", "id", id, "err", err)
			continue
		}
		m.log.Info("promoted to voter", "id", id)
		voters++
	}
}

// Leave announces a graceful departure and stops.
func (m *Membership) Leave() {
	_ = m.ml.Leave(2 * time.Second)
	m.Shutdown()
}

// Shutdown stops gossip at once, as a crash would look to the others. Its
// loops may still be finishing a call on the replica: Wait for them once
// the replica is stopped.
func (m *Membership) Shutdown() {
	m.stopOnce.Do(func() { close(m.stop) })
	_ = m.ml.Shutdown()
}

// Wait returns once the loops started by Start have returned.
func (m *Membership) Wait() { m.wg.Wait() }
