package coord

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/cluster"
	"github.com/hashicorp/raft"
)

// outsider is an attacker on the same machine: it speaks raft (with
// hashicorp/raft's own NetworkTransport) and the cluster RPC to a node's
// cluster port over plain TCP, or over network when set.
type outsider struct {
	network Network
	trans   *raft.NetworkTransport
}

type outsiderStream struct {
	net.Listener
	network Network
}

func (s outsiderStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.network.Dial(ctx, string(addr))
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{cluster.KindRaft}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newOutsider(t *testing.T, network Network) *outsider {
	t.Helper()
	if network == nil {
		network = TCPNetwork{}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := raft.NewNetworkTransport(outsiderStream{l, network}, 1, 2*time.Second, io.Discard)
	t.Cleanup(func() { tr.Close() })
	return &outsider{network: network, trans: tr}
}

// attack replays what was found against a node; every call is expected to
// fail when the cluster is keyed. It returns how many went through.
func (o *outsider) attack(t *testing.T, leader, follower *Node) int {
	t.Helper()
	through := 0
	me := []byte(o.trans.LocalAddr())
	hdr := raft.RPCHeader{ID: []byte("evil"), Addr: me}
	lead := raft.ServerAddress(leader.cfg.BindAddr)
	fol := raft.ServerAddress(follower.cfg.BindAddr)
	term := leader.replica.Term()
	ok := func(err error) {
		if err == nil {
			through++
		}
	}
	// A higher-term vote with LeadershipTransfer set, and a wrapping term.
	ok(o.trans.RequestVote("x", lead, &raft.RequestVoteRequest{RPCHeader: hdr, Term: term + 1, LastLogIndex: math.MaxUint32, LastLogTerm: term, LeadershipTransfer: true}, &raft.RequestVoteResponse{}))
	ok(o.trans.RequestVote("x", fol, &raft.RequestVoteRequest{RPCHeader: hdr, Term: math.MaxUint64, LastLogIndex: math.MaxUint32, LastLogTerm: math.MaxUint64}, &raft.RequestVoteResponse{}))
	// TimeoutNow forces an election.
	ok(o.trans.TimeoutNow("x", fol, &raft.TimeoutNowRequest{RPCHeader: hdr}, &raft.TimeoutNowResponse{}))
	// A fake heartbeat: the follower would forward clients' writes here.
	ok(o.trans.AppendEntries("x", fol, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: term}, &raft.AppendEntriesResponse{}))
	// InstallSnapshot without a configuration, and a large junk one.
	ok(o.trans.InstallSnapshot("x", fol, &raft.InstallSnapshotRequest{RPCHeader: hdr, SnapshotVersion: 1, Term: term, LastLogIndex: 1 << 40, LastLogTerm: term, Size: 4},
		&raft.InstallSnapshotResponse{}, bytes.NewReader([]byte("junk"))))
	const junk = 8 << 20
	conf := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "evil", Address: raft.ServerAddress(me), Suffrage: raft.Voter}}})
	ok(o.trans.InstallSnapshot("x", fol, &raft.InstallSnapshotRequest{RPCHeader: hdr, SnapshotVersion: 1, Term: term, LastLogIndex: 1 << 40, LastLogTerm: term, Size: junk, Configuration: conf, ConfigurationIndex: 1},
		&raft.InstallSnapshotResponse{}, io.LimitReader(zeroReader{}, junk)))
	// Forged cluster RPCs: a write as session 0, touches of sessions.
	if o.forgeRPC(leader.cfg.BindAddr) {
		through++
	}
	return through
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// forgeRPC sends a forwarded create of /forged as session 0 and a touch,
// and reports whether the node answered OK.
func (o *outsider) forgeRPC(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := o.network.Dial(ctx, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	b := batch{time: time.Now().UnixMilli(), origin: 0xbad, counter: 1, entries: []entry{{origin: 0xbad, seq: 1,
		cmd: command{kind: opCreate, session: 0, path: "/forged", data: []byte("pwned"), acl: OpenACL, mode: Persistent}}}}
	payload := encodeBatch(nil, &b)
	frame := []byte{cluster.KindRPC}
	frame = binary.BigEndian.AppendUint32(frame, uint32(9+len(payload)))
	frame = append(frame, rpcForward)
	frame = binary.BigEndian.AppendUint64(frame, 1)
	frame = append(frame, payload...)
	touch := binary.AppendVarint(nil, 1)
	frame = binary.BigEndian.AppendUint32(frame, uint32(9+len(touch)))
	frame = append(frame, rpcTouch)
	frame = binary.BigEndian.AppendUint64(frame, 2)
	frame = append(frame, touch...)
	if _, err := c.Write(frame); err != nil {
		return false
	}
	var resp [13]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil {
		return false
	}
	return resp[12] == cluster.StatusOK
}

// logBuffer collects a node's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func leaderOf(t *testing.T, nodes []*Node) (leader, follower *Node) {
	t.Helper()
	eventually(t, "a leader", func() bool {
		leader, follower = nil, nil
		for _, n := range nodes {
			if n.IsLeader() {
				leader = n
			} else {
				follower = n
			}
		}
		return leader != nil && follower != nil
	})
	return leader, follower
}

// The attacks an outsider on the same machine could mount against the
// cluster port have no effect on a keyed ensemble: same leader and term,
// every node alive, every acknowledged write present on every node, no
// forged znode. The outsider tries plaintext, TLS with a key of its own,
// and the wrong cluster key.
func TestClusterKeyStopsOutsiders(t *testing.T) {
	key := NewClusterKey()
	logs := make([]*logBuffer, 3)
	nodes := openTCPCluster(t, 3, "k", func(i int, cfg *Config) {
		cfg.ElectionTimeout = 150 * time.Millisecond
		cfg.ClusterKey = key
		logs[i] = &logBuffer{}
		cfg.Logger = slog.New(slog.NewTextHandler(logs[i], &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader, follower := leaderOf(t, nodes)
	term := leader.replica.Term()
	s := newSession(t, follower, SessionConfig{})
	var acked []string
	write := func() {
		p, err := s.Create(ctx, "/w", []byte("v"), PersistentSequential, OpenACL)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, p)
	}
	write()

	wrongKey, err := cluster.NewKeyNetwork(TCPNetwork{}, NewClusterKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, network := range map[string]Network{"plaintext": nil, "wrong key": wrongKey} {
		o := newOutsider(t, network)
		for round := 0; round < 3; round++ {
			if n := o.attack(t, leader, follower); n != 0 {
				t.Fatalf("%s: %d attacks went through", name, n)
			}
			write()
		}
	}

	if !leader.IsLeader() || leader.replica.Term() != term {
		t.Fatalf("leadership changed: leader %v, term %d -> %d", leader.IsLeader(), term, leader.replica.Term())
	}
	for i, n := range nodes {
		ns := newSession(t, n, SessionConfig{})
		if _, err := ns.Sync(ctx, "/"); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		for _, p := range acked {
			if ok, _, err := ns.Exists(ctx, p); err != nil || !ok {
				t.Fatalf("node %d lost acknowledged %s (%v)", i, p, err)
			}
		}
		if ok, _, _ := ns.Exists(ctx, "/forged"); ok {
			t.Fatalf("node %d has the forged znode", i)
		}
		if strings.Contains(logs[i].String(), "UNAUTHENTICATED") {
			t.Fatalf("node %d warned although keyed", i)
		}
		if got := n.replica.RefusedRPCs(); got != 0 {
			t.Fatalf("node %d: raft's guard saw %d bad rpcs: the key should have stopped them", i, got)
		}
	}
}

// Without a key each node warns at start that its cluster port is open,
// and the attack tool is real: a forged write goes through. The guard
// still stops the wrapping term and the configuration-less snapshot.
func TestKeylessClusterWarnsAndGuards(t *testing.T) {
	logs := make([]*logBuffer, 3)
	nodes := openTCPCluster(t, 3, "u", func(i int, cfg *Config) {
		cfg.ElectionTimeout = 150 * time.Millisecond
		logs[i] = &logBuffer{}
		cfg.Logger = slog.New(slog.NewTextHandler(logs[i], &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	for i := range nodes {
		if !strings.Contains(logs[i].String(), "cluster port is UNAUTHENTICATED") {
			t.Fatalf("node %d did not warn:\n%s", i, logs[i].String())
		}
	}
	leader, follower := leaderOf(t, nodes)
	o := newOutsider(t, nil)
	if !o.forgeRPC(leader.cfg.BindAddr) {
		t.Fatal("forged write refused on a keyless cluster: the attack tool is broken")
	}
	me := []byte(o.trans.LocalAddr())
	hdr := raft.RPCHeader{ID: []byte("evil"), Addr: me}
	if err := o.trans.RequestVote("x", raft.ServerAddress(follower.cfg.BindAddr), &raft.RequestVoteRequest{RPCHeader: hdr, Term: math.MaxUint64 - 1}, &raft.RequestVoteResponse{}); err == nil {
		t.Fatal("wrapping term accepted")
	}
	if err := o.trans.InstallSnapshot("x", raft.ServerAddress(follower.cfg.BindAddr), &raft.InstallSnapshotRequest{RPCHeader: hdr, SnapshotVersion: 1, Term: follower.replica.Term(), LastLogIndex: 1 << 40, Size: 4},
		&raft.InstallSnapshotResponse{}, bytes.NewReader([]byte("junk"))); err == nil {
		t.Fatal("snapshot without configuration accepted")
	}
	if follower.replica.Term() > 1<<20 || follower.replica.RefusedRPCs() < 2 {
		t.Fatalf("term %d, refused %d", follower.replica.Term(), follower.replica.RefusedRPCs())
	}
}

// A node with another key cannot join a keyed ensemble.
func TestClusterKeyWrongKeyCannotJoin(t *testing.T) {
	key, other := NewClusterKey(), NewClusterKey()
	peers := []Peer{{ID: "a", Addr: loopbackAddr(t)}, {ID: "b", Addr: loopbackAddr(t)}, {ID: "c", Addr: loopbackAddr(t)}}
	open := func(i int, k []byte) (*Node, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return Open(ctx, Config{NodeID: peers[i].ID, BindAddr: peers[i].Addr, Peers: peers, ClusterKey: k, ElectionTimeout: 150 * time.Millisecond})
	}
	var wg sync.WaitGroup
	res := make([]error, 3)
	ns := make([]*Node, 3)
	for i, k := range [][]byte{key, other, other} {
		wg.Add(1)
		go func() { defer wg.Done(); ns[i], res[i] = open(i, k) }()
	}
	wg.Wait()
	for i, n := range ns {
		if n != nil {
			defer n.Abort()
		}
		if i == 0 && res[i] == nil {
			t.Fatal("the node with the odd key joined an ensemble")
		}
	}
	if (res[1] == nil) != (res[2] == nil) {
		t.Fatalf("b and c share a key: %v / %v", res[1], res[2])
	}
}

func TestClusterKeyConfig(t *testing.T) {
	bad := []Config{
		{ClusterKey: []byte("short")},
		{ClusterKey: NewClusterKey(), AcceptedClusterKeys: [][]byte{{1}}},
		{AcceptedClusterKeys: [][]byte{NewClusterKey()}},
		{ClusterKey: NewClusterKey(), Network: TLSNetwork{}},
		{ClusterKey: NewClusterKey(), Gossip: GossipConfig{Key: make([]byte, 32)}},
		{MaxSnapshotSize: -1},
	}
	for i, c := range bad {
		c.withDefaults()
		if err := c.validate(); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	k := NewClusterKey()
	if got, err := ParseClusterKey(" " + EncodeClusterKey(k) + "\n"); err != nil || !bytes.Equal(got, k) {
		t.Fatalf("round trip: %v", err)
	}
}

// Rotation midway: a node still presenting the old key (and accepting the
// new) and nodes presenting the new one (accepting the old) form one
// ensemble, writes through any of them reach all.
func TestClusterKeyRotation(t *testing.T) {
	oldK, newK := NewClusterKey(), NewClusterKey()
	nodes := openTCPCluster(t, 3, "rot", func(i int, cfg *Config) {
		cfg.ElectionTimeout = 150 * time.Millisecond
		if i == 0 {
			cfg.ClusterKey, cfg.AcceptedClusterKeys = oldK, [][]byte{newK}
		} else {
			cfg.ClusterKey, cfg.AcceptedClusterKeys = newK, [][]byte{oldK}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newSession(t, nodes[0], SessionConfig{})
	if _, err := s.Create(ctx, "/rotated", nil, Persistent, OpenACL); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		ns := newSession(t, n, SessionConfig{})
		if _, err := ns.Sync(ctx, "/"); err != nil {
			t.Fatal(err)
		}
		if ok, _, err := ns.Exists(ctx, "/rotated"); err != nil || !ok {
			t.Fatalf("node %d: %v %v", i, ok, err)
		}
	}
}
