package coord

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The ZooKeeper client wire-protocol server. Open starts it when
// Config.ClientAddr is set; existing ZooKeeper clients (the Java client,
// go-zookeeper/zk, kazoo, zkCli, Curator) then talk to the Node as they
// would to a ZooKeeper server.
//
// Shape: one goroutine per connection reads and executes requests in order
// (ZooKeeper's per-session FIFO), one writes. Replies and watch
// notifications share one outbound queue per connection; the engine appends
// notifications to it synchronously inside apply (zkConn.deliver), before the
// write that caused them returns, so a notification always precedes any
// later reply that reflects the change. Files:
//
//	zkserver.go       listener, connection limits, server statistics
//	zkserver_conn.go  one connection: handshake, read loop, outbound queue
//	zkserver_ops.go   request dispatch: every opcode of clients 3.5–3.9
//	zkserver_4lw.go   four-letter words (ruok, srvr, mntr, …)

// Wire server limits.
const (
	// zkMaxConns caps wire connections of all clients together (ZooKeeper
	// has no such cap besides the OS file limit; MaxClientCnxns is its
	// per-IP limit).
	zkMaxConns = 10000
	// zkHandshakeTimeout bounds how long a new connection may take to send
	// its ConnectRequest (ZooKeeper's zookeeper.nio.sessionlessCnxnTimeout).
	zkHandshakeTimeout = 10 * time.Second
	// zkMaxQueued caps the bytes of replies and notifications waiting for a
	// client that does not read; past it the connection is dropped (its
	// session survives until its timeout, as after any disconnect).
	zkMaxQueued = 64 << 20
	// zkLinger is how long a closing connection waits for its peer to
	// close too, so the last frames are read rather than reset away.
	zkLinger = time.Second
	// zkReadBuffer is the per-connection frame buffer; larger frames (up to
	// jute.maxbuffer) are read into a buffer of their own. Requests are
	// small: this keeps 10,000 idle connections within a few hundred MB.
	zkReadBuffer = 16 << 10
)

type zkServer struct {
	n      *Node
	ln     net.Listener // nil in tests that drive connections directly
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[*zkConn]struct{} // guarded by mu
	perIP    map[string]int       // guarded by mu
	maxConns int                  // guarded by mu; zkMaxConns (tests lower it)
	closed   bool                 // guarded by mu

	stats   zkStats
	started time.Time
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

func newZKServer(n *Node) *zkServer {
	ctx, cancel := context.WithCancel(context.Background())
	srv := &zkServer{
		n:        n,
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*zkConn]struct{}),
		perIP:    make(map[string]int),
		maxConns: zkMaxConns,
		started:  time.Now(),
	}
	srv.stats.reset()
	return srv
}

// startZK starts the ZooKeeper wire server on addr.
func (n *Node) startZK(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := newZKServer(n)
	srv.ln = ln
	if !n.zkSrv.CompareAndSwap(nil, srv) {
		ln.Close()
		return errors.New("coord: wire server already running")
	}
	srv.wg.Add(1)
	go srv.acceptLoop()
	return nil
}

// stopZK stops the wire server, if running: the listener closes and every
// connection is dropped. Sessions are left alone (Close has closed them;
// after Abort the ensemble expires them).
func (n *Node) stopZK() {
	if srv := n.zkSrv.Swap(nil); srv != nil {
		srv.stop()
	}
}

// ClientAddr returns the address the wire server listens on, or "".
func (n *Node) ClientAddr() string {
	if srv := n.zk(); srv != nil && srv.ln != nil {
		return srv.ln.Addr().String()
	}
	return ""
}

func (n *Node) zk() *zkServer { return n.zkSrv.Load() }

func (srv *zkServer) stop() {
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

func (srv *zkServer) acceptLoop() {
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
			srv.n.log.Warn("wire server accept", "err", err, "retry", backoff)
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
func (srv *zkServer) admit(c *zkConn) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed || len(srv.conns) >= srv.maxConns {
		srv.n.log.Debug("wire connection refused", "ip", c.ip, "connections", len(srv.conns))
		return false
	}
	if limit := srv.n.cfg.MaxClientCnxns; limit > 0 && srv.perIP[c.ip] >= limit {
		srv.n.log.Debug("wire connection refused: too many from one address", "ip", c.ip, "limit", limit)
		return false
	}
	srv.perIP[c.ip]++
	srv.conns[c] = struct{}{}
	return true
}

func (srv *zkServer) forget(c *zkConn) {
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
func (srv *zkServer) connections() []*zkConn {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*zkConn, 0, len(srv.conns))
	for c := range srv.conns {
		out = append(out, c)
	}
	return out
}

func (srv *zkServer) numConnections() int {
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
