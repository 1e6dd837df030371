package coord

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// SessionConfig configures a new session or re-attaches an existing one.
type SessionConfig struct {
	// Timeout is the requested session timeout; the node negotiates it into
	// [MinSessionTimeout, MaxSessionTimeout]. Zero requests the maximum.
	Timeout time.Duration

	// Chroot, when set, roots every path of the session at this znode
	// (ZooKeeper's "host:port/chroot" connect strings).
	Chroot string

	// Auth is added to the session before it is returned, as AddAuth does.
	Auth []Auth

	// ID and Password re-attach an existing session (for instance one that
	// was created on another node of the ensemble). Zero ID creates a new
	// session.
	ID       int64
	Password []byte

	// ClientIP is the address the session's requests come from, matched by
	// "ip" ACLs. The ZooKeeper wire server sets the peer's address; in-process
	// sessions have none unless set here.
	ClientIP string

	// Identities are identities a front end authenticated out of band, such
	// as the ZooKeeper wire server's {Scheme: "x509", ID: <certificate
	// subject>} for a TLS client certificate. The session's requests carry
	// them as they carry AddAuth's; they are trusted as given (a
	// {Scheme: "super"} identity bypasses every ACL, as ZooKeeper's
	// X509AuthenticationProvider.superUser). See ValidateX509ID.
	Identities []ID
}

// Auth is a scheme and credentials, as passed to AddAuth.
type Auth struct {
	Scheme      string
	Credentials []byte
}

// Session is a client session on a Node: ZooKeeper's session, called as Go
// methods. Its methods may be called from any number of goroutines; the
// writes of one goroutine are applied in the order it makes them, and a read
// always sees the session's own earlier writes.
type Session struct {
	n        *Node
	id       int64
	passwd   []byte
	timeout  time.Duration
	chroot   string
	ids      atomic.Pointer[[]ID]
	owner    *watchOwner
	state    atomic.Int32 // a State
	events   *queueSink   // nil when notify is set
	notify   func(Event)  // a front end's sink (see NewServerSession), or nil
	detached atomic.Bool  // the front end's connection is gone; stop heartbeats
	done     chan struct{}
	endOnce  sync.Once
}

// NewSession creates a session on n (or re-attaches one, see SessionConfig).
func (n *Node) NewSession(ctx context.Context, cfg SessionConfig) (*Session, error) {
	return n.newSession(ctx, cfg, nil)
}

// newSession is NewSession; notify, when set, receives the session's state
// changes instead of its Events channel.
func (n *Node) newSession(ctx context.Context, cfg SessionConfig, notify func(Event)) (*Session, error) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	chroot := cfg.Chroot
	if chroot == "/" {
		chroot = ""
	}
	if chroot != "" {
		if err := ValidatePath(chroot); err != nil {
			return nil, err
		}
	}
	var ids []ID
	if cfg.ClientIP != "" {
		ids = append(ids, ID{Scheme: "ip", ID: cfg.ClientIP})
	}
	if err := checkIdentities(cfg.Identities); err != nil {
		return nil, err
	}
	ids = appendIDs(ids, cfg.Identities)
	for _, a := range cfg.Auth {
		more, err := authenticate(a.Scheme, a.Credentials, n.cfg.SuperDigest)
		if err != nil {
			return nil, &OpError{Op: "addAuth", Err: err, Detail: "scheme " + a.Scheme}
		}
		ids = appendIDs(ids, more)
	}
	s := &Session{
		n:      n,
		chroot: chroot,
		owner:  newWatchOwner(),
		notify: notify,
		done:   make(chan struct{}),
	}
	if notify == nil {
		s.events = newQueueSink()
	}
	s.ids.Store(&ids)

	var err error
	if cfg.ID != 0 {
		err = n.attachSession(ctx, s, cfg.ID, cfg.Password)
	} else {
		err = n.createSession(ctx, s, cfg.Timeout)
	}
	if err != nil {
		return nil, err
	}
	n.tracker.touch(s.id, s.timeout, time.Now())
	s.state.Store(int32(StateSyncConnected))
	s.stateEvent(Event{Type: EventNone, State: StateSyncConnected}, false)
	return s, nil
}

// attachSession moves the existing session id to this node and makes s its
// handle here.
func (n *Node) attachSession(ctx context.Context, s *Session, id int64, password []byte) error {
	// Move the session here through the log: from then on apply refuses
	// writes the session's previous node proposes (SessionMoved), and that
	// node ends its handle.
	r, err := n.proposer.propose(ctx, command{kind: opAttachSession, session: id, passwd: password})
	if err == nil && r.err != CodeOK {
		err = r.err
	}
	if err != nil {
		return &OpError{Op: "connect", Err: asCode(err)}
	}
	n.fsm.mu.RLock()
	var timeout int32
	if e, ok := n.fsm.t.sessions[id]; ok {
		timeout = e.timeout
	}
	n.fsm.mu.RUnlock()
	s.id, s.passwd, s.timeout = id, slices.Clone(password), time.Duration(timeout)*time.Millisecond
	// A session can be attached to one place at a time.
	n.mu.Lock()
	old := n.sessions[s.id]
	n.sessions[s.id] = s
	n.mu.Unlock()
	if old != nil {
		old.end(StateDisconnected, ErrSessionMoved, false)
	}
	// Whatever apply does to the session from now on reaches s; what it
	// did between the attach and the line above shows in the table.
	n.fsm.mu.RLock()
	e, ok := n.fsm.t.sessions[s.id]
	moved := ok && e.owner != 0 && e.owner != n.tag
	n.fsm.mu.RUnlock()
	switch {
	case !ok:
		s.end(StateExpired, ErrSessionExpired, true)
		return &OpError{Op: "connect", Err: ErrSessionExpired}
	case moved:
		s.end(StateDisconnected, ErrSessionMoved, true)
		return &OpError{Op: "connect", Err: ErrSessionMoved}
	}
	return nil
}

// createSession creates a new session through the log with s as its handle.
func (n *Node) createSession(ctx context.Context, s *Session, timeout time.Duration) error {
	s.timeout = n.negotiateTimeout(timeout)
	s.passwd = make([]byte, 16)
	for i := 0; i < 16; i += 8 {
		v := randUint64()
		for j := 0; j < 8; j++ {
			s.passwd[i+j] = byte(v >> (8 * j))
		}
	}
	for attempt := 0; ; attempt++ {
		s.id = newSessionID()
		n.mu.Lock()
		n.sessions[s.id] = s
		n.mu.Unlock()
		r, err := n.proposer.propose(ctx, command{kind: opCreateSession, session: s.id, ttl: s.timeout.Milliseconds(), passwd: s.passwd})
		if err == nil && r.err == CodeNodeExists && attempt < 3 {
			n.mu.Lock()
			delete(n.sessions, s.id)
			n.mu.Unlock()
			continue // an id taken already: draw another
		}
		if err == nil && r.err != CodeOK {
			err = r.err
		}
		if err != nil {
			n.mu.Lock()
			delete(n.sessions, s.id)
			n.mu.Unlock()
			return &OpError{Op: "connect", Err: asCode(err)}
		}
		return nil
	}
}

// asCode maps context and shutdown errors onto ZooKeeper codes, keeping
// the original for errors.Is.
func asCode(err error) error {
	var c Code
	if errors.As(err, &c) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errors.Join(ErrOperationTimeout, err)
	}
	if errors.Is(err, ErrClosed) {
		return errors.Join(ErrConnectionLoss, err)
	}
	return errors.Join(ErrSystemError, err)
}

func appendIDs(ids []ID, more []ID) []ID {
	for _, id := range more {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func newSessionID() int64 {
	// Positive, with a high byte in [1, 0x7e]: never 0, never one of the
	// owner tags for containers and TTL nodes.
	v := randUint64()
	hi := 1 + (v>>56)%0x7e
	return int64(hi<<56 | v&(1<<56-1))
}

func (n *Node) negotiateTimeout(d time.Duration) time.Duration {
	if d == 0 || d > n.cfg.MaxSessionTimeout {
		d = n.cfg.MaxSessionTimeout
	}
	if d < n.cfg.MinSessionTimeout {
		d = n.cfg.MinSessionTimeout
	}
	return d.Truncate(time.Millisecond)
}

// ID returns the session id.
func (s *Session) ID() int64 { return s.id }

// Password returns the session password, which with ID re-attaches the
// session on any node of the ensemble. The caller must not modify it.
func (s *Session) Password() []byte { return s.passwd }

// Timeout returns the negotiated session timeout.
func (s *Session) Timeout() time.Duration { return s.timeout }

// State returns the session's current state.
func (s *Session) State() State { return State(s.state.Load()) }

// Done is closed when the session has ended (closed, expired or moved).
func (s *Session) Done() <-chan struct{} { return s.done }

// Events returns the session's state changes (Type EventNone): connected,
// disconnected, expired, closed. The channel is buffered without bound, so
// a slow reader delays nothing, and it is closed after the final state.
// A session made by NewServerSession reports to its Notify function
// instead; its channel is closed from the start.
func (s *Session) Events() <-chan Event {
	if s.events == nil {
		return closedEvents
	}
	return s.events.out
}

var closedEvents = func() chan Event {
	ch := make(chan Event)
	close(ch)
	return ch
}()

// stateEvent reports a state change (or the final EventNotWatching) to
// the session's Events channel or Notify function.
func (s *Session) stateEvent(ev Event, last bool) {
	if s.notify != nil {
		s.notify(ev)
		return
	}
	s.events.put(ev, last)
}

// AddAuth adds credentials to the session; later requests carry the
// identities they grant. Scheme "digest" takes "user:password".
func (s *Session) AddAuth(ctx context.Context, scheme string, credentials []byte) error {
	if err := s.usable(); err != nil {
		return opErr("addAuth", "", err)
	}
	more, err := authenticate(scheme, credentials, s.n.cfg.SuperDigest)
	if err != nil {
		return &OpError{Op: "addAuth", Err: err, Detail: "scheme " + scheme}
	}
	for {
		old := s.ids.Load()
		ids := appendIDs(slices.Clone(*old), more)
		if s.ids.CompareAndSwap(old, &ids) {
			return nil
		}
	}
}

// identities returns the ids requests of this session carry.
func (s *Session) identities() []ID { return *s.ids.Load() }

// Close ends the session: its ephemeral nodes are deleted and its watches
// end. Closing a session that has already ended returns nil.
func (s *Session) Close(ctx context.Context) error {
	if s.State() != StateSyncConnected && s.State() != StateDisconnected {
		return nil
	}
	select {
	case <-s.done: // moved to another handle: closing this one must not end it
		return nil
	default:
	}
	r, err := s.n.proposer.propose(ctx, command{kind: opCloseSession, session: s.id})
	if err != nil {
		return opErr("close", "", asCode(err))
	}
	if r.err != CodeOK && r.err != CodeSessionExpired {
		return opErr("close", "", r.err)
	}
	// Apply has ended the session; wait for the local bookkeeping.
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	return nil
}

// usable reports whether the session can take a request. A Disconnected
// session can: reads are served from the local replica (Sync tells whether
// they are current) and writes wait for a leader until their ctx ends.
func (s *Session) usable() error {
	switch s.State() {
	case StateSyncConnected, StateDisconnected:
		select {
		case <-s.done: // re-attached elsewhere: this handle is done
			return ErrSessionMoved
		default:
		}
		return nil
	case StateExpired:
		return ErrSessionExpired
	}
	return ErrClosed
}

// end moves the session to its final state, ends its watches and forgets it.
func (s *Session) end(state State, err error, forget bool) {
	s.endOnce.Do(func() {
		s.state.Store(int32(state))
		s.n.watches.removeOwner(s.owner, state, err)
		// The final state is the last event: the channel closes after it.
		s.stateEvent(Event{Type: EventNone, State: state, Err: err}, true)
		close(s.done)
		if forget {
			s.n.mu.Lock()
			if s.n.sessions[s.id] == s {
				delete(s.n.sessions, s.id)
			}
			s.n.mu.Unlock()
		}
	})
}

// markSessionEnding sets a local session's final state from inside apply,
// before its ephemerals' deletions fire watches; sessionEnded finishes the
// job after apply.
func (n *Node) markSessionEnding(id int64, expired bool) {
	n.mu.Lock()
	s := n.sessions[id]
	n.mu.Unlock()
	if s == nil {
		return
	}
	if expired {
		s.state.Store(int32(StateExpired))
	} else {
		s.state.Store(int32(StateClosed))
	}
}

// sessionMoved is called after apply attached a session of this node to
// another node: the local handle ends with SessionMoved.
func (n *Node) sessionMoved(id int64) {
	n.mu.Lock()
	s := n.sessions[id]
	if s != nil {
		delete(n.sessions, id)
	}
	n.mu.Unlock()
	if s != nil {
		s.end(StateDisconnected, ErrSessionMoved, false)
	}
}

// sessionEnded is called after apply closed or expired a session.
func (n *Node) sessionEnded(id int64, expired bool) {
	n.tracker.remove(id)
	n.mu.Lock()
	s := n.sessions[id]
	n.mu.Unlock()
	if s == nil {
		return
	}
	if expired {
		s.end(StateExpired, ErrSessionExpired, true)
	} else {
		s.end(StateClosed, ErrClosed, true)
	}
}

// ExpireSession expires session id as if its timeout had passed: its
// ephemerals are deleted and its watchers told. It is how operators kill a
// session and how tests exercise expiry without waiting.
func (n *Node) ExpireSession(ctx context.Context, id int64) error {
	r, err := n.proposer.propose(ctx, command{kind: opCloseSession, session: id, expire: true})
	if err != nil {
		return opErr("expireSession", "", asCode(err))
	}
	return opErr("expireSession", "", codeErr(r.err))
}

func codeErr(c Code) error {
	if c == CodeOK {
		return nil
	}
	return c
}

// tracker is the leader's view of session liveness: a deadline per session,
// pushed back by heartbeats. It is volatile; a new leader starts every
// session with a fresh timeout.
type tracker struct {
	mu        sync.Mutex
	deadlines map[int64]trackedSession // guarded by mu
}

type trackedSession struct {
	deadline time.Time
	timeout  time.Duration
	expiring bool
}

func newTracker() *tracker { return &tracker{deadlines: make(map[int64]trackedSession)} }

func (t *tracker) touch(id int64, timeout time.Duration, now time.Time) {
	t.mu.Lock()
	ts, known := t.deadlines[id]
	if !known && timeout == 0 {
		t.mu.Unlock() // a heartbeat for a session apply has not told us of
		return
	}
	if timeout > 0 {
		ts.timeout = timeout
	}
	ts.deadline = now.Add(ts.timeout)
	ts.expiring = false
	t.deadlines[id] = ts
	t.mu.Unlock()
}

func (t *tracker) remove(id int64) {
	t.mu.Lock()
	delete(t.deadlines, id)
	t.mu.Unlock()
}

// resetAll gives every session a fresh timeout. timeouts is read under
// the tracker's lock, so a session created meanwhile (which apply reports
// through touch) is not lost.
func (t *tracker) resetAll(timeouts func() map[int64]int32, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ms := timeouts()
	for id := range t.deadlines {
		if _, ok := ms[id]; !ok {
			delete(t.deadlines, id)
		}
	}
	for id, ms := range ms {
		d := time.Duration(ms) * time.Millisecond
		t.deadlines[id] = trackedSession{deadline: now.Add(d), timeout: d}
	}
}

// due returns sessions past their deadline, marking them so they are
// proposed for expiry once.
func (t *tracker) due(now time.Time) []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []int64
	for id, ts := range t.deadlines {
		if !ts.expiring && now.After(ts.deadline) {
			ts.expiring = true
			t.deadlines[id] = ts
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// detach marks a wire session whose connection is gone: it is no longer
// heartbeated, and the leader expires it one timeout after this last sign
// of life unless a client re-attaches it.
func (s *Session) detach() {
	s.detached.Store(true)
	if s.n.leads() {
		s.n.tracker.touch(s.id, 0, time.Now())
	} else {
		go s.n.sendTouches([]int64{s.id})
	}
}

// touchLocalSessions heartbeats every attached local session to the
// leader's tracker, and moves local sessions between SyncConnected and
// Disconnected as this node gains and loses contact with a leader.
func (n *Node) touchLocalSessions(now time.Time) {
	connected := n.connected(now)
	if connected {
		n.lastInTouch.Store(now.UnixNano())
	}
	n.mu.Lock()
	live := make([]*Session, 0, len(n.sessions))
	for _, s := range n.sessions {
		live = append(live, s)
	}
	n.mu.Unlock()
	ids := make([]int64, 0, len(live))
	for _, s := range live {
		st := s.State()
		switch {
		case connected && st == StateDisconnected:
			if s.state.CompareAndSwap(int32(StateDisconnected), int32(StateSyncConnected)) {
				s.stateEvent(Event{Type: EventNone, State: StateSyncConnected}, false)
			}
		case !connected && st == StateSyncConnected:
			if s.state.CompareAndSwap(int32(StateSyncConnected), int32(StateDisconnected)) {
				s.stateEvent(Event{Type: EventNone, State: StateDisconnected}, false)
			}
		}
		if !s.detached.Load() && (st == StateSyncConnected || st == StateDisconnected) {
			ids = append(ids, s.id)
		}
	}
	if n.leads() {
		for _, id := range ids {
			n.tracker.touch(id, 0, now)
		}
		return
	}
	if connected {
		go n.sendTouches(ids)
	}
}

// outOfTouch reports whether this node has been without a leader for
// longer than an election takes: it has lost its quorum, not just its
// leader.
func (n *Node) outOfTouch(now time.Time) bool {
	if n.connected(now) {
		return false
	}
	return now.Sub(time.Unix(0, n.lastInTouch.Load())) > 2*n.cfg.ElectionTimeout
}

// connected reports whether this node is in touch with a leader: it leads,
// or it heard from the leader within an election timeout.
func (n *Node) connected(now time.Time) bool {
	if n.leads() {
		return true
	}
	if addr, _ := n.replica.Leader(); addr == "" {
		return false
	}
	return now.Sub(n.replica.LastContact()) < 2*n.cfg.ElectionTimeout
}

// expireSessions proposes the expiry of sessions whose deadline passed.
func (n *Node) expireSessions(now time.Time) {
	for _, id := range n.tracker.due(now) {
		go func(id int64) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.ExpireSession(ctx, id); err != nil && !errors.Is(err, ErrSessionExpired) {
				n.log.Warn("session expiry failed", "session", id, "err", err)
				n.tracker.touch(id, 0, time.Now()) // try again after another timeout
			}
		}(id)
	}
}

// cleanupContainers proposes deleting empty containers that once had
// children and childless TTL nodes unmodified for longer than their TTL.
// Apply re-checks each condition.
func (n *Node) cleanupContainers(now time.Time) {
	nowMs := now.UnixMilli()
	var paths []string
	n.fsm.mu.RLock()
	t := n.fsm.t
	for p := range t.containers {
		if z := t.nodes[p]; z != nil && len(z.children) == 0 && z.cseq > 0 {
			paths = append(paths, p)
		}
	}
	for p := range t.ttls {
		if z := t.nodes[p]; z != nil && len(z.children) == 0 && nowMs-z.mtime > ownerTTL(z.owner) {
			paths = append(paths, p)
		}
	}
	n.fsm.mu.RUnlock()
	slices.Sort(paths)
	for _, p := range paths {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := n.proposer.propose(ctx, command{kind: opDeleteContainer, path: p})
		cancel()
		if err != nil {
			n.log.Debug("container cleanup", "path", p, "err", err)
		}
	}
}

// CheckContainers runs the leader's container and TTL cleanup now instead
// of waiting for ContainerCheckInterval. It does nothing on a follower.
func (n *Node) CheckContainers() {
	if n.isLeader.Load() {
		n.cleanupContainers(time.Now())
	}
}
