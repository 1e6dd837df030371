package interop

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord/internal/zkreal"
)

// The rolling-upgrade test: three coordd processes built from the last
// commit before the format gate (upgradeFrom) are replaced one at a time
// by the current coordd, on the same dataDirs and ports, under a steady
// writer; then a node is downgraded again. See TestRollingUpgrade.

// upgradeFrom writes log format 1 (entry tags 2 and 3, snapshot version
// 3) and answers the format gate's rpcInfo with "unknown rpc".
const upgradeFrom = "e6bb57c"

var (
	oldCoorddOnce sync.Once
	oldCoorddPath string
	oldCoorddErr  error
	oldCoorddSkip string
)

// oldCoorddBinary builds cmd/coordd of upgradeFrom once per test binary:
// `git archive` of the commit into a temporary directory (the repository
// and its worktrees are left alone), then go build there with the module
// cache this build uses. The test skips, even under CI=true, when git or
// the commit is missing (an archive of the source, a shallow clone):
// history is a property of the checkout, not a missing tool.
func oldCoorddBinary(t *testing.T) string {
	t.Helper()
	oldCoorddOnce.Do(func() {
		git, err := exec.LookPath("git")
		if err != nil {
			oldCoorddSkip = "git is not installed: cannot build coordd " + upgradeFrom
			return
		}
		out, err := exec.Command(git, "-C", "..", "rev-parse", "--verify", "--quiet", upgradeFrom+"^{commit}").Output()
		if err != nil || len(out) == 0 {
			shallow, _ := exec.Command(git, "-C", "..", "rev-parse", "--is-shallow-repository").Output()
			oldCoorddSkip = fmt.Sprintf("commit %s is not in this checkout (not a git clone, or shallow: is-shallow-repository=%q); "+
				"a full `git clone` (no --depth) has it", upgradeFrom, strings.TrimSpace(string(shallow)))
			return
		}
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("coord-interop-%d", os.Getuid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			oldCoorddErr = err
			return
		}
		src, err := os.MkdirTemp(dir, "src-"+upgradeFrom+"-")
		if err != nil {
			oldCoorddErr = err
			return
		}
		defer os.RemoveAll(src)
		if err := gitArchive(git, upgradeFrom, src); err != nil {
			oldCoorddErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		tmp := filepath.Join(dir, fmt.Sprintf("coordd-%s.%d", upgradeFrom, os.Getpid()))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, "./cmd/coordd")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			oldCoorddErr = fmt.Errorf("go build ./cmd/coordd at %s: %v\n%s", upgradeFrom, err, out)
			return
		}
		oldCoorddPath = filepath.Join(dir, "coordd-"+upgradeFrom)
		oldCoorddErr = os.Rename(tmp, oldCoorddPath)
	})
	if oldCoorddSkip != "" {
		t.Skip("skipping: " + oldCoorddSkip)
	}
	if oldCoorddErr != nil {
		t.Fatalf("building coordd %s: %v", upgradeFrom, oldCoorddErr)
	}
	return oldCoorddPath
}

// gitArchive extracts the tree of commit into dir.
func gitArchive(git, commit, dir string) error {
	cmd := exec.Command(git, "-C", "..", "archive", "--format=tar", commit)
	r, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	err = untar(r, dir)
	_, _ = io.Copy(io.Discard, r)
	if werr := cmd.Wait(); werr != nil {
		return fmt.Errorf("git archive %s: %v: %s", commit, werr, stderr.String())
	}
	return err
}

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if name == "." || strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			continue
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		}
	}
}

// exitErr is how node i's last process ended (nil: exit status 0); only
// meaningful once it has exited.
func (e *coorddEnsemble) exitErr(i int) error {
	node := e.nodes[i]
	node.mu.Lock()
	defer node.mu.Unlock()
	return node.waitErr
}

// logFrom is node i's log from byte offset off on.
func (e *coorddEnsemble) logFrom(i int, off int64) string {
	b, err := os.ReadFile(e.nodes[i].logPath)
	if err != nil || int64(len(b)) < off {
		return ""
	}
	return string(b[off:])
}

func (e *coorddEnsemble) logSize(i int) int64 {
	st, err := os.Stat(e.nodes[i].logPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// haltMarks are what a node that meets data of a newer format logs: an
// entry it cannot apply (both builds), a snapshot it cannot read.
var haltMarks = []string{"unknown format", "upgrade it", "unsupported snapshot version"}

func findMark(log string, marks []string) string {
	for _, line := range strings.Split(log, "\n") {
		for _, m := range marks {
			if strings.Contains(line, m) {
				return line
			}
		}
	}
	return ""
}

// formatRoseMark is the leader's log line when it raises the format.
const formatRoseMark = "the ensemble's log format rose"

// logFormat is node i's active log format from mntr
// (coord_log_format_active); ok is false when mntr has no such line.
func (e *coorddEnsemble) logFormat(i int) (active int, ok bool) {
	out, err := zkreal.FourLetterWord(e.nodes[i].clientAddr, "mntr")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "coord_log_format_active" {
			n, err := strconv.Atoi(f[1])
			return n, err == nil
		}
	}
	return 0, false
}

// formatRose says whether the ensemble's active format is 2: every node's
// mntr says so or, where mntr does not report it, a leader logged the rise.
func (e *coorddEnsemble) formatRose() (bool, string) {
	mntr := 0
	for i := range e.nodes {
		if f, ok := e.logFormat(i); ok {
			if f < 2 {
				return false, ""
			}
			mntr++
		}
	}
	if mntr == len(e.nodes) {
		return true, "mntr coord_log_format_active on every node"
	}
	for i := range e.nodes {
		if line := findMark(e.logFrom(i, 0), []string{formatRoseMark}); line != "" {
			return true, fmt.Sprintf("coordd %d logged %q", e.nodes[i].id, strings.TrimSpace(line))
		}
	}
	return false, ""
}

// upgradeWriter creates sequential znodes under /up/w<id> named and
// filled with unique values, and sets /up/k<id> to every fifth value, all
// through one server; it records which writes were acknowledged.
type upgradeWriter struct {
	id   int
	addr string
	c    *zk.Conn

	mu       sync.Mutex
	tried    map[string]bool // every value a create was sent for
	acked    map[string]bool // the creates that succeeded
	setTried map[int]bool
	setAcked int // the last acknowledged value of /up/k<id>
	errs     map[string]int

	ackCount atomic.Int64
	lastAck  atomic.Int64 // UnixNano of the last acknowledged write
}

func (w *upgradeWriter) run(stop <-chan struct{}) {
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		val := fmt.Sprintf("w%d-%06d", w.id, n)
		w.mu.Lock()
		w.tried[val] = true
		w.mu.Unlock()
		_, err := w.c.Create(fmt.Sprintf("/up/w%d/%s-", w.id, val), []byte(val), zk.FlagSequence, zk.WorldACL(zk.PermAll))
		w.done(err, func() { w.acked[val] = true })
		if n%5 == 0 {
			w.mu.Lock()
			w.setTried[n] = true
			w.mu.Unlock()
			_, err := w.c.Set(fmt.Sprintf("/up/k%d", w.id), []byte(val), -1)
			w.done(err, func() { w.setAcked = max(w.setAcked, n) })
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond) // the server is down or has no quorum
		} else {
			time.Sleep(2 * time.Millisecond) // steady, not flat out
		}
	}
}

func (w *upgradeWriter) done(err error, ack func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs[err.Error()]++
		return
	}
	ack()
	w.ackCount.Add(1)
	w.lastAck.Store(time.Now().UnixNano())
}

// awaitAck waits until w acknowledges a write after since.
func (w *upgradeWriter) awaitAck(since time.Time, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if w.lastAck.Load() > since.UnixNano() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// verifyUpgradeWrites reads /up through node i alone, after a sync, and
// checks every acknowledged write is there exactly once, nothing is there
// twice or was never sent, and each /up/k<id> holds the last acknowledged
// value or a later one. It returns the children it saw, per writer.
func verifyUpgradeWrites(t *testing.T, e *coorddEnsemble, i int, ws []*upgradeWriter) map[int][]string {
	t.Helper()
	gc := dialGoZK(t, []string{e.nodes[i].clientAddr}, 4*time.Second)
	defer gc.c.Close()
	c := gc.c
	if _, err := c.Sync("/up"); err != nil {
		t.Fatalf("coordd %d: sync: %v", e.nodes[i].id, err)
	}
	seen := map[int][]string{}
	for _, w := range ws {
		parent := fmt.Sprintf("/up/w%d", w.id)
		kids, _, err := c.Children(parent)
		if err != nil {
			t.Fatalf("coordd %d: children %s: %v", e.nodes[i].id, parent, err)
		}
		slices.Sort(kids)
		seen[w.id] = kids
		count := map[string]int{}
		for _, k := range kids {
			// name: value "-" 10-digit sequence
			if len(k) < 11 || k[len(k)-11] != '-' {
				t.Errorf("coordd %d: unexpected znode %s/%s", e.nodes[i].id, parent, k)
				continue
			}
			count[k[:len(k)-11]]++
		}
		w.mu.Lock()
		missing, twice, unsent := 0, 0, 0
		for v := range w.acked {
			if count[v] != 1 {
				missing++
				if missing <= 3 {
					t.Errorf("coordd %d: acknowledged write %s is there %d times", e.nodes[i].id, v, count[v])
				}
			}
		}
		for v, n := range count {
			if n > 1 {
				twice++
			}
			if !w.tried[v] {
				unsent++
			}
		}
		setAcked := w.setAcked
		setTried := maps2slice(w.setTried)
		acked := len(w.acked)
		w.mu.Unlock()
		if missing+twice+unsent > 0 {
			t.Errorf("coordd %d, %s: %d acknowledged writes missing or repeated, %d values twice, %d never sent", e.nodes[i].id, parent, missing, twice, unsent)
		}
		if len(kids) < acked {
			t.Errorf("coordd %d, %s: %d children, %d acknowledged creates", e.nodes[i].id, parent, len(kids), acked)
		}
		// The data of each child is its value.
		var wg sync.WaitGroup
		var bad atomic.Int64
		ch := make(chan string)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range ch {
					b, _, err := c.Get(parent + "/" + k)
					if err != nil || string(b) != k[:len(k)-11] {
						bad.Add(1)
					}
				}
			}()
		}
		for _, k := range kids {
			if len(k) >= 11 {
				ch <- k
			}
		}
		close(ch)
		wg.Wait()
		if bad.Load() > 0 {
			t.Errorf("coordd %d, %s: %d children without their value as data", e.nodes[i].id, parent, bad.Load())
		}
		b, _, err := c.Get(fmt.Sprintf("/up/k%d", w.id))
		if err != nil {
			t.Fatalf("coordd %d: get /up/k%d: %v", e.nodes[i].id, w.id, err)
		}
		var n int
		if v := string(b); v != "" {
			_, perr := fmt.Sscanf(v, fmt.Sprintf("w%d-%%d", w.id), &n)
			if perr != nil {
				t.Errorf("coordd %d: /up/k%d holds %q", e.nodes[i].id, w.id, v)
			}
		}
		if n < setAcked || (n != 0 && !slices.Contains(setTried, n)) {
			t.Errorf("coordd %d: /up/k%d holds value %d; the last acknowledged set was %d", e.nodes[i].id, w.id, n, setAcked)
		}
	}
	return seen
}

func maps2slice(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRollingUpgrade is the rolling upgrade from upgradeFrom to this
// build: three coordd processes of the old build, a writer through each
// server; one at a time, a node is stopped (SIGTERM) and the new build
// started on its dataDir and ports. No node may halt or exit, the new
// nodes must keep the old entry format while an old node remains, and the
// active format must rise to 2 once all three are new. Every acknowledged
// write must then be on every node, exactly once. Finally a node is
// downgraded: the old build must refuse its data (exit, or stop with a
// message about the unknown format) without damaging it, and the new
// build, started again on the same dataDir, must rejoin with every write.
func TestRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds coordd twice and runs an ensemble for about a minute")
	}
	began := time.Now()
	oldBin := oldCoorddBinary(t)
	newBin := coorddBinary(t)
	t.Logf("builds: %v (old: %s, new: %s)", time.Since(began).Round(time.Millisecond), oldBin, newBin)

	e := startCoorddEnsembleWith(t, oldBin, 3, coorddOptions{tickMs: 200})
	addrs := e.addrs()
	modes := make([]string, 3)
	for i := range e.nodes {
		modes[i] = e.mode(i)
	}
	t.Logf("old ensemble serving after %v: modes %v", time.Since(began).Round(time.Millisecond), modes)

	setup := dialGoZK(t, addrs, 4*time.Second)
	for _, p := range []string{"/up", "/up/w1", "/up/w2", "/up/w3", "/up/k1", "/up/k2", "/up/k3"} {
		if _, err := setup.c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	setup.c.Close()

	// One writer per server, pinned to it: each server's writes go
	// through it, and stop while it is down.
	ws := make([]*upgradeWriter, 3)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ws {
		c, _, err := zk.Connect([]string{addrs[i]}, 4*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		ws[i] = &upgradeWriter{id: i + 1, addr: addrs[i], c: c, tried: map[string]bool{}, acked: map[string]bool{},
			setTried: map[int]bool{}, errs: map[string]int{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws[i].run(stop)
		}()
	}
	stopWriters := func() {
		select {
		case <-stop:
			return
		default:
		}
		close(stop)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			// A write stuck without a quorum: closing fails it.
			for _, w := range ws {
				w.c.Close()
			}
			<-done
		}
	}
	t.Cleanup(stopWriters)
	for _, w := range ws {
		if !w.awaitAck(began, 20*time.Second) {
			t.Fatalf("writer %d: no write acknowledged by the old ensemble within 20s", w.id)
		}
	}

	// expectUp fails the test if a node that should run has exited or
	// any node logged that it stopped at data of a newer format.
	expectUp := func(what string) {
		t.Helper()
		for i := range e.nodes {
			if !e.running(i) {
				t.Fatalf("%s: coordd %d exited (%v); log tail:\n%s", what, e.nodes[i].id, e.exitErr(i), e.logTail(i, 30))
			}
			if line := findMark(e.logFrom(i, 0), haltMarks); line != "" {
				t.Fatalf("%s: coordd %d halted: %s", what, e.nodes[i].id, line)
			}
		}
	}
	expectUp("old ensemble")

	var lastRestart time.Time
	// The rolling upgrade, one node at a time, in id order (whichever
	// leads is upgraded in its turn).
	for i := range e.nodes {
		step := time.Now()
		role := e.mode(i)
		e.signal(i, syscall.SIGTERM, 15*time.Second)
		if err := e.exitErr(i); err != nil {
			t.Errorf("coordd %d (old, %s): SIGTERM: %v; log tail:\n%s", e.nodes[i].id, role, err, e.logTail(i, 15))
		}
		stopped := time.Since(step)
		e.bin = newBin
		e.start(i)
		mode := e.waitServing(i, 30*time.Second)
		serving := time.Since(step)
		restarted := time.Now()
		for _, w := range ws {
			if !w.awaitAck(restarted, 20*time.Second) {
				t.Fatalf("upgrade of coordd %d: writer %d (on coordd %d) acknowledged nothing within 20s after the restart", e.nodes[i].id, w.id, w.id)
			}
		}
		expectUp(fmt.Sprintf("after upgrading coordd %d", e.nodes[i].id))
		acked := time.Since(step)
		if i == len(e.nodes)-1 {
			lastRestart = restarted
			t.Logf("coordd %d (%s) upgraded: stopped in %v, serving as %s after %v, writes through every server after %v",
				e.nodes[i].id, role, stopped.Round(time.Millisecond), mode, serving.Round(time.Millisecond), acked.Round(time.Millisecond))
			break
		}
		// With one old node left, the gate is the new leader's to hold:
		// if the old node leads, restart it (old build) so that a new
		// node takes over.
		dwellFrom := restarted
		if l := e.leader(10 * time.Second); i == len(e.nodes)-2 && l > i {
			moved := time.Now()
			e.signal(l, syscall.SIGTERM, 15*time.Second)
			if err := e.exitErr(l); err != nil {
				t.Errorf("coordd %d (old, leader): SIGTERM: %v", e.nodes[l].id, err)
			}
			nl := e.leader(15 * time.Second)
			e.bin = oldBin
			e.start(l)
			e.bin = newBin
			e.waitServing(l, 30*time.Second)
			dwellFrom = time.Now()
			if !ws[l].awaitAck(dwellFrom, 20*time.Second) {
				t.Fatalf("writer %d: nothing acknowledged after coordd %d (old) restarted", ws[l].id, e.nodes[l].id)
			}
			t.Logf("coordd %d (old) restarted to move the lead to a new node: coordd %d leads, %v", e.nodes[l].id, e.nodes[nl].id, time.Since(moved).Round(time.Millisecond))
		}
		// A mixed ensemble for at least two of the leader's format checks
		// (formatCheckInterval, 2s): the format must hold at 1.
		for time.Since(dwellFrom) < 5*time.Second {
			if rose, how := e.formatRose(); rose {
				t.Fatalf("the log format rose with an old node in the ensemble (%s)", how)
			}
			time.Sleep(100 * time.Millisecond)
		}
		expectUp(fmt.Sprintf("mixed ensemble after upgrading coordd %d", e.nodes[i].id))
		leader := e.leader(10 * time.Second)
		build := "old"
		if leader <= i {
			build = "new"
		}
		t.Logf("coordd %d (%s) upgraded: stopped in %v, serving as %s after %v, writes through every server after %v; "+
			"format still 1 after 5s, under a leader of the %s build (coordd %d)",
			e.nodes[i].id, role, stopped.Round(time.Millisecond), mode, serving.Round(time.Millisecond), acked.Round(time.Millisecond),
			build, e.nodes[leader].id)
	}

	// All new: the leader raises the format within a few checks.
	allNew := lastRestart
	for {
		rose, how := e.formatRose()
		if rose {
			t.Logf("active log format 2 within %v of the last node's restart (%s)", time.Since(allNew).Round(time.Millisecond), how)
			break
		}
		if time.Since(allNew) > 30*time.Second {
			t.Fatalf("the active log format did not rise within 30s of the last upgrade")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Writes of format 2 through every server.
	rose := time.Now()
	for _, w := range ws {
		if !w.awaitAck(rose.Add(500*time.Millisecond), 20*time.Second) {
			t.Fatalf("writer %d: nothing acknowledged after the format rose", w.id)
		}
	}
	expectUp("after the format rose")
	stopWriters()

	var total int
	for _, w := range ws {
		w.mu.Lock()
		t.Logf("writer %d: %d creates sent, %d acknowledged; last set acknowledged %d; errors %v",
			w.id, len(w.tried), len(w.acked), w.setAcked, w.errs)
		total += len(w.acked)
		w.mu.Unlock()
	}
	if total < 100 {
		t.Errorf("only %d writes acknowledged in all: not a steady writer", total)
	}
	var first map[int][]string
	for i := range e.nodes {
		seen := verifyUpgradeWrites(t, e, i, ws)
		if first == nil {
			first = seen
			continue
		}
		for id := range seen {
			if !slices.Equal(seen[id], first[id]) {
				t.Errorf("coordd %d and coordd 1 hold different /up/w%d (%d and %d children)", e.nodes[i].id, id, len(seen[id]), len(first[id]))
			}
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("every acknowledged write on every node, %v in", time.Since(began).Round(time.Millisecond))

	// The downgrade: a follower gets the old build back.
	d := 0
	for i := range e.nodes {
		if e.mode(i) == "follower" {
			d = i
			break
		}
	}
	id := e.nodes[d].id
	e.signal(d, syscall.SIGTERM, 15*time.Second)
	if err := e.exitErr(d); err != nil {
		t.Errorf("coordd %d (new): SIGTERM: %v", id, err)
	}
	off := e.logSize(d)
	e.bin = oldBin
	downgraded := time.Now()
	e.start(d)
	var refusal string
	for refusal == "" {
		refusal = findMark(e.logFrom(d, off), haltMarks)
		if refusal != "" || !e.running(d) {
			break
		}
		if time.Since(downgraded) > 30*time.Second {
			t.Fatalf("coordd %d downgraded to %s: neither exits nor refuses the format within 30s; log:\n%s", id, upgradeFrom, e.logFrom(d, off))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if refusal == "" {
		time.Sleep(100 * time.Millisecond) // the log of a process that just exited
		refusal = findMark(e.logFrom(d, off), haltMarks)
	}
	if refusal == "" {
		t.Fatalf("coordd %d downgraded to %s exited (%v) without saying the data is of a newer format; log:\n%s", id, upgradeFrom, e.exitErr(d), e.logFrom(d, off))
	}
	for wait := time.Now(); e.running(d) && time.Since(wait) < 3*time.Second; {
		time.Sleep(20 * time.Millisecond) // an Open that failed on it exits
	}
	how := "halted, still running"
	if !e.running(d) {
		how = fmt.Sprintf("exited (%v)", e.exitErr(d))
		if e.exitErr(d) == nil {
			t.Errorf("coordd %d downgraded to %s: refused the data but exited with status 0", id, upgradeFrom)
		}
	} else {
		// It stopped applying (and closed its node) but the old daemon
		// does not exit on that: stop it.
		e.signal(d, syscall.SIGTERM, 10*time.Second)
	}
	t.Logf("coordd %d downgraded to %s: %s after %v: %s", id, upgradeFrom, how, time.Since(downgraded).Round(time.Millisecond), strings.TrimSpace(refusal))
	for i := range e.nodes {
		if i != d && !e.running(i) {
			t.Fatalf("coordd %d exited while coordd %d was downgraded; log tail:\n%s", e.nodes[i].id, id, e.logTail(i, 30))
		}
	}

	// A write the downgraded node missed, then the new build on its
	// dataDir again: it rejoins with everything.
	var others []string
	for i := range e.nodes {
		if i != d {
			others = append(others, e.nodes[i].clientAddr)
		}
	}
	oc := dialGoZK(t, others, 4*time.Second)
	if _, err := oc.c.Create("/up/after-downgrade", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write while coordd %d is down: %v", id, err)
	}
	oc.c.Close()
	e.bin = newBin
	off2 := e.logSize(d)
	back := time.Now()
	e.start(d)
	e.waitServing(d, 30*time.Second)
	verifyUpgradeWrites(t, e, d, ws)
	gc := dialGoZK(t, []string{e.nodes[d].clientAddr}, 4*time.Second)
	if got := mustGet(t, gc.c, "/up/after-downgrade"); got != "x" {
		t.Errorf("coordd %d after the downgrade: /up/after-downgrade = %q", id, got)
	}
	gc.c.Close()
	if f, ok := e.logFormat(d); ok && f != 2 {
		t.Errorf("coordd %d after the downgrade: active log format %d, want 2", id, f)
	}
	if line := findMark(e.logFrom(d, off2), haltMarks); line != "" {
		t.Errorf("coordd %d back on the new build: %s", id, line)
	}
	for i := range e.nodes {
		if !e.running(i) {
			t.Fatalf("coordd %d exited; log tail:\n%s", e.nodes[i].id, e.logTail(i, 30))
		}
	}
	t.Logf("coordd %d back on the new build: serving with every write after %v; test %v", id, time.Since(back).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}
