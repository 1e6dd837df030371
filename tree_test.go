package coord

import (
	"math"
	"reflect"
	"testing"
)

// Tests of the bare tree: apply without raft, with invariants checked
// after every command.

func newTestTree(t *testing.T) *tree {
	t.Helper()
	tr := newTree(treeLimits{maxData: 64})
	tr.strict = true
	tr.now = 1_000_000
	if err := tr.checkInvariants(); err != nil {
		t.Fatalf("fresh tree: %v", err)
	}
	treeApply(t, tr, command{kind: opCreateSession, session: 1, ttl: 5000, passwd: []byte("pw")})
	return tr
}

// treeApply applies c and fails the test on an invariant violation.
func treeApply(t *testing.T, tr *tree, c command) result {
	t.Helper()
	if c.kind != opCreateSession && c.session == 0 && c.kind != opDeleteContainer {
		c.session = 1
	}
	r := tr.applyOne(&c)
	if tr.invError != nil {
		t.Fatalf("after %+v: %v", c, tr.invError)
	}
	return r
}

func treeCreate(t *testing.T, tr *tree, path string, mode CreateMode, ttl int64) string {
	t.Helper()
	r := treeApply(t, tr, command{kind: opCreate, path: path, acl: OpenACL, mode: mode, ttl: ttl})
	if r.err != CodeOK {
		t.Fatalf("create %s: %v", path, r.err)
	}
	return r.path
}

func TestSeqName(t *testing.T) {
	for _, tc := range []struct {
		n    int32
		want string
	}{
		{0, "0000000000"},
		{1, "0000000001"},
		{123456789, "0123456789"},
		{math.MaxInt32, "2147483647"},
		{-1, "-000000001"}, // Java's %010d of a negative int
		{-123, "-000000123"},
		{math.MinInt32, "-2147483648"},
	} {
		if got := seqName(tc.n); got != tc.want {
			t.Errorf("seqName(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestSequentialCounterWraps(t *testing.T) {
	tr := newTestTree(t)
	treeCreate(t, tr, "/p", Persistent, 0)
	p := tr.nodes["/p"]
	tr.modify("/p", p, func(n *znode) { n.cseq = math.MaxInt32 })
	if got := treeCreate(t, tr, "/p/s-", PersistentSequential, 0); got != "/p/s-2147483647" {
		t.Fatalf("got %q", got)
	}
	if got := treeCreate(t, tr, "/p/s-", PersistentSequential, 0); got != "/p/s--2147483648" {
		t.Fatalf("after the wrap got %q", got)
	}
}

func TestApplyGuards(t *testing.T) {
	tr := newTestTree(t)
	for _, tc := range []struct {
		name     string
		cmd      command
		want     Code
		takeZxid bool
	}{
		{"CreateSessionTwice", command{kind: opCreateSession, session: 1}, CodeNodeExists, true},
		{"CreateSessionZero", command{kind: opCreateSession, session: 0}, CodeBadArguments, true},
		{"CreateSessionNegative", command{kind: opCreateSession, session: -4}, CodeBadArguments, true},
		{"CloseUnknownSession", command{kind: opCloseSession, session: 99}, CodeSessionExpired, true},
		{"WriteFromUnknownSession", command{kind: opCreate, session: 99, path: "/x", acl: OpenACL}, CodeSessionExpired, true},
		{"MultiFromUnknownSession", command{kind: opMulti, session: 99}, CodeSessionExpired, true},
		{"BareCheck", command{kind: opCheck, session: 1, path: "/"}, CodeUnimplemented, true},
		{"SetACLInsideMulti", command{kind: opMulti, session: 1, ops: []command{{kind: opSetACL, path: "/", acl: OpenACL, version: -1}}}, CodeUnimplemented, true},
		{"QuotaNotImplemented", command{kind: opSetQuota, session: 1, path: "/"}, CodeUnimplemented, true},
		{"EphemeralFromTheNode", command{kind: opCreate, session: 0, path: "/x", acl: OpenACL, mode: Ephemeral}, CodeBadArguments, true},
		{"Sync", command{kind: opSync, session: 1}, CodeOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z0 := tr.zxid
			c := tc.cmd
			r := tr.applyOne(&c)
			if tr.invError != nil {
				t.Fatal(tr.invError)
			}
			if r.err != tc.want {
				t.Fatalf("err %v, want %v", r.err, tc.want)
			}
			want := z0
			if tc.takeZxid {
				want++
			}
			if tr.zxid != want {
				t.Fatalf("zxid %d, want %d", tr.zxid, want)
			}
		})
	}
}

func TestDeleteContainerRules(t *testing.T) {
	tr := newTestTree(t)
	cleanup := func(path string) Code {
		return treeApply(t, tr, command{kind: opDeleteContainer, path: path}).err
	}
	treeCreate(t, tr, "/c", Container, 0)
	treeCreate(t, tr, "/plain", Persistent, 0)
	for _, tc := range []struct {
		path string
		want Code
	}{
		{"/c", CodeBadVersion},     // never had a child
		{"/plain", CodeBadVersion}, // not a container
		{"/missing", CodeNoNode},
		{"/", CodeNoNode},
		{"/zookeeper", CodeNoNode},
	} {
		if got := cleanup(tc.path); got != tc.want {
			t.Fatalf("cleanup %s = %v, want %v", tc.path, got, tc.want)
		}
	}
	treeCreate(t, tr, "/c/x", Persistent, 0)
	if got := cleanup("/c"); got != CodeNotEmpty {
		t.Fatalf("cleanup of a container with a child = %v", got)
	}
	treeApply(t, tr, command{kind: opDelete, path: "/c/x", version: -1})
	if got := cleanup("/c"); got != CodeOK {
		t.Fatalf("cleanup of an emptied container = %v", got)
	}
	if _, ok := tr.nodes["/c"]; ok || len(tr.containers) != 0 {
		t.Fatal("container still there")
	}

	// TTL: removable once now - mtime > ttl, counted from the last data
	// change; children neither refresh it nor let it go.
	tr.now = 2000
	treeCreate(t, tr, "/t", PersistentTTL, 100)
	tr.now = 2100
	if got := cleanup("/t"); got != CodeBadVersion {
		t.Fatalf("cleanup at exactly the TTL = %v", got)
	}
	tr.now = 2050
	treeCreate(t, tr, "/t/kid", Persistent, 0)
	tr.now = 2101
	if got := cleanup("/t"); got != CodeNotEmpty {
		t.Fatalf("cleanup with a child = %v", got)
	}
	treeApply(t, tr, command{kind: opDelete, path: "/t/kid", version: -1})
	tr.now = 2090
	treeApply(t, tr, command{kind: opSetData, path: "/t", data: []byte("x"), version: -1})
	tr.now = 2190
	if got := cleanup("/t"); got != CodeBadVersion {
		t.Fatalf("cleanup within the TTL of the last write = %v", got)
	}
	tr.now = 2191
	if got := cleanup("/t"); got != CodeOK {
		t.Fatalf("cleanup after the TTL = %v", got)
	}
	if len(tr.ttls) != 0 {
		t.Fatal("TTL index not emptied")
	}
}

// TestFailedMultiRestoresEverything applies failing multis that touch
// every kind of state and checks that each leaves the tree exactly as it
// was: nodes, stats, children maps, indexes, ACL references and digest.
func TestFailedMultiRestoresEverything(t *testing.T) {
	tr := newTestTree(t)
	treeCreate(t, tr, "/a", Persistent, 0)
	treeCreate(t, tr, "/a/only", Persistent, 0)
	treeCreate(t, tr, "/b", Container, 0)
	treeCreate(t, tr, "/b/x", Persistent, 0)
	treeCreate(t, tr, "/b/y", Ephemeral, 0)
	treeCreate(t, tr, "/t", PersistentTTL, 50)
	before := dumpTree(tr)
	digest := tr.digest
	fail := command{kind: opCheck, path: "/nope", version: -1}
	for _, tc := range []struct {
		name string
		ops  []command
	}{
		{"DeleteOnlyChild", []command{{kind: opDelete, path: "/a/only", version: -1}, fail}},
		{"DeleteAllChildren", []command{{kind: opDelete, path: "/b/x", version: -1}, {kind: opDelete, path: "/b/y", version: -1}, fail}},
		{"DeleteEverything", []command{
			{kind: opDelete, path: "/a/only", version: -1}, {kind: opDelete, path: "/a", version: -1},
			{kind: opDelete, path: "/b/x", version: -1}, {kind: opDelete, path: "/b/y", version: -1},
			{kind: opDelete, path: "/b", version: -1}, {kind: opDelete, path: "/t", version: -1}, fail}},
		{"CreateUnderChildless", []command{{kind: opCreate, path: "/a/only/n", acl: OpenACL}, fail}},
		{"CreateWithNewACL", []command{
			{kind: opCreate, path: "/n1", acl: []ACL{{PermRead, "digest", "u:h"}}},
			{kind: opCreate, path: "/n2", acl: []ACL{{PermRead, "digest", "v:h"}}, mode: Ephemeral},
			{kind: opCreate, path: "/n3", acl: OpenACL, mode: Container},
			{kind: opCreate, path: "/n4", acl: OpenACL, mode: PersistentTTL, ttl: 9}, fail}},
		{"DeleteThenRecreate", []command{
			{kind: opDelete, path: "/a/only", version: -1},
			{kind: opCreate, path: "/a/only", acl: []ACL{{PermAll, "ip", "10.0.0.0/8"}, {PermWrite, "world", "anyone"}}, mode: Ephemeral},
			{kind: opSetData, path: "/a/only", data: []byte("new"), version: 0}, fail}},
		{"SequentialAndSetData", []command{
			{kind: opCreate, path: "/a/s-", acl: OpenACL, mode: PersistentSequential},
			{kind: opCreate, path: "/a/s-", acl: OpenACL, mode: EphemeralSequential},
			{kind: opSetData, path: "/a", data: []byte("1"), version: -1},
			{kind: opSetData, path: "/a", data: []byte("22"), version: 1}, fail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := treeApply(t, tr, command{kind: opMulti, ops: tc.ops})
			if r.err != CodeNoNode || r.multi[len(tc.ops)-1].err != CodeNoNode {
				t.Fatalf("multi result %+v", r)
			}
			if tr.digest != digest {
				t.Fatalf("digest %x, want %x", tr.digest, digest)
			}
			if after := dumpTree(tr); !reflect.DeepEqual(after, before) {
				t.Fatalf("tree changed by a failed multi\nbefore %+v\nafter  %+v", before, after)
			}
			if len(tr.fired) != 0 || len(tr.unrefs) != 0 || tr.undo != nil {
				t.Fatal("scratch state left behind")
			}
		})
	}
	// And the tree still works: the same ops without the failing one apply.
	r := treeApply(t, tr, command{kind: opMulti, ops: []command{
		{kind: opDelete, path: "/a/only", version: -1}, {kind: opDelete, path: "/a", version: -1}}})
	if r.err != CodeOK {
		t.Fatalf("multi after failures: %+v", r)
	}
}
