package recipe

import (
	"context"
	"errors"
	"slices"

	"github.com/coordkit/coord"
)

// Barrier holds processes back while its node exists, in kazoo's and
// Curator's layout (DistributedBarrier): Set creates the node, Remove
// deletes it, Wait blocks until it is gone.
type Barrier struct {
	c    conn
	path string
	acl  []coord.ACL
}

// NewBarrier returns a Barrier on path for session s. acl is the ACL of the
// nodes Set creates; nil means coord.OpenACL.
func NewBarrier(s *coord.Session, path string, acl []coord.ACL) *Barrier {
	return &Barrier{c: s, path: path, acl: acl}
}

// Set puts the barrier up (creates its node and missing ancestors). Setting
// a barrier that is up is not an error.
func (b *Barrier) Set(ctx context.Context) error { return ensurePath(ctx, b.c, b.path, b.acl) }

// Remove takes the barrier down, releasing every waiter. It reports whether
// the barrier was up.
func (b *Barrier) Remove(ctx context.Context) (bool, error) {
	err := b.c.Delete(ctx, b.path, coord.AnyVersion)
	if errors.Is(err, coord.ErrNoNode) {
		return false, nil
	}
	return err == nil, err
}

// Wait blocks until the barrier is down, ctx ends or the session ends.
func (b *Barrier) Wait(ctx context.Context) error {
	for {
		// getData: no watch is left behind when the node is already gone.
		_, _, ch, err := b.c.GetDataW(ctx, b.path)
		if errors.Is(err, coord.ErrNoNode) {
			return nil
		}
		if err != nil {
			return ctxOr(ctx, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.c.Done():
			return sessionErr(b.c)
		}
	}
}

// readyNode is the child a DoubleBarrier creates when enough members entered
// (kazoo's and Curator's name).
const readyNode = "ready"

// DoubleBarrier synchronizes the start and the end of a computation among n
// members: Enter returns once n members have entered, Leave once all have
// left. The layout is kazoo's DoubleBarrier: members are ephemeral children
// "<32 hex>" holding the identifier, and "ready" marks a full barrier.
// Curator's DistributedDoubleBarrier uses the same "ready" child with
// "<uuid>" member names and interoperates too.
//
// A DoubleBarrier value is one member: use one per goroutine or process.
type DoubleBarrier struct {
	c    conn
	path string
	n    int
	name string
	opt  Options
}

// NewDoubleBarrier returns a member of the double barrier of n members on
// path, for session s. opt.Identifier is the member node's data (kazoo's
// identifier); opt.Layout is ignored.
func NewDoubleBarrier(s *coord.Session, path string, n int, opt Options) *DoubleBarrier {
	return newDoubleBarrier(s, path, n, opt)
}

func newDoubleBarrier(c conn, path string, n int, opt Options) *DoubleBarrier {
	return &DoubleBarrier{c: c, path: path, n: n, name: newHex32(), opt: opt}
}

func (b *DoubleBarrier) ours() string { return join(b.path, b.name) }

// members returns the member names (children but "ready"), sorted.
func (b *DoubleBarrier) members(ctx context.Context) ([]string, error) {
	children, _, err := b.c.GetChildren(ctx, b.path)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(children, func(s string) bool { return s == readyNode }), nil
}

// Enter joins the barrier and blocks until n members have joined. If ctx or
// the session ends first, it leaves (deletes its node) and returns the error.
func (b *DoubleBarrier) Enter(ctx context.Context) error {
	if err := b.enter(ctx); err != nil {
		if sessionErr(b.c) == nil {
			dctx, cancel := detached(ctx, b.c)
			_, _ = b.c.Sync(dctx, b.path) // order after a create whose outcome we missed
			_ = b.c.Delete(dctx, b.ours(), coord.AnyVersion)
			cancel()
		}
		return ctxOr(ctx, err)
	}
	return nil
}

func (b *DoubleBarrier) enter(ctx context.Context) error {
	if err := ensurePath(ctx, b.c, b.path, b.opt.ACL); err != nil {
		return err
	}
	// Watch "ready" before creating our node (Curator's order): whoever
	// completes the barrier does so after our node exists, so after this
	// watch, and wakes us even if members leave (and delete "ready") before
	// we count.
	ok, _, ch, err := b.c.ExistsW(ctx, join(b.path, readyNode))
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		_, _, err := b.c.CreateStat(ctx, b.ours(), b.opt.Identifier, coord.Ephemeral, b.opt.ACL, 0)
		if err == nil || errors.Is(err, coord.ErrNodeExists) {
			break
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		if err := backoff(ctx, b.c, attempt); err != nil {
			return err
		}
	}
	if ok {
		return nil
	}
	members, err := b.members(ctx)
	if err != nil {
		return err
	}
	if len(members) >= b.n {
		_, _, err := b.c.CreateStat(ctx, join(b.path, readyNode), nil, coord.Persistent, b.opt.ACL, 0)
		if err != nil && !errors.Is(err, coord.ErrNodeExists) {
			return err
		}
		return nil
	}
	select {
	case <-ch: // "ready" was created (or the session ended: caught by the next call)
		return sessionErr(b.c)
	case <-ctx.Done():
		return ctx.Err()
	case <-b.c.Done():
		return sessionErr(b.c)
	}
}

// Leave leaves the barrier and blocks until every member has left, ctx ends
// or the session ends. It follows ZooKeeper's recipe: the lowest member
// waits for the highest to leave, every other member deletes its node and
// waits for the lowest, so each departure wakes one or two members.
func (b *DoubleBarrier) Leave(ctx context.Context) error {
	err := b.c.Delete(ctx, join(b.path, readyNode), coord.AnyVersion)
	if err != nil && !errors.Is(err, coord.ErrNoNode) {
		return ctxOr(ctx, err)
	}
	for {
		members, err := b.members(ctx)
		if errors.Is(err, coord.ErrNoNode) {
			return nil
		}
		if err != nil {
			return ctxOr(ctx, err)
		}
		if len(members) == 0 {
			return nil
		}
		if len(members) == 1 && members[0] == b.name {
			return ctxOr(ctx, ignoreNoNode(b.c.Delete(ctx, b.ours(), coord.AnyVersion)))
		}
		var watch string
		if members[0] == b.name {
			watch = members[len(members)-1] // lowest: wait for the highest
		} else {
			if slices.Contains(members, b.name) {
				if err := ignoreNoNode(b.c.Delete(ctx, b.ours(), coord.AnyVersion)); err != nil {
					return ctxOr(ctx, err)
				}
			}
			watch = members[0] // wait for the lowest
		}
		_, _, ch, err := b.c.GetDataW(ctx, join(b.path, watch))
		if errors.Is(err, coord.ErrNoNode) {
			continue
		}
		if err != nil {
			return ctxOr(ctx, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.c.Done():
			return sessionErr(b.c)
		}
	}
}

func ignoreNoNode(err error) error {
	if errors.Is(err, coord.ErrNoNode) {
		return nil
	}
	return err
}
