package coord

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Peer is a voting member of a statically configured ensemble (what
// ZooKeeper's server.N= lines describe).
type Peer struct {
	ID   string // the peer's Config.NodeID
	Addr string // its cluster address (Config.BindAddr), host:port
}

// Network carries the traffic between nodes: raft and the cluster RPC share
// one listener per node. The zero Config uses TCP; coordtest supplies an
// in-memory network that can partition nodes. Implementations must be safe
// for concurrent use.
type Network interface {
	// Listen opens the node's listener on addr.
	Listen(addr string) (net.Listener, error)
	// Dial connects to another node's listener.
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// TCPNetwork is the default Network: plain TCP.
type TCPNetwork struct{}

// Listen implements Network.
func (TCPNetwork) Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// Dial implements Network.
func (TCPNetwork) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return c, err
}

// The first byte of every connection between nodes says what it carries.
const (
	muxRaft byte = 'R'
	muxRPC  byte = 'C'
)

// mux splits one listener into raft's stream layer and the cluster RPC.
type mux struct {
	l       net.Listener
	network Network
	raftCh  chan net.Conn
	rpcCh   chan net.Conn
	closed  chan struct{}
	once    sync.Once
}

func newMux(l net.Listener, network Network) *mux {
	m := &mux{l: l, network: network, raftCh: make(chan net.Conn, 16), rpcCh: make(chan net.Conn, 16), closed: make(chan struct{})}
	go m.acceptLoop()
	return m
}

func (m *mux) acceptLoop() {
	for {
		c, err := m.l.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			m.close()
			return
		}
		go m.route(c)
	}
}

func (m *mux) route(c net.Conn) {
	var b [1]byte
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(b[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var ch chan net.Conn
	switch b[0] {
	case muxRaft:
		ch = m.raftCh
	case muxRPC:
		ch = m.rpcCh
	default:
		c.Close()
		return
	}
	select {
	case ch <- c:
	case <-m.closed:
		c.Close()
	}
}

func (m *mux) close() {
	m.once.Do(func() {
		close(m.closed)
		m.l.Close()
		// Connections routed but not yet taken by their server would
		// otherwise stay open with nobody reading them.
		for {
			select {
			case c := <-m.raftCh:
				c.Close()
			case c := <-m.rpcCh:
				c.Close()
			default:
				return
			}
		}
	})
}

func (m *mux) dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	c, err := m.network.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// raftLayer is raft's StreamLayer over the mux.
type raftLayer struct{ m *mux }

var errMuxClosed = errors.New("coord: listener closed")

func (r raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-r.m.raftCh:
		return c, nil
	case <-r.m.closed:
		return nil, errMuxClosed
	}
}

func (r raftLayer) Close() error   { r.m.close(); return nil }
func (r raftLayer) Addr() net.Addr { return r.m.l.Addr() }

func (r raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.m.dial(ctx, string(addr), muxRaft)
}

// TLSNetwork wraps a Network with mutual TLS: Config must carry this node's
// certificate, the CA pool for peers (RootCAs and ClientCAs) and
// ClientAuth: tls.RequireAndVerifyClientCert. A peer without a certificate
// the CA signed cannot take part in raft or the cluster RPC.
type TLSNetwork struct {
	Base   Network // nil means TCP
	Config *tls.Config
}

func (t TLSNetwork) base() Network {
	if t.Base == nil {
		return TCPNetwork{}
	}
	return t.Base
}

// Listen implements Network.
func (t TLSNetwork) Listen(addr string) (net.Listener, error) {
	l, err := t.base().Listen(addr)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(l, t.Config), nil
}

// Dial implements Network.
func (t TLSNetwork) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := t.base().Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg := t.Config.Clone()
	if cfg.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}
