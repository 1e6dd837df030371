package interop

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
	"syscall"
	"time"
)

// realZooKeeper is a standalone Apache ZooKeeper server running as a child
// process of the test binary, on a free loopback port with its own dataDir.
type realZooKeeper struct {
	addr    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been reaped
	waitErr error         // valid after exited is closed
}

// errZooKeeperMissing reports that no ZooKeeper installation was found; the
// caller skips (or fails under CI=true).
type errZooKeeperMissing struct{ why string }

func (e errZooKeeperMissing) Error() string { return "ZooKeeper not installed: " + e.why }

// zkInstall is what it takes to launch ZooKeeper: java plus a classpath.
type zkInstall struct {
	java      string
	classpath string
	binDir    string
}

// findZooKeeper locates a ZooKeeper install: $ZOOKEEPER_HOME/bin when set,
// else the Debian layout (/usr/share/zookeeper/bin) or an upstream tarball
// in /opt/zookeeper. The classpath is the one zkEnv.sh builds, so both the
// Debian package (whose jar carries a Class-Path manifest) and upstream
// tarballs (lib/*.jar) work.
func findZooKeeper() (*zkInstall, error) {
	candidates := []string{"/usr/share/zookeeper/bin", "/opt/zookeeper/bin"}
	if h := os.Getenv("ZOOKEEPER_HOME"); h != "" {
		candidates = []string{filepath.Join(h, "bin")} // an explicit choice: no fallback
	}
	var binDir string
	for _, c := range candidates {
		if fileExists(filepath.Join(c, "zkServer.sh")) && fileExists(filepath.Join(c, "zkEnv.sh")) {
			binDir = c
			break
		}
	}
	if binDir == "" {
		return nil, errZooKeeperMissing{fmt.Sprintf("no zkServer.sh/zkEnv.sh in %v", candidates)}
	}
	// Let zkEnv.sh compute CLASSPATH and JAVA the way zkServer.sh would.
	sh := exec.Command("bash", "-c", `. ./zkEnv.sh >/dev/null 2>&1; printf '%s\n%s\n' "$CLASSPATH" "${JAVA:-}"`)
	sh.Dir = binDir
	sh.Env = append(os.Environ(), "ZOOBINDIR="+binDir)
	out, err := sh.Output()
	if err != nil {
		return nil, errZooKeeperMissing{fmt.Sprintf("sourcing %s/zkEnv.sh: %v", binDir, err)}
	}
	lines := strings.SplitN(strings.TrimRight(string(out), "\n"), "\n", 2)
	cp := strings.TrimSpace(lines[0])
	java := ""
	if len(lines) > 1 {
		java = strings.TrimSpace(lines[1])
	}
	if java == "" || !fileExists(java) {
		if jh := os.Getenv("JAVA_HOME"); jh != "" && fileExists(filepath.Join(jh, "bin", "java")) {
			java = filepath.Join(jh, "bin", "java")
		} else if p, err := exec.LookPath("java"); err == nil {
			java = p
		} else {
			return nil, errZooKeeperMissing{"no java (JAVA_HOME unset, java not on PATH)"}
		}
	}
	if cp == "" {
		return nil, errZooKeeperMissing{binDir + "/zkEnv.sh produced an empty CLASSPATH"}
	}
	// The Debian jar's manifest names no slf4j binding: add slf4j-simple when
	// present so the server log (kept in the temp dir) is readable.
	if !strings.Contains(cp, "slf4j-simple") && !strings.Contains(cp, "logback") && fileExists("/usr/share/java/slf4j-simple.jar") {
		cp += ":/usr/share/java/slf4j-simple.jar"
	}
	return &zkInstall{java: java, classpath: cp, binDir: binDir}, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRealZooKeeper launches ZooKeeper in the foreground (the java command
// zkServer.sh start-foreground runs) and waits until it answers ruok.
func startRealZooKeeper() (*realZooKeeper, error) {
	inst, err := findZooKeeper()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		z, err := launchZooKeeper(inst)
		if err == nil {
			return z, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launchZooKeeper(inst *zkInstall) (*realZooKeeper, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "interop-zk-")
	if err != nil {
		return nil, err
	}
	z := &realZooKeeper{
		addr:    fmt.Sprintf("127.0.0.1:%d", port),
		dir:     dir,
		logPath: filepath.Join(dir, "server.log"),
		exited:  make(chan struct{}),
	}
	// tickTime=200 only shortens session timeouts ([2,20] ticks = 0.4-4s);
	// no scenario depends on the absolute tick.
	cfg := fmt.Sprintf(`tickTime=200
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
`, filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(z.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// These are system properties, not zoo.cfg keys: zkServer.sh passes
	// SERVER_JVMFLAGS/JVMFLAGS straight to java, which is what we do here.
	args := []string{
		"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.extendedTypesEnabled=true",
		"-Dznode.container.checkIntervalMs=100",
		"-Dzookeeper.admin.enableServer=false",
		// No fsync per txn: a slow disk could otherwise stall replies past
		// the 4s sessions' receive timeout. Nothing here tests durability.
		"-Dzookeeper.forceSync=no",
		"-Dzookeeper.log.dir=" + dir,
		"-cp", inst.classpath,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain",
		cfgPath,
	}
	cmd := exec.Command(inst.java, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Die with the test binary even if it is killed before cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", inst.java, err)
	}
	z.cmd = cmd
	go func() {
		z.waitErr = cmd.Wait()
		logf.Close()
		close(z.exited)
	}()

	deadline := time.Now().Add(45 * time.Second)
	for {
		// ruok answers imok as soon as the port is bound; srvr tells when
		// the server actually serves requests.
		if ok, _ := fourLetterWord(z.addr, "ruok"); ok == "imok" {
			if st, _ := fourLetterWord(z.addr, "srvr"); strings.Contains(st, "Mode:") {
				return z, nil
			}
		}
		select {
		case <-z.exited:
			tail := z.logTail(40)
			os.RemoveAll(dir)
			return nil, fmt.Errorf("zookeeper exited during startup (%v); log tail:\n%s", z.waitErr, tail)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tail := z.logTail(40)
			z.stop()
			return nil, fmt.Errorf("zookeeper did not answer ruok on %s within 45s; log tail:\n%s", z.addr, tail)
		}
	}
}

// fourLetterWord sends a four-letter word and returns the whole answer.
func fourLetterWord(addr, word string) (string, error) {
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

func (z *realZooKeeper) logTail(n int) string {
	b, err := os.ReadFile(z.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// stop kills the server and removes its directory.
func (z *realZooKeeper) stop() {
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
	os.RemoveAll(z.dir)
}

func isZooKeeperMissing(err error) bool {
	var m errZooKeeperMissing
	return errors.As(err, &m)
}
