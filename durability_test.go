package coord_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/proctest"
)

// Durability across real process crashes: every node is an OS process
// (this test binary re-executed, see TestHelperNodeProcess) with a DataDir,
// talking raft over loopback TCP; the test SIGKILLs them at random moments
// and restarts them on the same DataDir.

// TestHelperNodeProcess is not a test: it is the entry point of the node
// processes the tests below start. In a normal run it returns at once.
func TestHelperNodeProcess(t *testing.T) { proctest.MaybeRunNode() }

// writeLog records what the node processes' writers reported.
type writeLog struct {
	mu      sync.Mutex
	tried   map[string]bool
	acked   map[string]bool
	perInc  map[string]int // acks per writer incarnation ("n1.3")
	errs    int
	samples map[string]int // error text -> count
}

func newWriteLog() *writeLog {
	return &writeLog{tried: map[string]bool{}, acked: map[string]bool{}, perInc: map[string]int{}, samples: map[string]int{}}
}

// hook consumes the writers' lines; it runs on the processes' reader
// goroutines, which read everything a process printed, even after a kill.
func (w *writeLog) hook(node int, line string) bool {
	kind, rest, _ := strings.Cut(line, " ")
	switch kind {
	case "TRY":
		w.mu.Lock()
		w.tried[rest] = true
		w.mu.Unlock()
	case "ACK":
		w.mu.Lock()
		w.acked[rest] = true
		w.perInc[writerInc(rest)]++
		w.mu.Unlock()
	case "ERR":
		path, msg, _ := strings.Cut(rest, " ")
		msg = strings.ReplaceAll(msg, path, "<path>")
		w.mu.Lock()
		w.errs++
		if len(w.samples) < 20 {
			w.samples[msg]++
		} else if _, ok := w.samples[msg]; ok {
			w.samples[msg]++
		}
		w.mu.Unlock()
	case "ROLE":
	default:
		return false
	}
	return true
}

// writerInc maps /w/n1.3.2-000012 to n1.3.
func writerInc(path string) string {
	name := strings.TrimPrefix(path, "/w/")
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

func (w *writeLog) acksOf(inc string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.perInc[inc]
}

func (w *writeLog) totalAcks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

type nodeDump struct {
	digest, digest2 string
	zxid, zxid2     int64
	count, bad      int
	names           []string
}

func parseDump(line, file string) (nodeDump, error) {
	var d nodeDump
	if _, err := fmt.Sscanf(line, "DUMP %s %d %s %d %d %d", &d.digest, &d.zxid, &d.digest2, &d.zxid2, &d.count, &d.bad); err != nil {
		return d, fmt.Errorf("parse %q: %v", line, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return d, err
	}
	d.names = strings.Fields(string(b))
	return d, nil
}

// TestDurabilityKill9 runs a 3-process ensemble whose processes all write
// (creating znodes one after another, printing TRY before and ACK after
// each), SIGKILLs a random process — the leader every other cycle — at
// random times and restarts it on its DataDir, some nodes snapshotting and
// truncating their logs in between. At the end it SIGKILLs all three
// together, restarts them and checks on every replica, after Sync: every
// acknowledged znode is there with its data; every znode there was
// attempted; digests and zxids are equal.
func TestDurabilityKill9(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("COORD_DURABILITY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set COORD_DURABILITY_SEED to replay the schedule)", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	const (
		writersPerNode = 4
		minCycles      = 8
		maxCycles      = 15
		cycleBudget    = 40 * time.Second // no new cycle after this
		hardBudget     = 60 * time.Second // not even the minimum after this
	)
	wl := newWriteLog()
	c := proctest.NewCluster(t, proctest.ClusterOptions{
		Size:              3,
		TickTime:          100 * time.Millisecond,
		ElectionTimeout:   500 * time.Millisecond,
		SnapshotThreshold: 1024,
		TrailingLogs:      128,
		Hook:              wl.hook,
	})
	startWriters := func(i int) {
		t.Helper()
		if _, err := c.Proc(i).Call("WRITING", 10*time.Second, "write n%d.%d %d", i, c.Incarnation(i), writersPerNode); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < c.Size(); i++ {
		startWriters(i)
	}

	begin := time.Now()
	cycles, leaderKills, snapshots := 0, 0, 0
	for cycles < maxCycles && time.Since(begin) < hardBudget && (cycles < minCycles || time.Since(begin) < cycleBudget) {
		cycles++
		time.Sleep(200*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second))))
		if rng.IntN(2) == 0 {
			// Snapshot and truncate a node's log: restarts then start from
			// the snapshot, and a node that was down may need one sent.
			j := rng.IntN(c.Size())
			line, err := c.Proc(j).Call("SNAPSHOT", 30*time.Second, "snapshot")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case line == "SNAPSHOT ok":
				snapshots++
			case strings.Contains(line, "nothing new to snapshot"):
				t.Logf("cycle %d: node %d: %s", cycles, j, line)
			default:
				// Not a durability failure (the log is kept), but the log
				// would then grow without bound.
				t.Errorf("cycle %d: node %d: %s", cycles, j, line)
			}
		}
		victim := rng.IntN(c.Size())
		if cycles%2 == 1 {
			victim = c.Leader(10 * time.Second)
			if victim < 0 {
				t.Fatalf("cycle %d: no leader", cycles)
			}
			leaderKills++
		}
		role := c.Role(victim)
		before := wl.totalAcks()
		c.Kill(victim)
		down := time.Duration(rng.Int64N(int64(800 * time.Millisecond)))
		time.Sleep(down)
		t0 := time.Now()
		if err := c.Start(victim); err != nil {
			t.Fatalf("cycle %d: restart node %d: %v", cycles, victim, err)
		}
		rejoin := time.Since(t0)
		startWriters(victim)
		// The restarted node's writers must make progress.
		inc := fmt.Sprintf("n%d.%d", victim, c.Incarnation(victim))
		deadline := time.Now().Add(15 * time.Second)
		for wl.acksOf(inc) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("cycle %d: restarted node %d acknowledged no write in 15s", cycles, victim)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("cycle %2d: killed node %d (%s), down %v, rejoined in %v; acks %d -> %d",
			cycles, victim, role, down.Round(time.Millisecond), rejoin.Round(time.Millisecond), before, wl.totalAcks())
	}
	churn := time.Since(begin)

	// Stop the writers, then crash everything at once and recover from the
	// DataDirs alone.
	for i := 0; i < c.Size(); i++ {
		if _, err := c.Proc(i).Call("STOPPED", 30*time.Second, "stopwrite"); err != nil {
			t.Fatal(err)
		}
	}
	c.KillAll()
	t0 := time.Now()
	if err := c.StartAll(); err != nil {
		t.Fatalf("restarting every node: %v", err)
	}
	t.Logf("all three SIGKILLed and restarted: quorum again after %v", time.Since(t0).Round(time.Millisecond))

	// Converge: equal digests and zxids on every node, unchanged for longer
	// than a session timeout (sessions of killed incarnations expire).
	digest := func() []string {
		out := make([]string, c.Size())
		for i := range out {
			line, err := c.Proc(i).Call("DIGEST", 10*time.Second, "digest")
			if err != nil {
				t.Fatal(err)
			}
			out[i] = strings.TrimPrefix(line, "DIGEST ")
		}
		return out
	}
	allEqual := func(s []string) bool {
		for _, v := range s[1:] {
			if v != s[0] {
				return false
			}
		}
		return true
	}
	var last []string
	stableSince := time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; {
		d := digest()
		if !allEqual(d) || !slices.Equal(d, last) {
			last, stableSince = d, time.Now()
		} else if time.Since(stableSince) > 2500*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not converge: %q", d)
		}
		time.Sleep(250 * time.Millisecond)
	}

	var dumps []nodeDump
	for attempt := 0; ; attempt++ {
		dumps = dumps[:0]
		for i := 0; i < c.Size(); i++ {
			file := filepath.Join(c.Dir(), fmt.Sprintf("dump-n%d-%d", i, attempt))
			line, err := c.Proc(i).Call("DUMP ", 30*time.Second, "dump %s", file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := parseDump(line, file)
			if err != nil {
				t.Fatal(err)
			}
			dumps = append(dumps, d)
		}
		consistent := true
		for _, d := range dumps {
			consistent = consistent && d.digest == d.digest2 && d.zxid == d.zxid2 &&
				d.digest == dumps[0].digest && d.zxid == dumps[0].zxid
		}
		if consistent {
			break
		}
		if attempt == 9 {
			for i, d := range dumps {
				t.Errorf("node %d: digest %s zxid %d (after listing: %s %d), %d znodes", i, d.digest, d.zxid, d.digest2, d.zxid2, d.count)
			}
			t.Fatal("digests/zxids differ between replicas")
		}
		time.Sleep(500 * time.Millisecond)
	}

	wl.mu.Lock()
	defer wl.mu.Unlock()
	for i, d := range dumps {
		if d.bad != 0 {
			t.Errorf("node %d: %d znodes under /w do not hold their path as data", i, d.bad)
		}
		if !slices.Equal(d.names, dumps[0].names) {
			t.Errorf("node %d lists %d znodes under /w, node 0 %d, with equal digests", i, len(d.names), len(dumps[0].names))
		}
		present := make(map[string]bool, len(d.names))
		var invented []string
		for _, name := range d.names {
			p := "/w/" + name
			present[p] = true
			if !wl.tried[p] {
				invented = append(invented, p)
			}
		}
		var lost []string
		for p := range wl.acked {
			if !present[p] {
				lost = append(lost, p)
			}
		}
		slices.Sort(lost)
		if len(lost) > 0 {
			t.Errorf("node %d lost %d acknowledged znodes, e.g. %q", i, len(lost), lost[:min(len(lost), 10)])
		}
		if len(invented) > 0 {
			t.Errorf("node %d has %d znodes no writer attempted, e.g. %q", i, len(invented), invented[:min(len(invented), 10)])
		}
	}
	unknownIn, unknownOut := 0, 0
	for p := range wl.tried {
		if wl.acked[p] {
			continue
		}
		if slices.Contains(dumps[0].names, strings.TrimPrefix(p, "/w/")) {
			unknownIn++
		} else {
			unknownOut++
		}
	}
	t.Logf("%d cycles (%d leader kills, %d snapshots) in %v; %d creates tried, %d acknowledged; "+
		"unacknowledged: %d applied, %d not; %d errors; final zxid %d, %d znodes under /w on each node",
		cycles, leaderKills, snapshots, churn.Round(time.Millisecond), len(wl.tried), len(wl.acked),
		unknownIn, unknownOut, wl.errs, dumps[0].zxid, len(dumps[0].names))
	for msg, n := range wl.samples {
		t.Logf("  error x%d: %s", n, msg)
	}
	if len(wl.acked) < 100 {
		t.Errorf("only %d writes acknowledged: the test did not exercise much", len(wl.acked))
	}
	if leaderKills < 3 {
		t.Errorf("only %d leader kills", leaderKills)
	}
}

// TestKilledProcessEphemeralsExpire SIGKILLs the process that owns a
// session and measures, on each surviving process, how long until a watch
// reports the session's ephemeral deleted. A follower's session must go
// within its timeout plus one tick; a leader's waits for an election too
// (the new leader restarts every session's clock), which is logged and
// bounded more loosely.
func TestKilledProcessEphemeralsExpire(t *testing.T) {
	const (
		tick     = 100 * time.Millisecond
		election = 500 * time.Millisecond
		timeout  = time.Second
	)
	c := proctest.NewCluster(t, proctest.ClusterOptions{Size: 3, TickTime: tick, ElectionTimeout: election})
	for _, tc := range []struct {
		name   string
		leader bool
		bound  time.Duration
	}{
		{"follower-owner", false, timeout + tick},
		{"leader-owner", true, timeout + 4*election + tick},
	} {
		t.Run(tc.name, func(t *testing.T) {
			li := c.Leader(10 * time.Second)
			if li < 0 {
				t.Fatal("no leader")
			}
			owner := (li + 1) % c.Size()
			if tc.leader {
				owner = li
			}
			path := "/eph-" + tc.name
			line, err := c.Proc(owner).Call("EPH", 10*time.Second, "eph %s %d", path, timeout.Milliseconds())
			if err != nil {
				t.Fatal(err)
			}
			var got string
			var ms int64
			if _, err := fmt.Sscanf(line, "EPH %s %d", &got, &ms); err != nil || time.Duration(ms)*time.Millisecond != timeout {
				t.Fatalf("%q: session timeout not %v (%v)", line, timeout, err)
			}
			var watchers []int
			for i := 0; i < c.Size(); i++ {
				if i == owner {
					continue
				}
				watchers = append(watchers, i)
				line, err := c.Proc(i).Call("WATCHING", 10*time.Second, "watch %s", path)
				if err != nil {
					t.Fatal(err)
				}
				if line != "WATCHING "+path+" true" {
					t.Fatalf("node %d: %q", i, line)
				}
			}
			killed := time.Now()
			c.Kill(owner)
			for _, i := range watchers {
				line, err := c.Proc(i).Await("EVENT", tc.bound+10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				var typ, p string
				var at int64
				if _, err := fmt.Sscanf(line, "EVENT %s %s %d", &typ, &p, &at); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				if typ != "NodeDeleted" || p != path {
					t.Fatalf("node %d: %q", i, line)
				}
				took := time.Unix(0, at).Sub(killed)
				t.Logf("node %d (%s) saw %s deleted %v after SIGKILL of node %d (session timeout %v, tick %v, election timeout %v)",
					i, c.Role(i), path, took.Round(time.Millisecond), owner, timeout, tick, election)
				if took > tc.bound {
					t.Errorf("node %d: ephemeral removed after %v, bound %v", i, took, tc.bound)
				}
				// The owner heartbeated every half tick until it died: the
				// session must not expire much before its timeout.
				if took < timeout-tick {
					t.Errorf("node %d: ephemeral removed after %v, before the session timeout %v", i, took, timeout)
				}
			}
			if err := c.Start(owner); err != nil {
				t.Fatal(err)
			}
		})
	}
}
