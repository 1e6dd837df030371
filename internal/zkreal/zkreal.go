// Package zkreal runs a real Apache ZooKeeper (3.8) server as a child
// process of a test binary: it finds the install ($ZOOKEEPER_HOME, else the
// Debian layout in /usr/share/zookeeper or an upstream tarball in
// /opt/zookeeper), builds the java classpath the way zkEnv.sh does, writes
// a zoo.cfg in a fresh directory, starts java on a free loopback port and
// waits until the server answers ruok and srvr.
//
// When ZooKeeper is not installed, Start and StartN skip the test, or fail
// it under CI=true, where ZooKeeper is expected.
//
// The package imports no ZooKeeper client: it only speaks four-letter
// words.
package zkreal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Install is what it takes to launch ZooKeeper: java plus a classpath.
type Install struct {
	Java      string // the java binary
	Classpath string // as zkEnv.sh builds it
	BinDir    string // holds zkServer.sh, zkEnv.sh (and usually zkCli.sh)
}

// MissingError reports that no usable ZooKeeper installation was found.
type MissingError struct{ Why string }

func (e MissingError) Error() string { return "ZooKeeper not installed: " + e.Why }

// IsMissing reports whether err says ZooKeeper is not installed.
func IsMissing(err error) bool {
	var m MissingError
	return errors.As(err, &m)
}

// Find locates a ZooKeeper install: $ZOOKEEPER_HOME/bin when set (an
// explicit choice: no fallback), else /usr/share/zookeeper/bin or
// /opt/zookeeper/bin. The classpath is the one zkEnv.sh builds, so both the
// Debian package (whose jar carries a Class-Path manifest) and upstream
// tarballs (lib/*.jar) work. Its errors are MissingErrors.
func Find() (*Install, error) {
	candidates := []string{"/usr/share/zookeeper/bin", "/opt/zookeeper/bin"}
	if h := os.Getenv("ZOOKEEPER_HOME"); h != "" {
		candidates = []string{filepath.Join(h, "bin")}
	}
	var binDir string
	for _, c := range candidates {
		if fileExists(filepath.Join(c, "zkServer.sh")) && fileExists(filepath.Join(c, "zkEnv.sh")) {
			binDir = c
			break
		}
	}
	if binDir == "" {
		return nil, MissingError{fmt.Sprintf("no zkServer.sh/zkEnv.sh in %v", candidates)}
	}
	// Let zkEnv.sh compute CLASSPATH and JAVA the way zkServer.sh would.
	sh := exec.Command("bash", "-c", `. ./zkEnv.sh >/dev/null 2>&1; printf '%s\n%s\n' "$CLASSPATH" "${JAVA:-}"`)
	sh.Dir = binDir
	sh.Env = append(os.Environ(), "ZOOBINDIR="+binDir)
	out, err := sh.Output()
	if err != nil {
		return nil, MissingError{fmt.Sprintf("sourcing %s/zkEnv.sh: %v", binDir, err)}
	}
	lines := strings.SplitN(strings.TrimRight(string(out), "\n"), "\n", 2)
	cp, java := strings.TrimSpace(lines[0]), ""
	if len(lines) > 1 {
		java = strings.TrimSpace(lines[1])
	}
	if java == "" || !fileExists(java) {
		if jh := os.Getenv("JAVA_HOME"); jh != "" && fileExists(filepath.Join(jh, "bin", "java")) {
			java = filepath.Join(jh, "bin", "java")
		} else if p, err := exec.LookPath("java"); err == nil {
			java = p
		} else {
			return nil, MissingError{"no java (JAVA_HOME unset, java not on PATH)"}
		}
	}
	if cp == "" {
		return nil, MissingError{binDir + "/zkEnv.sh produced an empty CLASSPATH"}
	}
	return &Install{Java: java, Classpath: cp, BinDir: binDir}, nil
}

// WithSlf4jSimple returns a copy of in whose classpath ends with
// /usr/share/java/slf4j-simple.jar when that exists and the classpath has
// no logging backend: the Debian jar's manifest names no slf4j binding, so
// without one the server log says nothing useful.
func (in *Install) WithSlf4jSimple() *Install {
	c := *in
	if !strings.Contains(c.Classpath, "slf4j-simple") && !strings.Contains(c.Classpath, "logback") && fileExists("/usr/share/java/slf4j-simple.jar") {
		c.Classpath += ":/usr/share/java/slf4j-simple.jar"
	}
	return &c
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// SkipOrFail skips t when err says ZooKeeper is missing, or fails it under
// CI=true, where ZooKeeper is expected. Other errors (and nil) it leaves to
// the caller.
func SkipOrFail(t testing.TB, err error) {
	t.Helper()
	if !IsMissing(err) {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: install the Debian package zookeeper or set ZOOKEEPER_HOME)", err)
	}
	t.Skipf("skipping: %v (install the Debian package zookeeper or set ZOOKEEPER_HOME to run it; with CI=true this is a failure)", err)
}

// Require returns the install Find finds, or skips t (fails it under
// CI=true).
func Require(t testing.TB) *Install {
	t.Helper()
	inst, err := Find()
	if err != nil {
		SkipOrFail(t, err)
		t.Fatal(err)
	}
	return inst
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1. It is free
// when returned; nothing holds it.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FourLetterWord sends a four-letter word to addr and returns the whole
// answer.
func FourLetterWord(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		return "", err
	}
	return string(b), nil
}

// Config returns the lines of a zoo.cfg for a server with dataDir, serving
// clients on 127.0.0.1:clientPort, with every four-letter word and without
// the admin server or a connection limit. A quorum appends its server.N
// lines.
func Config(tickMs int, dataDir string, clientPort int) string {
	return fmt.Sprintf(`tickTime=%d
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
`, tickMs, dataDir, clientPort)
}

// Options configure the standalone servers of Launch, Start and StartN.
type Options struct {
	// Install to run; nil means Find's.
	Install *Install
	// DirPrefix names the server's temporary directory (os.MkdirTemp);
	// empty means "zkreal-".
	DirPrefix string
	// JVMFlags are added to the standard ones (a small heap, a quick JIT,
	// extended types, no admin server, no fsync per transaction), e.g.
	// more -D system properties.
	JVMFlags []string
}

// Launch starts a standalone server as opts say, in a fresh temporary
// directory on a free loopback port, and waits until it serves. A failed
// start is retried twice (a free port may be taken meanwhile). When
// ZooKeeper is not installed the error IsMissing. Stop the server when
// done.
func Launch(opts Options) (*Server, error) {
	inst := opts.Install
	if inst == nil {
		var err error
		if inst, err = Find(); err != nil {
			return nil, err
		}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		z, err := launch(inst, opts)
		if err == nil {
			return z, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(inst *Install, opts Options) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	prefix := opts.DirPrefix
	if prefix == "" {
		prefix = "zkreal-"
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	// tickTime=200 only shortens session timeouts ([2,20] ticks = 0.4-4s).
	// The flags are system properties, not zoo.cfg keys: zkServer.sh passes
	// SERVER_JVMFLAGS/JVMFLAGS straight to java, which is what Spawn does.
	flags := append([]string{
		"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.extendedTypesEnabled=true",
		"-Dzookeeper.admin.enableServer=false",
		// No fsync per txn: a slow disk could otherwise stall replies past
		// short sessions' receive timeouts. Nothing here tests durability.
		"-Dzookeeper.forceSync=no",
	}, opts.JVMFlags...)
	z, err := Spawn(inst, Process{
		Dir:        dir,
		Config:     Config(200, filepath.Join(dir, "data"), port),
		ClientPort: port,
		JVMFlags:   flags,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := z.WaitServing(time.Now().Add(45 * time.Second)); err != nil {
		z.Stop()
		return nil, err
	}
	return z, nil
}

// Start launches a standalone server (see Launch) that is stopped when t
// and its subtests complete. It skips t when ZooKeeper is not installed
// (fails it under CI=true) and fails t when the server does not start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	return StartN(t, 1, opts)[0]
}

// StartN is Start for n independent standalone servers, started in
// parallel.
func StartN(t testing.TB, n int, opts Options) []*Server {
	t.Helper()
	if opts.Install == nil {
		opts.Install = Require(t)
	}
	zks := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range zks {
		wg.Add(1)
		go func() { defer wg.Done(); zks[i], errs[i] = Launch(opts) }()
	}
	wg.Wait()
	for _, z := range zks {
		if z != nil {
			t.Cleanup(z.Stop)
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return zks
}

// Process describes one server process for Spawn.
type Process struct {
	// Dir is the server's directory: its working directory, log dir and
	// the home of zoo.cfg and server.log. It must exist; Stop removes it.
	Dir string
	// Config is zoo.cfg's content (see Config).
	Config string
	// ClientPort is the clientPort Config names, on 127.0.0.1.
	ClientPort int
	// JVMFlags come before -Dzookeeper.log.dir and the classpath.
	JVMFlags []string
}

// Server is a ZooKeeper server running as a child process.
type Server struct {
	Addr    string // client address, 127.0.0.1:port
	Dir     string
	LogPath string // the server's stdout and stderr

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been reaped
	waitErr error         // valid after exited is closed
}

// Spawn starts the java command zkServer.sh start-foreground runs, with
// p's zoo.cfg, and returns without waiting for the server to serve (the
// servers of a quorum only serve once enough of them run): see
// WaitServing. Stop it when done.
func Spawn(inst *Install, p Process) (*Server, error) {
	cfgPath := filepath.Join(p.Dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(p.Config), 0o644); err != nil {
		return nil, err
	}
	z := &Server{
		Addr:    fmt.Sprintf("127.0.0.1:%d", p.ClientPort),
		Dir:     p.Dir,
		LogPath: filepath.Join(p.Dir, "server.log"),
		exited:  make(chan struct{}),
	}
	logf, err := os.Create(z.LogPath)
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), p.JVMFlags...),
		"-Dzookeeper.log.dir="+p.Dir,
		"-cp", inst.Classpath,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain",
		cfgPath)
	cmd := exec.Command(inst.Java, args...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	setSysProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", inst.Java, err)
	}
	z.cmd = cmd
	go func() {
		z.waitErr = cmd.Wait()
		logf.Close()
		close(z.exited)
	}()
	return z, nil
}

// WaitServing waits until the server answers ruok (which it does as soon
// as its port is bound) and srvr with a Mode (it actually serves
// requests), until deadline. Its errors carry the log's tail.
func (z *Server) WaitServing(deadline time.Time) error {
	for {
		if ok, _ := FourLetterWord(z.Addr, "ruok"); ok == "imok" {
			if st, _ := FourLetterWord(z.Addr, "srvr"); strings.Contains(st, "Mode:") {
				return nil
			}
		}
		select {
		case <-z.exited:
			return fmt.Errorf("zookeeper %s exited during startup (%v); log tail:\n%s", z.Addr, z.waitErr, z.LogTail(40))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zookeeper did not serve on %s in time; log tail:\n%s", z.Addr, z.LogTail(40))
		}
	}
}

// LogTail returns the last n lines of the server's log.
func (z *Server) LogTail(n int) string {
	b, err := os.ReadFile(z.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Stop kills the server (SIGTERM, then SIGKILL after 3s), waits for it and
// removes its directory. It may be called more than once.
func (z *Server) Stop() {
	if z.cmd != nil && z.cmd.Process != nil {
		select {
		case <-z.exited:
		default:
			_ = z.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-z.exited:
			case <-time.After(3 * time.Second):
				_ = z.cmd.Process.Kill()
				<-z.exited
			}
		}
	}
	os.RemoveAll(z.Dir)
}
