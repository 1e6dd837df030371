package recipe

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coordkit/coord"
)

// cacheLife is the lifecycle NodeCache and TreeCache share: the persistent
// watch that feeds a cache, the signal of its changes, and how and why it
// stopped. The caches embed it and wrap its methods in their own exported,
// documented ones.
type cacheLife struct {
	w *coord.PersistentWatch

	changed broadcast
	done    chan struct{} // closed by stop
	stopped chan struct{} // closed when the cache's run loop returns

	errMu sync.Mutex
	err   error // guarded by errMu: why the cache stopped
}

// init readies l for the watch w.
func (l *cacheLife) init(w *coord.PersistentWatch) {
	l.w = w
	l.done = make(chan struct{})
	l.stopped = make(chan struct{})
}

// abandon gives up the watch of a cache that failed to start: it removes the
// watch and drains its events.
func (l *cacheLife) abandon(ctx context.Context, c conn) {
	rctx, cancel := detached(ctx, c)
	_ = l.w.Remove(rctx)
	cancel()
	go func() {
		for range l.w.Events() {
		}
	}()
}

// awaitEvents waits for the next event of the watch, or for *retry to fire
// (then it sets *retry to nil), unless the cache has work to do (busy) and
// no retry is pending; then it takes the events already queued. It passes
// each event to note, except those that end the watch: they stop the cache,
// and awaitEvents returns false for the run loop to return.
func (l *cacheLife) awaitEvents(c conn, busy bool, retry *<-chan time.Time, note func(coord.Event)) bool {
	events := l.w.Events()
	if !busy || *retry != nil {
		select {
		case ev, ok := <-events:
			if !l.take(c, ev, ok, note) {
				return false
			}
		case <-*retry:
			*retry = nil
		}
	}
	for { // take what is already queued
		select {
		case ev, ok := <-events:
			if !l.take(c, ev, ok, note) {
				return false
			}
		default:
			return true
		}
	}
}

// take passes ev to note, or stops the cache if ev (or the closing of the
// events channel, !ok) ends the watch; false means the cache stopped.
func (l *cacheLife) take(c conn, ev coord.Event, ok bool, note func(coord.Event)) bool {
	switch {
	case !ok:
		l.stop(sessionErr(c))
	case ev.Type == coord.EventNotWatching:
		l.stop(ev.Err)
	case ev.Type == coord.EventPersistentWatchRemoved:
		l.stop(ErrReleased)
	default:
		note(ev)
		return true
	}
	return false
}

// retryAfter is when a refresh that failed for the attempt-th time in a row
// is retried: 10ms … 640ms.
func retryAfter(attempt int) <-chan time.Time {
	return time.After(time.Duration(1<<min(attempt, 7)) * 5 * time.Millisecond)
}

// stop records why the cache stopped (coord.ErrClosed for nil), closes done
// and wakes the Updated waiters. It is called once, from the run loop.
func (l *cacheLife) stop(err error) {
	if err == nil {
		err = coord.ErrClosed
	}
	l.errMu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.errMu.Unlock()
	close(l.done)
	l.changed.notify()
}

// updated returns a channel closed at the next change, or already closed
// once the cache has stopped.
func (l *cacheLife) updated() <-chan struct{} {
	ch := l.changed.wait()
	select {
	case <-l.done:
		c := make(chan struct{})
		close(c)
		return c
	default:
		return ch
	}
}

// stopErr returns nil while the cache runs, then why it stopped.
func (l *cacheLife) stopErr() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

// closeWatch removes the watch and waits for the run loop to return. A watch
// already gone, or a session already ended, is not an error.
func (l *cacheLife) closeWatch(ctx context.Context) error {
	err := l.w.Remove(ctx)
	if errors.Is(err, coord.ErrNoWatcher) || sessionGone(err) {
		err = nil
	}
	if err != nil {
		return err
	}
	select {
	case <-l.stopped:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
