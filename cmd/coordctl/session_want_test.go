package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestInteractiveSession runs sessionScript against coord through stdin and
// checks the whole transcript: prompts, command output, errors (stderr is
// interleaved here as on a terminal) and watch events. The usage counters
// of listquota's "Output stat" line are the server's business (coord does
// not maintain them yet); their format is checked against zkCli in
// TestAgainstZooKeeper.
func TestInteractiveSession(t *testing.T) {
	addr := startCoord(t)
	r := runCtl(t, script(sessionScript, addr), "-server", addr)
	got := reQuotaStats.ReplaceAllString(normalize(r.all, addr), "Output stat for $1 STATS")
	if got != sessionWant {
		t.Errorf("transcript differs (-want +got):\n%s", lineDiff(sessionWant, got))
	}
	if r.code != 0 {
		t.Errorf("exit code %d, want 0 (the last command succeeded)", r.code)
	}
}

// lineDiff is a small line-by-line diff for failure messages.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var sb strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			sb.WriteString("line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b + "\n")
		}
	}
	return sb.String()
}

const sessionWant = `Connecting to ADDR
Welcome to ZooKeeper!

WATCHER::

WatchedEvent state:SyncConnected type:None path:null
[zk: ADDR(CONNECTED) 0] [zookeeper]
[zk: ADDR(CONNECTED) 1] Created /a
[zk: ADDR(CONNECTED) 2] Created /a/b
[zk: ADDR(CONNECTED) 3] Created /a/s0000000001
[zk: ADDR(CONNECTED) 4] Created /a/e
[zk: ADDR(CONNECTED) 5] Created /cont
[zk: ADDR(CONNECTED) 6] Created /ttl
[zk: ADDR(CONNECTED) 7] hello
[zk: ADDR(CONNECTED) 8] hello
cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 3
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 5
numChildren = 3
[zk: ADDR(CONNECTED) 9] null
[zk: ADDR(CONNECTED) 10] cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 3
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 5
numChildren = 3
[zk: ADDR(CONNECTED) 11] [b, e, s0000000001]
cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 3
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 5
numChildren = 3
[zk: ADDR(CONNECTED) 12] /
/a
/cont
/ttl
/zookeeper
/a/b
/a/e
/a/s0000000001
/zookeeper/config
/zookeeper/quota
[zk: ADDR(CONNECTED) 13] [zk: ADDR(CONNECTED) 14] cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 3
dataVersion = 2
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 2
numChildren = 3
[zk: ADDR(CONNECTED) 15] version No is not valid : /a
[zk: ADDR(CONNECTED) 16] 'world,'anyone
: cdrwa
[zk: ADDR(CONNECTED) 17] Created /b
[zk: ADDR(CONNECTED) 18] 'world,'anyone
: r
'digest,'u:x
: cdrwa
'ip,'1.2.3.4/8
: rw
cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 0
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 4
numChildren = 0
[zk: ADDR(CONNECTED) 19] Insufficient permission : /b
[zk: ADDR(CONNECTED) 20] KeeperErrorCode = InvalidACL for /c
Acl is not valid : /c
[zk: ADDR(CONNECTED) 21] Node does not exist: /nonexist
[zk: ADDR(CONNECTED) 22] Node not empty: /a
[zk: ADDR(CONNECTED) 23] version No is not valid : /cont
[zk: ADDR(CONNECTED) 24] [/a/e]
[zk: ADDR(CONNECTED) 25] [/a/e]
[zk: ADDR(CONNECTED) 26] 3
[zk: ADDR(CONNECTED) 27] Auth scheme: User
ip: 127.0.0.1
[zk: ADDR(CONNECTED) 28] [zk: ADDR(CONNECTED) 29] Auth scheme: User
ip: 127.0.0.1
digest: user
[zk: ADDR(CONNECTED) 30] Created /c
[zk: ADDR(CONNECTED) 31] 'digest,'user:smGaoVKd/cQkjm7b88GyorAUz20=
: cdrwa
[zk: ADDR(CONNECTED) 32] [zk: ADDR(CONNECTED) 33] cZxid = 0xZ
ctime = T
mZxid = 0xZ
mtime = T
pZxid = 0xZ
cversion = 0
dataVersion = 0
aclVersion = 2
ephemeralOwner = 0x0
dataLength = 1
numChildren = 0
[zk: ADDR(CONNECTED) 34] 'world,'anyone
: r
[zk: ADDR(CONNECTED) 35] Sync is OK
[zk: ADDR(CONNECTED) 36] 26 - getAllChildrenNumber /a
27 - whoami
28 - addauth digest user:pass
29 - whoami
30 - create /c x auth::cdrwa
31 - getAcl /c
32 - setAcl /c world:anyone:cdrwa
33 - setAcl -s -v 1 /c world:anyone:r
34 - getAcl /c
35 - sync /a
36 - history
[zk: ADDR(CONNECTED) 37] w2
[zk: ADDR(CONNECTED) 38] printwatches is on
[zk: ADDR(CONNECTED) 39] [zk: ADDR(CONNECTED) 40] printwatches is off
[zk: ADDR(CONNECTED) 41] [zk: ADDR(CONNECTED) 42] w2
[zk: ADDR(CONNECTED) 43] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/a
[zk: ADDR(CONNECTED) 44] [b, e, s0000000001]
[zk: ADDR(CONNECTED) 45] Created /a/c

WATCHER::

WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/a
[zk: ADDR(CONNECTED) 46] Node does not exist: /nope
[zk: ADDR(CONNECTED) 47] Created /nope

WATCHER::

WatchedEvent state:SyncConnected type:NodeCreated path:/nope
[zk: ADDR(CONNECTED) 48] [zk: ADDR(CONNECTED) 49] Created /a/d

WATCHER::

WatchedEvent state:SyncConnected type:NodeCreated path:/a/d
[zk: ADDR(CONNECTED) 50] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/a/d
[zk: ADDR(CONNECTED) 51] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDeleted path:/a/d
[zk: ADDR(CONNECTED) 52] [zk: ADDR(CONNECTED) 53] 
WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/nope
[zk: ADDR(CONNECTED) 54] 
WATCHER::

WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/a
[zk: ADDR(CONNECTED) 55] KeeperErrorCode = No such watcher for /a
[zk: ADDR(CONNECTED) 56] zz
[zk: ADDR(CONNECTED) 57] KeeperErrorCode = No such watcher for /a
[zk: ADDR(CONNECTED) 58] 
WATCHER::

WatchedEvent state:SyncConnected type:DataWatchRemoved path:/a
[zk: ADDR(CONNECTED) 59] [zk: ADDR(CONNECTED) 60] absolute path is /zookeeper/quota/a/zookeeper_limits
Output quota for /a count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1
Output stat for /a STATS
[zk: ADDR(CONNECTED) 61] [zk: ADDR(CONNECTED) 62] absolute path is /zookeeper/quota/a/zookeeper_limits
Output quota for /a count=10,bytes=-1=;byteHardLimit=1000;countHardLimit=-1
Output stat for /a STATS
[zk: ADDR(CONNECTED) 63] count=10,bytes=-1=;byteHardLimit=1000;countHardLimit=-1
[zk: ADDR(CONNECTED) 64] [zk: ADDR(CONNECTED) 65] absolute path is /zookeeper/quota/a/zookeeper_limits
Output quota for /a count=-1,bytes=-1=;byteHardLimit=1000;countHardLimit=-1
Output stat for /a STATS
[zk: ADDR(CONNECTED) 66] [zk: ADDR(CONNECTED) 67] absolute path is /zookeeper/quota/a/zookeeper_limits
quota for /a does not exist.
[zk: ADDR(CONNECTED) 68] []
[zk: ADDR(CONNECTED) 69] [zk: ADDR(CONNECTED) 70] [b, c, cont, nope, ttl, zookeeper]
[zk: ADDR(CONNECTED) 71] Path must start with / character
[zk: ADDR(CONNECTED) 72] Node does not exist: /x/y/z
[zk: ADDR(CONNECTED) 73] org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x
[zk: ADDR(CONNECTED) 74] Created /e1
[zk: ADDR(CONNECTED) 75] []
[zk: ADDR(CONNECTED) 76] 
WATCHER::

WatchedEvent state:Closed type:None path:null
[zk: ADDR(CLOSED) 77] Not connected
[zk: ADDR(CLOSED) 78] 
WATCHER::

WatchedEvent state:SyncConnected type:None path:null
[zk: ADDR(CONNECTED) 79] [b, c, cont, nope, ttl, zookeeper]
[zk: ADDR(CONNECTED) 80] `
