package recipe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/coordkit/coord"
)

// Queue is a distributed queue in kazoo's Queue layout: each item is a
// persistent-sequential child "entry-<priority, 3 digits>-<seq>" holding
// the item, and consumers take the child whose name sorts first. Items of
// equal priority leave in the order they were put (FIFO); lower priority
// numbers leave first. Items outlive the sessions that put them.
//
// A consumer removes an item before returning it: an item whose consumer
// dies before processing it is lost (kazoo's Queue has the same contract).
type Queue struct {
	c    conn
	path string
	acl  []coord.ACL
}

const (
	queuePrefix = "entry-"
	// DefaultPriority is the priority of Put, kazoo's default.
	DefaultPriority = 100
)

// NewQueue returns a Queue on path for session s. acl is the ACL of the
// nodes the Queue creates; nil means coord.OpenACL.
func NewQueue(s *coord.Session, path string, acl []coord.ACL) *Queue {
	return &Queue{c: s, path: path, acl: acl}
}

// Put appends data with DefaultPriority.
func (q *Queue) Put(ctx context.Context, data []byte) error {
	return q.PutPriority(ctx, data, DefaultPriority)
}

// PutPriority appends data with priority in [0, 999]; lower leaves first.
// If ctx ends during the call the item may still be put.
func (q *Queue) PutPriority(ctx context.Context, data []byte, priority int) error {
	if priority < 0 || priority > 999 {
		return &coord.OpError{Op: "queue.put", Path: q.path, Err: coord.ErrBadArguments, Detail: "priority must be in [0, 999]"}
	}
	p := join(q.path, fmt.Sprintf("%s%03d-", queuePrefix, priority))
	for {
		_, _, err := q.c.CreateStat(ctx, p, data, coord.PersistentSequential, q.acl, 0)
		if errors.Is(err, coord.ErrNoNode) {
			if err := ensurePath(ctx, q.c, q.path, q.acl); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// entries returns the item names in the order they leave the queue.
func entries(children []string) []string {
	children = slices.DeleteFunc(children, func(s string) bool { return !strings.HasPrefix(s, queuePrefix) })
	slices.Sort(children)
	return children
}

// Get removes and returns the first item, blocking while the queue is
// empty, until ctx or the session ends.
func (q *Queue) Get(ctx context.Context) ([]byte, error) {
	for {
		data, ok, err := q.TryGet(ctx)
		if err != nil || ok {
			return data, err
		}
		// Empty: watch and look again, so an item put meanwhile is not missed.
		children, _, ch, err := q.c.GetChildrenW(ctx, q.path)
		if errors.Is(err, coord.ErrNoNode) {
			var exists bool
			exists, _, ch, err = q.c.ExistsW(ctx, q.path)
			if err == nil && exists {
				continue
			}
		}
		if err != nil {
			return nil, ctxOr(ctx, err)
		}
		if len(entries(children)) > 0 {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.c.Done():
			return nil, sessionErr(q.c)
		}
	}
}

// TryGet removes and returns the first item; ok is false if the queue is
// empty.
func (q *Queue) TryGet(ctx context.Context) (data []byte, ok bool, err error) {
	for {
		children, _, err := q.c.GetChildren(ctx, q.path)
		if errors.Is(err, coord.ErrNoNode) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, ctxOr(ctx, err)
		}
		es := entries(children)
		if len(es) == 0 {
			return nil, false, nil
		}
		for _, name := range es {
			p := join(q.path, name)
			data, st, err := q.c.GetData(ctx, p)
			if errors.Is(err, coord.ErrNoNode) {
				continue // another consumer took it
			}
			if err != nil {
				return nil, false, ctxOr(ctx, err)
			}
			// Only the consumer whose delete succeeds owns the item.
			err = q.c.Delete(ctx, p, st.Version)
			if errors.Is(err, coord.ErrNoNode) || errors.Is(err, coord.ErrBadVersion) {
				continue
			}
			if err != nil {
				return nil, false, ctxOr(ctx, err)
			}
			return data, true, nil
		}
	}
}

// Len returns the number of items.
func (q *Queue) Len(ctx context.Context) (int, error) {
	children, _, err := q.c.GetChildren(ctx, q.path)
	if errors.Is(err, coord.ErrNoNode) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return len(entries(children)), nil
}
