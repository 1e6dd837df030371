package interop

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/testcerts"
	"github.com/coordkit/coord/internal/zkreal"
)

// The TLS client port (secureClientPort) with x509 authentication, driven
// by outside clients: Python kazoo (use_ssl) and ZooKeeper 3.8's zkCli.sh
// with its Netty client and PEM key/trust stores.

// tlsFiles are the certificates the TLS tests write: the CA (ca.crt), the
// server's key store (server.pem) and, for alice and bob, NAME.pem
// (certificate and key), NAME.crt and NAME.key.
type tlsFiles struct{ dir string }

func (f tlsFiles) path(name string) string { return filepath.Join(f.dir, name) }

func writeTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	dir := t.TempDir()
	ca, err := testcerts.NewCA("interop CA")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := srv.WriteFiles(dir, "server"); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob"} {
		c, err := ca.Client(pkix.Name{CommonName: who})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.WriteFiles(dir, who); err != nil {
			t.Fatal(err)
		}
	}
	return tlsFiles{dir}
}

// startSecureCoordd starts one coordd with a TLS port next to its
// plaintext one and returns the TLS port's address.
func startSecureCoordd(t *testing.T, f tlsFiles) string {
	t.Helper()
	sport, err := zkreal.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("secureClientPort=%d\nsecureClientPortAddress=127.0.0.1\n"+
		"ssl.keyStore.location=%s\nssl.keyStore.type=PEM\nssl.trustStore.location=%s\nssl.trustStore.type=PEM\n"+
		"ssl.clientAuth=need\nauthProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n"+
		"jute.maxbuffer=4194304\n",
		sport, f.path("server.pem"), f.path("ca.crt"))
	startCoorddEnsemble(t, 1, coorddOptions{extra: extra})
	return fmt.Sprintf("127.0.0.1:%d", sport)
}

const kazooTLSScript = `
import sys
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, Permissions

host, d = sys.argv[1], sys.argv[2]

def client(who):
    c = KazooClient(hosts=host, use_ssl=True, verify_certs=True, ca=d + "/ca.crt",
                    certfile=d + "/" + who + ".crt", keyfile=d + "/" + who + ".key", timeout=10)
    c.start(timeout=20)
    return c

alice = client("alice")
alice.create("/kz", b"alice's", acl=[ACL(Permissions.ALL, Id("x509", "CN=alice"))])
print("alice reads:", alice.get("/kz")[0].decode())
bob = client("bob")
try:
    bob.get("/kz")
    print("bob reads: yes")
except NoAuthError:
    print("bob reads: NoAuth")
alice.create("/kz-big", b"x" * 2000000)
print("big:", len(bob.get("/kz-big")[0]))
alice.stop()
bob.stop()
`

// TestKazooTLS: kazoo over TLS with client certificates; an x509 ACL lets
// alice read and refuses bob; a 2 MB node goes through with
// jute.maxbuffer=4194304.
func TestKazooTLS(t *testing.T) {
	py, err := kazooPython()
	needTool(t, "kazoo", err)
	f := writeTLSFiles(t)
	addr := startSecureCoordd(t, f)
	script := filepath.Join(t.TempDir(), "kazoo_tls.py")
	if err := os.WriteFile(script, []byte(kazooTLSScript), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, script, addr, f.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo: %v\n%s", err, out)
	}
	for _, want := range []string{"alice reads: alice's", "bob reads: NoAuth", "big: 2000000"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kazoo output lacks %q:\n%s", want, out)
		}
	}
}

// TestZkCliTLS: ZooKeeper's zkCli.sh (3.8, Netty client, PEM stores)
// against the TLS port: alice creates a node only she may read, and sees
// her x509 identity with whoami; bob is refused.
func TestZkCliTLS(t *testing.T) {
	zkcli, err := zkCliPath()
	needTool(t, "zkCli.sh", err)
	inst, err := findZooKeeper()
	needTool(t, "ZooKeeper", err)
	// Debian's zookeeper.jar names no netty-resolver or netty-codec in its
	// manifest, which the Netty client needs: add them (a later -cp in
	// CLIENT_JVMFLAGS overrides zkCli.sh's).
	cp := inst.Classpath
	for _, jar := range []string{"/usr/share/java/netty-resolver.jar", "/usr/share/java/netty-codec.jar"} {
		if fileExists(jar) && !strings.Contains(cp, filepath.Base(strings.TrimSuffix(jar, ".jar"))) {
			cp += ":" + jar
		}
	}
	f := writeTLSFiles(t)
	addr := startSecureCoordd(t, f)
	run := func(who, script string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, zkcli, "-server", addr)
		cmd.Stdin = strings.NewReader(script)
		flags := strings.Join([]string{
			"-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", cp,
			"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
			"-Dzookeeper.client.secure=true",
			"-Dzookeeper.ssl.keyStore.location=" + f.path(who+".pem"),
			"-Dzookeeper.ssl.keyStore.type=PEM",
			"-Dzookeeper.ssl.trustStore.location=" + f.path("ca.crt"),
			"-Dzookeeper.ssl.trustStore.type=PEM",
		}, " ")
		cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+t.TempDir(), "CLIENT_JVMFLAGS="+flags)
		// zkCli.sh exits 1 when its last command failed (bob's): only a
		// timeout is fatal here.
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("zkCli.sh as %s: %v\n%s", who, err, out)
		}
		if !strings.Contains(string(out), "state:SyncConnected") {
			t.Fatalf("zkCli.sh as %s never connected over TLS:\n%s", who, out)
		}
		return string(out)
	}
	out := run("alice", "create /cli secret x509:CN=alice:cdrwa\nget /cli\ngetAcl /cli\nwhoami\nquit\n")
	for _, want := range []string{"Created /cli", "\nsecret\n", "'x509,'CN=alice\n: cdrwa", "x509: CN=alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("alice's zkCli output lacks %q:\n%s", want, out)
		}
	}
	out = run("bob", "get /cli\nquit\n")
	if !strings.Contains(out, "Insufficient permission : /cli") {
		t.Errorf("bob's zkCli output lacks the NoAuth message:\n%s", out)
	}
}
