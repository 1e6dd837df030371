package coord

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// Watch tests. One-shot watches are delivered by apply before the write
// that fires them returns, so their channels are checked without waiting.

func TestOneShotWatches(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{}) // sets watches
	w := newSession(t, n, SessionConfig{}) // writes
	mustCreate(t, w, "/w", nil, Persistent, nil)

	t.Run("DataWatchFiresOnceOnSetData", func(t *testing.T) {
		mustCreate(t, w, "/w/a", nil, Persistent, nil)
		_, _, ch, err := s.GetDataW(ctx, "/w/a")
		if err != nil {
			t.Fatal(err)
		}
		nothingQueued(t, ch)
		if _, err := w.SetData(ctx, "/w/a", []byte("1"), -1); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, queued(t, ch), EventNodeDataChanged, "/w/a", n.LastZxid())
		wantClosed(t, ch)
		if err := s.CheckWatches(ctx, "/w/a", WatcherData); !errors.Is(err, ErrNoWatcher) {
			t.Fatalf("fired watch still registered: %v", err)
		}
	})
	t.Run("DataWatchFiresOnDelete", func(t *testing.T) {
		mustCreate(t, w, "/w/b", nil, Persistent, nil)
		_, _, ch, err := s.GetDataW(ctx, "/w/b")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Delete(ctx, "/w/b", -1); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, queued(t, ch), EventNodeDeleted, "/w/b", n.LastZxid())
		wantClosed(t, ch)
	})
	t.Run("DataWatchNotFiredByChildCreate", func(t *testing.T) {
		mustCreate(t, w, "/w/c", nil, Persistent, nil)
		_, _, ch, err := s.GetDataW(ctx, "/w/c")
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, w, "/w/c/kid", nil, Persistent, nil)
		nothingQueued(t, ch)
		if err := s.RemoveWatches(ctx, "/w/c", WatcherData); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ExistsWatchOnMissingNodeFiresCreated", func(t *testing.T) {
		ok, st, ch, err := s.ExistsW(ctx, "/w/new")
		if err != nil || ok || st != (Stat{}) {
			t.Fatalf("ExistsW = %v, %+v, %v", ok, st, err)
		}
		mustCreate(t, w, "/w/new", nil, Persistent, nil)
		wantEvent(t, queued(t, ch), EventNodeCreated, "/w/new", n.LastZxid())
		wantClosed(t, ch)
	})
	t.Run("ExistsWatchOnNodeFiresDataChanged", func(t *testing.T) {
		ok, _, ch, err := s.ExistsW(ctx, "/w/new")
		if err != nil || !ok {
			t.Fatalf("ExistsW = %v, %v", ok, err)
		}
		if _, err := w.SetData(ctx, "/w/new", []byte("x"), -1); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, queued(t, ch), EventNodeDataChanged, "/w/new", n.LastZxid())
	})
	t.Run("ExistsWatchOnNodeFiresDeleted", func(t *testing.T) {
		_, _, ch, err := s.ExistsW(ctx, "/w/new")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Delete(ctx, "/w/new", -1); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, queued(t, ch), EventNodeDeleted, "/w/new", n.LastZxid())
	})
	t.Run("ChildWatchFiresOnCreateAndDelete", func(t *testing.T) {
		mustCreate(t, w, "/w/p", nil, Persistent, nil)
		kids, _, ch, err := s.GetChildrenW(ctx, "/w/p")
		if err != nil || len(kids) != 0 {
			t.Fatalf("GetChildrenW = %v, %v", kids, err)
		}
		mustCreate(t, w, "/w/p/k", nil, Ephemeral, nil)
		wantEvent(t, queued(t, ch), EventNodeChildrenChanged, "/w/p", n.LastZxid())
		wantClosed(t, ch)
		_, _, ch, err = s.GetChildrenW(ctx, "/w/p")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Delete(ctx, "/w/p/k", -1); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, queued(t, ch), EventNodeChildrenChanged, "/w/p", n.LastZxid())
	})
	t.Run("ChildDataChangeDoesNotFireParentChildWatch", func(t *testing.T) {
		mustCreate(t, w, "/w/q", nil, Persistent, nil)
		mustCreate(t, w, "/w/q/k", nil, Persistent, nil)
		_, _, ch, err := s.GetChildrenW(ctx, "/w/q")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.SetData(ctx, "/w/q/k", []byte("x"), -1); err != nil {
			t.Fatal(err)
		}
		if _, err := w.SetData(ctx, "/w/q", []byte("x"), -1); err != nil {
			t.Fatal(err) // the node's own data is not a child change either
		}
		mustCreate(t, w, "/w/q/k/grandchild", nil, Persistent, nil)
		nothingQueued(t, ch)
		mustCreate(t, w, "/w/q/k2", nil, Persistent, nil)
		wantEvent(t, queued(t, ch), EventNodeChildrenChanged, "/w/q", n.LastZxid())
	})
	t.Run("DeleteFiresDataAndChildWatchesAndParent", func(t *testing.T) {
		mustCreate(t, w, "/w/x", nil, Persistent, nil)
		_, _, dataW, err := s.GetDataW(ctx, "/w/x")
		if err != nil {
			t.Fatal(err)
		}
		_, _, existW, err := s.ExistsW(ctx, "/w/x")
		if err != nil {
			t.Fatal(err)
		}
		_, _, childW, err := s.GetChildrenW(ctx, "/w/x")
		if err != nil {
			t.Fatal(err)
		}
		_, _, parentW, err := s.GetChildrenW(ctx, "/w")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Delete(ctx, "/w/x", -1); err != nil {
			t.Fatal(err)
		}
		z := n.LastZxid()
		wantEvent(t, queued(t, dataW), EventNodeDeleted, "/w/x", z)
		wantEvent(t, queued(t, existW), EventNodeDeleted, "/w/x", z)
		wantEvent(t, queued(t, childW), EventNodeDeleted, "/w/x", z)
		wantEvent(t, queued(t, parentW), EventNodeChildrenChanged, "/w", z)
	})
	t.Run("NoWatchWhenTheReadFails", func(t *testing.T) {
		mustCreate(t, w, "/w/secret", nil, Persistent, WorldACL(PermAll&^PermRead))
		for _, tc := range []struct {
			name string
			read func() (<-chan Event, error)
			path string
			typ  WatcherType
			want error
		}{
			{"GetDataWNoNode", func() (<-chan Event, error) { _, _, ch, err := s.GetDataW(ctx, "/w/later"); return ch, err }, "/w/later", WatcherData, ErrNoNode},
			{"GetChildrenWNoNode", func() (<-chan Event, error) {
				_, _, ch, err := s.GetChildrenW(ctx, "/w/later")
				return ch, err
			}, "/w/later", WatcherChildren, ErrNoNode},
			{"GetDataWNoAuth", func() (<-chan Event, error) { _, _, ch, err := s.GetDataW(ctx, "/w/secret"); return ch, err }, "/w/secret", WatcherData, ErrNoAuth},
			{"ExistsWNoAuth", func() (<-chan Event, error) { _, _, ch, err := s.ExistsW(ctx, "/w/secret"); return ch, err }, "/w/secret", WatcherData, ErrNoAuth},
			{"GetChildrenWNoAuth", func() (<-chan Event, error) {
				_, _, ch, err := s.GetChildrenW(ctx, "/w/secret")
				return ch, err
			}, "/w/secret", WatcherChildren, ErrNoAuth},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ch, err := tc.read()
				if !errors.Is(err, tc.want) || ch != nil {
					t.Fatalf("got %v, %v; want nil channel and %v", ch, err, tc.want)
				}
				if err := s.CheckWatches(ctx, tc.path, WatcherAny); !errors.Is(err, ErrNoWatcher) {
					t.Fatalf("CheckWatches after a failed read: %v", err)
				}
			})
		}
	})
	t.Run("OneEventPerWatchAndSession", func(t *testing.T) {
		mustCreate(t, w, "/w/many", nil, Persistent, nil)
		other := newSession(t, n, SessionConfig{})
		var chans []<-chan Event
		for _, sess := range []*Session{s, s, other} {
			_, _, ch, err := sess.GetDataW(ctx, "/w/many")
			if err != nil {
				t.Fatal(err)
			}
			chans = append(chans, ch)
		}
		if _, err := w.SetData(ctx, "/w/many", nil, -1); err != nil {
			t.Fatal(err)
		}
		for _, ch := range chans {
			wantEvent(t, queued(t, ch), EventNodeDataChanged, "/w/many", n.LastZxid())
			wantClosed(t, ch)
		}
	})
}

// readEvents reads n events from ch (zxids zeroed, for comparison with
// an expectation), failing on a timeout.
func readEvents(t *testing.T, ch <-chan Event, n int) []Event {
	t.Helper()
	out := make([]Event, n)
	for i := range out {
		out[i] = recv(t, ch)
		out[i].Zxid = 0
	}
	return out
}

func mkEvent(typ EventType, path string) Event {
	return Event{Type: typ, State: StateSyncConnected, Path: path}
}

func TestPersistentWatches(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})
	w := newSession(t, n, SessionConfig{})
	mustCreate(t, w, "/base", nil, Persistent, nil)

	// The same writes, seen by a persistent and by a recursive watch.
	writes := func(root string) {
		t.Helper()
		steps := []func() error{
			func() error { _, err := w.Create(ctx, root, nil, Persistent, nil); return err },
			func() error { _, err := w.SetData(ctx, root, []byte("1"), -1); return err },
			func() error { _, err := w.Create(ctx, root+"/c", nil, Persistent, nil); return err },
			func() error { _, err := w.SetData(ctx, root+"/c", []byte("2"), -1); return err },
			func() error { _, err := w.Create(ctx, root+"/c/g", nil, Persistent, nil); return err },
			func() error { _, err := w.SetACL(ctx, root+"/c/g", ReadACL, -1); return err },
			func() error { return w.Delete(ctx, root+"/c/g", -1) },
			func() error { return w.Delete(ctx, root+"/c", -1) },
			func() error { _, err := w.Create(ctx, root+"x", nil, Persistent, nil); return err }, // a sibling sharing the prefix
			func() error { return w.Delete(ctx, root, -1) },
			func() error { _, err := w.Create(ctx, root, nil, Persistent, nil); return err },
			func() error { _, err := w.SetData(ctx, root, []byte("end"), -1); return err },
		}
		for i, f := range steps {
			if err := f(); err != nil {
				t.Fatalf("%s step %d: %v", root, i, err)
			}
		}
	}

	for _, tc := range []struct {
		name string
		root string
		mode AddWatchMode
		want []Event
	}{
		{"Persistent", "/base/p", WatchPersistent, []Event{
			mkEvent(EventNodeCreated, "/base/p"),
			mkEvent(EventNodeDataChanged, "/base/p"),
			mkEvent(EventNodeChildrenChanged, "/base/p"),
			mkEvent(EventNodeChildrenChanged, "/base/p"),
			mkEvent(EventNodeDeleted, "/base/p"),
			mkEvent(EventNodeCreated, "/base/p"),
			mkEvent(EventNodeDataChanged, "/base/p"),
		}},
		{"PersistentRecursive", "/base/r", WatchPersistentRecursive, []Event{
			mkEvent(EventNodeCreated, "/base/r"),
			mkEvent(EventNodeDataChanged, "/base/r"),
			mkEvent(EventNodeCreated, "/base/r/c"),
			mkEvent(EventNodeDataChanged, "/base/r/c"),
			mkEvent(EventNodeCreated, "/base/r/c/g"),
			mkEvent(EventNodeDeleted, "/base/r/c/g"),
			mkEvent(EventNodeDeleted, "/base/r/c"),
			mkEvent(EventNodeDeleted, "/base/r"),
			mkEvent(EventNodeCreated, "/base/r"),
			mkEvent(EventNodeDataChanged, "/base/r"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root
			pw, err := s.AddWatch(ctx, root, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			// A one-shot watch on the same path coexists with it.
			_, _, oneShot, err := s.ExistsW(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			writes(root)
			got := readEvents(t, pw.Events(), len(tc.want))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("events\n got %+v\nwant %+v", got, tc.want)
			}
			// Nothing else fired: the next event is this sentinel's.
			if _, err := w.SetData(ctx, root, []byte("sentinel"), -1); err != nil {
				t.Fatal(err)
			}
			wantEvent(t, recv(t, pw.Events()), EventNodeDataChanged, root, n.LastZxid())
			wantEvent(t, queued(t, oneShot), EventNodeCreated, root, -1)
			// Still registered after all that.
			if err := s.CheckWatches(ctx, root, WatcherType(4+tc.mode)); err != nil {
				t.Fatalf("CheckWatches: %v", err)
			}
			if err := pw.Remove(ctx); err != nil {
				t.Fatal(err)
			}
			wantEvent(t, recv(t, pw.Events()), EventPersistentWatchRemoved, root, 0)
			wantClosed(t, pw.Events())
		})
	}
	_, err := s.AddWatch(ctx, "/base", AddWatchMode(2))
	wantOpError(t, err, ErrBadArguments, "addWatch", "/base")
}

func TestRemoveAndCheckWatches(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})
	other := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/rw", nil, Persistent, nil)

	// watches sets one watch of every kind on /rw and returns their
	// channels by WatcherType.
	watches := func(t *testing.T) map[WatcherType][]<-chan Event {
		_, _, d, err := s.GetDataW(ctx, "/rw")
		if err != nil {
			t.Fatal(err)
		}
		_, _, e, err := s.ExistsW(ctx, "/rw")
		if err != nil {
			t.Fatal(err)
		}
		_, _, c, err := s.GetChildrenW(ctx, "/rw")
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.AddWatch(ctx, "/rw", WatchPersistent)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.AddWatch(ctx, "/rw", WatchPersistentRecursive)
		if err != nil {
			t.Fatal(err)
		}
		return map[WatcherType][]<-chan Event{
			WatcherData:                {d, e},
			WatcherChildren:            {c},
			WatcherPersistent:          {p.Events()},
			WatcherPersistentRecursive: {r.Events()},
		}
	}
	removedEvent := map[WatcherType]EventType{
		WatcherData:                EventDataWatchRemoved,
		WatcherChildren:            EventChildWatchRemoved,
		WatcherPersistent:          EventPersistentWatchRemoved,
		WatcherPersistentRecursive: EventPersistentWatchRemoved,
	}
	all := []WatcherType{WatcherData, WatcherChildren, WatcherPersistent, WatcherPersistentRecursive}

	for _, typ := range []WatcherType{WatcherData, WatcherChildren, WatcherPersistent, WatcherPersistentRecursive, WatcherAny} {
		t.Run(typ.name(), func(t *testing.T) {
			_, _, otherW, err := other.GetDataW(ctx, "/rw")
			if err != nil {
				t.Fatal(err)
			}
			chans := watches(t)
			if err := s.CheckWatches(ctx, "/rw", typ); err != nil {
				t.Fatalf("CheckWatches before: %v", err)
			}
			if err := s.CheckWatches(ctx, "/rw", typ); err != nil {
				t.Fatalf("CheckWatches removed the watch: %v", err)
			}
			if err := s.RemoveWatches(ctx, "/rw", typ); err != nil {
				t.Fatalf("RemoveWatches: %v", err)
			}
			err = s.RemoveWatches(ctx, "/rw", typ)
			wantOpError(t, err, ErrNoWatcher, "removeWatches", "/rw")
			err = s.CheckWatches(ctx, "/rw", typ)
			wantOpError(t, err, ErrNoWatcher, "checkWatches", "/rw")
			for _, k := range all {
				removed := typ == WatcherAny || typ == k
				for _, ch := range chans[k] {
					if removed {
						wantEvent(t, recv(t, ch), removedEvent[k], "/rw", 0)
						wantClosed(t, ch)
					}
				}
				if !removed {
					if err := s.CheckWatches(ctx, "/rw", k); err != nil {
						t.Fatalf("removing %v removed %v: %v", typ, k, err)
					}
				}
			}
			// Another session's watches are its own.
			if err := other.CheckWatches(ctx, "/rw", WatcherData); err != nil {
				t.Fatalf("other session's watch removed: %v", err)
			}
			nothingQueued(t, otherW)
			if err := other.RemoveWatches(ctx, "/rw", WatcherData); err != nil {
				t.Fatal(err)
			}
			if typ != WatcherAny {
				if err := s.RemoveWatches(ctx, "/rw", WatcherAny); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Run("NoWatcher", func(t *testing.T) {
		for _, typ := range append(all, WatcherAny) {
			err := s.RemoveWatches(ctx, "/rw", typ)
			wantOpError(t, err, ErrNoWatcher, "removeWatches", "/rw")
			err = s.CheckWatches(ctx, "/missing", typ)
			wantOpError(t, err, ErrNoWatcher, "checkWatches", "/missing")
		}
		err := s.RemoveWatches(ctx, "/rw", WatcherType(9))
		wantOpError(t, err, ErrBadArguments, "removeWatches", "/rw")
	})
}

func (w WatcherType) name() string {
	return map[WatcherType]string{WatcherChildren: "Children", WatcherData: "Data", WatcherAny: "Any",
		WatcherPersistent: "Persistent", WatcherPersistentRecursive: "PersistentRecursive"}[w]
}

func TestWatchesEndWithSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   func(n *Node, s *Session) error
		state State
		err   error
	}{
		{"Close", func(n *Node, s *Session) error { return s.Close(context.Background()) }, StateClosed, ErrClosed},
		{"Expire", func(n *Node, s *Session) error { return n.ExpireSession(context.Background(), s.ID()) }, StateExpired, ErrSessionExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := openNode(t, Config{})
			ctx := t.Context()
			s := newSession(t, n, SessionConfig{Chroot: "/"})
			mustCreate(t, s, "/n", nil, Persistent, nil)
			_, _, d, err := s.GetDataW(ctx, "/n")
			if err != nil {
				t.Fatal(err)
			}
			_, _, c, err := s.GetChildrenW(ctx, "/n")
			if err != nil {
				t.Fatal(err)
			}
			pw, err := s.AddWatch(ctx, "/", WatchPersistentRecursive)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.end(n, s); err != nil {
				t.Fatal(err)
			}
			<-s.Done()
			for _, c := range []struct {
				ch   <-chan Event
				path string
			}{{d, "/n"}, {c, "/n"}, {pw.Events(), "/"}} {
				got := recv(t, c.ch)
				if got.Type != EventNotWatching || got.State != tc.state || got.Path != c.path || !errors.Is(got.Err, tc.err) {
					t.Fatalf("got %+v, want NotWatching on %s with state %v and %v", got, c.path, tc.state, tc.err)
				}
				wantClosed(t, c.ch)
			}
			waitState(t, s, tc.state)
		})
	}
}

// TestWatchEventBeforeLaterRead checks ZooKeeper's ordering guarantee: once
// a write returns, another session's read that reflects it finds the event
// already waiting in the watch channel.
func TestWatchEventBeforeLaterRead(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	reader := newSession(t, n, SessionConfig{})
	writer := newSession(t, n, SessionConfig{})
	mustCreate(t, writer, "/o", nil, Persistent, nil)
	pw, err := reader.AddWatch(ctx, "/o", WatchPersistent)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		_, _, ch, err := reader.GetDataW(ctx, "/o")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := writer.SetData(ctx, "/o", []byte{byte(i)}, -1); err != nil {
			t.Fatal(err)
		}
		data, st, err := reader.GetData(ctx, "/o")
		if err != nil || data[0] != byte(i) {
			t.Fatalf("read-after-write: %v, %v", data, err)
		}
		wantEvent(t, queued(t, ch), EventNodeDataChanged, "/o", st.Mzxid)
		wantEvent(t, queued(t, pw.Events()), EventNodeDataChanged, "/o", st.Mzxid)
	}
}

// TestStalledConsumerNeverBlocksApply makes 10,000 writes while a
// persistent watch's consumer reads nothing, then checks every event
// arrived, in order.
func TestStalledConsumerNeverBlocksApply(t *testing.T) {
	n := openNode(t, Config{})
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout*3)
	defer cancel()
	watcher := newSession(t, n, SessionConfig{})
	w := newSession(t, n, SessionConfig{})
	mustCreate(t, w, "/stall", nil, Persistent, nil)
	pw, err := watcher.AddWatch(ctx, "/stall", WatchPersistentRecursive)
	if err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 16, 625
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perWriter {
				var err error
				if j == 0 {
					_, err = w.Create(ctx, "/stall/"+string(rune('a'+i)), nil, Persistent, nil)
				} else {
					_, err = w.SetData(ctx, "/stall/"+string(rune('a'+i)), nil, -1)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write with a stalled watch consumer: %v", err)
	}
	// Now drain: every write's event, zxids strictly increasing.
	var last int64
	for i := range writers * perWriter {
		ev := recv(t, pw.Events())
		if ev.Zxid <= last || (ev.Type != EventNodeCreated && ev.Type != EventNodeDataChanged) {
			t.Fatalf("event %d: %+v after zxid %d", i, ev, last)
		}
		last = ev.Zxid
	}
	nothingQueued(t, pw.Events())
}

// TestWatchEventsFilteredByACL checks that, as in ZooKeeper, an event is
// not delivered to a session that cannot READ the node at delivery time
// (the parent, for NodeChildrenChanged); the one-shot watch is used up.
func TestWatchEventsFilteredByACL(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	owner := newSession(t, n, SessionConfig{Auth: []Auth{{"digest", []byte("owner:pw")}}})
	anon := newSession(t, n, SessionConfig{})
	private := DigestACL(PermAll, "owner", "pw")

	mustCreate(t, owner, "/f", nil, Persistent, nil)
	_, _, dataW, err := anon.GetDataW(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	_, _, existW, err := anon.ExistsW(ctx, "/f/hidden")
	if err != nil {
		t.Fatal(err)
	}
	pw, err := anon.AddWatch(ctx, "/f", WatchPersistentRecursive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.SetACL(ctx, "/f", private, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.SetData(ctx, "/f", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	nothingQueued(t, dataW)
	mustCreate(t, owner, "/f/hidden", nil, Persistent, private)
	nothingQueued(t, existW)
	mustCreate(t, owner, "/f/open", nil, Persistent, nil)
	// The recursive watch saw only the node it may read.
	wantEvent(t, recv(t, pw.Events()), EventNodeCreated, "/f/open", n.LastZxid())
	for _, p := range []string{"/f", "/f/hidden"} {
		if err := anon.CheckWatches(ctx, p, WatcherData); !errors.Is(err, ErrNoWatcher) {
			t.Fatalf("filtered one-shot watch on %s still set: %v", p, err)
		}
	}
	// The owner, who may read, gets them.
	_, _, ownerW, err := owner.GetChildrenW(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	_, _, anonW, err := anon.GetChildrenW(ctx, "/f/open")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.SetACL(ctx, "/f/open", private, -1); err != nil {
		t.Fatal(err)
	}
	if err := owner.Delete(ctx, "/f/open", -1); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, queued(t, ownerW), EventNodeChildrenChanged, "/f", n.LastZxid())
	nothingQueued(t, anonW)
}
