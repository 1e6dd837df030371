package recipe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// These tests run Python kazoo (the Debian package python3-kazoo) against
// an in-process node's ZooKeeper wire protocol, contending with the Go
// recipes on the same paths: the layouts interoperate in fact, not only on
// paper. They skip when no python3 imports kazoo.

const kazooPeer = `
import json, os, sys, time, logging
logging.basicConfig(level=logging.ERROR)
from kazoo.client import KazooClient

hosts, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
c = KazooClient(hosts=hosts, timeout=10.0)
c.start(timeout=15)

def say(*xs):
    print(*xs)
    sys.stdout.flush()

def hold():
    say("ready")
    sys.stdin.read()  # until the Go side closes our stdin

def note(out, tag, i):
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, ("%s py %d\n" % (tag, i)).encode())
    finally:
        os.close(fd)

if mode == "lock":  # out rounds hold: take turns with Go on /interop/lock
    out, rounds, pause = args[0], int(args[1]), float(args[2])
    say("ready")
    for i in range(rounds):
        lock = c.Lock("/interop/lock", "py")
        if not lock.acquire(timeout=20):
            sys.exit("lock not acquired")
        note(out, "enter", i)
        time.sleep(pause)
        note(out, "exit", i)
        lock.release()
elif mode == "hold-lock":
    lock = c.Lock(args[0], "py")
    lock.acquire(timeout=20)
    hold()
    lock.release()
elif mode == "contenders":
    say(json.dumps(c.Lock(args[0]).contenders()))
elif mode == "election":  # lead until the Go candidate queues, then resign
    el = c.Election("/interop/election", "py")
    def lead():
        say("leading")
        deadline = time.time() + 10
        while len(el.contenders()) < 2 and time.time() < deadline:
            time.sleep(0.02)
        say(json.dumps(el.contenders()))
    el.run(lead)
elif mode == "counter":
    cnt = c.Counter("/interop/counter")
    for _ in range(int(args[0])):
        cnt += 1
elif mode == "queue-put":
    q = c.Queue("/interop/queue")
    q.put(b"py-1")
    q.put(b"py-urgent", priority=1)
    q.put(b"py-2")
elif mode == "queue-get":
    q = c.Queue("/interop/queue2")
    items = []
    for _ in range(int(args[0])):
        items.append(q.get().decode())
    say(json.dumps(items))
elif mode == "party":
    p = c.Party("/interop/party", "py")
    p.join()
    say("ready")
    deadline = time.time() + 10
    while len(p) < 2 and time.time() < deadline:
        time.sleep(0.02)
    say(json.dumps(sorted(p)))
    sys.stdin.read()
    p.leave()
elif mode == "semaphore":
    s = c.Semaphore("/interop/sem", "py", max_leases=1)
    s.acquire(timeout=20)
    hold()
    s.release()
elif mode == "rlock":
    lock = c.ReadLock("/interop/rw", "py")
    lock.acquire(timeout=20)
    hold()
    lock.release()
elif mode == "double-barrier":
    b = c.DoubleBarrier("/interop/dbarrier", 2, "py")
    b.enter()
    say("entered")
    b.leave()
    say("left")
else:
    sys.exit("unknown mode " + mode)
c.stop()
c.close()
`

// kazooPython returns a python3 that imports kazoo, or skips the test.
func kazooPython(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if err := exec.Command(p, "-c", "import kazoo.client, kazoo.recipe.lock").Run(); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no python3 with kazoo (Debian package python3-kazoo); CI must install it")
	}
	t.Skip("no python3 with kazoo (Debian package python3-kazoo)")
	return ""
}

// kazooEnv is a node serving the ZooKeeper wire protocol and a script to
// run kazoo peers against it.
type kazooEnv struct {
	t      *testing.T
	py     string
	script string
	hosts  string
	node   *coord.Node
}

func newKazooEnv(t *testing.T) *kazooEnv {
	py := kazooPython(t)
	ctx := context.Background()
	n, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := zkserver.Listen("127.0.0.1:0", n, zkserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close()
		_ = n.Close(ctx)
	})
	script := filepath.Join(t.TempDir(), "peer.py")
	if err := os.WriteFile(script, []byte(kazooPeer), 0o644); err != nil {
		t.Fatal(err)
	}
	return &kazooEnv{t: t, py: py, script: script, hosts: srv.Addr().String(), node: n}
}

func (k *kazooEnv) session() *coord.Session {
	k.t.Helper()
	s, err := k.node.NewSession(context.Background(), coord.SessionConfig{})
	if err != nil {
		k.t.Fatal(err)
	}
	return s
}

// kazooPeerProc is a running Python peer: its stdout lines arrive on lines.
type kazooPeerProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr lockedBuffer
	exited chan struct{} // closed once the process has exited
	err    error         // its exit status, once exited is closed
}

func (k *kazooEnv) start(mode string, args ...string) *kazooPeerProc {
	k.t.Helper()
	cmd := exec.Command(k.py, append([]string{k.script, k.hosts, mode}, args...)...)
	p := &kazooPeerProc{cmd: cmd, lines: make(chan string, 100), exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	k.t.Cleanup(func() {
		_ = p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return p
}

// lockedBuffer collects a process's stderr while tests may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder // guarded by mu
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

// line waits for the peer's next output line.
func (p *kazooPeerProc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("kazoo peer exited: %s", p.stderr.String())
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("kazoo peer silent; stderr: %s", p.stderr.String())
	}
	return ""
}

// wait waits for the peer to exit successfully.
func (p *kazooPeerProc) wait(t *testing.T) {
	t.Helper()
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("kazoo peer: %v: %s", p.err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("kazoo peer did not exit")
	}
}

// TestKazooLockInterop: a Go Mutex and a Python kazoo Lock take turns on
// one lock path; a shared file of enter/exit lines shows one holder at a
// time. Each side also sees the other in its contenders.
func TestKazooLockInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	out := filepath.Join(t.TempDir(), "turns")
	const rounds = 8
	py := k.start("lock", out, fmt.Sprint(rounds), "0.01")
	if l := py.line(t); l != "ready" {
		t.Fatalf("peer said %q", l)
	}
	m := NewMutex(k.session(), "/interop/lock", Options{Identifier: []byte("go")})
	var mu sync.Mutex
	note := func(tag string, i int) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(f, "%s go %d\n", tag, i)
		f.Close()
	}
	for i := 0; i < rounds; i++ {
		l, err := m.Lock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		note("enter", i)
		time.Sleep(10 * time.Millisecond) // hold a while: the peer contends
		note("exit", i)
		if err := l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	py.wait(t)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4*rounds {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 4*rounds, data)
	}
	for i := 0; i < len(lines); i += 2 {
		e, x := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if e[0] != "enter" || x[0] != "exit" || e[1] != x[1] || e[2] != x[2] {
			t.Fatalf("two holders at once around line %d:\n%s", i+1, data)
		}
	}

	// Each side lists the other as a contender.
	held, err := m.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := k.start("contenders", "/interop/lock")
	if got := c.line(t); got != `["go"]` {
		t.Fatalf("kazoo contenders() = %s, want [\"go\"]", got)
	}
	c.wait(t)
	_ = held.Unlock(ctx)
	h := k.start("hold-lock", "/interop/lock")
	h.line(t) // ready: kazoo holds the lock
	if _, err := m.TryLock(ctx); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Go TryLock while kazoo holds: %v", err)
	}
	cs, err := m.Contenders(ctx)
	if err != nil || len(cs) != 1 || string(cs[0].Identifier) != "py" {
		t.Fatalf("Go Contenders = %+v, %v", cs, err)
	}
	h.wait(t)
	l, err := m.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Unlock(ctx)
}

// TestKazooElectionInterop: a kazoo Election leads; Go's Leader sees its
// identifier; a Go candidate queues (kazoo's contenders() lists it) and
// leads once kazoo's leader function returns.
func TestKazooElectionInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	py := k.start("election")
	if l := py.line(t); l != "leading" {
		t.Fatalf("peer said %q", l)
	}
	el := NewElection(k.session(), "/interop/election", Options{Identifier: []byte("go")})
	if l, err := el.Leader(ctx); err != nil || string(l.Identifier) != "py" {
		t.Fatalf("Leader = %+v, %v", l, err)
	}
	lead, err := el.Campaign(ctx) // blocks until kazoo's leader resigns
	if err != nil {
		t.Fatal(err)
	}
	if got := py.line(t); got != `["py", "go"]` {
		t.Fatalf("kazoo contenders() = %s", got)
	}
	py.wait(t)
	if l, err := el.Leader(ctx); err != nil || string(l.Identifier) != "go" || l.Token != lead.Token() {
		t.Fatalf("Leader = %+v, %v", l, err)
	}
	_ = lead.Resign(ctx)
}

func TestKazooCounterInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	py := k.start("counter", "25")
	c := NewCounter(k.session(), "/interop/counter", CounterDecimal, nil)
	for i := 0; i < 25; i++ {
		if _, err := c.Add(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	py.wait(t)
	if v, err := c.Value(ctx); v != 50 || err != nil {
		t.Fatalf("Value = %d, %v; want 50", v, err)
	}
}

func TestKazooQueueInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	k.start("queue-put").wait(t)
	q := NewQueue(k.session(), "/interop/queue", nil)
	var got []string
	for i := 0; i < 3; i++ {
		d, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(d))
	}
	if want := []string{"py-urgent", "py-1", "py-2"}; !slices.Equal(got, want) {
		t.Fatalf("Go got %v from kazoo's Queue, want %v", got, want)
	}
	q2 := NewQueue(k.session(), "/interop/queue2", nil)
	_ = q2.Put(ctx, []byte("go-1"))
	_ = q2.PutPriority(ctx, []byte("go-urgent"), 0)
	_ = q2.Put(ctx, []byte("go-2"))
	py := k.start("queue-get", "3")
	var items []string
	if err := json.Unmarshal([]byte(py.line(t)), &items); err != nil {
		t.Fatal(err)
	}
	if want := []string{"go-urgent", "go-1", "go-2"}; !slices.Equal(items, want) {
		t.Fatalf("kazoo got %v from Go's Queue, want %v", items, want)
	}
	py.wait(t)
}

func TestKazooPartyInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	py := k.start("party")
	py.line(t) // joined
	g := NewGroup(k.session(), "/interop/party", nil)
	ms, err := g.Members(ctx)
	if err != nil || len(ms) != 1 || string(ms[0].Payload) != "py" {
		t.Fatalf("Go sees members %+v, %v", ms, err)
	}
	if _, err := g.Join(ctx, []byte("go")); err != nil {
		t.Fatal(err)
	}
	if got := py.line(t); got != `["go", "py"]` {
		t.Fatalf("kazoo Party sees %s", got)
	}
	py.wait(t)
	ms, err = g.Members(ctx)
	if err != nil || len(ms) != 1 || string(ms[0].Payload) != "go" {
		t.Fatalf("after kazoo left, Go sees %+v, %v", ms, err)
	}
}

func TestKazooSemaphoreInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	py := k.start("semaphore")
	py.line(t) // kazoo holds the only lease
	s := k.session()
	if _, err := NewSemaphore(s, "/interop/sem", 1, Options{}).TryAcquire(ctx); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryAcquire while kazoo holds the lease: %v", err)
	}
	if _, err := NewSemaphore(s, "/interop/sem", 2, Options{}).Acquire(ctx); !errors.Is(err, ErrLeasesMismatch) {
		t.Fatalf("Acquire with max leases 2 against kazoo's 1: %v", err)
	}
	got := make(chan error, 1)
	sem := NewSemaphore(s, "/interop/sem", 1, Options{})
	go func() {
		l, err := sem.Acquire(ctx)
		if err == nil {
			err = l.Unlock(ctx)
		}
		got <- err
	}()
	notYet(t, got, "lease while kazoo holds it")
	py.wait(t)
	if err := wait(t, got, "lease after kazoo released"); err != nil {
		t.Fatal(err)
	}
}

func TestKazooRWLockInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	py := k.start("rlock")
	py.line(t) // a kazoo reader holds
	rw := NewRWMutex(k.session(), "/interop/rw", Options{})
	r, err := rw.TryRLock(ctx)
	if err != nil {
		t.Fatalf("Go reader beside a kazoo reader: %v", err)
	}
	_ = r.Unlock(ctx)
	if _, err := rw.TryLock(ctx); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Go writer while a kazoo reader holds: %v", err)
	}
	py.wait(t)
	w, err := rw.TryLock(ctx)
	if err != nil {
		t.Fatalf("Go writer after the kazoo reader left: %v", err)
	}
	_ = w.Unlock(ctx)
}

func TestKazooDoubleBarrierInterop(t *testing.T) {
	k := newKazooEnv(t)
	ctx := timeout(t)
	py := k.start("double-barrier")
	b := NewDoubleBarrier(k.session(), "/interop/dbarrier", 2, Options{Identifier: []byte("go")})
	if err := b.Enter(ctx); err != nil {
		t.Fatal(err)
	}
	if l := py.line(t); l != "entered" {
		t.Fatalf("peer said %q", l)
	}
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if l := py.line(t); l != "left" {
		t.Fatalf("peer said %q", l)
	}
	py.wait(t)
}
