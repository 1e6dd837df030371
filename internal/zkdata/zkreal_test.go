package zkdata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord/internal/zkreal"
)

// clientView is what a ZooKeeper client reads of one znode.
type clientView struct {
	data []byte
	stat zk.Stat
	acl  []zk.ACL
}

type realRun struct {
	dataDir  string
	view     map[string]clientView
	liveSess int64 // the session left open, owning /app/eph-live
}

// runRealZooKeeper starts a standalone ZooKeeper 3.8 on 127.0.0.1 with its
// dataDir in a test temp directory, builds a varied tree, reads every znode
// back through the client, stops the server and returns the dataDir.
//
// logDir, when not empty, becomes the server's dataLogDir.
func runRealZooKeeper(t *testing.T, logDir string, jvmFlags ...string) *realRun {
	t.Helper()
	inst := zkreal.Require(t).WithSlf4jSimple()
	port, err := zkreal.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	procDir, err := os.MkdirTemp("", "zkdata-zk-")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data") // survives the server's Stop
	flags := append([]string{
		"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.extendedTypesEnabled=true",
		"-Dzookeeper.admin.enableServer=false",
		"-Dzookeeper.forceSync=no",
		"-Dznode.container.checkIntervalMs=100",
	}, jvmFlags...)
	cfg := zkreal.Config(200, dataDir, port)
	if logDir != "" {
		cfg += "dataLogDir=" + logDir + "\n"
	}
	z, err := zkreal.Spawn(inst, zkreal.Process{
		Dir:        procDir,
		Config:     cfg,
		ClientPort: port,
		JVMFlags:   flags,
	})
	if err != nil {
		os.RemoveAll(procDir)
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			t.Logf("server log tail:\n%s", z.LogTail(30))
			z.Stop()
		}
	}()
	if err := z.WaitServing(time.Now().Add(45 * time.Second)); err != nil {
		t.Fatal(err)
	}

	connect := func() *zk.Conn {
		c, _, err := zk.Connect([]string{z.Addr}, 4*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for c.State() != zk.StateHasSession {
			if time.Now().After(deadline) {
				t.Fatalf("no session with %s", z.Addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return c
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	open := zk.WorldACL(zk.PermAll)

	c := connect()
	defer c.Close()
	must(nil, c.AddAuth("digest", []byte("alice:secret")))

	// Quota on /app, set up the way zkCli's setquota does, before /app
	// exists below it so every change under /app updates the stats node.
	must(c.Create("/zookeeper/quota/app", nil, 0, open))
	must(c.Create("/zookeeper/quota/app/zookeeper_limits", []byte("count=100,bytes=-1"), 0, open))
	must(c.Create("/zookeeper/quota/app/zookeeper_stats", []byte("count=0,bytes=0"), 0, open))

	must(c.Create("/app", []byte("v0"), 0, open))
	must(c.Create("/app/config", []byte("c0"), 0, open))
	for i := 1; i <= 4; i++ {
		must(c.Set("/app/config", []byte(fmt.Sprintf("c%d-%s", i, strings.Repeat("x", i*10))), -1))
	}
	must(c.Create("/app/a", nil, 0, open))
	must(c.Create("/app/a/b", []byte{}, 0, open))
	must(c.Create("/app/a/b/c", []byte("deep"), 0, open))
	must(c.Create("/app/queue", nil, 0, open))
	var items []string
	for i := 0; i < 6; i++ {
		p, err := c.Create("/app/queue/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open)
		must(nil, err)
		items = append(items, p)
	}
	must(nil, c.Delete(items[1], -1))
	must(nil, c.Delete(items[4], 0))
	// A failed write is logged as an error transaction.
	if _, err := c.Create("/app/a", nil, 0, open); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create existing: %v", err)
	}
	// Digest ACLs.
	must(c.Create("/app/secure", []byte("top secret"), 0, open))
	must(c.SetACL("/app/secure", append(zk.DigestACL(zk.PermAll, "alice", "secret"), zk.ACL{Perms: zk.PermRead, Scheme: "world", ID: "anyone"}), -1))
	must(c.SetACL("/app/secure", zk.DigestACL(zk.PermAll, "alice", "secret"), 1))
	must(c.Create("/app/readonly", []byte("ro"), 0, zk.WorldACL(zk.PermRead|zk.PermAdmin)))
	// Containers: one holding a child, one emptied (the server reaps it
	// with a deleteContainer transaction).
	must(c.CreateContainer("/app/cont", []byte("k"), zk.FlagContainer, open))
	must(c.Create("/app/cont/child", []byte("in"), 0, open))
	must(c.CreateContainer("/app/cont2", nil, zk.FlagContainer, open))
	must(c.Create("/app/cont2/tmp", nil, 0, open))
	must(nil, c.Delete("/app/cont2/tmp", -1))
	// TTL nodes (an hour: they stay).
	must(c.CreateTTL("/app/ttl", []byte("t"), zk.FlagTTL, open, time.Hour))
	must(c.CreateTTL("/app/ttlseq-", []byte("ts"), zk.FlagPersistentSequentialWithTTL, open, 90*time.Minute))
	// Multi, a successful one and a failed one (logged with error parts).
	must(c.Multi(
		&zk.CreateRequest{Path: "/app/m1", Data: []byte("m1"), Acl: open},
		&zk.CreateRequest{Path: "/app/m1/x", Data: []byte("mx"), Acl: open},
		&zk.SetDataRequest{Path: "/app", Data: []byte("v1"), Version: -1},
		&zk.DeleteRequest{Path: items[5], Version: -1},
		&zk.CheckVersionRequest{Path: "/app/config", Version: 4},
	))
	if _, err := c.Multi(
		&zk.CreateRequest{Path: "/app/m2", Data: []byte("never"), Acl: open},
		&zk.CheckVersionRequest{Path: "/app/config", Version: 99},
	); err == nil {
		t.Fatal("failing multi succeeded")
	}
	// Ephemerals: one of a session that stays open, one of a closed
	// session.
	live := connect()
	defer live.Close()
	must(live.Create("/app/eph-live", []byte("alive"), zk.FlagEphemeral, open))
	must(live.Create("/app/queue/eph-seq-", nil, zk.FlagEphemeralSequential, open))
	gone := connect()
	must(gone.Create("/app/eph-gone", []byte("bye"), zk.FlagEphemeral, open))
	must(gone.Create("/eph-gone-root", nil, zk.FlagEphemeral, open))
	gone.Close()
	// Some churn at the root, a node deleted with its parent, data on /.
	must(c.Create("/other", []byte("o"), 0, open))
	must(c.Create("/other/tmp", []byte("o"), 0, open))
	must(nil, c.Delete("/other/tmp", -1))
	must(nil, c.Delete("/other", -1))
	must(c.Set("/", []byte("root data"), -1))
	for i := 0; i < 12; i++ { // enough writes for a few snapshots with a small snapCount
		must(c.Create(fmt.Sprintf("/app/bulk-%02d", i), bytes.Repeat([]byte{byte(i)}, i*50), 0, open))
		if i%3 == 0 {
			must(c.Set(fmt.Sprintf("/app/bulk-%02d", i), []byte("changed"), 0))
		}
	}
	// Wait for the closed session's ephemerals and the empty container to
	// go.
	deadline := time.Now().Add(20 * time.Second)
	for {
		e1, _, _ := c.Exists("/app/eph-gone")
		e2, _, _ := c.Exists("/app/cont2")
		if !e1 && !e2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closed session's ephemeral (%v) or empty container (%v) still there", e1, e2)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Read everything back.
	view := map[string]clientView{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		view[p] = clientView{data: data, stat: *st, acl: acl}
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	run := &realRun{dataDir: dataDir, view: view, liveSess: live.SessionID()}

	// Stop the server (SIGTERM) with the sessions still open.
	stopped = true
	z.Stop()
	return run
}

func compareWithClient(t *testing.T, tree *Tree, run *realRun) {
	t.Helper()
	var want, got []string
	for p := range run.view {
		want = append(want, p)
	}
	sort.Strings(want)
	got = tree.Paths()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paths differ:\nloaded %v\nclient %v", got, want)
	}
	for _, p := range want {
		cv, n := run.view[p], tree.Nodes[p]
		if !bytes.Equal(n.Data, cv.data) {
			t.Errorf("%s: data %q, client read %q", p, n.Data, cv.data)
		}
		if s := (zk.Stat)(n.Stat); s != cv.stat {
			t.Errorf("%s: stat\n loaded %+v\n client %+v", p, s, cv.stat)
		}
		var acl []zk.ACL
		for _, a := range n.ACL {
			acl = append(acl, zk.ACL(a))
		}
		if !reflect.DeepEqual(acl, cv.acl) {
			t.Errorf("%s: ACL %v, client read %v", p, acl, cv.acl)
		}
		if int(n.Stat.NumChildren) != len(n.Children) {
			t.Errorf("%s: %d children listed, stat says %d", p, len(n.Children), n.Stat.NumChildren)
		}
	}
	// Kinds and sessions.
	for p, k := range map[string]Kind{"/app/cont": Container, "/app/ttl": TTL, "/app/eph-live": Ephemeral, "/app": Persistent} {
		if n := tree.Nodes[p]; n == nil || n.Kind() != k {
			t.Errorf("%s: kind %v, want %v", p, n.Kind(), k)
		}
	}
	if ttl := tree.Nodes["/app/ttl"].TTL(); ttl != time.Hour.Milliseconds() {
		t.Errorf("/app/ttl: TTL %d", ttl)
	}
	if owner := tree.Nodes["/app/eph-live"].Stat.EphemeralOwner; owner != run.liveSess {
		t.Errorf("/app/eph-live owner %#x, live session %#x", owner, run.liveSess)
	}
	if to, ok := tree.Sessions[run.liveSess]; !ok || to != 4000 {
		t.Errorf("live session %#x: timeout %d, present %v (sessions %v)", run.liveSess, to, ok, tree.Sessions)
	}
	if tree.TxnDigestsVerified == 0 && (tree.Digest == nil || !tree.Digest.Verified) {
		t.Errorf("no digest verified (digest %+v, txn digests skipped %d)", tree.Digest, tree.TxnDigestsSkipped)
	}
	// The quota stats ZooKeeper maintains itself.
	if s := string(tree.Nodes["/zookeeper/quota/app/zookeeper_stats"].Data); !strings.HasPrefix(s, "count=") || s == "count=0,bytes=0" {
		t.Errorf("quota stats %q", s)
	}
}

func logTree(t *testing.T, tree *Tree) {
	t.Logf("snapshot %s (zxid %#x), logs %v, replayed %d, skipped %d, last zxid %#x, txn digests verified %d, snapshot digest %+v, warnings %v",
		filepath.Base(tree.Snapshot), tree.SnapshotZxid, baseNames(tree.Logs), tree.TxnsReplayed, tree.TxnsSkipped, tree.LastZxid, tree.TxnDigestsVerified, tree.Digest, tree.Warnings)
}

func baseNames(ps []string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, filepath.Base(p))
	}
	return out
}

// TestRealZooKeeperLogsOnly: the default snapCount, so the dataDir holds
// the initial empty snapshot.0 and one log with everything.
func TestRealZooKeeperLogsOnly(t *testing.T) {
	run := runRealZooKeeper(t, "")
	tree, err := Load(run.dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	logTree(t, tree)
	if tree.SnapshotZxid != 0 {
		t.Errorf("snapshot zxid %#x, want the initial snapshot.0", tree.SnapshotZxid)
	}
	compareWithClient(t, tree, run)
}

// TestRealZooKeeperSnapshots: snapCount=8, so ZooKeeper takes several
// (fuzzy) snapshots and rolls its log; the load starts from the newest.
// The same dataDir then serves the corruption cases.
func TestRealZooKeeperSnapshots(t *testing.T) {
	run := runRealZooKeeper(t, "", "-Dzookeeper.snapCount=8")
	tree, err := Load(run.dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	logTree(t, tree)
	if tree.SnapshotZxid <= 0 {
		t.Fatalf("loaded from snapshot zxid %#x, want a later snapshot than the initial one", tree.SnapshotZxid)
	}
	compareWithClient(t, tree, run)

	t.Run("CorruptNewestSnapshotFallsBack", func(t *testing.T) {
		dir := copyDir(t, run.dataDir)
		newest := filepath.Join(dir, "version-2", filepath.Base(tree.Snapshot))
		flipByte(t, newest, 40)
		got, err := Load(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.SnapshotZxid >= tree.SnapshotZxid {
			t.Fatalf("loaded snapshot %#x, want one older than %#x", got.SnapshotZxid, tree.SnapshotZxid)
		}
		if len(got.SkippedSnapshots) != 1 || got.SkippedSnapshots[0].File != newest {
			t.Fatalf("skipped %v", got.SkippedSnapshots)
		}
		var fe *FormatError
		if !errors.As(got.SkippedSnapshots[0].Err, &fe) || fe.File != newest || fe.Offset <= 0 {
			t.Fatalf("skip reason %v does not name the file and offset", got.SkippedSnapshots[0].Err)
		}
		t.Logf("skipped: %v", fe)
		if got.LastZxid != tree.LastZxid || !reflect.DeepEqual(got.Nodes, tree.Nodes) || !reflect.DeepEqual(got.Sessions, tree.Sessions) {
			t.Fatalf("fallback load differs (last zxid %#x vs %#x)", got.LastZxid, tree.LastZxid)
		}
		compareWithClient(t, got, run)
	})

	t.Run("AllSnapshotsCorrupt", func(t *testing.T) {
		dir := copyDir(t, run.dataDir)
		snaps, _ := filepath.Glob(filepath.Join(dir, "version-2", "snapshot.*"))
		for _, s := range snaps {
			flipByte(t, s, 20)
		}
		_, err := Load(dir, nil)
		var fe *FormatError
		if !errors.Is(err, ErrNoValidSnapshot) || !errors.As(err, &fe) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("err %v", err)
		}
		t.Logf("error: %v", err)
	})

	t.Run("TruncatedLogTail", func(t *testing.T) {
		// Replay everything from the initial snapshot (a later, fuzzy one
		// may hold effects of the very transaction torn here, which a real
		// torn write cannot produce).
		dir := copyDir(t, run.dataDir)
		snaps, _ := filepath.Glob(filepath.Join(dir, "version-2", "snapshot.*"))
		for _, s := range snaps {
			if filepath.Base(s) != "snapshot.0" {
				os.Remove(s)
			}
		}
		last, lastOff, _ := lastRecord(t, dir)
		if err := os.Truncate(last, lastOff+20); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.SnapshotZxid != 0 || got.LastZxid != tree.LastZxid-1 {
			t.Fatalf("snapshot %#x, last zxid %#x, want 0 and %#x", got.SnapshotZxid, got.LastZxid, tree.LastZxid-1)
		}
		if !strings.Contains(strings.Join(got.Warnings, "\n"), "torn tail") {
			t.Fatalf("no torn-tail warning: %v", got.Warnings)
		}
	})

	t.Run("CorruptMidLog", func(t *testing.T) {
		dir := copyDir(t, run.dataDir)
		last, _, n := lastRecord(t, dir)
		if n < 2 {
			t.Skip("last log has a single record")
		}
		flipByte(t, last, logHeaderSize+12+5) // inside the first record's transaction
		_, err := Load(dir, nil)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != last || fe.Offset != logHeaderSize || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err %v, want a corruption at %s offset %d", err, last, logHeaderSize)
		}
		t.Logf("error: %v", err)
	})
}

// TestRealZooKeeperGzipSnapshots: the same with gzip-compressed snapshots
// and the logs in a separate dataLogDir.
func TestRealZooKeeperGzipSnapshots(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "txnlogs")
	run := runRealZooKeeper(t, logDir, "-Dzookeeper.snapCount=8", "-Dzookeeper.snapshot.compression.method=gz")
	tree, err := Load(run.dataDir, &Options{LogDir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Logs) == 0 || !strings.HasPrefix(tree.Logs[0], logDir) {
		t.Fatalf("logs %v, want them from %s", tree.Logs, logDir)
	}
	// Without the dataLogDir only the snapshot loads, or (when the fuzzy
	// snapshot's digest needs the logs to be verified) a digest error.
	snapOnly, err := Load(run.dataDir, nil)
	switch {
	case errors.Is(err, ErrDigestMismatch):
		t.Logf("without the dataLogDir: %v", err)
	case err != nil:
		t.Fatalf("without the dataLogDir: %v", err)
	case len(snapOnly.Logs) != 0 || snapOnly.LastZxid != snapOnly.SnapshotZxid || snapOnly.LastZxid > tree.LastZxid:
		t.Fatalf("without the dataLogDir: logs %v, last zxid %#x", snapOnly.Logs, snapOnly.LastZxid)
	}
	logTree(t, tree)
	if !strings.HasSuffix(tree.Snapshot, ".gz") {
		t.Fatalf("loaded %s, want a .gz snapshot", tree.Snapshot)
	}
	compareWithClient(t, tree, run)
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		n := info.Size()
		if strings.HasPrefix(info.Name(), "log.") {
			// Keep a little of the zero padding, not 64 MiB of it.
			n = min(n, logEnd(t, p)+4096)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		b := make([]byte, n)
		if _, err := io.ReadFull(f, b); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off >= int64(len(b)) {
		t.Fatalf("%s has only %d bytes", path, len(b))
	}
	b[off] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// logEnd returns the offset after the last good record of a log.
func logEnd(t *testing.T, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	lr := &logReader{name: path, r: f, size: st.Size(), max: DefaultMaxBuffer}
	off := int64(logHeaderSize)
	for {
		_, next, status, _, err := lr.record(off)
		if err != nil || status != recOK {
			return off
		}
		off = next
	}
}

// lastRecord returns the newest log file, the offset of its last record
// and its number of records.
func lastRecord(t *testing.T, dir string) (string, int64, int) {
	t.Helper()
	logs, err := listFiles(filepath.Join(dir, "version-2"), "log")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs: %v", err)
	}
	path := logs[len(logs)-1].path
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	lr := &logReader{name: path, r: f, size: st.Size(), max: DefaultMaxBuffer}
	off, lastOff, n := int64(logHeaderSize), int64(-1), 0
	for {
		_, next, status, _, err := lr.record(off)
		if err != nil || status != recOK {
			break
		}
		lastOff, off = off, next
		n++
	}
	if lastOff < 0 {
		t.Fatalf("%s has no records", path)
	}
	return path, lastOff, n
}
