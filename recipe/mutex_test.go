package recipe

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

func TestMutexBasic(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	s1, s2 := e.session(), e.session()
	m1 := NewMutex(s1, "/locks/basic", Options{Identifier: []byte("one")})
	m2 := NewMutex(s2, "/locks/basic", Options{Identifier: []byte("two")})

	l1, err := m1.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.TryLock(ctx); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryLock while held: %v, want ErrWouldBlock", err)
	}
	waitChildren(t, s1, "/locks/basic", 1) // TryLock left nothing behind

	got := make(chan *Lease)
	go func() {
		l, err := m2.Lock(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitChildren(t, s1, "/locks/basic", 2)
	cs, err := m1.Contenders(ctx)
	if err != nil || len(cs) != 2 || string(cs[0].Identifier) != "one" || string(cs[1].Identifier) != "two" {
		t.Fatalf("contenders %+v, %v", cs, err)
	}
	notYet(t, got, "second Lock")
	if err := l1.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(l1.Err(), ErrReleased) {
		t.Fatalf("released lease Err = %v", l1.Err())
	}
	l2 := wait(t, got, "second Lock")
	if l2.Token() <= l1.Token() {
		t.Fatalf("tokens not increasing: %d then %d", l1.Token(), l2.Token())
	}
	if err := l2.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l2.Unlock(ctx); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	waitChildren(t, s1, "/locks/basic", 0)
}

// TestMutexExclusion: 8 sessions x 50 lock/unlock cycles increment a plain,
// non-atomic counter guarded only by the lock. The race detector, the
// in-section count and the fencing store all watch for two holders at once.
func TestMutexExclusion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout Layout
	}{{"kazoo", LayoutKazoo}, {"curator", LayoutCurator}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			testExclusion(t, e, tc.layout, 8, 50)
		})
	}
}

func TestMutexExclusionEnsemble(t *testing.T) {
	if testing.Short() {
		t.Skip("ensemble")
	}
	e := newEnsembleEnv(t, 3)
	testExclusion(t, e, LayoutKazoo, 6, 10)
}

func testExclusion(t *testing.T, e *env, layout Layout, workers, cycles int) {
	ctx := timeout(t)
	var (
		counter int // deliberately not atomic: the lock guards it
		inside  atomic.Int32
		store   fencedStore
		wg      sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		m := NewMutex(e.session(), "/locks/excl", Options{Layout: layout})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < cycles; i++ {
				l, err := m.Lock(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d holders at once", n)
				}
				v := counter
				runtime.Gosched()
				counter = v + 1
				if err := store.write(l.Token(), func(x int) int { return x + 1 }); err != nil {
					t.Error(err)
				}
				inside.Add(-1)
				if err := l.Unlock(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	value, tokens, rejected := store.snapshot()
	if counter != workers*cycles || value != workers*cycles || rejected != 0 {
		t.Fatalf("counter %d, store %d, rejected %d; want %d, %d, 0", counter, value, rejected, workers*cycles, workers*cycles)
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Fatalf("tokens not strictly increasing at %d: %d then %d", i, tokens[i-1], tokens[i])
		}
	}
}

// TestMutexNoHerd queues ten contenders and releases them one by one: each
// release must wake exactly one waiter (each waits on its predecessor only),
// and no other waiter may wake and wait again.
func TestMutexNoHerd(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	const n = 10
	first, err := NewMutex(e.session(), "/locks/herd", Options{}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 10*n) // a contender began to wait
	var mutexes []*Mutex
	leases := make(chan *Lease, n)
	for i := 1; i < n; i++ {
		m := NewMutex(e.session(), "/locks/herd", Options{})
		m.k.onWait = func() { waiting <- struct{}{} }
		mutexes = append(mutexes, m)
		go func() {
			l, err := m.Lock(ctx)
			if err != nil {
				t.Error(err)
			}
			leases <- l
		}()
		wait(t, waiting, "contender waiting") // queue them in order
	}
	wakeups := func() int64 {
		var sum int64
		for _, m := range mutexes {
			sum += m.k.wakeups.Load()
		}
		return sum
	}
	holder := first
	for i := 1; i < n; i++ {
		before := wakeups()
		if err := holder.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		holder = wait(t, leases, "next holder")
		if got := wakeups() - before; got != 1 {
			t.Fatalf("release %d woke %d waiters, want 1", i, got)
		}
		notYet(t, waiting, "a waiter woken and waiting again")
	}
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wakeups(); got != n-1 {
		t.Fatalf("%d wakeups for %d handoffs", got, n-1)
	}
}

// TestMutexHolderExpires: the holder's session dies; the next waiter gets
// the lock and the old holder's Lease reports the loss.
func TestMutexHolderExpires(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	s1 := e.session()
	l1, err := NewMutex(s1, "/locks/expire", Options{}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Lease, 1)
	m2 := NewMutex(e.session(), "/locks/expire", Options{})
	go func() {
		l, err := m2.Lock(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitChildren(t, e.session(), "/locks/expire", 2)
	e.expire(s1)
	wait(t, l1.Done(), "old holder told")
	if !errors.Is(l1.Err(), coord.ErrSessionExpired) {
		t.Fatalf("old holder Err = %v, want ErrSessionExpired", l1.Err())
	}
	l2 := wait(t, got, "lock after holder expired")
	if l2.Token() <= l1.Token() {
		t.Fatalf("token %d after %d", l2.Token(), l1.Token())
	}
	if err := l1.Unlock(ctx); err != nil {
		t.Fatalf("Unlock of a lost lease: %v", err)
	}
}

// TestMutexWaiterExpires: a waiter whose session expires gets an error
// wrapping ErrSessionExpired.
func TestMutexWaiterExpires(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	if _, err := NewMutex(e.session(), "/locks/wexp", Options{}).Lock(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := e.session()
	errc := make(chan error, 1)
	go func() {
		_, err := NewMutex(s2, "/locks/wexp", Options{}).Lock(ctx)
		errc <- err
	}()
	waitChildren(t, e.session(), "/locks/wexp", 2)
	e.expire(s2)
	if err := wait(t, errc, "waiter's Lock to fail"); !errors.Is(err, coord.ErrSessionExpired) {
		t.Fatalf("Lock = %v, want ErrSessionExpired", err)
	}
}

// TestMutexPausedHolder: a holder is paused past its session timeout (its
// session is expired meanwhile); another process takes the lock and writes;
// the paused holder wakes and writes with its old token, which the store
// rejects.
func TestMutexPausedHolder(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	var store fencedStore
	sA, sB := e.session(), e.session()
	la, err := NewMutex(sA, "/locks/pause", Options{}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.write(la.Token(), func(v int) int { return 1 }); err != nil {
		t.Fatal(err)
	}
	resume := make(chan struct{})
	lateWrite := make(chan error)
	go func() {
		<-resume // a GC pause, a stopped VM: A does not run
		lateWrite <- store.write(la.Token(), func(v int) int { return 100 })
	}()
	e.expire(sA) // its timeout passes while it is paused
	lb, err := NewMutex(sB, "/locks/pause", Options{}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.write(lb.Token(), func(v int) int { return 2 }); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if err := wait(t, lateWrite, "late write"); !errors.Is(err, errFenced) {
		t.Fatalf("late write by deposed holder: %v, want rejection", err)
	}
	if v, _, _ := store.snapshot(); v != 2 {
		t.Fatalf("store value %d, want 2", v)
	}
	wait(t, la.Done(), "paused holder's lease marked lost")
	if !errors.Is(la.Err(), coord.ErrSessionExpired) {
		t.Fatalf("paused holder's Err = %v", la.Err())
	}
}

// TestMutexCancel: a Lock whose ctx ends while waiting returns ctx.Err()
// and leaves no node behind.
func TestMutexCancel(t *testing.T) {
	e := newEnv(t)
	obs := e.session()
	held, err := NewMutex(e.session(), "/locks/cancel", Options{}).Lock(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg())
	errc := make(chan error, 1)
	m2 := NewMutex(e.session(), "/locks/cancel", Options{})
	go func() {
		_, err := m2.Lock(ctx)
		errc <- err
	}()
	waitChildren(t, obs, "/locks/cancel", 2)
	cancel()
	if err := wait(t, errc, "cancelled Lock"); err != context.Canceled {
		t.Fatalf("Lock = %v, want context.Canceled", err)
	}
	children, _, err := obs.GetChildren(bg(), "/locks/cancel")
	if err != nil || len(children) != 1 || "/locks/cancel/"+children[0] != held.Path() {
		t.Fatalf("children after cancel: %v %v", children, err)
	}
}

// TestMutexCancelRandom cancels Locks at random moments (before the create,
// during it, while waiting) and checks after each that the session owns no
// node under the lock: nothing is left behind whenever ctx ends.
func TestMutexCancelRandom(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	s := e.session()
	m := NewMutex(s, "/locks/rcancel", Options{})
	other := NewMutex(e.session(), "/locks/rcancel", Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a second process takes and drops the lock all along
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			l, err := other.Lock(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			runtime.Gosched()
			_ = l.Unlock(ctx)
		}
	}()
	cancelled := 0
	for i := 0; i < 200; i++ {
		d := time.Duration(rand.IntN(400)) * time.Microsecond
		cctx, cancel := context.WithTimeout(ctx, d)
		l, err := m.Lock(cctx)
		cancel()
		switch {
		case err == nil:
			if err := l.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		case errors.Is(err, context.DeadlineExceeded):
			cancelled++
		default:
			t.Fatalf("Lock: %v", err)
		}
		if left, err := s.GetEphemerals(ctx, "/locks/rcancel"); err != nil || len(left) != 0 {
			t.Fatalf("iteration %d (after %v): left behind %v %v", i, d, left, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d of 200 Locks cancelled", cancelled)
}

// lossyConn reports connection loss for creates: after applying them
// (applyFirst) or without applying them.
type lossyConn struct {
	conn
	mu         sync.Mutex
	failures   int // creates still to fail; guarded by mu
	applyFirst bool
}

func (c *lossyConn) CreateStat(ctx context.Context, path string, data []byte, mode coord.CreateMode, acl []coord.ACL, ttl time.Duration) (string, coord.Stat, error) {
	c.mu.Lock()
	fail := c.failures > 0
	if fail {
		c.failures--
	}
	c.mu.Unlock()
	if !fail {
		return c.conn.CreateStat(ctx, path, data, mode, acl, ttl)
	}
	if c.applyFirst {
		if _, _, err := c.conn.CreateStat(ctx, path, data, mode, acl, ttl); err != nil {
			return "", coord.Stat{}, err
		}
	}
	return "", coord.Stat{}, &coord.OpError{Op: "create", Path: path, Err: coord.ErrConnectionLoss}
}

// TestMutexCreateLost: a create that was applied but whose reply was lost
// is found by its unique prefix (protected mode); one that was not applied
// is retried. Either way the session ends up with exactly one node.
func TestMutexCreateLost(t *testing.T) {
	for _, tc := range []struct {
		name       string
		layout     Layout
		applyFirst bool
	}{
		{"kazoo/applied", LayoutKazoo, true},
		{"kazoo/not-applied", LayoutKazoo, false},
		{"curator/applied", LayoutCurator, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := timeout(t)
			s := e.session()
			ensure := ensurePath(ctx, s, "/locks/lost", nil) // so the first create is the contender's
			if ensure != nil {
				t.Fatal(ensure)
			}
			c := &lossyConn{conn: s, failures: 2, applyFirst: tc.applyFirst}
			l, err := newMutex(c, "/locks/lost", Options{Layout: tc.layout}).Lock(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mine, err := s.GetEphemerals(ctx, "/locks/lost")
			if err != nil || len(mine) != 1 || mine[0] != l.Path() {
				t.Fatalf("ephemerals %v (lease %s), %v", mine, l.Path(), err)
			}
			if err := l.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMutexSessionClosedWhileHeld(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	s := e.session()
	l, err := NewMutex(s, "/locks/closed", Options{}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, l.Done(), "lease lost on close")
	if !errors.Is(l.Err(), coord.ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", l.Err())
	}
	if _, err := NewMutex(s, "/locks/closed", Options{}).Lock(ctx); !errors.Is(err, coord.ErrClosed) {
		t.Fatalf("Lock on closed session: %v", err)
	}
}

func TestMutexNodeDeletedByOther(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	l, err := NewMutex(e.session(), "/locks/del", Options{}).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.session().Delete(ctx, l.Path(), coord.AnyVersion); err != nil {
		t.Fatal(err)
	}
	wait(t, l.Done(), "lease lost on delete")
	if !errors.Is(l.Err(), coord.ErrNoNode) {
		t.Fatalf("Err = %v, want ErrNoNode", l.Err())
	}
}

// TestMutexForeignContenders: nodes named as kazoo and Curator name them
// (created here by another session, as a Python or Java process would)
// hold the lock against a Go Mutex of either layout; readers do not.
func TestMutexForeignContenders(t *testing.T) {
	for _, foreign := range []string{
		"0123456789abcdef0123456789abcdef__lock__",      // kazoo Lock
		"_c_0a1b2c3d-0000-4000-8000-0123456789ab-lock-", // Curator InterProcessMutex
	} {
		for _, layout := range []Layout{LayoutKazoo, LayoutCurator} {
			t.Run(strings.Trim(foreign[:8], "_-")+"/"+layout.String(), func(t *testing.T) {
				e := newEnv(t)
				ctx := timeout(t)
				other := e.session()
				if err := ensurePath(ctx, other, "/locks/foreign", nil); err != nil {
					t.Fatal(err)
				}
				// A reader ahead of everyone must not block a mutex.
				if _, err := other.Create(ctx, "/locks/foreign/ffffffffffffffffffffffffffffffff__rlock__", nil, coord.EphemeralSequential, nil); err != nil {
					t.Fatal(err)
				}
				p, err := other.Create(ctx, "/locks/foreign/"+foreign, []byte("py"), coord.EphemeralSequential, nil)
				if err != nil {
					t.Fatal(err)
				}
				m := NewMutex(e.session(), "/locks/foreign", Options{Layout: layout})
				if _, err := m.TryLock(ctx); !errors.Is(err, ErrWouldBlock) {
					t.Fatalf("TryLock with a foreign holder: %v", err)
				}
				got := make(chan *Lease, 1)
				go func() {
					l, err := m.Lock(ctx)
					if err != nil {
						t.Error(err)
					}
					got <- l
				}()
				waitChildren(t, other, "/locks/foreign", 3)
				cs, err := m.Contenders(ctx)
				if err != nil || len(cs) != 2 || "/locks/foreign/"+cs[0].Name != p {
					t.Fatalf("contenders %+v %v", cs, err)
				}
				notYet(t, got, "Lock while a foreign process holds it")
				if err := other.Delete(ctx, p, coord.AnyVersion); err != nil {
					t.Fatal(err)
				}
				l := wait(t, got, "Lock after the foreign holder left")
				name := base(l.Path())
				if _, ok := parseContender(name); !ok {
					t.Fatalf("our node %q does not parse", name)
				}
				wantPrefix := map[Layout]string{LayoutKazoo: "", LayoutCurator: "_c_"}[layout]
				if !strings.HasPrefix(name, wantPrefix) {
					t.Fatalf("node %q for layout %v", name, layout)
				}
			})
		}
	}
}
