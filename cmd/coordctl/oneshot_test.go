package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord/zkwire"
)

func TestOneShot(t *testing.T) {
	addr := startCoord(t)
	ctl := func(args ...string) result {
		t.Helper()
		return runCtl(t, "", append([]string{"-server", addr}, args...)...)
	}
	check := func(r result, stdout, stderr string, code int) {
		t.Helper()
		if r.stdout != stdout || r.stderr != stderr || r.code != code {
			t.Errorf("got stdout %q stderr %q code %d\nwant stdout %q stderr %q code %d",
				r.stdout, r.stderr, r.code, stdout, stderr, code)
		}
	}
	check(ctl("create", "/app", "v1"), "", "Created /app\n", 0)
	check(ctl("create", "/app/cfg", "hello world"), "", "Created /app/cfg\n", 0)
	check(ctl("create", "-s", "/app/job-", "x"), "", "Created /app/job-0000000001\n", 0)
	check(ctl("ls", "-R", "/"), "/\n/app\n/zookeeper\n/app/cfg\n/app/job-0000000001\n/zookeeper/config\n/zookeeper/quota\n", "", 0)
	check(ctl("ls", "/app"), "[cfg, job-0000000001]\n", "", 0)
	// One-shot arguments are taken as given: no re-splitting of spaces.
	check(ctl("get", "/app/cfg"), "hello world\n", "", 0)
	check(ctl("set", "/app/cfg", "v2"), "", "", 0)
	check(ctl("getAcl", "/app"), "'world,'anyone\n: cdrwa\n", "", 0)
	check(ctl("getAllChildrenNumber", "/app"), "2\n", "", 0)
	check(ctl("sync", "/app"), "Sync is OK\n", "", 0)
	check(ctl("get", "/nope"), "", "Node does not exist: /nope\n", 1)
	check(ctl("delete", "/app"), "", "Node not empty: /app\n", 1)
	check(ctl("get"), "", "get [-s] [-w] path\n", 1)
	check(ctl("set", "-v"), "", "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v\n", 1)

	r := ctl("stat", "/app/cfg")
	want := "cZxid = 0xZ\nctime = T\nmZxid = 0xZ\nmtime = T\npZxid = 0xZ\ncversion = 0\ndataVersion = 1\naclVersion = 0\nephemeralOwner = 0x0\ndataLength = 2\nnumChildren = 0\n"
	if got := normalize(r.stdout, addr); got != want || r.code != 0 {
		t.Errorf("stat: code %d\n%s\nwant\n%s", r.code, got, want)
	}

	r = ctl("frobnicate", "/")
	if r.code != 127 || !strings.HasSuffix(r.stderr, "Command not found: Command not found frobnicate\n") ||
		!strings.Contains(r.stderr, "\tls [-s] [-w] [-R] path\n") || r.stdout != "" {
		t.Errorf("unknown command: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	check(ctl("deleteall", "/app"), "", "", 0)
	check(ctl("ls", "/"), "[zookeeper]\n", "", 0)

	// No server: an error and exit code 1, without running the command.
	r = runCtl(t, "", "-server", "127.0.0.1:1", "-timeout", "2000", "ls", "/")
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "Unable to connect to 127.0.0.1:1: ") {
		t.Errorf("unreachable server: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// help lists the commands on stdout.
	r = runCtl(t, "", "-server", addr, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "\tsetquota -n|-b|-N|-B val path\n") || !strings.Contains(r.stdout, "\tls2 path [watch]\n") {
		t.Errorf("help: code %d stdout %q", r.code, r.stdout)
	}
}

// TestShellExtras covers what the shared session leaves out: zkCli 3.4's
// ls2 and rmr, help, redo/history edge cases, exit codes of quit and end
// of input, multiple servers in -server, and deprecated argument forms.
func TestShellExtras(t *testing.T) {
	addr := startCoord(t)
	in := `create /a x
create /a/b y
ls2 /a
rmr /a
ls /
help
redo 99
redo x
history
ls /a watch
get /zookeeper watch
delete /zookeeper/quota 7
create -t 0 /t
create -c -e /t
create /acl x world:anyone:rx
getAcl /acl
create /w x
printwatches off
get -w /w
set /w y
printwatches
printwatches on
get -w /w
set /w z
get /nope
`
	r := runCtl(t, in, "-server", "127.0.0.1:1,"+addr)
	got := normalize(r.all, addr)
	want := `Connecting to 127.0.0.1:1,ADDR
Welcome to ZooKeeper!

WATCHER::

WatchedEvent state:SyncConnected type:None path:null
[zk: 127.0.0.1:1,ADDR(CONNECTED) 0] Created /a
[zk: 127.0.0.1:1,ADDR(CONNECTED) 1] Created /a/b
[zk: 127.0.0.1:1,ADDR(CONNECTED) 2] [b]
cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 1
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 1
numChildren = 1
[zk: 127.0.0.1:1,ADDR(CONNECTED) 3] [zk: 127.0.0.1:1,ADDR(CONNECTED) 4] [zookeeper]
[zk: 127.0.0.1:1,ADDR(CONNECTED) 5] ` + usageText() + `[zk: 127.0.0.1:1,ADDR(CONNECTED) 6] Command index out of range
[zk: 127.0.0.1:1,ADDR(CONNECTED) 7] Command index out of range
[zk: 127.0.0.1:1,ADDR(CONNECTED) 8] 0 - create /a x
1 - create /a/b y
2 - ls2 /a
3 - rmr /a
4 - ls /
5 - help
6 - redo 99
7 - redo x
8 - history
[zk: 127.0.0.1:1,ADDR(CONNECTED) 9] 'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.
Node does not exist: /a
[zk: 127.0.0.1:1,ADDR(CONNECTED) 10] 'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.

[zk: 127.0.0.1:1,ADDR(CONNECTED) 11] 'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.
Arguments are not valid : /zookeeper/quota
[zk: 127.0.0.1:1,ADDR(CONNECTED) 12] ttl must be positive and cannot be larger than: 1099511627775
[zk: 127.0.0.1:1,ADDR(CONNECTED) 13] -c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.
[zk: 127.0.0.1:1,ADDR(CONNECTED) 14] Unknown perm type: x
Created /acl
[zk: 127.0.0.1:1,ADDR(CONNECTED) 15] 'world,'anyone
: r
[zk: 127.0.0.1:1,ADDR(CONNECTED) 16] Created /w
[zk: 127.0.0.1:1,ADDR(CONNECTED) 17] [zk: 127.0.0.1:1,ADDR(CONNECTED) 18] x
[zk: 127.0.0.1:1,ADDR(CONNECTED) 19] [zk: 127.0.0.1:1,ADDR(CONNECTED) 20] printwatches is off
[zk: 127.0.0.1:1,ADDR(CONNECTED) 21] [zk: 127.0.0.1:1,ADDR(CONNECTED) 22] y
[zk: 127.0.0.1:1,ADDR(CONNECTED) 23] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/w
[zk: 127.0.0.1:1,ADDR(CONNECTED) 24] Node does not exist: /nope
[zk: 127.0.0.1:1,ADDR(CONNECTED) 25] `
	if got != want {
		t.Errorf("transcript differs (-want +got):\n%s", lineDiff(want, got))
	}
	// End of input exits with the last command's code (get /nope failed).
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}

	// quit closes the session (printing its Closed event) and exits with
	// the code of the command before it.
	r = runCtl(t, "get /nope\nquit\nls /\n", "-server", addr)
	if r.code != 1 || !strings.HasSuffix(r.stdout, "\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n") {
		t.Errorf("quit: code %d stdout %q", r.code, r.stdout)
	}
	r = runCtl(t, "ls /\nquit\n", "-server", addr)
	if r.code != 0 {
		t.Errorf("quit after success: code %d", r.code)
	}
}

func usageText() string {
	var sb strings.Builder
	newShell(io.Discard, io.Discard).usage(&sb)
	return sb.String()
}

// TestEventWhileIdle checks that a watch event arriving while the shell
// waits for input is printed at once, followed by the prompt again.
func TestEventWhileIdle(t *testing.T) {
	addr := startCoord(t)
	c, err := zkwire.Dial(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/x", []byte("1"), openACL, 0); err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	all := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run([]string{"-server", addr}, pr, all, all) }()
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.HasSuffix(all.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("output does not end with %q:\n%s", s, all.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	io.WriteString(pw, "get -w /x\n")
	waitFor("1\n[zk: " + addr + "(CONNECTED) 1] ")
	if _, err := c.Set("/x", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	waitFor("[zk: " + addr + "(CONNECTED) 1] \nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/x\n[zk: " + addr + "(CONNECTED) 1] ")
	pw.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shell did not exit at end of input")
	}
}
