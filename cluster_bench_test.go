package coord_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
	"github.com/coordkit/coord/internal/proctest"
)

// Cluster benchmarks: a 3-node ensemble of separate OS processes (see
// TestHelperNodeProcess), each durable (DataDir: badger log fsynced on
// every append), on loopback TCP, with production timings (tick 2s,
// election timeout 1s).
//
//	go test -run '^$' -bench BenchmarkCluster3Proc -benchtime 20000x .
//
// Wire: this process is a ZooKeeper client (go-zookeeper/zk) with 64
// sessions, each on its own connection, spread evenly over the three
// nodes, each issuing requests back to back. InProc: the same load run
// inside the node processes through in-process Sessions (64 in all, 22 +
// 21 + 21), which leaves out the client library and the wire. Each session
// works on a 100-byte znode of its own. Reported: ops/s over the whole
// cluster, p50 and p99 latency per request.

const clusterBenchSessions = 64

type wireQuiet struct{}

func (wireQuiet) Printf(string, ...any) {}

func BenchmarkCluster3Proc(b *testing.B) {
	c := proctest.NewCluster(b, proctest.ClusterOptions{
		Size:            3,
		TickTime:        2 * time.Second,
		ElectionTimeout: time.Second,
		ClientPorts:     true,
	})

	// Wire sessions, spread over the nodes.
	conns := make([]*zk.Conn, clusterBenchSessions)
	paths := make([]string, clusterBenchSessions)
	for i := range conns {
		conn, events, err := zk.Connect([]string{c.ClientAddr(i % c.Size())}, 10*time.Second, zk.WithLogger(wireQuiet{}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(conn.Close)
		deadline := time.After(20 * time.Second)
		for conn.State() != zk.StateHasSession {
			select {
			case <-events:
			case <-deadline:
				b.Fatalf("wire session %d: state %v", i, conn.State())
			}
		}
		conns[i] = conn
		paths[i] = fmt.Sprintf("/wire-%02d", i)
		if _, err := conn.Create(paths[i], make([]byte, 100), 0, zk.WorldACL(zk.PermAll)); err != nil {
			b.Fatal(err)
		}
	}
	payload := make([]byte, 100)
	b.Run("Wire/SetData", func(b *testing.B) {
		benchClusterWire(b, conns, paths, func(c *zk.Conn, p string) error {
			_, err := c.Set(p, payload, -1)
			return err
		})
	})
	b.Run("Wire/GetData", func(b *testing.B) {
		benchClusterWire(b, conns, paths, func(c *zk.Conn, p string) error {
			_, _, err := c.Get(p)
			return err
		})
	})

	// In-process sessions inside the node processes.
	for i := 0; i < c.Size(); i++ {
		k := clusterBenchSessions / c.Size()
		if i < clusterBenchSessions%c.Size() {
			k++
		}
		if _, err := c.Proc(i).Call("PREPPED", 30*time.Second, "benchprep %d n%d", k, i); err != nil {
			b.Fatal(err)
		}
	}
	for _, op := range []string{"setdata", "getdata"} {
		name := map[string]string{"setdata": "InProc/SetData", "getdata": "InProc/GetData"}[op]
		b.Run(name, func(b *testing.B) { benchClusterInProc(b, c, op) })
	}
}

func benchClusterWire(b *testing.B, conns []*zk.Conn, paths []string, op func(*zk.Conn, string) error) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((len(conns) + procs - 1) / procs)
	var next atomic.Int64
	var mu sync.Mutex
	lats := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % len(conns)
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := op(conns[i], paths[i]); err != nil {
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
	reportLatencies(b, lats, elapsed)
}

func benchClusterInProc(b *testing.B, c *proctest.Cluster, op string) {
	n := c.Size()
	files := make([]string, n)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < n; i++ {
		ops := b.N / n
		if i < b.N%n {
			ops++
		}
		files[i] = filepath.Join(c.Dir(), fmt.Sprintf("lat-%s-n%d", op, i))
		if err := c.Proc(i).Send("bench %s %d %s", op, ops, files[i]); err != nil {
			b.Fatal(err)
		}
	}
	var errs int64
	for i := 0; i < n; i++ {
		line, err := c.Proc(i).Await("BENCHDONE", 10*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		var ns, ops, e int64
		if _, err := fmt.Sscanf(line, "BENCHDONE %d %d %d", &ns, &ops, &e); err != nil {
			b.Fatalf("%q: %v", line, err)
		}
		errs += e
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if errs > 0 {
		b.Errorf("%d operations failed", errs)
	}
	var lats []time.Duration
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var mine []time.Duration
		for len(raw) >= 8 {
			mine = append(mine, time.Duration(binary.LittleEndian.Uint64(raw)))
			raw = raw[8:]
		}
		if len(mine) >= 1000 {
			slices.Sort(mine)
			b.Logf("node %d (%s): %d ops, p50 %v, p99 %v", i, c.Role(i), len(mine), mine[len(mine)/2], mine[len(mine)*99/100])
		}
		lats = append(lats, mine...)
	}
	reportLatencies(b, lats, elapsed)
}

func reportLatencies(b *testing.B, lats []time.Duration, elapsed time.Duration) {
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(lats[len(lats)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lats[len(lats)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkEnsembleStartToFirstWrite measures coordtest.NewEnsemble(b, 3)
// (three in-memory nodes on the in-memory network, 50ms election timeout)
// until a session on node 0 has created a znode.
//
//	go test -run '^$' -bench BenchmarkEnsembleStartToFirstWrite -benchtime 30x .
func BenchmarkEnsembleStartToFirstWrite(b *testing.B) {
	ctx := context.Background()
	var lats []time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		// NewEnsemble(b, 3) with election chatter kept out of the output.
		e := coordtest.NewEnsembleWith(b, 3, coordtest.Options{LogLevel: slog.LevelError + 4})
		s, err := e.Node(0).NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Create(ctx, "/first", nil, coord.Persistent, nil); err != nil {
			b.Fatal(err)
		}
		lats = append(lats, time.Since(t0))
		b.StopTimer()
		for j := 0; j < e.Size(); j++ {
			e.Kill(j)
		}
		b.StartTimer()
	}
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
}
