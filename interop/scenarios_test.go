package interop

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// scenarios is the suite. Fresh scenarios run first (they look at the
// untouched tree); the rest each get a private root s.root = "/<name>".
var scenarios = []scenario{
	{name: "fresh_tree", fresh: true, run: scFreshTree},
	{name: "fresh_protected", fresh: true, run: scFreshProtected},
	{name: "create_modes", run: scCreateModes},
	{name: "create_raw_modes", run: scCreateRawModes},
	{name: "sequential_cversion", run: scSequential},
	{name: "create_errors", run: scCreateErrors},
	{name: "null_vs_empty_data", run: scNullData},
	{name: "delete", run: scDelete},
	{name: "set_data", run: scSetData},
	{name: "acl_versions", run: scACLVersions},
	{name: "acl_noauth", run: scNoAuth},
	{name: "acl_digest_masking", run: scDigestMasking},
	{name: "auth_raw", run: scAuthRaw},
	{name: "multi_success", run: scMultiSuccess},
	{name: "multi_failure", run: scMultiFailure},
	{name: "multi_failure_raw", run: scMultiFailureRaw},
	{name: "multi_create_then_set", run: scMultiCreateThenSet},
	{name: "multi_read", run: scMultiRead},
	{name: "unknown_opcode", run: scUnknownOpcode},
	{name: "watch_one_shot", run: scWatchOneShot},
	{name: "watch_multi", run: scWatchMulti},
	{name: "watch_ephemeral_close", run: scWatchEphemeralClose},
	{name: "watch_persistent", run: scWatchPersistent},
	{name: "watch_recursive", run: scWatchRecursive},
	{name: "watch_remove_check", run: scWatchRemove},
	{name: "all_children_number", run: scAllChildrenNumber},
	{name: "get_ephemerals", run: scGetEphemerals},
	{name: "sync", run: scSync},
	{name: "invalid_paths_raw", run: scInvalidPaths},
	{name: "zxid_accounting", run: scZxidAccounting},
	{name: "container_ttl_lifecycle", run: scContainerTTL},

	// Probes whose answer changed between ZooKeeper 3.8 and 3.9; see
	// explained in differential_test.go.
	{name: "v39_check_outside_multi", run: scCheckOutsideMulti},
	{name: "v39_exists_needs_read", run: scExistsNeedsRead},
	{name: "v39_watch_modes_same_path", run: scWatchModesSamePath},
	{name: "v39_remove_persistent_watches", run: scRemovePersistentWatches},
	{name: "v39_multi_create2_and_flags", run: scMultiCreate2},
	{name: "v39_notification_zxid", run: scNotificationZxid},
}

var (
	permR   = int32(zk.PermRead)
	permAll = int32(zk.PermAll)
)

func world(p int32) []zk.ACL { return zk.WorldACL(p) }

// ---- fresh tree ----

func scFreshTree(s *sc) {
	a := s.conn()
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		s.exists(a, p)
		s.get(a, p)
		s.children(a, p)
		s.getACL(a, p)
	}
	r := s.raw()
	count := func(r *jr) string { return fmt.Sprint(r.i32()) }
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/config", "/missing"} {
		s.rawReq(r, "getAllChildrenNumber "+p, opGetAllChildrenN, pathBody(p), count)
	}
	s.rawReq(r, "getChildren(op8) /", opGetChildren, pathWatchBody("/", false), rawStrsSorted)
	s.rawReq(r, "getEphemerals /", opGetEphemerals, pathBody("/"), rawStrsSorted)
	s.rawReq(r, "whoAmI", opWhoAmI, nil, decodeWhoAmI)
}

// decodeWhoAmI renders a WhoAmIResponse, sorted: ZooKeeper keeps a
// connection's ids in a hash set, so their order means nothing.
func decodeWhoAmI(r *jr) string {
	n := r.i32()
	var parts []string
	for i := int32(0); i < n && r.err == nil; i++ {
		parts = append(parts, r.str()+":"+r.str())
	}
	return sortedList(parts)
}

func scFreshProtected(s *sc) {
	a := s.conn()
	s.create(a, "/", nil, 0, world(permAll))
	s.create(a, "/", []byte("x"), zk.FlagEphemeral, world(permAll))
	s.create(a, "/zookeeper", nil, 0, world(permAll))
	s.create(a, "/zookeeper/quota", nil, 0, world(permAll))
	s.create(a, "/zookeeper/config", nil, 0, world(permAll))
	s.create(a, "/zookeeper/x", nil, 0, world(permAll))
	s.children(a, "/zookeeper")
	s.del(a, "/zookeeper/x", -1)
	s.exists(a, "/zookeeper")
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"} {
		s.del(a, p, -1)
	}
	s.del(a, "/zookeeper/config", 0)
	s.del(a, "/", 5)
	s.set(a, "/zookeeper/config", []byte("x"), -1)
	s.setACL(a, "/zookeeper/config", world(permR), -1)
	s.set(a, "/zookeeper/quota", []byte("x"), -1)
	s.exists(a, "/zookeeper/quota")
	s.exists(a, "/")
}

// ---- create ----

func scCreateModes(s *sc) {
	a := s.conn()
	R := s.root
	d := []byte("d")
	for _, m := range []struct {
		label string
		flags int32
	}{{"persistent", 0}, {"ephemeral", zk.FlagEphemeral}, {"pseq-", zk.FlagSequence}, {"eseq-", zk.FlagEphemeralSequential}} {
		if name, err := s.create(a, R+"/"+m.label, d, m.flags, world(permAll)); err == nil {
			s.exists(a, name)
		}
	}
	if name, err := s.createContainer(a, R+"/container", d, world(permAll)); err == nil {
		s.exists(a, name)
	}
	if name, err := s.createTTL(a, R+"/ttl", d, zk.FlagTTL, 10*time.Minute); err == nil {
		s.exists(a, name)
	}
	if name, err := s.createTTL(a, R+"/ttlseq-", d, zk.FlagPersistentSequentialWithTTL, 10*time.Minute); err == nil {
		s.exists(a, name)
	}
	s.children(a, R)
	s.exists(a, R)
	s.create(a, R+"/ephemeral/child", nil, 0, world(permAll))
	s.create(a, R+"/ephemeral/child", nil, zk.FlagEphemeralSequential, world(permAll))
	s.createContainer(a, R+"/ephemeral/cont", nil, world(permAll))
	s.create(a, R+"/container/child", nil, zk.FlagEphemeral, world(permAll))
	s.exists(a, R+"/container")
	s.children(a, R+"/ephemeral")
	s.getACL(a, R+"/ttl")
}

// scCreateRawModes sends create flavours go-zookeeper refuses client-side.
func scCreateRawModes(s *sc) {
	R := s.root
	r := s.raw()
	pathStat := func(r *jr) string { p := r.str(); st := r.stat(); return fmt.Sprintf("%q %s", p, s.stat(&st)) }
	cases := []struct {
		label string
		op    int32
		name  string
		flags int32
		ttl   int64 // -1: not a TTL request
		dec   func(*jr) string
	}{
		{"create(op1) flags=4 container", opCreate, "c1-container", 4, -1, rawPathBody},
		{"create(op1) flags=5 ttl", opCreate, "c1-ttl", 5, -1, rawPathBody},
		{"create(op1) flags=6 ttlseq", opCreate, "c1-ttlseq", 6, -1, rawPathBody},
		{"create(op1) flags=7", opCreate, "c1-7", 7, -1, rawPathBody},
		{"create(op1) flags=-1", opCreate, "c1-neg", -1, -1, rawPathBody},
		{"create2(op15) flags=0", opCreate2, "c2-persistent", 0, -1, pathStat},
		{"create2(op15) flags=1", opCreate2, "c2-ephemeral", 1, -1, pathStat},
		{"create2(op15) flags=2", opCreate2, "c2-seq-", 2, -1, pathStat},
		{"create2(op15) flags=4", opCreate2, "c2-container", 4, -1, pathStat},
		{"createContainer(op19) flags=4", opCreateContainer, "cc-4", 4, -1, pathStat},
		{"createContainer(op19) flags=0", opCreateContainer, "cc-0", 0, -1, pathStat},
		{"createContainer(op19) flags=1", opCreateContainer, "cc-1", 1, -1, pathStat},
		{"createTTL(op21) flags=5 ttl=60000", opCreateTTL, "t-5", 5, 60000, pathStat},
		{"createTTL(op21) flags=6 ttl=60000", opCreateTTL, "t-6-", 6, 60000, pathStat},
		{"createTTL(op21) flags=0 ttl=60000", opCreateTTL, "t-0", 0, 60000, pathStat},
		{"createTTL(op21) flags=1 ttl=60000", opCreateTTL, "t-1", 1, 60000, pathStat},
		{"createTTL(op21) flags=4 ttl=60000", opCreateTTL, "t-4", 4, 60000, pathStat},
		{"createTTL(op21) flags=5 ttl=0", opCreateTTL, "t-ttl0", 5, 0, pathStat},
		{"createTTL(op21) flags=5 ttl=-5", opCreateTTL, "t-ttlneg", 5, -5, pathStat},
		{"createTTL(op21) flags=5 ttl=2^40-1", opCreateTTL, "t-ttlmax", 5, 1<<40 - 1, pathStat},
		{"createTTL(op21) flags=5 ttl=2^40", opCreateTTL, "t-ttlover", 5, 1 << 40, pathStat},
	}
	for _, c := range cases {
		if !r.alive() {
			r = s.raw()
			s.logf("(reconnected raw)")
		}
		s.rawReq(r, c.label+" "+c.name, c.op, createBody(R+"/"+c.name, []byte("d"), world(permAll), c.flags, c.ttl), c.dec)
	}
	a := s.conn()
	s.children(a, R)
	for _, n := range []string{"c1-container", "c1-ttl", "c2-container", "cc-4", "cc-0", "t-5", "t-0", "t-ttlmax"} {
		s.exists(a, R+"/"+n)
	}
}

func scSequential(s *sc) {
	a := s.conn()
	R := s.root
	p := R + "/q"
	s.create(a, p, nil, 0, world(permAll))
	C := 0 // child creates that succeeded under p
	claim := func() {
		st := s.exists(a, p)
		if st == nil {
			return
		}
		want := int32(2*C) - st.NumChildren
		verdict := "holds"
		if want != st.Cversion {
			verdict = "FAILS"
		}
		s.logf("   claim cversion == 2*C - numChildren: C=%d numChildren=%d 2C-n=%d cversion=%d -> %s",
			C, st.NumChildren, want, st.Cversion, verdict)
	}
	mk := func(name string, flags int32) string {
		n, err := s.create(a, p+"/"+name, nil, flags, world(permAll))
		if err == nil {
			C++
		}
		claim()
		return n
	}
	first := mk("a-", zk.FlagSequence)
	mk("a-", zk.FlagSequence)
	mk("b-", zk.FlagSequence)
	mk("e-", zk.FlagEphemeralSequential)
	mk("plain", 0)
	s.del(a, first, -1)
	claim()
	mk("a-", zk.FlagSequence)
	mk("plain", 0) // NodeExists: no change
	s.del(a, p+"/missing", -1)
	claim()
	if _, err := s.createContainer(a, p+"/cont", nil, world(permAll)); err == nil {
		C++
	}
	claim()
	mk("after-container-", zk.FlagSequence)
	s.set(a, p+"/plain", []byte("x"), -1)
	claim()
	mk("", zk.FlagSequence) // path ends with "/": name is just the counter
	res, err := a.multiRaw(
		&zk.CreateRequest{Path: p + "/m-", Acl: world(permAll), Flags: zk.FlagSequence},
		&zk.CreateRequest{Path: p + "/m-", Acl: world(permAll), Flags: zk.FlagSequence},
	)
	var names []string
	for _, r := range res {
		names = append(names, r.String)
		if r.Error == nil {
			C++
		}
	}
	s.logf("c1 multi two sequential creates -> %s %v", errName(err), names)
	claim()
	// a failed multi containing a sequential create: does the counter move?
	_, err = a.multiRaw(
		&zk.CreateRequest{Path: p + "/f-", Acl: world(permAll), Flags: zk.FlagSequence},
		&zk.CreateRequest{Path: p + "/plain", Acl: world(permAll)},
	)
	s.logf("c1 multi seq create + failing create -> %s", errName(err))
	claim()
	mk("after-failed-multi-", zk.FlagSequence)
	// delete everything: cversion keeps moving
	kids, _, _ := a.c.Children(p)
	for _, k := range sortedKids(kids) {
		s.del(a, p+"/"+k, -1)
	}
	claim()
	mk("last-", zk.FlagSequence)
	s.children(a, p)
}

func sortedKids(k []string) []string {
	out := append([]string{}, k...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func scCreateErrors(s *sc) {
	a := s.conn()
	R := s.root
	bad := []struct {
		label string
		acl   []zk.ACL
	}{
		{"empty", []zk.ACL{}},
		{"scheme foo", []zk.ACL{{Perms: permAll, Scheme: "foo", ID: "bar"}}},
		{"world:someone", []zk.ACL{{Perms: permAll, Scheme: "world", ID: "someone"}}},
		{"world:anyone perms=0", []zk.ACL{{Perms: 0, Scheme: "world", ID: "anyone"}}},
		{"world:anyone perms=63", []zk.ACL{{Perms: 63, Scheme: "world", ID: "anyone"}}},
		{"auth without auth", zk.AuthACL(permAll)},
		{"digest nocolon", []zk.ACL{{Perms: permAll, Scheme: "digest", ID: "nocolon"}}},
		{"digest u:notbase64", []zk.ACL{{Perms: permAll, Scheme: "digest", ID: "u:not-a-digest"}}},
		{"ip notanip", []zk.ACL{{Perms: permAll, Scheme: "ip", ID: "notanip"}}},
		{"ip 127.0.0.1", []zk.ACL{{Perms: permAll, Scheme: "ip", ID: "127.0.0.1"}}},
		{"ip 10.0.0.0/8", []zk.ACL{{Perms: permAll, Scheme: "ip", ID: "10.0.0.0/8"}}},
		{"ip 10.0.0.0/33", []zk.ACL{{Perms: permAll, Scheme: "ip", ID: "10.0.0.0/33"}}},
		{"super digest", []zk.ACL{{Perms: permAll, Scheme: "super", ID: "x"}}},
		{"world + bad scheme", []zk.ACL{{Perms: permAll, Scheme: "world", ID: "anyone"}, {Perms: permAll, Scheme: "foo", ID: "bar"}}},
		{"duplicate entries", []zk.ACL{{Perms: permR, Scheme: "world", ID: "anyone"}, {Perms: permR, Scheme: "world", ID: "anyone"}}},
	}
	for i, b := range bad {
		p := fmt.Sprintf("%s/acl%d", R, i)
		s.logf("-- acl case: %s", b.label)
		if _, err := s.create(a, p, nil, 0, b.acl); err == nil {
			s.getACL(a, p)
		}
	}
	s.logf("-- precedence")
	s.create(a, R+"/nope/x", nil, 0, world(permAll))                // NoNode
	s.create(a, R+"/nope/x", nil, 0, []zk.ACL{})                    // ACL vs parent
	s.create(a, R+"/nope/x-", nil, zk.FlagSequence, world(permAll)) // NoNode
	s.create(a, R+"/dup", nil, 0, world(permAll))                   // ok
	s.create(a, R+"/dup", nil, 0, world(permAll))                   // NodeExists
	s.create(a, R+"/dup", nil, 0, []zk.ACL{})                       // ACL vs exists
	s.create(a, R+"/eph", nil, zk.FlagEphemeral, world(permAll))    // ok
	s.create(a, R+"/eph/c", nil, 0, world(permAll))                 // NoChildrenForEphemerals
	s.create(a, R+"/eph/c", nil, 0, []zk.ACL{})                     // ACL vs ephemeral parent
	s.create(a, R+"/ro", nil, 0, world(permR))                      // ok
	s.create(a, R+"/ro/c", nil, 0, world(permAll))                  // NoAuth
	s.create(a, R+"/ro/c", nil, 0, []zk.ACL{})                      // ACL vs NoAuth
	s.create(a, R+"/ro", nil, 0, world(permAll))                    // exists vs (nothing)
	s.create(a, R+"/eph", nil, 0, world(permAll))                   // NodeExists
	s.logf("-- path syntax vs other checks (raw, bypassing client validation)")
	r := s.raw()
	for _, c := range []struct {
		label string
		path  string
		acl   []zk.ACL
		flags int32
	}{
		{"bad last segment under READ-only parent", R + "/ro/.", world(permAll), 0},
		{"bad last segment under missing parent", R + "/nope/.", world(permAll), 0},
		{"bad last segment + empty ACL", R + "/.", []zk.ACL{}, 0},
		{"NUL in name under READ-only parent", R + "/ro/x\x00", world(permAll), 0},
		{"bad last segment under ephemeral", R + "/eph/.", world(permAll), 0},
		{"empty segment in parent", R + "//x", world(permAll), 0},
		{"trailing slash, non-sequential", R + "/dup/", world(permAll), 0},
		{"trailing slash, sequential, ephemeral parent", R + "/eph/", world(permAll), 2},
		{"'..' sequential", R + "/..", world(permAll), 2},
		{"existing node, bad flags", R + "/dup", world(permAll), 9},
	} {
		if !r.alive() {
			r = s.raw()
		}
		s.rawReq(r, "create "+c.label, opCreate, createBody(c.path, nil, c.acl, c.flags, -1), rawPathBody)
	}
	// The "auth" scheme expands to the connection's ids, which ZooKeeper
	// keeps in a hash set: the order of the expanded entries means nothing,
	// so those ACLs are shown sorted.
	s.logf("-- auth ACL after addAuth (ACLs shown sorted)")
	s.addAuth(a, "digest", "u1:p1")
	if _, err := s.create(a, R+"/authacl", nil, 0, zk.AuthACL(permAll)); err == nil {
		s.getACLSorted(a, R+"/authacl")
	}
	s.addAuth(a, "digest", "u2:p2")
	if _, err := s.create(a, R+"/authacl2", nil, 0, zk.AuthACL(permR)); err == nil {
		s.getACLSorted(a, R+"/authacl2")
	}
	mixed := append(zk.AuthACL(permAll), zk.ACL{Perms: permR, Scheme: "world", ID: "anyone"})
	if _, err := s.create(a, R+"/authmixed", nil, 0, mixed); err == nil {
		s.getACLSorted(a, R+"/authmixed")
	}
	authWithID := []zk.ACL{{Perms: permAll, Scheme: "auth", ID: "ignored"}}
	if _, err := s.create(a, R+"/authid", nil, 0, authWithID); err == nil {
		s.getACLSorted(a, R+"/authid")
	}
}

func scNullData(s *sc) {
	a := s.conn()
	R := s.root
	s.create(a, R+"/null", nil, 0, world(permAll))
	s.create(a, R+"/empty", []byte{}, 0, world(permAll))
	s.get(a, R+"/null")
	s.get(a, R+"/empty")
	s.set(a, R+"/empty", nil, -1)
	s.get(a, R+"/empty")
	s.set(a, R+"/null", []byte{}, -1)
	s.get(a, R+"/null")
	s.get(a, R)
	r := s.raw()
	getData := func(r *jr) string { d := r.buf(); st := r.stat(); return data(d) + " " + s.stat(&st) }
	s.rawReq(r, "getData(raw) null-set-to-empty", opGetData, pathWatchBody(R+"/null", false), getData)
	s.rawReq(r, "getData(raw) empty-set-to-null", opGetData, pathWatchBody(R+"/empty", false), getData)
	big := make([]byte, 1<<20-256)
	_, err := a.c.Create(R+"/big", big, 0, world(permAll))
	s.logf("c1 create %s/big with %d bytes -> %s", R, len(big), errName(err))
}

// ---- delete / setData ----

func scDelete(s *sc) {
	a := s.conn()
	R := s.root
	p := R + "/d"
	s.create(a, p, nil, 0, world(permAll))
	s.create(a, p+"/child", nil, 0, world(permAll))
	s.del(a, p, -1)
	s.del(a, p, 5)
	s.del(a, R+"/missing", -1)
	s.del(a, R+"/missing", 5)
	s.del(a, R+"/missing/deeper", -1)
	s.del(a, p+"/child", 1)
	s.del(a, p+"/child", 0)
	s.exists(a, p)
	s.del(a, p, 0)
	s.exists(a, R)
	s.del(a, p, -1)
	b := s.conn()
	s.create(b, R+"/b-eph", nil, zk.FlagEphemeral, world(permAll))
	s.del(a, R+"/b-eph", -1)
	s.exists(a, R)
	// delete needs DELETE on the parent, not on the node
	s.create(a, R+"/nodel", nil, 0, []zk.ACL{{Perms: zk.PermAll &^ zk.PermDelete, Scheme: "world", ID: "anyone"}})
	s.create(a, R+"/nodel/c", nil, 0, world(0|zk.PermRead))
	s.del(a, R+"/nodel/c", -1)
	s.del(a, R+"/nodel/missing", -1)
	s.del(a, R+"/nodel", -1)
}

func scSetData(s *sc) {
	a := s.conn()
	R := s.root
	p := R + "/n"
	s.create(a, p, []byte("v0"), 0, world(permAll))
	s.exists(a, p)
	s.set(a, p, []byte("v1"), -1)
	s.set(a, p, []byte("v1"), -1) // identical bytes
	s.set(a, p, []byte("v2"), 2)
	s.set(a, p, []byte("v3"), 7)
	s.set(a, p, []byte("v3"), -2)
	s.set(a, R+"/missing", []byte("x"), -1)
	s.set(a, R+"/missing", []byte("x"), 3)
	s.get(a, p)
	s.exists(a, R) // parent untouched by child setData
	s.set(a, R, []byte("root-data"), -1)
	s.exists(a, R)
}

// ---- ACLs ----

func scACLVersions(s *sc) {
	a := s.conn()
	R := s.root
	p := R + "/n"
	s.create(a, p, []byte("x"), 0, world(permAll))
	s.getACL(a, p)
	s.setACL(a, p, world(permAll&^zk.PermDelete), -1)
	s.setACL(a, p, world(permAll), 5)
	s.setACL(a, p, world(permAll), 0)
	s.setACL(a, p, world(permAll), 1)
	s.setACL(a, p, world(permAll), 2) // same ACL again: still counts
	s.setACL(a, p, []zk.ACL{}, -1)
	s.setACL(a, p, []zk.ACL{{Perms: permAll, Scheme: "foo", ID: "x"}}, -1)
	s.setACL(a, p, zk.AuthACL(permAll), -1)
	s.setACL(a, R+"/missing", world(permAll), -1)
	s.getACL(a, p)
	s.get(a, p)
	s.exists(a, R)
}

func scNoAuth(s *sc) {
	a := s.conn()
	R := s.root
	ro := R + "/ro"
	s.create(a, ro, []byte("x"), 0, world(permR))
	s.set(a, ro, []byte("y"), -1)
	s.create(a, ro+"/c", nil, 0, world(permAll))
	s.setACL(a, ro, world(permAll), -1)
	s.get(a, ro)
	s.getACL(a, ro)
	s.children(a, ro)

	nr := R + "/noread"
	s.create(a, nr, []byte("x"), 0, world(zk.PermWrite|zk.PermCreate|zk.PermDelete))
	s.get(a, nr)
	s.children(a, nr)
	s.getACL(a, nr)
	s.sync(a, nr)
	s.set(a, nr, []byte("y"), -1)
	s.create(a, nr+"/c", nil, 0, world(permAll))
	s.getW(a, nr)
	s.childrenW(a, nr)
	r := s.raw()
	s.rawReq(r, "getAllChildrenNumber noread", opGetAllChildrenN, pathBody(nr), func(r *jr) string { return fmt.Sprint(r.i32()) })
	s.rawReq(r, "getEphemerals noread", opGetEphemerals, pathBody(nr), rawStrsSorted)
	s.rawReq(r, "addWatch noread persistent", opAddWatch, pathIntBody(nr, 0), errRespBody)
	s.del(a, nr+"/c", -1)

	ad := R + "/adminonly"
	s.create(a, ad, []byte("x"), 0, world(zk.PermAdmin))
	s.getACL(a, ad)
	s.get(a, ad)
	s.setACL(a, ad, world(permAll), -1)
	s.get(a, ad)

	nc := R + "/nocreate"
	s.create(a, nc, nil, 0, world(permAll&^zk.PermCreate))
	s.create(a, nc+"/c", nil, 0, world(permAll))
	s.create(a, nc+"/c-", nil, zk.FlagSequence, world(permAll))
	s.createContainer(a, nc+"/cc", nil, world(permAll))
	s.del(a, nc+"/missing", -1) // NoNode or NoAuth? (it has DELETE)

	nd := R + "/nodelete"
	s.create(a, nd, nil, 0, world(permAll&^zk.PermDelete))
	s.create(a, nd+"/c", nil, 0, world(permAll))
	s.del(a, nd+"/c", -1)
	s.del(a, nd+"/missing", -1)
	s.del(a, nd+"/c", 9) // NoAuth before BadVersion?

	ip := R + "/ip"
	s.create(a, ip+"-local", []byte("x"), 0, []zk.ACL{{Perms: permR, Scheme: "ip", ID: "127.0.0.1"}})
	s.create(a, ip+"-net", []byte("x"), 0, []zk.ACL{{Perms: permR, Scheme: "ip", ID: "127.0.0.0/8"}})
	s.create(a, ip+"-other", []byte("x"), 0, []zk.ACL{{Perms: permR, Scheme: "ip", ID: "10.1.2.3"}})
	s.get(a, ip+"-local")
	s.get(a, ip+"-net")
	s.get(a, ip+"-other")
	s.getACL(a, ip+"-other")
}

func scDigestMasking(s *sc) {
	a := s.conn()
	R := s.root
	dn := R + "/dig"
	u1 := zk.DigestACL(permAll, "u1", "p1")[0]
	u2 := zk.DigestACL(permR|zk.PermAdmin, "u2", "p2")[0]
	s.create(a, dn, []byte("x"), 0, []zk.ACL{u1, u2, {Perms: permR, Scheme: "world", ID: "anyone"}})
	s.logf("(u1 digest id is %s)", u1.ID)
	s.getACL(a, dn)
	s.get(a, dn)
	s.set(a, dn, []byte("y"), -1)
	b := s.conn()
	s.addAuth(b, "digest", "u1:p1")
	s.getACL(b, dn)
	s.set(b, dn, []byte("y"), -1)
	c := s.conn()
	s.addAuth(c, "digest", "u3:p3")
	s.getACL(c, dn)
	s.addAuth(c, "digest", "u2:p2")
	s.getACL(c, dn)
	s.addAuth(c, "digest", "u2:wrong")
	s.getACL(c, dn)
	// READ but no ADMIN, node with ip and world entries too
	mixed := R + "/mixed"
	s.create(a, mixed, nil, 0, []zk.ACL{
		{Perms: permR, Scheme: "world", ID: "anyone"},
		{Perms: permAll, Scheme: "ip", ID: "10.0.0.1"},
		zk.DigestACL(permAll, "u9", "p9")[0],
	})
	s.getACL(a, mixed)
	// ADMIN via world: everyone sees it unmasked
	adm := R + "/worldadmin"
	s.create(a, adm, nil, 0, []zk.ACL{{Perms: zk.PermAdmin, Scheme: "world", ID: "anyone"}, zk.DigestACL(permAll, "u9", "p9")[0]})
	s.getACL(a, adm)
	r := s.raw()
	s.rawReq(r, "whoAmI before auth", opWhoAmI, nil, decodeWhoAmI)
	s.rawReq(r, "auth digest u1:p1", opAuth, (&jw{}).i32(0).str("digest").buf([]byte("u1:p1")).b, nil)
	s.rawReq(r, "whoAmI after auth", opWhoAmI, nil, decodeWhoAmI)
	s.rawReq(r, "auth digest u1:p1 again", opAuth, (&jw{}).i32(0).str("digest").buf([]byte("u1:p1")).b, nil)
	s.rawReq(r, "whoAmI after same auth twice", opWhoAmI, nil, decodeWhoAmI)
}

// scAuthRaw: failing auth packets, each on its own connection.
func scAuthRaw(s *sc) {
	for _, c := range []struct{ scheme, auth string }{
		{"foo", "bar"},
		{"digest", "nocolon"},
		{"digest", ""},
		{"ip", "127.0.0.1"},
		{"world", "anyone"},
		{"super", "x:y"},
	} {
		r := s.raw()
		s.rawReq(r, fmt.Sprintf("auth %s %q", c.scheme, c.auth), opAuth, (&jw{}).i32(0).str(c.scheme).buf([]byte(c.auth)).b, nil)
		// No pause needed: a server that fails the auth stops reading
		// before it replies, so this exists is never answered and ends at
		// the close; either way it ends after every earlier frame arrived.
		rep, err := r.call(opExists, pathWatchBody("/", false))
		switch {
		case err != nil:
			s.logf("   then exists / -> %v", err)
		default:
			s.logf("   then exists / -> %s", codeName(rep.err))
		}
		evs := r.takeEvents()
		for _, e := range evs {
			s.logf("   notification type=%d state=%d path=%q", e.typ, e.state, e.path)
		}
	}
}

// ---- multi ----

func scMultiSuccess(s *sc) {
	a := s.conn()
	R := s.root
	p := R + "/m"
	s.create(a, p, []byte("0"), 0, world(permAll))
	s.multi(a, "create,createSeq,set,check,delete",
		&zk.CreateRequest{Path: R + "/m1", Data: []byte("x"), Acl: world(permAll)},
		&zk.CreateRequest{Path: R + "/s-", Acl: world(permAll), Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: p, Data: []byte("1"), Version: 0},
		&zk.CheckVersionRequest{Path: p, Version: 1},
		&zk.DeleteRequest{Path: R + "/m1", Version: 0},
	)
	s.exists(a, p)
	s.exists(a, R)
	s.children(a, R)
	s.multi(a, "container via create(flags=4)", &zk.CreateRequest{Path: R + "/mc", Acl: world(permAll), Flags: zk.FlagContainer})
	s.exists(a, R+"/mc")
	s.multi(a, "ephemeral", &zk.CreateRequest{Path: R + "/me", Acl: world(permAll), Flags: zk.FlagEphemeral})
	s.exists(a, R+"/me")
	s.multi(a, "empty")
	s.multi(a, "check only", &zk.CheckVersionRequest{Path: p, Version: 1})
	s.multi(a, "check -1", &zk.CheckVersionRequest{Path: p, Version: -1})

	r := s.raw()
	ops := []mop{
		{opCreate, createBody(R+"/r2", []byte("a"), world(permAll), 0, -1)},
		{opCreateContainer, createBody(R+"/rc", nil, world(permAll), 4, -1)},
		{opCreateTTL, createBody(R+"/rt", nil, world(permAll), 5, 60000)},
		{opCreate, createBody(R+"/r1", nil, world(permAll), 0, -1)},
		{opSetData, (&jw{}).str(R + "/r1").buf([]byte("b")).i32(0).b},
		{opCheck, pathIntBody(R+"/r1", 1)},
		{opDelete, pathIntBody(R+"/r1", 1)},
	}
	s.rawMulti(r, "raw multi create,createContainer,createTTL,create,set,check,delete", opMulti, ops)
	s.rawMulti(r, "raw multi empty", opMulti, nil)
	s.rawMulti(r, "raw multi create(op1) flags=4 (container)", opMulti, []mop{{opCreate, createBody(R+"/rc1", nil, world(permAll), 4, -1)}})
	s.rawMulti(r, "raw multi create(op1) flags=1 (ephemeral)", opMulti, []mop{{opCreate, createBody(R+"/re1", nil, world(permAll), 1, -1)}})
	s.exists(a, R+"/rc1")
}

type mop struct {
	op   int32
	body []byte
}

func multiBody(ops []mop) []byte {
	w := &jw{}
	for _, o := range ops {
		w.i32(o.op).bool(false).i32(-1)
		w.b = append(w.b, o.body...)
	}
	w.i32(-1).bool(true).i32(-1)
	return w.b
}

// rawMulti sends a multi (opcode 14) or multiRead (22) and records the reply
// header and every result, including error results.
func (s *sc) rawMulti(r *rawConn, label string, op int32, ops []mop) {
	rep, err := r.call(op, multiBody(ops))
	if err != nil {
		s.logf("raw %s -> %v", label, err)
		return
	}
	d := &jr{b: rep.body}
	if rep.err != 0 {
		d.b = nil // clients ignore the body of an error reply
	}
	var parts []string
	for d.err == nil && len(d.b) > 0 {
		typ, done, herr := d.i32(), d.bool(), d.i32()
		if done {
			parts = append(parts, fmt.Sprintf("done(type=%d err=%d)", typ, herr))
			break
		}
		var v string
		switch typ {
		case -1:
			v = "error " + codeName(d.i32())
		case opCreate:
			v = fmt.Sprintf("create %q", d.str())
		case opCreate2, opCreateContainer, opCreateTTL:
			pth := d.str()
			st := d.stat()
			v = fmt.Sprintf("op%d %q %s", typ, pth, s.stat(&st))
		case opSetData:
			st := d.stat()
			v = "setData " + s.stat(&st)
		case opDelete:
			v = "delete"
		case opCheck:
			v = "check"
		case opGetData:
			dd := d.buf()
			st := d.stat()
			v = "getData " + data(dd) + " " + s.stat(&st)
		case opGetChildren:
			v = "getChildren " + sortedList(d.strs())
		default:
			v = fmt.Sprintf("type %d (undecodable)", typ)
			d.b = nil
		}
		if herr != 0 && typ != -1 {
			v += fmt.Sprintf(" headerErr=%d", herr)
		} else if typ == -1 {
			v += fmt.Sprintf(" (header err=%s)", codeName(herr))
		}
		parts = append(parts, v)
	}
	if d.err != nil {
		parts = append(parts, "decode error: "+d.err.Error())
	}
	s.logf("raw %s -> reply err=%s results=[%s]", label, codeName(rep.err), strings.Join(parts, "; "))
}

func scMultiFailure(s *sc) {
	a := s.conn()
	R := s.root
	p := R + "/m"
	s.create(a, p, []byte("0"), 0, world(permAll))
	s.create(a, R+"/parent", nil, 0, world(permAll))
	s.create(a, R+"/parent/kid", nil, 0, world(permAll))
	s.multi(a, "create ok, create dup, set",
		&zk.CreateRequest{Path: R + "/f1", Acl: world(permAll)},
		&zk.CreateRequest{Path: p, Acl: world(permAll)},
		&zk.SetDataRequest{Path: p, Data: []byte("x"), Version: -1},
	)
	s.exists(a, R+"/f1")
	s.multi(a, "check fails first",
		&zk.CheckVersionRequest{Path: p, Version: 9},
		&zk.CreateRequest{Path: R + "/f2", Acl: world(permAll)},
	)
	s.multi(a, "delete missing last",
		&zk.CreateRequest{Path: R + "/f3", Acl: world(permAll)},
		&zk.SetDataRequest{Path: p, Data: []byte("x"), Version: 0},
		&zk.DeleteRequest{Path: R + "/missing", Version: -1},
	)
	s.multi(a, "bad acl", &zk.CreateRequest{Path: R + "/f4", Acl: []zk.ACL{}})
	s.multi(a, "bad version set", &zk.SetDataRequest{Path: p, Data: []byte("x"), Version: 5})
	s.multi(a, "missing parent", &zk.CreateRequest{Path: R + "/nope/x", Acl: world(permAll)})
	s.multi(a, "delete nonempty", &zk.DeleteRequest{Path: R + "/parent", Version: -1})
	s.multi(a, "check missing node", &zk.CheckVersionRequest{Path: R + "/missing", Version: 0})
	s.multi(a, "two failures", &zk.CheckVersionRequest{Path: p, Version: 9}, &zk.DeleteRequest{Path: R + "/missing", Version: -1})
	s.multi(a, "create then create same",
		&zk.CreateRequest{Path: R + "/f5", Acl: world(permAll)},
		&zk.CreateRequest{Path: R + "/f5", Acl: world(permAll)},
	)
	s.multi(a, "delete then set deleted",
		&zk.DeleteRequest{Path: R + "/parent/kid", Version: -1},
		&zk.SetDataRequest{Path: R + "/parent/kid", Data: []byte("x"), Version: -1},
	)
	s.exists(a, p)
	s.exists(a, R)
	s.children(a, R)
	s.children(a, R+"/parent")
}

func scMultiFailureRaw(s *sc) {
	a := s.conn()
	R := s.root
	s.create(a, R+"/m", []byte("0"), 0, world(permAll))
	r := s.raw()
	s.rawMulti(r, "raw multi create ok, check fails, create, set", opMulti, []mop{
		{opCreate, createBody(R+"/a", nil, world(permAll), 0, -1)},
		{opCheck, pathIntBody(R+"/m", 7)},
		{opCreate, createBody(R+"/b", nil, world(permAll), 0, -1)},
		{opSetData, (&jw{}).str(R + "/m").buf([]byte("b")).i32(-1).b},
	})
	s.rawMulti(r, "raw multi bad path first", opMulti, []mop{
		{opCreate, createBody("bad", nil, world(permAll), 0, -1)},
		{opCreate, createBody(R+"/c", nil, world(permAll), 0, -1)},
	})
	s.rawMulti(r, "raw multi createTTL ttl=0", opMulti, []mop{
		{opCreateTTL, createBody(R+"/t", nil, world(permAll), 5, 0)},
	})
	if !r.alive() {
		r = s.raw()
		s.logf("(reconnected raw)")
	}
	s.rawMulti(r, "raw multi with a getData op inside", opMulti, []mop{
		{opGetData, pathWatchBody(R+"/m", false)},
	})
	if !r.alive() {
		s.logf("(connection closed after multi with getData op)")
		r = s.raw()
	}
	s.rawMulti(r, "raw multiRead with a create op inside", opMultiRead, []mop{
		{opCreate, createBody(R+"/mr", nil, world(permAll), 0, -1)},
	})
	if !r.alive() {
		s.logf("(connection closed after multiRead with create op)")
	}
	s.children(a, R)
}

func scMultiCreateThenSet(s *sc) {
	a := s.conn()
	R := s.root
	s.multi(a, "create X then setData X",
		&zk.CreateRequest{Path: R + "/x", Data: []byte("a"), Acl: world(permAll)},
		&zk.SetDataRequest{Path: R + "/x", Data: []byte("b"), Version: 0},
	)
	s.get(a, R+"/x")
	s.multi(a, "create then delete",
		&zk.CreateRequest{Path: R + "/y", Acl: world(permAll)},
		&zk.DeleteRequest{Path: R + "/y", Version: 0},
	)
	s.exists(a, R+"/y")
	s.exists(a, R)
	s.multi(a, "create parent and child",
		&zk.CreateRequest{Path: R + "/p", Acl: world(permAll)},
		&zk.CreateRequest{Path: R + "/p/c", Acl: world(permAll)},
	)
	s.exists(a, R+"/p")
	s.multi(a, "delete child then parent",
		&zk.DeleteRequest{Path: R + "/p/c", Version: -1},
		&zk.DeleteRequest{Path: R + "/p", Version: -1},
	)
	s.multi(a, "create then check version 0",
		&zk.CreateRequest{Path: R + "/z", Acl: world(permAll)},
		&zk.CheckVersionRequest{Path: R + "/z", Version: 0},
	)
	s.multi(a, "create ephemeral then child",
		&zk.CreateRequest{Path: R + "/e", Acl: world(permAll), Flags: zk.FlagEphemeral},
		&zk.CreateRequest{Path: R + "/e/c", Acl: world(permAll)},
	)
	s.multi(a, "set twice",
		&zk.SetDataRequest{Path: R + "/x", Data: []byte("c"), Version: 1},
		&zk.SetDataRequest{Path: R + "/x", Data: []byte("d"), Version: 2},
	)
	s.multi(a, "create with ACL READ then set it",
		&zk.CreateRequest{Path: R + "/ro", Acl: world(permR)},
		&zk.SetDataRequest{Path: R + "/ro", Data: []byte("x"), Version: -1},
	)
	s.get(a, R+"/x")
	s.exists(a, R)
}

func scMultiRead(s *sc) {
	a := s.conn()
	R := s.root
	s.create(a, R+"/x", []byte("data"), 0, world(permAll))
	s.create(a, R+"/x/k", nil, 0, world(permAll))
	s.create(a, R+"/secret", []byte("s"), 0, world(zk.PermWrite))
	r := s.raw()
	s.rawMulti(r, "multiRead getData,getChildren,missing,noauth,getChildren", opMultiRead, []mop{
		{opGetData, pathWatchBody(R+"/x", false)},
		{opGetChildren, pathWatchBody(R+"/x", false)},
		{opGetData, pathWatchBody(R+"/missing", false)},
		{opGetData, pathWatchBody(R+"/secret", false)},
		{opGetChildren, pathWatchBody(R, false)},
	})
	s.rawMulti(r, "multiRead empty", opMultiRead, nil)
}

func scCheckOutsideMulti(s *sc) {
	a := s.conn()
	R := s.root
	s.create(a, R+"/n", nil, 0, world(permAll))
	// ZooKeeper 3.8.0 never answers a bare check whose version matches: wait
	// briefly, keep the connection, and see whether it still serves.
	r := s.raw()
	s.rawReqWait(r, "check n version 0 (matches)", opCheck, pathIntBody(R+"/n", 0), nil, 1500*time.Millisecond, false)
	s.rawReqWait(r, "exists n after it, same connection", opExists, pathWatchBody(R+"/n", false), rawStatBody(s), 1500*time.Millisecond, true)
	// The rest each on a fresh connection.
	for _, c := range []struct {
		label   string
		path    string
		version int32
	}{
		{"check n version -1 (matches)", R + "/n", -1},
		{"check n version 5", R + "/n", 5},
		{"check missing", R + "/missing", -1},
	} {
		r = s.raw()
		s.rawReqWait(r, c.label, opCheck, pathIntBody(c.path, c.version), nil, 1500*time.Millisecond, true)
	}
	s.exists(a, R+"/n")
}

func scUnknownOpcode(s *sc) {
	r := s.raw()
	s.rawReq(r, "opcode 99 (unknown)", 99, pathBody(s.root), nil)
	s.rawReqWait(r, "exists / on the same connection", opExists, pathWatchBody("/", false), func(r *jr) string { r.stat(); return "stat" }, time.Second, true)
	r = s.raw()
	s.rawReq(r, "opcode 10 (createSession)", 10, nil, nil)
	s.rawReqWait(r, "exists / on the same connection", opExists, pathWatchBody("/", false), func(r *jr) string { r.stat(); return "stat" }, time.Second, true)
}

// ---- watches ----

func scWatchOneShot(s *sc) {
	a := s.conn() // writer
	b := s.conn() // watcher
	R := s.root
	n := R + "/n"
	s.existsW(b, n)
	s.create(a, n, []byte("v0"), 0, world(permAll))
	s.events(b)

	s.getW(b, n)
	s.existsW(b, n)
	s.set(a, n, []byte("v1"), -1)
	s.events(b)

	s.set(a, n, []byte("v2"), -1)
	s.events(b)

	s.childrenW(b, n)
	s.create(a, n+"/c", nil, 0, world(permAll))
	s.events(b)

	s.childrenW(b, n)
	s.getW(b, n)
	s.set(a, n+"/c", []byte("x"), -1)
	s.events(b)

	s.setACL(a, n, world(permAll), -1)
	s.events(b)

	s.getW(b, n+"/c")
	s.childrenW(b, n+"/c")
	s.existsW(b, n+"/c")
	s.del(a, n+"/c", -1)
	s.events(b)

	s.set(a, n, []byte("v3"), 5)
	s.events(b)

	s.childrenW(b, R)
	s.childrenW(b, n)
	s.del(a, n, -1)
	s.events(b)

	s.getW(b, R+"/none")
	s.childrenW(b, R+"/none")
	s.create(a, R+"/none", nil, 0, world(permAll))
	s.events(b)

	s.existsW(b, R+"/flash")
	s.create(a, R+"/flash", nil, 0, world(permAll))
	s.del(a, R+"/flash", -1)
	s.events(b)

	s.existsW(a, R+"/self")
	s.create(a, R+"/self", nil, 0, world(permAll))
	s.events(a)

	// setData with a watch registered twice in the same session
	s.getW(b, R+"/none")
	s.getW(b, R+"/none")
	s.existsW(b, R+"/none")
	s.set(a, R+"/none", []byte("x"), -1)
	s.events(b)

	// watch on a node, deleted by multi with its parent's watch too
	s.create(a, R+"/m", nil, 0, world(permAll))
	s.getW(b, R+"/m")
	s.childrenW(b, R)
	s.existsW(b, R+"/m2")
	_, err := a.multiRaw(&zk.DeleteRequest{Path: R + "/m", Version: -1}, &zk.CreateRequest{Path: R + "/m2", Acl: world(permAll)})
	s.logf("c1 multi delete m, create m2 -> %s", errName(err))
	s.events(b)
}

func scWatchMulti(s *sc) {
	a := s.conn()
	b := s.conn()
	R := s.root
	s.create(a, R+"/w1", nil, 0, world(permAll))
	s.create(a, R+"/w3", nil, 0, world(permAll))
	s.getW(b, R+"/w1")
	s.existsW(b, R+"/w2")
	s.getW(b, R+"/w3")
	s.childrenW(b, R)
	_, err := a.multiRaw(
		&zk.SetDataRequest{Path: R + "/w1", Data: []byte("x"), Version: -1},
		&zk.CreateRequest{Path: R + "/w2", Acl: world(permAll)},
		&zk.DeleteRequest{Path: R + "/w3", Version: -1},
	)
	s.logf("c1 multi set w1, create w2, delete w3 -> %s", errName(err))
	s.events(b)
	// failed multi fires nothing
	s.getW(b, R+"/w1")
	s.childrenW(b, R)
	_, err = a.multiRaw(
		&zk.SetDataRequest{Path: R + "/w1", Data: []byte("y"), Version: -1},
		&zk.CreateRequest{Path: R + "/w2", Acl: world(permAll)},
	)
	s.logf("c1 failing multi -> %s", errName(err))
	s.events(b)
}

func scWatchEphemeralClose(s *sc) {
	a := s.conn()
	b := s.conn()
	R := s.root
	s.create(b, R+"/e", nil, zk.FlagEphemeral, world(permAll))
	s.create(b, R+"/e2-", nil, zk.FlagEphemeralSequential, world(permAll))
	s.existsW(a, R+"/e")
	s.childrenW(a, R)
	b.c.Close()
	s.logf("c2 closed")
	s.exists(a, R+"/e")
	s.events(a)
	s.children(a, R)
	s.exists(a, R)
}

func addWatchBody(p string, mode int32) []byte { return pathIntBody(p, mode) }

func scWatchPersistent(s *sc) {
	a := s.conn()
	r := s.raw()
	R := s.root
	p := R + "/p"
	s.rawReq(r, "addWatch p persistent(0) on missing node", opAddWatch, addWatchBody(p, 0), errRespBody)
	s.create(a, p, nil, 0, world(permAll))
	s.rawEvents(r)
	s.set(a, p, []byte("x"), -1)
	s.rawEvents(r)
	s.create(a, p+"/c", nil, 0, world(permAll))
	s.rawEvents(r)
	s.set(a, p+"/c", []byte("x"), -1)
	s.create(a, p+"/c/d", nil, 0, world(permAll))
	s.rawEvents(r)
	s.del(a, p+"/c/d", -1)
	s.del(a, p+"/c", -1)
	s.rawEvents(r)
	s.setACL(a, p, world(permAll), -1)
	s.rawEvents(r)
	s.del(a, p, -1)
	s.rawEvents(r)
	s.create(a, p, nil, 0, world(permAll))
	s.rawEvents(r)
	// a second addWatch on the same path
	s.rawReq(r, "addWatch p persistent(0) again", opAddWatch, addWatchBody(p, 0), errRespBody)
	s.set(a, p, []byte("w"), -1)
	s.rawEvents(r)
	// ephemeral child by another session, removed by session close
	b := s.conn()
	s.create(b, p+"/eph", nil, zk.FlagEphemeral, world(permAll))
	s.rawEvents(r)
	b.c.Close()
	s.rawEvents(r)
	s.rawReq(r, "addWatch mode=2", opAddWatch, addWatchBody(p, 2), errRespBody)
	if !r.alive() {
		s.logf("(connection closed after addWatch mode=2)")
	}
}

func scWatchRecursive(s *sc) {
	a := s.conn()
	r := s.raw()
	R := s.root
	q := R + "/r"
	s.rawReq(r, "addWatch r persistentRecursive(1)", opAddWatch, addWatchBody(q, 1), errRespBody)
	s.create(a, q, nil, 0, world(permAll))
	s.create(a, q+"/a", nil, 0, world(permAll))
	s.create(a, q+"/a/b", nil, 0, world(permAll))
	s.rawEvents(r)
	s.set(a, q+"/a/b", []byte("x"), -1)
	s.set(a, q, []byte("x"), -1)
	s.rawEvents(r)
	s.setACL(a, q+"/a", world(permAll), -1)
	s.rawEvents(r)
	s.del(a, q+"/a/b", -1)
	s.rawEvents(r)
	s.create(a, q+"x", nil, 0, world(permAll)) // sibling sharing a name prefix
	s.rawEvents(r)
	// multi inside the subtree
	_, err := a.multiRaw(
		&zk.CreateRequest{Path: q + "/m1", Acl: world(permAll)},
		&zk.CreateRequest{Path: q + "/m1/m2", Acl: world(permAll)},
		&zk.SetDataRequest{Path: q + "/a", Data: []byte("y"), Version: -1},
	)
	s.logf("c1 multi in subtree -> %s", errName(err))
	s.rawEvents(r)
	// a node the watcher cannot READ (ZooKeeper 3.8.0 predates the ACL
	// filtering of persistent watch events, CVE-2024-23944)
	s.create(a, q+"/secret", nil, 0, world(zk.PermWrite|zk.PermDelete|zk.PermCreate))
	s.set(a, q+"/secret", []byte("s"), -1)
	s.create(a, q+"/secret/kid", nil, 0, world(permAll))
	s.rawEvents(r)
	// a one-shot child watch inside the subtree
	s.rawReq(r, "getChildren2 r/a watch=true", opGetChildren2, pathWatchBody(q+"/a", true), func(r *jr) string { return sortedList(r.strs()) })
	s.create(a, q+"/a/c", nil, 0, world(permAll))
	s.rawEvents(r)
	// ephemeral in the subtree removed by its session's close
	b := s.conn()
	s.create(b, q+"/eph", nil, zk.FlagEphemeral, world(permAll))
	b.c.Close()
	s.rawEvents(r)
	// recursive watch on /
	r2 := s.raw()
	s.rawReq(r2, "addWatch / persistentRecursive(1)", opAddWatch, addWatchBody("/", 1), errRespBody)
	s.create(a, q+"/fromroot", nil, 0, world(permAll))
	s.rawEvents(r2)
	s.rawEvents(r)
}

func scWatchRemove(s *sc) {
	a := s.conn()
	r := s.raw()
	R := s.root
	p := R + "/w"
	s.create(a, p, nil, 0, world(permAll))
	s.rawReq(r, "checkWatches p any(3) with none", opCheckWatches, pathIntBody(p, 3), nil)
	s.rawReq(r, "removeWatches p any(3) with none", opRemoveWatches, pathIntBody(p, 3), nil)
	s.rawReq(r, "removeWatches missing any(3)", opRemoveWatches, pathIntBody(R+"/missing", 3), nil)
	s.rawReq(r, "getData p watch", opGetData, pathWatchBody(p, true), nil2)
	s.rawReq(r, "checkWatches p children(1)", opCheckWatches, pathIntBody(p, 1), nil)
	s.rawReq(r, "checkWatches p data(2)", opCheckWatches, pathIntBody(p, 2), nil)
	s.rawReq(r, "removeWatches p children(1)", opRemoveWatches, pathIntBody(p, 1), nil)
	s.rawReq(r, "removeWatches p data(2)", opRemoveWatches, pathIntBody(p, 2), nil)
	s.rawReq(r, "removeWatches p data(2) again", opRemoveWatches, pathIntBody(p, 2), nil)
	s.set(a, p, []byte("x"), -1)
	s.rawEvents(r)
	s.rawReq(r, "exists missing watch", opExists, pathWatchBody(R+"/nx", true), nil2)
	s.rawReq(r, "checkWatches missing data(2)", opCheckWatches, pathIntBody(R+"/nx", 2), nil)
	s.rawReq(r, "removeWatches missing data(2)", opRemoveWatches, pathIntBody(R+"/nx", 2), nil)
	s.create(a, R+"/nx", nil, 0, world(permAll))
	s.rawEvents(r)
	s.rawReq(r, "getChildren p watch", opGetChildren, pathWatchBody(p, true), nil2)
	s.rawReq(r, "getData p watch", opGetData, pathWatchBody(p, true), nil2)
	s.rawReq(r, "removeWatches p any(3)", opRemoveWatches, pathIntBody(p, 3), nil)
	s.create(a, p+"/c", nil, 0, world(permAll))
	s.rawEvents(r)
	s.rawReq(r, "addWatch p recursive", opAddWatch, addWatchBody(p, 1), errRespBody)
	s.rawReq(r, "removeWatches p any(3) [recursive only]", opRemoveWatches, pathIntBody(p, 3), nil)
	s.set(a, p, []byte("z"), -1)
	s.rawEvents(r)
}

func scRemovePersistentWatches(s *sc) {
	a := s.conn()
	r := s.raw()
	R := s.root
	p := R + "/w"
	s.create(a, p, nil, 0, world(permAll))
	s.rawReq(r, "addWatch p persistent", opAddWatch, addWatchBody(p, 0), errRespBody)
	s.rawReq(r, "checkWatches p persistent(4)", opCheckWatches, pathIntBody(p, 4), nil)
	s.rawReq(r, "checkWatches p recursive(5)", opCheckWatches, pathIntBody(p, 5), nil)
	s.rawReq(r, "checkWatches p data(2) [persistent only]", opCheckWatches, pathIntBody(p, 2), nil)
	s.rawReq(r, "removeWatches p recursive(5)", opRemoveWatches, pathIntBody(p, 5), nil)
	s.rawReq(r, "removeWatches p data(2) [persistent only]", opRemoveWatches, pathIntBody(p, 2), nil)
	s.rawReq(r, "removeWatches p persistent(4)", opRemoveWatches, pathIntBody(p, 4), nil)
	s.rawReq(r, "removeWatches p persistent(4) again", opRemoveWatches, pathIntBody(p, 4), nil)
	s.set(a, p, []byte("y"), -1)
	s.rawEvents(r)
	s.rawReq(r, "removeWatches p type 9", opRemoveWatches, pathIntBody(p, 9), nil)
	if !r.alive() {
		s.logf("(connection closed after removeWatches type 9)")
	}
}

func nil2(r *jr) string { r.b = nil; return "" }

// ---- misc reads ----

func scAllChildrenNumber(s *sc) {
	a := s.conn()
	R := s.root
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d", "/e"} {
		s.create(a, R+p, nil, 0, world(permAll))
	}
	s.create(a, R+"/eph", nil, zk.FlagEphemeral, world(permAll))
	r := s.raw()
	count := func(r *jr) string { return fmt.Sprint(r.i32()) }
	for _, p := range []string{"", "/a", "/a/b", "/a/b/c", "/e", "/missing"} {
		s.rawReq(r, "getAllChildrenNumber R"+p, opGetAllChildrenN, pathBody(R+p), count)
	}
	s.rawReq(r, "getAllChildrenNumber invalid 'x'", opGetAllChildrenN, pathBody("x"), count)
}

func scGetEphemerals(s *sc) {
	a := s.conn()
	R := s.root
	s.create(a, R+"/x", nil, 0, world(permAll))
	r := s.raw()
	s.rawReq(r, "create e1", opCreate, createBody(R+"/e1", nil, world(permAll), 1, -1), rawPathBody)
	s.rawReq(r, "create x/e2", opCreate, createBody(R+"/x/e2", nil, world(permAll), 1, -1), rawPathBody)
	s.rawReq(r, "create es-", opCreate, createBody(R+"/es-", nil, world(permAll), 3, -1), rawPathBody)
	s.rawReq(r, "create persistent e9", opCreate, createBody(R+"/e9", nil, world(permAll), 0, -1), rawPathBody)
	s.create(a, R+"/e-other", nil, zk.FlagEphemeral, world(permAll))
	for _, p := range []string{R, R + "/x", R + "/e", R + "/e1", R + "/x/", "/", "", R + "/missing"} {
		s.rawReq(r, fmt.Sprintf("getEphemerals %q", p), opGetEphemerals, pathBody(p), rawStrsSorted)
	}
	r2 := s.raw()
	s.rawReq(r2, "getEphemerals R (session without ephemerals)", opGetEphemerals, pathBody(R), rawStrsSorted)
}

func scSync(s *sc) {
	a := s.conn()
	R := s.root
	s.create(a, R+"/noacl", nil, 0, world(zk.PermWrite))
	s.sync(a, R)
	s.sync(a, "/")
	s.sync(a, R+"/missing")
	s.sync(a, R+"/noacl")
	r := s.raw()
	for _, p := range []string{"", "bad", R + "/", R + "//x"} {
		if !r.alive() {
			r = s.raw()
			s.logf("(reconnected raw)")
		}
		s.rawReq(r, fmt.Sprintf("sync %q", p), opSync, pathBody(p), rawPathBody)
	}
}

func scInvalidPaths(s *sc) {
	R := s.root
	r := s.raw()
	paths := []string{
		"", "noslash", R + "/", R + "//x", R + "/.", R + "/..", R + "/./x", R + "/x/..",
		R + "/x\x00y", R + "/x\x01", R + "/x\x1f", R + "/x\x7f", R + "/x\u0085", R + "/x\u009f",
		R + "/x\ue000", R + "/x\uf8ff", R + "/x\ufff0", R + "/x\ufffd", R + "/x\xff",
		R + "/x\U0001F600",
		R + "/.x", R + "/...", R + "/x.", R + "/x y", R + "/x\u00a0", R + "/x\uf900",
		"/", R + "/zookeeper",
	}
	for _, p := range paths {
		for _, op := range []struct {
			label string
			op    int32
			body  []byte
			dec   func(*jr) string
		}{
			{"create", opCreate, createBody(p, nil, world(permAll), 0, -1), rawPathBody},
			{"exists", opExists, pathWatchBody(p, false), func(r *jr) string { r.stat(); return "stat" }},
			{"getData", opGetData, pathWatchBody(p, false), nil2},
			{"delete", opDelete, pathIntBody(p, -1), nil},
		} {
			if !r.alive() {
				r = s.raw()
				s.logf("(reconnected raw)")
			}
			s.rawReq(r, fmt.Sprintf("%s %+q", op.label, p), op.op, op.body, op.dec)
		}
	}
	if !r.alive() {
		r = s.raw()
	}
	s.rawReq(r, "create seq with trailing slash", opCreate, createBody(R+"/", nil, world(permAll), 2, -1), rawPathBody)
	s.rawReq(r, "create seq 'R/x/' (missing parent)", opCreate, createBody(R+"/x/", nil, world(permAll), 2, -1), rawPathBody)
	s.rawReq(r, "create seq with '.' name", opCreate, createBody(R+"/.", nil, world(permAll), 2, -1), rawPathBody)
	s.rawReq(r, "getChildren2 R", opGetChildren2, pathWatchBody(R, false), func(r *jr) string { return fmt.Sprintf("%+q", sortedKids(r.strs())) })
}

// scZxidAccounting records raw zxid deltas, which rank-normalization hides:
// does a failed write, a session open or close consume a zxid?
func scZxidAccounting(s *sc) {
	a := s.conn()
	R := s.root
	cz := func(p string) int64 {
		_, st, err := a.c.Exists(p)
		if err != nil || st == nil {
			return 0
		}
		return st.Czxid
	}
	delta := func(label string, x, y int64) {
		s.logf("delta czxid %s = %d", label, y-x)
	}
	a.c.Create(R+"/z1", nil, 0, world(permAll))
	a.c.Create(R+"/z2", nil, 0, world(permAll))
	delta("z1->z2 (nothing between)", cz(R+"/z1"), cz(R+"/z2"))
	a.c.Create(R+"/z2", nil, 0, world(permAll)) // NodeExists
	a.c.Create(R+"/z3", nil, 0, world(permAll))
	delta("z2->z3 (one failed create between)", cz(R+"/z2"), cz(R+"/z3"))
	a.c.Set(R+"/z3", nil, 9) // BadVersion
	a.c.Delete(R+"/missing", -1)
	a.c.Create(R+"/z4", nil, 0, world(permAll))
	delta("z3->z4 (failed setData + failed delete between)", cz(R+"/z3"), cz(R+"/z4"))
	a.c.Exists(R)
	a.c.Get(R + "/missing")
	a.c.Create(R+"/z5", nil, 0, world(permAll))
	delta("z4->z5 (reads between)", cz(R+"/z4"), cz(R+"/z5"))
	a.multiRaw(&zk.CreateRequest{Path: R + "/z5", Acl: world(permAll)})
	a.c.Create(R+"/z6", nil, 0, world(permAll))
	delta("z5->z6 (failed multi between)", cz(R+"/z5"), cz(R+"/z6"))
	a.c.Sync(R)
	a.c.Create(R+"/z7", nil, 0, world(permAll))
	delta("z6->z7 (sync between)", cz(R+"/z6"), cz(R+"/z7"))
	b := s.conn()
	a.c.Create(R+"/z8", nil, 0, world(permAll))
	delta("z7->z8 (session open between)", cz(R+"/z7"), cz(R+"/z8"))
	b.c.Close()
	a.c.Create(R+"/z9", nil, 0, world(permAll))
	delta("z8->z9 (session close between)", cz(R+"/z8"), cz(R+"/z9"))
	a.c.SetACL(R+"/z9", world(permAll), -1)
	a.c.Create(R+"/z10", nil, 0, world(permAll))
	delta("z9->z10 (setACL between)", cz(R+"/z9"), cz(R+"/z10"))
	a.c.Create(R+"/z9/x", nil, 0, []zk.ACL{})
	a.c.Create(R+"/z11", nil, 0, world(permAll))
	delta("z10->z11 (InvalidACL create between)", cz(R+"/z10"), cz(R+"/z11"))
	r := s.raw()
	a.c.Create(R+"/z12", nil, 0, world(permAll))
	delta("z11->z12 (raw session open between)", cz(R+"/z11"), cz(R+"/z12"))

	// reply-header zxids
	rep, _ := r.call(opCreate2, createBody(R+"/h", nil, world(permAll), 0, -1))
	d := &jr{b: rep.body}
	d.str()
	st := d.stat()
	s.logf("create2 reply header zxid == czxid: %v", rep.zxid == st.Czxid)
	rep2, _ := r.call(opExists, pathWatchBody(R, false))
	s.logf("exists reply header zxid == last write zxid: %v (delta %d)", rep2.zxid == st.Czxid, rep2.zxid-st.Czxid)
	rep3, _ := r.call(opGetData, pathWatchBody(R+"/missing", false))
	s.logf("failed getData reply err=%s header zxid delta %d", codeName(rep3.err), rep3.zxid-st.Czxid)
	rep4, _ := r.call(opCreate, createBody(R+"/h", nil, world(permAll), 0, -1))
	s.logf("failed create reply err=%s header zxid delta %d", codeName(rep4.err), rep4.zxid-st.Czxid)
	rep5, _ := r.call(opExists, pathWatchBody(R, false))
	s.logf("exists after failed create: header zxid delta %d", rep5.zxid-st.Czxid)
	rep6, _ := r.call(opSync, pathBody(R))
	s.logf("sync reply header zxid delta %d", rep6.zxid-st.Czxid)
	rep7, _ := r.call(opMulti, multiBody([]mop{
		{opCreate, createBody(R+"/h1", nil, world(permAll), 0, -1)},
		{opCreate, createBody(R+"/h2", nil, world(permAll), 0, -1)},
	}))
	s.logf("multi reply err=%s header zxid delta %d", codeName(rep7.err), rep7.zxid-st.Czxid)
	s.logf("multi nodes share one czxid: %v, equal to reply zxid: %v", cz(R+"/h1") == cz(R+"/h2"), cz(R+"/h1") == rep7.zxid)
}

// ---- containers and TTL ----

func scContainerTTL(s *sc) {
	a := s.conn()
	b := s.conn()
	R := s.root
	c := R + "/cont"
	s.createContainer(a, c, nil, world(permAll))
	time.Sleep(600 * time.Millisecond) // six check intervals
	s.exists(a, c)                     // a never-used container stays
	s.create(a, c+"/child", nil, 0, world(permAll))
	s.exists(a, c)
	s.existsW(b, c)
	s.childrenW(b, R)
	s.del(a, c+"/child", -1)
	s.waitEvents(b, 2, 5*time.Second)
	s.exists(a, c)
	s.exists(a, R)

	c2 := R + "/cont2"
	s.createContainer(a, c2, nil, world(permAll))
	s.create(a, c2+"/x", nil, 0, world(permAll))
	s.create(a, c2+"/e", nil, zk.FlagEphemeral, world(permAll))
	s.del(a, c2+"/e", -1)
	time.Sleep(500 * time.Millisecond)
	s.exists(a, c2) // still has a child

	t := R + "/ttl"
	s.createTTL(a, t, nil, zk.FlagTTL, 300*time.Millisecond)
	s.existsW(b, t)
	s.waitEvents(b, 1, 5*time.Second)
	s.exists(a, t)

	t2 := R + "/ttl2"
	s.createTTL(a, t2, nil, zk.FlagTTL, 200*time.Millisecond)
	s.create(a, t2+"/c", nil, 0, world(permAll))
	time.Sleep(700 * time.Millisecond)
	s.exists(a, t2) // has a child: stays
	s.existsW(b, t2)
	s.del(a, t2+"/c", -1) // mtime is old: goes at the next check
	s.waitEvents(b, 1, 5*time.Second)
	s.exists(a, t2)

	t3 := R + "/ttl3-"
	name, err := s.createTTL(a, t3, nil, zk.FlagPersistentSequentialWithTTL, 300*time.Millisecond)
	if err == nil {
		s.existsW(b, name)
		s.waitEvents(b, 1, 5*time.Second)
	}
	s.children(a, R)
}

// ---- probes of behaviour that changed in ZooKeeper 3.9 ----

// scExistsNeedsRead: 3.9 checks READ on exists of an existing node
// (3.8.0: "TODO we need to figure out the security requirement for this").
func scExistsNeedsRead(s *sc) {
	a := s.conn()
	R := s.root
	nr := R + "/noread"
	s.create(a, nr, []byte("x"), 0, world(zk.PermWrite|zk.PermCreate|zk.PermDelete))
	s.exists(a, nr)
	s.existsW(a, nr)
	s.set(a, nr, []byte("y"), -1)
	s.events(a)
	r := s.raw()
	s.rawReq(r, "exists(raw) noread", opExists, pathWatchBody(nr, false), rawStatBody(s))
	s.exists(a, nr+"/missing")
}

// scWatchModesSamePath: one session, several watch modes on one path
// (3.9: ZOOKEEPER-4466, they coexist; 3.8: the last one set replaces).
func scWatchModesSamePath(s *sc) {
	a := s.conn()
	r := s.raw()
	R := s.root
	p := R + "/p"
	s.create(a, p, nil, 0, world(permAll))
	s.rawReq(r, "addWatch p persistent(0)", opAddWatch, addWatchBody(p, 0), errRespBody)
	s.rawReq(r, "getData p watch=true", opGetData, pathWatchBody(p, true), func(r *jr) string { d := r.buf(); r.stat(); return data(d) })
	s.set(a, p, []byte("y"), -1)
	s.rawEvents(r)
	s.set(a, p, []byte("z"), -1)
	s.rawEvents(r)
	q := R + "/r"
	s.create(a, q, nil, 0, world(permAll))
	s.rawReq(r, "addWatch r persistentRecursive(1)", opAddWatch, addWatchBody(q, 1), errRespBody)
	s.rawReq(r, "addWatch r persistent(0) too", opAddWatch, addWatchBody(q, 0), errRespBody)
	s.create(a, q+"/n", nil, 0, world(permAll))
	s.set(a, q, []byte("z"), -1)
	s.rawEvents(r)
	s.create(a, q+"/n/deep", nil, 0, world(permAll))
	s.rawEvents(r)
}

// scMultiCreate2: 3.9 honours create2 inside multi (ZOOKEEPER-4026) and
// rejects an invalid create flag while decoding the multi.
func scMultiCreate2(s *sc) {
	a := s.conn()
	R := s.root
	r := s.raw()
	s.rawMulti(r, "raw multi create2(op15) flags=0", opMulti, []mop{{opCreate2, createBody(R+"/r2", []byte("a"), world(permAll), 0, -1)}})
	s.rawMulti(r, "raw multi create2(op15) flags=2", opMulti, []mop{{opCreate2, createBody(R+"/rs-", nil, world(permAll), 2, -1)}})
	for _, f := range []int32{5, 9} {
		if !r.alive() {
			r = s.raw()
			s.logf("(reconnected raw)")
		}
		s.rawMulti(r, fmt.Sprintf("raw multi create(op1) flags=%d", f), opMulti, []mop{{opCreate, createBody(R+"/f", nil, world(permAll), f, -1)}})
	}
	s.multi(a, "go-zookeeper create flags=4 (container)", &zk.CreateRequest{Path: R + "/mc", Acl: world(permAll), Flags: zk.FlagContainer})
	s.children(a, R)
}

// scNotificationZxid: 3.9 puts the triggering txn's zxid in a
// notification's reply header (ZOOKEEPER-4655); 3.8 sends -1.
func scNotificationZxid(s *sc) {
	a := s.conn()
	R := s.root
	r := s.raw()
	s.rawReq(r, "exists n watch=true", opExists, pathWatchBody(R+"/n", true), nil2)
	s.create(a, R+"/n", nil, 0, world(permAll))
	st := s.exists(a, R+"/n")
	r.call(opExists, pathWatchBody("/", false))
	for _, e := range r.takeEvents() {
		rel := fmt.Sprintf("zxid=%d", e.zxid)
		if st != nil && e.zxid == st.Czxid {
			rel = "zxid=czxid of the created node"
		}
		s.logf("raw notification %s %s header %s", evName(zk.EventType(e.typ)), e.path, rel)
	}
}
