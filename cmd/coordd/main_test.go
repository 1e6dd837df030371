package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is run() in a goroutine, stopped by cancelling its context as a
// signal would.
type daemon struct {
	cancel context.CancelFunc
	done   chan int
	log    *syncBuffer
}

func startDaemon(args ...string) *daemon {
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{cancel: cancel, done: make(chan int, 1), log: &syncBuffer{}}
	go func() { d.done <- run(ctx, args, io.Discard, d.log) }()
	return d
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		if code != 0 {
			t.Errorf("coordd exited %d; log:\n%s", code, d.log.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("coordd did not stop within 20s; log:\n%s", d.log.String())
	}
}

func status(args ...string) (string, int) {
	var out, errOut strings.Builder
	code := run(context.Background(), append([]string{"status"}, args...), &out, &errOut)
	return out.String() + errOut.String(), code
}

func waitStatus(t *testing.T, d *daemon, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, code := status(args...)
		if code == 0 {
			return out
		}
		select {
		case c := <-d.done:
			t.Fatalf("coordd exited %d; log:\n%s", c, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never succeeded: %s\nlog:\n%s", out, d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunStandaloneAndStatus(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	body := fmt.Sprintf("tickTime=100\ndataDir=%s\ndataLogDir=%s/log\nclientPort=%d\nclientPortAddress=127.0.0.1\nfuture.key=1\n", dir, dir, port)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := status(cfg); code != 1 || !strings.Contains(out, "It is probably not running") {
		t.Fatalf("status before start: %d %q", code, out)
	}
	d := startDaemon("-log-level", "debug", cfg)
	out := waitStatus(t, d, cfg)
	if !strings.Contains(out, "Mode: standalone") || !strings.Contains(out, fmt.Sprintf("Client port found: %d", port)) {
		t.Fatalf("status: %q", out)
	}
	d.stop(t)
	log := d.log.String()
	for _, want := range []string{"unknown key future.key", "dataLogDir", "serving", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "raft")); err != nil {
		t.Errorf("no raft store in dataDir: %v", err)
	}
}

func TestRunVersionAndBadUsage(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"-version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "coordd ") {
		t.Fatalf("-version: %d %q %q", code, out.String(), errOut.String())
	}
	for _, args := range [][]string{{"-nope"}, {"a.cfg", "b.cfg"}, {"-log-level", "loud"}, {filepath.Join(t.TempDir(), "missing.cfg")}} {
		out.Reset()
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}

// TestRunEnsemble starts three daemons from zoo.cfg files with server.N
// lines and myid files, as three ZooKeeper servers would be configured.
func TestRunEnsemble(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	root := t.TempDir()
	const n = 3
	var servers strings.Builder
	client := make([]int, n)
	for i := range n {
		client[i] = freePort(t)
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i+1, freePort(t), freePort(t))
	}
	// The ensemble's cluster port is keyed, as a production one should be.
	keyFile := filepath.Join(root, "cluster.key")
	if err := os.WriteFile(keyFile, []byte(coord.EncodeClusterKey(coord.NewClusterKey())), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&servers, "coord.clusterKeyFile=%s\n", keyFile)
	cfgs := make([]string, n)
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("srv%d", i+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgs[i] = filepath.Join(dir, "zoo.cfg")
		body := fmt.Sprintf("tickTime=100\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n%s",
			dir, client[i], servers.String())
		if err := os.WriteFile(cfgs[i], []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ds := make([]*daemon, n)
	for i := range n {
		ds[i] = startDaemon(cfgs[i])
	}
	modes := map[string]int{}
	for i := range n {
		out := waitStatus(t, ds[i], cfgs[i])
		for _, m := range []string{"leader", "follower"} {
			if strings.Contains(out, "Mode: "+m) {
				modes[m]++
			}
		}
	}
	// Leadership may move between two status calls; what matters is that
	// every server answers as a member of an ensemble.
	if modes["leader"]+modes["follower"] != n || modes["leader"] > 1 {
		t.Errorf("modes %v", modes)
	}
	for i, d := range ds {
		if strings.Contains(d.log.String(), "UNAUTHENTICATED") {
			t.Errorf("server %d runs an unauthenticated cluster port despite coord.clusterKeyFile", i+1)
		}
		d.stop(t)
	}
}

// Asked-for help goes to standard output with status 0; a bad flag to
// standard error with status 2 (as coordctl does).
func TestHelpConvention(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"status", "-h"}} {
		var out, errOut strings.Builder
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if !strings.Contains(out.String(), "usage: coordd") || errOut.Len() != 0 {
			t.Errorf("%v: stdout %q, stderr %q", args, out.String(), errOut.String())
		}
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"-no-such-flag"}, &out, &errOut); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "usage: coordd") || !strings.Contains(errOut.String(), "no-such-flag") {
		t.Errorf("bad flag: stdout %q, stderr %q", out.String(), errOut.String())
	}
}
