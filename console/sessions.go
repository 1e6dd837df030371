package console

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coordkit/coord"
)

// errBusy: every cached session is in use and the cache is full.
var errBusy = errors.New("too many viewer identities at once; try again shortly")

// sessionCache holds one coord session per viewer identity: bounded, the
// least recently used idle session evicted to make room, and sessions idle
// for longer than idle closed. A session is only ever handed to requests of
// the identity it was opened with (its key is the identity).
type sessionCache struct {
	n    *coord.Node
	max  int
	idle time.Duration

	mu      sync.Mutex
	entries map[string]*cachedSession
	closed  bool
}

type cachedSession struct {
	key      string
	s        *coord.Session
	ready    chan struct{} // closed once s (or err) is set
	err      error
	refs     int
	lastUsed time.Time
}

func newSessionCache(n *coord.Node, max int, idle time.Duration) *sessionCache {
	return &sessionCache{n: n, max: max, idle: idle, entries: make(map[string]*cachedSession)}
}

// acquire returns the session of identity key, opened with auth if it is
// not cached. release must be called when the request is done with it.
func (c *sessionCache) acquire(ctx context.Context, key string, auth []coord.Auth) (*coord.Session, func(), error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, nil, coord.ErrClosed
		}
		e := c.entries[key]
		if e != nil && e.s != nil && !live(e.s) {
			// Expired or closed under us (the node lost its quorum, say):
			// drop it and open a fresh one.
			delete(c.entries, key)
			e = nil
		}
		if e == nil {
			if len(c.entries) >= c.max && !c.evictLocked() {
				c.mu.Unlock()
				return nil, nil, errBusy
			}
			e = &cachedSession{key: key, ready: make(chan struct{})}
			c.entries[key] = e
			e.refs++
			c.mu.Unlock()
			s, err := c.n.NewSession(ctx, coord.SessionConfig{Auth: auth})
			c.mu.Lock()
			e.s, e.err = s, err
			close(e.ready)
			if err != nil {
				e.refs--
				if c.entries[key] == e {
					delete(c.entries, key)
				}
				c.mu.Unlock()
				return nil, nil, err
			}
			if c.closed {
				c.mu.Unlock()
				_ = s.Close(context.Background())
				return nil, nil, coord.ErrClosed
			}
			e.lastUsed = time.Now()
			c.mu.Unlock()
			return s, c.releaser(e), nil
		}
		e.refs++
		c.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			c.releaser(e)()
			return nil, nil, ctx.Err()
		}
		if e.err != nil {
			c.releaser(e)()
			continue // the opener failed; try again ourselves
		}
		c.mu.Lock()
		e.lastUsed = time.Now()
		c.mu.Unlock()
		return e.s, c.releaser(e), nil
	}
}

func live(s *coord.Session) bool {
	st := s.State()
	return st == coord.StateSyncConnected || st == coord.StateDisconnected
}

func (c *sessionCache) releaser(e *cachedSession) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			e.refs--
			e.lastUsed = time.Now()
			c.mu.Unlock()
		})
	}
}

// evictLocked closes the least recently used idle session; false if every
// session is in use.
func (c *sessionCache) evictLocked() bool {
	var victim *cachedSession
	for _, e := range c.entries {
		if e.refs == 0 && e.s != nil && (victim == nil || e.lastUsed.Before(victim.lastUsed)) {
			victim = e
		}
	}
	if victim == nil {
		return false
	}
	delete(c.entries, victim.key)
	go closeSession(victim.s)
	return true
}

func closeSession(s *coord.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

// expire closes sessions idle since before now-idle.
func (c *sessionCache) expire(now time.Time) {
	c.mu.Lock()
	var gone []*coord.Session
	for k, e := range c.entries {
		if e.refs == 0 && e.s != nil && now.Sub(e.lastUsed) > c.idle {
			delete(c.entries, k)
			gone = append(gone, e.s)
		}
	}
	c.mu.Unlock()
	for _, s := range gone {
		closeSession(s)
	}
}

// ids returns the ids of the sessions the console holds, so the sessions
// page can mark them.
func (c *sessionCache) ids() map[int64]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int64]bool, len(c.entries))
	for _, e := range c.entries {
		if e.s != nil {
			out[e.s.ID()] = true
		}
	}
	return out
}

func (c *sessionCache) closeAll() {
	c.mu.Lock()
	c.closed = true
	var all []*coord.Session
	for k, e := range c.entries {
		if e.s != nil {
			all = append(all, e.s)
		}
		delete(c.entries, k)
	}
	c.mu.Unlock()
	for _, s := range all {
		closeSession(s)
	}
}
