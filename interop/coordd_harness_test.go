package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/zkreal"
)

// coordd processes for the tests that drive the daemon from the outside
// (go-zookeeper against an ensemble, zkCli, kazoo, the benchmark). The
// binary is built once per test binary; each node is a child process with
// its own dataDir, myid and zoo.cfg on free loopback ports, configured the
// way a ZooKeeper ensemble would be.

var (
	coorddOnce sync.Once
	coorddPath string
	coorddErr  error
)

// coorddBinary builds cmd/coordd once per test binary. It goes to a fixed
// per-user temp path, replaced atomically, because the package's TestMain
// (not ours to change) offers no hook to remove a per-run directory.
// COORDD=/path/to/coordd uses that binary instead (as scripts/zkServer.sh
// does), e.g. to benchmark an engine change against a baseline.
func coorddBinary(t testing.TB) string {
	t.Helper()
	coorddOnce.Do(func() {
		if p := os.Getenv("COORDD"); p != "" {
			coorddPath = p
			if _, err := os.Stat(p); err != nil {
				coorddErr = fmt.Errorf("COORDD: %w", err)
			}
			return
		}
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("coord-interop-%d", os.Getuid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			coorddErr = err
			return
		}
		tmp := filepath.Join(dir, fmt.Sprintf("coordd.%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/coordd")
		cmd.Dir = ".." // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			coorddErr = fmt.Errorf("go build ./cmd/coordd: %v\n%s", err, out)
			return
		}
		coorddPath = filepath.Join(dir, "coordd")
		coorddErr = os.Rename(tmp, coorddPath)
	})
	if coorddErr != nil {
		t.Fatalf("building coordd: %v", coorddErr)
	}
	return coorddPath
}

// needTool skips the test when an outside program is missing, except under
// CI=true, where it fails.
func needTool(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v (CI=true: a missing tool is a failure)", what, err)
	}
	t.Skipf("skipping: %s: %v (with CI=true this is a failure)", what, err)
}

// coorddNode is one coordd process.
type coorddNode struct {
	id         int
	dir        string // dataDir, holds myid and zoo.cfg
	cfgPath    string
	logPath    string
	clientAddr string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// coorddEnsemble is n coordd processes configured as one ZooKeeper
// ensemble (n == 1: standalone).
type coorddEnsemble struct {
	t     testing.TB
	bin   string
	nodes []*coorddNode
}

// coorddOptions are extra zoo.cfg lines and timing.
type coorddOptions struct {
	tickMs int    // tickTime; default 500 (sessions up to 10s)
	extra  string // more zoo.cfg lines
}

// startCoorddEnsemble starts n coordd processes and waits until each
// serves clients (answers srvr with a Mode).
func startCoorddEnsemble(t testing.TB, n int, opt coorddOptions) *coorddEnsemble {
	t.Helper()
	return startCoorddEnsembleWith(t, coorddBinary(t), n, opt)
}

// startCoorddEnsembleWith is startCoorddEnsemble with the coordd binary bin
// (another build, for upgrade tests).
func startCoorddEnsembleWith(t testing.TB, bin string, n int, opt coorddOptions) *coorddEnsemble {
	t.Helper()
	if opt.tickMs == 0 {
		opt.tickMs = 500
	}
	root := t.TempDir()
	e := &coorddEnsemble{t: t, bin: bin}
	var servers strings.Builder
	for i := 1; i <= n; i++ {
		cp, err1 := zkreal.FreePort()
		pp, err2 := zkreal.FreePort()
		ep, err3 := zkreal.FreePort()
		if err := firstErr(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		node := &coorddNode{id: i, dir: filepath.Join(root, fmt.Sprintf("srv%d", i)), clientAddr: fmt.Sprintf("127.0.0.1:%d", cp)}
		node.cfgPath = filepath.Join(node.dir, "zoo.cfg")
		node.logPath = filepath.Join(node.dir, "coordd.log")
		e.nodes = append(e.nodes, node)
		if n > 1 {
			fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i, pp, ep)
		}
	}
	for _, node := range e.nodes {
		if err := os.MkdirAll(node.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(node.dir, "myid"), []byte(fmt.Sprintf("%d\n", node.id)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, port, _ := strings.Cut(node.clientAddr, ":")
		cfg := fmt.Sprintf("tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\n"+
			"maxClientCnxns=0\n4lw.commands.whitelist=*\nznode.container.checkIntervalMs=1000\n%s%s",
			opt.tickMs, node.dir, port, opt.extra, servers.String())
		if err := os.WriteFile(node.cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.stopAll)
	for i := range e.nodes {
		e.start(i)
	}
	for i := range e.nodes {
		e.waitServing(i, 30*time.Second)
	}
	return e
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// start launches node i (again, after a kill: same dataDir and config).
func (e *coorddEnsemble) start(i int) {
	e.t.Helper()
	node := e.nodes[i]
	node.mu.Lock()
	defer node.mu.Unlock()
	logf, err := os.OpenFile(node.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.bin, node.cfgPath)
	cmd.Dir = node.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Die with the test binary even if it is killed before cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		e.t.Fatalf("start coordd %d: %v", node.id, err)
	}
	exited := make(chan struct{})
	node.cmd, node.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		logf.Close()
		node.mu.Lock()
		node.waitErr = err
		node.mu.Unlock()
		close(exited)
	}()
}

// running reports whether node i's process is alive.
func (e *coorddEnsemble) running(i int) bool {
	node := e.nodes[i]
	node.mu.Lock()
	ch := node.exited
	node.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

// waitServing waits until node i answers srvr with a Mode line.
func (e *coorddEnsemble) waitServing(i int, d time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if mode := e.mode(i); mode != "" {
			return mode
		}
		if !e.running(i) {
			e.t.Fatalf("coordd %d exited; log tail:\n%s", e.nodes[i].id, e.logTail(i, 30))
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("coordd %d does not serve after %v; log tail:\n%s", e.nodes[i].id, d, e.logTail(i, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mode is node i's srvr Mode ("" when it does not answer).
func (e *coorddEnsemble) mode(i int) string {
	out, err := zkreal.FourLetterWord(e.nodes[i].clientAddr, "srvr")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// leader returns the index of the node that says it leads, waiting until
// exactly one running node does.
func (e *coorddEnsemble) leader(d time.Duration) int {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		found := -1
		count := 0
		for i := range e.nodes {
			if e.running(i) && e.mode(i) == "leader" {
				found = i
				count++
			}
		}
		if count == 1 {
			return found
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no single leader after %v (%d say they lead)", d, count)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL to node i and waits until it is gone.
func (e *coorddEnsemble) kill(i int) {
	e.signal(i, syscall.SIGKILL, 10*time.Second)
}

// signal sends sig to node i and waits up to d for it to exit, killing it
// after that.
func (e *coorddEnsemble) signal(i int, sig syscall.Signal, d time.Duration) {
	node := e.nodes[i]
	node.mu.Lock()
	cmd, ch := node.cmd, node.exited
	node.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-ch:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-ch:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-ch
	}
}

func (e *coorddEnsemble) stopAll() {
	var wg sync.WaitGroup
	for i := range e.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.signal(i, syscall.SIGTERM, 5*time.Second)
		}()
	}
	wg.Wait()
	if e.t.Failed() {
		for i, node := range e.nodes {
			e.t.Logf("coordd %d log tail:\n%s", node.id, e.logTail(i, 25))
		}
	}
}

func (e *coorddEnsemble) addrs() []string {
	out := make([]string, len(e.nodes))
	for i, node := range e.nodes {
		out[i] = node.clientAddr
	}
	return out
}

func (e *coorddEnsemble) logTail(i, n int) string {
	b, err := os.ReadFile(e.nodes[i].logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
