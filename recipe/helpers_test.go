package recipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
)

// env is where a test's sessions live: one in-process Node, or a coordtest
// ensemble with sessions spread over its nodes. Tests take sessions from
// it and kill them through it, so the same test runs on either.
type env struct {
	t     testing.TB
	node  *coord.Node         // single-node env
	ens   *coordtest.Ensemble // ensemble env
	mu    sync.Mutex
	next  int // round-robin over the ensemble's nodes; guarded by mu
	nodes []*coord.Node
}

const testTick = 50 * time.Millisecond

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	n, err := coord.Open(ctx, coord.Config{TickTime: testTick})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return &env{t: t, node: n}
}

func newEnsembleEnv(t testing.TB, size int) *env {
	t.Helper()
	return &env{t: t, ens: coordtest.NewEnsemble(t, size)}
}

// nodeFor returns the node the next session goes to.
func (e *env) nodeFor() *coord.Node {
	if e.ens == nil {
		return e.node
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		i := e.next % e.ens.Size()
		e.next++
		if n := e.ens.Node(i); n != nil {
			return n
		}
	}
}

// session opens a session, closed at cleanup.
func (e *env) session() *coord.Session {
	e.t.Helper()
	return e.sessionOn(e.nodeFor())
}

func (e *env) sessionOn(n *coord.Node) *coord.Session {
	e.t.Helper()
	s, err := e.trySessionOn(n)
	if err != nil {
		e.t.Fatalf("new session: %v", err)
	}
	return s
}

// trySession opens a session, for goroutines other than the test's.
func (e *env) trySession() (*coord.Session, error) { return e.trySessionOn(e.nodeFor()) }

// trySessionOn opens a session on n, retrying while the ensemble has no
// leader (connection loss), and closes it at cleanup.
func (e *env) trySessionOn(n *coord.Node) (*coord.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		s, err := n.NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			if retryable(err) && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond) // an election is under way
				continue
			}
			return nil, err
		}
		e.t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = s.Close(ctx)
		})
		return s, nil
	}
}

// expire expires s as if its holder had stopped heartbeating.
func (e *env) expire(s *coord.Session) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := e.node
	if e.ens != nil {
		n = e.ens.Leader()
	}
	if err := n.ExpireSession(ctx, s.ID()); err != nil && !errors.Is(err, coord.ErrSessionExpired) {
		e.t.Fatalf("expire session: %v", err)
	}
	wait(e.t, s.Done(), "session end after expiry")
}

// wait fails the test unless ch is ready within a generous deadline.
func wait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// notYet fails the test if ch is ready now.
func notYet[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s happened too early", what)
	default:
	}
}

// waitChildren waits until dir has exactly n children and returns them.
func waitChildren(t testing.TB, s *coord.Session, dir string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		children, _, ch, err := s.GetChildrenW(ctx, dir)
		if errors.Is(err, coord.ErrNoNode) {
			var ok bool
			ok, _, ch, err = s.ExistsW(ctx, dir)
			if err == nil && ok {
				continue
			}
		}
		if err != nil {
			t.Fatalf("waiting for %d children of %s: %v", n, dir, err)
		}
		if len(children) == n {
			return children
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %d children of %s; have %v", n, dir, children)
		}
	}
}

// fencedStore is the storage service a fencing token protects: it
// remembers the highest token it has seen and rejects writes carrying a
// lower one, as the lock's users are told to arrange.
type fencedStore struct {
	mu       sync.Mutex
	highest  int64   // guarded by mu
	value    int     // guarded by mu
	tokens   []int64 // guarded by mu: tokens of accepted writes, in order
	rejected int     // guarded by mu
	changed  broadcast
}

var errFenced = errors.New("fenced: stale token")

// write applies f to the value if token is not lower than any seen.
func (f *fencedStore) write(token int64, fn func(int) int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if token < f.highest {
		f.rejected++
		return fmt.Errorf("%w %d < %d", errFenced, token, f.highest)
	}
	f.highest = token
	f.value = fn(f.value)
	f.tokens = append(f.tokens, token)
	f.changed.notify()
	return nil
}

// waitToken waits until a write with token has been accepted.
func (f *fencedStore) waitToken(t testing.TB, token int64) {
	t.Helper()
	for {
		ch := f.changed.wait()
		_, tokens, _ := f.snapshot()
		if len(tokens) > 0 && tokens[len(tokens)-1] >= token {
			return
		}
		wait(t, ch, "a write with the new token")
	}
}

func (f *fencedStore) snapshot() (value int, tokens []int64, rejected int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.value, append([]int64(nil), f.tokens...), f.rejected
}

func bg() context.Context { return context.Background() }

func timeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
