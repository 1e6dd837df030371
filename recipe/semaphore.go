package recipe

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/coordkit/coord"
)

// Semaphore hands out up to n leases on a path, in kazoo's Semaphore
// layout: the path's data is n in decimal, each lease is an ephemeral child
// "<32 hex>" holding the identifier, and acquirers queue on a kazoo Lock at
// the sibling path "<path>-__lock__". Only the lock's holder watches the
// lease pool, so a release wakes one acquirer. Options.Layout is ignored:
// Curator's InterProcessSemaphoreV2 layout is not supported.
type Semaphore struct {
	c    conn
	path string
	n    int
	opt  Options
	lock *Mutex
}

// NewSemaphore returns a Semaphore of n leases on path for session s. All
// users of a path must agree on n; Acquire checks it against the path's data.
func NewSemaphore(s *coord.Session, path string, n int, opt Options) *Semaphore {
	return newSemaphore(s, path, n, opt)
}

func newSemaphore(c conn, path string, n int, opt Options) *Semaphore {
	lockOpt := Options{Identifier: opt.Identifier, ACL: opt.ACL}
	return &Semaphore{c: c, path: path, n: n, opt: opt, lock: newMutex(c, path+"-"+tokKazooLock, lockOpt)}
}

// Acquire blocks until a lease is held, ctx ends or the session ends. The
// Lease's token is the czxid of its node: unique, but since n holders share
// the semaphore, tokens do not order exclusive holders.
func (sem *Semaphore) Acquire(ctx context.Context) (*Lease, error) { return sem.acquire(ctx, true) }

// TryAcquire takes a lease if one is free and no other acquirer is at work,
// else returns ErrWouldBlock.
func (sem *Semaphore) TryAcquire(ctx context.Context) (*Lease, error) {
	return sem.acquire(ctx, false)
}

func (sem *Semaphore) acquire(ctx context.Context, wait bool) (*Lease, error) {
	if sem.n < 1 {
		return nil, &coord.OpError{Op: "semaphore", Path: sem.path, Err: coord.ErrBadArguments, Detail: "n < 1"}
	}
	if err := sem.ensure(ctx); err != nil {
		return nil, ctxOr(ctx, err)
	}
	l, err := lease(sem.lock.k.acquire(ctx, wait))
	if err != nil {
		return nil, err
	}
	defer func() { _ = l.Unlock(ctx) }()
	name := newHex32()
	p := join(sem.path, name)
	for {
		children, _, err := sem.c.GetChildren(ctx, sem.path)
		if err != nil {
			return nil, ctxOr(ctx, err)
		}
		var ch <-chan coord.Event
		if len(children) >= sem.n {
			if !wait {
				return nil, ErrWouldBlock
			}
			// Watch, and look again: a lease may have gone meanwhile.
			children, _, ch, err = sem.c.GetChildrenW(ctx, sem.path)
			if err != nil {
				return nil, ctxOr(ctx, err)
			}
		}
		if len(children) < sem.n {
			st, err := sem.create(ctx, p)
			if err != nil {
				return nil, ctxOr(ctx, err)
			}
			return &Lease{h: newHold(sem.c, p, st.Czxid)}, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.Done():
			return nil, l.Err()
		}
	}
}

// create creates the lease node; its name is unique, so finding it after an
// unknown outcome is an exists check.
func (sem *Semaphore) create(ctx context.Context, p string) (coord.Stat, error) {
	for attempt := 0; ; attempt++ {
		_, st, err := sem.c.CreateStat(ctx, p, sem.opt.Identifier, coord.Ephemeral, sem.opt.ACL, 0)
		switch {
		case err == nil:
			return st, nil
		case errors.Is(err, coord.ErrNodeExists): // ours: an earlier attempt was applied
			_, st, err := sem.c.Exists(ctx, p)
			return st, err
		case retryable(err) && ctx.Err() == nil:
			if err := backoff(ctx, sem.c, attempt); err != nil {
				return coord.Stat{}, err
			}
		default:
			if ctx.Err() != nil {
				// The create may still be applied: remove it.
				dctx, cancel := detached(ctx, sem.c)
				if _, err := sem.c.Sync(dctx, sem.path); err == nil {
					_ = sem.c.Delete(dctx, p, coord.AnyVersion)
				}
				cancel()
			}
			return coord.Stat{}, err
		}
	}
}

// ensure creates the semaphore node holding n, or checks the n it holds.
func (sem *Semaphore) ensure(ctx context.Context) error {
	want := []byte(strconv.Itoa(sem.n))
	for {
		_, _, err := sem.c.CreateStat(ctx, sem.path, want, coord.Persistent, sem.opt.ACL, 0)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, coord.ErrNoNode):
			if i := strings.LastIndexByte(sem.path, '/'); i > 0 {
				if err := ensurePath(ctx, sem.c, sem.path[:i], sem.opt.ACL); err != nil {
					return err
				}
				continue
			}
			return err
		case errors.Is(err, coord.ErrNodeExists):
			data, _, err := sem.c.GetData(ctx, sem.path)
			if err != nil {
				return err
			}
			// Like kazoo, ignore data that is not a number.
			if n, perr := strconv.Atoi(string(data)); perr == nil && n != sem.n {
				return &coord.OpError{Op: "semaphore", Path: sem.path, Err: ErrLeasesMismatch,
					Detail: "path holds " + strconv.Itoa(n) + ", this Semaphore has " + strconv.Itoa(sem.n)}
			}
			return nil
		default:
			return err
		}
	}
}

// Holders returns the identifiers of the current lease holders, unordered
// (kazoo's lease_holders).
func (sem *Semaphore) Holders(ctx context.Context) ([][]byte, error) {
	children, _, err := sem.c.GetChildren(ctx, sem.path)
	if errors.Is(err, coord.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, ch := range children {
		data, _, err := sem.c.GetData(ctx, join(sem.path, ch))
		if errors.Is(err, coord.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}
