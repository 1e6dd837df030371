package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/coordkit/coord/internal/zkreal"
)

func TestParseConnectString(t *testing.T) {
	for _, c := range []struct {
		in     string
		hosts  []string
		chroot string
		err    string
	}{
		{in: "127.0.0.1:2181", hosts: []string{"127.0.0.1:2181"}},
		{in: "h1:1,h2:2/app", hosts: []string{"h1:1", "h2:2"}, chroot: "/app"},
		{in: "h1:1/", hosts: []string{"h1:1"}},
		{in: "h1/a/b", hosts: []string{"h1:2181"}, chroot: "/a/b"},
		{in: "h1:,[::1],[::1]:7", hosts: []string{"h1:2181", "[::1]:2181", "[::1]:7"}},
		{in: " h1:1 , h2:2 /x", hosts: []string{"h1:1", "h2:2"}, chroot: "/x"},
		{in: "h1:1/app/", err: "Path must not end with / character"},
		{in: "h1:1/a//b", err: `Invalid path string "/a//b" caused by empty node name specified @3`},
		{in: "/app", err: "no server address given"},
	} {
		cs, err := parseConnectString(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(cs.hosts, c.hosts) || cs.chroot != c.chroot {
			t.Errorf("%q: got %q %q %v, want %q %q", c.in, cs.hosts, cs.chroot, err, c.hosts, c.chroot)
		}
	}
}

// chrootScript runs with -server ADDR/app, /app and /outside existing: the
// paths typed are relative to /app; created paths, errors and watch events
// show them so, getEphemerals shows the server's full paths (the Java
// client sends its prefix unchanged), and connect takes a chroot too.
const chrootScript = `ls /
create /x hello
create -s /x/s- v
create -e /x/e
get /x
ls -R /
stat /
getAllChildrenNumber /
getEphemerals /
getEphemerals /app
get /nope
get /outside
delete /x
set -v 9 /x y
ls -w /
create /y
get -w /x
set /x world
addWatch /x
create /x/z
set /x/z zz
delete /x/z
removewatches /x
sync /x
getAcl /x
setAcl /x world:anyone:cdrwa
deleteall /x
delete /y
create /
ls /
connect {{ADDR}}/app/y
ls /
connect {{ADDR}}
ls /
`

// prepareChroot creates /app and /outside on the server at addr.
func prepareChroot(t *testing.T, addr string) {
	t.Helper()
	for _, p := range []string{"/app", "/outside"} {
		if r := runCtl(t, "", "-server", addr, "create", p); r.code != 0 {
			t.Fatalf("create %s on %s: %+v", p, addr, r)
		}
	}
}

const chrootWant = `Connecting to ADDR/app
Welcome to ZooKeeper!

WATCHER::

WatchedEvent state:SyncConnected type:None path:null
[zk: ADDR/app(CONNECTED) 0] []
[zk: ADDR/app(CONNECTED) 1] Created /x
[zk: ADDR/app(CONNECTED) 2] Created /x/s-0000000000
[zk: ADDR/app(CONNECTED) 3] Created /x/e
[zk: ADDR/app(CONNECTED) 4] hello
[zk: ADDR/app(CONNECTED) 5] /
/x
/x/e
/x/s-0000000000
[zk: ADDR/app(CONNECTED) 6] cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 1
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 0
numChildren = 1
[zk: ADDR/app(CONNECTED) 7] 3
[zk: ADDR/app(CONNECTED) 8] [/app/x/e]
[zk: ADDR/app(CONNECTED) 9] [/app/x/e]
[zk: ADDR/app(CONNECTED) 10] Node does not exist: /nope
[zk: ADDR/app(CONNECTED) 11] Node does not exist: /outside
[zk: ADDR/app(CONNECTED) 12] Node not empty: /x
[zk: ADDR/app(CONNECTED) 13] version No is not valid : /x
[zk: ADDR/app(CONNECTED) 14] [x]
[zk: ADDR/app(CONNECTED) 15] Created /y

WATCHER::

WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/
[zk: ADDR/app(CONNECTED) 16] hello
[zk: ADDR/app(CONNECTED) 17] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/x
[zk: ADDR/app(CONNECTED) 18] [zk: ADDR/app(CONNECTED) 19] Created /x/z

WATCHER::

WatchedEvent state:SyncConnected type:NodeCreated path:/x/z
[zk: ADDR/app(CONNECTED) 20] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/x/z
[zk: ADDR/app(CONNECTED) 21] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDeleted path:/x/z
[zk: ADDR/app(CONNECTED) 22] 
WATCHER::

WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/x
[zk: ADDR/app(CONNECTED) 23] Sync is OK
[zk: ADDR/app(CONNECTED) 24] 'world,'anyone
: cdrwa
[zk: ADDR/app(CONNECTED) 25] [zk: ADDR/app(CONNECTED) 26] [zk: ADDR/app(CONNECTED) 27] [zk: ADDR/app(CONNECTED) 28] Node already exists: /
[zk: ADDR/app(CONNECTED) 29] []
[zk: ADDR/app(CONNECTED) 30] 
WATCHER::

WatchedEvent state:Closed type:None path:null

WATCHER::

WatchedEvent state:SyncConnected type:None path:null
[zk: ADDR/app/y(CONNECTED) 31] Node does not exist: /
[zk: ADDR/app/y(CONNECTED) 32] 
WATCHER::

WatchedEvent state:Closed type:None path:null

WATCHER::

WatchedEvent state:SyncConnected type:None path:null
[zk: ADDR(CONNECTED) 33] [app, outside, zookeeper]
[zk: ADDR(CONNECTED) 34] `

// TestChroot runs chrootScript against coord and checks its transcript.
func TestChroot(t *testing.T) {
	addr := startCoord(t)
	prepareChroot(t, addr)
	r := runCtl(t, script(chrootScript, addr), "-server", addr+"/app")
	got := normalize(r.all, addr)
	if got != chrootWant {
		t.Errorf("transcript differs (-want +got):\n%s", lineDiff(chrootWant, got))
	}
}

// TestChrootAgainstZooKeeper runs chrootScript against coord and against
// ZooKeeper with coordctl, and with zkCli against ZooKeeper, and compares
// the three.
func TestChrootAgainstZooKeeper(t *testing.T) {
	inst := zkreal.Require(t)
	zks := zkreal.StartN(t, 2, zkreal.Options{Install: inst, DirPrefix: "coordctl-chroot-"})
	coordAddr := startCoord(t)
	for _, a := range []string{coordAddr, zks[0].Addr, zks[1].Addr} {
		prepareChroot(t, a)
	}
	fromCoord := normalize(runCtl(t, script(chrootScript, coordAddr), "-server", coordAddr+"/app").all, coordAddr)
	zkRun := runCtl(t, script(chrootScript, zks[0].Addr), "-server", zks[0].Addr+"/app")
	if fromZK := normalize(zkRun.all, zks[0].Addr); fromCoord != fromZK {
		t.Errorf("coordctl prints different things against coord and ZooKeeper (-coord +zookeeper):\n%s", lineDiff(fromCoord, fromZK))
	}
	t.Run("zkCli", func(t *testing.T) {
		zOut, _ := compareWithZkCli(t, inst, zks[1].Addr, zks[1].Addr+"/app", script(chrootScript, zks[1].Addr), zkRun, zks[0].Addr)
		if !strings.Contains(zOut, "\n[/app/x/e]\n") {
			t.Errorf("zkCli's output looks wrong:\n%s", zOut)
		}
	})
}
