package recipe

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/coordkit/coord"
)

// NodeCache keeps a local copy of one znode (its data and Stat, or its
// absence) up to date through one persistent watch on its path, which
// reports the node's creation, deletion, data changes and child changes.
// The node need not exist.
//
// Reads (Get) may run from any goroutine.
type NodeCache struct {
	c    conn
	path string
	w    *coord.PersistentWatch

	mu     sync.RWMutex
	data   []byte     // guarded by mu
	stat   coord.Stat // guarded by mu
	exists bool       // guarded by mu
	err    error      // guarded by mu: why the cache stopped

	changed broadcast
	done    chan struct{}
	stopped chan struct{}
}

// NewNodeCache starts a cache of the node at path for session s and
// returns once it holds the node's current state. Close it when done.
func NewNodeCache(ctx context.Context, s *coord.Session, path string) (*NodeCache, error) {
	return newNodeCache(ctx, s, path)
}

func newNodeCache(ctx context.Context, c conn, path string) (*NodeCache, error) {
	w, err := c.AddWatch(ctx, path, coord.WatchPersistent)
	if err != nil {
		return nil, err
	}
	nc := &NodeCache{c: c, path: path, w: w, done: make(chan struct{}), stopped: make(chan struct{})}
	if err := nc.refresh(ctx); err != nil {
		rctx, cancel := detached(ctx, c)
		_ = w.Remove(rctx)
		cancel()
		go func() {
			for range w.Events() {
			}
		}()
		return nil, err
	}
	go nc.run()
	return nc, nil
}

func (nc *NodeCache) refresh(ctx context.Context) error {
	data, st, err := nc.c.GetData(ctx, nc.path)
	exists := true
	if errors.Is(err, coord.ErrNoNode) {
		data, st, exists, err = nil, coord.Stat{}, false, nil
	}
	if err != nil {
		return err
	}
	nc.mu.Lock()
	nc.data, nc.stat, nc.exists = data, st, exists
	nc.mu.Unlock()
	return nil
}

func (nc *NodeCache) run() {
	defer close(nc.stopped)
	dirty := false
	events := nc.w.Events()
	// handle notes an event; false means the cache stops.
	handle := func(ev coord.Event, ok bool) bool {
		switch {
		case !ok:
			nc.stop(sessionErr(nc.c))
		case ev.Type == coord.EventNotWatching:
			nc.stop(ev.Err)
		case ev.Type == coord.EventPersistentWatchRemoved:
			nc.stop(ErrReleased)
		default:
			dirty = true
			return true
		}
		return false
	}
	var retry <-chan time.Time
	attempt := 0
	for {
		if !dirty || retry != nil {
			select {
			case ev, ok := <-events:
				if !handle(ev, ok) {
					return
				}
			case <-retry:
				retry = nil
			}
		}
		for drained := false; !drained; { // take what is already queued
			select {
			case ev, ok := <-events:
				if !handle(ev, ok) {
					return
				}
			default:
				drained = true
			}
		}
		if retry != nil {
			continue
		}
		if err := nc.refresh(context.Background()); err != nil {
			if sessionGone(err) {
				nc.stop(err)
				return
			}
			attempt++
			retry = time.After(time.Duration(1<<min(attempt, 7)) * 5 * time.Millisecond)
			continue
		}
		attempt, dirty = 0, false
		nc.changed.notify()
	}
}

func (nc *NodeCache) stop(err error) {
	if err == nil {
		err = coord.ErrClosed
	}
	nc.mu.Lock()
	if nc.err == nil {
		nc.err = err
	}
	nc.mu.Unlock()
	close(nc.done)
	nc.changed.notify()
}

// Get returns the node's data (the caller's copy) and Stat; ok is false
// while the node does not exist.
func (nc *NodeCache) Get() (data []byte, st coord.Stat, ok bool) {
	nc.mu.RLock()
	defer nc.mu.RUnlock()
	return slices.Clone(nc.data), nc.stat, nc.exists
}

// Updated returns a channel closed at the cache's next change (or when it
// stops). Take it before calling Get, then wait on it.
func (nc *NodeCache) Updated() <-chan struct{} {
	ch := nc.changed.wait()
	select {
	case <-nc.done:
		c := make(chan struct{})
		close(c)
		return c
	default:
		return ch
	}
}

// Done is closed when the cache stops updating: after Close, or when the
// session ends. The last state stays readable.
func (nc *NodeCache) Done() <-chan struct{} { return nc.done }

// Err returns nil while the cache runs, then why it stopped (see
// TreeCache.Err).
func (nc *NodeCache) Err() error {
	nc.mu.RLock()
	defer nc.mu.RUnlock()
	return nc.err
}

// Close stops the cache by removing its watch. Since coord removes watches
// by session, path and type, this also ends any other persistent
// (non-recursive) watch the session holds on the same path.
func (nc *NodeCache) Close(ctx context.Context) error {
	err := nc.w.Remove(ctx)
	if errors.Is(err, coord.ErrNoWatcher) || sessionGone(err) {
		err = nil
	}
	if err != nil {
		return err
	}
	select {
	case <-nc.stopped:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
