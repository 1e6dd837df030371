package coord

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fullPath validates a caller's path and applies the chroot.
func (s *Session) fullPath(p string) (string, error) {
	if reason := pathProblem(p); reason != "" {
		return "", &pathError{reason}
	}
	return joinChroot(s.chroot, p), nil
}

type pathError struct{ reason string }

func (e *pathError) Error() string { return "invalid path: " + e.reason }
func (e *pathError) Unwrap() error { return ErrBadArguments }

// begin is the common prologue of every operation.
func (s *Session) begin(ctx context.Context, op, p string) (string, error) {
	if err := s.usable(); err != nil {
		return "", opErr(op, p, err)
	}
	if err := ctx.Err(); err != nil {
		return "", opErr(op, p, asCode(err))
	}
	full, err := s.fullPath(p)
	if err != nil {
		return "", opErrDetail(op, p, err)
	}
	return full, nil
}

func opErrDetail(op, p string, err error) error {
	if pe, ok := err.(*pathError); ok {
		return &OpError{Op: op, Path: p, Err: ErrBadArguments, Detail: pe.Error()}
	}
	return opErr(op, p, err)
}

// write proposes cmd for the session and waits for its result.
func (s *Session) write(ctx context.Context, op, p string, cmd command) (result, error) {
	cmd.session = s.id
	cmd.ids = s.identities()
	if detail := commandLimits(&cmd); detail != "" {
		return result{}, &OpError{Op: op, Path: p, Err: ErrBadArguments, Detail: detail}
	}
	r, err := s.n.proposer.propose(ctx, cmd)
	if err != nil {
		return result{}, opErr(op, p, asCode(err))
	}
	if r.err != CodeOK {
		return r, opErr(op, p, r.err)
	}
	return r, nil
}

func (s *Session) checkData(op, p string, data []byte) error {
	if len(data) > s.n.cfg.MaxDataSize {
		return &OpError{Op: op, Path: p, Err: ErrBadArguments,
			Detail: "data is " + strconv.Itoa(len(data)) + " bytes, the limit is " + strconv.Itoa(s.n.cfg.MaxDataSize)}
	}
	return nil
}

// Create creates a znode and returns its path (with the sequence suffix for
// sequential modes). A nil acl means OpenACL. TTL modes need CreateTTL.
func (s *Session) Create(ctx context.Context, path string, data []byte, mode CreateMode, acl []ACL) (string, error) {
	p, _, err := s.CreateStat(ctx, path, data, mode, acl, 0)
	return p, err
}

// CreateTTL creates a TTL node (mode PersistentTTL or
// PersistentSequentialTTL): it is deleted once it has no children and has
// not been modified for ttl.
func (s *Session) CreateTTL(ctx context.Context, path string, data []byte, mode CreateMode, acl []ACL, ttl time.Duration) (string, error) {
	p, _, err := s.CreateStat(ctx, path, data, mode, acl, ttl)
	return p, err
}

// CreateStat creates a znode like Create and CreateTTL and also returns
// the new node's Stat (ZooKeeper's create2). ttl must be zero unless mode is
// a TTL mode.
func (s *Session) CreateStat(ctx context.Context, path string, data []byte, mode CreateMode, acl []ACL, ttl time.Duration) (string, Stat, error) {
	if err := s.usable(); err != nil {
		return "", Stat{}, opErr("create", path, err)
	}
	if err := validateCreatePath(path, mode.isSequential()); err != nil {
		return "", Stat{}, &OpError{Op: "create", Path: path, Err: ErrBadArguments, Detail: err.(*OpError).Detail}
	}
	if err := s.checkData("create", path, data); err != nil {
		return "", Stat{}, err
	}
	if acl == nil {
		acl = OpenACL
	}
	cmd := command{kind: opCreate, path: joinChroot(s.chroot, path), data: data, acl: acl, mode: mode, ttl: ttl.Milliseconds()}
	if ttl > 0 && ttl < time.Millisecond {
		cmd.ttl = 1
	}
	r, err := s.write(ctx, "create", path, cmd)
	if err != nil {
		return "", Stat{}, err
	}
	return stripChroot(s.chroot, r.path), r.stat, nil
}

// Delete deletes the znode at path if its version matches (AnyVersion: any).
func (s *Session) Delete(ctx context.Context, path string, version int32) error {
	full, err := s.begin(ctx, "delete", path)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, "delete", path, command{kind: opDelete, path: full, version: version})
	return err
}

// SetData replaces the znode's data if its version matches (AnyVersion: any) and
// returns its new Stat.
func (s *Session) SetData(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	full, err := s.begin(ctx, "setData", path)
	if err != nil {
		return Stat{}, err
	}
	if err := s.checkData("setData", path, data); err != nil {
		return Stat{}, err
	}
	r, err := s.write(ctx, "setData", path, command{kind: opSetData, path: full, data: data, version: version})
	return r.stat, err
}

// SetACL replaces the znode's ACL if its ACL version matches (AnyVersion: any).
func (s *Session) SetACL(ctx context.Context, path string, acl []ACL, aversion int32) (Stat, error) {
	full, err := s.begin(ctx, "setACL", path)
	if err != nil {
		return Stat{}, err
	}
	r, err := s.write(ctx, "setACL", path, command{kind: opSetACL, path: full, acl: acl, version: aversion})
	return r.stat, err
}

// Sync waits until this node has applied every change committed anywhere in
// the ensemble before the call; a read after Sync is linearizable. It
// returns path, as ZooKeeper's sync does.
func (s *Session) Sync(ctx context.Context, path string) (string, error) {
	if _, err := s.begin(ctx, "sync", path); err != nil {
		return "", err
	}
	if err := s.n.proposer.syncMarker(ctx); err != nil {
		return "", opErr("sync", path, asCode(err))
	}
	return path, nil
}

// read runs f on the node at full with the tree read-locked, after the READ
// check. f may register a watch: it happens atomically with the read.
func (s *Session) read(full string, perm Perm, f func(t *tree, n *znode)) Code {
	t := s.n.fsm
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, ok := t.t.nodes[full]
	if !ok {
		return CodeNoNode
	}
	if !t.t.perm(n, perm, s.identities()) {
		return CodeNoAuth
	}
	f(t.t, n)
	return CodeOK
}

func (s *Session) addWatch(full string, kind watchKind, sink watchSink, group any) {
	s.n.watches.add(&watch{path: full, kind: kind, sink: sink, owner: s.owner, chroot: s.chroot, group: group, ids: s.identities})
}

// GetData returns the znode's data and Stat. The returned slice is the
// caller's.
func (s *Session) GetData(ctx context.Context, path string) ([]byte, Stat, error) {
	return s.getData(ctx, path, nil, nil)
}

// GetDataW is GetData that also sets a one-shot watch: the channel receives
// NodeDataChanged or NodeDeleted for the node, then closes. No watch is set
// when an error is returned.
func (s *Session) GetDataW(ctx context.Context, path string) ([]byte, Stat, <-chan Event, error) {
	sink := newChanSink()
	data, st, err := s.getData(ctx, path, sink, nil)
	if err != nil {
		return nil, Stat{}, nil, err
	}
	return data, st, sink.ch, nil
}

// getData reads a node and, when sink is set, registers a data watch
// delivering to it (group deduplicates deliveries, see watch).
func (s *Session) getData(ctx context.Context, path string, sink watchSink, group any) ([]byte, Stat, error) {
	full, err := s.begin(ctx, "getData", path)
	if err != nil {
		return nil, Stat{}, err
	}
	return s.getDataAt(path, full, sink, group)
}

// getDataAt reads the node at full (path as the caller named it, for
// errors) and, with a sink, sets a data watch under the same lock.
func (s *Session) getDataAt(path, full string, sink watchSink, group any) ([]byte, Stat, error) {
	var data []byte
	var st Stat
	code := s.read(full, PermRead, func(t *tree, n *znode) {
		if n.data != nil {
			data = slices.Clone(n.data)
		}
		st = n.stat()
		if sink != nil {
			s.addWatch(full, watchData, sink, group)
		}
	})
	if code != CodeOK {
		return nil, Stat{}, opErr("getData", path, code)
	}
	return data, st, nil
}

// Exists reports whether the znode exists and, if so, its Stat.
func (s *Session) Exists(ctx context.Context, path string) (bool, Stat, error) {
	return s.exists(ctx, path, nil, nil)
}

// ExistsW is Exists that also sets a one-shot watch, whether or not the
// node exists: NodeCreated, NodeDataChanged or NodeDeleted fires it.
func (s *Session) ExistsW(ctx context.Context, path string) (bool, Stat, <-chan Event, error) {
	sink := newChanSink()
	ok, st, err := s.exists(ctx, path, sink, nil)
	if err != nil {
		return false, Stat{}, nil, err
	}
	return ok, st, sink.ch, nil
}

func (s *Session) exists(ctx context.Context, path string, sink watchSink, group any) (bool, Stat, error) {
	full, err := s.begin(ctx, "exists", path)
	if err != nil {
		return false, Stat{}, err
	}
	return s.existsAt(path, full, sink, group)
}

// existsAt is exists of the node at full (path as the caller named it).
func (s *Session) existsAt(path, full string, sink watchSink, group any) (bool, Stat, error) {
	t := s.n.fsm
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, ok := t.t.nodes[full]
	if ok && !t.t.perm(n, PermRead, s.identities()) {
		return false, Stat{}, opErr("exists", path, ErrNoAuth)
	}
	var st Stat
	if ok {
		st = n.stat()
	}
	if sink != nil {
		s.addWatch(full, watchData, sink, group)
	}
	return ok, st, nil
}

// GetChildren returns the names of the znode's children, sorted, and its
// Stat. The slice is the caller's.
func (s *Session) GetChildren(ctx context.Context, path string) ([]string, Stat, error) {
	return s.getChildren(ctx, path, nil, nil)
}

// GetChildrenW is GetChildren that also sets a one-shot watch:
// NodeChildrenChanged or NodeDeleted fires it.
func (s *Session) GetChildrenW(ctx context.Context, path string) ([]string, Stat, <-chan Event, error) {
	sink := newChanSink()
	names, st, err := s.getChildren(ctx, path, sink, nil)
	if err != nil {
		return nil, Stat{}, nil, err
	}
	return names, st, sink.ch, nil
}

func (s *Session) getChildren(ctx context.Context, path string, sink watchSink, group any) ([]string, Stat, error) {
	full, err := s.begin(ctx, "getChildren", path)
	if err != nil {
		return nil, Stat{}, err
	}
	return s.getChildrenAt(path, full, sink, group)
}

// getChildrenAt is getChildren of the node at full (path as the caller
// named it).
func (s *Session) getChildrenAt(path, full string, sink watchSink, group any) ([]string, Stat, error) {
	var names []string
	var st Stat
	code := s.read(full, PermRead, func(t *tree, n *znode) {
		names = make([]string, 0, len(n.children))
		for c := range n.children {
			names = append(names, c)
		}
		st = n.stat()
		if sink != nil {
			s.addWatch(full, watchChild, sink, group)
		}
	})
	if code != CodeOK {
		return nil, Stat{}, opErr("getChildren", path, code)
	}
	slices.Sort(names)
	return names, st, nil
}

// GetACL returns the znode's ACL and Stat. It needs READ or ADMIN; without
// ADMIN, digest ids are masked as "user:x", as ZooKeeper does.
func (s *Session) GetACL(ctx context.Context, path string) ([]ACL, Stat, error) {
	full, err := s.begin(ctx, "getACL", path)
	if err != nil {
		return nil, Stat{}, err
	}
	var acl []ACL
	var st Stat
	ids := s.identities()
	code := s.read(full, PermRead|PermAdmin, func(t *tree, n *znode) {
		acl = slices.Clone(t.acls.get(n.acl))
		st = n.stat()
		if !checkPerm(acl, PermAdmin, ids) {
			for i := range acl {
				if acl[i].Scheme == "digest" {
					user, _, _ := strings.Cut(acl[i].ID, ":")
					acl[i].ID = user + ":x"
				}
			}
		}
	})
	if code != CodeOK {
		return nil, Stat{}, opErr("getACL", path, code)
	}
	return acl, st, nil
}

// GetEphemerals returns the paths of this session's ephemeral nodes that
// start with prefix ("/" for all), sorted.
func (s *Session) GetEphemerals(ctx context.Context, prefix string) ([]string, error) {
	full, err := s.begin(ctx, "getEphemerals", prefix)
	if err != nil {
		return nil, err
	}
	t := s.n.fsm
	t.mu.RLock()
	var out []string
	if e := t.t.sessions[s.id]; e != nil {
		for p := range e.ephemerals {
			if full == "/" || strings.HasPrefix(p, full) {
				out = append(out, stripChroot(s.chroot, p))
			}
		}
	}
	t.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}

// GetAllChildrenNumber returns the number of descendants of path.
func (s *Session) GetAllChildrenNumber(ctx context.Context, path string) (int, error) {
	full, err := s.begin(ctx, "getAllChildrenNumber", path)
	if err != nil {
		return 0, err
	}
	count := 0
	code := s.read(full, PermRead, func(t *tree, n *znode) {
		var walk func(p string, n *znode)
		walk = func(p string, n *znode) {
			for c := range n.children {
				cp := p + "/" + c
				if p == "/" {
					cp = "/" + c
				}
				count++
				walk(cp, t.nodes[cp])
			}
		}
		walk(full, n)
	})
	if code != CodeOK {
		return 0, opErr("getAllChildrenNumber", path, code)
	}
	return count, nil
}

// PersistentWatch is a watch set by AddWatch. Its events arrive in order on
// an unbounded queue; read them or Remove it.
type PersistentWatch struct {
	s    *Session
	path string
	mode AddWatchMode
	sink *queueSink
}

// Events returns the watch's events. The channel closes after
// EventPersistentWatchRemoved or EventNotWatching.
func (w *PersistentWatch) Events() <-chan Event { return w.sink.out }

// Remove removes this session's persistent watches of the same mode on the
// watch's path.
func (w *PersistentWatch) Remove(ctx context.Context) error {
	t := WatcherPersistent
	if w.mode == WatchPersistentRecursive {
		t = WatcherPersistentRecursive
	}
	return w.s.RemoveWatches(ctx, w.path, t)
}

// AddWatch sets a persistent watch on path (which need not exist); see
// AddWatchMode for what fires it. It stays until removed or the session ends.
func (s *Session) AddWatch(ctx context.Context, path string, mode AddWatchMode) (*PersistentWatch, error) {
	full, err := s.begin(ctx, "addWatch", path)
	if err != nil {
		return nil, err
	}
	kind := watchPersistent
	switch mode {
	case WatchPersistent:
	case WatchPersistentRecursive:
		kind = watchRecursive
	default:
		return nil, &OpError{Op: "addWatch", Path: path, Err: ErrBadArguments, Detail: "unknown mode " + strconv.Itoa(int(mode))}
	}
	sink := newQueueSink()
	s.addPersistentWatch(full, kind, sink, nil)
	return &PersistentWatch{s: s, path: path, mode: mode, sink: sink}, nil
}

// addPersistentWatch registers a persistent watch; taking the read lock
// orders it with apply.
func (s *Session) addPersistentWatch(full string, kind watchKind, sink watchSink, group any) {
	t := s.n.fsm
	t.mu.RLock()
	s.addWatch(full, kind, sink, group)
	t.mu.RUnlock()
}

// RemoveWatches removes the session's watches of type typ on path; each
// removed watch receives a *WatchRemoved event and ends. ErrNoWatcher when
// none matched.
func (s *Session) RemoveWatches(ctx context.Context, path string, typ WatcherType) error {
	full, err := s.begin(ctx, "removeWatches", path)
	if err != nil {
		return err
	}
	if typ < WatcherChildren || typ > WatcherPersistentRecursive {
		return &OpError{Op: "removeWatches", Path: path, Err: ErrBadArguments, Detail: "unknown watcher type"}
	}
	if !s.n.watches.remove(s.owner, full, typ, false) {
		return opErr("removeWatches", path, ErrNoWatcher)
	}
	return nil
}

// CheckWatches reports (nil) whether the session has watches of type typ
// on path, or ErrNoWatcher.
func (s *Session) CheckWatches(ctx context.Context, path string, typ WatcherType) error {
	full, err := s.begin(ctx, "checkWatches", path)
	if err != nil {
		return err
	}
	if !s.n.watches.remove(s.owner, full, typ, true) {
		return opErr("checkWatches", path, ErrNoWatcher)
	}
	return nil
}
