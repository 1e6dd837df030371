package zkserver

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Wire-server throughput and latency with go-zookeeper/zk: 64 sessions, each
// on its own connection, issuing requests back to back.
//
//	go test -run '^$' -bench BenchmarkWire -benchtime 20000x .

const wireBenchSessions = 64

func BenchmarkWireGetData(b *testing.B) {
	benchWire(b, func(c *zk.Conn, path string) error {
		_, _, err := c.Get(path)
		return err
	})
}

func BenchmarkWireSetData(b *testing.B) {
	payload := make([]byte, 100)
	benchWire(b, func(c *zk.Conn, path string) error {
		_, err := c.Set(path, payload, -1)
		return err
	})
}

func benchWire(b *testing.B, op func(c *zk.Conn, path string) error) {
	n := startWire(b, func(c *Config) { c.MaxClientCnxns = -1 })
	conns := make([]*zk.Conn, wireBenchSessions)
	paths := make([]string, wireBenchSessions)
	for i := range conns {
		conns[i], _ = wireDialZK(b, n)
		paths[i] = fmt.Sprintf("/bench-%02d", i)
		wireCreate(b, conns[i], paths[i], make([]byte, 100), 0, wireOpenACL)
	}

	// RunParallel starts GOMAXPROCS×parallelism goroutines: at least one
	// per session.
	b.SetParallelism((wireBenchSessions + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var mu sync.Mutex
	var lats []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % wireBenchSessions
		c, p := conns[i], paths[i]
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := op(c, p); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(lats[len(lats)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(lats[len(lats)/2].Nanoseconds()), "p50-ns")
}
