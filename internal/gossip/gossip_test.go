package gossip

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord/raftfsm"
)

// recordingReplica records what membership asks of raft.
type recordingReplica struct {
	mu        sync.Mutex
	servers   []raftfsm.Server
	bootstrap []raftfsm.Server
	index     uint64
}

func (f *recordingReplica) Servers() ([]raftfsm.Server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.servers), nil
}

func (f *recordingReplica) set(id, addr string, voter bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.servers {
		if f.servers[i].ID == id {
			f.servers[i].Voter = voter
			return
		}
	}
	f.servers = append(f.servers, raftfsm.Server{ID: id, Addr: addr, Voter: voter})
}

func (f *recordingReplica) AddNonvoter(id, addr string) error { f.set(id, addr, false); return nil }
func (f *recordingReplica) AddVoter(id, addr string) error    { f.set(id, addr, true); return nil }
func (f *recordingReplica) RemoveServer(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers = slices.DeleteFunc(f.servers, func(s raftfsm.Server) bool { return s.ID == id })
	return nil
}
func (f *recordingReplica) BootstrapCluster(voters []raftfsm.Server) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bootstrap = slices.Clone(voters)
	f.servers = slices.Clone(voters)
	f.index = 1
	return nil
}
func (f *recordingReplica) LastIndex() uint64    { f.mu.Lock(); defer f.mu.Unlock(); return f.index }
func (f *recordingReplica) AppliedIndex() uint64 { return f.LastIndex() }

func (f *recordingReplica) snapshot() (servers, bootstrap []raftfsm.Server) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.servers), slices.Clone(f.bootstrap)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t *testing.T, id, seed string, leader *atomic.Bool, rep *recordingReplica, cluster string) *Membership {
	t.Helper()
	cfg := Config{
		NodeID: id, ClusterName: cluster, BindAddr: "127.0.0.1:0", Advertise: id + ":7000",
		BootstrapExpect: 2, Voters: 3,
		DeadNodeTimeout: 200 * time.Millisecond, StabilizationTime: 100 * time.Millisecond, ReconcileInterval: 20 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond, ProbeTimeout: 25 * time.Millisecond, GossipInterval: 10 * time.Millisecond,
		PushPullInterval: 200 * time.Millisecond, SuspicionMult: 2, TCPTimeout: time.Second,
		Logger: slog.New(slog.DiscardHandler), IsLeader: leader.Load,
	}
	if seed != "" {
		cfg.Join = []string{seed}
	}
	m, err := Start(cfg, rep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(); m.Wait() })
	return m
}

// Two members bootstrap the same voters once both are seen; a third joins
// as a non-voter and is promoted once stable; a member that leaves is
// removed; a member of another cluster is refused.
func TestBootstrapJoinPromoteLeave(t *testing.T) {
	var lead, follow, third atomic.Bool
	lead.Store(true)
	r0, r1, r2 := &recordingReplica{}, &recordingReplica{}, &recordingReplica{}
	m0 := start(t, "a", "", &lead, r0, "c")
	_ = start(t, "b", m0.Addr(), &follow, r1, "c")
	// Each bootstraps the same voters, unless it sees the other's state
	// first: then it waits to be replicated to, as raft followers are.
	var boot []raftfsm.Server
	eventually(t, "the pair bootstraps", func() bool {
		_, b0 := r0.snapshot()
		_, b1 := r1.snapshot()
		if len(b0) > 0 && len(b1) > 0 && !slices.Equal(b0, b1) {
			t.Fatalf("different bootstrap configurations %+v and %+v", b0, b1)
		}
		boot = b0
		if len(boot) == 0 {
			boot = b1
		}
		return len(boot) == 2
	})
	if boot[0].ID != "a" || boot[1].ID != "b" || boot[0].Addr != "a:7000" || !boot[0].Voter {
		t.Fatalf("bootstrap configuration %+v", boot)
	}
	m2 := start(t, "c", m0.Addr(), &third, r2, "c")
	eventually(t, "the newcomer promoted to voter", func() bool {
		servers, _ := r0.snapshot()
		i := slices.IndexFunc(servers, func(s raftfsm.Server) bool { return s.ID == "c" })
		return i >= 0 && servers[i].Voter
	})
	if r2.LastIndex() != 0 {
		t.Fatal("a member of a running cluster bootstrapped")
	}
	m2.Leave()
	eventually(t, "the member that left removed", func() bool {
		servers, _ := r0.snapshot()
		return !slices.ContainsFunc(servers, func(s raftfsm.Server) bool { return s.ID == "c" })
	})

	var other atomic.Bool
	stranger := start(t, "x", m0.Addr(), &other, &recordingReplica{}, "another")
	time.Sleep(300 * time.Millisecond) // a few gossip rounds: a refusal has no event to await
	if slices.Contains(m0.Members(), "x") || slices.Contains(stranger.Members(), "a") {
		t.Fatalf("members of different clusters met: %v / %v", m0.Members(), stranger.Members())
	}
}
