package coord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// Quotas as ZooKeeper keeps them: zkCli's setquota writes
// /zookeeper/quota<path>/zookeeper_limits and then .../zookeeper_stats,
// and apply keeps the stats node's data up to date.

// quotaEnv is a single node whose tree checks its invariants (the digest
// and the quota stats included) after every command.
type quotaEnv struct {
	t   *testing.T
	n   *Node
	s   *Session
	ctx context.Context
}

func newQuotaEnv(t *testing.T, enforce bool) *quotaEnv {
	t.Helper()
	n := openNode(t, Config{})
	n.fsm.mu.Lock()
	n.fsm.t.strict = true
	n.fsm.t.limits.enforceQuota = enforce
	n.fsm.mu.Unlock()
	e := &quotaEnv{t: t, n: n, s: newSession(t, n, SessionConfig{}), ctx: context.Background()}
	t.Cleanup(e.checkInvariants)
	return e
}

func (e *quotaEnv) checkInvariants() {
	e.t.Helper()
	e.n.fsm.mu.RLock()
	err := e.n.fsm.t.invError
	e.n.fsm.mu.RUnlock()
	if err != nil {
		e.t.Fatalf("invariant violated: %v", err)
	}
}

// tree runs f on the node's tree under its read lock.
func (e *quotaEnv) tree(f func(*tree)) {
	e.n.fsm.mu.RLock()
	defer e.n.fsm.mu.RUnlock()
	f(e.n.fsm.t)
}

func (e *quotaEnv) create(path, data string) {
	e.t.Helper()
	mustCreate(e.t, e.s, path, []byte(data), Persistent, OpenACL)
	e.checkInvariants()
}

// setquota creates the quota nodes as zkCli's SetQuotaCommand.createQuota
// does: the missing parents under /zookeeper/quota with no data, the limits
// node, then the stats node with "count=0,bytes=0".
func (e *quotaEnv) setquota(path, limits string) {
	e.t.Helper()
	qp := zkQuota
	for _, part := range strings.Split(path, "/")[1:] {
		qp += "/" + part
		if ok, _, err := e.s.Exists(e.ctx, qp); err != nil {
			e.t.Fatal(err)
		} else if !ok {
			mustCreate(e.t, e.s, qp, nil, Persistent, OpenACL)
		}
	}
	mustCreate(e.t, e.s, qp+"/"+quotaLimitNode, []byte(limits), Persistent, OpenACL)
	mustCreate(e.t, e.s, qp+"/"+quotaStatNode, []byte("count=0,bytes=0"), Persistent, OpenACL)
	e.checkInvariants()
}

func (e *quotaEnv) stats(path string) string {
	e.t.Helper()
	data, st, err := e.s.GetData(e.ctx, quotaStatPath(path))
	if err != nil {
		e.t.Fatalf("stats of %s: %v", path, err)
	}
	if int(st.DataLength) != len(data) {
		e.t.Fatalf("stats of %s: DataLength %d for %d bytes", path, st.DataLength, len(data))
	}
	return string(data)
}

func (e *quotaEnv) wantStats(want map[string]string) {
	e.t.Helper()
	e.checkInvariants()
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if got := e.stats(p); got != want[p] {
			e.t.Errorf("stats of %s = %q, want %q", p, got, want[p])
		}
	}
}

func (e *quotaEnv) counters() (soft, hard uint64) {
	e.tree(func(t *tree) { soft, hard = t.quotaExceededCounts() })
	return soft, hard
}

func (e *quotaEnv) drifted(p string) (drifted bool) {
	e.tree(func(t *tree) { _, drifted = t.quota.drifted[p] })
	return drifted
}

func TestQuotaStatsFollowWrites(t *testing.T) {
	e := newQuotaEnv(t, false)
	ctx := e.ctx
	e.create("/a", "xy")
	e.create("/a/b", "123")
	e.setquota("/a", "count=3,bytes=-1")
	e.wantStats(map[string]string{"/a": "count=2,bytes=5"})
	statsBefore := mustStat(t, e.s, quotaStatPath("/a"))
	_, _, statsWatch, err := e.s.GetDataW(ctx, quotaStatPath("/a"))
	if err != nil {
		t.Fatal(err)
	}
	other := newSession(t, e.n, SessionConfig{})

	for _, step := range []struct {
		name string
		do   func() error
		want string
	}{
		{"CreateChild", func() error { _, err := e.s.Create(ctx, "/a/c", []byte("abcd"), Persistent, OpenACL); return err }, "count=3,bytes=9"},
		{"CreateOutside", func() error { _, err := e.s.Create(ctx, "/other", []byte("zzzz"), Persistent, OpenACL); return err }, "count=3,bytes=9"},
		{"CreateStringPrefixSibling", func() error { _, err := e.s.Create(ctx, "/ab", []byte("12"), Persistent, OpenACL); return err }, "count=3,bytes=9"},
		{"SetDataGrows", func() error { _, err := e.s.SetData(ctx, "/a/b", []byte("123456"), -1); return err }, "count=3,bytes=12"},
		{"SetDataEmpties", func() error { _, err := e.s.SetData(ctx, "/a/b", nil, -1); return err }, "count=3,bytes=6"},
		{"SetDataSameLength", func() error { _, err := e.s.SetData(ctx, "/a/c", []byte("wxyz"), -1); return err }, "count=3,bytes=6"},
		{"SetDataOnQuotaRoot", func() error { _, err := e.s.SetData(ctx, "/a", nil, -1); return err }, "count=3,bytes=4"},
		{"SoftCountPassedIsAllowed", func() error {
			_, err := e.s.Create(ctx, "/a/s-", []byte("1"), PersistentSequential, OpenACL)
			return err
		}, "count=4,bytes=5"},
		{"CreateEphemeral", func() error { _, err := other.Create(ctx, "/a/e", []byte("ee"), Ephemeral, OpenACL); return err }, "count=5,bytes=7"},
		{"EphemeralExpires", func() error { return e.n.ExpireSession(ctx, other.ID()) }, "count=4,bytes=5"},
		{"Multi", func() error {
			_, err := e.s.Multi(ctx,
				&CreateOp{Path: "/a/m1", Data: []byte("m")},
				&SetDataOp{Path: "/a/c", Data: []byte("w"), Version: -1},
				&DeleteOp{Path: "/a/s-0000000002", Version: -1}) // b and c came first
			return err
		}, "count=4,bytes=2"},
		{"FailedMultiRollsBack", func() error {
			_, err := e.s.Multi(ctx,
				&CreateOp{Path: "/a/m2", Data: []byte("mm")},
				&SetDataOp{Path: "/a/c", Data: []byte("longer"), Version: -1},
				&DeleteOp{Path: "/a/missing", Version: -1})
			if !errors.Is(err, ErrNoNode) {
				return fmt.Errorf("multi: %v, want NoNode", err)
			}
			return nil
		}, "count=4,bytes=2"},
		{"DeleteSubtree", func() error {
			for _, p := range []string{"/a/m1", "/a/c", "/a/b", "/a"} {
				if err := e.s.Delete(ctx, p, -1); err != nil {
					return err
				}
			}
			return nil
		}, "count=0,bytes=0"},
		{"QuotaOutlivesItsNode", func() error { _, err := e.s.Create(ctx, "/a", []byte("abc"), Persistent, OpenACL); return err }, "count=1,bytes=3"},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		e.checkInvariants()
		if got := e.stats("/a"); got != step.want {
			t.Fatalf("%s: stats %q, want %q", step.name, got, step.want)
		}
	}

	// The stats node's data is replaced in place: its stat moves only with
	// the data length, no watch fires, and the limits are untouched.
	after := mustStat(t, e.s, quotaStatPath("/a"))
	statsBefore.DataLength = after.DataLength
	if after != statsBefore {
		t.Fatalf("stats node stat %+v, was %+v", after, statsBefore)
	}
	nothingQueued(t, statsWatch)
	if data, _, _ := e.s.GetData(ctx, quotaLimitPath("/a")); string(data) != "count=3,bytes=-1" {
		t.Fatalf("limits %q", data)
	}
	if soft, hard := e.counters(); soft != 0 || hard != 0 {
		t.Fatalf("counters %d/%d with enforcement off, want none (ZooKeeper checks nothing)", soft, hard)
	}
	if e.drifted("/a") {
		t.Fatal("/a marked drifted: invariants checked nothing")
	}
}

// TestQuotaStatsNodeCreation: creating zookeeper_stats overwrites whatever
// data it was created with by the subtree's count and bytes; the created
// node's returned stat is the one before that (ZooKeeper copies it first).
func TestQuotaStatsNodeCreation(t *testing.T) {
	e := newQuotaEnv(t, false)
	ctx := e.ctx
	e.create("/p", "12345")
	e.create("/p/q", "")
	e.create("/p/q/r", "ab")
	mustCreate(t, e.s, "/zookeeper/quota/p", nil, Persistent, OpenACL)
	mustCreate(t, e.s, quotaLimitPath("/p"), []byte("count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=-1"), Persistent, OpenACL)
	_, st, err := e.s.CreateStat(ctx, quotaStatPath("/p"), []byte("junk"), Persistent, OpenACL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.DataLength != 4 {
		t.Fatalf("create returned DataLength %d, want 4 (the stat before the quota update)", st.DataLength)
	}
	e.wantStats(map[string]string{"/p": "count=3,bytes=7"})

	// A quota on a path that does not exist yet counts nothing, then its
	// node once created.
	e.setquota("/later", "count=5,bytes=-1")
	e.wantStats(map[string]string{"/later": "count=0,bytes=0"})
	e.create("/later", "x")
	e.create("/later/y", "yy")
	e.wantStats(map[string]string{"/later": "count=2,bytes=3", "/p": "count=3,bytes=7"})

	// Nodes under /zookeeper/quota count for no quota on a user path.
	for _, p := range []string{"/zookeeper/quota/p/extra", "/zookeeper/quota/later/x"} {
		e.create(p, "data")
	}
	e.wantStats(map[string]string{"/later": "count=2,bytes=3", "/p": "count=3,bytes=7"})
}

// TestQuotaStatsDrift: the cases where ZooKeeper's stats differ from a
// recount, which the invariant check must accept.
func TestQuotaStatsDrift(t *testing.T) {
	e := newQuotaEnv(t, false)
	ctx := e.ctx

	// A stats node created before its limits node misses what happens in
	// between.
	e.create("/early", "")
	mustCreate(t, e.s, "/zookeeper/quota/early", nil, Persistent, OpenACL)
	mustCreate(t, e.s, quotaStatPath("/early"), nil, Persistent, OpenACL)
	e.create("/early/missed", "abc")
	mustCreate(t, e.s, quotaLimitPath("/early"), []byte("count=10,bytes=-1"), Persistent, OpenACL)
	e.create("/early/counted", "12")
	e.wantStats(map[string]string{"/early": "count=2,bytes=2"}) // a recount says 3, 5

	// A client may write the stats; updates go on from what it wrote, in
	// StatsTrack's format (extra keys kept, sorted, after "=").
	e.create("/w", "")
	e.setquota("/w", "count=10,bytes=-1")
	if _, err := e.s.SetData(ctx, quotaStatPath("/w"), []byte("count=100,bytes=7;zz=1,aa=2"), -1); err != nil {
		t.Fatal(err)
	}
	e.create("/w/x", "1234")
	e.wantStats(map[string]string{"/w": "count=101,bytes=11=;aa=2;zz=1"})

	// Data StatsTrack cannot parse is left alone (ZooKeeper would throw in
	// the middle of applying the create).
	if _, err := e.s.SetData(ctx, quotaStatPath("/w"), []byte("count"), -1); err != nil {
		t.Fatal(err)
	}
	e.create("/w/y", "1")
	e.wantStats(map[string]string{"/w": "count"})

	// A quota on /zookeeper covers the stats nodes themselves.
	e.setquota("/zookeeper", "count=-1,bytes=-1")
	e.create("/early/more", "")
	e.checkInvariants()

	if !e.drifted("/early") || !e.drifted("/w") {
		t.Fatal("drifted quotas not marked")
	}

	// zkCli's delquota and setquota again: a new stats node is a recount,
	// which the invariants check from then on.
	if err := e.s.Delete(ctx, quotaStatPath("/w"), -1); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e.s, quotaStatPath("/w"), []byte("count=0,bytes=0"), Persistent, OpenACL)
	e.create("/w/z", "z")
	e.wantStats(map[string]string{"/w": "count=4,bytes=6"})
	if e.drifted("/w") {
		t.Fatal("/w still marked drifted after its stats node was recreated")
	}
}

// TestQuotaNested: quota'd paths inside each other (zkCli refuses them;
// raw creates do not): a change counts for the nearest quota only.
func TestQuotaNested(t *testing.T) {
	e := newQuotaEnv(t, false)
	ctx := e.ctx
	e.create("/a", "1")
	e.create("/a/b", "22")
	e.setquota("/a", "count=-1,bytes=-1")
	e.setquota("/a/b", "count=-1,bytes=-1")
	e.wantStats(map[string]string{"/a": "count=2,bytes=3", "/a/b": "count=1,bytes=2"})

	for _, step := range []struct {
		name string
		do   func() error
		want map[string]string
	}{
		{"CreateUnderInner", func() error { _, err := e.s.Create(ctx, "/a/b/x", []byte("xxx"), Persistent, OpenACL); return err },
			map[string]string{"/a": "count=2,bytes=3", "/a/b": "count=2,bytes=5"}},
		{"CreateUnderOuter", func() error { _, err := e.s.Create(ctx, "/a/y", []byte("y"), Persistent, OpenACL); return err },
			map[string]string{"/a": "count=3,bytes=4", "/a/b": "count=2,bytes=5"}},
		{"SetDataOnInnerRoot", func() error { _, err := e.s.SetData(ctx, "/a/b", nil, -1); return err },
			map[string]string{"/a": "count=3,bytes=4", "/a/b": "count=2,bytes=3"}},
		{"DeleteInnerLimits", func() error { return e.s.Delete(ctx, quotaLimitPath("/a/b"), -1) },
			map[string]string{"/a": "count=3,bytes=4", "/a/b": "count=2,bytes=3"}},
		{"InnerNowCountsForOuter", func() error { _, err := e.s.Create(ctx, "/a/b/z", []byte("zz"), Persistent, OpenACL); return err },
			map[string]string{"/a": "count=4,bytes=6", "/a/b": "count=2,bytes=3"}},
		{"InnerLimitsBack", func() error {
			_, err := e.s.Create(ctx, quotaLimitPath("/a/b"), []byte("count=-1,bytes=-1"), Persistent, OpenACL)
			return err
		}, map[string]string{"/a": "count=4,bytes=6", "/a/b": "count=2,bytes=3"}},
		{"InnerCountsAgain", func() error { return e.s.Delete(ctx, "/a/b/z", -1) },
			map[string]string{"/a": "count=4,bytes=6", "/a/b": "count=1,bytes=1"}},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		e.wantStats(step.want)
		if t.Failed() {
			t.Fatalf("after %s", step.name)
		}
	}
	e.tree(func(tr *tree) {
		if !slices.Equal(slices.Sorted(maps.Keys(tr.quota.index)), []string{"/a", "/a/b"}) {
			t.Fatalf("index %v", tr.quota.index)
		}
	})
}

// TestQuotaHardLimits: with enforcement on, a create or setData that would
// pass a hard limit fails with QuotaExceeded; soft limits are only
// counted; with it off (ZooKeeper's default) nothing is checked. Each
// case's quota path holds "1234" with a child "12": count=2, bytes=6.
func TestQuotaHardLimits(t *testing.T) {
	const (
		countHard2 = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2" // zkCli setquota -N 2
		countHard3 = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"
	)
	type res struct {
		err        error // want from op, nil for success
		soft, hard uint64
	}
	cases := []struct {
		name    string
		limits  string
		noStats bool
		op      func(ctx context.Context, s *Session, p string) error
		on, off res
	}{
		{"CountHard", countHard2, false, createChild("new", ""), res{ErrQuotaExceeded, 0, 1}, res{}},
		{"CountHardRoom", countHard3, false, createChild("new", ""), res{}, res{}},
		{"CountSoft", "count=2,bytes=-1", false, createChild("new", ""), res{nil, 1, 0}, res{}},
		{"HardWinsOverSoft", "count=10,bytes=-1=;countHardLimit=2", false, createChild("new", ""), res{ErrQuotaExceeded, 0, 1}, res{}},
		{"SoftUnseenWithHard", "count=1,bytes=-1=;countHardLimit=5", false, createChild("new", ""), res{}, res{}},
		{"BytesHardSetData", "count=-1,bytes=-1=;byteHardLimit=8", false, setChild("12345", -1), res{ErrQuotaExceeded, 0, 1}, res{}},
		{"BytesHardSetDataRoom", "count=-1,bytes=-1=;byteHardLimit=8", false, setChild("1234", -1), res{}, res{}},
		{"BytesHardCreate", "count=-1,bytes=-1=;byteHardLimit=8", false, createChild("new", "abc"), res{ErrQuotaExceeded, 0, 1}, res{}},
		{"BytesSoft", "count=-1,bytes=6", false, createChild("new", "abc"), res{nil, 1, 0}, res{}},
		{"EmptyCreateSkipsBytes", "count=-1,bytes=-1=;byteHardLimit=6", false, createChild("new", ""), res{}, res{}},
		{"SameLengthSkipsBytes", "count=-1,bytes=-1=;byteHardLimit=5", false, setChild("ab", -1), res{}, res{}},
		// ZooKeeper compares the new total, not the direction of the change.
		{"ShrinkStillOver", "count=-1,bytes=-1=;byteHardLimit=3", false, setChild("1", -1), res{ErrQuotaExceeded, 0, 1}, res{}},
		{"QuotaBeforeBadVersion", "count=-1,bytes=-1=;byteHardLimit=6", false, setChild("123", 7), res{ErrQuotaExceeded, 0, 1}, res{ErrBadVersion, 0, 0}},
		{"NodeExistsBeforeQuota", countHard2, false, createChild("k", ""), res{ErrNodeExists, 0, 0}, res{ErrNodeExists, 0, 0}},
		{"DeleteNotChecked", "count=-1,bytes=-1=;countHardLimit=1", false, func(ctx context.Context, s *Session, p string) error {
			return s.Delete(ctx, p+"/k", -1)
		}, res{}, res{}},
		{"SequentialCreate", countHard2, false, func(ctx context.Context, s *Session, p string) error {
			_, err := s.Create(ctx, p+"/s-", nil, PersistentSequential, OpenACL)
			return err
		}, res{ErrQuotaExceeded, 0, 1}, res{}},
		{"MultiSecondCreate", countHard3, false, func(ctx context.Context, s *Session, p string) error {
			rs, err := s.Multi(ctx, &CreateOp{Path: p + "/m1"}, &CreateOp{Path: p + "/m2"})
			if err != nil && (rs[0].Err != nil || !errors.Is(rs[1].Err, ErrQuotaExceeded)) {
				return fmt.Errorf("results %+v", rs)
			}
			return err
		}, res{ErrQuotaExceeded, 0, 1}, res{}},
		// Enforcement reads the limits and stats; ZooKeeper's prep fails a
		// request whose StatsTrack throws with MarshallingError.
		{"UnparsableLimits", "count=", false, createChild("new", ""), res{ErrMarshallingError, 0, 0}, res{}},
		{"MissingStatsAllows", "count=-1,bytes=-1=;countHardLimit=1", true, createChild("new", ""), res{}, res{}},
	}
	for _, enforce := range []bool{true, false} {
		t.Run(fmt.Sprintf("enforce=%v", enforce), func(t *testing.T) {
			e := newQuotaEnv(t, enforce)
			for i, tc := range cases {
				p := fmt.Sprintf("/q%d", i)
				e.create(p, "1234")
				e.create(p+"/k", "12")
				if tc.noStats {
					mustCreate(t, e.s, zkQuota+p, nil, Persistent, OpenACL)
					mustCreate(t, e.s, quotaLimitPath(p), []byte(tc.limits), Persistent, OpenACL)
				} else {
					e.setquota(p, tc.limits)
					e.wantStats(map[string]string{p: "count=2,bytes=6"})
				}
				want := tc.off
				if enforce {
					want = tc.on
				}
				soft0, hard0 := e.counters()
				err := tc.op(e.ctx, e.s, p)
				e.checkInvariants()
				if (want.err == nil) != (err == nil) || (err != nil && !errors.Is(err, want.err)) {
					t.Fatalf("%s: err %v, want %v", tc.name, err, want.err)
				}
				if soft, hard := e.counters(); soft-soft0 != want.soft || hard-hard0 != want.hard {
					t.Fatalf("%s: counted %d soft, %d hard; want %d, %d", tc.name, soft-soft0, hard-hard0, want.soft, want.hard)
				}
				if want.err != nil && !tc.noStats {
					e.wantStats(map[string]string{p: "count=2,bytes=6"}) // unchanged
				}
			}
		})
	}
}

func createChild(name, data string) func(context.Context, *Session, string) error {
	return func(ctx context.Context, s *Session, p string) error {
		_, err := s.Create(ctx, p+"/"+name, []byte(data), Persistent, OpenACL)
		return err
	}
}

func setChild(data string, version int32) func(context.Context, *Session, string) error {
	return func(ctx context.Context, s *Session, p string) error {
		_, err := s.SetData(ctx, p+"/k", []byte(data), version)
		return err
	}
}

// quotaTree builds a bare tree with quotas of every kind: plain, nested,
// drifted, stats before limits, and one on a missing path.
func quotaTree(t *testing.T, enforce bool) *tree {
	t.Helper()
	tr := newTree(treeLimits{maxData: 64, enforceQuota: enforce})
	tr.strict = true
	tr.now = 1_000_000
	treeApply(t, tr, command{kind: opCreateSession, session: 1, ttl: 5000, passwd: []byte("pw")})
	mk := func(p, data string) {
		t.Helper()
		if r := treeApply(t, tr, command{kind: opCreate, path: p, data: []byte(data), acl: OpenACL}); r.err != CodeOK {
			t.Fatalf("create %s: %v", p, r.err)
		}
	}
	setquota := func(p, limits string) {
		t.Helper()
		qp := zkQuota
		for _, part := range strings.Split(p, "/")[1:] {
			if qp += "/" + part; tr.nodes[qp] == nil {
				mk(qp, "")
			}
		}
		mk(qp+"/"+quotaLimitNode, limits)
		mk(qp+"/"+quotaStatNode, "count=0,bytes=0")
	}
	mk("/a", "aa")
	mk("/a/b", "bbb")
	setquota("/a", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=4")
	setquota("/a/b", "count=-1,bytes=-1")
	mk("/a/b/c", "c")
	mk("/d", "")
	setquota("/d", "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1")
	treeApply(t, tr, command{kind: opSetData, path: quotaStatPath("/d"), data: []byte("count=9,bytes=0"), version: -1})
	setquota("/missing", "count=1,bytes=-1")
	treeApply(t, tr, command{kind: opCreate, path: "/a/e", data: []byte("e"), acl: OpenACL, mode: Ephemeral})
	return tr
}

// TestQuotaSnapshotRestore: a decoded snapshot has the same quota index
// (and drift), keeps the stats it carries, and goes on exactly like the
// original, hard limits included.
func TestQuotaSnapshotRestore(t *testing.T) {
	tr := quotaTree(t, true)
	got, err := decodeSnapshot(encodeSnapshot(tr), tr.limits)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	compareTrees(t, got, tr)
	if !maps.Equal(got.quota.index, tr.quota.index) || !maps.Equal(got.quota.drifted, tr.quota.drifted) {
		t.Fatalf("restored index %v drifted %v, want %v %v", got.quota.index, got.quota.drifted, tr.quota.index, tr.quota.drifted)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got.quota.index)), []string{"/a", "/a/b", "/d", "/missing"}) {
		t.Fatalf("index %v", got.quota.index)
	}
	got.strict = true
	more := []command{
		{kind: opCreate, path: "/a/f", acl: OpenACL},                       // /a: count 4
		{kind: opCreate, path: "/a/g", acl: OpenACL},                       // QuotaExceeded
		{kind: opCreate, path: "/a/b/h", data: []byte("hh"), acl: OpenACL}, // /a/b only
		{kind: opSetData, path: "/d", data: []byte("0123456789"), version: -1},
		{kind: opSetData, path: "/d", data: []byte("0123456789x"), version: -1}, // QuotaExceeded
		{kind: opCloseSession, session: 1},                                      // /a/e goes
		{kind: opCreateSession, session: 2, ttl: 5000},
		{kind: opCreate, session: 2, path: "/missing", data: []byte("now"), acl: OpenACL},
		{kind: opDelete, session: 2, path: quotaLimitPath("/a/b"), version: -1},
		{kind: opCreate, session: 2, path: "/a/b/i", acl: OpenACL}, // /a again
		{kind: opCreate, session: 2, path: "/a/b/j", acl: OpenACL}, // QuotaExceeded
	}
	for i := range more {
		tr.now += 10
		got.now = tr.now
		if more[i].session == 0 && more[i].kind != opCreateSession {
			more[i].session = 1
		}
		c1, c2 := more[i], more[i]
		r1, r2 := tr.applyOne(&c1), got.applyOne(&c2)
		if r1.err != r2.err || tr.digest != got.digest {
			t.Fatalf("command %d: %v/%x on the original, %v/%x restored", i, r1.err, tr.digest, r2.err, got.digest)
		}
		if tr.invError != nil || got.invError != nil {
			t.Fatalf("command %d: %v / %v", i, tr.invError, got.invError)
		}
	}
	if soft, hard := got.quotaExceededCounts(); soft != 0 || hard != 3 {
		t.Fatalf("restored tree counted %d soft, %d hard; want 0, 3", soft, hard)
	}
	for p, want := range map[string]string{
		"/a": "count=4,bytes=5", "/a/b": "count=3,bytes=6", "/d": "count=9,bytes=10", "/missing": "count=1,bytes=3",
	} {
		if s := string(got.nodes[quotaStatPath(p)].data); s != want {
			t.Errorf("stats of %s = %q, want %q", p, s, want)
		}
	}
	compareTrees(t, got, tr)
}

// TestQuotaSnapshotStreamsStatsAtMark: stats rewritten while a snapshot
// streams are written as they were at the mark (the rewrite goes through
// modify, which keeps the pre-image).
func TestQuotaSnapshotStreamsStatsAtMark(t *testing.T) {
	tr := quotaTree(t, false)
	f := &fsm{t: tr}
	atMark := encodeSnapshot(tr)
	snap := f.snapshotCOW()
	for i := range 50 {
		c := command{kind: opCreate, session: 1, path: fmt.Sprintf("/a/n%d", i), data: []byte("x"), acl: OpenACL}
		if r := tr.applyOne(&c); r.err != CodeOK || tr.invError != nil {
			t.Fatalf("create: %v %v", r.err, tr.invError)
		}
	}
	var out bytes.Buffer
	if err := snap.Persist(&out); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	got, err := decodeSnapshot(out.Bytes(), tr.limits)
	if err != nil {
		t.Fatalf("streamed snapshot: %v", err)
	}
	want, err := decodeSnapshot(atMark, tr.limits)
	if err != nil {
		t.Fatal(err)
	}
	if got.digest != want.digest || !bytes.Equal(got.nodes[quotaStatPath("/a")].data, want.nodes[quotaStatPath("/a")].data) {
		t.Fatalf("streamed stats %q, at mark %q", got.nodes[quotaStatPath("/a")].data, want.nodes[quotaStatPath("/a")].data)
	}
	if bytes.Equal(tr.nodes[quotaStatPath("/a")].data, want.nodes[quotaStatPath("/a")].data) {
		t.Fatal("stats did not move after the mark: the test proves nothing")
	}
}

// TestQuotaInvariantsCatchMistakes: the invariant check notices stats
// changed outside the quota rules and an index out of step with the tree.
func TestQuotaInvariantsCatchMistakes(t *testing.T) {
	tr := quotaTree(t, false)
	tr.strict = false
	if err := tr.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	sp := quotaStatPath("/a/b")
	sn := tr.nodes[sp]
	old := sn.data
	tr.modify(sp, sn, func(n *znode) { n.data = []byte("count=2,bytes=5") }) // a missed update
	if err := tr.checkInvariants(); err == nil || !strings.Contains(err.Error(), "/a/b") {
		t.Fatalf("missed stats update: %v", err)
	}
	tr.modify(sp, sn, func(n *znode) { n.data = old })

	tr.quota.index["/nowhere"] = struct{}{}
	if err := tr.checkInvariants(); err == nil {
		t.Fatal("index entry without limits node not caught")
	}
	delete(tr.quota.index, "/nowhere")
	delete(tr.quota.index, "/a")
	if err := tr.checkInvariants(); err == nil {
		t.Fatal("quota missing from the index not caught")
	}
	tr.quota.index["/a"] = struct{}{}
	if err := tr.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestQuotaMultiRollsBackIndex: a failed multi leaves the index, the drift
// marks and the stats as they were.
func TestQuotaMultiRollsBackIndex(t *testing.T) {
	tr := quotaTree(t, false)
	index, drifted := maps.Clone(tr.quota.index), maps.Clone(tr.quota.drifted)
	digest := tr.digest
	r := treeApply(t, tr, command{kind: opMulti, ops: []command{
		{kind: opDelete, path: quotaLimitPath("/a"), version: -1},
		{kind: opDelete, path: quotaStatPath("/a/b"), version: -1},
		{kind: opCreate, path: quotaStatPath("/a/b"), acl: OpenACL},
		{kind: opCreate, path: zkQuota + "/x", acl: OpenACL},
		{kind: opCreate, path: quotaLimitPath("/x"), acl: OpenACL},
		{kind: opCreate, path: "/d/y", data: []byte("yy"), acl: OpenACL},
		{kind: opDelete, path: quotaStatPath("/d"), version: -1},
		{kind: opCreate, path: quotaStatPath("/d"), acl: OpenACL}, // clears /d's drift
		{kind: opDelete, path: "/nonexistent", version: -1},
	}})
	if r.err != CodeNoNode {
		t.Fatalf("multi: %v", r.err)
	}
	if !maps.Equal(tr.quota.index, index) || !maps.Equal(tr.quota.drifted, drifted) || tr.digest != digest {
		t.Fatalf("after rollback index %v drifted %v digest %x; want %v %v %x", tr.quota.index, tr.quota.drifted, tr.digest, index, drifted, digest)
	}
}

func TestStatsTrack(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want string // formatted again, when ok
	}{
		{"", true, "count=-1,bytes=-1"},
		{"count=3,bytes=-1", true, "count=3,bytes=-1"},
		{"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3", true, "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"},
		{"countHardLimit=10;byteHardLimit=10,count=4,bytes=5", true, "count=4,bytes=5=;byteHardLimit=10;countHardLimit=10"},
		{"count=1,,;;bytes=2,", true, "count=1,bytes=2"},
		{"count==3", true, "count=-1,bytes=-1"}, // an empty value is -1
		{"count=+5,count=6", true, "count=6,bytes=-1"},
		{"bytes=2=junk", true, "count=-1,bytes=2"},
		{"=7", true, "count=-1,bytes=-1=;=7"},
		{",", true, "count=-1,bytes=-1"},
		{"count=", false, ""},
		{"count", false, ""},
		{",count=1", false, ""},
		{"=", false, ""},
		{"count=x", false, ""},
		{"count=1 ", false, ""},
		{"count=99999999999999999999", false, ""},
	} {
		st, ok := parseStatsTrack([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("parse %q: ok %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if ok && string(st.bytes()) != tc.want {
			t.Errorf("parse %q: formats as %q, want %q", tc.in, st.bytes(), tc.want)
		}
	}
}
