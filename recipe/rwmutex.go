package recipe

import (
	"context"

	"github.com/coordkit/coord"
)

// RWMutex is a distributed readers-writer lock: ZooKeeper's shared lock
// recipe, with kazoo's ReadLock/WriteLock or Curator's
// InterProcessReadWriteLock node layout. A writer waits for every lower
// node; a reader waits only for lower writers. Each waits on the nearest
// such node only.
//
// Writers are queued fairly with readers: a reader arriving after a waiting
// writer waits for it.
type RWMutex struct{ r, w *contender }

// NewRWMutex returns an RWMutex on path for session s.
func NewRWMutex(s *coord.Session, path string, opt Options) *RWMutex { return newRWMutex(s, path, opt) }

func newRWMutex(c conn, path string, opt Options) *RWMutex {
	rt, wt := tokKazooRead, tokKazooLock
	if opt.Layout == LayoutCurator {
		rt, wt = tokCuratorRead, tokCuratorWrite
	}
	mk := func(tok string, blocks func(string) bool) *contender {
		return &contender{c: c, dir: path, layout: opt.Layout, token: tok, blocks: blocks, data: opt.Identifier, acl: opt.ACL}
	}
	return &RWMutex{
		r: mk(rt, exclusive),
		w: mk(wt, func(string) bool { return true }),
	}
}

// RLock blocks until the read lock is held (no lower writer), ctx ends or
// the session ends. Read leases carry tokens too, but readers share them:
// only writers' tokens order exclusive holders.
func (rw *RWMutex) RLock(ctx context.Context) (*Lease, error) { return lease(rw.r.acquire(ctx, true)) }

// TryRLock takes the read lock if no writer holds or waits for it, else
// returns ErrWouldBlock.
func (rw *RWMutex) TryRLock(ctx context.Context) (*Lease, error) {
	return lease(rw.r.acquire(ctx, false))
}

// Lock blocks until the write lock is held (no lower node at all), ctx
// ends or the session ends.
func (rw *RWMutex) Lock(ctx context.Context) (*Lease, error) { return lease(rw.w.acquire(ctx, true)) }

// TryLock takes the write lock if nobody holds or waits for the lock, else
// returns ErrWouldBlock.
func (rw *RWMutex) TryLock(ctx context.Context) (*Lease, error) {
	return lease(rw.w.acquire(ctx, false))
}

// Contenders returns readers and writers in queue order.
func (rw *RWMutex) Contenders(ctx context.Context) ([]Contender, error) {
	return rw.w.contenders(ctx, func(string) bool { return true })
}

func lease(h *hold, err error) (*Lease, error) {
	if err != nil {
		return nil, err
	}
	return &Lease{h: h}, nil
}
