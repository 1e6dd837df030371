package coordtest

import (
	"context"
	"errors"
	"net"
	"sync"
)

// memNetwork is an in-memory network between the nodes of an ensemble,
// with partitions: a connection between nodes in different groups is cut,
// and new ones are refused until Heal.
type memNetwork struct {
	mu        sync.Mutex
	listeners map[string]*memListener // guarded by mu
	group     map[string]int          // guarded by mu: partition group per address
	isDown    map[string]bool         // guarded by mu: killed nodes
	conns     []*memConnPair          // guarded by mu
}

type memConnPair struct {
	a, b     string // dialer, listener
	ca, cb   net.Conn
	isClosed bool
}

func newMemNetwork() *memNetwork {
	return &memNetwork{listeners: make(map[string]*memListener), group: make(map[string]int), isDown: make(map[string]bool)}
}

// endpoint is one node's view of the network.
type endpoint struct {
	net  *memNetwork
	self string
}

var errUnreachable = errors.New("coordtest: unreachable (partitioned or down)")

// unreachable is a failed dial as a real network reports it: a
// *net.OpError, so that loggers and retry logic treat it as TCP's.
func unreachable(addr string) error {
	return &net.OpError{Op: "dial", Net: "mem", Addr: memAddr(addr), Err: errUnreachable}
}

func (e endpoint) Listen(addr string) (net.Listener, error) {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if _, ok := e.net.listeners[addr]; ok {
		return nil, errors.New("coordtest: address in use: " + addr)
	}
	l := &memListener{net: e.net, addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
	e.net.listeners[addr] = l
	return l, nil
}

func (e endpoint) Dial(ctx context.Context, addr string) (net.Conn, error) {
	e.net.mu.Lock()
	l, ok := e.net.listeners[addr]
	if !ok || e.net.group[e.self] != e.net.group[addr] || e.net.isDown[addr] || e.net.isDown[e.self] {
		e.net.mu.Unlock()
		return nil, unreachable(addr)
	}
	ca, cb := net.Pipe()
	p := &memConnPair{a: e.self, b: addr, ca: ca, cb: cb}
	e.net.conns = append(e.net.conns, p)
	e.net.mu.Unlock()
	select {
	case l.ch <- cb:
		return ca, nil
	case <-l.done:
	case <-ctx.Done():
	}
	ca.Close()
	cb.Close()
	return nil, unreachable(addr)
}

// cut closes every connection for which drop says so.
func (n *memNetwork) cut(drop func(a, b string) bool) {
	n.mu.Lock()
	keep := n.conns[:0]
	var closing []*memConnPair
	for _, p := range n.conns {
		if drop(p.a, p.b) {
			closing = append(closing, p)
		} else {
			keep = append(keep, p)
		}
	}
	n.conns = keep
	n.mu.Unlock()
	for _, p := range closing {
		p.ca.Close()
		p.cb.Close()
	}
}

func (n *memNetwork) partition(groups map[string]int) {
	n.mu.Lock()
	n.group = groups
	n.mu.Unlock()
	n.cut(func(a, b string) bool { return groups[a] != groups[b] })
}

// down cuts every connection of addr (a killed node) and refuses new ones
// until up.
func (n *memNetwork) down(addr string) {
	n.mu.Lock()
	n.isDown[addr] = true
	n.mu.Unlock()
	n.cut(func(a, b string) bool { return a == addr || b == addr })
}

func (n *memNetwork) up(addr string) {
	n.mu.Lock()
	delete(n.isDown, addr)
	n.mu.Unlock()
}

type memListener struct {
	net  *memNetwork
	addr string
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.net.mu.Lock()
		if l.net.listeners[l.addr] == l {
			delete(l.net.listeners, l.addr)
		}
		l.net.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr(l.addr) }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }
