package recipe

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestBarrier(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	b := NewBarrier(e.session(), "/barrier/a", nil)
	if err := b.Wait(ctx); err != nil { // not set: no wait
		t.Fatal(err)
	}
	if err := b.Set(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx); err != nil {
		t.Fatalf("second Set: %v", err)
	}
	done := make(chan error, 3)
	for i := 0; i < 3; i++ {
		w := NewBarrier(e.session(), "/barrier/a", nil)
		go func() { done <- w.Wait(ctx) }()
	}
	notYet(t, done, "Wait on a set barrier")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Wait(cctx); err != context.Canceled {
		t.Fatalf("Wait with a cancelled ctx: %v", err)
	}
	if ok, err := b.Remove(ctx); !ok || err != nil {
		t.Fatalf("Remove = %v, %v", ok, err)
	}
	for i := 0; i < 3; i++ {
		if err := wait(t, done, "waiters released"); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := b.Remove(ctx); ok || err != nil {
		t.Fatalf("second Remove = %v, %v", ok, err)
	}
}

// TestDoubleBarrier: nobody leaves Enter before all n entered, nobody
// leaves Leave before all n left.
func TestDoubleBarrier(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	const n = 5
	for round := 0; round < 3; round++ {
		var entered, left atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			b := NewDoubleBarrier(e.session(), "/barrier/double", n, Options{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				entered.Add(1)
				if err := b.Enter(ctx); err != nil {
					t.Error(err)
					return
				}
				if k := entered.Load(); k != n {
					t.Errorf("Enter returned with %d of %d entered", k, n)
				}
				left.Add(1)
				if err := b.Leave(ctx); err != nil {
					t.Error(err)
					return
				}
				if k := left.Load(); k != n {
					t.Errorf("Leave returned with %d of %d leaving", k, n)
				}
			}()
		}
		wg.Wait()
		if children := waitChildren(t, e.session(), "/barrier/double", 0); len(children) != 0 {
			t.Fatalf("left behind %v", children)
		}
	}
}

func TestDoubleBarrierEnterCancel(t *testing.T) {
	e := newEnv(t)
	obs := e.session()
	ctx, cancel := context.WithCancel(bg())
	errc := make(chan error, 1)
	b := NewDoubleBarrier(e.session(), "/barrier/dcancel", 2, Options{})
	go func() { errc <- b.Enter(ctx) }()
	waitChildren(t, obs, "/barrier/dcancel", 1)
	cancel()
	if err := wait(t, errc, "cancelled Enter"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Enter = %v", err)
	}
	waitChildren(t, obs, "/barrier/dcancel", 0)
}
