package coordtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
	"github.com/go-zookeeper/zk"
)

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// Code written against a ZooKeeper client tests against an ensemble
// through its connect string, across a node's death and return.
func TestConnectStringWithGoZookeeper(t *testing.T) {
	e := coordtest.NewEnsemble(t, 3)
	hosts := e.ConnectString()
	if got := len(strings.Split(hosts, ",")); got != 3 {
		t.Fatalf("connect string %q: want 3 hosts", hosts)
	}
	conn, _, err := zk.Connect(strings.Split(hosts, ","), 5*time.Second, zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/app", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// The write is in the ensemble, seen through coord's own API.
	s := e.Session(e.Node(0))
	if _, err := s.Sync(context.Background(), "/app"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := s.GetData(context.Background(), "/app"); err != nil || string(data) != "v1" {
		t.Fatalf("GetData: %q, %v", data, err)
	}
	for i := 0; i < e.Size(); i++ {
		e.Kill(i)
		// The client may be on the killed node: it reconnects to another
		// and the (idempotent) write is retried.
		deadline := time.Now().Add(10 * time.Second)
		_, err := conn.Set("/app", []byte{byte('a' + i)}, -1)
		for err != nil && time.Now().Before(deadline) {
			_, err = conn.Set("/app", []byte{byte('a' + i)}, -1)
		}
		if err != nil {
			t.Fatalf("set with node %d down: %v", i, err)
		}
		e.Restart(i)
	}
	data, _, err := conn.Get("/app")
	if err != nil || string(data) != "c" {
		t.Fatalf("Get: %q, %v", data, err)
	}
}

// The same with Python's kazoo (Debian's python3-kazoo).
func TestConnectStringWithKazoo(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import kazoo").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kazoo is missing (python3-kazoo): %v", err)
		}
		t.Skipf("kazoo is missing (apt-get install python3-kazoo): %v", err)
	}
	e := coordtest.NewEnsemble(t, 3)
	s := e.Session(e.Node(1))
	if _, err := s.Create(context.Background(), "/from-go", []byte("hello"), coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, logging
logging.basicConfig(level=logging.ERROR)
from kazoo.client import KazooClient
c = KazooClient(hosts=sys.argv[1], timeout=10.0)
c.start(timeout=15)
data, stat = c.get("/from-go")
c.create("/from-kazoo", data + b" back")
print(data.decode(), stat.version)
c.stop()
`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", script, e.ConnectString()).CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "hello 0" {
		t.Fatalf("kazoo printed %q", got)
	}
	if _, err := s.Sync(context.Background(), "/from-kazoo"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := s.GetData(context.Background(), "/from-kazoo"); err != nil || string(data) != "hello back" {
		t.Fatalf("GetData: %q, %v", data, err)
	}
}

// ServeZooKeeper serves one node, as a single ZooKeeper server would.
func TestServeZooKeeper(t *testing.T) {
	e := coordtest.NewEnsemble(t, 1)
	addr := coordtest.ServeZooKeeper(t, e.Node(0))
	conn, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/one", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	data, _, err := e.Session(e.Node(0)).GetData(context.Background(), "/one")
	if err != nil || string(data) != "x" {
		t.Fatalf("GetData: %q, %v", data, err)
	}
}
