package coord_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/hashicorp/memberlist"
)

// countingTransport counts the bytes memberlist sends: UDP packets and
// TCP streams, dialed or accepted.
type countingTransport struct {
	*memberlist.NetTransport
	sent    *atomic.Int64
	streams chan net.Conn
}

type countingConn struct {
	net.Conn
	sent *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.sent.Add(int64(n))
	return n, err
}

func newCountingTransport(addr string, sent *atomic.Int64) (*countingTransport, error) {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host}, BindPort: p, Logger: log.New(discard{}, "", 0),
	})
	if err != nil {
		return nil, err
	}
	t := &countingTransport{NetTransport: nt, sent: sent, streams: make(chan net.Conn)}
	go func() {
		for c := range nt.StreamCh() {
			t.streams <- countingConn{c, sent}
		}
	}()
	return t, nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.sent.Add(int64(len(b)))
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) DialTimeout(addr string, d time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialTimeout(addr, d)
	if err != nil {
		return nil, err
	}
	return countingConn{c, t.sent}, nil
}

func (t *countingTransport) StreamCh() <-chan net.Conn { return t.streams }

// BenchmarkGossipBandwidth measures what memberlist sends per node per
// second, with its LAN defaults, in steady state at 5 and 20 nodes.
// Run with -benchtime=1x: each size observes a 10s window.
func BenchmarkGossipBandwidth(b *testing.B) {
	for _, size := range []int{5, 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			for b.Loop() {
				var sent atomic.Int64
				seed := freePortB(b)
				nodes := make([]*coord.Node, size)
				var wg sync.WaitGroup
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				for i := 0; i < size; i++ {
					addr := seed
					if i > 0 {
						addr = freePortB(b)
					}
					tr, err := newCountingTransport(addr, &sent)
					if err != nil {
						b.Fatal(err)
					}
					cfg := coord.Config{
						NodeID: fmt.Sprintf("b%d", i), BindAddr: "127.0.0.1:0", ElectionTimeout: 200 * time.Millisecond,
						Gossip: coord.GossipConfig{Addr: addr, BootstrapExpect: 3, StabilizationTime: time.Second},
					}
					coord.SetGossipTransport(&cfg.Gossip, tr)
					if i > 0 {
						cfg.Gossip.Join = []string{seed}
					}
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						n, err := coord.Open(ctx, cfg)
						if err != nil {
							b.Error(err)
							return
						}
						nodes[i] = n
					}(i)
				}
				wg.Wait()
				cancel()
				if b.Failed() {
					return
				}
				// Let joins settle, then measure a quiet window.
				deadline := time.Now().Add(30 * time.Second)
				for len(nodes[0].Members()) < size && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(2 * time.Second)
				start, t0 := sent.Load(), time.Now()
				time.Sleep(10 * time.Second)
				bytes := sent.Load() - start
				secs := time.Since(t0).Seconds()
				b.ReportMetric(float64(bytes)/secs/float64(size), "bytes/s/node")
				for _, n := range nodes {
					n.Abort()
				}
			}
		})
	}
}

func freePortB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// BenchmarkFailoverLAN measures, with the LAN default ElectionTimeout
// (1s), the time from killing the leader of a 3-node TCP ensemble to the
// first write acknowledged through a surviving node. Run with -benchtime=Nx.
func BenchmarkFailoverLAN(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		nodes := coord.OpenTCPCluster(b, 3, "", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		li := 0
		for i, n := range nodes {
			if n.IsLeader() {
				li = i
			}
		}
		f := nodes[(li+1)%3]
		s, err := f.NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			b.Fatal(err)
		}
		killed := time.Now()
		nodes[li].Abort()
		if _, err := s.Create(ctx, "/after-failover", nil, coord.Persistent, nil); err != nil {
			b.Fatal(err)
		}
		total += time.Since(killed)
		cancel()
		for i, n := range nodes {
			if i != li {
				n.Abort()
			}
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-writes")
}

// memberlist prefers these NodeAwareTransport methods when present (the
// embedded NetTransport has them): count them too.

func (t *countingTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	t.sent.Add(int64(len(b)))
	return t.NetTransport.WriteToAddress(b, addr)
}

func (t *countingTransport) DialAddressTimeout(addr memberlist.Address, d time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialAddressTimeout(addr, d)
	if err != nil {
		return nil, err
	}
	return countingConn{c, t.sent}, nil
}
