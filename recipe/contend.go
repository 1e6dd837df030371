package recipe

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/coordkit/coord"
)

// contender is the engine behind Mutex, RWMutex and Election: ZooKeeper's
// lock recipe. Each contender creates an ephemeral-sequential node under
// dir and waits, watching only the nearest lower node that blocks it, until
// no lower node blocks it. A release therefore wakes one waiter, not all.
type contender struct {
	c      conn
	dir    string
	layout Layout
	token  string            // name token of the nodes this contender creates
	blocks func(string) bool // whether a lower node with this token blocks it
	data   []byte
	acl    []coord.ACL

	// wakeups counts predecessor watches that fired, for the herd tests.
	wakeups atomic.Int64
	// onWait, when set (by tests, before use), is called each time the
	// contender starts waiting on a predecessor.
	onWait func()
}

// acquire creates a contender node and, if wait, waits until it holds the
// lock. On every failure it deletes its node before returning; if ctx ended
// it returns ctx.Err(). While the session is disconnected it retries.
func (k *contender) acquire(ctx context.Context, wait bool) (*hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := uniquePrefix(k.layout, k.token)
	name, czxid, err := k.create(ctx, prefix)
	if err != nil {
		return nil, k.fail(ctx, prefix, "", err)
	}
	for attempt := 0; ; {
		children, _, err := k.c.GetChildren(ctx, k.dir)
		if err != nil && !errors.Is(err, coord.ErrNoNode) {
			if err = k.retry(ctx, &attempt, err); err != nil {
				return nil, k.fail(ctx, prefix, name, err)
			}
			continue
		}
		pred, found := k.predecessor(children, name)
		if !found {
			// Our node is gone: the session ended, or someone deleted it.
			if se := sessionErr(k.c); sessionGone(se) {
				return nil, k.fail(ctx, prefix, "", se)
			}
			if name, czxid, err = k.create(ctx, prefix); err != nil {
				return nil, k.fail(ctx, prefix, "", err)
			}
			continue
		}
		if pred == "" {
			return newHold(k.c, join(k.dir, name), czxid), nil
		}
		if !wait {
			k.cleanup(ctx, prefix, name)
			return nil, ErrWouldBlock
		}
		// getData rather than exists: no watch is left behind when the
		// predecessor is already gone (kazoo and Curator do the same).
		_, _, ch, err := k.c.GetDataW(ctx, join(k.dir, pred))
		if errors.Is(err, coord.ErrNoNode) {
			continue
		}
		if err != nil {
			if err = k.retry(ctx, &attempt, err); err != nil {
				return nil, k.fail(ctx, prefix, name, err)
			}
			continue
		}
		attempt = 0
		if k.onWait != nil {
			k.onWait()
		}
		select {
		case ev := <-ch:
			if ev.Type != coord.EventNotWatching {
				k.wakeups.Add(1)
			}
		case <-ctx.Done():
			return nil, k.fail(ctx, prefix, name, ctx.Err())
		case <-k.c.Done():
			return nil, k.fail(ctx, prefix, name, sessionErr(k.c))
		}
	}
}

// retry decides what to do after err: nil means try again (after a pause,
// for errors such as connection loss that pass), otherwise the error to
// fail with.
func (k *contender) retry(ctx context.Context, attempt *int, err error) error {
	if ctx.Err() != nil || !retryable(err) {
		return err
	}
	*attempt++
	return backoff(ctx, k.c, *attempt)
}

// predecessor returns the node our node must wait for ("" if none) and
// whether our node is among children at all.
func (k *contender) predecessor(children []string, ours string) (string, bool) {
	me, ok := parseContender(ours)
	if !ok {
		return "", false
	}
	found := false
	var pred contenderName
	for _, ch := range children {
		if ch == ours {
			found = true
			continue
		}
		c, ok := parseContender(ch)
		if !ok || c.seq >= me.seq || !k.blocks(c.token) {
			continue
		}
		if pred.name == "" || c.seq > pred.seq {
			pred = c
		}
	}
	return pred.name, found
}

// create creates the contender node named prefix+sequence and returns its
// name and czxid. When a create's outcome is unknown (connection loss, a
// timeout that was not ctx's), it looks for a child starting with prefix
// before trying again, so it never leaves a second node of its own behind.
func (k *contender) create(ctx context.Context, prefix string) (string, int64, error) {
	for attempt := 0; ; attempt++ {
		p, st, err := k.c.CreateStat(ctx, join(k.dir, prefix), k.data, coord.EphemeralSequential, k.acl, 0)
		switch {
		case err == nil:
			return base(p), st.Czxid, nil
		case ctx.Err() != nil:
			return "", 0, ctx.Err()
		case errors.Is(err, coord.ErrNoNode):
			if err := ensurePath(ctx, k.c, k.dir, k.acl); err != nil {
				if !retryable(err) || ctx.Err() != nil {
					return "", 0, err
				}
				if err := backoff(ctx, k.c, attempt); err != nil {
					return "", 0, err
				}
			}
		case retryable(err):
			if name, czxid, ok, ferr := k.find(ctx, prefix); ferr == nil && ok {
				return name, czxid, nil
			}
			if err := backoff(ctx, k.c, attempt); err != nil {
				return "", 0, err
			}
		default:
			return "", 0, err
		}
	}
}

// find looks for our node by its unique prefix. Sync first: a create whose
// reply was lost may still be on its way to this node.
func (k *contender) find(ctx context.Context, prefix string) (string, int64, bool, error) {
	if _, err := k.c.Sync(ctx, k.dir); err != nil {
		return "", 0, false, err
	}
	children, _, err := k.c.GetChildren(ctx, k.dir)
	if err != nil {
		return "", 0, false, err
	}
	for _, ch := range children {
		if strings.HasPrefix(ch, prefix) {
			ok, st, err := k.c.Exists(ctx, join(k.dir, ch))
			if err != nil || !ok {
				return "", 0, false, err
			}
			return ch, st.Czxid, true, nil
		}
	}
	return "", 0, false, nil
}

// fail cleans up after a failed acquire and returns the error to report.
func (k *contender) fail(ctx context.Context, prefix, name string, err error) error {
	k.cleanup(ctx, prefix, name)
	return ctxOr(ctx, err)
}

// cleanup deletes our node: by name when known, else by prefix (the create
// may have been applied without our learning it). It runs on a context
// detached from ctx, since ctx has often ended. While the session is
// disconnected it cannot delete anything; it then finishes in the
// background once the session is back (or gone, taking the node with it).
func (k *contender) cleanup(ctx context.Context, prefix, name string) {
	if sessionGone(sessionErr(k.c)) {
		return // the session's ephemerals are gone
	}
	dctx, cancel := detached(ctx, k.c)
	if k.tryCleanup(dctx, prefix, name) {
		cancel()
		return
	}
	go func() {
		defer cancel()
		for attempt := 0; !k.tryCleanup(dctx, prefix, name); attempt++ {
			if backoff(dctx, k.c, attempt) != nil {
				return
			}
		}
	}()
}

// tryCleanup makes one attempt; it reports whether the node is gone.
func (k *contender) tryCleanup(ctx context.Context, prefix, name string) bool {
	if name == "" {
		n, _, ok, err := k.find(ctx, prefix)
		if err != nil {
			return sessionGone(err) || !retryable(err)
		}
		if !ok {
			return true
		}
		name = n
	}
	err := k.c.Delete(ctx, join(k.dir, name), coord.AnyVersion)
	return err == nil || errors.Is(err, coord.ErrNoNode) || sessionGone(err) || !retryable(err)
}

// contenders returns the nodes of dir that keep accepts, in queue order.
func (k *contender) contenders(ctx context.Context, keep func(string) bool) ([]Contender, error) {
	return readContenders(ctx, k.c, k.dir, keep)
}
