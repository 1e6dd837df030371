package coord

import (
	"context"
	"time"
)

// Op is one operation of a Multi: *CreateOp, *DeleteOp, *SetDataOp or
// *CheckOp.
type Op interface{ multiOp() }

// CreateOp creates a znode inside a Multi. A nil ACL means OpenACL.
type CreateOp struct {
	Path string
	Data []byte
	Mode CreateMode
	ACL  []ACL
	TTL  time.Duration // TTL modes only
}

// DeleteOp deletes a znode inside a Multi.
type DeleteOp struct {
	Path    string
	Version int32
}

// SetDataOp sets a znode's data inside a Multi.
type SetDataOp struct {
	Path    string
	Data    []byte
	Version int32
}

// CheckOp fails the Multi unless the znode exists with this version (AnyVersion: any).
type CheckOp struct {
	Path    string
	Version int32
}

func (*CreateOp) multiOp()  {}
func (*DeleteOp) multiOp()  {}
func (*SetDataOp) multiOp() {}
func (*CheckOp) multiOp()   {}

// OpResult is one operation's outcome in a Multi.
type OpResult struct {
	Path string // CreateOp: the created path
	Stat Stat   // CreateOp and SetDataOp: the node's new Stat
	// Err is nil for operations that succeeded (or, in a failed Multi,
	// would have), the operation's error for the one that failed, and
	// ErrRuntimeInconsistency for those after it.
	Err error
}

// Multi applies ops atomically: all of them, in order, each seeing the
// effects of the ones before it, or none. It returns one result per op; when
// it fails, err is the failing op's error (wrapped with its path).
func (s *Session) Multi(ctx context.Context, ops ...Op) ([]OpResult, error) {
	if err := s.usable(); err != nil {
		return nil, opErr("multi", "", err)
	}
	cmd := command{kind: opMulti, ops: make([]command, 0, len(ops))}
	userPaths := make([]string, len(ops))
	for i, op := range ops {
		var c command
		var err error
		switch o := op.(type) {
		case *CreateOp:
			userPaths[i] = o.Path
			if err = validateCreatePath(o.Path, o.Mode.isSequential()); err == nil {
				err = s.checkData("multi", o.Path, o.Data)
			}
			acl := o.ACL
			if acl == nil {
				acl = OpenACL
			}
			c = command{kind: opCreate, path: joinChroot(s.chroot, o.Path), data: o.Data, mode: o.Mode, acl: acl, ttl: o.TTL.Milliseconds()}
		case *DeleteOp:
			userPaths[i] = o.Path
			err = ValidatePath(o.Path)
			c = command{kind: opDelete, path: joinChroot(s.chroot, o.Path), version: o.Version}
		case *SetDataOp:
			userPaths[i] = o.Path
			if err = ValidatePath(o.Path); err == nil {
				err = s.checkData("multi", o.Path, o.Data)
			}
			c = command{kind: opSetData, path: joinChroot(s.chroot, o.Path), data: o.Data, version: o.Version}
		case *CheckOp:
			userPaths[i] = o.Path
			err = ValidatePath(o.Path)
			c = command{kind: opCheck, path: joinChroot(s.chroot, o.Path), version: o.Version}
		default:
			return nil, &OpError{Op: "multi", Err: ErrBadArguments, Detail: "unknown op type"}
		}
		if err != nil {
			if oe, ok := err.(*OpError); ok {
				return nil, &OpError{Op: "multi", Path: userPaths[i], Err: oe.Err, Detail: oe.Detail}
			}
			return nil, opErr("multi", userPaths[i], err)
		}
		cmd.ops = append(cmd.ops, c)
	}
	r, err := s.write(ctx, "multi", "", cmd)
	if r.multi == nil {
		return nil, err
	}
	return s.opResults(r, userPaths)
}

// opResults converts apply's per-op results; err wraps the first failure.
func (s *Session) opResults(r result, userPaths []string) ([]OpResult, error) {
	out := make([]OpResult, len(r.multi))
	var first error
	for i, mr := range r.multi {
		out[i] = OpResult{Path: stripChroot(s.chroot, mr.path), Stat: mr.stat}
		if mr.err != CodeOK {
			out[i].Err = mr.err
			if first == nil && mr.err != CodeRuntimeInconsistency {
				first = opErr("multi", userPaths[i], mr.err)
			}
		}
	}
	if first == nil && r.err != CodeOK {
		first = opErr("multi", "", r.err)
	}
	return out, first
}
