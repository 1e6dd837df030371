package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coordkit/coord/internal/zkreal"
)

// clientConfigCases are /zookeeper/config contents for config -c: empty,
// typical dynamic configs, enough servers to make java.util.Properties
// grow its table once and twice, .properties syntax (comments, other
// separators, continuations, escapes), IPv6, servers without a client
// address, multiple addresses, and entries ZooKeeper cannot parse.
func clientConfigCases() []string {
	many := func(n int) string {
		var sb strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&sb, "server.%d=10.0.%d.%d:2888:3888:participant;10.1.0.%d:%d\n", i, i/7, i, i, 2180+i)
		}
		return sb.String() + "version=10000000a\n"
	}
	return []string{
		"",
		"server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nversion=100000000\n",
		"server.1=10.0.0.1:2888:3888;2181\nserver.2=10.0.0.2:2888:3888;2182\nserver.3=10.0.0.3:2888:3888:observer;2183\nversion=200000003",
		many(11), many(12), many(13), many(30), many(60),
		"# comment\n! another\n  server.2 : 10.0.0.2:1:2;10.9.9.9:7\nserver.1 10.0.0.1:1:2;\\\n   8\nser\\u0076er.3=10.0.0.3:1:2;[::1]:9\nversion = 7\n",
		"server.1=10.0.0.1:1:2\nserver.2=10.0.0.2:1:2;9\nserver.3=10.0.0.3:1:2|10.0.0.4:3:4;10\nserver.1=10.0.0.1:1:2;11\n",
		"server.1=10.0.0.1:1;9\nserver.2=10.0.0.2:1:2;x\nserver.3=10.0.0.3:1:2;12\nversion=1\n",
		"server.9=[fe80::1]:1:2;[fe80::2%lo]:3\nserver.10=[::ffff:10.0.0.1]:1:2;[::ffff:10.0.0.2]:4\n",
	}
}

const clientConfigJava = `import org.apache.zookeeper.server.util.ConfigUtils;

public class ClientConfig {
    public static void main(String[] args) throws Exception {
        String all = new String(System.in.readAllBytes(), "UTF-8");
        for (String c : all.split("\u0000", -1)) {
            System.out.println(ConfigUtils.getClientConfigStr(c));
        }
    }
}
`

// TestClientConfigStringAgainstJava compares clientConfigString with
// ZooKeeper's own ConfigUtils.getClientConfigStr, run by java.
func TestClientConfigStringAgainstJava(t *testing.T) {
	inst := zkreal.Require(t)
	src := filepath.Join(t.TempDir(), "ClientConfig.java")
	if err := os.WriteFile(src, []byte(clientConfigJava), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := clientConfigCases()
	cmd := exec.Command(inst.Java, "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", inst.Classpath, src)
	cmd.Stdin = strings.NewReader(strings.Join(cases, "\x00"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "compiler") || strings.Contains(stderr.String(), "source-file mode") {
			zkreal.SkipOrFail(t, zkreal.MissingError{Why: "java cannot run a source file (no jdk.compiler): " + stderr.String()})
		}
		t.Fatalf("java: %v\n%s", err, stderr.String())
	}
	want := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(want) != len(cases) {
		t.Fatalf("java printed %d lines for %d cases:\n%s\n%s", len(want), len(cases), stdout.String(), stderr.String())
	}
	for i, c := range cases {
		got := clientConfigString(newShell(io.Discard, io.Discard), c)
		if got != want[i] {
			t.Errorf("case %d %q:\ngot  %q\nwant %q", i, c, got, want[i])
		}
	}
}

// configScript reads /zookeeper/config in every form config has; with a
// chroot too, which config ignores.
const configScript = `config
config -s
config -c
config -w
config -c -s
config -x
config extra
ls /
`

const configWant = `[zk: SERVER(CONNECTED) 0] 
[zk: SERVER(CONNECTED) 1] 
cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 0
dataVersion = 0
aclVersion = -1
ephemeralOwner = 0x0
dataLength = 0
numChildren = 0
[zk: SERVER(CONNECTED) 2]  
[zk: SERVER(CONNECTED) 3] 
[zk: SERVER(CONNECTED) 4]  
cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 0
dataVersion = 0
aclVersion = -1
ephemeralOwner = 0x0
dataLength = 0
numChildren = 0
[zk: SERVER(CONNECTED) 5] org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x
[zk: SERVER(CONNECTED) 6] 
[zk: SERVER(CONNECTED) 7] `

// TestConfigCommand checks config against coord, with and without a
// chroot.
func TestConfigCommand(t *testing.T) {
	addr := startCoord(t)
	prepareChroot(t, addr)
	for _, server := range []string{addr, addr + "/app"} {
		r := runCtl(t, configScript, "-server", server)
		got := normalize(r.all, addr)
		_, got, _ = strings.Cut(got, "path:null\n")
		want := strings.ReplaceAll(configWant, "SERVER", strings.Replace(server, addr, "ADDR", 1))
		ls := "[app, outside, zookeeper]\n"
		if server != addr {
			ls = "[]\n"
		}
		want = strings.Replace(want, "7] ", "7] "+ls+"[zk: "+strings.Replace(server, addr, "ADDR", 1)+"(CONNECTED) 8] ", 1)
		if got != want {
			t.Errorf("-server %s: transcript differs (-want +got):\n%s", server, lineDiff(want, got))
		}
	}
}

// TestConfigAgainstZooKeeper runs configScript against coord and
// ZooKeeper with coordctl, and with zkCli against ZooKeeper, without and
// with a chroot, and compares them.
func TestConfigAgainstZooKeeper(t *testing.T) {
	inst := zkreal.Require(t)
	zks := zkreal.StartN(t, 2, zkreal.Options{Install: inst, DirPrefix: "coordctl-config-"})
	coordAddr := startCoord(t)
	for _, a := range []string{coordAddr, zks[0].Addr, zks[1].Addr} {
		prepareChroot(t, a)
	}
	for _, chroot := range []string{"", "/app"} {
		t.Run("chroot="+chroot, func(t *testing.T) {
			fromCoord := normalize(runCtl(t, configScript, "-server", coordAddr+chroot).all, coordAddr)
			zkRun := runCtl(t, configScript, "-server", zks[0].Addr+chroot)
			if fromZK := normalize(zkRun.all, zks[0].Addr); fromCoord != fromZK {
				t.Errorf("coordctl prints different things against coord and ZooKeeper (-coord +zookeeper):\n%s", lineDiff(fromCoord, fromZK))
			}
			zOut, _ := compareWithZkCli(t, inst, zks[1].Addr, zks[1].Addr+chroot, configScript, zkRun, zks[0].Addr)
			if !strings.Contains(zOut, "aclVersion = -1\n") {
				t.Errorf("zkCli's output looks wrong:\n%s", zOut)
			}
		})
	}
}
