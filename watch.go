package coord

import (
	"slices"
	"sync"
)

// EventType says what happened to a watched node.
type EventType int32

// Event types, numbered as ZooKeeper's Watcher.Event.EventType.
const (
	EventNone                   EventType = -1 // a session state change
	EventNodeCreated            EventType = 1
	EventNodeDeleted            EventType = 2
	EventNodeDataChanged        EventType = 3
	EventNodeChildrenChanged    EventType = 4
	EventDataWatchRemoved       EventType = 5
	EventChildWatchRemoved      EventType = 6
	EventPersistentWatchRemoved EventType = 7
	// EventNotWatching ends a watch that can no longer fire because its
	// session closed or expired; Err says why.
	EventNotWatching EventType = -2
)

func (t EventType) String() string {
	switch t {
	case EventNone:
		return "None"
	case EventNodeCreated:
		return "NodeCreated"
	case EventNodeDeleted:
		return "NodeDeleted"
	case EventNodeDataChanged:
		return "NodeDataChanged"
	case EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case EventDataWatchRemoved:
		return "DataWatchRemoved"
	case EventChildWatchRemoved:
		return "ChildWatchRemoved"
	case EventPersistentWatchRemoved:
		return "PersistentWatchRemoved"
	case EventNotWatching:
		return "NotWatching"
	}
	return "Unknown"
}

// State is a session's connection state, numbered as ZooKeeper's KeeperState.
type State int32

// Session states.
const (
	StateDisconnected  State = 0
	StateSyncConnected State = 3
	StateAuthFailed    State = 4
	StateReadOnly      State = 5
	StateClosed        State = 7
	StateExpired       State = -112
)

func (s State) String() string {
	switch s {
	case StateDisconnected:
		return "Disconnected"
	case StateSyncConnected:
		return "SyncConnected"
	case StateAuthFailed:
		return "AuthFailed"
	case StateReadOnly:
		return "ConnectedReadOnly"
	case StateClosed:
		return "Closed"
	case StateExpired:
		return "Expired"
	}
	return "Unknown"
}

// Event is a watch notification or a session state change.
type Event struct {
	Type  EventType
	State State
	Path  string // inside the session's chroot; empty for state changes
	Zxid  int64  // zxid of the change that fired it (0 for state changes)
	Err   error  // set on EventNotWatching
}

// AddWatchMode selects what AddWatch watches.
type AddWatchMode int32

// AddWatch modes, numbered as on ZooKeeper's wire.
const (
	// WatchPersistent fires NodeCreated, NodeDeleted, NodeDataChanged and
	// NodeChildrenChanged for the node itself and stays registered.
	WatchPersistent AddWatchMode = 0
	// WatchPersistentRecursive fires NodeCreated, NodeDeleted and
	// NodeDataChanged for the node and every descendant, never
	// NodeChildrenChanged, and stays registered.
	WatchPersistentRecursive AddWatchMode = 1
)

// WatcherType selects which watches RemoveWatches removes.
type WatcherType int32

// Watcher types, numbered as on ZooKeeper's wire.
const (
	WatcherChildren            WatcherType = 1
	WatcherData                WatcherType = 2
	WatcherAny                 WatcherType = 3
	WatcherPersistent          WatcherType = 4
	WatcherPersistentRecursive WatcherType = 5
)

type watchKind uint8

const (
	watchData watchKind = iota // getData and exists
	watchChild
	watchPersistent
	watchRecursive
	numWatchKinds
)

// watchSink receives a watch's events. deliver is called by the apply loop
// with the tree locked: it must not block and must not call back into the
// node.
type watchSink interface {
	deliver(ev Event)
}

// watch is one registration. group, when set, deduplicates: a trigger
// delivers once per group (ZooKeeper sends a connection one notification per
// trigger, whatever it registered). ids, when set, returns the session's
// identities: an event is delivered only if they may READ the node.
type watch struct {
	path   string // server path
	kind   watchKind
	sink   watchSink
	owner  *watchOwner
	chroot string
	group  any
	ids    func() []ID
}

// watchOwner is the set of watches one session holds, so they can be found
// for RemoveWatches and dropped when the session ends.
type watchOwner struct {
	watches map[*watch]struct{} // guarded by registry.mu
	ended   bool                // guarded by registry.mu: the session ended
}

func newWatchOwner() *watchOwner { return &watchOwner{watches: make(map[*watch]struct{})} }

// registry holds every watch of the sessions local to this node. It is not
// replicated: watches live where their session lives.
type registry struct {
	mu     sync.Mutex
	byKind [numWatchKinds]map[string][]*watch // guarded by mu
	count  int                                // guarded by mu
}

func newRegistry() *registry {
	r := &registry{}
	for i := range r.byKind {
		r.byKind[i] = make(map[string][]*watch)
	}
	return r
}

// add registers w. Callers hold the tree's read lock, so a registration
// happens atomically with the read that sets it.
func (r *registry) add(w *watch) {
	r.mu.Lock()
	if w.owner.ended {
		// The session ended while the read that sets this watch ran.
		r.mu.Unlock()
		w.sink.deliver(Event{Type: EventNotWatching, State: StateClosed, Path: stripChroot(w.chroot, w.path), Err: ErrClosed})
		return
	}
	r.byKind[w.kind][w.path] = append(r.byKind[w.kind][w.path], w)
	w.owner.watches[w] = struct{}{}
	r.count++
	r.mu.Unlock()
}

func (r *registry) removeLocked(w *watch) {
	m := r.byKind[w.kind]
	list := m[w.path]
	if i := slices.Index(list, w); i >= 0 {
		list = slices.Delete(list, i, i+1)
		if len(list) == 0 {
			delete(m, w.path)
		} else {
			m[w.path] = list
		}
		r.count--
	}
	delete(w.owner.watches, w)
}

// trigger fires the watches a change at path matches. acl is the ACL of the
// node the event is about (the parent's for NodeChildrenChanged): as in
// ZooKeeper, a session that may not READ it does not get the event, though
// its one-shot watch is used up. It is called by apply with the tree
// write-locked.
func (r *registry) trigger(typ EventType, path string, zxid int64, acl []ACL) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == 0 {
		return
	}
	var fired []*watch
	take := func(k watchKind, p string, oneShot bool) {
		list := r.byKind[k][p]
		if len(list) == 0 {
			return
		}
		fired = append(fired, list...)
		if oneShot {
			delete(r.byKind[k], p)
			r.count -= len(list)
			for _, w := range list {
				delete(w.owner.watches, w)
			}
		}
	}
	switch typ {
	case EventNodeCreated, EventNodeDataChanged:
		take(watchData, path, true)
		take(watchPersistent, path, false)
	case EventNodeDeleted:
		take(watchData, path, true)
		take(watchChild, path, true)
		take(watchPersistent, path, false)
	case EventNodeChildrenChanged:
		take(watchChild, path, true)
		take(watchPersistent, path, false)
	}
	if typ != EventNodeChildrenChanged && len(r.byKind[watchRecursive]) > 0 {
		for p := path; ; {
			take(watchRecursive, p, false)
			if p == "/" {
				break
			}
			p, _ = parentOf(p)
		}
	}
	var groups []any
	for _, w := range fired {
		if w.group != nil {
			if slices.Contains(groups, w.group) {
				continue
			}
			groups = append(groups, w.group)
		}
		if w.ids != nil && !checkPerm(acl, PermRead, w.ids()) {
			continue
		}
		w.sink.deliver(Event{Type: typ, State: StateSyncConnected, Path: stripChroot(w.chroot, path), Zxid: zxid})
	}
}

// remove drops the owner's watches on path of the given type, telling each
// sink with ev(kind). It reports whether any matched; with dryRun it only
// reports (checkWatches).
func (r *registry) remove(o *watchOwner, path string, typ WatcherType, dryRun bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var matched []*watch
	for w := range o.watches {
		if w.path != path {
			continue
		}
		ok := false
		switch typ {
		case WatcherChildren:
			ok = w.kind == watchChild
		case WatcherData:
			ok = w.kind == watchData
		case WatcherAny:
			ok = true
		case WatcherPersistent:
			ok = w.kind == watchPersistent
		case WatcherPersistentRecursive:
			ok = w.kind == watchRecursive
		}
		if ok {
			matched = append(matched, w)
		}
	}
	if dryRun || len(matched) == 0 {
		return len(matched) > 0
	}
	for _, w := range matched {
		r.removeLocked(w)
		t := EventDataWatchRemoved
		switch w.kind {
		case watchChild:
			t = EventChildWatchRemoved
		case watchPersistent, watchRecursive:
			t = EventPersistentWatchRemoved
		}
		w.sink.deliver(Event{Type: t, State: StateSyncConnected, Path: stripChroot(w.chroot, path)})
	}
	return true
}

// removeOwner drops every watch of a session that ended, ending each with
// an EventNotWatching carrying err.
func (r *registry) removeOwner(o *watchOwner, state State, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if state != StateDisconnected { // a wire connection's loss keeps the session
		o.ended = true
	}
	for w := range o.watches {
		r.removeLocked(w)
		w.sink.deliver(Event{Type: EventNotWatching, State: state, Path: stripChroot(w.chroot, w.path), Err: err})
	}
}

// chanSink is a one-shot watch delivered on a channel of capacity 1: the
// first event is sent and the channel closed; later events are dropped.
type chanSink struct {
	ch   chan Event
	done bool // guarded by registry.mu (deliver is always called under it)
}

func newChanSink() *chanSink { return &chanSink{ch: make(chan Event, 1)} }

func (s *chanSink) deliver(ev Event) {
	if s.done {
		return
	}
	s.done = true
	s.ch <- ev
	close(s.ch)
}

// queueSink delivers every event, in order, on a buffered channel. While
// the consumer keeps up, deliver puts the event in the channel itself, so it
// is there before the write that caused it returns (ZooKeeper's ordering:
// an event precedes any later read that reflects its change). When the
// buffer is full the overflow waits in an unbounded queue that a goroutine
// drains, so a slow or stalled consumer never blocks apply. The channel
// closes after an event that ends the watch.
type queueSink struct {
	mu      sync.Mutex
	items   []Event // guarded by mu: overflow, oldest first
	pumping bool    // guarded by mu: a pump goroutine owns sending items
	closed  bool    // guarded by mu: no more events will be accepted
	out     chan Event
}

// queueSinkBuffer is how far a consumer may fall behind before events wait
// in the overflow queue.
const queueSinkBuffer = 16

func newQueueSink() *queueSink {
	return &queueSink{out: make(chan Event, queueSinkBuffer)}
}

func (q *queueSink) deliver(ev Event) {
	q.put(ev, ev.Type == EventNotWatching || ev.Type == EventPersistentWatchRemoved)
}

// put queues ev; last closes the channel after it.
func (q *queueSink) put(ev Event, last bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = last
	if !q.pumping {
		select {
		case q.out <- ev:
			if q.closed {
				close(q.out)
			}
			return
		default:
		}
		q.pumping = true
		go q.pump()
	}
	q.items = append(q.items, ev)
}

// pump sends the overflow in order, then exits (closing the channel if the
// watch has ended).
func (q *queueSink) pump() {
	for {
		q.mu.Lock()
		items := q.items
		q.items = nil
		if len(items) == 0 {
			q.pumping = false
			if q.closed {
				close(q.out)
			}
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		for _, ev := range items {
			q.out <- ev
		}
	}
}

// watchedPaths returns the paths with non-recursive watches, sorted.
func (r *registry) watchedPaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := watchData; k < watchRecursive; k++ {
		for p := range r.byKind[k] {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// endKind ends every watch of kind, telling each sink with EventNotWatching.
func (r *registry) endKind(kind watchKind, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, list := range r.byKind[kind] {
		for _, w := range slices.Clone(list) {
			r.removeLocked(w)
			w.sink.deliver(Event{Type: EventNotWatching, State: StateSyncConnected, Path: stripChroot(w.chroot, w.path), Err: err})
		}
	}
}
