package recipe

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/coordkit/coord"
)

// Group is group membership, a service registry's core, in kazoo's Party
// layout: each member is an ephemeral child "<32 hex>__party__" of the
// group's path holding the member's payload. A member leaves when it calls
// Leave or when its session ends.
type Group struct {
	c    conn
	path string
	acl  []coord.ACL
}

// NewGroup returns a Group on path for session s. acl is the ACL of the
// nodes the Group creates; nil means coord.OpenACL.
func NewGroup(s *coord.Session, path string, acl []coord.ACL) *Group {
	return &Group{c: s, path: path, acl: acl}
}

// Member is one member of a Group.
type Member struct {
	// Name is the member's node name.
	Name string
	// Payload is the member's data: what it registered (an address, a JSON
	// document, kazoo's identifier).
	Payload []byte
	// Joined is the czxid of the member's node: members sort by it, in the
	// order they joined.
	Joined int64
}

// Membership is this process's membership of a Group. Its methods may be
// called from any goroutine.
type Membership struct{ h *hold }

// Name returns the member's node name.
func (m *Membership) Name() string { return base(m.h.path) }

// Path returns the member's node path.
func (m *Membership) Path() string { return m.h.path }

// Done is closed when the membership may have ended: after Leave, when the
// node is deleted or the session is disconnected or ends. Err says which, as
// Lease.Err does.
func (m *Membership) Done() <-chan struct{} { return m.h.done }

// Err returns nil while Done is open, then why it closed (see Lease.Err).
func (m *Membership) Err() error { return m.h.Err() }

// Leave removes the member from the group. Like Lease.Unlock it is bounded
// by the session timeout rather than by ctx's cancellation.
func (m *Membership) Leave(ctx context.Context) error { return m.h.release(ctx) }

// Join adds a member with payload. Call it again to register another member
// (a Group may hold several members of one session).
func (g *Group) Join(ctx context.Context, payload []byte) (*Membership, error) {
	p := join(g.path, newHex32()+partySuffix)
	for attempt := 0; ; attempt++ {
		_, st, err := g.c.CreateStat(ctx, p, payload, coord.Ephemeral, g.acl, 0)
		switch {
		case err == nil:
			return &Membership{h: newHold(g.c, p, st.Czxid)}, nil
		case errors.Is(err, coord.ErrNodeExists): // an earlier attempt was applied
			_, st, err := g.c.Exists(ctx, p)
			if err != nil {
				return nil, err
			}
			return &Membership{h: newHold(g.c, p, st.Czxid)}, nil
		case errors.Is(err, coord.ErrNoNode):
			if err := ensurePath(ctx, g.c, g.path, g.acl); err != nil {
				return nil, ctxOr(ctx, err)
			}
		case retryable(err) && ctx.Err() == nil:
			if err := backoff(ctx, g.c, attempt); err != nil {
				return nil, err
			}
		default:
			if ctx.Err() != nil && sessionErr(g.c) == nil {
				dctx, cancel := detached(ctx, g.c)
				if _, err := g.c.Sync(dctx, g.path); err == nil {
					_ = g.c.Delete(dctx, p, coord.AnyVersion)
				}
				cancel()
			}
			return nil, ctxOr(ctx, err)
		}
	}
}

func isMember(name string) bool { return strings.HasSuffix(name, partySuffix) }

// Members returns the current members in join order.
func (g *Group) Members(ctx context.Context) ([]Member, error) {
	children, _, err := g.c.GetChildren(ctx, g.path)
	if errors.Is(err, coord.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return g.read(ctx, children, nil)
}

// read returns the members among children, reusing known (immutable
// payloads are read once per member).
func (g *Group) read(ctx context.Context, children []string, known map[string]Member) ([]Member, error) {
	out := []Member{}
	for _, ch := range children {
		if !isMember(ch) {
			continue
		}
		if m, ok := known[ch]; ok {
			out = append(out, m)
			continue
		}
		data, st, err := g.c.GetData(ctx, join(g.path, ch))
		if errors.Is(err, coord.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Member{Name: ch, Payload: data, Joined: st.Czxid})
	}
	slices.SortFunc(out, func(a, b Member) int {
		if a.Joined != b.Joined {
			if a.Joined < b.Joined {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// Watch reports the members as they change, starting with the current
// ones. It watches the group's children only: a member's payload is read
// once, when it joins, so change a payload by leaving and joining again. The
// channel holds the latest state: a slow reader skips intermediate
// memberships, never the last. It is closed when ctx ends or the session
// ends.
func (g *Group) Watch(ctx context.Context) <-chan []Member {
	out := make(chan []Member)
	go func() {
		defer close(out)
		known := map[string]Member{}
		var last []Member
		first := true
		for {
			children, _, ch, err := g.c.GetChildrenW(ctx, g.path)
			if errors.Is(err, coord.ErrNoNode) {
				var ok bool
				ok, _, ch, err = g.c.ExistsW(ctx, g.path)
				if err == nil && ok {
					continue
				}
				children = nil
			}
			var ms []Member
			if err == nil {
				ms, err = g.read(ctx, children, known)
			}
			if err != nil {
				if ctx.Err() != nil || sessionErr(g.c) != nil || backoff(ctx, g.c, 3) != nil {
					return
				}
				continue
			}
			known = make(map[string]Member, len(ms))
			for _, m := range ms {
				known[m.Name] = m
			}
			if first || !sameMembers(ms, last) {
				select {
				case out <- ms:
				case <-ctx.Done():
					return
				case <-g.c.Done():
					return
				}
				first, last = false, ms
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return
			case <-g.c.Done():
				return
			}
		}
	}()
	return out
}

func sameMembers(a, b []Member) bool {
	return slices.EqualFunc(a, b, func(x, y Member) bool {
		return x.Name == y.Name && x.Joined == y.Joined && bytes.Equal(x.Payload, y.Payload)
	})
}
