package recipe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coordkit/coord"
)

func TestQueueFIFO(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	q := NewQueue(e.session(), "/queue/fifo", nil)
	if _, ok, err := q.TryGet(ctx); ok || err != nil {
		t.Fatalf("TryGet on no queue: %v %v", ok, err)
	}
	for i := 0; i < 5; i++ {
		if err := q.Put(ctx, []byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Len(ctx); n != 5 || err != nil {
		t.Fatalf("Len = %d, %v", n, err)
	}
	children, _, _ := e.session().GetChildren(ctx, "/queue/fifo")
	for _, c := range children {
		if !strings.HasPrefix(c, "entry-100-") || len(c) != len("entry-100-")+10 {
			t.Fatalf("entry %q is not kazoo's entry-<prio>-<seq>", c)
		}
	}
	var got []byte
	for i := 0; i < 5; i++ {
		d, err := NewQueue(e.session(), "/queue/fifo", nil).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d...)
	}
	if string(got) != "abcde" {
		t.Fatalf("order %q", got)
	}
	// Get blocks until a Put.
	res := make(chan []byte, 1)
	go func() {
		d, err := q.Get(ctx)
		if err != nil {
			t.Error(err)
		}
		res <- d
	}()
	notYet(t, res, "Get on an empty queue")
	if err := NewQueue(e.session(), "/queue/fifo", nil).Put(ctx, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if d := wait(t, res, "Get after Put"); string(d) != "late" {
		t.Fatalf("got %q", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := q.Get(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with cancelled ctx: %v", err)
	}
}

func TestQueuePriority(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	q := NewQueue(e.session(), "/queue/prio", nil)
	puts := []struct {
		v string
		p int
	}{{"low1", 500}, {"high1", 1}, {"mid", 100}, {"high2", 1}, {"low2", 500}, {"top", 0}}
	for _, p := range puts {
		if err := q.PutPriority(ctx, []byte(p.v), p.p); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range puts {
		d, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(d))
	}
	want := []string{"top", "high1", "high2", "mid", "low1", "low2"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if err := q.PutPriority(ctx, nil, 1000); !errors.Is(err, coord.ErrBadArguments) {
		t.Fatalf("priority 1000: %v", err)
	}
}

// TestQueueConsumers: concurrent consumers take every item exactly once,
// and each consumer sees its items in FIFO order.
func TestQueueConsumers(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	const items, consumers = 100, 4
	var mu sync.Mutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	for c := 0; c < consumers; c++ {
		q := NewQueue(e.session(), "/queue/many", nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1
			for {
				d, err := q.Get(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				var v int
				fmt.Sscan(string(d), &v)
				if v < 0 {
					return
				}
				if v <= last {
					t.Errorf("consumer got %d after %d", v, last)
				}
				last = v
				mu.Lock()
				seen[v]++
				mu.Unlock()
			}
		}()
	}
	p := NewQueue(e.session(), "/queue/many", nil)
	for i := 0; i < items; i++ {
		if err := p.Put(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for c := 0; c < consumers; c++ {
		if err := p.PutPriority(ctx, []byte("-1"), 999); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := 0; i < items; i++ {
		if seen[i] != 1 {
			t.Fatalf("item %d consumed %d times", i, seen[i])
		}
	}
}
