package coord_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/proctest"
)

// TestGossipProcesses forms an ensemble of three OS processes from one
// gossip seed with BootstrapExpect 3 and the LAN default timings, then
// kills the leader with SIGKILL. It reports the two figures operators ask
// for: process start to serving writes, and kill -9 to writes resuming.
func TestGossipProcesses(t *testing.T) {
	ports, err := proctest.FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seed := fmt.Sprintf("127.0.0.1:%d", ports[3])
	var mu sync.Mutex
	roles := make([]string, 3)
	procs := make([]*proctest.Proc, 3)
	start := time.Now()
	for i := 0; i < 3; i++ {
		cfg := proctest.NodeConfig{
			ID:              fmt.Sprintf("g%d", i),
			BindAddr:        fmt.Sprintf("127.0.0.1:%d", ports[i]),
			GossipAddr:      fmt.Sprintf("127.0.0.1:%d", ports[3+i]),
			BootstrapExpect: 3,
			DataDir:         filepath.Join(dir, fmt.Sprint(i)),
			TickTime:        200 * time.Millisecond,
		}
		if i > 0 {
			cfg.Join = []string{seed}
		}
		i := i
		p, err := proctest.LaunchNode(t, cfg.ID, cfg, func(line string) bool {
			if r, ok := strings.CutPrefix(line, "ROLE "); ok {
				mu.Lock()
				roles[i] = r
				mu.Unlock()
				return true
			}
			return false
		})
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	for i, p := range procs {
		if _, err := p.Await("READY", 60*time.Second); err != nil {
			t.Fatalf("node %d: %v\n%s", i, err, p.StderrTail())
		}
	}
	// READY follows Open and a session's creation: a committed write.
	t.Logf("3 processes started to ensemble serving writes: %v", time.Since(start))

	leader := -1
	deadline := time.Now().Add(10 * time.Second)
	for leader < 0 && time.Now().Before(deadline) {
		mu.Lock()
		for i, r := range roles {
			if r == "leader" {
				leader = i
			}
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	if leader < 0 {
		t.Fatal("no process reported leading")
	}
	survivor := procs[(leader+1)%3]
	killed := time.Now()
	procs[leader].Kill()
	if _, err := survivor.Call("EPH", 30*time.Second, "eph /after-kill 4000"); err != nil {
		t.Fatalf("write after the leader's kill: %v\n%s", err, survivor.StderrTail())
	}
	t.Logf("leader kill -9 to a write acknowledged by a survivor: %v (election timeout 1s)", time.Since(killed))
}
