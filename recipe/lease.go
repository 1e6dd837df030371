package recipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coordkit/coord"
)

// hold is the holder's side of an ephemeral node that stands for something
// held: a lock, a lease, leadership, group membership. It watches the node
// and the session and closes done when the thing may no longer be held.
type hold struct {
	c     conn
	path  string
	token int64

	once sync.Once
	err  error         // why done closed; written once, before close(done)
	done chan struct{} // closed when the hold may be lost

	stopOnce sync.Once
	stop     chan struct{} // closed by release: the monitor exits
}

func newHold(c conn, path string, token int64) *hold {
	h := &hold{c: c, path: path, token: token, done: make(chan struct{}), stop: make(chan struct{})}
	go h.monitor()
	return h
}

// lose closes done with err, once.
func (h *hold) lose(err error) {
	h.once.Do(func() {
		h.err = err
		close(h.done)
	})
}

func (h *hold) lostBecause(cause error) error {
	if cause == ErrReleased {
		return cause
	}
	return fmt.Errorf("recipe: %s lost: %w", h.path, cause)
}

// Err returns nil while done is open, then why it closed.
func (h *hold) Err() error {
	select {
	case <-h.done:
		return h.err
	default:
		return nil
	}
}

// pollInterval is how often a hold checks the session's state on top of
// watching Done: a session goes Disconnected without ending when its node
// loses touch with the ensemble's leader, and the only notification of that,
// Session.Events, has a single reader that belongs to the application.
func pollInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 10*time.Millisecond), 250*time.Millisecond)
}

// monitor closes done when the node is deleted, the session leaves the
// connected state, or the session ends, whichever comes first.
func (h *hold) monitor() {
	poll := time.NewTicker(pollInterval(h.c.Timeout()))
	defer poll.Stop()
	for {
		_, _, ch, err := h.c.GetDataW(context.Background(), h.path)
		if err != nil {
			if errors.Is(err, coord.ErrNoNode) {
				h.lose(h.lostBecause(h.deletedCause()))
			} else if se := sessionErr(h.c); se != nil {
				h.lose(h.lostBecause(se))
			} else {
				h.lose(h.lostBecause(err))
			}
			return
		}
	wait:
		for {
			select {
			case ev := <-ch:
				switch ev.Type {
				case coord.EventNodeDeleted:
					h.lose(h.lostBecause(h.deletedCause()))
					return
				case coord.EventNotWatching:
					se := sessionErr(h.c)
					if se == nil {
						se = ev.Err
					}
					h.lose(h.lostBecause(se))
					return
				default: // data changed, or the watch was removed: watch again
					break wait
				}
			case <-h.c.Done():
				h.lose(h.lostBecause(sessionErr(h.c)))
				return
			case <-poll.C:
				if se := sessionErr(h.c); se != nil {
					h.lose(h.lostBecause(se))
					return
				}
			case <-h.stop:
				return
			}
		}
	}
}

// deletedCause says why the node went: the session's end (expiry deletes
// the ephemerals before the session learns it has ended, in the same apply)
// or someone's delete. A delete of the (already gone, uniquely named) node
// through the session is applied after that apply, so once it returns the
// session knows whether it has ended; its outcome does not matter.
func (h *hold) deletedCause() error {
	select {
	case <-h.stop:
		return ErrReleased
	default:
	}
	ctx, cancel := detached(context.Background(), h.c)
	defer cancel()
	_ = h.c.Delete(ctx, h.path, coord.AnyVersion)
	if se := sessionErr(h.c); se != nil {
		return se
	}
	return coord.ErrNoNode
}

// release ends the hold and deletes its node, retrying after connection
// loss. It does not give up when ctx ends: an abandoned node would block
// every other contender until the session ends, so it is bounded by the
// session timeout instead. A node that is already gone (deleted, or its
// session ended) is not an error.
func (h *hold) release(ctx context.Context) error {
	h.lose(ErrReleased)
	h.stopOnce.Do(func() { close(h.stop) })
	dctx, cancel := detached(ctx, h.c)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := h.c.Delete(dctx, h.path, coord.AnyVersion)
		if err == nil || errors.Is(err, coord.ErrNoNode) || sessionGone(err) {
			return nil
		}
		// Deleting is idempotent: after a connection loss (a leader
		// change), try again until the node is gone or the session is.
		if !retryable(err) || backoff(dctx, h.c, attempt) != nil {
			if sessionGone(sessionErr(h.c)) {
				return nil
			}
			return err
		}
	}
}

// Lease is a held lock or semaphore lease. Its methods may be called from
// any goroutine.
type Lease struct{ h *hold }

// Token returns the lease's fencing token: the czxid of the holder's node.
// Tokens of successive holders of a Mutex (or writers of an RWMutex)
// increase, so a storage service that remembers the highest token it has
// seen and rejects writes carrying a lower one rejects a deposed holder's
// late writes.
func (l *Lease) Token() int64 { return l.h.token }

// Path returns the path of the holder's node.
func (l *Lease) Path() string { return l.h.path }

// Done is closed when the lease may no longer be held: after Unlock, when
// the holder's node is deleted, when the session expires or is closed, or
// when it is disconnected. Err says which.
func (l *Lease) Done() <-chan struct{} { return l.h.done }

// Err returns nil while Done is open. Afterwards it returns ErrReleased
// after Unlock, or an error wrapping coord.ErrConnectionLoss (the lease may
// have been lost: stop acting on it), coord.ErrSessionExpired or
// coord.ErrClosed (the lease is lost) or coord.ErrNoNode (someone deleted the
// holder's node: the lease is lost).
func (l *Lease) Err() error { return l.h.Err() }

// Unlock releases the lease by deleting the holder's node. It is bounded by
// the session timeout rather than by ctx's cancellation (see package doc:
// an abandoned node blocks the others until the session ends). Unlocking a
// lease whose node is already gone returns nil.
func (l *Lease) Unlock(ctx context.Context) error { return l.h.release(ctx) }
