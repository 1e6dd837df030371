// Package coordtest runs coord ensembles inside tests, the way
// net/http/httptest runs servers: n nodes in one process on an in-memory
// network, with timings in milliseconds, faults on demand (Kill, Restart,
// Partition, Heal) and a check that every replica agrees (WaitConverged).
//
//	e := coordtest.NewEnsemble(t, 3)
//	s := e.Session(e.Leader())
//	s.Create(ctx, "/x", nil, coord.Persistent, nil)
//	e.Partition([]int{0}, []int{1, 2})
//	...
//	e.Heal()
//	e.WaitConverged()
//
// Nodes run the same code as in production: raft over the cluster
// protocol, write forwarding, session heartbeats. Only the network (an
// in-memory one that can cut connections) and the stores (in memory, kept
// across Restart) differ.
package coordtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// TB is the part of testing.TB an Ensemble uses; *testing.T and
// *testing.B satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Log(args ...any)
}

// Options tune an ensemble. The zero value is what NewEnsemble uses.
type Options struct {
	// ElectionTimeout of every node; zero means 50ms.
	ElectionTimeout time.Duration
	// TickTime of every node; zero means 50ms (session timeouts then range
	// over [100ms, 1s]).
	TickTime time.Duration
	// LogLevel is the minimum level of the node logs sent to t.Log; nil
	// means slog.LevelWarn. Any slog.Level works as is (LogLevel:
	// slog.LevelInfo, or slog.LevelDebug), and a *slog.LevelVar changes it
	// while the ensemble runs, as with slog.HandlerOptions.Level.
	LogLevel slog.Leveler
	// Configure, if set, adjusts each node's Config before it opens.
	Configure func(i int, cfg *coord.Config)
}

// Ensemble is a set of coord nodes in one process.
type Ensemble struct {
	t    TB
	opts Options
	net  *memNetwork

	mu       sync.Mutex
	nodes    []*coord.Node // nil while killed; guarded by mu
	storages []*coord.MemoryStorage
	peers    []coord.Peer
	logDone  bool // guarded by mu: the test ended, drop logs

	// ZooKeeper wire servers, once ConnectString was called; guarded by mu.
	wire      []*zkserver.Server
	wireAddrs []string
}

// NewEnsemble starts an n-node ensemble and waits until it serves writes on
// every node. Cleanup closes it.
func NewEnsemble(t TB, n int) *Ensemble {
	return NewEnsembleWith(t, n, Options{})
}

// NewEnsembleWith is NewEnsemble with options.
func NewEnsembleWith(t TB, n int, opts Options) *Ensemble {
	t.Helper()
	if opts.ElectionTimeout == 0 {
		opts.ElectionTimeout = 50 * time.Millisecond
	}
	if opts.TickTime == 0 {
		opts.TickTime = 50 * time.Millisecond
	}
	if opts.LogLevel == nil {
		opts.LogLevel = slog.LevelWarn
	}
	e := &Ensemble{t: t, opts: opts, net: newMemNetwork(), nodes: make([]*coord.Node, n)}
	for i := 0; i < n; i++ {
		e.peers = append(e.peers, coord.Peer{ID: fmt.Sprintf("n%d", i), Addr: fmt.Sprintf("n%d:7000", i)})
		e.storages = append(e.storages, coord.NewMemoryStorage())
	}
	t.Cleanup(e.close)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = e.start(i)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("coordtest: node %d: %v", i, err)
		}
	}
	return e
}

func (e *Ensemble) config(i int) coord.Config {
	cfg := coord.Config{
		NodeID:                 e.peers[i].ID,
		BindAddr:               e.peers[i].Addr,
		Peers:                  e.peers,
		Network:                endpoint{net: e.net, self: e.peers[i].Addr},
		Storage:                e.storages[i],
		ElectionTimeout:        e.opts.ElectionTimeout,
		TickTime:               e.opts.TickTime,
		ContainerCheckInterval: 100 * time.Millisecond,
		Logger:                 slog.New(&tlogHandler{e: e, node: e.peers[i].ID, level: e.opts.LogLevel}),
	}
	if e.opts.Configure != nil {
		e.opts.Configure(i, &cfg)
	}
	return cfg
}

func (e *Ensemble) start(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := coord.Open(ctx, e.config(i))
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.nodes[i] = n
	e.mu.Unlock()
	return nil
}

func (e *Ensemble) close() {
	e.mu.Lock()
	nodes := append([]*coord.Node(nil), e.nodes...)
	e.mu.Unlock()
	for _, n := range nodes {
		if n != nil {
			_ = n.Abort()
		}
	}
	e.mu.Lock()
	e.logDone = true
	e.mu.Unlock()
}

// Size returns the number of nodes, killed ones included.
func (e *Ensemble) Size() int { return len(e.peers) }

// Node returns node i, or nil while it is killed.
func (e *Ensemble) Node(i int) *coord.Node {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nodes[i]
}

// Leader waits until a live node leads and returns it.
func (e *Ensemble) Leader() *coord.Node {
	e.t.Helper()
	return e.Node(e.LeaderIndex())
}

// currentLeader returns the index of a live node that believes it leads.
func (e *Ensemble) currentLeader() (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := range e.nodes {
		if n != nil && n.IsLeader() {
			return i, true
		}
	}
	return -1, false
}

// LeaderIndex waits until a live node leads and returns its index.
func (e *Ensemble) LeaderIndex() int {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if i, ok := e.currentLeader(); ok {
			return i
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.t.Fatalf("coordtest: no leader within 10s")
	return -1
}

// Session opens a session on node n, closed at cleanup.
func (e *Ensemble) Session(n *coord.Node) *coord.Session {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := n.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		e.t.Fatalf("coordtest: new session: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// Kill stops node i as a crash would (no goodbye to the ensemble); its
// stores are kept for Restart.
func (e *Ensemble) Kill(i int) {
	e.mu.Lock()
	n := e.nodes[i]
	e.nodes[i] = nil
	e.mu.Unlock()
	if n == nil {
		return
	}
	e.stopWire(i)
	e.net.down(e.peers[i].Addr)
	_ = n.Abort()
}

// Restart starts a killed node again from its stores and waits until it
// has caught up with the ensemble.
func (e *Ensemble) Restart(i int) {
	e.t.Helper()
	if e.Node(i) != nil {
		e.Kill(i)
	}
	e.net.up(e.peers[i].Addr)
	if err := e.start(i); err != nil {
		e.t.Fatalf("coordtest: restart node %d: %v", i, err)
	}
	if err := e.restartWire(i); err != nil {
		e.t.Fatalf("coordtest: serve ZooKeeper on node %d again: %v", i, err)
	}
}

// Partition splits the network: nodes in different groups cannot reach each
// other. Nodes not named form a group of their own.
func (e *Ensemble) Partition(groups ...[]int) {
	m := make(map[string]int)
	for i := range e.peers {
		m[e.peers[i].Addr] = -1 - i
	}
	for g, members := range groups {
		for _, i := range members {
			m[e.peers[i].Addr] = g
		}
	}
	e.net.partition(m)
}

// Heal undoes Partition.
func (e *Ensemble) Heal() { e.net.partition(map[string]int{}) }

// WaitConverged waits until every live node has applied the same changes:
// equal zxid and equal tree digest.
func (e *Ensemble) WaitConverged() {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, desc := e.converged()
		if ok {
			return
		}
		last = desc
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("coordtest: replicas did not converge: %s", last)
}

func (e *Ensemble) converged() (bool, string) {
	e.mu.Lock()
	nodes := append([]*coord.Node(nil), e.nodes...)
	e.mu.Unlock()
	var parts []string
	var first uint64
	var firstZ int64
	ok, seen := true, false
	for i, n := range nodes {
		if n == nil {
			continue
		}
		d, z := n.Digest()
		parts = append(parts, fmt.Sprintf("n%d zxid=%d digest=%x", i, z, d))
		if !seen {
			first, firstZ, seen = d, z, true
		} else if d != first || z != firstZ {
			ok = false
		}
	}
	return ok, strings.Join(parts, ", ")
}

// tlogHandler sends node logs to t.Log until the test ends.
type tlogHandler struct {
	e     *Ensemble
	node  string
	level slog.Leveler
	attrs []slog.Attr
}

func (h *tlogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *tlogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", h.node, r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.e.mu.Lock()
	done := h.e.logDone
	h.e.mu.Unlock()
	if !done {
		h.e.t.Log(b.String())
	}
	return nil
}

func (h *tlogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *tlogHandler) WithGroup(string) slog.Handler { return h }
