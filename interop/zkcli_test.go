package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord/internal/zkreal"
)

// Apache ZooKeeper's own shell, zkCli.sh (3.8, Debian package zookeeper),
// drives scripted sessions against a single coordd. The expected
// transcripts below were recorded from ZooKeeper 3.8.0 with the same
// scripts; TestZkCliAgainstZooKeeper re-checks them against the real server
// when ZKCLI_CHECK_ZOOKEEPER=1.

// The first session: create/get/set/stat/ls, ephemeral and sequential
// nodes, errors, ACLs with addauth and setAcl.
const zkcliScript1 = `create /zkcli hello
create /zkcli again
get /zkcli
set /zkcli world
get -s /zkcli
stat /zkcli
ls /
create -e /zkcli/eph e
stat /zkcli/eph
create -s /zkcli/seq- s
create -s /zkcli/seq- s
ls /zkcli
ls -s /zkcli
getAcl /zkcli
delete /zkcli
delete /zkcli/seq-0000000002
get /zkcli/missing
set -v 7 /zkcli x
delete -v 3 /zkcli/seq-0000000001
addauth digest bob:secret
create /zkcli/secret s
setAcl /zkcli/secret auth:bob:secret:cdrwa
getAcl /zkcli/secret
get /zkcli/secret
create /zkcli/ro r
setAcl /zkcli/ro world:anyone:r
getAcl /zkcli/ro
set /zkcli/ro nope
sync /zkcli
quit
`

const zkcliWant1 = `Created /zkcli
Node already exists: /zkcli
hello
world
cZxid = z1
ctime = T
mZxid = z2
mtime = T
pZxid = z1
cversion = 0
dataVersion = 1
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 5
numChildren = 0
cZxid = z1
ctime = T
mZxid = z2
mtime = T
pZxid = z1
cversion = 0
dataVersion = 1
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 5
numChildren = 0
[zkcli, zookeeper]
Created /zkcli/eph
cZxid = z3
ctime = T
mZxid = z3
mtime = T
pZxid = z3
cversion = 0
dataVersion = 0
aclVersion = 0
ephemeralOwner = SESSION
dataLength = 1
numChildren = 0
Created /zkcli/seq-0000000001
Created /zkcli/seq-0000000002
[eph, seq-0000000001, seq-0000000002]
[eph, seq-0000000001, seq-0000000002]
cZxid = z1
ctime = T
mZxid = z2
mtime = T
pZxid = z4
cversion = 3
dataVersion = 1
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 5
numChildren = 3
'world,'anyone
: cdrwa
Node not empty: /zkcli
Node does not exist: /zkcli/missing
version No is not valid : /zkcli
version No is not valid : /zkcli/seq-0000000001
Created /zkcli/secret
'digest,'bob:fyVmFCwVbTJYrznoSu1koqYEYF0=
: cdrwa
s
Created /zkcli/ro
'world,'anyone
: r
Insufficient permission : /zkcli/ro
Sync is OK
`

// The second session, after the first has closed: its ephemeral is gone,
// the digest ACL keeps an unauthenticated session out until addauth.
const zkcliScript2 = `ls /zkcli
get /zkcli/secret
getAcl /zkcli/secret
get /zkcli/ro
delete /zkcli/ro
addauth digest bob:wrong
get /zkcli/secret
addauth digest bob:secret
get /zkcli/secret
ls /zkcli
quit
`

const zkcliWant2 = `[ro, secret, seq-0000000001]
Insufficient permission : /zkcli/secret
Insufficient permission : /zkcli/secret
r
Insufficient permission : /zkcli/secret
s
[secret, seq-0000000001]
`

// zkCliPath finds zkCli.sh beside the ZooKeeper install the interop tests
// use (ZOOKEEPER_HOME, else the Debian layout).
func zkCliPath() (string, error) {
	inst, err := findZooKeeper()
	if err != nil {
		return "", err
	}
	p := filepath.Join(inst.BinDir, "zkCli.sh")
	if !fileExists(p) {
		return "", fmt.Errorf("no %s", p)
	}
	return p, nil
}

var (
	reZxidLine  = regexp.MustCompile(`^([cmp]Zxid) = (0x[0-9a-f]+)$`)
	reTimeLine  = regexp.MustCompile(`^([cm]time) = (.+)$`)
	reOwnerLine = regexp.MustCompile(`^ephemeralOwner = (0x[0-9a-f]+)$`)
)

// runZkCli feeds script to zkCli.sh connected to addr and returns the
// normalized transcript: stdout and stderr together, without the banner,
// connection events and log noise; zxids renamed z1, z2, … in order of
// first appearance (their equalities are what both servers share), times
// checked for ZooKeeper's date format and shown as T, a non-zero
// ephemeralOwner as SESSION.
func runZkCli(t *testing.T, zkcli, addr, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkcli, "-server", addr)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+t.TempDir(), "CLIENT_JVMFLAGS=-Xmx128m -XX:TieredStopAtLevel=1")
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("zkCli.sh did not finish within 45s; output:\n%s", out.String())
	}
	if err != nil {
		t.Fatalf("zkCli.sh: %v; output:\n%s", err, out.String())
	}
	raw := out.String()
	if !strings.Contains(raw, "state:SyncConnected") {
		t.Fatalf("zkCli.sh never connected to %s; output:\n%s", addr, raw)
	}
	zxids := map[string]string{}
	var b strings.Builder
	for _, line := range strings.Split(raw, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "", strings.HasPrefix(line, "SLF4J:"), strings.HasPrefix(line, "Connecting to "),
			line == "Welcome to ZooKeeper!", line == "JLine support is disabled", line == "WATCHER::",
			strings.HasPrefix(line, "WatchedEvent "), strings.HasPrefix(line, "log4j:"),
			strings.Contains(line, " INFO "), strings.Contains(line, " WARN "), strings.HasPrefix(line, "\tat "):
			continue
		}
		if m := reZxidLine.FindStringSubmatch(line); m != nil {
			z, ok := zxids[m[2]]
			if !ok {
				z = fmt.Sprintf("z%d", len(zxids)+1)
				zxids[m[2]] = z
			}
			line = m[1] + " = " + z
		} else if m := reTimeLine.FindStringSubmatch(line); m != nil {
			if _, err := time.Parse("Mon Jan 02 15:04:05 MST 2006", m[2]); err != nil {
				t.Errorf("%s %q is not in ZooKeeper's date format: %v", m[1], m[2], err)
			}
			line = m[1] + " = T"
		} else if m := reOwnerLine.FindStringSubmatch(line); m != nil && m[1] != "0x0" {
			line = "ephemeralOwner = SESSION"
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func checkZkCliTranscripts(t *testing.T, zkcli, addr string) {
	got1 := runZkCli(t, zkcli, addr, zkcliScript1)
	if got1 != zkcliWant1 {
		t.Errorf("session 1 transcript differs:\n%s", lineDiff(strings.Split(zkcliWant1, "\n"), strings.Split(got1, "\n")))
	}
	got2 := runZkCli(t, zkcli, addr, zkcliScript2)
	if got2 != zkcliWant2 {
		t.Errorf("session 2 transcript differs:\n%s", lineDiff(strings.Split(zkcliWant2, "\n"), strings.Split(got2, "\n")))
	}
}

// TestZkCliCoordd runs ZooKeeper's zkCli.sh against a single coordd.
func TestZkCliCoordd(t *testing.T) {
	zkcli, err := zkCliPath()
	needTool(t, "zkCli.sh", err)
	e := startCoorddEnsemble(t, 1, coorddOptions{})
	if mode := e.mode(0); mode != "standalone" {
		t.Fatalf("mode %q", mode)
	}
	checkZkCliTranscripts(t, zkcli, e.nodes[0].clientAddr)
}

// TestZkCliAgainstZooKeeper checks the recorded transcripts against the
// real ZooKeeper (opt-in: it costs a ZooKeeper start).
func TestZkCliAgainstZooKeeper(t *testing.T) {
	if os.Getenv("ZKCLI_CHECK_ZOOKEEPER") != "1" {
		t.Skip("set ZKCLI_CHECK_ZOOKEEPER=1 to re-check the zkCli transcripts against Apache ZooKeeper")
	}
	zkcli, err := zkCliPath()
	needTool(t, "zkCli.sh", err)
	z, err := startRealZooKeeper()
	if err != nil {
		if zkreal.IsMissing(err) {
			needTool(t, "ZooKeeper", err)
		}
		t.Fatal(err)
	}
	defer z.Stop()
	checkZkCliTranscripts(t, zkcli, z.Addr)
}
