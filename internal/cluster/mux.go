// Package cluster carries the traffic between the nodes of an ensemble: one
// listener per node, split by the first byte of each connection into
// raft's stream and the cluster RPC (write forwarding and session
// heartbeats), and the RPC's framing, clients and server loop. What the
// RPCs mean is the caller's business (package coord).
package cluster

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Network opens listeners and dials peers (coord.Network has the same
// methods).
type Network interface {
	Listen(addr string) (net.Listener, error)
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// The first byte of every connection between nodes says what it carries.
const (
	KindRaft byte = 'R'
	KindRPC  byte = 'C'
)

// routeTimeout bounds how long a new connection may take to say what it
// carries: with a KeyNetwork, the TLS handshake included (it runs inside
// the first Read). A connection silent for that long is closed.
const routeTimeout = 5 * time.Second

// maxUnrouted bounds the connections waiting to say what they carry; more
// are closed at once, so that silent connections cannot pile up.
const maxUnrouted = 256

// ErrClosed is returned once the Mux is closed.
var ErrClosed = errors.New("cluster: listener closed")

// Mux splits one listener into raft's stream and the cluster RPC.
type Mux struct {
	l       net.Listener
	network Network
	raftCh  chan net.Conn
	rpcCh   chan net.Conn
	closed  chan struct{}
	once    sync.Once
	// unrouted holds a token per connection still being routed.
	unrouted chan struct{}
}

// NewMux starts routing the connections l accepts.
func NewMux(l net.Listener, network Network) *Mux {
	m := &Mux{l: l, network: network, raftCh: make(chan net.Conn, 16), rpcCh: make(chan net.Conn, 16), closed: make(chan struct{}), unrouted: make(chan struct{}, maxUnrouted)}
	go m.acceptLoop()
	return m
}

// Addr is the listener's address.
func (m *Mux) Addr() net.Addr { return m.l.Addr() }

// RPCConns delivers the accepted RPC connections.
func (m *Mux) RPCConns() <-chan net.Conn { return m.rpcCh }

// Done is closed when the Mux closes.
func (m *Mux) Done() <-chan struct{} { return m.closed }

func (m *Mux) acceptLoop() {
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
			m.Close()
			return
		}
		select {
		case m.unrouted <- struct{}{}:
			go m.route(c)
		default:
			c.Close()
		}
	}
}

func (m *Mux) route(c net.Conn) {
	var b [1]byte
	// The deadline covers the write side too: a TLS handshake writes, and
	// a peer that does not read must not hold it.
	_ = c.SetDeadline(time.Now().Add(routeTimeout))
	_, err := io.ReadFull(c, b[:])
	<-m.unrouted
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	var ch chan net.Conn
	switch b[0] {
	case KindRaft:
		ch = m.raftCh
	case KindRPC:
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

// Close stops the listener and closes connections nobody has taken yet.
func (m *Mux) Close() error {
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
	return nil
}

// Dial connects to a peer's listener for the given kind of traffic.
func (m *Mux) Dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
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

// Raft returns raft's side of the Mux: a listener of raft connections and
// a dialer (raftfsm.Stream). Closing it closes the Mux.
func (m *Mux) Raft() RaftStream { return RaftStream{m} }

// RaftStream is the Mux as raft's stream.
type RaftStream struct{ m *Mux }

// Accept implements net.Listener.
func (r RaftStream) Accept() (net.Conn, error) {
	select {
	case c := <-r.m.raftCh:
		return c, nil
	case <-r.m.closed:
		return nil, ErrClosed
	}
}

// Close implements net.Listener.
func (r RaftStream) Close() error { return r.m.Close() }

// Addr implements net.Listener.
func (r RaftStream) Addr() net.Addr { return r.m.l.Addr() }

// DialTimeout dials a peer's raft stream.
func (r RaftStream) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.m.Dial(ctx, addr, KindRaft)
}
