package coord

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSessionTimeoutNegotiation(t *testing.T) {
	for _, cfg := range []struct {
		name     string
		cfg      Config
		min, max time.Duration
	}{
		{"Ticks", Config{TickTime: 100 * time.Millisecond}, 200 * time.Millisecond, 2 * time.Second},
		{"Explicit", Config{MinSessionTimeout: time.Second, MaxSessionTimeout: 5 * time.Second}, time.Second, 5 * time.Second},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			n := openNode(t, cfg.cfg)
			for _, tc := range []struct {
				name      string
				requested time.Duration
				want      time.Duration
			}{
				{"ZeroMeansMax", 0, cfg.max},
				{"BelowMin", cfg.min / 10, cfg.min},
				{"JustBelowMin", cfg.min - time.Millisecond, cfg.min},
				{"Min", cfg.min, cfg.min},
				{"Between", cfg.min + 300*time.Millisecond + 700*time.Microsecond, cfg.min + 300*time.Millisecond},
				{"Max", cfg.max, cfg.max},
				{"AboveMax", cfg.max + time.Millisecond, cfg.max},
				{"Hour", time.Hour, cfg.max},
			} {
				t.Run(tc.name, func(t *testing.T) {
					s := newSession(t, n, SessionConfig{Timeout: tc.requested})
					if s.Timeout() != tc.want {
						t.Fatalf("requested %v: negotiated %v, want %v", tc.requested, s.Timeout(), tc.want)
					}
					// The replicated record carries the same timeout.
					n.fsm.mu.RLock()
					rec := n.fsm.t.sessions[s.ID()]
					n.fsm.mu.RUnlock()
					if rec == nil || time.Duration(rec.timeout)*time.Millisecond != tc.want {
						t.Fatalf("replicated session record %+v", rec)
					}
					if len(s.Password()) != 16 || s.ID() <= 0 {
						t.Fatalf("id %d password %x", s.ID(), s.Password())
					}
				})
			}
		})
	}
}

// ephemeralFixture creates ephemerals of s and sets watches on them from
// watcher; check verifies that the session's end deleted them in one
// transaction and fired every watch.
func ephemeralFixture(t *testing.T, n *Node, s, watcher *Session) (check func()) {
	ctx := t.Context()
	mustCreate(t, watcher, "/p", nil, Persistent, nil)
	mustCreate(t, s, "/e1", []byte("1"), Ephemeral, nil)
	e2 := mustCreate(t, s, "/p/e-", nil, EphemeralSequential, nil)
	mustCreate(t, s, "/kept", nil, Persistent, nil)
	if got, _ := s.GetEphemerals(ctx, "/"); !slices.Equal(got, []string{"/e1", e2}) {
		t.Fatalf("GetEphemerals = %q", got)
	}
	_, _, e1W, err := watcher.ExistsW(ctx, "/e1")
	if err != nil {
		t.Fatal(err)
	}
	_, _, e2W, err := watcher.GetDataW(ctx, e2)
	if err != nil {
		t.Fatal(err)
	}
	_, _, pW, err := watcher.GetChildrenW(ctx, "/p")
	if err != nil {
		t.Fatal(err)
	}
	pBefore := mustStat(t, watcher, "/p")
	return func() {
		t.Helper()
		z := n.LastZxid()
		wantEvent(t, recv(t, e1W), EventNodeDeleted, "/e1", z)
		wantEvent(t, recv(t, e2W), EventNodeDeleted, e2, z)
		wantEvent(t, recv(t, pW), EventNodeChildrenChanged, "/p", z)
		mustNotExist(t, watcher, "/e1")
		mustNotExist(t, watcher, e2)
		mustStat(t, watcher, "/kept")
		pWant := pBefore
		pWant.Pzxid = z
		pWant.Cversion++
		pWant.NumChildren--
		if st := mustStat(t, watcher, "/p"); st != pWant {
			t.Fatalf("/p after the session ended\n got %+v\nwant %+v", st, pWant)
		}
	}
}

func TestSessionClose(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})
	watcher := newSession(t, n, SessionConfig{})
	check := ephemeralFixture(t, n, s, watcher)

	z0 := n.LastZxid()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if z := n.LastZxid(); z != z0+1 {
		t.Fatalf("close took zxids %d..%d, want one transaction", z0+1, z)
	}
	check()
	if s.State() != StateClosed {
		t.Fatalf("state %v", s.State())
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close returned")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, _, err := s.GetData(ctx, "/kept")
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("GetData on a closed session: %v", err)
	}
	_, err = s.Create(ctx, "/x", nil, Persistent, nil)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Create on a closed session: %v", err)
	}
	// The session's events: connected, closed, then the end of the stream:
	// the final state is the last event.
	var states []State
	for ev := range s.Events() {
		if ev.Type != EventNone {
			t.Fatalf("unexpected session event %+v", ev)
		}
		states = append(states, ev.State)
	}
	if !slices.Equal(states, []State{StateSyncConnected, StateClosed}) {
		t.Fatalf("session states %v", states)
	}
	if err := n.ExpireSession(ctx, s.ID()); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("ExpireSession of a closed session: %v", err)
	}
}

func TestExpireSession(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})
	watcher := newSession(t, n, SessionConfig{})
	check := ephemeralFixture(t, n, s, watcher)

	if err := n.ExpireSession(ctx, s.ID()); err != nil {
		t.Fatalf("ExpireSession: %v", err)
	}
	check()
	waitState(t, s, StateExpired)
	for _, tc := range []struct {
		op  string
		err error
	}{
		{"getData", func() error { _, _, err := s.GetData(ctx, "/kept"); return err }()},
		{"create", func() error { _, err := s.Create(ctx, "/kept/x", nil, Persistent, nil); return err }()},
		{"setData", func() error { _, err := s.SetData(ctx, "/kept", nil, -1); return err }()},
		{"delete", s.Delete(ctx, "/kept", -1)},
	} {
		var path = "/kept"
		if tc.op == "create" {
			path = "/kept/x"
		}
		wantOpError(t, tc.err, ErrSessionExpired, tc.op, path)
	}
	_, err := s.Multi(ctx, &CreateOp{Path: "/m"})
	wantOpError(t, err, ErrSessionExpired, "multi", "")
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close of an expired session: %v", err)
	}
	if err := n.ExpireSession(ctx, 12345); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("ExpireSession of an unknown session: %v", err)
	}
}

// TestWriteFromExpiredSessionRecord checks apply's own guard: a write
// carrying the id of a session that no longer exists fails, even though
// the Session object never learnt it ended.
func TestWriteFromExpiredSessionRecord(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})
	r, err := n.proposer.propose(ctx, command{kind: opCloseSession, session: s.ID(), expire: true})
	if err != nil || r.err != CodeOK {
		t.Fatalf("close: %v %v", r.err, err)
	}
	r, err = n.proposer.propose(ctx, command{kind: opCreate, session: s.ID(), path: "/x", acl: OpenACL, mode: Ephemeral})
	if err != nil || r.err != CodeSessionExpired {
		t.Fatalf("create from an ended session: %v %v", r.err, err)
	}
	r, err = n.proposer.propose(ctx, command{kind: opMulti, session: s.ID(), ops: []command{{kind: opCreate, path: "/y", acl: OpenACL}}})
	if err != nil || r.err != CodeSessionExpired || r.multi != nil {
		t.Fatalf("multi from an ended session: %+v %v", r, err)
	}
}

func TestSessionExpiresWhenDetached(t *testing.T) {
	n := openNode(t, Config{TickTime: 20 * time.Millisecond})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{Timeout: 40 * time.Millisecond})
	live := newSession(t, n, SessionConfig{}) // 400ms, heartbeated every 10ms
	if s.Timeout() != 40*time.Millisecond || live.Timeout() != 400*time.Millisecond {
		t.Fatalf("timeouts %v %v", s.Timeout(), live.Timeout())
	}
	mustCreate(t, s, "/lease", nil, Ephemeral, nil)
	_, _, w, err := live.ExistsW(ctx, "/lease")
	if err != nil {
		t.Fatal(err)
	}
	s.detached.Store(true) // its connection is gone: no more heartbeats
	// Its deadline is its last heartbeat plus 40ms. Not the time of the
	// detach: a heartbeat carries its tick's time, which a loaded machine
	// delivers late. A heartbeat racing with the detach can only move the
	// deadline later, so the one read now is a lower bound.
	n.tracker.mu.Lock()
	due := n.tracker.deadlines[s.id].deadline
	n.tracker.mu.Unlock()
	if due.IsZero() {
		t.Fatal("the detached session has no deadline")
	}
	waitState(t, s, StateExpired)
	if early := due.Sub(time.Now()); early > 0 {
		t.Fatalf("expired %v before its deadline, its last heartbeat plus 40ms", early)
	}
	wantEvent(t, recv(t, w), EventNodeDeleted, "/lease", -1)
	mustNotExist(t, live, "/lease")
	if live.State() != StateSyncConnected {
		t.Fatalf("heartbeated session is %v", live.State())
	}
	_, _, err = s.GetData(ctx, "/")
	wantOpError(t, err, ErrSessionExpired, "getData", "/")
}

func TestSessionReattach(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s1 := newSession(t, n, SessionConfig{Timeout: 5 * time.Second})
	mustCreate(t, s1, "/mine", nil, Ephemeral, nil)
	_, _, w1, err := s1.GetDataW(ctx, "/mine")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		id     int64
		passwd []byte
	}{
		{"WrongPassword", s1.ID(), make([]byte, 16)},
		{"ShortPassword", s1.ID(), s1.Password()[:8]},
		{"UnknownID", s1.ID() + 1, s1.Password()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := n.NewSession(ctx, SessionConfig{ID: tc.id, Password: tc.passwd})
			if s != nil {
				t.Fatal("session returned with an error")
			}
			wantOpError(t, err, ErrSessionExpired, "connect", "")
		})
	}
	if s1.State() != StateSyncConnected {
		t.Fatalf("failed re-attaches disturbed the session: %v", s1.State())
	}

	s2, err := n.NewSession(ctx, SessionConfig{ID: s1.ID(), Password: s1.Password()})
	if err != nil {
		t.Fatalf("re-attach: %v", err)
	}
	if s2.ID() != s1.ID() || s2.Timeout() != s1.Timeout() || !slices.Equal(s2.Password(), s1.Password()) {
		t.Fatalf("re-attached session %d/%v, want %d/%v", s2.ID(), s2.Timeout(), s1.ID(), s1.Timeout())
	}
	if eph, _ := s2.GetEphemerals(ctx, "/"); !slices.Equal(eph, []string{"/mine"}) {
		t.Fatalf("re-attached session's ephemerals %q", eph)
	}
	if st := mustStat(t, s2, "/mine"); st.EphemeralOwner != s2.ID() {
		t.Fatalf("owner %d", st.EphemeralOwner)
	}
	// The old handle is done: its watches end with SessionMoved.
	<-s1.Done()
	got := recv(t, w1)
	if got.Type != EventNotWatching || !errors.Is(got.Err, ErrSessionMoved) {
		t.Fatalf("old handle's watch got %+v", got)
	}
	_, _, err = s1.GetData(ctx, "/mine")
	wantOpError(t, err, ErrSessionMoved, "getData", "/mine")
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check := newSession(t, n, SessionConfig{})
	mustNotExist(t, check, "/mine")
}

func TestContainers(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/c", nil, Container, nil)
	mustCreate(t, s, "/c/x", nil, Persistent, nil)
	mustCreate(t, s, "/unused", nil, Container, nil)
	mustCreate(t, s, "/eph", nil, Container, nil)
	owner := newSession(t, n, SessionConfig{})
	mustCreate(t, owner, "/eph/lock-", nil, EphemeralSequential, nil)
	_, _, w, err := s.ExistsW(ctx, "/c")
	if err != nil {
		t.Fatal(err)
	}

	n.CheckContainers()
	mustStat(t, s, "/c")      // has a child
	mustStat(t, s, "/unused") // never had one
	mustStat(t, s, "/eph")
	nothingQueued(t, w)

	if err := s.Delete(ctx, "/c/x", -1); err != nil {
		t.Fatal(err)
	}
	if err := owner.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n.CheckContainers()
	mustNotExist(t, s, "/c")
	mustNotExist(t, s, "/eph") // emptied by its last ephemeral's session ending
	wantEvent(t, queued(t, w), EventNodeDeleted, "/c", -1)
	mustStat(t, s, "/unused")
	n.CheckContainers()
	mustStat(t, s, "/unused")
}

func TestTTLNodes(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})

	const ttl = 30 * time.Millisecond
	mustCreate(t, s, "/long", nil, Persistent, nil)
	if _, err := s.CreateTTL(ctx, "/long/t", nil, PersistentTTL, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTTL(ctx, "/t", nil, PersistentTTL, nil, ttl); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "/t/child", nil, Persistent, nil)
	st := mustStat(t, s, "/t")

	// Past its TTL, but it has a child (adding one did not refresh it).
	waitClockPast(t, st.Mtime+ttl.Milliseconds())
	n.CheckContainers()
	mustStat(t, s, "/t")
	mustStat(t, s, "/long/t")

	_, _, w, err := s.ExistsW(ctx, "/t")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "/t/child", -1); err != nil {
		t.Fatal(err)
	}
	n.CheckContainers()
	wantEvent(t, queued(t, w), EventNodeDeleted, "/t", -1)
	mustNotExist(t, s, "/t")
	mustStat(t, s, "/long/t") // an hour to go

	// A write refreshes it; it goes once unmodified for the TTL again.
	if _, err := s.CreateTTL(ctx, "/r", nil, PersistentTTL, nil, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	st = mustStat(t, s, "/r")
	waitClockPast(t, st.Mtime+300)
	st, err = s.SetData(ctx, "/r", []byte("touch"), -1)
	if err != nil {
		t.Fatal(err)
	}
	n.CheckContainers()
	if time.Now().UnixMilli()-st.Mtime < 300 { // else the machine stalled for the whole TTL
		mustStat(t, s, "/r")
	}
	_, _, w, err = s.ExistsW(ctx, "/r")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		n.CheckContainers()
		select {
		case ev := <-w:
			wantEvent(t, ev, EventNodeDeleted, "/r", -1)
			done = true
		case <-tick.C:
		case <-deadline:
			t.Fatal("TTL node not removed")
		}
	}
}

func TestNewSessionOnClosedNode(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/e", nil, Ephemeral, nil)
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.State() != StateClosed {
		t.Fatalf("session state after Node.Close: %v", s.State())
	}
	if _, err := n.NewSession(context.Background(), SessionConfig{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewSession on a closed node: %v", err)
	}
}
