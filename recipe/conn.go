package recipe

import (
	"context"
	"errors"
	"time"

	"github.com/coordkit/coord"
)

// conn is the part of *coord.Session the recipes use. Every recipe holds a
// conn rather than a *coord.Session so that tests can put a fault-injecting
// wrapper in between (a create that commits but reports connection loss, for
// instance); the public constructors always take a *coord.Session.
type conn interface {
	CreateStat(ctx context.Context, path string, data []byte, mode coord.CreateMode, acl []coord.ACL, ttl time.Duration) (string, coord.Stat, error)
	Delete(ctx context.Context, path string, version int32) error
	Exists(ctx context.Context, path string) (bool, coord.Stat, error)
	ExistsW(ctx context.Context, path string) (bool, coord.Stat, <-chan coord.Event, error)
	GetData(ctx context.Context, path string) ([]byte, coord.Stat, error)
	GetDataW(ctx context.Context, path string) ([]byte, coord.Stat, <-chan coord.Event, error)
	SetData(ctx context.Context, path string, data []byte, version int32) (coord.Stat, error)
	GetChildren(ctx context.Context, path string) ([]string, coord.Stat, error)
	GetChildrenW(ctx context.Context, path string) ([]string, coord.Stat, <-chan coord.Event, error)
	Sync(ctx context.Context, path string) (string, error)
	AddWatch(ctx context.Context, path string, mode coord.AddWatchMode) (*coord.PersistentWatch, error)
	Done() <-chan struct{}
	State() coord.State
	Timeout() time.Duration
}

var _ conn = (*coord.Session)(nil)

// sessionErr says why the session can no longer be used: ErrSessionExpired,
// ErrClosed or ErrConnectionLoss; nil while it is connected.
func sessionErr(c conn) error {
	switch c.State() {
	case coord.StateSyncConnected:
		return nil
	case coord.StateExpired:
		return coord.ErrSessionExpired
	case coord.StateClosed:
		return coord.ErrClosed
	default:
		return coord.ErrConnectionLoss
	}
}

// sessionGone reports whether err means the session has ended, so that its
// ephemeral nodes are gone (or will be) and retrying on it is pointless.
func sessionGone(err error) bool {
	return errors.Is(err, coord.ErrSessionExpired) || errors.Is(err, coord.ErrClosed) ||
		errors.Is(err, coord.ErrSessionMoved)
}

// retryable reports whether err leaves the outcome of a write unknown while
// the session lives on: the write may or may not have been applied.
func retryable(err error) bool {
	return errors.Is(err, coord.ErrConnectionLoss) || errors.Is(err, coord.ErrOperationTimeout) ||
		errors.Is(err, coord.ErrThrottled) || errors.Is(err, coord.ErrRequestTimeout)
}

// detached returns a context for cleanup after ctx ended: it keeps ctx's
// values, not its cancellation, and is bounded by the session timeout (after
// which an ephemeral node of a dead session is gone anyway).
func detached(ctx context.Context, c conn) (context.Context, context.CancelFunc) {
	d := c.Timeout()
	if d <= 0 {
		d = 10 * time.Second
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// backoff waits before retrying an operation whose outcome was unknown. It
// returns an error if ctx ends or the session dies first.
func backoff(ctx context.Context, c conn, attempt int) error {
	d := time.Duration(1<<min(attempt, 7)) * 5 * time.Millisecond // 5ms … 640ms
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.Done():
		return sessionErr(c)
	}
}

// ctxOr returns ctx.Err() when ctx has ended (so callers see exactly
// context.Canceled or context.DeadlineExceeded), else err.
func ctxOr(ctx context.Context, err error) error {
	if e := ctx.Err(); e != nil {
		return e
	}
	return err
}
