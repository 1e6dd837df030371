// Command lock shows a distributed lock guarding a shared resource, and
// why the lock hands out fencing tokens.
//
// Three sessions on one in-process node stand for three processes. Each
// takes the lock five times and increments a counter kept in a "storage
// service" that is not coord: the lock alone keeps the increments from
// interleaving. Then one holder is paused (think of a long GC pause) past
// its session timeout; the ensemble expires its session, another process
// takes the lock, and when the paused process wakes and writes, the storage
// rejects it because its fencing token is older.
//
//	go run ./examples/lock
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/recipe"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// storage is a service outside coord that honours fencing tokens: it
// rejects a write whose token is lower than one it has already seen.
type storage struct {
	mu      sync.Mutex
	highest int64 // guarded by mu
	counter int   // guarded by mu
}

var errStaleToken = errors.New("stale fencing token")

func (s *storage) read() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counter
}

func (s *storage) write(token int64, v int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token < s.highest {
		return fmt.Errorf("%w: %d < %d", errStaleToken, token, s.highest)
	}
	s.highest, s.counter = token, v
	return nil
}

func run(ctx context.Context, out io.Writer) error {
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		return err
	}
	defer node.Close(ctx)

	store := &storage{}
	const workers, rounds = 3, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 1; w <= workers; w++ {
		s, err := node.NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			return err
		}
		m := recipe.NewMutex(s, "/locks/counter", recipe.Options{Identifier: []byte(fmt.Sprint("worker-", w))})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				lease, err := m.Lock(ctx)
				if err != nil {
					errs <- err
					return
				}
				// Read-modify-write: only safe while holding the lock.
				v := store.read()
				if err := store.write(lease.Token(), v+1); err != nil {
					errs <- err
				}
				if err := lease.Unlock(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err, ok := <-errs; ok {
		return err
	}
	fmt.Fprintf(out, "%d workers x %d increments under the lock: counter = %d\n", workers, rounds, store.read())

	// A holder pauses past its session timeout.
	slow, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		return err
	}
	fast, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		return err
	}
	old, err := recipe.NewMutex(slow, "/locks/counter", recipe.Options{Identifier: []byte("slow")}).Lock(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "slow holds the lock, then pauses")
	v := store.read()
	// While slow is paused, its session times out. (ExpireSession does at
	// once what a missed heartbeat deadline does.)
	if err := node.ExpireSession(ctx, slow.ID()); err != nil {
		return err
	}
	lease, err := recipe.NewMutex(fast, "/locks/counter", recipe.Options{Identifier: []byte("fast")}).Lock(ctx)
	if err != nil {
		return err
	}
	if err := store.write(lease.Token(), store.read()+1); err != nil {
		return err
	}
	fmt.Fprintln(out, "fast took the lock and wrote: counter =", store.read())
	// slow wakes up and finishes its read-modify-write.
	if err := store.write(old.Token(), v+1); errors.Is(err, errStaleToken) {
		fmt.Fprintln(out, "slow wakes and writes: rejected, stale fencing token")
	} else {
		return fmt.Errorf("late write was not rejected: %v", err)
	}
	select {
	case <-old.Done():
		fmt.Fprintln(out, "slow's lease reports:", reason(old.Err()))
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintln(out, "counter =", store.read())
	return lease.Unlock(ctx)
}

func reason(err error) string {
	switch {
	case errors.Is(err, coord.ErrSessionExpired):
		return "lost (session expired)"
	case errors.Is(err, coord.ErrConnectionLoss):
		return "may be lost (disconnected)"
	}
	return err.Error()
}
