package recipe

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRWMutexOrder(t *testing.T) {
	for _, layout := range []Layout{LayoutKazoo, LayoutCurator} {
		t.Run(layout.String(), func(t *testing.T) {
			e := newEnv(t)
			ctx := timeout(t)
			obs := e.session()
			rw := func() *RWMutex { return NewRWMutex(e.session(), "/rw/order", Options{Layout: layout}) }
			r1, err := rw().RLock(ctx)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := rw().TryRLock(ctx) // readers share
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rw().TryLock(ctx); !errors.Is(err, ErrWouldBlock) {
				t.Fatalf("TryLock with readers: %v", err)
			}
			wgot := make(chan *Lease, 1)
			go func() {
				l, err := rw().Lock(ctx)
				if err != nil {
					t.Error(err)
				}
				wgot <- l
			}()
			waitChildren(t, obs, "/rw/order", 3)
			// A reader behind a waiting writer waits (no writer starvation).
			rgot := make(chan *Lease, 1)
			go func() {
				l, err := rw().RLock(ctx)
				if err != nil {
					t.Error(err)
				}
				rgot <- l
			}()
			waitChildren(t, obs, "/rw/order", 4)
			if _, err := rw().TryRLock(ctx); !errors.Is(err, ErrWouldBlock) {
				t.Fatalf("TryRLock behind a writer: %v", err)
			}
			_ = r1.Unlock(ctx)
			notYet(t, wgot, "writer while a reader holds")
			_ = r2.Unlock(ctx)
			w := wait(t, wgot, "writer")
			notYet(t, rgot, "reader while the writer holds")
			if w.Token() <= r2.Token() {
				t.Fatalf("writer token %d <= reader's %d", w.Token(), r2.Token())
			}
			_ = w.Unlock(ctx)
			r3 := wait(t, rgot, "reader after the writer")
			_ = r3.Unlock(ctx)
			waitChildren(t, obs, "/rw/order", 0)
		})
	}
}

// TestRWMutexContention: readers and writers loop; a writer is always
// alone, readers never overlap a writer, and readers do overlap.
func TestRWMutexContention(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	var readers, writers, maxReaders atomic.Int32
	var store fencedStore
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		rw := NewRWMutex(e.session(), "/rw/cont", Options{})
		writer := i < 2
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if writer {
					l, err := rw.Lock(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if w, r := writers.Add(1), readers.Load(); w != 1 || r != 0 {
						t.Errorf("writer with %d writers, %d readers", w, r)
					}
					if err := store.write(l.Token(), func(v int) int { return v + 1 }); err != nil {
						t.Error(err)
					}
					writers.Add(-1)
					_ = l.Unlock(ctx)
				} else {
					l, err := rw.RLock(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					r := readers.Add(1)
					for m := maxReaders.Load(); r > m && !maxReaders.CompareAndSwap(m, r); m = maxReaders.Load() {
					}
					if w := writers.Load(); w != 0 {
						t.Errorf("reader with %d writers", w)
					}
					time.Sleep(time.Millisecond) // hold a while, so readers overlap
					readers.Add(-1)
					_ = l.Unlock(ctx)
				}
			}
		}()
	}
	wg.Wait()
	if v, _, rej := store.snapshot(); v != 40 || rej != 0 {
		t.Fatalf("writes %d, rejected %d", v, rej)
	}
	t.Logf("max concurrent readers %d", maxReaders.Load())
}
