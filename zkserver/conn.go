package zkserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkwire"
)

// zkConn is one client connection of the wire server.
//
// Goroutines: serve reads and executes requests one at a time, in order;
// writeLoop writes the outbound queue. The engine calls notify with the
// session's state changes and watch events. Everything that leaves the
// connection goes through enqueue, so the order frames are enqueued in is
// the order the client sees.
type zkConn struct {
	srv *Server
	nc  net.Conn // nil when a test or the fuzzer drives process directly; a *tls.Conn on a TLS port
	// raw is the accepted connection under nc, closed to abort: closing a
	// *tls.Conn may block sending its close alert.
	raw net.Conn
	ip  string
	// remote is the peer address as ZooKeeper prints it ("/127.0.0.1:5000").
	remote string

	ctx    context.Context // ends when the connection does
	cancel context.CancelFunc

	sess atomic.Pointer[coord.ServerSession] // set once the handshake succeeded

	// State changes reported before the handshake has answered wait in
	// pending, and are acted on once it has (ready).
	stMu    sync.Mutex
	ready   bool          // guarded by stMu
	pending []coord.State // guarded by stMu

	outMu       sync.Mutex
	out         [][]byte     // frames to write; guarded by outMu
	queuedBytes atomic.Int64 // bytes of frames queued or being written (limits.go)
	dropped     atomic.Bool  // dropped for its queued bytes
	closing     bool         // no more frames; close once out is written; guarded by outMu
	wake        chan struct{}
	written     chan struct{} // closed when writeLoop has exited
	graceful    bool          // writeLoop wrote everything and half-closed; set before written closes

	// closingSession is set while a closeSession request is being served:
	// the session's end must not drop the connection before the reply.
	// ids are what the TLS handshake authenticated (x509, super).
	ids []coord.ID

	closingSession atomic.Bool
	fourLetter     atomic.Bool // a four-letter-word connection, not a client

	established time.Time
	cstats      zkConnStats
}

// zkConnStats are the per-connection figures cons and stat print.
type zkConnStats struct {
	received atomic.Int64
	sent     atomic.Int64
	queued   atomic.Int64

	mu       sync.Mutex
	lastOp   string    // guarded by mu
	lastCxid int64     // guarded by mu; -1 before the first real request
	lastZxid int64     // guarded by mu
	lastResp time.Time // guarded by mu
	lastLat  int64     // ms; guarded by mu
	minLat   int64     // ms; guarded by mu
	maxLat   int64     // ms; guarded by mu
	count    int64     // guarded by mu
	totalLat int64     // ms; guarded by mu
}

func (st *zkConnStats) reset() {
	st.received.Store(0)
	st.sent.Store(0)
	st.mu.Lock()
	st.lastOp, st.lastCxid, st.lastZxid = "NA", -1, -1
	st.lastResp = time.Time{}
	st.lastLat, st.minLat, st.maxLat, st.count, st.totalLat = 0, 1<<63-1, 0, 0, 0
	st.mu.Unlock()
}

func (st *zkConnStats) update(op string, xid int32, zxid int64, start, end time.Time) {
	lat := end.Sub(start).Milliseconds()
	st.mu.Lock()
	if xid >= 0 {
		st.lastCxid = int64(xid)
	}
	st.lastOp, st.lastZxid, st.lastResp, st.lastLat = op, zxid, end, lat
	st.minLat = min(st.minLat, lat)
	st.maxLat = max(st.maxLat, lat)
	st.count++
	st.totalLat += lat
	st.mu.Unlock()
}

func newZKConn(srv *Server, nc net.Conn, ip string) *zkConn {
	ctx, cancel := context.WithCancel(srv.ctx)
	c := &zkConn{
		srv:         srv,
		nc:          nc,
		raw:         nc,
		ip:          ip,
		ctx:         ctx,
		cancel:      cancel,
		wake:        make(chan struct{}, 1),
		written:     make(chan struct{}),
		established: time.Now(),
	}
	if nc != nil {
		c.remote = "/" + nc.RemoteAddr().String()
	}
	c.cstats.reset()
	return c
}

// serve runs the connection to its end.
func (c *zkConn) serve() {
	defer c.srv.wg.Done()
	defer c.srv.forget(c)
	defer c.cancel()

	if tcfg := c.srv.cfg.TLS; tcfg != nil {
		tc := tls.Server(c.raw, tcfg)
		ids, err := c.tlsHandshake(tc)
		if err != nil {
			c.srv.log.Debug("wire TLS handshake", "remote", c.remote, "err", err)
			c.raw.Close()
			return
		}
		c.nc, c.ids = tc, ids
	}
	br := bufio.NewReader(c.nc)
	_ = c.nc.SetReadDeadline(time.Now().Add(zkHandshakeTimeout))
	head, err := br.Peek(4)
	if err != nil {
		c.nc.Close()
		return
	}
	// A four-letter word comes instead of the first frame's length.
	if cmd := string(head); fourLetterWords[cmd] {
		c.fourLetter.Store(true)
		c.srv.stats.received.Add(1)
		br.Discard(4)
		c.serveFourLetter(cmd, br)
		return
	}

	go c.writeLoop()
	c.run(br)
	c.closeAfterFlush()
	<-c.written
	if c.graceful {
		lingerClose(c.nc, br)
	}
	c.raw.Close()
	c.detach()
}

// lingerClose half-closes nc and discards what the peer still sends, for a
// moment at most, before closing. Closing a socket with unread input makes
// the kernel send a reset, which can destroy the last frames written (an
// AuthFailed reply, a four-letter word's answer) before the peer reads
// them.
func lingerClose(nc net.Conn, r io.Reader) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite() // may be done already
	}
	_ = nc.SetReadDeadline(time.Now().Add(zkLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, zkwire.DefaultMaxBuffer))
	nc.Close()
}

// run performs the handshake and then serves requests until the connection
// must close.
func (c *zkConn) run(br *bufio.Reader) {
	buf := make([]byte, zkReadBuffer)
	frame, err := zkwire.ReadFrame(br, buf, c.srv.frameLimit)
	if err != nil {
		c.srv.log.Debug("wire handshake", "remote", c.remote, "err", err)
		return
	}
	c.srv.stats.received.Add(1)
	c.cstats.received.Add(1)
	ss := c.handshake(frame)
	if ss == nil {
		return
	}
	s := ss.Session()
	timeout := s.Timeout()
	for {
		// ZooKeeper drops a connection it has heard nothing from for a
		// session timeout; clients ping well within it.
		if !c.setReadDeadline(time.Now().Add(timeout)) {
			return
		}
		frame, err := zkwire.ReadFrame(br, buf, c.srv.frameLimit)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.srv.log.Debug("wire read", "remote", c.remote, "session", s.ID(), "err", err)
			}
			return
		}
		start := time.Now()
		c.srv.stats.received.Add(1)
		c.cstats.received.Add(1)
		if !c.process(frame, start) {
			return
		}
	}
}

// handshake answers the ConnectRequest in frame: a new session, or the
// re-attachment of an existing one. It returns nil when the connection must
// close.
func (c *zkConn) handshake(frame []byte) *coord.ServerSession {
	n := c.srv.n
	log := c.srv.log
	var req zkwire.ConnectRequest
	if err := zkwire.Unmarshal(frame, &req); err != nil {
		log.Debug("wire handshake: bad ConnectRequest", "remote", c.remote, "err", err)
		return nil
	}
	electionTimeout := n.Config().ElectionTimeout
	// A client must never go back in time: ZooKeeper refuses (by closing)
	// a client that has seen a newer zxid than this server has applied, so
	// it tries another server. A follower that is merely behind (its leader
	// just died with the last commit unannounced) catches up first.
	if req.LastZxidSeen > n.LastZxid() {
		ctx, cancel := context.WithTimeout(c.ctx, 2*electionTimeout)
		_ = n.CatchUp(ctx)
		cancel()
		if last := n.LastZxid(); req.LastZxidSeen > last {
			log.Info("wire client refused: it has seen a newer zxid", "remote", c.remote,
				"session", req.SessionID, "clientZxid", req.LastZxidSeen, "ourZxid", last)
			return nil
		}
	}
	// A node that has lost its quorum cannot open or move a session: close
	// at once, as ZooKeeper does, so the client tries another server. (A
	// node in the middle of an election waits for its outcome below.)
	if !n.HasQuorum() {
		log.Info("wire client refused: no quorum", "remote", c.remote)
		return nil
	}
	// Long enough to ride out an election, short enough that a client of a
	// node that has just lost its quorum moves on soon.
	ctx, cancel := context.WithTimeout(c.ctx, min(zkHandshakeTimeout, 2*electionTimeout))
	defer cancel()
	// ZooKeeper clamps the requested timeout into [min, max]; zero and
	// negative requests get the minimum (NewServerSession does both).
	cfg := coord.ServerSessionConfig{ClientIP: c.ip, Identities: c.ids, Notify: c.notify}
	if req.SessionID == 0 {
		cfg.Timeout = time.Duration(req.TimeOut) * time.Millisecond
	} else {
		cfg.ID, cfg.Password = req.SessionID, req.Passwd
	}
	ss, err := n.NewServerSession(ctx, cfg)
	if err != nil {
		if req.SessionID != 0 && coord.CodeOf(err) == coord.CodeSessionExpired {
			// The session is gone (or the password is wrong): say so with
			// a zero session, then close.
			c.send(&zkwire.ConnectResponse{Passwd: make([]byte, zkwire.PasswordLen), HasReadOnly: req.HasReadOnly})
		} else {
			log.Debug("wire handshake failed", "remote", c.remote, "err", err)
		}
		return nil
	}
	s := ss.Session()
	c.sess.Store(ss)
	c.send(&zkwire.ConnectResponse{
		ProtocolVersion: zkwire.ProtocolVersion,
		TimeOut:         int32(s.Timeout().Milliseconds()),
		SessionID:       s.ID(),
		Passwd:          s.Password(),
		HasReadOnly:     req.HasReadOnly,
	})
	c.cstats.update("SESS", -1, n.LastZxid(), c.established, time.Now())
	// State changes from now on are acted on at once; those reported
	// meanwhile, now.
	c.stMu.Lock()
	c.ready = true
	pending := c.pending
	c.pending = nil
	c.stMu.Unlock()
	for _, st := range pending {
		c.sessionState(st)
	}
	return ss
}

// notify is the session's Notify function: the engine calls it, possibly
// with its locks held, for the session's state changes and for every
// watch this connection set, once per trigger. It only queues.
func (c *zkConn) notify(ev coord.Event) {
	if ev.Type != coord.EventNone {
		c.deliver(ev)
		return
	}
	c.stMu.Lock()
	if !c.ready {
		c.pending = append(c.pending, ev.State)
		c.stMu.Unlock()
		return
	}
	c.stMu.Unlock()
	c.sessionState(ev.State)
}

// sessionState acts on a state change of the session, which may outlive
// the connection (a detached session lives until it expires or is
// re-attached): then nothing is sent.
func (c *zkConn) sessionState(st coord.State) {
	switch st {
	case coord.StateExpired:
		// ZooKeeper itself only closes the connection; the client learns
		// of the expiry when it reconnects. Telling it first is harmless
		// and saves it the round trip.
		c.sendNotification(zkwire.WatcherEvent{Type: zkwire.EventNone, State: zkwire.StateExpired}, -1)
		c.closeAfterFlush()
	case coord.StateClosed:
		if !c.closingSession.Load() {
			c.closeAfterFlush()
		}
	case coord.StateDisconnected:
		// The session moved to another connection, or this node lost its
		// leader: a ZooKeeper server in either case drops the connection
		// so the client reconnects (elsewhere).
		c.closeAfterFlush()
	}
}

// detach runs once the connection is closed: the session stays, without a
// connection, until the client re-attaches it or it expires. Its watches
// go (ZooKeeper keeps watches per connection; clients re-send them with
// SetWatches when they reconnect).
func (c *zkConn) detach() {
	if ss := c.sess.Load(); ss != nil {
		ss.Detach()
	}
}

// ---------------------------------------------------------------------------
// Outbound queue

// enqueue appends a frame for the writer. It reports false (dropping the
// frame) once the connection is closing. It never blocks: it is called
// from apply through deliver.
func (c *zkConn) enqueue(frame []byte) bool {
	c.outMu.Lock()
	if c.closing {
		c.outMu.Unlock()
		return false
	}
	c.out = append(c.out, frame)
	c.account(int64(len(frame)))
	if limit := c.srv.cfg.MaxConnQueuedBytes; limit > 0 && c.queuedBytes.Load() > limit {
		// The client is not reading. Drop it rather than buffer without
		// bound.
		c.outMu.Unlock()
		c.srv.log.Warn("wire client not reading: connection dropped", "remote", c.remote,
			"queued", c.queuedBytes.Load(), "limit", limit)
		c.dropSlow()
		return false
	}
	c.outMu.Unlock()
	c.srv.overBudget()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// closeAfterFlush makes the connection close once what is queued has been
// written; later frames are dropped.
func (c *zkConn) closeAfterFlush() {
	c.outMu.Lock()
	c.closing = true
	c.outMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// abort closes the connection now; what is queued is dropped.
func (c *zkConn) abort() {
	c.outMu.Lock()
	c.closing = true
	c.dropQueued()
	c.outMu.Unlock()
	c.cancel()
	if c.raw != nil {
		c.raw.Close()
	}
}

// dropQueued forgets the frames not yet taken by the writer. outMu is held.
func (c *zkConn) dropQueued() {
	n := framesLen(c.out)
	c.out = nil
	c.account(-n)
}

// setReadDeadline sets the deadline of the next read, unless the
// connection is closing (the writer then owns the deadline).
func (c *zkConn) setReadDeadline(t time.Time) bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.closing {
		return false
	}
	_ = c.nc.SetReadDeadline(t)
	return true
}

func (c *zkConn) writeLoop() {
	defer close(c.written)
	// Whatever request is still running has nobody to answer.
	defer c.cancel()
	// Nothing is written from now on: release what is queued, and make
	// later frames be dropped rather than counted forever.
	defer func() {
		c.outMu.Lock()
		c.closing = true
		c.dropQueued()
		c.outMu.Unlock()
	}()
	var bufs net.Buffers
	for {
		c.outMu.Lock()
		frames := c.out
		c.out = nil
		closing := c.closing
		c.outMu.Unlock()
		if len(frames) > 0 {
			n := framesLen(frames)
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout()))
			bufs = frames
			_, err := bufs.WriteTo(c.nc)
			c.account(-n)
			if err != nil {
				c.abort()
				return
			}
			c.srv.stats.sent.Add(int64(len(frames)))
			c.cstats.sent.Add(int64(len(frames)))
			clear(frames)
			continue
		}
		if closing {
			// Everything is written: half-close, and make the reader give
			// up soon (see lingerClose).
			c.outMu.Lock()
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			_ = c.nc.SetReadDeadline(time.Now().Add(zkLinger))
			c.outMu.Unlock()
			c.graceful = true
			return
		}
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			c.raw.Close()
			return
		}
	}
}

func (c *zkConn) writeTimeout() time.Duration {
	d := 5 * time.Second
	if ss := c.sess.Load(); ss != nil {
		d = max(d, 2*ss.Session().Timeout())
	}
	return d
}

// send enqueues one frame holding recs.
func (c *zkConn) send(recs ...zkwire.Record) {
	frame, err := zkwire.AppendFrame(nil, recs...)
	if err != nil {
		c.srv.log.Error("wire encode", "err", err)
		return
	}
	c.enqueue(frame)
}

// reply enqueues a reply: the header and body, if any. Callers pass a body
// with an error code only where ZooKeeper sends one.
func (c *zkConn) reply(xid int32, zxid int64, code coord.Code, body zkwire.Record) {
	hdr := zkwire.ReplyHeader{Xid: xid, Zxid: zxid, Err: wireCode(code)}
	frame, err := zkwire.AppendFrame(nil, &hdr, body)
	if err == nil && len(frame)-4 > c.srv.frameLimit {
		// The client would refuse it (its jute.maxbuffer) and drop the
		// connection; fail the request instead.
		c.srv.log.Warn("wire reply larger than the frame limit (jute.maxbuffer): answered MarshallingError",
			"remote", c.remote, "xid", xid, "size", len(frame)-4, "limit", c.srv.frameLimit)
		err = errFrameTooLarge
	}
	if err != nil {
		if err != errFrameTooLarge {
			c.srv.log.Error("wire encode", "err", err)
		}
		hdr.Err = zkwire.CodeMarshallingError
		frame, _ = zkwire.AppendFrame(nil, &hdr)
	}
	c.enqueue(frame)
}

func (c *zkConn) sendNotification(ev zkwire.WatcherEvent, zxid int64) {
	frame, _ := zkwire.AppendFrame(nil, &zkwire.ReplyHeader{Xid: zkwire.XidNotification, Zxid: zxid}, &ev)
	c.enqueue(frame)
}

// deliver sends a watch event, if the wire carries its type.
func (c *zkConn) deliver(ev coord.Event) {
	typ, ok := wireEventType(ev.Type)
	if !ok {
		// Removal events are made by ZooKeeper clients themselves, and
		// NotWatching is this engine's own; neither goes on the wire.
		return
	}
	c.sendNotification(zkwire.WatcherEvent{
		Type:  typ,
		State: zkwire.StateSyncConnected,
		Path:  ev.Path,
	}, ev.Zxid)
}
