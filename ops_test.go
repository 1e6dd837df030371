package coord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests of every Session operation and every error it can return, with
// the exact Stat ZooKeeper would report.

func TestFreshTree(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()

	// As in ZooKeeper's DataTree: zero zxids, times and versions, except
	// that the children of "/" and /zookeeper were linked without counting
	// creates, so their visible cversion (2*creates - children) is negative
	// (zkCli shows cversion = -1 for "/"), and /zookeeper/config keeps the
	// aversion -1 of ZooKeeper's setACL(config, READ_ACL_UNSAFE, -1). Their
	// data is empty, not null.
	for _, tc := range []struct {
		path     string
		children []string
		stat     Stat
		acl      []ACL
	}{
		{"/", []string{"zookeeper"}, Stat{Cversion: -1, NumChildren: 1}, OpenACL},
		{"/zookeeper", []string{"config", "quota"}, Stat{Cversion: -2, NumChildren: 2}, OpenACL},
		{"/zookeeper/quota", []string{}, Stat{}, OpenACL},
		{"/zookeeper/config", []string{}, Stat{Aversion: -1}, ReadACL},
	} {
		t.Run(tc.path, func(t *testing.T) {
			data, st, err := s.GetData(ctx, tc.path)
			if err != nil || data == nil || len(data) != 0 || st != tc.stat {
				t.Fatalf("GetData = %#v, %+v, %v; want empty non-nil data, %+v", data, st, err, tc.stat)
			}
			kids, st2, err := s.GetChildren(ctx, tc.path)
			if err != nil || !slices.Equal(kids, tc.children) || st2 != tc.stat {
				t.Fatalf("GetChildren = %q, %+v, %v; want %q", kids, st2, err, tc.children)
			}
			acl, _, err := s.GetACL(ctx, tc.path)
			if err != nil || !slices.Equal(acl, tc.acl) {
				t.Fatalf("GetACL = %v, %v; want %v", acl, err, tc.acl)
			}
		})
	}
	// Children may be created under /zookeeper, but not its fixed nodes
	// replaced.
	if _, err := s.Create(ctx, "/zookeeper/mine", nil, Persistent, nil); err != nil {
		t.Fatalf("create under /zookeeper: %v", err)
	}
	_, err := s.Create(ctx, "/zookeeper/config/x", nil, Persistent, nil)
	wantOpError(t, err, ErrNoAuth, "create", "/zookeeper/config/x") // READ only
}

// createCase is a successful create and what it must produce.
type createCase struct {
	name     string
	mode     CreateMode
	ttl      time.Duration
	wantName string // the created node's name under the parent
}

func TestCreateModes(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()

	cases := []createCase{
		{"Persistent", Persistent, 0, "n"},
		{"Ephemeral", Ephemeral, 0, "n"},
		{"PersistentSequential", PersistentSequential, 0, "n0000000000"},
		{"EphemeralSequential", EphemeralSequential, 0, "n0000000000"},
		{"Container", Container, 0, "n"},
		{"PersistentTTL", PersistentTTL, time.Hour, "n"},
		{"PersistentSequentialTTL", PersistentSequentialTTL, time.Hour, "n0000000000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parent := "/" + tc.name
			mustCreate(t, s, parent, []byte("parent"), Persistent, nil)
			pBefore := mustStat(t, s, parent)

			data := []byte("data of " + tc.name)
			before := time.Now().UnixMilli()
			p, st, err := s.CreateStat(ctx, parent+"/n", data, tc.mode, nil, tc.ttl)
			after := time.Now().UnixMilli()
			if err != nil {
				t.Fatalf("CreateStat: %v", err)
			}
			if want := parent + "/" + tc.wantName; p != want {
				t.Fatalf("created %q, want %q", p, want)
			}
			zxid := n.LastZxid()
			var owner int64
			if tc.mode.isEphemeral() {
				owner = s.ID() // containers and TTL nodes show 0, like persistent ones
			}
			if st.Ctime < before || st.Ctime > after {
				t.Fatalf("ctime %d not in [%d, %d]", st.Ctime, before, after)
			}
			want := Stat{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: st.Ctime, Mtime: st.Ctime,
				EphemeralOwner: owner, DataLength: int32(len(data))}
			if st != want {
				t.Fatalf("create stat\n got %+v\nwant %+v", st, want)
			}
			got, st2, err := s.GetData(ctx, p)
			if err != nil || !bytes.Equal(got, data) || st2 != want {
				t.Fatalf("GetData = %q, %+v, %v; want %q, %+v", got, st2, err, data, want)
			}
			// The parent: pzxid and cversion move, nothing else.
			pWant := pBefore
			pWant.Pzxid = zxid
			pWant.Cversion++
			pWant.NumChildren++
			if pAfter := mustStat(t, s, parent); pAfter != pWant {
				t.Fatalf("parent stat\n got %+v\nwant %+v", pAfter, pWant)
			}
		})
	}
}

func TestCreateSequential(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()
	mustCreate(t, s, "/q", nil, Persistent, nil)

	steps := []struct {
		name string
		op   func() (string, error)
		want string // created path, or "" when the op is not a create
	}{
		{"FirstPersistentSequential", func() (string, error) { return s.Create(ctx, "/q/p-", nil, PersistentSequential, nil) }, "/q/p-0000000000"},
		{"SecondIsConsecutive", func() (string, error) { return s.Create(ctx, "/q/p-", nil, PersistentSequential, nil) }, "/q/p-0000000001"},
		{"PlainCreateCounts", func() (string, error) { return s.Create(ctx, "/q/plain", nil, Persistent, nil) }, "/q/plain"},
		{"EphemeralSequentialSharesCounter", func() (string, error) { return s.Create(ctx, "/q/e-", nil, EphemeralSequential, nil) }, "/q/e-0000000003"},
		{"DeleteDoesNotCount", func() (string, error) { return "", s.Delete(ctx, "/q/plain", -1) }, ""},
		{"AfterDelete", func() (string, error) { return s.Create(ctx, "/q/p-", nil, PersistentSequential, nil) }, "/q/p-0000000004"},
		{"FailedCreateDoesNotCount", func() (string, error) {
			_, err := s.Create(ctx, "/q/p-0000000000", nil, Persistent, nil)
			if !errors.Is(err, ErrNodeExists) {
				return "", fmt.Errorf("got %v, want NodeExists", err)
			}
			return "", nil
		}, ""},
		{"TrailingSlashPrefix", func() (string, error) { return s.Create(ctx, "/q/", nil, PersistentSequential, nil) }, "/q/0000000005"},
		{"ContainerCounts", func() (string, error) { return s.Create(ctx, "/q/c", nil, Container, nil) }, "/q/c"},
		{"SequentialTTL", func() (string, error) {
			return s.CreateTTL(ctx, "/q/t-", nil, PersistentSequentialTTL, nil, time.Hour)
		}, "/q/t-0000000007"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			p, err := st.op()
			if err != nil || p != st.want {
				t.Fatalf("got %q, %v; want %q", p, err, st.want)
			}
		})
	}
	// Eight creates, one delete: the visible cversion is 2*8 - 7 children.
	if st := mustStat(t, s, "/q"); st.Cversion != 9 || st.NumChildren != 7 {
		t.Fatalf("/q cversion %d numChildren %d, want 9 and 7", st.Cversion, st.NumChildren)
	}
	// Sequential names under "/" use the root's own counter.
	if p := mustCreate(t, s, "/", nil, PersistentSequential, nil); p != "/0000000001" {
		t.Fatalf("sequential under root: %q, want /0000000001 (after /q)", p)
	}
}

func TestCreateErrors(t *testing.T) {
	n := openNode(t, Config{MaxDataSize: 1024})
	ctx := t.Context()
	s := newSession(t, n, SessionConfig{})
	ipOnly := newSession(t, n, SessionConfig{ClientIP: "10.1.2.3"})

	mustCreate(t, s, "/exists", nil, Persistent, nil)
	mustCreate(t, s, "/eph", nil, Ephemeral, nil)
	mustCreate(t, s, "/nocreate", nil, Persistent, nil)
	mustCreate(t, s, "/nocreate/existing", nil, Persistent, nil)
	if _, err := s.SetACL(ctx, "/nocreate", WorldACL(PermAll&^PermCreate), -1); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		sess   *Session
		path   string
		data   []byte
		mode   CreateMode
		acl    []ACL
		ttl    time.Duration
		want   error
		server bool // rejected by apply, so it still takes a zxid
	}{
		{name: "NodeExists", path: "/exists", want: ErrNodeExists, server: true},
		{name: "NodeExistsRoot", path: "/", want: ErrNodeExists, server: true},
		{name: "NodeExistsZookeeper", path: "/zookeeper", want: ErrNodeExists, server: true},
		{name: "NoNodeParent", path: "/missing/child", want: ErrNoNode, server: true},
		{name: "NoNodeParentSequential", path: "/missing/s-", mode: PersistentSequential, want: ErrNoNode, server: true},
		{name: "NoChildrenForEphemerals", path: "/eph/child", want: ErrNoChildrenForEphemerals, server: true},
		{name: "NoChildrenForEphemeralsEphemeral", path: "/eph/child", mode: Ephemeral, want: ErrNoChildrenForEphemerals, server: true},
		{name: "NoAuthWithoutCreateOnParent", path: "/nocreate/child", want: ErrNoAuth, server: true},
		{name: "NoAuthBeforeNodeExists", path: "/nocreate/existing", want: ErrNoAuth, server: true},
		{name: "InvalidACLEmptyList", path: "/x", acl: []ACL{}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLWorldNotAnyone", path: "/x", acl: []ACL{{PermAll, "world", "someone"}}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLDigestWithoutColon", path: "/x", acl: []ACL{{PermAll, "digest", "alice"}}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLDigestTwoColons", path: "/x", acl: []ACL{{PermAll, "digest", "a:b:c"}}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLIPBadAddress", path: "/x", acl: []ACL{{PermAll, "ip", "300.1.2.3"}}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLIPBadBits", path: "/x", acl: []ACL{{PermAll, "ip", "10.0.0.0/33"}}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLIPHostname", path: "/x", acl: []ACL{{PermAll, "ip", "example.com"}}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLUnknownScheme", path: "/x", acl: []ACL{{PermAll, "sasl", "alice"}}, want: ErrInvalidACL, server: true},
		{name: "InvalidACLAuthWithoutIdentity", path: "/x", acl: CreatorACL, want: ErrInvalidACL, server: true},
		{name: "InvalidACLAuthWithOnlyIP", sess: ipOnly, path: "/x", acl: CreatorACL, want: ErrInvalidACL, server: true},
		{name: "InvalidACLOneBadEntry", path: "/x", acl: append(slices.Clone(OpenACL), ACL{PermRead, "world", "x"}), want: ErrInvalidACL, server: true},
		{name: "InvalidACLBeforeNoNode", path: "/missing/x", acl: []ACL{}, want: ErrInvalidACL, server: true},
		{name: "ModeOutOfRange", path: "/x", mode: CreateMode(7), want: ErrBadArguments, server: true},
		{name: "ModeNegative", path: "/x", mode: CreateMode(-1), want: ErrBadArguments, server: true},
		{name: "TTLZero", path: "/x", mode: PersistentTTL, want: ErrBadArguments, server: true},
		{name: "TTLZeroSequential", path: "/x", mode: PersistentSequentialTTL, want: ErrBadArguments, server: true},
		{name: "TTLAboveMax", path: "/x", mode: PersistentTTL, ttl: MaxTTL + time.Millisecond, want: ErrBadArguments, server: true},
		{name: "TTLOnPersistent", path: "/x", mode: Persistent, ttl: time.Second, want: ErrBadArguments, server: true},
		{name: "TTLOnEphemeral", path: "/x", mode: Ephemeral, ttl: time.Second, want: ErrBadArguments, server: true},
		{name: "TTLOnContainer", path: "/x", mode: Container, ttl: time.Second, want: ErrBadArguments, server: true},
		{name: "DataOverMaxDataSize", path: "/x", data: make([]byte, 1025), want: ErrBadArguments},
		{name: "PathEmpty", path: "", want: ErrBadArguments},
		{name: "PathRelative", path: "x", want: ErrBadArguments},
		{name: "PathTrailingSlash", path: "/x/", want: ErrBadArguments},
		{name: "PathEmptySegment", path: "/exists//x", want: ErrBadArguments},
		{name: "PathDoubleSlash", path: "//", want: ErrBadArguments},
		{name: "PathDot", path: "/exists/.", want: ErrBadArguments},
		{name: "PathDotDot", path: "/exists/../x", want: ErrBadArguments},
		{name: "PathNull", path: "/x\x00y", want: ErrBadArguments},
		{name: "PathControl", path: "/x\x1f", want: ErrBadArguments},
		{name: "PathDelete", path: "/x\x7f", want: ErrBadArguments},
		{name: "PathC1Control", path: "/x\u0085", want: ErrBadArguments},
		{name: "PathPrivateUse", path: "/x\ue000", want: ErrBadArguments},
		{name: "PathSpecials", path: "/x\ufff0", want: ErrBadArguments},
		{name: "PathOutsideBMP", path: "/x\U0001F600", want: ErrBadArguments},
		{name: "PathInvalidUTF8", path: "/x\xff", want: ErrBadArguments},
		{name: "PathSequentialDoubleSlash", path: "/exists//", mode: PersistentSequential, want: ErrBadArguments},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sess := tc.sess
			if sess == nil {
				sess = s
			}
			z0 := n.LastZxid()
			var p string
			var err error
			if tc.ttl != 0 || tc.mode.isTTL() {
				p, err = sess.CreateTTL(ctx, tc.path, tc.data, tc.mode, tc.acl, tc.ttl)
			} else {
				p, err = sess.Create(ctx, tc.path, tc.data, tc.mode, tc.acl)
			}
			if p != "" {
				t.Errorf("path %q returned with an error", p)
			}
			wantOpError(t, err, tc.want, "create", tc.path)
			wantZxid := z0
			if tc.server {
				wantZxid++ // a failed write is an error transaction
			}
			if z := n.LastZxid(); z != wantZxid {
				t.Fatalf("LastZxid %d, want %d", z, wantZxid)
			}
		})
	}
	// The limit itself is fine.
	if _, err := s.Create(ctx, "/max", make([]byte, 1024), Persistent, nil); err != nil {
		t.Fatalf("create with exactly MaxDataSize: %v", err)
	}
	if _, err := s.CreateTTL(ctx, "/maxttl", nil, PersistentTTL, nil, MaxTTL); err != nil {
		t.Fatalf("create with MaxTTL: %v", err)
	}
	mustNotExist(t, s, "/x")
}

func TestDelete(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()

	mustCreate(t, s, "/d", nil, Persistent, nil)
	mustCreate(t, s, "/d/v", nil, Persistent, nil)
	for range 2 {
		if _, err := s.SetData(ctx, "/d/v", []byte("x"), -1); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, "/d/full", nil, Persistent, nil)
	mustCreate(t, s, "/d/full/c", nil, Persistent, nil)
	mustCreate(t, s, "/d/nodel", nil, Persistent, nil)
	mustCreate(t, s, "/d/nodel/c", nil, Persistent, nil)
	if _, err := s.SetACL(ctx, "/d/nodel", WorldACL(PermAll&^PermDelete), -1); err != nil {
		t.Fatal(err)
	}

	errCases := []struct {
		name    string
		path    string
		version int32
		want    error
		server  bool
	}{
		{"BadVersion", "/d/v", 1, ErrBadVersion, true},
		{"NotEmpty", "/d/full", -1, ErrNotEmpty, true},
		{"BadVersionBeforeNotEmpty", "/d/full", 7, ErrBadVersion, true},
		{"NoNode", "/d/missing", -1, ErrNoNode, true},
		{"NoNodeParent", "/nope/x", -1, ErrNoNode, true},
		{"NoAuthWithoutDeleteOnParent", "/d/nodel/c", -1, ErrNoAuth, true},
		// ZooKeeper checks DELETE on the parent before it looks for the node.
		{"NoAuthBeforeNoNode", "/d/nodel/missing", -1, ErrNoAuth, true},
		{"NoAuthBeforeBadVersion", "/d/nodel/c", 5, ErrNoAuth, true},
		{"Root", "/", -1, ErrBadArguments, true},
		{"Zookeeper", "/zookeeper", -1, ErrBadArguments, true},
		{"ZookeeperQuota", "/zookeeper/quota", -1, ErrBadArguments, true},
		{"ZookeeperConfig", "/zookeeper/config", -1, ErrBadArguments, true},
		{"InvalidPath", "/d/", -1, ErrBadArguments, false},
		{"InvalidPathDot", "/d/.", -1, ErrBadArguments, false},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			z0 := n.LastZxid()
			err := s.Delete(ctx, tc.path, tc.version)
			wantOpError(t, err, tc.want, "delete", tc.path)
			wantZxid := z0
			if tc.server {
				wantZxid++
			}
			if z := n.LastZxid(); z != wantZxid {
				t.Fatalf("LastZxid %d, want %d", z, wantZxid)
			}
		})
	}

	for _, tc := range []struct {
		name    string
		version func(Stat) int32
	}{
		{"AnyVersion", func(Stat) int32 { return -1 }},
		{"ExactVersion", func(st Stat) int32 { return st.Version }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "/d/" + tc.name
			mustCreate(t, s, p, []byte("x"), Persistent, nil)
			if _, err := s.SetData(ctx, p, []byte("y"), -1); err != nil {
				t.Fatal(err)
			}
			pBefore := mustStat(t, s, "/d")
			if err := s.Delete(ctx, p, tc.version(mustStat(t, s, p))); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			mustNotExist(t, s, p)
			pWant := pBefore
			pWant.Pzxid = n.LastZxid()
			pWant.Cversion++ // 2*C - numChildren: one child fewer
			pWant.NumChildren--
			if st := mustStat(t, s, "/d"); st != pWant {
				t.Fatalf("parent after delete\n got %+v\nwant %+v", st, pWant)
			}
		})
	}
}

func TestSetData(t *testing.T) {
	n := openNode(t, Config{MaxDataSize: 16})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()
	mustCreate(t, s, "/p", []byte("parent"), Persistent, nil)
	mustCreate(t, s, "/p/c", []byte("same"), Persistent, nil)
	mustCreate(t, s, "/nowrite", nil, Persistent, WorldACL(PermAll&^PermWrite))

	t.Run("VersionIncrementsEvenForIdenticalBytes", func(t *testing.T) {
		parentBefore := mustStat(t, s, "/p")
		prev := mustStat(t, s, "/p/c")
		for i := range 3 {
			waitClockPast(t, prev.Mtime)
			st, err := s.SetData(ctx, "/p/c", []byte("same"), prev.Version)
			if err != nil {
				t.Fatalf("SetData #%d: %v", i, err)
			}
			zxid := n.LastZxid()
			want := prev
			want.Version++
			want.Mzxid = zxid
			want.Mtime = st.Mtime
			if st != want || st.Mtime <= prev.Mtime {
				t.Fatalf("SetData #%d stat\n got %+v\nwant %+v (mtime after %d)", i, st, want, prev.Mtime)
			}
			if _, st2, _ := s.GetData(ctx, "/p/c"); st2 != st {
				t.Fatalf("GetData stat %+v, SetData returned %+v", st2, st)
			}
			prev = st
		}
		if st := mustStat(t, s, "/p"); st != parentBefore {
			t.Fatalf("setData on a child changed the parent\n got %+v\nwant %+v", st, parentBefore)
		}
	})
	t.Run("DataAndLength", func(t *testing.T) {
		st, err := s.SetData(ctx, "/p/c", []byte("0123456789abcdef"), -1)
		if err != nil || st.DataLength != 16 {
			t.Fatalf("SetData = %+v, %v", st, err)
		}
		st, err = s.SetData(ctx, "/p/c", nil, -1)
		if err != nil || st.DataLength != 0 {
			t.Fatalf("SetData(nil) = %+v, %v", st, err)
		}
		if data, _, _ := s.GetData(ctx, "/p/c"); len(data) != 0 {
			t.Fatalf("data %q after SetData(nil)", data)
		}
	})

	for _, tc := range []struct {
		name    string
		path    string
		data    []byte
		version int32
		want    error
		server  bool
	}{
		{"BadVersion", "/p/c", nil, 1000, ErrBadVersion, true},
		{"NoNode", "/p/missing", nil, -1, ErrNoNode, true},
		{"NoAuthWithoutWrite", "/nowrite", nil, -1, ErrNoAuth, true},
		{"NoAuthBeforeBadVersion", "/nowrite", nil, 1000, ErrNoAuth, true},
		{"DataOverMaxDataSize", "/p/c", make([]byte, 17), -1, ErrBadArguments, false},
		{"InvalidPath", "/p/c/", nil, -1, ErrBadArguments, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z0 := n.LastZxid()
			before := mustStat(t, s, "/p/c")
			_, err := s.SetData(ctx, tc.path, tc.data, tc.version)
			wantOpError(t, err, tc.want, "setData", tc.path)
			wantZxid := z0
			if tc.server {
				wantZxid++
			}
			if z := n.LastZxid(); z != wantZxid {
				t.Fatalf("LastZxid %d, want %d", z, wantZxid)
			}
			if after := mustStat(t, s, "/p/c"); after != before {
				t.Fatalf("failed SetData changed /p/c: %+v -> %+v", before, after)
			}
		})
	}
}

func TestSetACL(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()
	mustCreate(t, s, "/a", []byte("x"), Persistent, nil)
	mustCreate(t, s, "/a/c", nil, Persistent, nil)
	mustCreate(t, s, "/noadmin", nil, Persistent, WorldACL(PermAll&^PermAdmin))

	t.Run("AversionOnlyAndNoWatch", func(t *testing.T) {
		_, _, dataW, err := s.GetDataW(ctx, "/a")
		if err != nil {
			t.Fatal(err)
		}
		_, _, childW, err := s.GetChildrenW(ctx, "/a")
		if err != nil {
			t.Fatal(err)
		}
		_, _, parentW, err := s.GetChildrenW(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		pw, err := s.AddWatch(ctx, "/", WatchPersistentRecursive)
		if err != nil {
			t.Fatal(err)
		}
		before := mustStat(t, s, "/a")
		z0 := n.LastZxid()
		acl := WorldACL(PermRead | PermWrite | PermCreate | PermAdmin)
		st, err := s.SetACL(ctx, "/a", acl, 0)
		if err != nil {
			t.Fatalf("SetACL: %v", err)
		}
		want := before
		want.Aversion = 1
		if st != want {
			t.Fatalf("SetACL stat\n got %+v\nwant %+v", st, want)
		}
		if z := n.LastZxid(); z != z0+1 {
			t.Fatalf("LastZxid %d, want %d", z, z0+1)
		}
		if got, st2, err := s.GetACL(ctx, "/a"); err != nil || !slices.Equal(got, acl) || st2 != want {
			t.Fatalf("GetACL = %v, %+v, %v", got, st2, err)
		}
		nothingQueued(t, dataW)
		nothingQueued(t, childW)
		nothingQueued(t, parentW)
		// The recursive watch sees the next data change and nothing before.
		if _, err := s.SetData(ctx, "/a", []byte("y"), -1); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, recv(t, pw.Events()), EventNodeDataChanged, "/a", n.LastZxid())
	})

	for _, tc := range []struct {
		name     string
		path     string
		acl      []ACL
		aversion int32
		want     error
		server   bool
	}{
		{"BadVersion", "/a/c", OpenACL, 3, ErrBadVersion, true},
		{"NoNode", "/missing", OpenACL, -1, ErrNoNode, true},
		{"NoAuthWithoutAdmin", "/noadmin", OpenACL, -1, ErrNoAuth, true},
		{"InvalidACL", "/a/c", []ACL{}, -1, ErrInvalidACL, true},
		{"InvalidACLBeforeNoNode", "/missing", []ACL{{PermAll, "world", "nobody"}}, -1, ErrInvalidACL, true},
		{"InvalidPath", "/a/c/", OpenACL, -1, ErrBadArguments, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z0 := n.LastZxid()
			_, err := s.SetACL(ctx, tc.path, tc.acl, tc.aversion)
			wantOpError(t, err, tc.want, "setACL", tc.path)
			wantZxid := z0
			if tc.server {
				wantZxid++
			}
			if z := n.LastZxid(); z != wantZxid {
				t.Fatalf("LastZxid %d, want %d", z, wantZxid)
			}
		})
	}
}

func TestGetACL(t *testing.T) {
	n := openNode(t, Config{SuperDigest: DigestID("super", "pw")})
	ctx := t.Context()
	alice := newSession(t, n, SessionConfig{Auth: []Auth{{"digest", []byte("alice:secret")}}})
	anon := newSession(t, n, SessionConfig{})
	super := newSession(t, n, SessionConfig{Auth: []Auth{{"digest", []byte("super:pw")}}})

	aliceID := DigestID("alice", "secret")
	readOnly := []ACL{{PermAll, "digest", aliceID}, {PermRead, "world", "anyone"}}
	adminOnly := []ACL{{PermAll, "digest", aliceID}, {PermAdmin, "world", "anyone"}}
	neither := []ACL{{PermAll, "digest", aliceID}, {PermWrite, "world", "anyone"}}
	masked := func(acl []ACL) []ACL {
		out := slices.Clone(acl)
		out[0].ID = "alice:x"
		return out
	}
	mustCreate(t, alice, "/r", nil, Persistent, readOnly)
	mustCreate(t, alice, "/adm", nil, Persistent, adminOnly)
	mustCreate(t, alice, "/none", nil, Persistent, neither)

	for _, tc := range []struct {
		name string
		sess *Session
		path string
		want []ACL
		err  error
	}{
		{"ReadWithoutAdminMasksDigest", anon, "/r", masked(readOnly), nil},
		{"AdminSeesDigest", anon, "/adm", adminOnly, nil},
		{"OwnerSeesDigest", alice, "/r", readOnly, nil},
		{"NeitherReadNorAdmin", anon, "/none", nil, ErrNoAuth},
		{"SuperSeesEverything", super, "/none", neither, nil},
		{"NoNode", anon, "/missing", nil, ErrNoNode},
		{"InvalidPath", anon, "/r/", nil, ErrBadArguments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acl, st, err := tc.sess.GetACL(ctx, tc.path)
			if tc.err != nil {
				wantOpError(t, err, tc.err, "getACL", tc.path)
				return
			}
			if err != nil || !slices.Equal(acl, tc.want) {
				t.Fatalf("GetACL = %v, %v; want %v", acl, err, tc.want)
			}
			if want := mustStat(t, super, tc.path); st != want {
				t.Fatalf("GetACL stat %+v, want %+v", st, want)
			}
		})
	}
	// The returned slice is the caller's.
	acl, _, _ := alice.GetACL(ctx, "/r")
	acl[0].ID = "mallory:x"
	if again, _, _ := alice.GetACL(ctx, "/r"); !slices.Equal(again, readOnly) {
		t.Fatalf("GetACL result aliases the tree: %v", again)
	}
}

func TestReads(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	other := newSession(t, n, SessionConfig{})
	ctx := t.Context()
	mustCreate(t, s, "/r", []byte("root data"), Persistent, nil)
	for _, name := range []string{"b", "c", "a", "b2", "a1"} {
		mustCreate(t, s, "/r/"+name, nil, Persistent, nil)
	}
	mustCreate(t, s, "/r/a/deep", nil, Persistent, nil)
	mustCreate(t, s, "/r/e1", nil, Ephemeral, nil)
	mustCreate(t, s, "/r/a/e2", nil, Ephemeral, nil)
	mustCreate(t, s, "/e3", nil, Ephemeral, nil)
	mustCreate(t, other, "/r/other", nil, Ephemeral, nil)
	mustCreate(t, s, "/secret", []byte("s"), Persistent, WorldACL(PermAll&^PermRead))
	mustCreate(t, s, "/secret/c", nil, Persistent, nil)

	t.Run("Exists", func(t *testing.T) {
		ok, st, err := s.Exists(ctx, "/r")
		if err != nil || !ok || st.NumChildren != 7 || st.DataLength != 9 {
			t.Fatalf("Exists(/r) = %v, %+v, %v", ok, st, err)
		}
		ok, st, err = s.Exists(ctx, "/r/missing")
		if err != nil || ok || st != (Stat{}) {
			t.Fatalf("Exists(missing) = %v, %+v, %v", ok, st, err)
		}
		_, _, err = s.Exists(ctx, "/secret")
		wantOpError(t, err, ErrNoAuth, "exists", "/secret")
		// READ is needed only on a node that exists.
		if ok, _, err := s.Exists(ctx, "/secret/missing"); ok || err != nil {
			t.Fatalf("Exists under an unreadable parent = %v, %v", ok, err)
		}
		_, _, err = s.Exists(ctx, "r")
		wantOpError(t, err, ErrBadArguments, "exists", "r")
	})
	t.Run("GetData", func(t *testing.T) {
		data, st, err := s.GetData(ctx, "/r")
		if err != nil || string(data) != "root data" || st != mustStat(t, s, "/r") {
			t.Fatalf("GetData = %q, %+v, %v", data, st, err)
		}
		data[0] = 'X' // the caller's copy
		if again, _, _ := s.GetData(ctx, "/r"); string(again) != "root data" {
			t.Fatalf("GetData result aliases the tree: %q", again)
		}
		_, _, err = s.GetData(ctx, "/r/missing")
		wantOpError(t, err, ErrNoNode, "getData", "/r/missing")
		_, _, err = s.GetData(ctx, "/secret")
		wantOpError(t, err, ErrNoAuth, "getData", "/secret")
		_, _, err = s.GetData(ctx, "/r/")
		wantOpError(t, err, ErrBadArguments, "getData", "/r/")
	})
	t.Run("GetChildrenSorted", func(t *testing.T) {
		kids, st, err := s.GetChildren(ctx, "/r")
		want := []string{"a", "a1", "b", "b2", "c", "e1", "other"}
		if err != nil || !slices.Equal(kids, want) || st != mustStat(t, s, "/r") {
			t.Fatalf("GetChildren = %q, %+v, %v; want %q", kids, st, err, want)
		}
		kids, _, err = s.GetChildren(ctx, "/r/c")
		if err != nil || kids == nil || len(kids) != 0 {
			t.Fatalf("GetChildren(leaf) = %#v, %v; want empty non-nil", kids, err)
		}
		_, _, err = s.GetChildren(ctx, "/r/missing")
		wantOpError(t, err, ErrNoNode, "getChildren", "/r/missing")
		_, _, err = s.GetChildren(ctx, "/secret")
		wantOpError(t, err, ErrNoAuth, "getChildren", "/secret")
	})
	t.Run("GetEphemerals", func(t *testing.T) {
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"/", []string{"/e3", "/r/a/e2", "/r/e1"}},
			{"/r", []string{"/r/a/e2", "/r/e1"}},
			{"/r/a", []string{"/r/a/e2"}},
			{"/e", []string{"/e3"}}, // a plain string prefix, as ZooKeeper's
			{"/zzz", nil},
		} {
			got, err := s.GetEphemerals(ctx, tc.prefix)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("GetEphemerals(%q) = %q, %v; want %q", tc.prefix, got, err, tc.want)
			}
		}
		if got, _ := other.GetEphemerals(ctx, "/"); !slices.Equal(got, []string{"/r/other"}) {
			t.Fatalf("other session's ephemerals %q", got)
		}
	})
	t.Run("GetAllChildrenNumber", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want int
		}{
			// ZooKeeper's nodes.size()-2 for "/" counts /zookeeper,
			// /zookeeper/quota and /zookeeper/config.
			{"/", 3 + 1 + 5 + 1 + 2 + 1 + 1 + 2},
			{"/r", 5 + 1 + 2 + 1},
			{"/r/a", 2},
			{"/r/c", 0},
			{"/zookeeper", 2},
		} {
			got, err := s.GetAllChildrenNumber(ctx, tc.path)
			if err != nil || got != tc.want {
				t.Fatalf("GetAllChildrenNumber(%q) = %d, %v; want %d", tc.path, got, err, tc.want)
			}
		}
		_, err := s.GetAllChildrenNumber(ctx, "/missing")
		wantOpError(t, err, ErrNoNode, "getAllChildrenNumber", "/missing")
		_, err = s.GetAllChildrenNumber(ctx, "/secret")
		wantOpError(t, err, ErrNoAuth, "getAllChildrenNumber", "/secret")
	})
	t.Run("Sync", func(t *testing.T) {
		z0 := n.LastZxid()
		for _, p := range []string{"/r", "/does/not/exist", "/secret"} {
			got, err := s.Sync(ctx, p)
			if err != nil || got != p {
				t.Fatalf("Sync(%q) = %q, %v", p, got, err)
			}
		}
		if z := n.LastZxid(); z != z0 {
			t.Fatalf("Sync took a zxid: %d -> %d", z0, z)
		}
		_, err := s.Sync(ctx, "bad")
		wantOpError(t, err, ErrBadArguments, "sync", "bad")
	})
}

func TestMulti(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()
	mustCreate(t, s, "/m", nil, Persistent, nil)

	t.Run("AllApplyWithOneZxid", func(t *testing.T) {
		mustCreate(t, s, "/m/gone", nil, Persistent, nil)
		z0 := n.LastZxid()
		res, err := s.Multi(ctx,
			&CreateOp{Path: "/m/a", Data: []byte("1")},
			&SetDataOp{Path: "/m/a", Data: []byte("22"), Version: 0},
			&CreateOp{Path: "/m/s-", Mode: PersistentSequential},
			&CreateOp{Path: "/m/s-", Mode: EphemeralSequential},
			&CheckOp{Path: "/m/a", Version: 1},
			&DeleteOp{Path: "/m/gone", Version: -1},
		)
		if err != nil {
			t.Fatalf("Multi: %v", err)
		}
		zxid := z0 + 1
		if z := n.LastZxid(); z != zxid {
			t.Fatalf("multi took zxids %d..%d, want one", z0+1, z)
		}
		if len(res) != 6 {
			t.Fatalf("%d results", len(res))
		}
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("result %d: %v", i, r.Err)
			}
		}
		// /m had one create (gone) before: its counter was 1.
		wantPaths := []string{"/m/a", "", "/m/s-0000000002", "/m/s-0000000003", "", ""}
		for i, r := range res {
			if r.Path != wantPaths[i] {
				t.Fatalf("result %d path %q, want %q", i, r.Path, wantPaths[i])
			}
		}
		ctime := res[0].Stat.Ctime
		if want := (Stat{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: ctime, Mtime: ctime, DataLength: 1}); res[0].Stat != want {
			t.Fatalf("create result stat %+v, want %+v", res[0].Stat, want)
		}
		if want := (Stat{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: ctime, Mtime: ctime, Version: 1, DataLength: 2}); res[1].Stat != want {
			t.Fatalf("setData result stat %+v, want %+v", res[1].Stat, want)
		}
		if res[3].Stat.EphemeralOwner != s.ID() || res[2].Stat.EphemeralOwner != 0 {
			t.Fatalf("owners %d, %d", res[2].Stat.EphemeralOwner, res[3].Stat.EphemeralOwner)
		}
		if data, st, _ := s.GetData(ctx, "/m/a"); string(data) != "22" || st != res[1].Stat {
			t.Fatalf("/m/a = %q %+v", data, st)
		}
		mustNotExist(t, s, "/m/gone")
		if st := mustStat(t, s, "/m"); st.Pzxid != zxid || st.NumChildren != 3 || st.Cversion != 2*4-3 {
			t.Fatalf("/m stat %+v", st)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		res, err := s.Multi(ctx)
		if err != nil || len(res) != 0 {
			t.Fatalf("empty Multi = %v, %v", res, err)
		}
	})

	failures := []struct {
		name    string
		ops     []Op
		failing int
		want    error
	}{
		{"DeleteMissing", []Op{
			&CreateOp{Path: "/m/b"},
			&SetDataOp{Path: "/m/b", Data: []byte("x"), Version: -1},
			&DeleteOp{Path: "/m/missing", Version: -1},
			&CreateOp{Path: "/m/c"},
		}, 2, ErrNoNode},
		{"CheckBadVersion", []Op{
			&CreateOp{Path: "/m/s-", Mode: PersistentSequential},
			&CheckOp{Path: "/m/a", Version: 0},
		}, 1, ErrBadVersion},
		{"FirstOpFails", []Op{
			&CreateOp{Path: "/m/a"},
			&DeleteOp{Path: "/m/a", Version: -1},
		}, 0, ErrNodeExists},
		{"LaterOpSeesEarlierOne", []Op{
			&CreateOp{Path: "/m/x"},
			&CreateOp{Path: "/m/x"},
		}, 1, ErrNodeExists},
		{"DeleteOnlyChildThenFail", []Op{
			&DeleteOp{Path: "/m/a", Version: -1},
			&DeleteOp{Path: "/m/s-0000000002", Version: -1},
			&DeleteOp{Path: "/m/s-0000000003", Version: -1},
			&CreateOp{Path: "/m/a/x"},
		}, 3, ErrNoNode},
		{"InvalidACL", []Op{
			&CreateOp{Path: "/m/d"},
			&CreateOp{Path: "/m/e", ACL: []ACL{}},
		}, 1, ErrInvalidACL},
	}
	for _, tc := range failures {
		t.Run("Fails"+tc.name, func(t *testing.T) {
			_, _, childW, err := s.GetChildrenW(ctx, "/m")
			if err != nil {
				t.Fatal(err)
			}
			_, _, dataW, err := s.GetDataW(ctx, "/m/a")
			if err != nil {
				t.Fatal(err)
			}
			_, _, existW, err := s.ExistsW(ctx, "/m/b")
			if err != nil {
				t.Fatal(err)
			}
			before := snapshotState(t, s, "/m")
			z0 := n.LastZxid()

			res, err := s.Multi(ctx, tc.ops...)
			failPath := opPath(tc.ops[tc.failing])
			wantOpError(t, err, tc.want, "multi", failPath)
			if len(res) != len(tc.ops) {
				t.Fatalf("%d results for %d ops", len(res), len(tc.ops))
			}
			for i, r := range res {
				var want error
				switch {
				case i == tc.failing:
					want = tc.want
				case i > tc.failing:
					want = ErrRuntimeInconsistency
				}
				if r.Err != want || r.Path != "" || r.Stat != (Stat{}) {
					t.Fatalf("result %d = %+v, want Err %v and nothing else", i, r, want)
				}
			}
			if z := n.LastZxid(); z != z0+1 {
				t.Fatalf("failed multi: LastZxid %d, want %d", z, z0+1)
			}
			if after := snapshotState(t, s, "/m"); after != before {
				t.Fatalf("failed multi changed the tree\nbefore:\n%s\nafter:\n%s", before, after)
			}
			nothingQueued(t, childW)
			nothingQueued(t, dataW)
			nothingQueued(t, existW)
			// The watches are still set.
			for _, c := range []struct {
				path string
				typ  WatcherType
			}{{"/m", WatcherChildren}, {"/m/a", WatcherData}, {"/m/b", WatcherData}} {
				if err := s.RemoveWatches(ctx, c.path, c.typ); err != nil {
					t.Fatalf("RemoveWatches(%s): %v", c.path, err)
				}
			}
		})
	}

	t.Run("SequentialConsecutiveWithinMulti", func(t *testing.T) {
		mustCreate(t, s, "/seq", nil, Persistent, nil)
		ops := make([]Op, 5)
		for i := range ops {
			ops[i] = &CreateOp{Path: "/seq/n-", Mode: PersistentSequential}
		}
		res, err := s.Multi(ctx, ops...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if want := fmt.Sprintf("/seq/n-%010d", i); r.Path != want {
				t.Fatalf("op %d created %q, want %q", i, r.Path, want)
			}
		}
	})

	t.Run("ClientSideBadPath", func(t *testing.T) {
		z0 := n.LastZxid()
		for _, op := range []Op{
			&CreateOp{Path: "/m/bad/"},
			&DeleteOp{Path: "m"},
			&SetDataOp{Path: "/m//x"},
			&CheckOp{Path: ""},
		} {
			res, err := s.Multi(ctx, &CreateOp{Path: "/m/fine"}, op)
			if res != nil {
				t.Fatalf("results %v for a rejected multi", res)
			}
			wantOpError(t, err, ErrBadArguments, "multi", opPath(op))
		}
		if z := n.LastZxid(); z != z0 {
			t.Fatalf("rejected multis took zxids")
		}
		mustNotExist(t, s, "/m/fine")
	})
}

// opPath returns the path an Op names.
func opPath(op Op) string {
	switch o := op.(type) {
	case *CreateOp:
		return o.Path
	case *DeleteOp:
		return o.Path
	case *SetDataOp:
		return o.Path
	case *CheckOp:
		return o.Path
	}
	return ""
}

// snapshotState renders the subtree at root (paths, data, stats) through
// the public API, for before/after comparisons.
func snapshotState(t testing.TB, s *Session, root string) string {
	t.Helper()
	var b strings.Builder
	var walk func(p string)
	walk = func(p string) {
		data, st, err := s.GetData(context.Background(), p)
		if err != nil {
			t.Fatalf("GetData(%s): %v", p, err)
		}
		kids, _, err := s.GetChildren(context.Background(), p)
		if err != nil {
			t.Fatalf("GetChildren(%s): %v", p, err)
		}
		fmt.Fprintf(&b, "%s %q %+v %q\n", p, data, st, kids)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk(root)
	return b.String()
}

func TestZxidsStrictlyIncrease(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := t.Context()
	last := n.LastZxid()
	step := func(name string, err error, wantErr error) {
		t.Helper()
		if !errors.Is(err, wantErr) && !(err == nil && wantErr == nil) {
			t.Fatalf("%s: %v, want %v", name, err, wantErr)
		}
		z := n.LastZxid()
		if z != last+1 {
			t.Fatalf("%s: zxid %d -> %d, want +1", name, last, z)
		}
		last = z
	}
	_, err := s.Create(ctx, "/z", nil, Persistent, nil)
	step("create", err, nil)
	_, err = s.Create(ctx, "/z", nil, Persistent, nil)
	step("failed create", err, ErrNodeExists)
	_, err = s.SetData(ctx, "/z", nil, 9)
	step("failed setData", err, ErrBadVersion)
	_, err = s.SetData(ctx, "/z", nil, -1)
	step("setData", err, nil)
	_, err = s.SetACL(ctx, "/z", OpenACL, -1)
	step("setACL", err, nil)
	err = s.Delete(ctx, "/nope", -1)
	step("failed delete", err, ErrNoNode)
	_, err = s.Multi(ctx, &CreateOp{Path: "/z/a"}, &CheckOp{Path: "/nope", Version: -1})
	step("failed multi", err, ErrNoNode)
	err = s.Delete(ctx, "/z", -1)
	step("delete", err, nil)
	st := mustStat(t, s, "/")
	if st.Pzxid != last {
		t.Fatalf("root pzxid %d, want %d", st.Pzxid, last)
	}
}

func TestAuth(t *testing.T) {
	super := DigestID("super", "pw")
	n := openNode(t, Config{SuperDigest: super})
	ctx := t.Context()
	anon := newSession(t, n, SessionConfig{})
	alice := newSession(t, n, SessionConfig{})
	if err := alice.AddAuth(ctx, "digest", []byte("alice:secret")); err != nil {
		t.Fatalf("AddAuth: %v", err)
	}
	aliceACL := DigestACL(PermAll, "alice", "secret")

	t.Run("DigestGrants", func(t *testing.T) {
		mustCreate(t, alice, "/alice", []byte("mine"), Persistent, aliceACL)
		if _, _, err := alice.GetData(ctx, "/alice"); err != nil {
			t.Fatalf("owner GetData: %v", err)
		}
		_, _, err := anon.GetData(ctx, "/alice")
		wantOpError(t, err, ErrNoAuth, "getData", "/alice")
		_, err = anon.SetData(ctx, "/alice", nil, -1)
		wantOpError(t, err, ErrNoAuth, "setData", "/alice")
		_, err = anon.Create(ctx, "/alice/c", nil, Persistent, nil)
		wantOpError(t, err, ErrNoAuth, "create", "/alice/c")
		// The wrong password is accepted as a credential; it just grants
		// an identity nobody gave permissions to.
		if err := anon.AddAuth(ctx, "digest", []byte("alice:wrong")); err != nil {
			t.Fatalf("AddAuth with a wrong password: %v", err)
		}
		_, _, err = anon.GetData(ctx, "/alice")
		wantOpError(t, err, ErrNoAuth, "getData", "/alice")
	})
	t.Run("AuthSchemeExpandsToCaller", func(t *testing.T) {
		mustCreate(t, alice, "/creator", nil, Persistent, CreatorACL)
		acl, _, err := alice.GetACL(ctx, "/creator")
		if err != nil || !slices.Equal(acl, aliceACL) {
			t.Fatalf("GetACL = %v, %v; want %v", acl, err, aliceACL)
		}
	})
	t.Run("ACLNotInherited", func(t *testing.T) {
		mustCreate(t, alice, "/alice/open", []byte("public"), Persistent, nil)
		if data, _, err := anon.GetData(ctx, "/alice/open"); err != nil || string(data) != "public" {
			t.Fatalf("anon GetData of an open child = %q, %v", data, err)
		}
		if acl, _, _ := alice.GetACL(ctx, "/alice/open"); !slices.Equal(acl, OpenACL) {
			t.Fatalf("child ACL %v, want OpenACL", acl)
		}
	})
	t.Run("SuperDigestBypasses", func(t *testing.T) {
		root := newSession(t, n, SessionConfig{Auth: []Auth{{"digest", []byte("super:pw")}}})
		mustCreate(t, alice, "/locked", []byte("x"), Persistent, DigestACL(PermRead, "alice", "secret"))
		if _, _, err := root.GetData(ctx, "/locked"); err != nil {
			t.Fatalf("super GetData: %v", err)
		}
		if _, err := root.SetData(ctx, "/locked", []byte("y"), -1); err != nil {
			t.Fatalf("super SetData: %v", err)
		}
		mustCreate(t, root, "/locked/c", nil, Persistent, nil)
		if err := root.Delete(ctx, "/locked/c", -1); err != nil {
			t.Fatalf("super Delete: %v", err)
		}
		if _, err := root.SetACL(ctx, "/locked", OpenACL, -1); err != nil {
			t.Fatalf("super SetACL: %v", err)
		}
		// The super id is only the digest named by Config.SuperDigest.
		fake := newSession(t, n, SessionConfig{Auth: []Auth{{"digest", []byte("super:wrong")}}})
		mustCreate(t, alice, "/locked2", nil, Persistent, aliceACL)
		_, _, err := fake.GetData(ctx, "/locked2")
		wantOpError(t, err, ErrNoAuth, "getData", "/locked2")
	})
	t.Run("IPWithCIDR", func(t *testing.T) {
		acl := []ACL{{PermAll, "ip", "10.0.0.0/8"}, {PermRead, "ip", "192.168.1.7"}}
		inside := newSession(t, n, SessionConfig{ClientIP: "10.20.30.40"})
		exact := newSession(t, n, SessionConfig{ClientIP: "192.168.1.7"})
		outside := newSession(t, n, SessionConfig{ClientIP: "11.0.0.1"})
		mustCreate(t, inside, "/ip", nil, Persistent, acl)
		if _, err := inside.SetData(ctx, "/ip", []byte("x"), -1); err != nil {
			t.Fatalf("inside SetData: %v", err)
		}
		if _, _, err := exact.GetData(ctx, "/ip"); err != nil {
			t.Fatalf("exact GetData: %v", err)
		}
		_, err := exact.SetData(ctx, "/ip", nil, -1)
		wantOpError(t, err, ErrNoAuth, "setData", "/ip")
		_, _, err = outside.GetData(ctx, "/ip")
		wantOpError(t, err, ErrNoAuth, "getData", "/ip")
		_, _, err = anon.GetData(ctx, "/ip")
		wantOpError(t, err, ErrNoAuth, "getData", "/ip")
		v6 := newSession(t, n, SessionConfig{ClientIP: "2001:db8::1"})
		mustCreate(t, v6, "/ip6", nil, Persistent, []ACL{{PermAll, "ip", "2001:db8::/32"}})
		_, _, err = inside.GetData(ctx, "/ip6")
		wantOpError(t, err, ErrNoAuth, "getData", "/ip6")
	})
	t.Run("UnknownScheme", func(t *testing.T) {
		err := anon.AddAuth(ctx, "kerberos", []byte("x"))
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("AddAuth(kerberos) = %v", err)
		}
		var oe *OpError
		if !errors.As(err, &oe) || oe.Op != "addAuth" {
			t.Fatalf("AddAuth error %v is not an addAuth OpError", err)
		}
		_, err = n.NewSession(ctx, SessionConfig{Auth: []Auth{{"kerberos", nil}}})
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("NewSession with unknown auth = %v", err)
		}
	})
}

func TestChroot(t *testing.T) {
	n := openNode(t, Config{})
	ctx := t.Context()
	root := newSession(t, n, SessionConfig{})
	mustCreate(t, root, "/app", nil, Persistent, nil)
	mustCreate(t, root, "/apple", nil, Persistent, nil)
	s := newSession(t, n, SessionConfig{Chroot: "/app"})

	_, _, rootW, err := s.GetChildrenW(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if p := mustCreate(t, s, "/x", []byte("1"), Persistent, nil); p != "/x" {
		t.Fatalf("created %q, want /x", p)
	}
	wantEvent(t, queued(t, rootW), EventNodeChildrenChanged, "/", n.LastZxid())
	if data, _, err := root.GetData(ctx, "/app/x"); err != nil || string(data) != "1" {
		t.Fatalf("/app/x from outside = %q, %v", data, err)
	}
	if p := mustCreate(t, s, "/x/s-", nil, EphemeralSequential, nil); p != "/x/s-0000000000" {
		t.Fatalf("sequential created %q", p)
	}
	if eph, _ := s.GetEphemerals(ctx, "/"); !slices.Equal(eph, []string{"/x/s-0000000000"}) {
		t.Fatalf("GetEphemerals %q", eph)
	}
	if kids, _, _ := s.GetChildren(ctx, "/"); !slices.Equal(kids, []string{"x"}) {
		t.Fatalf("chroot root children %q", kids)
	}
	_, _, dataW, err := s.GetDataW(ctx, "/x")
	if err != nil {
		t.Fatal(err)
	}
	pw, err := s.AddWatch(ctx, "/", WatchPersistentRecursive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.SetData(ctx, "/app/x", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, queued(t, dataW), EventNodeDataChanged, "/x", n.LastZxid())
	wantEvent(t, recv(t, pw.Events()), EventNodeDataChanged, "/x", n.LastZxid())
	// A change to the chroot node itself is "/" inside it.
	if _, err := root.SetData(ctx, "/app", []byte("r"), -1); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, recv(t, pw.Events()), EventNodeDataChanged, "/", n.LastZxid())

	res, err := s.Multi(ctx, &CreateOp{Path: "/m"}, &CreateOp{Path: "/m/s-", Mode: PersistentSequential})
	if err != nil || res[0].Path != "/m" || res[1].Path != "/m/s-0000000000" {
		t.Fatalf("Multi = %+v, %v", res, err)
	}
	_, err = s.Multi(ctx, &CreateOp{Path: "/n"}, &DeleteOp{Path: "/missing", Version: -1})
	wantOpError(t, err, ErrNoNode, "multi", "/missing")
	err = s.Delete(ctx, "/x", -1)
	wantOpError(t, err, ErrNotEmpty, "delete", "/x")
	_, _, err = s.GetData(ctx, "/nope")
	wantOpError(t, err, ErrNoNode, "getData", "/nope")
	if n, err := s.GetAllChildrenNumber(ctx, "/"); err != nil || n != 4 {
		t.Fatalf("GetAllChildrenNumber(/) in chroot = %d, %v", n, err)
	}
	if _, err := n.NewSession(ctx, SessionConfig{Chroot: "app"}); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("NewSession with a bad chroot = %v", err)
	}
}

// TestCommandSizeLimits: one command carries at most 32 MiB (a multi's ops
// together) and no more ops, ACL entries or identities than every replica
// decodes; MaxDataSize cannot be set above 32 MiB.
func TestCommandSizeLimits(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	ctx := context.Background()
	value := make([]byte, 1<<20)
	var ops []Op
	for i := range 33 {
		ops = append(ops, &CreateOp{Path: fmt.Sprintf("/m%d", i), Data: value})
	}
	_, err := s.Multi(ctx, ops...)
	wantOpError(t, err, ErrBadArguments, "multi", "")
	mustNotExist(t, s, "/m0")
	// Just under the limit goes through.
	if _, err := s.Multi(ctx, ops[:31]...); err != nil {
		t.Fatal(err)
	}
	mustStat(t, s, "/m30")

	// Every replica must decode what is proposed: the decoder's count
	// limits are checked first.
	many := make([]Op, maxMultiOps+1)
	for i := range many {
		many[i] = &CheckOp{Path: "/m0", Version: -1}
	}
	_, err = s.Multi(ctx, many...)
	wantOpError(t, err, ErrBadArguments, "multi", "")
	acl := make([]ACL, maxACLs+1)
	for i := range acl {
		acl[i] = ACL{Perms: PermRead, Scheme: "ip", ID: fmt.Sprintf("10.0.%d.%d", i/256, i%256)}
	}
	_, err = s.Create(ctx, "/acl", nil, Persistent, acl)
	wantOpError(t, err, ErrBadArguments, "create", "/acl")
	mustNotExist(t, s, "/acl")

	if _, err := Open(ctx, Config{MaxDataSize: 33 << 20}); err == nil {
		t.Fatal("Open accepted MaxDataSize of 33 MiB")
	}
}
