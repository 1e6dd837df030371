package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/netns"
	"github.com/coordkit/coord/internal/zkreal"
)

// Three-node ensembles, coordd or Apache ZooKeeper, whose servers run in
// the node namespaces of an internal/netns lab (one namespace per server,
// joined by a bridge in a hub namespace the clients dial from), so that a
// test can cut a server off from its peers with packet drops while its
// clients still reach it. Both kinds get the same zoo.cfg: tickTime=500,
// syncLimit=2 (a 1 s election timeout for coordd, and a 1 s limit for a
// ZooKeeper follower waiting on its leader), initLimit=10, client port 2181
// and quorum ports 2888/3888 on the node's own address.

const (
	partTickMs    = 500
	partSyncLimit = 2
	partNodes     = 3
)

// requireLab returns a fresh lab of partNodes nodes, deleted when tb ends;
// it skips tb when namespaces cannot be made here (fails under CI=true).
func requireLab(tb testing.TB) *netns.Lab {
	tb.Helper()
	if err := netns.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v (CI=true: this test needs root, iproute2 and nftables)", err)
		}
		tb.Skipf("skipping: %v (run as root with iproute2 and nftables; with CI=true this is a failure)", err)
	}
	lab, err := netns.New(partNodes)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := lab.Close(); err != nil {
			tb.Errorf("removing the lab: %v", err)
		}
	})
	return lab
}

// nsProc is one server process in a lab namespace.
type nsProc struct {
	logPath string
	mu      sync.Mutex
	cmd     interface{ Signal(os.Signal) error }
	exited  chan struct{}
}

// partServers is a three-node ensemble in a lab.
type partServers struct {
	tb    testing.TB
	kind  string // "coordd" or "zookeeper"
	lab   *netns.Lab
	argv  func(i int) []string // the server command for node i
	procs []*nsProc
}

func (s *partServers) clientAddr(i int) string { return s.lab.Addrs[i] + ":2181" }

// partConfig is node i's zoo.cfg.
func partConfig(lab *netns.Lab, dataDir string, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=%d\ndataDir=%s\nclientPort=2181\nclientPortAddress=%s\n"+
		"maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n", partTickMs, partSyncLimit, dataDir, lab.Addrs[i])
	for j, a := range lab.Addrs {
		fmt.Fprintf(&b, "server.%d=%s:2888:3888\n", j+1, a)
	}
	return b.String()
}

// startPartServers starts a three-node ensemble of kind in lab and waits
// until every node serves. Without ZooKeeper installed a zookeeper
// ensemble skips tb (fails it under CI=true).
func startPartServers(tb testing.TB, lab *netns.Lab, kind string) *partServers {
	tb.Helper()
	s := &partServers{tb: tb, kind: kind, lab: lab}
	root := tb.TempDir()
	cfgs := make([]string, partNodes)
	for i := range partNodes {
		dir := filepath.Join(root, fmt.Sprintf("srv%d", i+1))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			tb.Fatal(err)
		}
		cfgs[i] = filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfgs[i], []byte(partConfig(lab, data, i)), 0o644); err != nil {
			tb.Fatal(err)
		}
		s.procs = append(s.procs, &nsProc{logPath: filepath.Join(dir, "server.log")})
	}
	switch kind {
	case "coordd":
		bin := coorddBinary(tb)
		s.argv = func(i int) []string { return []string{bin, cfgs[i]} }
	case "zookeeper":
		inst, err := findZooKeeper()
		if err != nil {
			zkreal.SkipOrFail(tb, err)
			tb.Fatal(err)
		}
		s.argv = func(i int) []string {
			return []string{inst.Java, "-Xmx256m", "-XX:+UseSerialGC",
				"-Dzookeeper.admin.enableServer=false",
				"-Dzookeeper.log.dir=" + filepath.Dir(cfgs[i]),
				"-cp", inst.Classpath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgs[i]}
		}
	default:
		tb.Fatalf("unknown server kind %q", kind)
	}
	tb.Cleanup(s.stopAll)
	for i := range partNodes {
		s.start(i)
	}
	for i := range partNodes {
		s.waitServing(i, 60*time.Second)
	}
	return s
}

// start launches node i (again after a kill: same dataDir and zoo.cfg).
func (s *partServers) start(i int) {
	s.tb.Helper()
	p := s.procs[i]
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.tb.Fatal(err)
	}
	argv := s.argv(i)
	cmd := s.lab.Command(i, argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(p.logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// ip netns exec execs the server: it is this process, and dies with
	// the test binary even if that is killed before its cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.tb.Fatalf("start %s %d: %v", s.kind, i+1, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd.Process, exited
	p.mu.Unlock()
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
}

func (s *partServers) running(i int) bool {
	p := s.procs[i]
	p.mu.Lock()
	ch := p.exited
	p.mu.Unlock()
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

// signal sends sig to node i and waits up to d for it to exit (then
// SIGKILL).
func (s *partServers) signal(i int, sig syscall.Signal, d time.Duration) {
	p := s.procs[i]
	p.mu.Lock()
	proc, ch := p.cmd, p.exited
	p.mu.Unlock()
	if proc == nil {
		return
	}
	select {
	case <-ch:
		return
	default:
	}
	_ = proc.Signal(sig)
	select {
	case <-ch:
	case <-time.After(d):
		_ = proc.Signal(syscall.SIGKILL)
		<-ch
	}
}

func (s *partServers) kill(i int) { s.signal(i, syscall.SIGKILL, 10*time.Second) }

func (s *partServers) stopAll() {
	var wg sync.WaitGroup
	for i := range s.procs {
		wg.Add(1)
		go func() { defer wg.Done(); s.signal(i, syscall.SIGTERM, 5*time.Second) }()
	}
	wg.Wait()
	if s.tb.Failed() {
		for i := range s.procs {
			s.tb.Logf("%s %d log tail:\n%s", s.kind, i+1, s.logTail(i, 20))
		}
	}
}

func (s *partServers) logTail(i, n int) string {
	b, err := os.ReadFile(s.procs[i].logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fourLetter sends a four-letter word to node i from the hub.
func (s *partServers) fourLetter(i int, word string) (string, error) {
	c, err := s.lab.Dial("tcp", s.clientAddr(i), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String(), nil
}

// mode is node i's srvr Mode ("" when it does not answer with one).
func (s *partServers) mode(i int) string {
	out, err := s.fourLetter(i, "srvr")
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

func (s *partServers) waitServing(i int, d time.Duration) {
	s.tb.Helper()
	deadline := time.Now().Add(d)
	for s.mode(i) == "" {
		if !s.running(i) {
			s.tb.Fatalf("%s %d exited; log tail:\n%s", s.kind, i+1, s.logTail(i, 30))
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("%s %d does not serve after %v; log tail:\n%s", s.kind, i+1, d, s.logTail(i, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leader waits until exactly one running node says it leads.
func (s *partServers) leader(d time.Duration) int {
	s.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		found, count := -1, 0
		for i := range s.procs {
			if s.running(i) && s.mode(i) == "leader" {
				found, count = i, count+1
			}
		}
		if count == 1 {
			return found
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("%s: no single leader after %v (%d say they lead)", s.kind, d, count)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
