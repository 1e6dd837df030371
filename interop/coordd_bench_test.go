package interop

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/zkreal"
	"github.com/go-zookeeper/zk"
)

// BenchmarkZKServers runs one client program — go-zookeeper with 64
// sessions issuing synchronous requests in a closed loop — against coordd
// and against Apache ZooKeeper on this machine, standalone and as a 3-node
// ensemble (three processes each, sessions spread over the servers), for
// getData, setData, create and a 90/10 getData/setData mix. It reports
// ops/s and the p50/p99 latency per case, and prints a table with the
// coordd/ZooKeeper ratios (medians over the runs) for each topology.
//
//	COORD_BENCH_ROUNDS=5 go test ./interop -run '^$' -bench BenchmarkZKServers -benchtime 20000x -timeout 60m
//
// Both servers of a topology run at once, and each round measures every
// workload on coordd and then on ZooKeeper, so that a change in the load
// of a shared machine hits both alike (COORD_BENCH_ROUNDS rounds, default
// 1; -count would repeat a case back to back instead). Both servers are
// durable and fsync (coordd: badger log, fsync per raft append; ZooKeeper:
// forceSync=yes, its default), keep their data on the same disk under
// $TMPDIR, and use tickTime=2000 and maxClientCnxns=0. ZooKeeper runs with
// its full JIT and a 1 GiB heap; each case is preceded by a warm-up. Every
// load loop is bounded by b.N and by benchMaxDuration. Without ZooKeeper
// installed only the coordd cases run. COORDD=/path/to/coordd benchmarks
// that binary instead of building cmd/coordd.
func BenchmarkZKServers(b *testing.B) {
	rounds := 1
	if v := os.Getenv("COORD_BENCH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 20 {
			b.Fatalf("COORD_BENCH_ROUNDS=%q: want 1..20", v)
		}
		rounds = n
	}
	fmt.Printf("BenchmarkZKServers: %d CPUs shared by the servers and the client, %d round(s)\n", runtime.NumCPU(), rounds)
	for _, topo := range []struct {
		name  string
		nodes int
	}{{"standalone", 1}, {"3-node", 3}} {
		b.Run(topo.name, func(b *testing.B) {
			clients := map[string]*benchClients{}
			var kinds []string
			for _, kind := range []string{"coordd", "zookeeper"} {
				addrs, stop := startBenchServers(b, kind, topo.nodes)
				if addrs == nil {
					continue
				}
				b.Cleanup(stop)
				cl := newBenchClients(b, addrs)
				b.Cleanup(cl.close)
				clients[kind] = cl
				kinds = append(kinds, kind)
			}
			results := map[string]map[string][]benchResult{} // workload -> kind -> runs
			for range rounds {
				for _, w := range benchWorkloads {
					for _, kind := range kinds {
						b.Run(w.name+"/"+kind, func(b *testing.B) {
							r := clients[kind].run(b, w)
							if results[w.name] == nil {
								results[w.name] = map[string][]benchResult{}
							}
							results[w.name][kind] = append(results[w.name][kind], r)
						})
					}
				}
			}
			// b.Log of a benchmark with sub-benchmarks is not shown
			// without -v: print the summary table directly.
			fmt.Print(benchTable(topo.name, results))
		})
	}
}

const (
	benchSessions    = 64
	benchKeys        = 1000
	benchValueSize   = 128
	benchMaxDuration = 60 * time.Second
	benchWarmupOps   = 5000
)

type benchWorkload struct {
	name string
	// op performs one request for worker w (its n-th op); r is the
	// worker's private random source.
	op func(c *zk.Conn, w, n int, r *rand.Rand) error
}

var benchValue = []byte(strings.Repeat("v", benchValueSize))

func benchKey(r *rand.Rand) string { return fmt.Sprintf("/bench/k%04d", r.IntN(benchKeys)) }

var benchWorkloads = []benchWorkload{
	{"getData", func(c *zk.Conn, w, n int, r *rand.Rand) error {
		_, _, err := c.Get(benchKey(r))
		return err
	}},
	{"setData", func(c *zk.Conn, w, n int, r *rand.Rand) error {
		_, err := c.Set(benchKey(r), benchValue, -1)
		return err
	}},
	{"create", func(c *zk.Conn, w, n int, r *rand.Rand) error {
		_, err := c.Create(fmt.Sprintf("/bench/c/%d-%d-%d", benchRun.Load(), w, n), benchValue, 0, zk.WorldACL(zk.PermAll))
		return err
	}},
	{"mixed90-10", func(c *zk.Conn, w, n int, r *rand.Rand) error {
		if r.IntN(10) == 0 {
			_, err := c.Set(benchKey(r), benchValue, -1)
			return err
		}
		_, _, err := c.Get(benchKey(r))
		return err
	}},
}

// benchRun makes create's names unique across the runs of drive.
var benchRun atomic.Int64

type benchResult struct {
	n     int // b.N
	ops   int
	opsPS float64
	p50   time.Duration
	p99   time.Duration
}

// benchClients are the 64 sessions, connected round-robin to the servers.
type benchClients struct {
	conns []*zk.Conn
}

func newBenchClients(b *testing.B, addrs []string) *benchClients {
	b.Helper()
	cl := &benchClients{}
	for i := range benchSessions {
		c, _, err := zk.Connect([]string{addrs[i%len(addrs)]}, 20*time.Second,
			zk.WithHostProvider(&orderedHosts{}), zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
		if err != nil {
			b.Fatal(err)
		}
		cl.conns = append(cl.conns, c)
	}
	// Wait for every session, then lay out the keys.
	for i, c := range cl.conns {
		deadline := time.Now().Add(20 * time.Second)
		for c.State() != zk.StateHasSession {
			if time.Now().After(deadline) {
				b.Fatalf("session %d to %s: no session within 20s", i, addrs[i%len(addrs)])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c := cl.conns[0]
	for _, p := range []string{"/bench", "/bench/c"} {
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			b.Fatal(err)
		}
	}
	// Create the keys through all sessions at once: fast on both servers.
	var wg sync.WaitGroup
	errs := make(chan error, benchSessions)
	for w := range benchSessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < benchKeys; k += benchSessions {
				if _, err := cl.conns[w].Create(fmt.Sprintf("/bench/k%04d", k), benchValue, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	// Every session syncs, so reads on followers see all keys.
	for _, c := range cl.conns {
		if _, err := c.Sync("/bench"); err != nil {
			b.Fatal(err)
		}
	}
	return cl
}

func (cl *benchClients) close() {
	for _, c := range cl.conns {
		c.Close()
	}
}

// drive runs ops operations of w spread over the 64 sessions, each session
// a goroutine issuing one synchronous request at a time, and returns the
// latencies. It stops early at benchMaxDuration.
func (cl *benchClients) drive(w benchWorkload, ops int) ([]time.Duration, time.Duration, error) {
	benchRun.Add(1)
	var next atomic.Int64
	lats := make([][]time.Duration, len(cl.conns))
	var firstErr atomic.Pointer[error]
	start := time.Now()
	deadline := start.Add(benchMaxDuration)
	var wg sync.WaitGroup
	for i, c := range cl.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			lat := make([]time.Duration, 0, ops/len(cl.conns)+1)
			for n := 0; ; n++ {
				if next.Add(1) > int64(ops) || firstErr.Load() != nil {
					break
				}
				t0 := time.Now()
				if err := w.op(c, i, n, r); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					break
				}
				lat = append(lat, time.Since(t0))
				if t0.After(deadline) {
					break
				}
			}
			lats[i] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if p := firstErr.Load(); p != nil {
		return all, elapsed, *p
	}
	return all, elapsed, nil
}

func (cl *benchClients) run(b *testing.B, w benchWorkload) benchResult {
	if _, _, err := cl.drive(w, min(benchWarmupOps, max(b.N, 640))); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	b.ResetTimer()
	lats, elapsed, err := cl.drive(w, b.N)
	b.StopTimer()
	if err != nil {
		b.Fatalf("%s: %v", w.name, err)
	}
	slices.Sort(lats)
	r := benchResult{n: b.N, ops: len(lats), opsPS: float64(len(lats)) / elapsed.Seconds()}
	if len(lats) > 0 {
		r.p50 = lats[len(lats)*50/100]
		r.p99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	b.ReportMetric(r.opsPS, "ops/s")
	b.ReportMetric(float64(r.p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(r.p99.Nanoseconds()), "p99-ns")
	return r
}

// benchTable summarizes the runs of each case (several with -count): the
// median ops/s and the median p99, with coordd/ZooKeeper ratios (for p99,
// ZooKeeper's over coordd's, so above 1 is better for coordd too).
func benchTable(topo string, res map[string]map[string][]benchResult) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-10s %-11s %5s %12s %12s %7s %10s %10s %7s\n", topo, "workload", "runs", "coordd ops/s", "zk ops/s", "ratio", "coordd p99", "zk p99", "p99 ×")
	for _, w := range benchWorkloads {
		cOps, cP99, n := benchMedians(res[w.name]["coordd"])
		zOps, zP99, _ := benchMedians(res[w.name]["zookeeper"])
		ratio, pr := "-", "-"
		if zOps > 0 && cOps > 0 {
			ratio = fmt.Sprintf("%.2f", cOps/zOps)
			pr = fmt.Sprintf("%.2f", float64(zP99)/float64(cP99))
		}
		fmt.Fprintf(&sb, "%-10s %-11s %5d %12.0f %12.0f %7s %10s %10s %7s\n", "", w.name, n, cOps, zOps, ratio,
			cP99.Round(10*time.Microsecond), zP99.Round(10*time.Microsecond), pr)
	}
	return sb.String()
}

func benchMedians(all []benchResult) (opsPS float64, p99 time.Duration, n int) {
	// Only the runs at the final b.N count: the testing package also runs
	// each case with b.N=1 (and ramps b.N up under a time -benchtime).
	maxN := 0
	for _, r := range all {
		maxN = max(maxN, r.n)
	}
	var runs []benchResult
	for _, r := range all {
		if r.n == maxN {
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		return 0, 0, 0
	}
	ops := make([]float64, len(runs))
	p99s := make([]time.Duration, len(runs))
	for i, r := range runs {
		ops[i], p99s[i] = r.opsPS, r.p99
	}
	slices.Sort(ops)
	slices.Sort(p99s)
	return ops[len(ops)/2], p99s[len(p99s)/2], len(runs)
}

// startBenchServers starts n servers of kind and returns their client
// addresses and a stop function; nil addresses when ZooKeeper is missing.
func startBenchServers(b *testing.B, kind string, n int) ([]string, func()) {
	b.Helper()
	if kind == "coordd" {
		e := startCoorddEnsemble(b, n, coorddOptions{tickMs: 2000})
		return e.addrs(), e.stopAll
	}
	inst, err := findZooKeeper()
	if err != nil {
		b.Logf("ZooKeeper cases skipped: %v", err)
		return nil, nil
	}
	zks, err := startZooKeeperEnsemble(b, inst, n)
	if err != nil {
		b.Fatal(err)
	}
	addrs := make([]string, len(zks))
	for i, z := range zks {
		addrs[i] = z.Addr
	}
	return addrs, func() {
		for _, z := range zks {
			z.Stop()
		}
	}
}

// startZooKeeperEnsemble runs n ZooKeeper servers (n == 1: standalone)
// the way a production install would: default JIT, forceSync on, a 1 GiB
// heap, one dataDir, myid and zoo.cfg per server.
func startZooKeeperEnsemble(b testing.TB, inst *zkreal.Install, n int) ([]*zkreal.Server, error) {
	root := b.TempDir()
	type ports struct{ client, peer, elect int }
	ps := make([]ports, n)
	var servers strings.Builder
	for i := range ps {
		var errs [3]error
		ps[i].client, errs[0] = zkreal.FreePort()
		ps[i].peer, errs[1] = zkreal.FreePort()
		ps[i].elect, errs[2] = zkreal.FreePort()
		if err := firstErr(errs[:]...); err != nil {
			return nil, err
		}
		if n > 1 {
			fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i+1, ps[i].peer, ps[i].elect)
		}
	}
	var zks []*zkreal.Server
	fail := func(err error) ([]*zkreal.Server, error) {
		for _, z := range zks {
			z.Stop()
		}
		return nil, err
	}
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("zk%d", i+1))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			return fail(err)
		}
		z, err := zkreal.Spawn(inst, zkreal.Process{
			Dir:        dir,
			Config:     zkreal.Config(2000, data, ps[i].client) + servers.String(),
			ClientPort: ps[i].client,
			JVMFlags:   []string{"-Xms1g", "-Xmx1g", "-Dzookeeper.admin.enableServer=false"},
		})
		if err != nil {
			return fail(err)
		}
		zks = append(zks, z)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, z := range zks {
		if err := z.WaitServing(deadline); err != nil {
			return fail(err)
		}
	}
	return zks, nil
}
