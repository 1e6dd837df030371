package coord

import (
	"context"
	"crypto/tls"
	"net"
)

// Peer is a member of a statically configured ensemble (what ZooKeeper's
// server.N= lines describe).
type Peer struct {
	ID   string // the peer's Config.NodeID
	Addr string // its cluster address (Config.BindAddr), host:port
	// Observer makes the peer a non-voting member (ZooKeeper's observer,
	// server.N=…:observer): it replicates the log, serves sessions and
	// reads and forwards writes, but never counts in a quorum.
	Observer bool
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
