package zkserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord"
)

// Shape: one goroutine per connection reads and executes requests in order
// (ZooKeeper's per-session FIFO), one writes. Replies and watch
// notifications share one outbound queue per connection; the engine appends
// notifications to it synchronously (the ServerSession's Notify function,
// conn.notify), before the write that caused them returns, so a notification
// always precedes any later reply that reflects the change. Files:
//
//	server.go      listener, connection limits, server statistics
//	conn.go        one connection: handshake, read loop, outbound queue
//	ops.go         request dispatch: every opcode of clients 3.5–3.9
//	codes.go       coord's codes and events as the wire numbers them
//	fourletter.go  four-letter words (ruok, srvr, mntr, …)

// Wire server limits.
const (
	// zkMaxConns is Config.MaxConnections' default.
	zkMaxConns = 10000
	// zkMaxClientCnxns is Config.MaxClientCnxns' default, ZooKeeper's.
	zkMaxClientCnxns = 60
	// zkHandshakeTimeout bounds how long a new connection may take to send
	// its ConnectRequest (ZooKeeper's zookeeper.nio.sessionlessCnxnTimeout).
	zkHandshakeTimeout = 10 * time.Second
	// zkLinger is how long a closing connection waits for its peer to
	// close too, so the last frames are read rather than reset away.
	zkLinger = time.Second
	// zkReadBuffer is the per-connection frame buffer; larger frames (up to
	// jute.maxbuffer) are read into a buffer of their own. Requests are
	// small: this keeps 10,000 idle connections within a few hundred MB.
	zkReadBuffer = 16 << 10
)

// Config configures a Server. The zero value serves with ZooKeeper's
// defaults.
type Config struct {
	// MaxClientCnxns limits concurrent connections from one IP address
	// (ZooKeeper's maxClientCnxns). Zero means 60, as ZooKeeper; negative
	// means no limit.
	MaxClientCnxns int

	// MaxConnections limits connections of all clients together, four
	// letter words included (ZooKeeper 3.6+'s maxCnxns, which counts each
	// port's connections, secure and not, separately as two Servers do
	// here). Zero means 10,000; negative means no limit (ZooKeeper's
	// maxCnxns=0). The connection over the limit is closed at once.
	MaxConnections int

	// FourLetterWords lists the four-letter words answered ("ruok",
	// "srvr", "mntr", …), as ZooKeeper's 4lw.commands.whitelist. Nil means
	// ZooKeeper's default whitelist (srvr only); []string{"*"} allows all.
	// srvr is always answered.
	FourLetterWords []string

	// Logger receives the server's logs. Nil means the Node's logger.
	Logger *slog.Logger

	// TLS, when set, makes every connection TLS (ZooKeeper's
	// secureClientPort); Serve and Listen take plain TCP listeners and the
	// handshake runs on each connection's goroutine. Its ClientAuth is
	// ZooKeeper's ssl.clientAuth (none: NoClientCert, want:
	// VerifyClientCertIfGiven, need: RequireAndVerifyClientCert; ClientCAs
	// is ssl.trustStore). A verified client certificate authenticates the
	// session as x509:<subject DN> (see X509ID). Serve a plaintext and a
	// TLS port of one Node with two Servers.
	TLS *tls.Config

	// X509SuperUser is a subject DN (as X509ID writes it) whose verified
	// certificate makes its sessions super users, which bypass every ACL
	// (ZooKeeper's zookeeper.X509AuthenticationProvider.superUser).
	X509SuperUser string

	// MaxFrameSize is the largest frame, in bytes after the length,
	// accepted from a client and sent to it (ZooKeeper's jute.maxbuffer). A
	// larger request closes the connection, as ZooKeeper's "Len error"; a
	// larger reply is replaced by a MarshallingError reply, which the
	// client's own jute.maxbuffer would have refused anyway. Zero means
	// the Node's MaxDataSize when that is above 1 MiB (so raising the data
	// limit raises the frame limit with it), else ZooKeeper's default
	// 0xfffff.
	MaxFrameSize int

	// MaxConnQueuedBytes caps the replies and notifications queued for one
	// connection, written or being written; a client that lets more pile
	// up (it does not read) is dropped, its session surviving until its
	// timeout as after any disconnect. Zero means 16 MiB or four
	// MaxFrameSize frames, whichever is larger; negative means no cap.
	MaxConnQueuedBytes int64

	// MaxQueuedBytes caps the bytes queued across all of the Server's
	// connections: past it the connection holding the most is dropped, so
	// many slow readers (60 per address from many addresses) cannot
	// exhaust the node's memory. Zero means 512 MiB, and at least twice
	// MaxConnQueuedBytes; negative means no cap.
	MaxQueuedBytes int64
}

// Server serves ZooKeeper's client wire protocol for a Node. Create it with
// Serve or Listen; stop it with Close. The caller owns both the Server and
// the Node: close the Server before the Node. A Node that closes first ends
// every session, and with them their connections (clients see their
// session closed).
type Server struct {
	n      *coord.Node
	cfg    Config
	log    *slog.Logger
	ln     net.Listener // nil in tests that drive connections directly
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[*zkConn]struct{} // guarded by mu
	perIP    map[string]int       // guarded by mu
	maxConns int                  // guarded by mu; Config.MaxConnections, <= 0: none
	closed   bool                 // guarded by mu

	stats   zkStats
	started time.Time

	// Resource bounds (limits.go).
	frameLimit  int          // Config.MaxFrameSize, resolved
	queued      atomic.Int64 // bytes queued on all connections
	shedding    sync.Mutex   // one shed at a time
	shedCount   atomic.Int64 // connections dropped for queued bytes
	refusedConn atomic.Int64 // connections refused by MaxConnections or MaxClientCnxns
}

// zkStats are the counters srvr, stat and mntr report. Latencies are kept
// in microseconds and reported in milliseconds, as ZooKeeper does.
type zkStats struct {
	received    atomic.Int64
	sent        atomic.Int64
	outstanding atomic.Int64
	latCount    atomic.Int64
	latTotal    atomic.Int64 // µs
	latMin      atomic.Int64 // µs; math.MaxInt64 when none
	latMax      atomic.Int64 // µs

	// read and update are ZooKeeper's readlatency and updatelatency,
	// never reset (stats.go).
	read, update latencyHist
}

func (st *zkStats) reset() {
	st.received.Store(0)
	st.sent.Store(0)
	st.latCount.Store(0)
	st.latTotal.Store(0)
	st.latMin.Store(1<<63 - 1)
	st.latMax.Store(0)
}

func (st *zkStats) addLatency(d time.Duration) {
	us := d.Microseconds()
	st.latCount.Add(1)
	st.latTotal.Add(us)
	for {
		m := st.latMin.Load()
		if us >= m || st.latMin.CompareAndSwap(m, us) {
			break
		}
	}
	for {
		m := st.latMax.Load()
		if us <= m || st.latMax.CompareAndSwap(m, us) {
			break
		}
	}
}

// latencies returns min, avg and max in milliseconds.
func (st *zkStats) latencies() (minMs int64, avgMs float64, maxMs int64) {
	n := st.latCount.Load()
	if n == 0 {
		return 0, 0, 0
	}
	minUs := st.latMin.Load()
	if minUs == 1<<63-1 {
		minUs = 0
	}
	return minUs / 1000, float64(st.latTotal.Load()) / float64(n) / 1000, st.latMax.Load() / 1000
}

func newServer(n *coord.Node, cfg Config) *Server {
	if cfg.MaxClientCnxns == 0 {
		cfg.MaxClientCnxns = zkMaxClientCnxns
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = zkMaxConns
	}
	log := cfg.Logger
	if log == nil {
		log = n.Config().Logger
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{
		n:        n,
		cfg:      cfg,
		log:      log,
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*zkConn]struct{}),
		perIP:    make(map[string]int),
		maxConns: cfg.MaxConnections,
		started:  time.Now(),
	}
	srv.stats.reset()
	srv.resolveLimits()
	return srv
}

// Serve serves n's sessions to ZooKeeper clients connecting on ln, in the
// background, until Close. The Server owns ln from then on.
func Serve(ln net.Listener, n *coord.Node, cfg Config) (*Server, error) {
	if ln == nil || n == nil {
		return nil, errors.New("zkserver: Serve needs a listener and a node")
	}
	srv := newServer(n, cfg)
	srv.ln = ln
	srv.wg.Add(1)
	go srv.acceptLoop()
	return srv, nil
}

// Listen listens on the TCP address addr ("127.0.0.1:2181", or ":0" for any
// free port) and serves there, as Serve.
func Listen(addr string, n *coord.Node, cfg Config) (*Server, error) {
	if n == nil {
		return nil, errors.New("zkserver: Listen needs a node")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Serve(ln, n, cfg)
}

// Addr returns the address the server listens on.
func (srv *Server) Addr() net.Addr {
	if srv.ln == nil {
		return nil
	}
	return srv.ln.Addr()
}

// Close stops the server: the listener closes and every connection is
// dropped at once. Sessions are left alone: they live until they expire,
// or until a client re-attaches them (through another server of the
// ensemble, say). Close waits for the server's goroutines and returns nil;
// closing again does nothing.
func (srv *Server) Close() error {
	srv.stop()
	return nil
}

func (srv *Server) stop() {
	srv.mu.Lock()
	srv.closed = true
	conns := make([]*zkConn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	srv.mu.Unlock()
	if srv.ln != nil {
		srv.ln.Close()
	}
	srv.cancel()
	for _, c := range conns {
		c.abort()
	}
	srv.wg.Wait()
}

func (srv *Server) acceptLoop() {
	defer srv.wg.Done()
	var backoff time.Duration
	for {
		nc, err := srv.ln.Accept()
		if err != nil {
			if srv.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			srv.log.Warn("wire server accept", "err", err, "retry", backoff)
			select {
			case <-time.After(backoff):
			case <-srv.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		c := newZKConn(srv, nc, peerIP(nc.RemoteAddr()))
		if !srv.admit(c) {
			// ZooKeeper refuses over-limit connections by closing them.
			nc.Close()
			continue
		}
		srv.wg.Add(1)
		go c.serve()
	}
}

// admit registers c unless a connection limit forbids it.
func (srv *Server) admit(c *zkConn) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed || (srv.maxConns > 0 && len(srv.conns) >= srv.maxConns) {
		srv.log.Debug("wire connection refused", "ip", c.ip, "connections", len(srv.conns))
		srv.refusedConn.Add(1)
		return false
	}
	if limit := srv.cfg.MaxClientCnxns; limit > 0 && srv.perIP[c.ip] >= limit {
		srv.log.Debug("wire connection refused: too many from one address", "ip", c.ip, "limit", limit)
		srv.refusedConn.Add(1)
		return false
	}
	srv.perIP[c.ip]++
	srv.conns[c] = struct{}{}
	return true
}

func (srv *Server) forget(c *zkConn) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if _, ok := srv.conns[c]; !ok {
		return
	}
	delete(srv.conns, c)
	if srv.perIP[c.ip]--; srv.perIP[c.ip] <= 0 {
		delete(srv.perIP, c.ip)
	}
}

// connections returns the registered connections, four-letter-word ones
// included, in no particular order.
func (srv *Server) connections() []*zkConn {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*zkConn, 0, len(srv.conns))
	for c := range srv.conns {
		out = append(out, c)
	}
	return out
}

func (srv *Server) numConnections() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// peerIP is the address "ip" ACLs and whoAmI see for a connection.
func peerIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
