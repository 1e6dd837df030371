package coordtest

import (
	"net"
	"strings"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// ServeZooKeeper serves ZooKeeper's client wire protocol from n on a free
// loopback port until the test ends, and returns the address
// ("127.0.0.1:port"): code written against a ZooKeeper client
// (go-zookeeper/zk, kazoo, Curator) connects to it as to a ZooKeeper
// server.
func ServeZooKeeper(t TB, n *coord.Node) string {
	t.Helper()
	srv, err := zkserver.Listen("127.0.0.1:0", n, zkserver.Config{MaxClientCnxns: -1})
	if err != nil {
		t.Fatalf("coordtest: serve ZooKeeper: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.Addr().String()
}

// ConnectString serves ZooKeeper's client wire protocol from every node of
// the ensemble on loopback and returns the connect string
// ("127.0.0.1:p1,127.0.0.1:p2,…"), as Curator's
// TestingCluster.getConnectString does. A node that is killed stops
// serving; Restart serves it again on the same port, so clients fail over
// and come back as they would against a ZooKeeper ensemble.
func (e *Ensemble) ConnectString() string {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wireAddrs == nil {
		e.wireAddrs = make([]string, len(e.peers))
		e.wire = make([]*zkserver.Server, len(e.peers))
		e.t.Cleanup(e.closeWire)
		for i, n := range e.nodes {
			if n == nil {
				// Reserve a port for it now, so the connect string is whole.
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					e.t.Fatalf("coordtest: reserve a port: %v", err)
				}
				e.wireAddrs[i] = l.Addr().String()
				l.Close()
				continue
			}
			if err := e.serveLocked(i, "127.0.0.1:0"); err != nil {
				e.t.Fatalf("coordtest: serve ZooKeeper on node %d: %v", i, err)
			}
		}
	}
	return strings.Join(e.wireAddrs, ",")
}

// serveLocked starts node i's wire server on addr. e.mu is held.
func (e *Ensemble) serveLocked(i int, addr string) error {
	var srv *zkserver.Server
	var err error
	// A port just released may linger briefly in the kernel: retry a few
	// times rather than fail a test on it.
	for attempt := 0; attempt < 50; attempt++ {
		srv, err = zkserver.Listen(addr, e.nodes[i], zkserver.Config{MaxClientCnxns: -1})
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	e.wire[i] = srv
	e.wireAddrs[i] = srv.Addr().String()
	return nil
}

// stopWire closes node i's wire server, if it has one.
func (e *Ensemble) stopWire(i int) {
	e.mu.Lock()
	var srv *zkserver.Server
	if e.wire != nil {
		srv, e.wire[i] = e.wire[i], nil
	}
	e.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restartWire serves node i again on its old port, if ConnectString was
// called.
func (e *Ensemble) restartWire(i int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wireAddrs == nil || e.nodes[i] == nil {
		return nil
	}
	return e.serveLocked(i, e.wireAddrs[i])
}

func (e *Ensemble) closeWire() {
	e.mu.Lock()
	servers := append([]*zkserver.Server(nil), e.wire...)
	e.mu.Unlock()
	for _, s := range servers {
		if s != nil {
			_ = s.Close()
		}
	}
}
