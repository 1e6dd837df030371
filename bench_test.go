package coord

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks. Run them with
//
//	go test -run '^$' -bench . -benchtime 2s
//
// Targets: GetData parallel >= 2,000,000 ops/s; writes >= 200,000 ops/s
// with 64 sessions; <= 250 bytes per znode beyond its data and path;
// Open+NewSession <= 20 ms median.

func BenchmarkGetDataParallel(b *testing.B) {
	n := openNode(b, Config{})
	s := newSession(b, n, SessionConfig{})
	ctx := context.Background()
	mustCreate(b, s, "/bench", make([]byte, 100), Persistent, nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.GetData(ctx, "/bench"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkWrite measures writes through the whole path (proposer, raft,
// apply, reply) from 64 sessions, each on its own goroutine.
func BenchmarkWrite(b *testing.B) {
	const sessions = 64
	for _, bc := range []struct {
		name string
		op   func(ctx context.Context, s *Session, path string, data []byte) error
	}{
		{"Create", func(ctx context.Context, s *Session, path string, data []byte) error {
			_, err := s.Create(ctx, path+"/n-", data, PersistentSequential, nil)
			return err
		}},
		{"SetData", func(ctx context.Context, s *Session, path string, data []byte) error {
			_, err := s.SetData(ctx, path, data, -1)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := openNode(b, Config{})
			ctx := context.Background()
			ss := make([]*Session, sessions)
			for i := range ss {
				ss[i] = newSession(b, n, SessionConfig{})
				mustCreate(b, ss[i], "/w"+strconv.Itoa(i), nil, Persistent, nil)
			}
			data := make([]byte, 100)
			var next atomic.Int32
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism((sessions + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)-1) % sessions
				s, path := ss[i], "/w"+strconv.Itoa(i)
				mine := make([]time.Duration, 0, 1024)
				for pb.Next() {
					start := time.Now()
					if err := bc.op(ctx, s, path, data); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			reportLatency(b, lat)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkOpenSession measures how long a program waits before it can
// use a fresh node: Open plus NewSession.
func BenchmarkOpenSession(b *testing.B) {
	ctx := context.Background()
	var lat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		n, err := Open(ctx, Config{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.NewSession(ctx, SessionConfig{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err := n.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkTreeMemory builds a tree of 1,000,000 znodes of 100 bytes that
// share one ACL (1,000 parents of 1,000 children, created through apply)
// and reports the heap it takes per znode beyond the data and the path.
func BenchmarkTreeMemory(b *testing.B) {
	const parents, perParent, dataLen = 1000, 1000, 100
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		tr := newTree(treeLimits{maxData: 1 << 20})
		tr.now = 1
		var payload int64
		c := command{kind: opCreateSession, session: 1, ttl: 1000}
		tr.applyOne(&c)
		for p := range parents {
			parent := "/p" + strconv.Itoa(p)
			c = command{kind: opCreate, session: 1, path: parent, acl: OpenACL}
			tr.applyOne(&c)
			payload += int64(len(parent))
			for k := range perParent {
				c = command{kind: opCreate, session: 1, path: parent + "/n" + strconv.Itoa(k), data: make([]byte, dataLen), acl: OpenACL}
				if r := tr.applyOne(&c); r.err != CodeOK {
					b.Fatal(r.err)
				}
				payload += int64(len(c.path) + dataLen)
			}
		}
		c = command{}
		runtime.GC()
		runtime.ReadMemStats(&after)
		count := len(tr.nodes)
		perZnode := (float64(after.HeapAlloc) - float64(before.HeapAlloc) - float64(payload)) / float64(count)
		b.ReportMetric(perZnode, "bytes/znode")
		b.ReportMetric(float64(count), "znodes")
		runtime.KeepAlive(tr)
	}
}
