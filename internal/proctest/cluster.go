package proctest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// HelperTest is the test that re-executed binaries run: it must call
// MaybeRunNode.
const HelperTest = "TestHelperNodeProcess"

// ClusterOptions configure a Cluster of node processes.
type ClusterOptions struct {
	Size              int           // number of nodes; zero means 3
	TickTime          time.Duration // zero means 100ms
	ElectionTimeout   time.Duration // zero means 500ms
	MaxSessionTimeout time.Duration // zero means 20 ticks
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// ClientPorts gives every node a ZooKeeper wire listener.
	ClientPorts bool
	// LogLevel of the nodes' logs (to their stderr, shown when a test
	// fails); zero means slog.LevelWarn.
	LogLevel slog.Level
	// Hook, if set, sees every line of every node process (on that
	// process's reader goroutine) after the Cluster's own bookkeeping;
	// lines it returns true for are not kept for Await.
	Hook func(node int, line string) bool
}

// Cluster is an ensemble of node processes on loopback TCP, each with a
// DataDir that survives Kill and Start.
type Cluster struct {
	t    testing.TB
	opts ClusterOptions
	cfgs []NodeConfig
	dir  string

	mu    sync.Mutex
	procs []*Proc  // current incarnations; nil before the first start; guarded by mu
	alive []bool   // guarded by mu
	roles []string // last ROLE line of the current incarnation; guarded by mu
	incs  []int    // incarnations started so far; guarded by mu
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when returned; nothing holds them.
func FreePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// NewCluster starts the node processes and waits until each has joined
// the ensemble. Cleanup kills them.
func NewCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	c := NewStoppedCluster(t, opts)
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	return c
}

// NewStoppedCluster prepares a cluster (ports, data directories) without
// starting any process.
func NewStoppedCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Size == 0 {
		opts.Size = 3
	}
	if opts.TickTime == 0 {
		opts.TickTime = 100 * time.Millisecond
	}
	if opts.ElectionTimeout == 0 {
		opts.ElectionTimeout = 500 * time.Millisecond
	}
	if opts.LogLevel == 0 {
		opts.LogLevel = slog.LevelWarn
	}
	n := opts.Size
	nports := n
	if opts.ClientPorts {
		nports *= 2
	}
	ports, err := FreePorts(nports)
	if err != nil {
		t.Fatalf("proctest: free ports: %v", err)
	}
	c := &Cluster{
		t: t, opts: opts, dir: t.TempDir(),
		procs: make([]*Proc, n), alive: make([]bool, n), roles: make([]string, n), incs: make([]int, n),
	}
	var peers []coord.Peer
	for i := 0; i < n; i++ {
		peers = append(peers, coord.Peer{ID: fmt.Sprintf("n%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", ports[i])})
	}
	for i := 0; i < n; i++ {
		cfg := NodeConfig{
			ID:                peers[i].ID,
			BindAddr:          peers[i].Addr,
			Peers:             peers,
			DataDir:           filepath.Join(c.dir, peers[i].ID),
			TickTime:          opts.TickTime,
			ElectionTimeout:   opts.ElectionTimeout,
			MaxSessionTimeout: opts.MaxSessionTimeout,
			SnapshotThreshold: opts.SnapshotThreshold,
			TrailingLogs:      opts.TrailingLogs,
			LogLevel:          opts.LogLevel,
		}
		if opts.ClientPorts {
			cfg.ClientAddr = fmt.Sprintf("127.0.0.1:%d", ports[n+i])
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	return c
}

// Size returns the number of nodes.
func (c *Cluster) Size() int { return len(c.cfgs) }

// Dir is a scratch directory that lives as long as the cluster.
func (c *Cluster) Dir() string { return c.dir }

// ClientAddr returns node i's ZooKeeper wire address ("" without
// ClientPorts).
func (c *Cluster) ClientAddr(i int) string { return c.cfgs[i].ClientAddr }

// Launch starts node i's process without waiting for it to join (a lone
// node cannot: it needs a quorum).
func (c *Cluster) Launch(i int) (*Proc, error) {
	c.mu.Lock()
	if c.alive[i] {
		c.mu.Unlock()
		return nil, fmt.Errorf("proctest: node %d is running", i)
	}
	c.incs[i]++
	inc := c.incs[i]
	c.roles[i] = ""
	c.alive[i] = true
	c.mu.Unlock()
	fail := func(err error) (*Proc, error) {
		c.mu.Lock()
		c.alive[i] = false
		c.mu.Unlock()
		return nil, err
	}

	js, err := json.Marshal(c.cfgs[i])
	if err != nil {
		return fail(err)
	}
	hook := func(line string) bool {
		if r, ok := strings.CutPrefix(line, "ROLE "); ok {
			c.mu.Lock()
			if c.incs[i] == inc && c.alive[i] {
				c.roles[i] = r
			}
			c.mu.Unlock()
		}
		if c.opts.Hook != nil {
			return c.opts.Hook(i, line)
		}
		return strings.HasPrefix(line, "ROLE ")
	}
	p, err := StartProc(c.t, ProcOptions{
		Name: fmt.Sprintf("%s#%d", c.cfgs[i].ID, inc),
		Args: []string{"-test.run=^" + HelperTest + "$"},
		Env:  []string{EnvHelper + "=1", envConfig + "=" + string(js)},
		Hook: hook,
	})
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	c.procs[i] = p
	c.mu.Unlock()
	return p, nil
}

// Start starts node i and waits until it has joined the ensemble.
func (c *Cluster) Start(i int) error {
	p, err := c.Launch(i)
	if err != nil {
		return err
	}
	_, err = p.Await("READY", 60*time.Second)
	return err
}

// StartAll starts every stopped node at once and waits until all joined.
func (c *Cluster) StartAll() error {
	var procs []*Proc
	for i := range c.cfgs {
		c.mu.Lock()
		alive := c.alive[i]
		c.mu.Unlock()
		if alive {
			continue
		}
		p, err := c.Launch(i)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	errs := make(chan error, len(procs))
	for _, p := range procs {
		go func() {
			_, err := p.Await("READY", 60*time.Second)
			errs <- err
		}()
	}
	var first error
	for range procs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Kill SIGKILLs node i and waits until it is reaped.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	p := c.procs[i]
	c.alive[i] = false
	c.roles[i] = "down"
	c.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// KillAll SIGKILLs every node at once.
func (c *Cluster) KillAll() {
	c.mu.Lock()
	procs := append([]*Proc(nil), c.procs...)
	for i := range c.alive {
		c.alive[i] = false
		c.roles[i] = "down"
	}
	c.mu.Unlock()
	for _, p := range procs {
		if p != nil {
			_ = p.cmd.Process.Kill()
		}
	}
	for _, p := range procs {
		if p != nil {
			p.Kill()
		}
	}
}

// Proc returns node i's current process (nil if never started).
func (c *Cluster) Proc(i int) *Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[i]
}

// Alive reports whether node i runs.
func (c *Cluster) Alive(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.alive[i]
}

// Incarnation returns how many times node i has been started.
func (c *Cluster) Incarnation(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.incs[i]
}

// Role returns the last role node i reported ("down" when killed).
func (c *Cluster) Role(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.roles[i]
}

// Leader waits up to timeout until exactly one running node reports that
// it leads and returns its index, or -1.
func (c *Cluster) Leader(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		li, count := -1, 0
		for i, r := range c.roles {
			if c.alive[i] && r == "leader" {
				li, count = i, count+1
			}
		}
		c.mu.Unlock()
		if count == 1 {
			return li
		}
		if time.Now().After(deadline) {
			return -1
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// LaunchNode starts one node process with cfg, outside any Cluster; hook
// sees its stdout lines as ProcOptions.Hook does.
func LaunchNode(t testing.TB, name string, cfg NodeConfig, hook func(line string) bool) (*Proc, error) {
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return StartProc(t, ProcOptions{
		Name: name,
		Args: []string{"-test.run=^" + HelperTest + "$"},
		Env:  []string{EnvHelper + "=1", envConfig + "=" + string(js)},
		Hook: hook,
	})
}
