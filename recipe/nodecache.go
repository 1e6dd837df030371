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
	cacheLife // the watch (w), changed, done, stopped, why it stopped

	c    conn
	path string

	mu     sync.RWMutex
	data   []byte     // guarded by mu
	stat   coord.Stat // guarded by mu
	exists bool       // guarded by mu
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
	nc := &NodeCache{c: c, path: path}
	nc.init(w)
	if err := nc.refresh(ctx); err != nil {
		nc.abandon(ctx, c)
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
	var retry <-chan time.Time
	attempt := 0
	for {
		if !nc.awaitEvents(nc.c, dirty, &retry, func(coord.Event) { dirty = true }) {
			return
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
			retry = retryAfter(attempt)
			continue
		}
		attempt, dirty = 0, false
		nc.changed.notify()
	}
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
func (nc *NodeCache) Updated() <-chan struct{} { return nc.updated() }

// Done is closed when the cache stops updating: after Close, or when the
// session ends. The last state stays readable.
func (nc *NodeCache) Done() <-chan struct{} { return nc.done }

// Err returns nil while the cache runs, then why it stopped (see
// TreeCache.Err).
func (nc *NodeCache) Err() error { return nc.stopErr() }

// Close stops the cache by removing its watch. Since coord removes watches
// by session, path and type, this also ends any other persistent
// (non-recursive) watch the session holds on the same path.
func (nc *NodeCache) Close(ctx context.Context) error { return nc.closeWatch(ctx) }
