package recipe

import (
	"context"

	"github.com/coordkit/coord"
)

// Mutex is a distributed exclusive lock on a path: ZooKeeper's lock recipe,
// with kazoo's Lock or Curator's InterProcessMutex node layout.
//
// Each call to Lock or TryLock is a separate contender, so a Mutex may be
// shared by goroutines (they exclude each other as separate processes do).
// The lock is not reentrant.
type Mutex struct{ k *contender }

// NewMutex returns a Mutex on path for session s. Nothing is written until
// Lock or TryLock.
func NewMutex(s *coord.Session, path string, opt Options) *Mutex { return newMutex(s, path, opt) }

func newMutex(c conn, path string, opt Options) *Mutex {
	tok := tokKazooLock
	if opt.Layout == LayoutCurator {
		tok = tokCuratorLock
	}
	return &Mutex{k: &contender{c: c, dir: path, layout: opt.Layout, token: tok, blocks: isMutexToken,
		data: opt.Identifier, acl: opt.ACL}}
}

// isMutexToken: a mutex contends with kazoo Lock/Election nodes and Curator
// InterProcessMutex/LeaderSelector nodes, and ignores readers.
func isMutexToken(tok string) bool { return tok == tokKazooLock || tok == tokCuratorLock }

// Lock blocks until the lock is held, ctx ends or the session ends. It
// returns the Lease, whose Done channel closes if the lock may be lost.
//
// If ctx ends first, Lock deletes its node and returns ctx.Err(); if the
// session expires it returns an error wrapping coord.ErrSessionExpired.
func (m *Mutex) Lock(ctx context.Context) (*Lease, error) { return lease(m.k.acquire(ctx, true)) }

// TryLock takes the lock if nobody holds or waits for it, else returns
// ErrWouldBlock, leaving nothing behind.
func (m *Mutex) TryLock(ctx context.Context) (*Lease, error) { return lease(m.k.acquire(ctx, false)) }

// Contenders returns the holder and the waiters, in queue order: the first
// holds the lock.
func (m *Mutex) Contenders(ctx context.Context) ([]Contender, error) {
	return m.k.contenders(ctx, isMutexToken)
}
