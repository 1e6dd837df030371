package coord

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The API of this file is for protocol front ends: servers that speak a
// client protocol on behalf of a Node, such as package zkserver (ZooKeeper's
// wire protocol). Programs that use coord directly want Session.
//
// A front end serves each client connection with a ServerSession. It
// differs from a Session in three ways:
//
//   - Events go to one function (ServerSessionConfig.Notify) instead of
//     channels: the session's state changes and every watch set through the
//     ServerSession, in the order the engine produces them. A watch
//     trigger reaches a ServerSession once, however many of its watches it
//     fires (ZooKeeper sends a connection one notification per trigger).
//   - Paths are server paths, taken as given. A read of a path that is not
//     valid finds no node; writes leave their validation to the engine,
//     which checks each request in ZooKeeper's order (so a bad path and a
//     missing parent are reported as ZooKeeper would report them).
//   - The connection may go away while the session lives on (Detach), to
//     be re-attached by a later connection with its id and password.

// ServerSessionConfig configures NewServerSession.
type ServerSessionConfig struct {
	// Timeout is the requested session timeout of a new session, negotiated
	// as SessionConfig.Timeout (but zero and negative request the minimum,
	// as ZooKeeper's wire protocol does).
	Timeout time.Duration

	// ID and Password re-attach an existing session, from this node or
	// another member of the ensemble. A wrong password or a session that
	// is gone is ErrSessionExpired; the connection that held the session
	// before sees its session end with StateDisconnected, and requests
	// made through it fail with ErrSessionMoved.
	ID       int64
	Password []byte

	// ClientIP is the peer's address, the identity "ip" ACLs match.
	ClientIP string

	// Notify receives the session's events: state changes (Type
	// EventNone: StateSyncConnected, StateDisconnected when this node lost
	// its leader or the session moved to another connection,
	// StateExpired, StateClosed) and the events of the watches set through
	// the ServerSession, including the EventNotWatching and *WatchRemoved
	// events a front end may not forward. It is called with engine locks
	// held, possibly before NewServerSession returns: it must not block and
	// must not call into the Node. Nil discards events.
	Notify func(Event)
}

// ServerSession is a session as a protocol front end serves it to one
// client connection: events go to Notify, paths are taken as given, and
// the session can outlive its connection (Detach). Its methods are safe for concurrent use.
type ServerSession struct {
	s *Session
}

// NewServerSession creates a session, or re-attaches one (cfg.ID), for a
// front end's connection. Errors carry ZooKeeper codes (CodeOf):
// ErrSessionExpired for a session that cannot be re-attached,
// ErrConnectionLoss once the Node is closed, ErrOperationTimeout when ctx
// ends first.
func (n *Node) NewServerSession(ctx context.Context, cfg ServerSessionConfig) (*ServerSession, error) {
	sc := SessionConfig{ClientIP: cfg.ClientIP}
	if cfg.ID == 0 {
		sc.Timeout = max(cfg.Timeout, time.Millisecond)
	} else {
		sc.ID, sc.Password = cfg.ID, cfg.Password
	}
	notify := cfg.Notify
	if notify == nil {
		notify = func(Event) {}
	}
	ss := &ServerSession{}
	s, err := n.newSession(ctx, sc, notify)
	if err != nil {
		return nil, err
	}
	ss.s = s
	return ss, nil
}

// Session returns the underlying session, for the calls a ServerSession
// has no variant of (Close, AddAuth, SetData, SetACL, GetACL,
// GetAllChildrenNumber, Sync, ID, Password, Timeout, State, Done). Those
// validate their paths as Session always does.
func (ss *ServerSession) Session() *Session { return ss.s }

// deliver implements watchSink for the watches set through ss.
func (ss *ServerSession) deliver(ev Event) { ss.s.notify(ev) }

// Identities returns the identities the session's requests carry: its
// client address (scheme "ip") and what AddAuth added.
func (ss *ServerSession) Identities() []ID { return slices.Clone(ss.s.identities()) }

// ready is the prologue of every ServerSession request.
func (ss *ServerSession) ready(ctx context.Context, op, p string) error {
	if err := ss.s.usable(); err != nil {
		return opErr(op, p, err)
	}
	if err := ctx.Err(); err != nil {
		return opErr(op, p, asCode(err))
	}
	return nil
}

// Detach tells the engine the session's connection is gone. The session
// lives on, without heartbeats, until a connection re-attaches it or its
// timeout expires it; its watches end now (ZooKeeper keeps watches per
// connection, and a reconnecting client re-sends them with SetWatches).
func (ss *ServerSession) Detach() {
	s := ss.s
	s.detach()
	s.n.watches.removeOwner(s.owner, StateDisconnected, ErrConnectionLoss)
}

// ---------------------------------------------------------------------------
// Reads. A watch asked for is registered atomically with the read: no
// change can fall between them.

// Exists reports whether the node at path exists and its Stat. With watch,
// a data watch is set whether or not the node exists (not when the read
// fails): NodeCreated, NodeDataChanged or NodeDeleted fires it.
func (ss *ServerSession) Exists(ctx context.Context, path string, watch bool) (bool, Stat, error) {
	if err := ss.ready(ctx, "exists", path); err != nil {
		return false, Stat{}, err
	}
	s := ss.s
	f := s.n.fsm
	f.mu.RLock()
	defer f.mu.RUnlock()
	z, ok := f.t.nodes[path]
	if ok && !f.t.perm(z, PermRead, s.identities()) {
		return false, Stat{}, opErr("exists", path, ErrNoAuth)
	}
	var st Stat
	if ok {
		st = z.stat()
	}
	if watch {
		s.addWatch(path, watchData, ss, ss)
	}
	return ok, st, nil
}

// GetData returns the node's data (the caller's to keep) and Stat. With
// watch, a data watch is set on success: NodeDataChanged or NodeDeleted
// fires it.
func (ss *ServerSession) GetData(ctx context.Context, path string, watch bool) ([]byte, Stat, error) {
	if err := ss.ready(ctx, "getData", path); err != nil {
		return nil, Stat{}, err
	}
	s := ss.s
	var data []byte
	var st Stat
	code := s.read(path, PermRead, func(t *tree, z *znode) {
		if z.data != nil {
			data = slices.Clone(z.data)
		}
		st = z.stat()
		if watch {
			s.addWatch(path, watchData, ss, ss)
		}
	})
	if code != CodeOK {
		return nil, Stat{}, opErr("getData", path, code)
	}
	return data, st, nil
}

// GetChildren returns the names of the node's children, sorted, and its
// Stat (ZooKeeper's getChildren and getChildren2). With watch, a child
// watch is set on success: NodeChildrenChanged or NodeDeleted fires it.
func (ss *ServerSession) GetChildren(ctx context.Context, path string, watch bool) ([]string, Stat, error) {
	if err := ss.ready(ctx, "getChildren", path); err != nil {
		return nil, Stat{}, err
	}
	s := ss.s
	var names []string
	var st Stat
	code := s.read(path, PermRead, func(t *tree, z *znode) {
		names = make([]string, 0, len(z.children))
		for c := range z.children {
			names = append(names, c)
		}
		st = z.stat()
		if watch {
			s.addWatch(path, watchChild, ss, ss)
		}
	})
	if code != CodeOK {
		return nil, Stat{}, opErr("getChildren", path, code)
	}
	slices.Sort(names)
	return names, st, nil
}

// Ephemerals returns the paths of the session's ephemeral nodes that start
// with prefix, a plain string prefix ("" and "/" match all), sorted.
func (ss *ServerSession) Ephemerals(prefix string) []string {
	s := ss.s
	f := s.n.fsm
	f.mu.RLock()
	var out []string
	if e := f.t.sessions[s.id]; e != nil {
		out = make([]string, 0, len(e.ephemerals))
		for p := range e.ephemerals {
			if prefix == "" || prefix == "/" || strings.HasPrefix(p, prefix) {
				out = append(out, p)
			}
		}
	}
	f.mu.RUnlock()
	slices.Sort(out)
	return out
}

// ---------------------------------------------------------------------------
// Watches

// WatchSet lists a reconnecting client's watches by kind, as ZooKeeper's
// SetWatches and SetWatches2 requests carry them.
type WatchSet struct {
	Data                []string // set by getData
	Exist               []string // set by exists on a missing node
	Child               []string // set by getChildren
	Persistent          []string // AddWatch, WatchPersistent
	PersistentRecursive []string // AddWatch, WatchPersistentRecursive
}

// SetWatches re-registers a reconnecting client's watches with ZooKeeper's
// catch-up relative to relZxid, the last zxid the client saw
// (DataTree.setWatches): a data watch on a missing node fires
// NodeDeleted, on a node changed since NodeDataChanged; an exist watch on
// a present node fires NodeCreated; a child watch on a missing node fires
// NodeDeleted, on a node whose children changed since
// NodeChildrenChanged. A watch that fires (its event goes to Notify with
// Zxid -1 before SetWatches returns) is not registered. Persistent watches
// are registered with no catch-up. Nothing can change between a check and
// its registration. ACLs are not checked, as in ZooKeeper.
func (ss *ServerSession) SetWatches(relZxid int64, w WatchSet) {
	s := ss.s
	f := s.n.fsm
	f.mu.RLock()
	defer f.mu.RUnlock()
	nodes := f.t.nodes
	fire := func(t EventType, p string) {
		ss.deliver(Event{Type: t, State: StateSyncConnected, Path: p, Zxid: -1})
	}
	for _, p := range w.Data {
		switch z := nodes[p]; {
		case z == nil:
			fire(EventNodeDeleted, p)
		case z.mzxid > relZxid:
			fire(EventNodeDataChanged, p)
		default:
			s.addWatch(p, watchData, ss, ss)
		}
	}
	for _, p := range w.Exist {
		if nodes[p] != nil {
			fire(EventNodeCreated, p)
		} else {
			s.addWatch(p, watchData, ss, ss)
		}
	}
	for _, p := range w.Child {
		switch z := nodes[p]; {
		case z == nil:
			fire(EventNodeDeleted, p)
		case z.pzxid > relZxid:
			fire(EventNodeChildrenChanged, p)
		default:
			s.addWatch(p, watchChild, ss, ss)
		}
	}
	for _, p := range w.Persistent {
		s.addWatch(p, watchPersistent, ss, ss)
	}
	for _, p := range w.PersistentRecursive {
		s.addWatch(p, watchRecursive, ss, ss)
	}
}

// AddWatch sets a persistent watch on path (which need not exist, nor be
// valid); see AddWatchMode. As in ZooKeeper, no ACL is checked. An unknown
// mode is ErrBadArguments.
func (ss *ServerSession) AddWatch(path string, mode AddWatchMode) error {
	kind := watchPersistent
	switch mode {
	case WatchPersistent:
	case WatchPersistentRecursive:
		kind = watchRecursive
	default:
		return &OpError{Op: "addWatch", Path: path, Err: ErrBadArguments, Detail: "unknown mode " + strconv.Itoa(int(mode))}
	}
	ss.s.addPersistentWatch(path, kind, ss, ss)
	return nil
}

// RemoveWatches removes the session's watches of type typ on path; Notify
// gets a *WatchRemoved event for each. ErrNoWatcher when none matched,
// ErrBadArguments for an unknown type.
func (ss *ServerSession) RemoveWatches(path string, typ WatcherType) error {
	return ss.removeWatches("removeWatches", path, typ, false)
}

// CheckWatches reports (nil) whether the session has watches of type typ
// on path, or ErrNoWatcher; ErrBadArguments for an unknown type.
func (ss *ServerSession) CheckWatches(path string, typ WatcherType) error {
	return ss.removeWatches("checkWatches", path, typ, true)
}

func (ss *ServerSession) removeWatches(op, path string, typ WatcherType, dryRun bool) error {
	if typ < WatcherChildren || typ > WatcherPersistentRecursive {
		return &OpError{Op: op, Path: path, Err: ErrBadArguments, Detail: "unknown watcher type"}
	}
	if !ss.s.n.watches.remove(ss.s.owner, path, typ, dryRun) {
		return opErr(op, path, ErrNoWatcher)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Writes. The request goes to the engine as given: the path, the data
// size, the mode and the ACL (used as is: empty is ErrInvalidACL, not
// OpenACL) are checked when it applies, in ZooKeeper's order.

// Create creates a node as op says (op.TTL for TTL modes, whole
// milliseconds) and returns its path and Stat.
func (ss *ServerSession) Create(ctx context.Context, op CreateOp) (string, Stat, error) {
	if err := ss.ready(ctx, "create", op.Path); err != nil {
		return "", Stat{}, err
	}
	r, err := ss.s.write(ctx, "create", op.Path, rawCommand(&op))
	if err != nil {
		return "", Stat{}, err
	}
	return r.path, r.stat, nil
}

// Delete deletes the node at path if its version matches (-1: any).
func (ss *ServerSession) Delete(ctx context.Context, path string, version int32) error {
	if err := ss.ready(ctx, "delete", path); err != nil {
		return err
	}
	_, err := ss.s.write(ctx, "delete", path, command{kind: opDelete, path: path, version: version})
	return err
}

// Multi applies ops atomically, as Session.Multi does but with each op
// taken as given. It returns one result per op unless the request failed
// as a whole (results nil, err set); when an op failed, err is set and
// every result carries its error (nil for the ops before the failing one,
// ErrRuntimeInconsistency after it).
func (ss *ServerSession) Multi(ctx context.Context, ops ...Op) ([]OpResult, error) {
	if err := ss.ready(ctx, "multi", ""); err != nil {
		return nil, err
	}
	cmd := command{kind: opMulti, ops: make([]command, 0, len(ops))}
	paths := make([]string, len(ops))
	for i, op := range ops {
		switch op.(type) {
		case *CreateOp, *DeleteOp, *SetDataOp, *CheckOp:
		default:
			return nil, &OpError{Op: "multi", Err: ErrBadArguments, Detail: "unknown op type"}
		}
		c := rawCommand(op)
		paths[i] = c.path
		cmd.ops = append(cmd.ops, c)
	}
	r, err := ss.s.write(ctx, "multi", "", cmd)
	if r.multi == nil {
		return nil, err
	}
	return ss.s.opResults(r, paths)
}

// rawCommand is op's command, unvalidated and without chroot.
func rawCommand(op Op) command {
	switch o := op.(type) {
	case *CreateOp:
		return command{kind: opCreate, path: o.Path, data: o.Data, acl: o.ACL, mode: o.Mode, ttl: o.TTL.Milliseconds()}
	case *DeleteOp:
		return command{kind: opDelete, path: o.Path, version: o.Version}
	case *SetDataOp:
		return command{kind: opSetData, path: o.Path, data: o.Data, version: o.Version}
	case *CheckOp:
		return command{kind: opCheck, path: o.Path, version: o.Version}
	}
	return command{}
}

// ---------------------------------------------------------------------------
// The Node, as a front end sees it

// Config returns the node's configuration, with defaults filled in.
func (n *Node) Config() Config {
	cfg := n.cfg
	cfg.Peers = slices.Clone(cfg.Peers)
	cfg.Gossip.Join = slices.Clone(cfg.Gossip.Join)
	cfg.Gossip.Key = slices.Clone(cfg.Gossip.Key)
	return cfg
}

// CatchUp waits until this node has applied every change committed in the
// ensemble before the call (what Session.Sync does, without a session).
func (n *Node) CatchUp(ctx context.Context) error {
	if err := n.proposer.syncMarker(ctx); err != nil {
		return asCode(err)
	}
	return nil
}

// HasQuorum reports false once this node has been without a leader for
// longer than an election takes: it has lost its quorum, not just its
// leader, and cannot open or move sessions. A node in the middle of an
// election reports true.
func (n *Node) HasQuorum() bool { return !n.outOfTouch(time.Now()) }

// NodeStats is a snapshot of a Node's figures, for monitoring (ZooKeeper's
// four-letter words). The parts are read one after the other, not as one
// atomic view.
type NodeStats struct {
	Zxid int64  // the last change applied
	Role string // as Node.Role

	Znodes     int   // nodes in the tree, the root included
	DataSize   int64 // sum of every node's path and data lengths
	Ephemerals int   // ephemeral nodes of all sessions

	// GlobalSessions counts the ensemble's sessions; Sessions lists those
	// attached to this node (ZooKeeper's local sessions), by id.
	GlobalSessions int
	Sessions       []SessionStats

	// Watches counts the watches of this node's sessions.
	Watches int

	// EphemeralsBySession lists the ephemeral paths, sorted, of every
	// session of the ensemble that has any.
	EphemeralsBySession map[int64][]string

	// LogFormatActive is the raft log format this node writes,
	// LogFormatMax the newest it can read.
	// TODO(core): wire to the log format gating; constant 1/1 until then.
	LogFormatActive, LogFormatMax int
}

// SessionStats describes one session attached to the node.
type SessionStats struct {
	ID      int64
	Timeout time.Duration
	// Watches are the paths the session watches, sorted, each once.
	Watches []string
}

// Stats returns the node's current figures.
func (n *Node) Stats() NodeStats {
	st := NodeStats{Role: n.Role(), EphemeralsBySession: make(map[int64][]string), LogFormatActive: 1, LogFormatMax: 1}
	f := n.fsm
	f.mu.RLock()
	st.Zxid = f.t.zxid
	st.Znodes = len(f.t.nodes)
	st.DataSize = f.t.dataSize
	st.GlobalSessions = len(f.t.sessions)
	for id, e := range f.t.sessions {
		if len(e.ephemerals) == 0 {
			continue
		}
		st.Ephemerals += len(e.ephemerals)
		paths := make([]string, 0, len(e.ephemerals))
		for p := range e.ephemerals {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		st.EphemeralsBySession[id] = paths
	}
	f.mu.RUnlock()

	n.mu.Lock()
	local := make([]*Session, 0, len(n.sessions))
	for _, s := range n.sessions {
		local = append(local, s)
	}
	n.mu.Unlock()
	slices.SortFunc(local, func(a, b *Session) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})

	r := n.watches
	r.mu.Lock()
	st.Watches = r.count
	st.Sessions = make([]SessionStats, 0, len(local))
	for _, s := range local {
		var paths []string
		for w := range s.owner.watches {
			paths = append(paths, w.path)
		}
		slices.Sort(paths)
		st.Sessions = append(st.Sessions, SessionStats{ID: s.id, Timeout: s.timeout, Watches: slices.Compact(paths)})
	}
	r.mu.Unlock()
	return st
}
