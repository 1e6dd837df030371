package coord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord/raftfsm"
)

// populate builds a varied tree on n: sequential children with deletes
// between them (cversion ≠ creates), ephemerals of a session left open,
// a container, TTL nodes, digest and read-only ACLs, data changes, a
// quota with its stats. It returns the open session.
func populate(t testing.TB, n *Node) *Session {
	t.Helper()
	ctx := context.Background()
	s := newSession(t, n, SessionConfig{})
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, "/app", []byte("config"), Persistent, OpenACL)
	for i := 0; i < 5; i++ {
		p := mustCreate(t, s, "/app/s-", []byte(fmt.Sprint(i)), PersistentSequential, OpenACL)
		if i%2 == 1 {
			must(nil, s.Delete(ctx, p, -1))
		}
	}
	mustCreate(t, s, "/app/e-", nil, EphemeralSequential, ReadACL)
	mustCreate(t, s, "/app/eph", []byte("mine"), Ephemeral, OpenACL)
	mustCreate(t, s, "/locks", nil, Container, OpenACL)
	mustCreate(t, s, "/locks/l1", nil, Persistent, OpenACL)
	must(s.CreateTTL(ctx, "/ttl", []byte("t"), PersistentTTL, OpenACL, time.Hour))
	must(s.CreateTTL(ctx, "/ttl/q-", nil, PersistentSequentialTTL, OpenACL, 2*time.Hour))
	mustCreate(t, s, "/secret", []byte{0, 1, 2}, Persistent, DigestACL(PermAll, "alice", "pw"))
	must(s.SetData(ctx, "/app", []byte("config-v2"), 0))
	must(s.SetACL(ctx, "/locks", WorldACL(PermAll&^PermAdmin), 0))
	mustCreate(t, s, "/zookeeper/quota/app", nil, Persistent, OpenACL)
	mustCreate(t, s, "/zookeeper/quota/app/zookeeper_limits", []byte("count=100,bytes=-1"), Persistent, OpenACL)
	mustCreate(t, s, "/zookeeper/quota/app/zookeeper_stats", []byte("count=0,bytes=0"), Persistent, OpenACL)
	mustCreate(t, s, "/app/after-quota", []byte("counted"), Persistent, OpenACL)
	return s
}

// nodeTree returns a copy of n's tree as a snapshot would have it.
func nodeTree(t testing.TB, n *Node) *tree {
	t.Helper()
	n.fsm.mu.RLock()
	buf := encodeSnapshot(n.fsm.t)
	n.fsm.mu.RUnlock()
	tr, err := decodeSnapshot(buf, treeLimits{maxData: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// sameState compares what a restore must carry over exactly: zxid,
// digest, every znode's data, full stat, ACL and kind, the ACL table,
// the sessions.
func sameRestoredState(t testing.TB, what string, got, want *tree) {
	t.Helper()
	if got.zxid != want.zxid || got.digest != want.digest || len(got.nodes) != len(want.nodes) {
		t.Fatalf("%s: zxid %#x digest %x nodes %d, want %#x %x %d", what, got.zxid, got.digest, len(got.nodes), want.zxid, want.digest, len(want.nodes))
	}
	gd, wd := dumpTree(got), dumpTree(want)
	for p, w := range wd {
		if g, ok := gd[p]; !ok || !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: %s\n got %+v\nwant %+v", what, p, g, w)
		}
		if got.nodes[p].owner != want.nodes[p].owner {
			t.Fatalf("%s: %s: owner %x, want %x", what, p, got.nodes[p].owner, want.nodes[p].owner)
		}
	}
	if len(got.sessions) != len(want.sessions) {
		t.Fatalf("%s: %d sessions, want %d", what, len(got.sessions), len(want.sessions))
	}
	for id, w := range want.sessions {
		g := got.sessions[id]
		if g == nil || g.timeout != w.timeout || !bytes.Equal(g.passwd, w.passwd) || !reflect.DeepEqual(g.ephemerals, w.ephemerals) {
			t.Fatalf("%s: session %#x: %+v, want %+v", what, id, g, w)
		}
	}
	if !reflect.DeepEqual(got.acls.lists, want.acls.lists) {
		t.Fatalf("%s: ACL tables differ", what)
	}
}

func backupOf(t testing.TB, n *Node) ([]byte, BackupInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := n.Backup(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(buf.Len()) {
		t.Fatalf("info.Size %d, wrote %d", info.Size, buf.Len())
	}
	return buf.Bytes(), info
}

func waitFormat2(t testing.TB, nodes ...*Node) {
	t.Helper()
	for _, n := range nodes {
		eventually(t, "log format 2", func() bool { a, _ := n.LogFormat(); return a >= logFormat2 })
	}
}

func TestBackupVerifyRoundtrip(t *testing.T) {
	n := openNode(t, Config{})
	populate(t, n)
	want := nodeTree(t, n)
	file, info := backupOf(t, n)
	got, err := VerifyBackup(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if got.Zxid != want.zxid || got.Znodes != len(want.nodes) || got.Digest != want.digest || got.NodeID != n.ID() ||
		got.Sessions != 1 || got.Ephemerals != 2 || got.ACLs < 4 || got.DataBytes == 0 || info.Zxid != got.Zxid {
		t.Fatalf("VerifyBackup = %+v (Backup said %+v)", got, info)
	}
	_, tr, err := decodeBackup(file, treeLimits{maxData: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sameRestoredState(t, "backup", tr, want)
}

// TestBackupWhileWriting takes a backup while writers run and checks that
// it is exactly the tree at its zxid, rebuilt by replaying the node's log.
func TestBackupWhileWriting(t *testing.T) {
	storage := NewMemoryStorage()
	n := openNode(t, Config{Storage: storage, SnapshotThreshold: 1 << 40})
	s := newSession(t, n, SessionConfig{})
	for i := 0; i < 3000; i++ {
		mustCreate(t, s, fmt.Sprintf("/n%04d", i), []byte("x"), Persistent, OpenACL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; ctx.Err() == nil; k++ {
				p := fmt.Sprintf("/n%04d", (k*7+w*1000)%3200)
				switch k % 3 {
				case 0:
					_, _ = s.SetData(ctx, p, []byte(fmt.Sprint(w, k)), -1)
				case 1:
					_ = s.Delete(ctx, p, -1)
				case 2:
					_, _ = s.Create(ctx, p, []byte("again"), Persistent, OpenACL)
				}
			}
		}(w)
	}
	time.Sleep(50 * time.Millisecond)
	file, info := backupOf(t, n)
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
	if n.LastZxid() <= info.Zxid {
		t.Fatalf("no write after the backup's zxid %#x (last %#x): the test proves nothing", info.Zxid, n.LastZxid())
	}
	_, got, err := decodeBackup(file, treeLimits{maxData: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// Replay the log until the backup's zxid.
	want := newTree(treeLimits{maxData: 1 << 20})
	err = storage.s.Entries(func(e raftfsm.Entry) {
		if !e.Command || want.zxid >= info.Zxid {
			return
		}
		if err := splitEntry(e.Data, func(data []byte, tm int64, grouped bool) error {
			b, err := decodeBatch(data)
			if err != nil {
				return err
			}
			if grouped {
				b.time = tm
			}
			want.applyBatch(&b)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want.sessions[s.ID()].owner = got.sessions[s.ID()].owner // the replay knows no origin tags
	sameRestoredState(t, "backup under writes", got, want)
}

func TestOnlineRestore(t *testing.T) {
	ctx := context.Background()
	src := openNode(t, Config{})
	populate(t, src)
	file, _ := backupOf(t, src)
	want := nodeTree(t, src)

	dst := openNode(t, Config{})
	waitFormat2(t, dst)
	old := newSession(t, dst, SessionConfig{})
	mustCreate(t, old, "/app", []byte("other"), Persistent, OpenACL)
	mustCreate(t, old, "/onlyhere", nil, Persistent, OpenACL)
	watcher := newSession(t, dst, SessionConfig{})
	_, _, appW, err := watcher.GetDataW(ctx, "/app")
	if err != nil {
		t.Fatal(err)
	}
	_, _, goneW, err := watcher.ExistsW(ctx, "/onlyhere")
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(ctx, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	sameRestoredState(t, "online restore", nodeTree(t, dst), want)
	// The old tree's sessions end; their watches with them.
	waitState(t, old, StateExpired)
	waitState(t, watcher, StateExpired)
	_ = appW
	_ = goneW

	// Zxids and sequential names go on from the backup on both.
	for _, n := range []*Node{src, dst} {
		s := newSession(t, n, SessionConfig{})
		p, st, err := s.CreateStat(ctx, "/app/s-", nil, PersistentSequential, OpenACL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if wp := "/app/s-" + seqName(want.nodes["/app"].cseq); p != wp || st.Czxid != want.zxid+2 {
			t.Fatalf("%s: next sequential %s at zxid %#x, want %s at %#x", n.ID(), p, st.Czxid, wp, want.zxid+2)
		}
	}
}

func TestRestoreNeedsFormat2(t *testing.T) {
	n := openNode(t, Config{})
	file, _ := backupOf(t, n)
	n.fsm.format.Store(logFormat1) // as in an ensemble with a member from before the gate
	err := n.Restore(context.Background(), bytes.NewReader(file))
	if err == nil || !strings.Contains(err.Error(), "log format") {
		t.Fatalf("Restore at format 1: %v", err)
	}
}

func TestBackupCorruptionRefused(t *testing.T) {
	n := openNode(t, Config{})
	populate(t, n)
	file, _ := backupOf(t, n)
	dir := t.TempDir()
	cases := map[string][]byte{
		"truncated":   file[:len(file)/2],
		"short":       file[:5],
		"flipped":     func() []byte { b := bytes.Clone(file); b[len(b)/2] ^= 0x40; return b }(),
		"badmagic":    append([]byte("NOTABACK"), file[8:]...),
		"header":      func() []byte { b := bytes.Clone(file); b[11] ^= 1; return b }(),
		"nottrailing": append(bytes.Clone(file), 0),
	}
	for name, b := range cases {
		path := filepath.Join(dir, name+".bak")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyBackupFile(path)
		var be *BackupError
		if !errors.As(err, &be) || !errors.Is(err, ErrBadBackup) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("%s: %v", name, err)
		}
		target := filepath.Join(dir, name+"-data")
		if _, err := RestoreDataDir(Config{NodeID: "r", DataDir: target}, path); err == nil {
			t.Fatalf("%s: restored", name)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: the refused restore left %s", name, target)
		}
		if err := n.Restore(context.Background(), bytes.NewReader(b)); err == nil {
			t.Fatalf("%s: online restore accepted it", name)
		}
	}
}

func TestOfflineRestore(t *testing.T) {
	ctx := context.Background()
	src := openNode(t, Config{})
	populate(t, src)
	file, info := backupOf(t, src)
	want := nodeTree(t, src)
	path := filepath.Join(t.TempDir(), "b.coordbak")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	got, err := RestoreDataDir(Config{NodeID: "restored", DataDir: dir}, path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Zxid != info.Zxid || got.Znodes != info.Znodes {
		t.Fatalf("RestoreDataDir = %+v, want %+v", got, info)
	}
	if _, err := RestoreDataDir(Config{NodeID: "restored", DataDir: dir}, path); err == nil {
		t.Fatal("restored into a non-empty data dir")
	}
	n := openNode(t, Config{DataDir: dir})
	if n.ID() != "restored" {
		t.Fatalf("id %q", n.ID())
	}
	sameRestoredState(t, "offline restore", nodeTree(t, n), want)
	for _, n := range []*Node{src, n} {
		s := newSession(t, n, SessionConfig{})
		p, st, err := s.CreateStat(ctx, "/app/s-", nil, PersistentSequential, OpenACL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if wp := "/app/s-" + seqName(want.nodes["/app"].cseq); p != wp || st.Czxid != want.zxid+2 {
			t.Fatalf("%s: next sequential %s at zxid %#x, want %s at %#x", n.ID(), p, st.Czxid, wp, want.zxid+2)
		}
	}
}

// TestRestoreOwnBackupFiresWatches restores a node's own earlier backup:
// a session in the backup lives on, and its watches fire for what the
// restore changed, as after a member installs a snapshot.
func TestRestoreOwnBackupFiresWatches(t *testing.T) {
	ctx := context.Background()
	n := openNode(t, Config{})
	waitFormat2(t, n)
	s := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/a", []byte("v1"), Persistent, OpenACL)
	file, _ := backupOf(t, n)
	if _, err := s.SetData(ctx, "/a", []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "/b", nil, Persistent, OpenACL)
	_, _, aW, err := s.GetDataW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	_, _, bW, err := s.ExistsW(ctx, "/b")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Restore(ctx, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, recv(t, aW), EventNodeDataChanged, "/a", -1)
	wantEvent(t, recv(t, bW), EventNodeDeleted, "/b", -1)
	if d, _, err := s.GetData(ctx, "/a"); err != nil || string(d) != "v1" {
		t.Fatalf("after restore /a = %q, %v", d, err)
	}
	if s.State() != StateSyncConnected {
		t.Fatalf("session state %v", s.State())
	}
}
