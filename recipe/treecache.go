package recipe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coordkit/coord"
)

// CachedNode is a cached znode.
type CachedNode struct {
	Path string
	Data []byte // the caller's copy
	Stat coord.Stat
}

// TreeCache keeps a local copy of a subtree (data and Stat of every node)
// up to date through one persistent-recursive watch on its root: every
// create, delete and data change below the root is an event, and the cache
// re-reads the node the event names (and its parent's Stat, since
// persistent-recursive watches do not report child changes). It reflects
// the tree as this session's node has applied it, a moment late. The root
// need not exist.
//
// Reads (Get, Children, Paths) may run from any goroutine.
type TreeCache struct {
	cacheLife // the watch (w), changed, done, stopped, why it stopped

	c    conn
	root string

	mu    sync.RWMutex
	nodes map[string]*cacheEntry // guarded by mu
	zxid  int64                  // guarded by mu: the last event applied
}

type cacheEntry struct {
	data     []byte
	stat     coord.Stat
	children map[string]struct{}
}

// NewTreeCache starts a cache of the subtree at root for session s and
// returns once it holds the whole subtree. Close it when done.
func NewTreeCache(ctx context.Context, s *coord.Session, root string) (*TreeCache, error) {
	return newTreeCache(ctx, s, root)
}

func newTreeCache(ctx context.Context, c conn, root string) (*TreeCache, error) {
	// Watch first, then read: every change after the reads is an event.
	w, err := c.AddWatch(ctx, root, coord.WatchPersistentRecursive)
	if err != nil {
		return nil, err
	}
	tc := &TreeCache{c: c, root: root, nodes: map[string]*cacheEntry{}}
	tc.init(w)
	if err := tc.load(ctx, root); err != nil {
		tc.abandon(ctx, c)
		return nil, err
	}
	go tc.run()
	return tc, nil
}

// load reads p and its subtree into the cache.
func (tc *TreeCache) load(ctx context.Context, p string) error {
	if ok, err := tc.refresh(ctx, p); err != nil || !ok {
		return err
	}
	children, _, err := tc.c.GetChildren(ctx, p)
	if errors.Is(err, coord.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ch := range children {
		if err := tc.load(ctx, join(p, ch)); err != nil {
			return err
		}
	}
	return nil
}

// refresh re-reads p: it enters the cache (with any missing ancestors) if it
// exists, and leaves it with its subtree if not. It reports whether p exists.
func (tc *TreeCache) refresh(ctx context.Context, p string) (bool, error) {
	data, st, err := tc.c.GetData(ctx, p)
	if errors.Is(err, coord.ErrNoNode) || errors.Is(err, coord.ErrNoAuth) {
		tc.mu.Lock()
		tc.removeLocked(p)
		tc.mu.Unlock()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p != tc.root {
		parent := parentPath(p)
		tc.mu.RLock()
		_, ok := tc.nodes[parent]
		tc.mu.RUnlock()
		if !ok {
			if ok, err := tc.refresh(ctx, parent); err != nil || !ok {
				return false, err
			}
		}
	}
	tc.mu.Lock()
	e := tc.nodes[p]
	if e == nil {
		e = &cacheEntry{children: map[string]struct{}{}}
		tc.nodes[p] = e
		if p != tc.root {
			if pe := tc.nodes[parentPath(p)]; pe != nil {
				pe.children[base(p)] = struct{}{}
			}
		}
	}
	e.data, e.stat = data, st
	tc.mu.Unlock()
	return true, nil
}

func (tc *TreeCache) removeLocked(p string) {
	e := tc.nodes[p]
	if e == nil {
		return
	}
	for ch := range e.children {
		tc.removeLocked(join(p, ch))
	}
	delete(tc.nodes, p)
	if p != tc.root {
		if pe := tc.nodes[parentPath(p)]; pe != nil {
			delete(pe.children, base(p))
		}
	}
}

// run applies events until the watch ends. Paths whose refresh failed for a
// passing reason (the session is disconnected) are retried.
func (tc *TreeCache) run() {
	defer close(tc.stopped)
	q := &refreshQueue{}
	// note queues the paths an event names.
	note := func(ev coord.Event) {
		switch ev.Type {
		case coord.EventNodeCreated, coord.EventNodeDeleted:
			q.add(ev.Path, ev.Zxid)
			if ev.Path != tc.root {
				q.add(parentPath(ev.Path), ev.Zxid) // its Stat changed
			}
		case coord.EventNodeDataChanged:
			q.add(ev.Path, ev.Zxid)
		}
	}
	var retry <-chan time.Time
	attempt := 0
	for {
		if !tc.awaitEvents(tc.c, !q.empty(), &retry, note) {
			return
		}
		if retry != nil {
			continue
		}
		for !q.empty() {
			p, z := q.peek()
			if _, err := tc.refresh(context.Background(), p); err != nil {
				if sessionGone(err) {
					tc.stop(err)
					return
				}
				attempt++
				retry = retryAfter(attempt)
				break
			}
			attempt = 0
			q.pop()
			tc.mu.Lock()
			tc.zxid = max(tc.zxid, z)
			tc.mu.Unlock()
		}
		tc.changed.notify()
	}
}

// refreshQueue is the ordered set of paths waiting to be re-read, each with
// the zxid of the latest event that named it.
type refreshQueue struct {
	paths []string
	zxids []int64
}

func (q *refreshQueue) add(p string, z int64) {
	if i := slices.Index(q.paths, p); i >= 0 {
		q.zxids[i] = max(q.zxids[i], z)
		return
	}
	q.paths, q.zxids = append(q.paths, p), append(q.zxids, z)
}
func (q *refreshQueue) empty() bool           { return len(q.paths) == 0 }
func (q *refreshQueue) peek() (string, int64) { return q.paths[0], q.zxids[0] }
func (q *refreshQueue) pop()                  { q.paths, q.zxids = q.paths[1:], q.zxids[1:] }

// Get returns the cached node at p.
func (tc *TreeCache) Get(p string) (CachedNode, bool) {
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	e := tc.nodes[p]
	if e == nil {
		return CachedNode{}, false
	}
	return CachedNode{Path: p, Data: slices.Clone(e.data), Stat: e.stat}, true
}

// Children returns the sorted names of the cached children of p, and
// whether p is cached. The slice is the caller's.
func (tc *TreeCache) Children(p string) ([]string, bool) {
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	e := tc.nodes[p]
	if e == nil {
		return nil, false
	}
	out := make([]string, 0, len(e.children))
	for ch := range e.children {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out, true
}

// Paths returns every cached path, sorted. The slice is the caller's.
func (tc *TreeCache) Paths() []string {
	tc.mu.RLock()
	out := make([]string, 0, len(tc.nodes))
	for p := range tc.nodes {
		out = append(out, p)
	}
	tc.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Zxid returns the zxid of the last change the cache has applied.
func (tc *TreeCache) Zxid() int64 {
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	return tc.zxid
}

// Updated returns a channel closed at the cache's next change (or when it
// stops). Take it before reading the cache, then wait on it:
//
//	for {
//		ch := tc.Updated()
//		if n, ok := tc.Get("/app/x"); ok { ... }
//		<-ch
//	}
func (tc *TreeCache) Updated() <-chan struct{} { return tc.updated() }

// Done is closed when the cache stops updating: after Close, or when the
// session ends. The cached data stays readable.
func (tc *TreeCache) Done() <-chan struct{} { return tc.done }

// Err returns nil while the cache runs, then why it stopped: ErrReleased
// after Close, or the session's end (coord.ErrSessionExpired, ErrClosed).
func (tc *TreeCache) Err() error { return tc.stopErr() }

// Close stops the cache by removing its watch. Since coord removes watches
// by session, path and type, this also ends any other persistent-recursive
// watch the session holds on the same root.
func (tc *TreeCache) Close(ctx context.Context) error { return tc.closeWatch(ctx) }

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
