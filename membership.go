package coord

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Membership with gossip: every node runs hashicorp/memberlist and
// advertises its node id, cluster RPC address, cluster name and whether it
// has raft state. A fresh cluster bootstraps once BootstrapExpect members
// are seen; afterwards the leader keeps raft's configuration in step with
// gossip (see reconcile).

// memberMeta is what a node advertises about itself.
type memberMeta struct {
	Cluster  string `json:"c"`
	ID       string `json:"i"`
	RPC      string `json:"r"`
	HasState bool   `json:"s,omitempty"`
}

type membership struct {
	n  *Node
	ml *memberlist.Memberlist

	mu        sync.Mutex
	hasState  bool                  // guarded by mu
	failedAt  map[string]time.Time  // guarded by mu: member id -> when it was seen failed or missing
	left      map[string]bool       // guarded by mu: members that left gracefully
	live      map[string]memberMeta // guarded by mu: alive members of our cluster, from gossip events
	joinedAt  map[string]time.Time  // guarded by mu: member id -> when it was last seen joining
	bootstrap chan struct{}         // closed once the raft configuration exists
	bootOnce  sync.Once
	wake      chan struct{}
}

// ErrWrongCluster is why a node of another cluster is refused.
var ErrWrongCluster = errors.New("coord: member of another cluster")

func (m *membership) meta() memberMeta {
	m.mu.Lock()
	defer m.mu.Unlock()
	return memberMeta{Cluster: m.n.cfg.ClusterName, ID: m.n.cfg.NodeID, RPC: m.n.advertise(), HasState: m.hasState}
}

// NodeMeta implements memberlist.Delegate.
func (m *membership) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(m.meta())
	if len(b) > limit {
		return nil
	}
	return b
}

func (m *membership) NotifyMsg([]byte)                           {}
func (m *membership) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (m *membership) LocalState(join bool) []byte                { return nil }
func (m *membership) MergeRemoteState(buf []byte, join bool)     {}

// NotifyAlive implements memberlist.AliveDelegate: members of another
// cluster (or with unreadable metadata) are not let in.
func (m *membership) NotifyAlive(peer *memberlist.Node) error {
	var mm memberMeta
	if err := json.Unmarshal(peer.Meta, &mm); err != nil {
		return fmt.Errorf("coord: unreadable member metadata from %s", peer.Name)
	}
	if mm.Cluster != m.n.cfg.ClusterName {
		return fmt.Errorf("%w: %q is in %q, we are %q", ErrWrongCluster, peer.Name, mm.Cluster, m.n.cfg.ClusterName)
	}
	return nil
}

// NotifyJoin, NotifyLeave and NotifyUpdate implement memberlist.EventDelegate.
// memberlist calls the event delegate with its node lock held, so the
// node may be read here (and only here: Members() hands out pointers it
// keeps mutating).
func (m *membership) NotifyJoin(node *memberlist.Node) {
	m.note(node)
	m.mu.Lock()
	delete(m.failedAt, node.Name)
	delete(m.left, node.Name)
	m.joinedAt[node.Name] = time.Now()
	m.mu.Unlock()
	m.poke()
}

func (m *membership) NotifyLeave(node *memberlist.Node) {
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

func (m *membership) NotifyUpdate(node *memberlist.Node) {
	m.note(node)
	m.poke()
}

func (m *membership) note(node *memberlist.Node) {
	var mm memberMeta
	if json.Unmarshal(node.Meta, &mm) != nil || mm.Cluster != m.n.cfg.ClusterName {
		return
	}
	m.mu.Lock()
	m.live[node.Name] = mm
	m.mu.Unlock()
}

func (m *membership) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// advertise is the cluster address others should dial.
func (n *Node) advertise() string {
	for _, p := range n.cfg.Peers {
		if p.ID == n.cfg.NodeID {
			return p.Addr
		}
	}
	if n.cfg.AdvertiseAddr != "" {
		return n.cfg.AdvertiseAddr
	}
	if n.mux != nil {
		return n.mux.l.Addr().String()
	}
	return n.cfg.BindAddr
}

// startGossip creates the memberlist and joins the seeds in the background.
func (n *Node) startGossip(hasState bool) error {
	cfg := &n.cfg
	m := &membership{
		n:         n,
		hasState:  hasState,
		failedAt:  make(map[string]time.Time),
		left:      make(map[string]bool),
		live:      make(map[string]memberMeta),
		joinedAt:  make(map[string]time.Time),
		bootstrap: make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
	mc := memberlist.DefaultLANConfig()
	if cfg.GossipConfig != nil {
		cfg.GossipConfig(mc)
	}
	mc.Name = cfg.NodeID
	host, port, err := net.SplitHostPort(cfg.GossipAddr)
	if err != nil {
		return fmt.Errorf("coord: GossipAddr: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("coord: GossipAddr port: %w", err)
	}
	mc.BindAddr, mc.BindPort = host, p
	if p != 0 {
		mc.AdvertisePort = p
	}
	mc.Delegate = m
	mc.Events = m
	mc.Alive = m
	mc.SecretKey = cfg.GossipKey
	mc.Logger = log.New(slogWriter{cfg.Logger.With("component", "memberlist")}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("coord: gossip: %w", err)
	}
	m.ml = ml
	n.members = m
	if hasState {
		m.bootOnce.Do(func() { close(m.bootstrap) })
	}
	n.wg.Add(2)
	go m.joinLoop()
	go m.reconcileLoop()
	return nil
}

// GossipAddr returns the address memberlist listens on, or "".
func (n *Node) GossipAddr() string {
	if n.members == nil {
		return ""
	}
	a := n.members.ml.LocalNode()
	return net.JoinHostPort(a.Addr.String(), strconv.Itoa(int(a.Port)))
}

// Members returns the ids of the alive gossip members of this node's
// cluster, sorted.
func (n *Node) Members() []string {
	if n.members == nil {
		return nil
	}
	var ids []string
	for _, mm := range n.members.alive() {
		ids = append(ids, mm.ID)
	}
	return ids
}

func (m *membership) alive() []memberMeta {
	m.mu.Lock()
	out := make([]memberMeta, 0, len(m.live))
	for _, mm := range m.live {
		out = append(out, mm)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b memberMeta) int {
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

func (m *membership) joinLoop() {
	defer m.n.wg.Done()
	seeds := m.n.cfg.Join
	if len(seeds) == 0 {
		return
	}
	for attempt := 0; ; attempt++ {
		if _, err := m.ml.Join(seeds); err == nil {
			return
		} else if attempt%10 == 0 {
			m.n.log.Info("joining gossip seeds", "seeds", seeds, "err", err)
		}
		select {
		case <-m.n.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// maybeBootstrap bootstraps raft once BootstrapExpect members, none with
// raft state, are seen: all of them compute the same configuration, the
// first BootstrapExpect ids in order.
func (m *membership) maybeBootstrap() {
	select {
	case <-m.bootstrap:
		return
	default:
	}
	expect := m.n.cfg.BootstrapExpect
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
	if !slices.ContainsFunc(voters, func(mm memberMeta) bool { return mm.ID == m.n.cfg.NodeID }) {
		m.bootOnce.Do(func() { close(m.bootstrap) })
		return
	}
	var conf raft.Configuration
	for _, mm := range voters {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(mm.ID), Address: raft.ServerAddress(mm.RPC), Suffrage: raft.Voter})
	}
	if err := m.n.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		m.n.log.Warn("bootstrap failed", "err", err)
		return
	}
	m.n.log.Info("bootstrapped", "voters", len(voters))
	m.mu.Lock()
	m.hasState = true
	m.mu.Unlock()
	_ = m.ml.UpdateNode(time.Second)
	m.bootOnce.Do(func() { close(m.bootstrap) })
}

func (m *membership) reconcileLoop() {
	defer m.n.wg.Done()
	tick := time.NewTicker(m.n.cfg.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.n.stop:
			return
		case <-tick.C:
		case <-m.wake:
		}
		m.maybeBootstrap()
		if m.n.isLeader.Load() {
			m.reconcile()
		}
		if !m.knownState() && m.n.raft.LastIndex() > 0 {
			m.mu.Lock()
			m.hasState = true
			m.mu.Unlock()
			_ = m.ml.UpdateNode(time.Second)
		}
	}
}

func (m *membership) knownState() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hasState
}

// reconcile runs on the leader: it adds alive members raft does not know
// (as non-voters), promotes caught-up non-voters while voters are short of
// the target, removes members that left, and removes members failed for
// longer than DeadNodeTimeout.
func (m *membership) reconcile() {
	r := m.n.raft
	fut := r.GetConfiguration()
	if fut.Error() != nil {
		return
	}
	servers := fut.Configuration().Servers
	inRaft := make(map[string]raft.Server, len(servers))
	voters := 0
	for _, s := range servers {
		inRaft[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	alive := m.alive()
	aliveIDs := make(map[string]memberMeta, len(alive))
	for _, mm := range alive {
		aliveIDs[mm.ID] = mm
	}
	now := time.Now()
	target := m.n.cfg.Voters

	// Members gone from gossip: left at once, failed after the timeout.
	for _, srv := range servers {
		id := string(srv.ID)
		if id == m.n.cfg.NodeID {
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
		if !left && (!seen || now.Sub(since) <= m.n.cfg.DeadNodeTimeout || (srv.Suffrage == raft.Voter && voters <= 2)) {
			continue
		}
		why := "failed"
		if left {
			why = "left"
		}
		m.remove(srv, why)
		if srv.Suffrage == raft.Voter {
			voters--
		}
		delete(inRaft, id)
	}

	// New members join as non-voters and catch up first.
	for _, mm := range alive {
		if _, ok := inRaft[mm.ID]; ok {
			continue
		}
		if err := r.AddNonvoter(raft.ServerID(mm.ID), raft.ServerAddress(mm.RPC), 0, 5*time.Second).Error(); err != nil {
			m.n.log.Warn("add non-voter", "id", mm.ID, "err", err)
			continue
		}
		m.n.log.Info("added non-voter", "id", mm.ID)
		m.mu.Lock()
		m.joinedAt[mm.ID] = now
		m.mu.Unlock()
		inRaft[mm.ID] = raft.Server{ID: raft.ServerID(mm.ID), Address: raft.ServerAddress(mm.RPC), Suffrage: raft.Nonvoter}
	}

	// Promote healthy, caught-up non-voters while voters are short; a dead
	// voter is replaced this way once it has been removed.
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
		if s.Suffrage == raft.Voter {
			continue
		}
		if _, ok := aliveIDs[id]; !ok {
			continue
		}
		m.mu.Lock()
		since := m.joinedAt[id]
		m.mu.Unlock()
		if now.Sub(since) < m.n.cfg.StabilizationTime {
			continue
		}
		if err := r.AddVoter(s.ID, s.Address, 0, 5*time.Second).Error(); err != nil {
			m.n.log.Warn("promote", "id", id, "err", err)
			continue
		}
		m.n.log.Info("promoted to voter", "id", id)
		voters++
	}
}

func (m *membership) remove(s raft.Server, why string) {
	if err := m.n.raft.RemoveServer(s.ID, 0, 5*time.Second).Error(); err != nil {
		m.n.log.Warn("remove server", "id", s.ID, "why", why, "err", err)
		return
	}
	m.n.log.Info("removed server", "id", s.ID, "why", why)
}

// leaveGossip announces a graceful departure.
func (m *membership) leave() {
	_ = m.ml.Leave(2 * time.Second)
	_ = m.ml.Shutdown()
}

// ServerInfo describes a member of the raft configuration.
type ServerInfo struct {
	ID    string
	Addr  string
	Voter bool
}

// Servers returns the raft configuration as this node knows it.
func (n *Node) Servers() ([]ServerInfo, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []ServerInfo
	for _, s := range f.Configuration().Servers {
		out = append(out, ServerInfo{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}
