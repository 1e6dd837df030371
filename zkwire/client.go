package zkwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A minimal ZooKeeper client over the codec of this package: one TCP
// connection, one session, no reconnection. It does what the Java client's
// ClientCnxn does on a healthy connection: the ConnectRequest handshake,
// pings every third of the session timeout, pipelined requests matched to
// replies by xid, watch notifications delivered in order on a channel, and
// closeSession on Close. When the connection breaks the client is done:
// pending and later calls fail with ErrConnectionLoss, and a Disconnected
// event ends the event stream. Dial again (optionally with the old session
// id and password, see ClientConfig) to go on.

// ClientConfig configures DialConfig. The zero value asks for a new session
// with a 30s timeout.
type ClientConfig struct {
	// SessionTimeout is the timeout asked for; the server clamps it (to
	// [2, 20] ticks by default). Zero means 30s, zkCli's default.
	SessionTimeout time.Duration

	// DialTimeout bounds the TCP connect and the handshake when ctx has no
	// earlier deadline. Zero means 10s.
	DialTimeout time.Duration

	// SessionID and Passwd re-attach an existing session; zero and nil
	// start a new one.
	SessionID int64
	Passwd    []byte

	// LastZxidSeen is sent in the handshake; a server that is behind it
	// refuses the connection.
	LastZxidSeen int64

	// ReadOnly asks for a read-only session (the handshake's readOnly byte).
	ReadOnly bool

	// MaxFrame is the largest reply frame accepted. Zero means 4 MiB.
	MaxFrame int

	// Dialer opens the connection; nil uses net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// ConnState is a client's connection state; its String is the Java
// client's state name, which zkCli prints in its prompt.
type ConnState int32

const (
	ConnConnected    ConnState = iota // the session is usable
	ConnNotConnected                  // the connection broke; the client is done
	ConnClosed                        // Close was called (or the server ended the session)
	ConnAuthFailed                    // the server refused credentials and closed
)

func (s ConnState) String() string {
	switch s {
	case ConnConnected:
		return "CONNECTED"
	case ConnNotConnected:
		return "NOT_CONNECTED"
	case ConnClosed:
		return "CLOSED"
	case ConnAuthFailed:
		return "AUTH_FAILED"
	}
	return fmt.Sprintf("ConnState(%d)", int32(s))
}

// Event is a watch notification or a change of the session's state (Type
// EventNone, Path ""). Its String is the Java client's WatchedEvent text.
type Event struct {
	Type  EventType
	State KeeperState
	Path  string
}

// String returns "WatchedEvent state:SyncConnected type:NodeDataChanged
// path:/a", with "path:null" for session events, as WatchedEvent.toString.
func (e Event) String() string {
	p := e.Path
	if p == "" {
		p = "null"
	}
	return "WatchedEvent state:" + e.State.String() + " type:" + e.Type.String() + " path:" + p
}

// Client is a connected ZooKeeper session. Its methods are safe for
// concurrent use; concurrent requests are pipelined on the connection.
type Client struct {
	conn        net.Conn
	addr        string
	sessionID   int64
	passwd      []byte
	timeout     time.Duration
	readTimeout time.Duration
	readOnly    bool
	maxFrame    int

	wmu  sync.Mutex // serializes writes; guards xid and wbuf
	xid  int32
	wbuf []byte

	mu         sync.Mutex // guards the fields below
	state      ConnState
	closing    bool
	authFailed bool
	cause      error
	pending    map[int32]*Call
	authQ      []*Call
	watches    *watchTable

	lastZxid atomic.Int64
	done     chan struct{} // closed once the connection is gone
	wg       sync.WaitGroup

	evq    eventQueue
	events chan Event
}

// Dial connects to addr ("host:port") and opens a new session with the
// given timeout (zero: 30s).
func Dial(addr string, sessionTimeout time.Duration) (*Client, error) {
	return DialConfig(context.Background(), addr, ClientConfig{SessionTimeout: sessionTimeout})
}

// DialConfig connects to addr and performs the ConnectRequest handshake.
// A server that refuses the session (expired or unknown session id) yields
// ErrSessionExpired.
func DialConfig(ctx context.Context, addr string, cfg ClientConfig) (*Client, error) {
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = 4 << 20
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	dial := cfg.Dialer
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	resp, err := handshake(ctx, conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{
		conn:      conn,
		addr:      addr,
		sessionID: resp.SessionID,
		passwd:    resp.Passwd,
		timeout:   time.Duration(resp.TimeOut) * time.Millisecond,
		readOnly:  resp.ReadOnly,
		maxFrame:  cfg.MaxFrame,
		pending:   map[int32]*Call{},
		watches:   newWatchTable(),
		done:      make(chan struct{}),
		events:    make(chan Event, 16),
	}
	c.readTimeout = c.timeout * 2 / 3
	c.lastZxid.Store(cfg.LastZxidSeen)
	c.evq.init()
	st := StateSyncConnected
	if c.readOnly {
		st = StateConnectedReadOnly
	}
	c.evq.push(Event{Type: EventNone, State: st})
	c.wg.Add(2)
	go c.readLoop()
	go c.pingLoop()
	go c.pump()
	return c, nil
}

func handshake(ctx context.Context, conn net.Conn, cfg ClientConfig) (*ConnectResponse, error) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	resp, err := exchangeConnect(conn, cfg)
	if !stop() {
		// ctx ended during the handshake: the deadline may be in the past.
		return nil, handshakeErr(ctx, context.Cause(ctx))
	}
	if err != nil {
		return nil, handshakeErr(ctx, err)
	}
	if resp.TimeOut <= 0 {
		return nil, &Error{Code: CodeSessionExpired}
	}
	conn.SetDeadline(time.Time{})
	return resp, nil
}

func exchangeConnect(conn net.Conn, cfg ClientConfig) (*ConnectResponse, error) {
	passwd := cfg.Passwd
	if passwd == nil {
		passwd = make([]byte, PasswordLen)
	}
	req := &ConnectRequest{
		ProtocolVersion: ProtocolVersion,
		LastZxidSeen:    cfg.LastZxidSeen,
		TimeOut:         int32(cfg.SessionTimeout / time.Millisecond),
		SessionID:       cfg.SessionID,
		Passwd:          passwd,
		ReadOnly:        cfg.ReadOnly,
		HasReadOnly:     true,
	}
	frame, err := AppendFrame(nil, req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(frame); err != nil {
		return nil, err
	}
	body, err := ReadFrame(conn, nil, cfg.MaxFrame)
	if err != nil {
		return nil, err
	}
	var resp ConnectResponse
	if err := Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decoding ConnectResponse: %w", err)
	}
	return &resp, nil
}

func handshakeErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("zkwire: handshake: %w", ctx.Err())
	}
	return fmt.Errorf("zkwire: handshake: %w", err)
}

// Addr returns the server address the client dialed.
func (c *Client) Addr() string { return c.addr }

// SessionID returns the session id the server assigned.
func (c *Client) SessionID() int64 { return c.sessionID }

// Passwd returns a copy of the session password.
func (c *Client) Passwd() []byte { return slices.Clone(c.passwd) }

// SessionTimeout returns the negotiated session timeout.
func (c *Client) SessionTimeout() time.Duration { return c.timeout }

// ReadOnly reports whether the server granted a read-only session.
func (c *Client) ReadOnly() bool { return c.readOnly }

// LastZxid returns the newest zxid seen in a reply header.
func (c *Client) LastZxid() int64 { return c.lastZxid.Load() }

// State returns the connection state.
func (c *Client) State() ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done is closed once the connection is gone (closed or broken).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Events returns the channel of watch notifications and session events, in
// the order they arrived: first {None, SyncConnected}, then notifications
// for the watches this client set, then one final session event (Closed,
// Disconnected or AuthFailed), after which the channel is closed. Events
// are queued without bound, so a slow reader never stalls the connection;
// once the connection is gone, events nobody takes for 5s are dropped.
//
// A notification always comes before the reply of any request whose result
// reflects the change (the server sends it first), so a consumer that wants
// to see every event a request caused can compare EventCount with the
// number of events it has taken.
func (c *Client) Events() <-chan Event { return c.events }

// EventCount returns how many events have been queued for the Events
// channel so far, the connect event included. Events arriving before a
// reply are counted by the time the request's call returns.
func (c *Client) EventCount() uint64 { return c.evq.count() }

// ---------------------------------------------------------------------------
// Calls

// Call is a request in flight. Wait for it with Wait or Done.
type Call struct {
	Op   int32
	Req  Record
	Resp Record // decoded into when the reply's err is 0
	Zxid int64  // the reply header's zxid
	Err  error  // nil, an *Error, or a transport/encoding error
	done chan struct{}

	path      string
	watch     watchKind // registered when the reply succeeds
	rmType    int32     // removeWatches: the watcher type
	rmLocal   bool      // removeWatches: remove locally whatever the server says
	removeReq bool
}

// Done is closed when the call has completed.
func (call *Call) Done() <-chan struct{} { return call.done }

// Wait blocks until the call completes and returns its error.
func (call *Call) Wait() error {
	<-call.done
	return call.Err
}

// Go sends a request without waiting for its reply; requests sent by Go
// (from one goroutine or many) are pipelined, and each reply is matched to
// its call by xid. resp may be nil when the reply has no body. Watches
// asked for by the request (getData/exists/getChildren with Watch set,
// addWatch) are registered when the reply arrives, so their notifications
// are delivered on Events.
func (c *Client) Go(op int32, req, resp Record) *Call {
	call := &Call{Op: op, Req: req, Resp: resp, done: make(chan struct{})}
	call.path = pathOf(req)
	switch r := req.(type) {
	case *GetDataRequest:
		if r.Watch {
			call.watch = watchData
		}
	case *ExistsRequest:
		if r.Watch {
			call.watch = watchExist // becomes a data watch if the node exists
		}
	case *GetChildrenRequest:
		if r.Watch {
			call.watch = watchChild
		}
	case *GetChildren2Request:
		if r.Watch {
			call.watch = watchChild
		}
	case *AddWatchRequest:
		call.watch = watchPersistent
		if r.Mode == AddWatchPersistentRecursive {
			call.watch = watchRecursive
		}
	case *RemoveWatchesRequest:
		call.removeReq, call.rmType = true, r.Type
	}
	c.send(call)
	return call
}

// Do sends a request and waits for its reply. If ctx ends first, Do
// returns ctx's error (the request may still take effect); if it has
// already ended, nothing is sent.
func (c *Client) Do(ctx context.Context, op int32, req, resp Record) (zxid int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	call := c.Go(op, req, resp)
	select {
	case <-call.done:
		return call.Zxid, call.Err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *Client) do(op int32, req, resp Record) error {
	return c.Go(op, req, resp).Wait()
}

func (c *Client) send(call *Call) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var xid int32
	switch call.Op {
	case OpAuth:
		xid = XidAuth
	default:
		c.xid++
		if c.xid <= 0 {
			c.xid = 1
		}
		xid = c.xid
	}
	buf, err := AppendFrame(c.wbuf[:0], &RequestHeader{Xid: xid, Type: call.Op}, call.Req)
	if err != nil {
		call.Err = err
		close(call.done)
		return
	}
	c.mu.Lock()
	if c.state != ConnConnected || c.closing {
		c.complete(call, CodeConnectionLoss, nil)
		c.mu.Unlock()
		return
	}
	if call.Op == OpAuth {
		c.authQ = append(c.authQ, call)
	} else {
		c.pending[xid] = call
	}
	if call.Op == OpCloseSession {
		c.closing = true
	}
	c.mu.Unlock()
	err = c.write(buf)
	if cap(buf) <= 64<<10 {
		c.wbuf = buf[:0]
	}
	if err != nil {
		c.fail(err)
	}
}

// write sends one frame; the caller holds wmu.
func (c *Client) write(frame []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.conn.Write(frame)
	return err
}

func (c *Client) pingLoop() {
	defer c.wg.Done()
	t := time.NewTicker(max(c.timeout/3, 10*time.Millisecond))
	defer t.Stop()
	ping, _ := AppendFrame(nil, &RequestHeader{Xid: XidPing, Type: OpPing})
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		c.wmu.Lock()
		err := c.write(ping)
		c.wmu.Unlock()
		if err != nil {
			c.fail(err)
			return
		}
	}
}

func (c *Client) readLoop() {
	defer c.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		c.conn.SetReadDeadline(time.Now().Add(c.readTimeout))
		frame, err := ReadFrame(c.conn, buf, c.maxFrame)
		if err != nil {
			c.fail(err)
			return
		}
		d := NewDecoder(frame)
		d.SetMaxLength(c.maxFrame)
		var h ReplyHeader
		h.Decode(d)
		if d.Err() != nil {
			c.fail(fmt.Errorf("zkwire: decoding reply header: %w", d.Err()))
			return
		}
		if h.Zxid > 0 {
			c.lastZxid.Store(h.Zxid)
		}
		switch h.Xid {
		case XidPing:
			continue
		case XidNotification:
			var ev WatcherEvent
			ev.Decode(d)
			if d.Err() != nil {
				c.fail(fmt.Errorf("zkwire: decoding notification: %w", d.Err()))
				return
			}
			c.mu.Lock()
			if c.watches.materialize(ev.Type, ev.Path) {
				c.evq.push(Event{Type: ev.Type, State: ev.State, Path: ev.Path})
			}
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		var call *Call
		if h.Xid == XidAuth {
			if len(c.authQ) > 0 {
				call, c.authQ = c.authQ[0], c.authQ[1:]
			}
		} else if call = c.pending[h.Xid]; call != nil {
			delete(c.pending, h.Xid)
		}
		if call == nil {
			c.mu.Unlock()
			c.fail(fmt.Errorf("zkwire: reply with unexpected xid %d", h.Xid))
			return
		}
		call.Zxid = h.Zxid
		c.complete(call, h.Err, d)
		if call.Op == OpAuth && h.Err == CodeAuthFailed && !c.authFailed {
			c.authFailed = true
			c.evq.push(Event{Type: EventNone, State: StateAuthFailed})
		}
		c.mu.Unlock()
	}
}

// complete finishes a call whose reply carried code (CodeConnectionLoss
// for calls that never got one), decoding the body from d when code is OK
// and applying watch bookkeeping. The caller holds c.mu.
func (c *Client) complete(call *Call, code ErrCode, d *Decoder) {
	defer close(call.done)
	if call.removeReq {
		call.Err = c.unregister(call, code)
		return
	}
	if code != CodeOK {
		if code == CodeNoNode && call.watch == watchExist {
			c.watches.add(watchExist, call.path)
		}
		call.Err = &Error{Code: code, Path: call.path}
		return
	}
	if call.Resp != nil && d != nil {
		call.Resp.Decode(d)
		if d.Err() != nil {
			call.Err = fmt.Errorf("zkwire: decoding %s reply: %w", OpName(call.Op), d.Err())
			return
		}
	}
	switch call.watch {
	case watchNone:
	case watchExist: // exists found the node: a data watch
		c.watches.add(watchData, call.path)
	default:
		c.watches.add(call.watch, call.path)
	}
}

// unregister applies a removeWatches reply as ZKWatchManager.removeWatcher
// does: no matching local watch is NoWatcher; a server error is returned
// (after removing locally anyway when the call was local); removed watches
// are reported as *WatchRemoved events.
func (c *Client) unregister(call *Call, code ErrCode) error {
	if !c.watches.contains(call.path, call.rmType) {
		return &Error{Code: CodeNoWatcher, Path: call.path}
	}
	if code != CodeOK && !call.rmLocal {
		return &Error{Code: code, Path: call.path}
	}
	removed := c.watches.remove(call.path, call.rmType)
	for _, t := range removed {
		c.evq.push(Event{Type: t, State: StateSyncConnected, Path: call.path})
	}
	if code != CodeOK {
		return &Error{Code: code, Path: call.path}
	}
	if len(removed) == 0 {
		return &Error{Code: CodeNoWatcher, Path: call.path}
	}
	return nil
}

// fail ends the connection: pending calls fail with ConnectionLoss and the
// final session event is queued. Only the first call has an effect.
func (c *Client) fail(cause error) {
	c.mu.Lock()
	if c.state != ConnConnected {
		c.mu.Unlock()
		return
	}
	c.cause = cause
	switch {
	case c.closing:
		c.state = ConnClosed
		c.evq.push(Event{Type: EventNone, State: StateClosed})
	case c.authFailed:
		c.state = ConnAuthFailed
	default:
		c.state = ConnNotConnected
		c.evq.push(Event{Type: EventNone, State: StateDisconnected})
	}
	xids := make([]int32, 0, len(c.pending))
	for x := range c.pending {
		xids = append(xids, x)
	}
	slices.Sort(xids)
	for _, call := range c.authQ {
		c.complete(call, CodeConnectionLoss, nil)
	}
	for _, x := range xids {
		c.complete(c.pending[x], CodeConnectionLoss, nil)
	}
	c.pending, c.authQ = nil, nil
	c.evq.finish()
	c.mu.Unlock()
	c.conn.Close()
	close(c.done)
}

// errClientClosed is the cause recorded by Close.
var errClientClosed = errors.New("zkwire: client closed")

// Close ends the session (closeSession) and the connection, then queues a
// Closed event. It waits at most a third of the session timeout (and no
// more than 5s) for the server's answer. Closing a client whose connection
// is already gone only releases its resources.
func (c *Client) Close() error {
	c.mu.Lock()
	alive := c.state == ConnConnected && !c.closing
	c.mu.Unlock()
	if alive {
		call := c.Go(OpCloseSession, &CloseSessionRequest{}, nil)
		t := time.NewTimer(min(max(c.timeout/3, 100*time.Millisecond), 5*time.Second))
		select {
		case <-call.done:
		case <-t.C:
		}
		t.Stop()
	}
	c.fail(errClientClosed)
	c.wg.Wait()
	return nil
}

// ---------------------------------------------------------------------------
// Events

type eventQueue struct {
	mu     sync.Mutex
	q      []Event
	n      uint64
	closed bool
	wake   chan struct{}
}

func (q *eventQueue) init() { q.wake = make(chan struct{}, 1) }

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	q.q = append(q.q, ev)
	q.n++
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) finish() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) count() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// pop returns the next event, blocking until there is one; ok is false once
// the queue is finished and empty.
func (q *eventQueue) pop() (Event, bool) {
	for {
		q.mu.Lock()
		if len(q.q) > 0 {
			ev := q.q[0]
			q.q[0] = Event{}
			q.q = q.q[1:]
			q.mu.Unlock()
			return ev, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return Event{}, false
		}
		<-q.wake
	}
}

// drainGrace is how long, once the connection is gone, the pump waits for
// a consumer to take each remaining event before dropping the rest.
const drainGrace = 5 * time.Second

func (c *Client) pump() {
	defer close(c.events)
	for {
		ev, ok := c.evq.pop()
		if !ok {
			return
		}
		select {
		case c.events <- ev:
			continue
		case <-c.done:
		}
		t := time.NewTimer(drainGrace)
		select {
		case c.events <- ev:
			t.Stop()
		case <-t.C:
			return
		}
	}
}

// ---------------------------------------------------------------------------
// Operations

// pathOf returns the path a request names, for error messages.
func pathOf(req Record) string {
	switch r := req.(type) {
	case *CreateRequest:
		return r.Path
	case *CreateTTLRequest:
		return r.Path
	case *DeleteRequest:
		return r.Path
	case *ExistsRequest:
		return r.Path
	case *GetDataRequest:
		return r.Path
	case *SetDataRequest:
		return r.Path
	case *GetACLRequest:
		return r.Path
	case *SetACLRequest:
		return r.Path
	case *GetChildrenRequest:
		return r.Path
	case *GetChildren2Request:
		return r.Path
	case *SyncRequest:
		return r.Path
	case *CheckVersionRequest:
		return r.Path
	case *CheckWatchesRequest:
		return r.Path
	case *RemoveWatchesRequest:
		return r.Path
	case *GetEphemeralsRequest:
		return r.PrefixPath
	case *GetAllChildrenNumberRequest:
		return r.Path
	case *AddWatchRequest:
		return r.Path
	}
	return ""
}

// checkACL refuses an empty ACL before sending, as the Java client does
// (its InvalidACLException carries no path).
func checkACL(acl []ACL) error {
	if len(acl) == 0 {
		return &Error{Code: CodeInvalidACL}
	}
	return nil
}

// Create creates a node (opcode create, or createContainer for
// FlagContainer) and returns its path, which carries the sequence suffix
// for sequential modes. nil data is sent as a null buffer.
func (c *Client) Create(path string, data []byte, acl []ACL, flags int32) (string, error) {
	if err := checkACL(acl); err != nil {
		return "", err
	}
	op := OpCreate
	if flags == FlagContainer {
		op = OpCreateContainer
		var resp Create2Response
		err := c.do(op, &CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags}, &resp)
		return resp.Path, err
	}
	var resp CreateResponse
	err := c.do(op, &CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags}, &resp)
	return resp.Path, err
}

// Create2 creates a node and returns its path and stat (opcode create2, or
// createContainer for FlagContainer).
func (c *Client) Create2(path string, data []byte, acl []ACL, flags int32) (string, Stat, error) {
	if err := checkACL(acl); err != nil {
		return "", Stat{}, err
	}
	op := OpCreate2
	if flags == FlagContainer {
		op = OpCreateContainer
	}
	var resp Create2Response
	err := c.do(op, &CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags}, &resp)
	return resp.Path, resp.Stat, err
}

// CreateTTL creates a TTL node (flags FlagPersistentWithTTL or
// FlagPersistentSequentialWithTTL, ttl in milliseconds).
func (c *Client) CreateTTL(path string, data []byte, acl []ACL, flags int32, ttl time.Duration) (string, Stat, error) {
	if err := checkACL(acl); err != nil {
		return "", Stat{}, err
	}
	var resp Create2Response
	err := c.do(OpCreateTTL, &CreateTTLRequest{Path: path, Data: data, ACL: acl, Flags: flags, TTL: ttl.Milliseconds()}, &resp)
	return resp.Path, resp.Stat, err
}

// Delete deletes a node; version -1 matches any.
func (c *Client) Delete(path string, version int32) error {
	return c.do(OpDelete, &DeleteRequest{Path: path, Version: version}, nil)
}

// Exists returns the node's stat and whether it exists. With watch, a data
// watch is left on the node (an exist watch when it is missing).
func (c *Client) Exists(path string, watch bool) (Stat, bool, error) {
	var resp ExistsResponse
	err := c.do(OpExists, &ExistsRequest{Path: path, Watch: watch}, &resp)
	if CodeOf(err) == CodeNoNode {
		return Stat{}, false, nil
	}
	return resp.Stat, err == nil, err
}

// Get returns a node's data (nil for a node created with null data) and
// stat, optionally leaving a data watch.
func (c *Client) Get(path string, watch bool) ([]byte, Stat, error) {
	var resp GetDataResponse
	err := c.do(OpGetData, &GetDataRequest{Path: path, Watch: watch}, &resp)
	return resp.Data, resp.Stat, err
}

// Set replaces a node's data if its version matches (-1: any).
func (c *Client) Set(path string, data []byte, version int32) (Stat, error) {
	var resp SetDataResponse
	err := c.do(OpSetData, &SetDataRequest{Path: path, Data: data, Version: version}, &resp)
	return resp.Stat, err
}

// Children returns a node's children, in the server's order, and its stat
// (getChildren2), optionally leaving a child watch.
func (c *Client) Children(path string, watch bool) ([]string, Stat, error) {
	var resp GetChildren2Response
	err := c.do(OpGetChildren2, &GetChildren2Request{Path: path, Watch: watch}, &resp)
	return resp.Children, resp.Stat, err
}

// GetACL returns a node's ACL and stat.
func (c *Client) GetACL(path string) ([]ACL, Stat, error) {
	var resp GetACLResponse
	err := c.do(OpGetACL, &GetACLRequest{Path: path}, &resp)
	return resp.ACL, resp.Stat, err
}

// SetACL replaces a node's ACL if its aversion matches (-1: any).
func (c *Client) SetACL(path string, acl []ACL, version int32) (Stat, error) {
	if err := checkACL(acl); err != nil {
		return Stat{}, err
	}
	var resp SetACLResponse
	err := c.do(OpSetACL, &SetACLRequest{Path: path, ACL: acl, Version: version}, &resp)
	return resp.Stat, err
}

// Sync asks the server to catch up with the leader before answering later
// reads; it returns the path the server echoes.
func (c *Client) Sync(path string) (string, error) {
	var resp SyncResponse
	err := c.do(OpSync, &SyncRequest{Path: path}, &resp)
	return resp.Path, err
}

// Multi runs write ops atomically (or read ops with OpMultiRead semantics
// when every op is a getData/getChildren). The results are returned in any
// case; for a failed multi the error is that of the first failing op.
func (c *Client) Multi(ops ...MultiOp) ([]MultiResult, error) {
	op := OpMulti
	if len(ops) > 0 && isReadOp(ops[0].Type) {
		op = OpMultiRead
	}
	var resp MultiResponse
	if err := c.do(op, &MultiRequest{Ops: ops}, &resp); err != nil {
		return nil, err
	}
	if op == OpMulti {
		for i, r := range resp.Results {
			if r.Type == OpError && r.Err != CodeOK && r.Err != CodeRuntimeInconsistency {
				p := ""
				if i < len(ops) {
					p = pathOf(ops[i].Req)
				}
				return resp.Results, &Error{Code: r.Err, Path: p}
			}
		}
	}
	return resp.Results, nil
}

// AddAuth sends credentials (e.g. "digest", "user:password") and waits for
// the server's answer. A server refusing them answers AuthFailed and closes
// the connection; the client then queues an AuthFailed event.
func (c *Client) AddAuth(scheme string, auth []byte) error {
	return c.do(OpAuth, &AuthPacket{Type: 0, Scheme: scheme, Auth: auth}, nil)
}

// AddWatch sets a persistent (AddWatchPersistent) or persistent-recursive
// (AddWatchPersistentRecursive) watch.
func (c *Client) AddWatch(path string, mode int32) error {
	return c.do(OpAddWatch, &AddWatchRequest{Path: path, Mode: mode}, nil)
}

// RemoveWatches removes this client's watches of a type (WatcherChildren,
// WatcherData, WatcherAny, ...) on path, on the server and locally, and
// queues a *WatchRemoved event for each kind removed. It fails with
// ErrNoWatcher when no such watch was set. With local, the watches are
// removed locally even if the server cannot be asked (the server's error
// is still returned).
func (c *Client) RemoveWatches(path string, typ int32, local bool) error {
	call := &Call{Op: OpRemoveWatches, Req: &RemoveWatchesRequest{Path: path, Type: typ},
		done: make(chan struct{}), path: path, removeReq: true, rmType: typ, rmLocal: local}
	c.send(call)
	return call.Wait()
}

// GetEphemerals returns the session's ephemeral nodes whose paths start
// with prefix.
func (c *Client) GetEphemerals(prefix string) ([]string, error) {
	var resp GetEphemeralsResponse
	err := c.do(OpGetEphemerals, &GetEphemeralsRequest{PrefixPath: prefix}, &resp)
	return resp.Ephemerals, err
}

// GetAllChildrenNumber returns the number of descendants of path.
func (c *Client) GetAllChildrenNumber(path string) (int, error) {
	var resp GetAllChildrenNumberResponse
	err := c.do(OpGetAllChildrenNumber, &GetAllChildrenNumberRequest{Path: path}, &resp)
	return int(resp.TotalNumber), err
}

// WhoAmI returns the identities the server associates with the session.
func (c *Client) WhoAmI() ([]ClientInfo, error) {
	var resp WhoAmIResponse
	err := c.do(OpWhoAmI, &WhoAmIRequest{}, &resp)
	return resp.ClientInfo, err
}
