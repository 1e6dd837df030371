package recipe

import (
	"bytes"
	"context"
	"errors"

	"github.com/coordkit/coord"
)

// Election is leader election on a path. A campaign is a Mutex contender:
// the leader is the contender that holds the lock, which is exactly kazoo's
// Election (a Lock on the election path) and Curator's LeaderSelector (an
// InterProcessMutex). Candidates wait on their predecessor only, so a
// leader's exit wakes one candidate.
type Election struct{ k *contender }

// NewElection returns an Election on path for session s. opt.Identifier is
// what Leader and Observe report for this candidate.
func NewElection(s *coord.Session, path string, opt Options) *Election {
	return &Election{k: newMutex(s, path, opt).k}
}

// Leadership is won leadership. Its methods may be called from any
// goroutine.
type Leadership struct{ h *hold }

// Token returns the leadership's fencing token, the czxid of the leader's
// node: each new leader's token is higher than every earlier leader's. Pass
// it with writes to storage that rejects tokens lower than the highest it
// has seen, and a deposed leader's late writes are rejected.
func (l *Leadership) Token() int64 { return l.h.token }

// Path returns the path of the leader's node.
func (l *Leadership) Path() string { return l.h.path }

// Done is closed when this process may no longer be the leader: after
// Resign, when its node is deleted, or when its session is disconnected,
// expires or is closed. Stop acting as leader when it closes.
func (l *Leadership) Done() <-chan struct{} { return l.h.done }

// Err returns nil while Done is open. Afterwards: ErrReleased after Resign;
// an error wrapping coord.ErrConnectionLoss when the session is disconnected
// (leadership may have been lost: another candidate may be leading by now);
// one wrapping coord.ErrSessionExpired or coord.ErrClosed when the session
// ended (leadership is lost: the node is gone); one wrapping coord.ErrNoNode
// when someone deleted the node (lost).
func (l *Leadership) Err() error { return l.h.Err() }

// Resign gives up leadership by deleting the leader's node; the next
// candidate takes over. Like Lease.Unlock it is bounded by the session
// timeout rather than by ctx's cancellation.
func (l *Leadership) Resign(ctx context.Context) error { return l.h.release(ctx) }

// Campaign blocks until this candidate leads, ctx ends or the session ends.
// If ctx ends first the candidate's node is deleted and ctx.Err() returned;
// if the session expires the error wraps coord.ErrSessionExpired.
func (e *Election) Campaign(ctx context.Context) (*Leadership, error) {
	h, err := e.k.acquire(ctx, true)
	if err != nil {
		return nil, err
	}
	return &Leadership{h: h}, nil
}

// Leader describes the current leader.
type Leader struct {
	// Path is the leader's node; empty when there is no leader.
	Path string
	// Identifier is the leader's node data (Options.Identifier).
	Identifier []byte
	// Token is the leader's fencing token (its node's czxid).
	Token int64
}

// Leader returns the current leader, or ErrNoLeader.
func (e *Election) Leader(ctx context.Context) (Leader, error) {
	l, _, err := e.leader(ctx, false)
	if err == nil && l.Path == "" {
		err = ErrNoLeader
	}
	return l, err
}

// leader reads the current leader; with watch it also returns a channel
// that fires when that may change: the leader's node changes or goes, or,
// with no leader, the election's children (or the path's existence) change.
func (e *Election) leader(ctx context.Context, watch bool) (Leader, <-chan coord.Event, error) {
	for {
		children, _, err := e.k.c.GetChildren(ctx, e.k.dir)
		if errors.Is(err, coord.ErrNoNode) {
			if !watch {
				return Leader{}, nil, nil
			}
			ok, _, ch, err := e.k.c.ExistsW(ctx, e.k.dir)
			if err != nil || ok {
				if err != nil {
					return Leader{}, nil, err
				}
				continue // created meanwhile
			}
			return Leader{}, ch, nil
		}
		if err != nil {
			return Leader{}, nil, err
		}
		cs := sortedContenders(children, isMutexToken)
		if len(cs) == 0 {
			if !watch {
				return Leader{}, nil, nil
			}
			children, _, ch, err := e.k.c.GetChildrenW(ctx, e.k.dir)
			if err != nil {
				if errors.Is(err, coord.ErrNoNode) {
					continue
				}
				return Leader{}, nil, err
			}
			if len(sortedContenders(children, isMutexToken)) > 0 {
				continue // a candidate arrived meanwhile; the watch fires later, harmlessly
			}
			return Leader{}, ch, nil
		}
		p := join(e.k.dir, cs[0].name)
		var data []byte
		var st coord.Stat
		var ch <-chan coord.Event
		if watch {
			data, st, ch, err = e.k.c.GetDataW(ctx, p)
		} else {
			data, st, err = e.k.c.GetData(ctx, p)
		}
		if errors.Is(err, coord.ErrNoNode) {
			continue // the leader left meanwhile
		}
		if err != nil {
			return Leader{}, nil, err
		}
		return Leader{Path: p, Identifier: data, Token: st.Czxid}, ch, nil
	}
}

// Observe reports the leader as it changes, starting with the current one
// (a Leader with an empty Path while there is none). It watches the leader's
// node only, so candidates joining do not wake observers. The channel holds
// the latest state: a slow reader skips intermediate leaders, never the
// last. It is closed when ctx ends or the session ends.
func (e *Election) Observe(ctx context.Context) <-chan Leader {
	out := make(chan Leader)
	go func() {
		defer close(out)
		var last Leader
		first := true
		for {
			l, ch, err := e.leader(ctx, true)
			if err != nil {
				if ctx.Err() != nil || sessionErr(e.k.c) != nil {
					return
				}
				if err := backoff(ctx, e.k.c, 3); err != nil {
					return
				}
				continue
			}
			if first || l.Path != last.Path || !bytes.Equal(l.Identifier, last.Identifier) {
				select {
				case out <- l:
				case <-ctx.Done():
					return
				case <-e.k.c.Done():
					return
				}
				first, last = false, l
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return
			case <-e.k.c.Done():
				return
			}
		}
	}()
	return out
}

// Contenders returns the leader and the waiting candidates, in order.
func (e *Election) Contenders(ctx context.Context) ([]Contender, error) {
	return e.k.contenders(ctx, isMutexToken)
}
