package recipe

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

func TestSemaphore(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	const n = 3
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		sem := NewSemaphore(e.session(), "/sem/a", n, Options{Identifier: []byte("w")})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				l, err := sem.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				k := inside.Add(1)
				if k > n {
					t.Errorf("%d holders of %d leases", k, n)
				}
				for m := most.Load(); k > m && !most.CompareAndSwap(m, k); m = most.Load() {
				}
				time.Sleep(time.Millisecond) // hold a while, so holders overlap
				inside.Add(-1)
				if err := l.Unlock(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("at most %d holders at once", most.Load())
	s := e.session()
	data, _, err := s.GetData(ctx, "/sem/a")
	if err != nil || string(data) != "3" {
		t.Fatalf("semaphore node data %q %v, want \"3\" (kazoo's max_leases)", data, err)
	}
	if _, err := NewSemaphore(s, "/sem/a", 4, Options{}).Acquire(ctx); !errors.Is(err, ErrLeasesMismatch) {
		t.Fatalf("Acquire with another n: %v", err)
	}
}

func TestSemaphoreFullAndExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	s1, s2 := e.session(), e.session()
	l1, err := NewSemaphore(s1, "/sem/b", 2, Options{}).Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSemaphore(s2, "/sem/b", 2, Options{}).TryAcquire(ctx); err != nil {
		t.Fatal(err)
	}
	third := NewSemaphore(e.session(), "/sem/b", 2, Options{Identifier: []byte("third")})
	if _, err := third.TryAcquire(ctx); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryAcquire on a full semaphore: %v", err)
	}
	got := make(chan *Lease, 1)
	go func() {
		l, err := third.Acquire(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitChildren(t, s1, "/sem/b-__lock__", 1) // the waiter holds the acquire lock
	notYet(t, got, "lease from a full semaphore")
	e.expire(s1)
	wait(t, l1.Done(), "expired holder told")
	l3 := wait(t, got, "lease after a holder expired")
	holders, err := third.Holders(ctx)
	if err != nil || len(holders) != 2 {
		t.Fatalf("holders %q %v", holders, err)
	}
	_ = l3.Unlock(ctx)
	waitChildren(t, s2, "/sem/b-__lock__", 0)
}

func TestSemaphoreCancel(t *testing.T) {
	e := newEnv(t)
	obs := e.session()
	if _, err := NewSemaphore(e.session(), "/sem/c", 1, Options{}).Acquire(timeout(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg())
	errc := make(chan error, 1)
	sem := NewSemaphore(e.session(), "/sem/c", 1, Options{})
	go func() {
		_, err := sem.Acquire(ctx)
		errc <- err
	}()
	waitChildren(t, obs, "/sem/c-__lock__", 1)
	cancel()
	if err := wait(t, errc, "cancelled Acquire"); err != context.Canceled {
		t.Fatalf("Acquire = %v", err)
	}
	waitChildren(t, obs, "/sem/c-__lock__", 0)
	waitChildren(t, obs, "/sem/c", 1)
	if _, err := NewSemaphore(obs, "/sem/c", 0, Options{}).Acquire(bg()); !errors.Is(err, coord.ErrBadArguments) {
		t.Fatalf("n=0: %v", err)
	}
}
