package coord

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Snapshot cost at 1,000,000 znodes of 100 bytes (1,000 parents of 1,000
// children, built through apply as the model tests do):
//
//	go test -run '^$' -bench BenchmarkSnapshot1M -benchtime 3x .
//
// Encode and Decode time the whole-tree codec (encodeSnapshot is what a
// snapshot costs if done in one piece under the tree lock; decodeSnapshot is
// what Restore costs). FSMSnapshot times fsm.Snapshot, which runs on raft's
// FSM goroutine between applies holding the tree lock, then streams the
// snapshot (Persist) to a sink that discards it, while a writer applies
// setData as fast as it can throughout: it reports how long Snapshot took,
// how long the writer ever waited for the tree lock, how long the stream
// took and how many writes got through (from Snapshot to the end of
// Persist).
func BenchmarkSnapshot1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-znode tree; skipped with -short")
	}
	const parents, perParent, dataLen = 1000, 1000, 100
	start := time.Now()
	tr := snapshotBenchTree(b, parents, perParent, dataLen)
	b.Logf("built %d znodes in %v", len(tr.nodes), time.Since(start).Round(time.Millisecond))

	var enc []byte
	b.Run("Encode", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			t0 := time.Now()
			enc = encodeSnapshot(tr)
			total += time.Since(t0)
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms")
		b.ReportMetric(float64(len(enc))/1e6, "MB")
	})
	if enc == nil {
		enc = encodeSnapshot(tr)
	}
	b.Run("Decode", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			t0 := time.Now()
			got, err := decodeSnapshot(enc, tr.limits)
			total += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			if len(got.nodes) != len(tr.nodes) || got.digest != tr.digest {
				b.Fatalf("decoded %d nodes digest %x, want %d %x", len(got.nodes), got.digest, len(tr.nodes), tr.digest)
			}
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms")
		b.ReportMetric(float64(len(enc))/1e6, "MB")
	})
	b.Run("FSMSnapshot", func(b *testing.B) {
		f := &fsm{t: tr, appliedCond: make(chan struct{})}
		var hold, persist, maxStall time.Duration
		var writes, bytes int64
		for b.Loop() {
			// A writer applies setData back to back through Snapshot and
			// Persist, timing each wait for the tree lock.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var stall atomic.Int64
			var n atomic.Int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(1, 2))
				data := make([]byte, dataLen)
				for {
					select {
					case <-stop:
						return
					default:
					}
					c := command{kind: opSetData, session: 1, version: -1, data: data,
						path: "/p" + strconv.Itoa(rng.IntN(parents)) + "/n" + strconv.Itoa(rng.IntN(perParent))}
					w0 := time.Now()
					f.mu.Lock()
					if d := time.Since(w0); d > time.Duration(stall.Load()) {
						stall.Store(int64(d))
					}
					r := f.t.applyOne(&c)
					f.mu.Unlock()
					if r.err != CodeOK {
						b.Error(r.err)
						return
					}
					n.Add(1)
				}
			}()
			for deadline := time.Now().Add(10 * time.Second); n.Load() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatal("the writer applied nothing in 10s")
				}
			}
			t0 := time.Now()
			snap, err := f.Snapshot()
			hold += time.Since(t0) // all of it is under the tree lock
			if err != nil {
				b.Fatal(err)
			}
			sink := &discardSink{}
			t1 := time.Now()
			err = snap.Persist(sink)
			persist += time.Since(t1)
			close(stop)
			wg.Wait()
			snap.Release()
			if err != nil {
				b.Fatal(err)
			}
			maxStall = max(maxStall, time.Duration(stall.Load()))
			writes += n.Load()
			bytes = sink.n
		}
		b.ReportMetric(float64(hold.Microseconds())/1000/float64(b.N), "lock-hold-ms")
		b.ReportMetric(float64(persist.Microseconds())/1000/float64(b.N), "persist-ms")
		b.ReportMetric(float64(maxStall.Microseconds())/1000, "max-write-stall-ms")
		b.ReportMetric(float64(writes)/float64(b.N), "writes-during-snapshot")
		b.ReportMetric(float64(bytes)/1e6, "MB")
	})
}

// snapshotBenchTree builds parents×perParent znodes of dataLen bytes under
// /p<i>/n<k> through apply, with one session (id 1) open.
func snapshotBenchTree(b *testing.B, parents, perParent, dataLen int) *tree {
	tr := newTree(treeLimits{maxData: 1 << 20})
	tr.now = 1
	c := command{kind: opCreateSession, session: 1, ttl: 1000}
	tr.applyOne(&c)
	for p := range parents {
		parent := "/p" + strconv.Itoa(p)
		c = command{kind: opCreate, session: 1, path: parent, acl: OpenACL}
		if r := tr.applyOne(&c); r.err != CodeOK {
			b.Fatal(r.err)
		}
		for k := range perParent {
			c = command{kind: opCreate, session: 1, path: parent + "/n" + strconv.Itoa(k), data: make([]byte, dataLen), acl: OpenACL}
			if r := tr.applyOne(&c); r.err != CodeOK {
				b.Fatal(r.err)
			}
		}
	}
	return tr
}

// discardSink counts and drops the bytes.
type discardSink struct{ n int64 }

func (s *discardSink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }
