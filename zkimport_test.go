package coord_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/internal/zkreal"
)

type zkView struct {
	data []byte
	stat zk.Stat
	acl  []zk.ACL
}

// startZK runs a standalone ZooKeeper 3.8 on dataDir until the test ends
// or stop is called.
func startZK(t *testing.T, inst *zkreal.Install, dataDir string) (addr string, stop func()) {
	t.Helper()
	port, err := zkreal.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	procDir, err := os.MkdirTemp("", "coord-zkimport-")
	if err != nil {
		t.Fatal(err)
	}
	z, err := zkreal.Spawn(inst, zkreal.Process{
		Dir:        procDir,
		Config:     zkreal.Config(1000, dataDir, port),
		ClientPort: port,
		JVMFlags: []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dzookeeper.extendedTypesEnabled=true", "-Dzookeeper.admin.enableServer=false",
			"-Dzookeeper.forceSync=no", "-Dznode.container.checkIntervalMs=100"},
	})
	if err != nil {
		os.RemoveAll(procDir)
		t.Fatal(err)
	}
	t.Cleanup(z.Stop)
	if err := z.WaitServing(time.Now().Add(45 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return z.Addr, z.Stop
}

func zkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 15*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatalf("no session with %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// TestImportFromZooKeeper is a differential test against Apache ZooKeeper
// 3.8: it builds a varied tree on a real server, stops it, imports its
// data dir, starts coord on the result and compares every znode's data,
// full stat and ACL as clients read them; then it restarts ZooKeeper on
// its own data and creates the next sequential child on both.
func TestImportFromZooKeeper(t *testing.T) {
	inst := zkreal.Require(t).WithSlf4jSimple()
	ctx := context.Background()
	zkData := filepath.Join(t.TempDir(), "zk")
	addr, stop := startZK(t, inst, zkData)

	c := zkConnect(t, addr)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	open := zk.WorldACL(zk.PermAll)
	must(nil, c.AddAuth("digest", []byte("alice:secret")))
	must(c.Create("/zookeeper/quota/app", nil, 0, open))
	must(c.Create("/zookeeper/quota/app/zookeeper_limits", []byte("count=100,bytes=-1"), 0, open))
	must(c.Create("/zookeeper/quota/app/zookeeper_stats", []byte("count=0,bytes=0"), 0, open))
	must(c.Create("/app", []byte("v0"), 0, open))
	must(c.Create("/app/queue", nil, 0, open))
	var items []string
	for i := 0; i < 7; i++ {
		p, err := c.Create("/app/queue/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open)
		must(nil, err)
		items = append(items, p)
	}
	must(nil, c.Delete(items[2], -1))
	must(nil, c.Delete(items[5], -1))
	for i := 1; i <= 3; i++ {
		must(c.Set("/app", []byte(fmt.Sprintf("v%d", i)), -1))
	}
	must(c.Create("/app/secure", []byte("top secret"), 0, zk.DigestACL(zk.PermAll, "alice", "secret")))
	must(c.SetACL("/app/secure", append(zk.DigestACL(zk.PermAll, "alice", "secret"), zk.WorldACL(zk.PermRead)...), -1))
	must(c.Create("/app/readonly", []byte("ro"), 0, zk.WorldACL(zk.PermRead|zk.PermAdmin)))
	must(c.CreateContainer("/app/cont", []byte("k"), zk.FlagContainer, open))
	must(c.Create("/app/cont/child", []byte("in"), 0, open))
	must(c.CreateTTL("/app/ttl", []byte("t"), zk.FlagTTL, open, time.Hour))
	must(c.CreateTTL("/app/ttlseq-", []byte("ts"), zk.FlagPersistentSequentialWithTTL, open, 90*time.Minute))
	must(c.Multi(
		&zk.CreateRequest{Path: "/app/m1", Data: []byte("m1"), Acl: open},
		&zk.CreateRequest{Path: "/app/m1/x", Data: []byte("mx"), Acl: open},
		&zk.DeleteRequest{Path: items[6], Version: -1},
	))
	live := zkConnect(t, addr)
	defer live.Close()
	must(live.Create("/app/eph-live", []byte("alive"), zk.FlagEphemeral, open))
	must(live.Create("/app/queue/eph-", nil, zk.FlagEphemeralSequential, open))
	must(c.Set("/", []byte("root data"), -1))
	for i := 0; i < 20; i++ {
		must(c.Create(fmt.Sprintf("/bulk-%02d", i), bytes.Repeat([]byte{byte(i)}, i*30), 0, open))
	}

	view := map[string]zkView{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		must(nil, err)
		acl, _, err := c.GetACL(p)
		must(nil, err)
		kids, _, err := c.Children(p)
		must(nil, err)
		view[p] = zkView{data, *st, acl}
		for _, k := range kids {
			walk(strings.TrimSuffix(p, "/") + "/" + k)
		}
	}
	walk("/")
	c.Close()
	stop() // SIGTERM with the live session open

	// Import into coord and start it.
	dataDir := filepath.Join(t.TempDir(), "coord")
	info, err := coord.ImportZooKeeper(coord.Config{NodeID: "imported", DataDir: dataDir}, zkData, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import: %+v", info)
	n, err := coord.Open(ctx, coord.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	s, err := n.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	must(nil, s.AddAuth(ctx, "digest", []byte("alice:secret")))
	var paths []string
	for p := range view {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		want := view[p]
		data, st, err := s.GetData(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		acl, _, err := s.GetACL(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(data, want.data) {
			t.Errorf("%s: data %q, ZooKeeper %q", p, data, want.data)
		}
		if zs := zk.Stat(st); zs != want.stat {
			t.Errorf("%s: stat\n coord %+v\n    zk %+v", p, zs, want.stat)
		}
		var zacl []zk.ACL
		for _, a := range acl {
			zacl = append(zacl, zk.ACL{Perms: int32(a.Perms), Scheme: a.Scheme, ID: a.ID})
		}
		if !reflect.DeepEqual(zacl, want.acl) {
			t.Errorf("%s: ACL %v, ZooKeeper %v", p, zacl, want.acl)
		}
	}
	if kids, _, err := s.GetChildren(ctx, "/"); err != nil || int32(len(kids)) != view["/"].stat.NumChildren {
		t.Fatalf("children of /: %v %v", kids, err)
	}
	if got, want := n.LastZxid(), view["/bulk-19"].stat.Czxid; got < want {
		t.Fatalf("coord's last zxid %#x below ZooKeeper's %#x", got, want)
	}
	// Quotas keep counting.
	if _, err := s.Create(ctx, "/app/more", []byte("12345"), coord.Persistent, coord.OpenACL); err != nil {
		t.Fatal(err)
	}
	stats, _, err := s.GetData(ctx, "/zookeeper/quota/app/zookeeper_stats")
	if err != nil || !strings.HasPrefix(string(stats), "count=") || string(stats) == string(view["/zookeeper/quota/app/zookeeper_stats"].data) {
		t.Fatalf("quota stats after a create: %q (was %q), %v", stats, view["/zookeeper/quota/app/zookeeper_stats"].data, err)
	}

	// The next sequential child, on both.
	coordName, err := s.Create(ctx, "/app/queue/item-", nil, coord.PersistentSequential, coord.OpenACL)
	if err != nil {
		t.Fatal(err)
	}
	addr2, _ := startZK(t, inst, zkData)
	c2 := zkConnect(t, addr2)
	defer c2.Close()
	zkName, err := c2.Create("/app/queue/item-", nil, zk.FlagSequence, open)
	if err != nil {
		t.Fatal(err)
	}
	if coordName != zkName {
		t.Fatalf("next sequential child: coord %s, ZooKeeper %s", coordName, zkName)
	}
	t.Logf("next sequential child on both: %s", zkName)
	if _, err := os.Stat(dataDir); err != nil {
		t.Fatal(err)
	}
}

// TestImportRefusesBadInput: nothing is written when the ZooKeeper data
// dir cannot be read, and the error names the file and offset.
func TestImportRefusesBadInput(t *testing.T) {
	zkData := t.TempDir()
	v2 := filepath.Join(zkData, "version-2")
	if err := os.MkdirAll(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v2, "snapshot.100"), []byte("ZKSN\x00\x00\x00\x02garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "coord")
	_, err := coord.ImportZooKeeper(coord.Config{NodeID: "x", DataDir: target}, zkData, nil)
	if err == nil || !strings.Contains(err.Error(), "snapshot.100") || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("import of a corrupt snapshot: %v", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed import wrote the data dir")
	}
	ents, _ := os.ReadDir(filepath.Dir(target))
	if len(ents) != 0 {
		t.Fatalf("a failed import left %v", ents)
	}
}
