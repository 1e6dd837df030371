package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// buildCoordd builds this package's binary once per test run.
var buildCoordd = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "coordd-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "coordd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// lockedBuffer collects a process's output for a test to read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestShutdownWithDataDirRemoved is the incident where coordd processes
// whose data directories had been removed kept running for hours after
// SIGTERM: badger retried a failing memtable flush forever and Close never
// returned. A coordd whose data directory disappears must stop, by itself
// once its store fails or at SIGTERM within -close-timeout, non-zero, and
// say what it could not finish.
func TestShutdownWithDataDirRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs coordd")
	}
	bin, err := buildCoordd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	port := freePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	body := fmt.Sprintf("tickTime=100\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", data, port)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	const closeTimeout = 3 * time.Second
	var logs lockedBuffer
	cmd := exec.Command(bin, "-close-timeout", closeTimeout.String(), cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "serving") {
		if time.Now().After(deadline) {
			t.Fatalf("coordd did not start:\n%s", logs.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("coordd exited: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	conn, _, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", port)}, 5*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	value := bytes.Repeat([]byte("x"), 64<<10)
	for i := 0; i < 20; i++ {
		if _, err := conn.Create(fmt.Sprintf("/before-%d", i), value, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	// Keep writing until the store must flush a memtable into the missing
	// directory (8 MiB memtables) or the node stops by itself.
	var stoppedByItself bool
	for i := 0; i < 400; i++ {
		select {
		case err := <-exited:
			exited <- err
			stoppedByItself = true
		default:
		}
		if stoppedByItself {
			break
		}
		if _, err := conn.Create(fmt.Sprintf("/after-%d", i), value, 0, zk.WorldACL(zk.PermAll)); err != nil {
			break // the node is failing: good enough, stop it
		}
	}
	signalled := time.Now()
	if !stoppedByItself {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case err := <-exited:
		t.Logf("coordd exited after %v (stopped by itself: %v): %v", time.Since(signalled).Round(time.Millisecond), stoppedByItself, err)
		var ee *exec.ExitError
		if err == nil {
			// A store that still managed to close is fine, as long as it
			// was bounded; nothing more to check.
			return
		}
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("coordd exit: %v\n%s", err, logs.String())
		}
		out := logs.String()
		if !strings.Contains(out, "did not stop in time") && !strings.Contains(out, "the node stopped") {
			t.Fatalf("coordd exited non-zero without saying what it could not finish:\n%s", out)
		}
	case <-time.After(closeTimeout + 10*time.Second):
		t.Fatalf("coordd still running %v after SIGTERM with -close-timeout %v:\n%s", closeTimeout+10*time.Second, closeTimeout, logs.String())
	}
}
