package zkwire

import "strings"

// Client-side watch bookkeeping, as the Java client's ZKWatchManager keeps
// it for its default watcher: which paths have a data, exist, child,
// persistent or persistent-recursive watch. A notification is delivered
// only when it matches a registered watch; one-shot watches are dropped when
// they fire. RemoveWatches consults and updates the same tables and reports
// the removals as DataWatchRemoved/ChildWatchRemoved/PersistentWatchRemoved
// events.

type watchKind uint8

const (
	watchNone watchKind = iota
	watchData
	watchExist
	watchChild
	watchPersistent
	watchRecursive
)

type watchTable struct {
	data, exist, child, persistent, recursive map[string]struct{}
}

func newWatchTable() *watchTable {
	return &watchTable{
		data:       map[string]struct{}{},
		exist:      map[string]struct{}{},
		child:      map[string]struct{}{},
		persistent: map[string]struct{}{},
		recursive:  map[string]struct{}{},
	}
}

func (w *watchTable) set(k watchKind) map[string]struct{} {
	switch k {
	case watchData:
		return w.data
	case watchExist:
		return w.exist
	case watchChild:
		return w.child
	case watchPersistent:
		return w.persistent
	case watchRecursive:
		return w.recursive
	}
	return nil
}

func (w *watchTable) add(k watchKind, path string) {
	if m := w.set(k); m != nil {
		m[path] = struct{}{}
	}
}

// take removes path from m and reports whether it was there.
func take(m map[string]struct{}, path string) bool {
	_, ok := m[path]
	delete(m, path)
	return ok
}

func has(m map[string]struct{}, path string) bool {
	_, ok := m[path]
	return ok
}

// persistentMatch reports whether a persistent watch on path or a
// persistent-recursive watch on path or an ancestor matches.
func (w *watchTable) persistentMatch(path string, recursiveToo bool) bool {
	if has(w.persistent, path) {
		return true
	}
	if !recursiveToo || len(w.recursive) == 0 {
		return false
	}
	for p := path; ; {
		if has(w.recursive, p) {
			return true
		}
		if p == "/" {
			return false
		}
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			p = "/"
		} else {
			p = p[:i]
		}
	}
}

// materialize reports whether a notification reaches a registered watch,
// removing the one-shot watches it fires (ZKWatchManager.materialize).
func (w *watchTable) materialize(t EventType, path string) bool {
	switch t {
	case EventNodeCreated, EventNodeDataChanged:
		a := take(w.data, path)
		b := take(w.exist, path)
		return w.persistentMatch(path, true) || a || b
	case EventNodeChildrenChanged:
		a := take(w.child, path)
		return w.persistentMatch(path, false) || a
	case EventNodeDeleted:
		a := take(w.data, path)
		b := take(w.exist, path)
		c := take(w.child, path)
		return w.persistentMatch(path, true) || a || b || c
	}
	return false
}

// contains reports whether a watch of the given RemoveWatches type is set
// on path (ZKWatchManager.containsWatcher).
func (w *watchTable) contains(path string, typ int32) bool {
	p := has(w.persistent, path) || has(w.recursive, path)
	switch typ {
	case WatcherChildren:
		return has(w.child, path) || p
	case WatcherData:
		return has(w.data, path) || has(w.exist, path) || p
	case WatcherAny:
		return has(w.child, path) || has(w.data, path) || has(w.exist, path) || p
	}
	return false
}

// remove drops the watches of a RemoveWatches type on path and returns the
// removal events to deliver, in the order DataWatchRemoved,
// ChildWatchRemoved, PersistentWatchRemoved.
func (w *watchTable) remove(path string, typ int32) []EventType {
	var data, child, pers bool
	switch typ {
	case WatcherChildren:
		child = take(w.child, path)
	case WatcherData:
		a := take(w.data, path)
		b := take(w.exist, path)
		data = a || b
	case WatcherAny:
		child = take(w.child, path)
		a := take(w.data, path)
		b := take(w.exist, path)
		data = a || b
		c := take(w.persistent, path)
		d := take(w.recursive, path)
		pers = c || d
	case WatcherPersistent:
		pers = take(w.persistent, path)
	case WatcherPersistentRecursive:
		pers = take(w.recursive, path)
	}
	var out []EventType
	if data {
		out = append(out, EventDataWatchRemoved)
	}
	if child {
		out = append(out, EventChildWatchRemoved)
	}
	if pers {
		out = append(out, EventPersistentWatchRemoved)
	}
	return out
}
