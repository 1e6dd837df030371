package coord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coordkit/coord/raftfsm"
)

// TestStaleBatchIsSkipped: a node numbers its batches; once a later batch
// of that node is applied, an earlier one (a stale copy that surfaced late
// from a dead connection) changes nothing, so a write whose fate its
// sender settled cannot be applied a second time.
func TestStaleBatchIsSkipped(t *testing.T) {
	tr := newTree(treeLimits{maxData: 1 << 20})
	tr.strict = true
	create := func(p string) entry {
		return entry{origin: 9, seq: 1, cmd: command{kind: opCreate, path: p, acl: OpenACL, mode: PersistentSequential}}
	}
	mk := func(counter uint64, paths ...string) *batch {
		b := &batch{time: 1, origin: 9, counter: counter}
		for _, p := range paths {
			b.entries = append(b.entries, create(p))
		}
		return b
	}
	if res := tr.applyBatch(mk(1, "/a-")); len(res) != 1 || res[0].err != CodeOK {
		t.Fatalf("first batch: %+v", res)
	}
	if res := tr.applyBatch(mk(3, "/b-")); len(res) != 1 || res[0].err != CodeOK {
		t.Fatalf("third batch: %+v", res)
	}
	zxid, digest := tr.zxid, tr.digest
	if res := tr.applyBatch(mk(2, "/a-")); len(res) != 0 {
		t.Fatalf("stale batch gave results: %+v", res)
	}
	if tr.zxid != zxid || tr.digest != digest {
		t.Fatal("a stale batch changed the tree")
	}
	// Other origins are numbered on their own.
	other := mk(1, "/c-")
	other.origin = 10
	if res := tr.applyBatch(other); len(res) != 1 || res[0].err != CodeOK {
		t.Fatalf("other origin: %+v", res)
	}
	// The numbering survives a snapshot.
	restored, err := decodeSnapshot(encodeSnapshot(tr), tr.limits)
	if err != nil {
		t.Fatal(err)
	}
	if res := restored.applyBatch(mk(3, "/d-")); len(res) != 0 {
		t.Fatal("after restore, a stale batch was applied")
	}
	if tr.invError != nil {
		t.Fatal(tr.invError)
	}
}

// TestGroupEntry: a leader packs its own batch and the batches other nodes
// forwarded into one raft entry. Every member is applied as an entry of its
// own (origin and counter checked one by one, so a stale member changes
// nothing), in order, with the group's time.
func TestGroupEntry(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/g", nil, Persistent, OpenACL)
	member := func(origin, counter uint64, paths ...string) []byte {
		b := batch{time: 1, origin: origin, counter: counter} // time is the group's
		for _, p := range paths {
			b.entries = append(b.entries, entry{origin: origin, seq: 1 << 40, cmd: command{kind: opCreate, path: p, acl: OpenACL, mode: PersistentSequential}})
		}
		return encodeBatch(nil, &b)
	}
	const groupTime = 1_700_000_000_000
	members := [][]byte{
		member(101, 1, "/g/a-"),
		member(102, 7, "/g/b-", "/g/b-"),
		member(101, 1, "/g/a-"), // the same batch again: stale
		member(101, 2, "/g/a-"),
		// This node's own origin with a counter it has long passed: stale,
		// and its entries name this node, which has nobody waiting for them.
		member(n.tag, 1, "/g/self-"),
	}
	data := appendGroupHeader(nil, logFormat1, groupTime, len(members))
	for _, m := range members {
		data = appendGroupMember(data, m)
	}
	if err := n.replica.Apply(data).Error(); err != nil {
		t.Fatal(err)
	}
	kids, _, err := s.GetChildren(context.Background(), "/g")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kids)
	want := []string{"a-0000000000", "a-0000000003", "b-0000000001", "b-0000000002"}
	if !slices.Equal(kids, want) {
		t.Fatalf("children %q, want %q", kids, want)
	}
	for _, k := range kids {
		if st := mustStat(t, s, "/g/"+k); st.Ctime != groupTime {
			t.Fatalf("%s: ctime %d, want the group's %d", k, st.Ctime, int64(groupTime))
		}
	}
	// A malformed group is skipped as a whole by every replica alike;
	// the node goes on.
	bad := appendGroupHeader(nil, logFormat1, groupTime, 2)
	bad = appendGroupMember(bad, member(103, 1, "/g/c-"))
	if err := n.replica.Apply(bad).Error(); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, s, "/g/c-0000000004")
	mustCreate(t, s, "/g/after", nil, Persistent, OpenACL)
}

func TestSplitEntry(t *testing.T) {
	one := encodeBatch(nil, testBatch())
	var got [][]byte
	collect := func(b []byte, time int64, grouped bool) error {
		if grouped && time != 42 {
			t.Fatalf("member time %d, want 42", time)
		}
		got = append(got, b)
		return nil
	}
	if err := splitEntry(one, collect); err != nil || len(got) != 1 || !bytes.Equal(got[0], one) {
		t.Fatalf("plain batch: %v, %d parts", err, len(got))
	}
	group := appendGroupHeader(nil, logFormat1, 42, 2)
	group = appendGroupMember(group, one)
	group = appendGroupMember(group, one)
	got = nil
	if err := splitEntry(group, collect); err != nil || len(got) != 2 || !bytes.Equal(got[1], one) {
		t.Fatalf("group: %v, %d parts", err, len(got))
	}
	// Members are sub-slices with their capacity cut, so appending to one
	// cannot overwrite the next.
	if cap(got[0]) != len(got[0]) {
		t.Fatal("member capacity reaches into the next member")
	}
	// Every proper prefix of a group is corrupt, and f sees none of it.
	for i := 1; i < len(group); i++ {
		err := splitEntry(group[:i], func([]byte, int64, bool) error {
			t.Fatalf("prefix of %d/%d bytes: a member was passed on", i, len(group))
			return nil
		})
		if err == nil {
			t.Fatalf("prefix of %d/%d bytes split without error", i, len(group))
		}
	}
	for name, buf := range map[string][]byte{
		"TrailingByte":     append(bytes.Clone(group), 0),
		"CountBeyondData":  {groupFormat, 0, 0xff, 0x01},
		"MemberBeyondData": {groupFormat, 0, 1, 0x7f, batchFormat},
		"VarintTooLong":    append([]byte{groupFormat}, bytes.Repeat([]byte{0xff}, 11)...),
	} {
		if err := splitEntry(buf, func([]byte, int64, bool) error { return nil }); err == nil {
			t.Errorf("%s: split without error", name)
		}
	}
	// An unknown format, of the entry or of any member, is reported before
	// f sees anything.
	for name, buf := range map[string][]byte{
		"Entry":  {99, 0},
		"Empty":  {},
		"Member": appendGroupMember(appendGroupMember(appendGroupHeader(nil, logFormat1, 42, 2), one), []byte{99}),
	} {
		err := splitEntry(buf, func([]byte, int64, bool) error {
			t.Fatalf("%s: a batch was passed on", name)
			return nil
		})
		if !errors.Is(err, errUnknownFormat) {
			t.Errorf("%s: got %v, want errUnknownFormat", name, err)
		}
	}
	if _, _, err := batchHeader(group); err == nil {
		t.Error("batchHeader accepted a group")
	}
	if o, c, err := batchHeader(encodeBatch(nil, &batch{origin: 5, counter: 9})); err != nil || o != 5 || c != 9 {
		t.Errorf("batchHeader: %d %d %v", o, c, err)
	}
}

// FuzzSplitEntry: whatever splits without error is rebuilt into a group
// that splits into the same members with the same time.
func FuzzSplitEntry(f *testing.F) {
	one := encodeBatch(nil, testBatch())
	g := appendGroupHeader(nil, logFormat1, 42, 2)
	g = appendGroupMember(appendGroupMember(g, one), one)
	f.Add(g)
	f.Add(one)
	f.Add([]byte{groupFormat, 0, 0})
	split := func(buf []byte) (members [][]byte, at int64, err error) {
		err = splitEntry(buf, func(b []byte, time int64, grouped bool) error {
			if !grouped {
				return errCorrupt // not a group: nothing to rebuild
			}
			members, at = append(members, b), time
			return nil
		})
		return members, at, err
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		members, at, err := split(buf)
		if err != nil || len(members) == 0 {
			return
		}
		re := appendGroupHeader(nil, logFormat1, at, len(members))
		for _, m := range members {
			re = appendGroupMember(re, m)
		}
		members2, at2, err := split(re)
		if err != nil || at2 != at || !slices.EqualFunc(members, members2, bytes.Equal) {
			t.Fatalf("rebuilt group splits differently: %v", err)
		}
	})
}

// TestEntriesClosedBySize: however many large writes wait at once, an
// entry is closed once its payload reaches maxEntryBytes, so it stays far
// below the cluster RPC frame and the log store's limits.
func TestEntriesClosedBySize(t *testing.T) {
	storage := NewMemoryStorage()
	n := openNode(t, Config{Storage: storage})
	ctx := context.Background()
	const writers, size = 40, 1_000_000
	sessions := make([]*Session, writers)
	for w := range sessions {
		sessions[w] = newSession(t, n, SessionConfig{})
	}
	// Take a slot, as an entry in flight would: once the proposer has
	// sent the first write (with the slot it waits with), the others wait
	// in its queue until this one is released.
	p := n.proposer
	p.slotMu.Lock()
	p.inFlight[slotPropose]++
	p.slotMu.Unlock()
	var wg sync.WaitGroup
	var done atomic.Int64
	errs := make([]error, writers)
	for w, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[w] = s.Create(ctx, fmt.Sprintf("/w%d", w), make([]byte, size), Persistent, OpenACL)
			done.Add(1)
		}()
	}
	eventually(t, "every other write queued", func() bool { return len(p.queue)+int(done.Load()) == writers })
	p.release(slotPropose)
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	var biggest, entries int
	if err := storage.s.Entries(func(e raftfsm.Entry) {
		entries++
		biggest = max(biggest, len(e.Data))
	}); err != nil {
		t.Fatal(err)
	}
	// The command that crosses the bound still goes in.
	if limit := 4<<20 + size + 4096; biggest > limit {
		t.Fatalf("an entry of %d bytes, over %d", biggest, limit)
	}
	t.Logf("%d entries, the largest %d bytes", entries, biggest)
}

// TestSkippedBatchIsRetried: a batch whose entry this node has applied
// without delivering its results (apply skipped it as stale or
// undecodable) was not applied and never will be, so its writers are told
// to propose again; after a snapshot replaced the state, the outcome is
// unknown instead.
func TestSkippedBatchIsRetried(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	p := n.proposer
	waiting := func() *proposal {
		pr := &proposal{done: make(chan result, 1)}
		p.mu.Lock()
		p.nextSeq++
		pr.seq = p.nextSeq
		p.pending[pr.seq] = pr
		p.mu.Unlock()
		return pr
	}
	result := func(pr *proposal) result {
		select {
		case r := <-pr.done:
			return r
		case <-time.After(waitTimeout):
			t.Fatal("no result")
			return result{}
		}
	}
	// Its entry is applied already.
	pr := waiting()
	p.settleAfter(n.fsm.appliedIndex(), []uint64{pr.seq}, p.epoch())
	if r := result(pr); !r.retry {
		t.Fatalf("got %v, want a retry", r.err)
	}
	// Its entry is applied later.
	pr = waiting()
	p.settleAfter(n.fsm.appliedIndex()+2, []uint64{pr.seq}, p.epoch())
	mustCreate(t, s, "/x", nil, Persistent, OpenACL)
	select {
	case r := <-pr.done:
		t.Fatalf("settled before its entry was applied: %v", r.err)
	default:
	}
	mustCreate(t, s, "/y", nil, Persistent, OpenACL)
	if r := result(pr); !r.retry {
		t.Fatalf("got %v, want a retry", r.err)
	}
	// A snapshot came instead.
	pr = waiting()
	p.settleAfter(n.fsm.appliedIndex()+100, []uint64{pr.seq}, p.epoch())
	p.restored()
	if c := result(pr).err; c != CodeConnectionLoss {
		t.Fatalf("got %v, want ConnectionLoss", c)
	}
	// A snapshot came after the batch was sent, before its leader
	// answered: whether the snapshot holds it is unknown.
	pr = waiting()
	sent := p.epoch()
	p.restored()
	p.settleAfter(n.fsm.appliedIndex(), []uint64{pr.seq}, sent)
	if c := result(pr).err; c != CodeConnectionLoss {
		t.Fatalf("got %v, want ConnectionLoss", c)
	}
}

// TestUnknownFormatHalts: an entry of a format this node does not know
// (written by a newer version) is neither applied nor skipped: the node
// stops applying, refuses snapshots and closes, where an operator sees it.
func TestUnknownFormatHalts(t *testing.T) {
	ctx := context.Background()
	for name, data := range map[string][]byte{
		"entry":        {99, 0, 0},
		"group member": appendGroupMember(appendGroupHeader(nil, logFormat1, 1, 1), []byte{99, 0}),
	} {
		t.Run(name, func(t *testing.T) {
			n, err := Open(ctx, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Abort()
			s := newSession(t, n, SessionConfig{})
			mustCreate(t, s, "/before", nil, Persistent, OpenACL)
			zxid := n.LastZxid()
			_ = n.replica.Apply(data).Error() // the node closes meanwhile
			eventually(t, "the node closed", func() bool {
				_, err := n.NewSession(ctx, SessionConfig{})
				return errors.Is(err, ErrClosed)
			})
			if !n.fsm.halted.Load() {
				t.Fatal("apply not halted")
			}
			select {
			case <-n.Done():
			case <-time.After(waitTimeout):
				t.Fatal("Done not closed")
			}
			if !errors.Is(n.Err(), errHalted) {
				t.Fatalf("Err: %v", n.Err())
			}
			if _, err := n.fsm.Snapshot(); !errors.Is(err, errHalted) {
				t.Fatalf("snapshot while halted: %v", err)
			}
			if z := n.LastZxid(); z != zxid {
				t.Fatalf("zxid moved from %d to %d", zxid, z)
			}
		})
	}
}
