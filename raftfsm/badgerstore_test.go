package raftfsm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	raftbench "github.com/hashicorp/raft/bench"
)

func openTestStore(t testing.TB, dir string, opts BadgerOptions) *BadgerStore {
	t.Helper()
	s, err := OpenBadgerStore(dir, opts)
	if err != nil {
		t.Fatalf("OpenBadgerStore: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// mkLogs returns entries lo..hi (inclusive) with deterministic contents.
func mkLogs(lo, hi, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := lo; i <= hi; i++ {
		out = append(out, &raft.Log{
			Index:      i,
			Term:       term,
			Type:       raft.LogCommand,
			Data:       fmt.Appendf(nil, "data-%d-%d", i, term),
			AppendedAt: time.Unix(1700000000, int64(i)),
		})
	}
	return out
}

func assertBounds(t *testing.T, s *BadgerStore, wantFirst, wantLast uint64) {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if first != wantFirst || last != wantLast {
		t.Fatalf("bounds = [%d, %d], want [%d, %d]", first, last, wantFirst, wantLast)
	}
}

func logsEqual(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

type idxRange struct{ lo, hi uint64 }

func TestBadgerStoreLogs(t *testing.T) {
	tests := []struct {
		name      string
		store     []idxRange // stored in order, term 1
		overwrite []idxRange // stored afterwards, term 2
		deletes   []idxRange
		first     uint64
		last      uint64
		present   []uint64
		missing   []uint64
	}{
		{name: "empty", first: 0, last: 0, missing: []uint64{0, 1, 2, math.MaxUint64}},
		{name: "single", store: []idxRange{{1, 1}}, first: 1, last: 1, present: []uint64{1}, missing: []uint64{0, 2}},
		{name: "batch", store: []idxRange{{1, 10}}, first: 1, last: 10, present: []uint64{1, 5, 10}, missing: []uint64{11}},
		{name: "not starting at one", store: []idxRange{{100, 120}}, first: 100, last: 120, present: []uint64{100, 120}, missing: []uint64{99, 121}},
		{name: "gap", store: []idxRange{{1, 5}, {10, 12}}, first: 1, last: 12, present: []uint64{5, 10}, missing: []uint64{6, 9}},
		{name: "big endian ordering", store: []idxRange{{250, 260}, {65530, 65540}}, first: 250, last: 65540, present: []uint64{255, 256, 65536}},
		{name: "overwrite", store: []idxRange{{1, 5}}, overwrite: []idxRange{{3, 5}}, first: 1, last: 5, present: []uint64{1, 3, 5}},
		{name: "delete head", store: []idxRange{{1, 10}}, deletes: []idxRange{{1, 4}}, first: 5, last: 10, present: []uint64{5, 10}, missing: []uint64{1, 4}},
		{name: "delete tail", store: []idxRange{{1, 10}}, deletes: []idxRange{{7, 10}}, first: 1, last: 6, present: []uint64{1, 6}, missing: []uint64{7, 10}},
		{name: "delete middle", store: []idxRange{{1, 10}}, deletes: []idxRange{{3, 5}}, first: 1, last: 10, present: []uint64{2, 6}, missing: []uint64{3, 4, 5}},
		{name: "delete all", store: []idxRange{{1, 10}}, deletes: []idxRange{{1, 10}}, first: 0, last: 0, missing: []uint64{1, 10}},
		{name: "delete superset", store: []idxRange{{5, 10}}, deletes: []idxRange{{0, math.MaxUint64}}, first: 0, last: 0, missing: []uint64{5}},
		{name: "delete outside", store: []idxRange{{5, 10}}, deletes: []idxRange{{1, 4}, {11, 20}}, first: 5, last: 10, present: []uint64{5, 10}},
		{name: "delete inverted is noop", store: []idxRange{{1, 10}}, deletes: []idxRange{{8, 2}}, first: 1, last: 10, present: []uint64{2, 8}},
		{name: "delete head across gap", store: []idxRange{{1, 3}, {10, 12}}, deletes: []idxRange{{1, 5}}, first: 10, last: 12, present: []uint64{10}, missing: []uint64{1, 3}},
		{name: "delete tail across gap", store: []idxRange{{1, 3}, {10, 12}}, deletes: []idxRange{{5, 12}}, first: 1, last: 3, present: []uint64{3}, missing: []uint64{10, 12}},
		{name: "delete then append", store: []idxRange{{1, 10}, {11, 15}}, deletes: []idxRange{{1, 12}}, first: 13, last: 15, present: []uint64{13, 15}, missing: []uint64{12}},
		{name: "delete empty store", deletes: []idxRange{{1, 100}}, first: 0, last: 0},
		{name: "index zero", store: []idxRange{{0, 3}}, deletes: []idxRange{{0, 0}}, first: 1, last: 3, missing: []uint64{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenBadgerStore(dir, BadgerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[uint64]*raft.Log{}
			for _, r := range tc.store {
				logs := mkLogs(r.lo, r.hi, 1)
				if err := s.StoreLogs(logs); err != nil {
					t.Fatalf("StoreLogs: %v", err)
				}
				for _, l := range logs {
					want[l.Index] = l
				}
			}
			for _, r := range tc.overwrite {
				logs := mkLogs(r.lo, r.hi, 2)
				if err := s.StoreLogs(logs); err != nil {
					t.Fatalf("StoreLogs: %v", err)
				}
				for _, l := range logs {
					want[l.Index] = l
				}
			}
			for _, r := range tc.deletes {
				if err := s.DeleteRange(r.lo, r.hi); err != nil {
					t.Fatalf("DeleteRange(%d, %d): %v", r.lo, r.hi, err)
				}
			}
			check := func(s *BadgerStore) {
				t.Helper()
				assertBounds(t, s, tc.first, tc.last)
				for _, idx := range tc.present {
					var got raft.Log
					if err := s.GetLog(idx, &got); err != nil {
						t.Fatalf("GetLog(%d): %v", idx, err)
					}
					if !logsEqual(&got, want[idx]) {
						t.Fatalf("GetLog(%d) = %+v, want %+v", idx, got, *want[idx])
					}
				}
				for _, idx := range tc.missing {
					var got raft.Log
					// raft compares with ==, so the sentinel must not be wrapped.
					if err := s.GetLog(idx, &got); err != raft.ErrLogNotFound {
						t.Fatalf("GetLog(%d) err = %v, want raft.ErrLogNotFound", idx, err)
					}
				}
			}
			check(s)

			// Reopen: data and the recomputed bounds must survive.
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s2 := openTestStore(t, dir, BadgerOptions{})
			check(s2)
		})
	}
}

func TestBadgerStoreLogFieldsRoundTrip(t *testing.T) {
	s := openTestStore(t, t.TempDir(), BadgerOptions{})
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte{1, 2, 3}},
		{Index: 2, Term: 1, Type: raft.LogNoop},
		{Index: 3, Term: math.MaxUint64, Type: raft.LogCommand, Data: []byte("cmd"), Extensions: []byte("ext"),
			AppendedAt: time.Date(2025, 3, 4, 5, 6, 7, 891011, time.UTC)},
		{Index: 4, Term: 7, Type: raft.LogType(200), Extensions: []byte{0}},
		{Index: 5, Term: 7, Type: raft.LogBarrier, AppendedAt: time.Unix(0, -5)}, // before 1970
		{Index: 6, Term: 7, Data: bytes.Repeat([]byte{0xAB}, 40<<10)},            // above ValueThreshold: value log
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	for _, want := range logs {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", want.Index, err)
		}
		if !logsEqual(&got, want) {
			t.Fatalf("GetLog(%d) = %+v, want %+v", want.Index, got, *want)
		}
		if want.AppendedAt.IsZero() != got.AppendedAt.IsZero() {
			t.Fatalf("log %d: zero AppendedAt not preserved", want.Index)
		}
	}
}

// A batch far above badger's per-transaction limit (~1.2 MiB with an 8 MiB
// memtable) must be split and still be stored entirely.
func TestBadgerStoreLargeBatch(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, BadgerOptions{})
	var logs []*raft.Log
	for i := uint64(1); i <= 5000; i++ { // ~5 MiB in the LSM
		logs = append(logs, &raft.Log{Index: i, Term: 3, Data: bytes.Repeat([]byte{byte(i)}, 1024)})
	}
	for i := uint64(5001); i <= 5100; i++ { // ~6.4 MiB in the value log
		logs = append(logs, &raft.Log{Index: i, Term: 3, Data: bytes.Repeat([]byte{byte(i)}, 64<<10)})
	}
	if lsmBytes := int64(5000 * 1024); lsmBytes < 3*s.db.MaxBatchSize() {
		t.Fatalf("batch (%d bytes) does not exceed badger's txn limit (%d) enough to force splits", lsmBytes, s.db.MaxBatchSize())
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("StoreLogs: %v", err)
	}
	assertBounds(t, s, 1, 5100)
	for _, idx := range []uint64{1, 1234, 5000, 5001, 5100} {
		var got raft.Log
		if err := s.GetLog(idx, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", idx, err)
		}
		if !logsEqual(&got, logs[idx-1]) {
			t.Fatalf("GetLog(%d) mismatch", idx)
		}
	}
	// Large, chunked DeleteRange.
	if err := s.DeleteRange(1, 4999); err != nil {
		t.Fatalf("DeleteRange: %v", err)
	}
	assertBounds(t, s, 5000, 5100)
	var got raft.Log
	if err := s.GetLog(4321, &got); err != raft.ErrLogNotFound {
		t.Fatalf("GetLog(4321) err = %v", err)
	}
}

func TestBadgerStoreDeleteRangeManyChunks(t *testing.T) {
	s := openTestStore(t, t.TempDir(), BadgerOptions{NoSync: true})
	const n = 3*deleteChunk + 17
	for lo := uint64(1); lo <= n; lo += 1000 {
		if err := s.StoreLogs(mkLogs(lo, min(lo+999, n), 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteRange(2, n-1); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 1, n)
	if err := s.DeleteRange(1, 1); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, n, n)
	// Nothing but the last entry is left.
	var cnt int
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixLog}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			cnt++
		}
		return nil
	})
	if err != nil || cnt != 1 {
		t.Fatalf("remaining logs = %d (err %v), want 1", cnt, err)
	}
}

func TestBadgerStoreStable(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBadgerStore(dir, BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// hashicorp/raft recognises a missing key only by this exact text.
	_, err = s.Get([]byte("missing"))
	if err == nil || err.Error() != "not found" || !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Get(missing) err = %v, want text %q", err, "not found")
	}
	v, err := s.GetUint64([]byte("missing"))
	if err == nil || err.Error() != "not found" || v != 0 {
		t.Fatalf("GetUint64(missing) = %d, %v; want 0, %q", v, err, "not found")
	}
	// And raft itself therefore treats a fresh store as having no state.
	snaps := raft.NewInmemSnapshotStore()
	if has, err := raft.HasExistingState(s, s, snaps); err != nil || has {
		t.Fatalf("HasExistingState(fresh) = %v, %v", has, err)
	}

	cases := []struct {
		key []byte
		val []byte
		u64 *uint64
	}{
		{key: []byte("LastVoteCand"), val: []byte("node-1")},
		{key: []byte("bin\x00\xff"), val: []byte{0, 1, 2, 255}},
		{key: []byte("empty"), val: []byte{}},
		{key: []byte("CurrentTerm"), u64: ptr(uint64(42))},
		{key: []byte("max"), u64: ptr(uint64(math.MaxUint64))},
		{key: []byte("zero"), u64: ptr(uint64(0))},
	}
	for _, c := range cases {
		if c.u64 != nil {
			if err := s.SetUint64(c.key, *c.u64); err != nil {
				t.Fatal(err)
			}
		} else if err := s.Set(c.key, c.val); err != nil {
			t.Fatal(err)
		}
	}
	// A stable key that looks like a log key must not affect the log.
	if err := s.Set([]byte{prefixLog, 0, 0, 0, 0, 0, 0, 0, 1}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	check := func(s *BadgerStore) {
		t.Helper()
		for _, c := range cases {
			if c.u64 != nil {
				got, err := s.GetUint64(c.key)
				if err != nil || got != *c.u64 {
					t.Fatalf("GetUint64(%q) = %d, %v; want %d", c.key, got, err, *c.u64)
				}
				continue
			}
			got, err := s.Get(c.key)
			if err != nil || !bytes.Equal(got, c.val) {
				t.Fatalf("Get(%q) = %q, %v; want %q", c.key, got, err, c.val)
			}
		}
		assertBounds(t, s, 0, 0)
	}
	check(s)
	if _, err := s.GetUint64([]byte("LastVoteCand")); err == nil {
		t.Fatal("GetUint64 on a 6-byte value should fail")
	}
	// Overwrite.
	if err := s.SetUint64([]byte("CurrentTerm"), 43); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetUint64([]byte("CurrentTerm")); got != 43 {
		t.Fatalf("CurrentTerm = %d after overwrite", got)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 42); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openTestStore(t, dir, BadgerOptions{}))
}

func ptr[T any](v T) *T { return &v }

func TestBadgerStoreClosed(t *testing.T) {
	s, err := OpenBadgerStore(t.TempDir(), BadgerOptions{GCInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(mkLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	// Let the 1ms GC loop tick a few times, so Close usually meets a loop
	// that has run. Nothing below depends on it having run.
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var l raft.Log
	for name, err := range map[string]error{
		"GetLog":      s.GetLog(1, &l),
		"StoreLog":    s.StoreLog(&raft.Log{Index: 4}),
		"DeleteRange": s.DeleteRange(1, 2),
		"Set":         s.Set([]byte("k"), []byte("v")),
		"GC":          s.RunValueLogGC(0.5),
	} {
		if !errors.Is(err, ErrStoreClosed) {
			t.Errorf("%s after Close: err = %v, want ErrStoreClosed", name, err)
		}
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrStoreClosed) {
		t.Errorf("Get after Close: %v", err)
	}
}

// badger v4 only logs a failed value log sync; the store must turn that log
// line into a hard, sticky write error.
func TestBadgerStoreSyncFailureIsSticky(t *testing.T) {
	s := openTestStore(t, t.TempDir(), BadgerOptions{})
	if err := s.StoreLogs(mkLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	blog := s.db.Opts().Logger // the logger badger itself calls
	blog.Errorf("Some unrelated error: %v\n", syscall.EIO)
	if err := s.StoreLog(mkLogs(4, 4, 1)[0]); err != nil {
		t.Fatalf("unrelated badger error made writes fail: %v", err)
	}
	blog.Errorf("Error while curlf sync: %v\n", syscall.EIO) // value.go's wording
	for name, err := range map[string]error{
		"StoreLogs":   s.StoreLogs(mkLogs(5, 6, 1)),
		"DeleteRange": s.DeleteRange(1, 2),
		"Set":         s.Set([]byte("k"), []byte("v")),
		"SetUint64":   s.SetUint64([]byte("k"), 1),
	} {
		if !errors.Is(err, ErrSyncFailed) || !strings.Contains(err.Error(), "input/output error") {
			t.Errorf("%s after sync failure: err = %v, want ErrSyncFailed", name, err)
		}
	}
	assertBounds(t, s, 1, 4)
	var l raft.Log
	if err := s.GetLog(4, &l); err != nil {
		t.Fatalf("reads must keep working: %v", err)
	}
}

func TestBadgerStoreInMemory(t *testing.T) {
	s := openTestStore(t, "", BadgerOptions{InMemory: true})
	if err := s.StoreLogs(mkLogs(1, 100, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 50); err != nil {
		t.Fatal(err)
	}
	assertBounds(t, s, 51, 100)
	if err := s.RunValueLogGC(0.5); err != nil {
		t.Fatalf("RunValueLogGC in memory: %v", err)
	}
	if _, err := s.Get([]byte("x")); err == nil || err.Error() != "not found" {
		t.Fatalf("Get(missing) = %v", err)
	}
}

func TestBadgerStoreConcurrent(t *testing.T) {
	s := openTestStore(t, t.TempDir(), BadgerOptions{NoSync: true})
	if err := s.StoreLogs(mkLogs(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var stop atomic.Bool
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				var l raft.Log
				if err := s.GetLog(last, &l); err != nil && err != raft.ErrLogNotFound {
					t.Errorf("GetLog: %v", err)
				}
				_ = first
				_, _ = s.GetUint64([]byte("CurrentTerm"))
			}
		}()
	}
	for i := uint64(11); i <= 2000; i += 10 {
		if err := s.StoreLogs(mkLogs(i, i+9, 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUint64([]byte("CurrentTerm"), i); err != nil {
			t.Fatal(err)
		}
		if i%200 == 1 {
			if err := s.DeleteRange(0, i-100); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	first, _ := s.FirstIndex()
	assertBounds(t, s, first, 2000)
}

func TestBadgerStoreValueLogGC(t *testing.T) {
	if err := (&BadgerStore{}).RunValueLogGC(0); err == nil {
		t.Fatal("ratio 0 accepted")
	}
	if err := (&BadgerStore{}).RunValueLogGC(1); err == nil {
		t.Fatal("ratio 1 accepted")
	}
	if _, err := OpenBadgerStore(t.TempDir(), BadgerOptions{GCDiscardRatio: 1.5}); err == nil {
		t.Fatal("GCDiscardRatio 1.5 accepted")
	}

	// Fill several small value log files with large entries, delete them and
	// check that GC eventually gives the disk space back.
	dir := t.TempDir()
	opts := BadgerOptions{NoSync: true, GCInterval: -1, tune: func(o badger.Options) badger.Options {
		return o.WithValueLogFileSize(1 << 20).WithCompactL0OnClose(true)
	}}
	s := openTestStore(t, dir, opts)
	var logs []*raft.Log
	for i := uint64(1); i <= 160; i++ { // 160 x 64 KiB = 10 MiB of value log
		logs = append(logs, &raft.Log{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 64<<10)})
	}
	// badger only rotates value log files between write requests, so write
	// in several transactions.
	for i := 0; i < len(logs); i += 8 {
		if err := s.StoreLogs(logs[i : i+8]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RunValueLogGC(0.5); err != nil { // nothing to collect yet
		t.Fatalf("RunValueLogGC: %v", err)
	}
	before := countVlogFiles(t, dir)
	if err := s.DeleteRange(1, 150); err != nil {
		t.Fatal(err)
	}
	// badger learns about garbage only from LSM compactions, and the
	// tombstones are still in the memtable. Close flushes it to L0 and, with
	// CompactL0OnClose, compacts L0, which records the discard statistics.
	// (In a running node this happens as new writes fill memtables.)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, opts)
	deadline := time.Now().Add(10 * time.Second)
	for countVlogFiles(t, dir) >= before && time.Now().Before(deadline) {
		if err := s.RunValueLogGC(0.5); err != nil {
			t.Fatalf("RunValueLogGC: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := countVlogFiles(t, dir)
	t.Logf("value log files: %d before delete, %d after GC", before, after)
	if after >= before {
		t.Fatalf("value log GC reclaimed nothing: %d files before, %d after", before, after)
	}
	// The surviving entries are still readable after the rewrite.
	for i := uint64(151); i <= 160; i++ {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil || !logsEqual(&got, logs[i-1]) {
			t.Fatalf("GetLog(%d) after GC: %v", i, err)
		}
	}
}

func countVlogFiles(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

func TestSlogBadgerLogger(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	a := slogBadgerLogger{l: slog.New(h)}
	a.Errorf("e %d\n", 1)
	a.Warningf("w %s", "x")
	a.Infof("i")
	a.Debugf("d")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{`level=ERROR msg="e 1"`, `level=WARN msg="w x"`, "level=INFO msg=i", "level=DEBUG msg=d"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output %q lacks %q", out, want)
		}
	}

	// onError sees error messages even when the level is disabled.
	var seen []string
	quiet := slogBadgerLogger{
		l:       slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1})),
		onError: func(msg string) { seen = append(seen, msg) },
	}
	quiet.Errorf("boom %d\n", 7)
	quiet.Warningf("not an error")
	if len(seen) != 1 || seen[0] != "boom 7\n" {
		t.Errorf("onError saw %q", seen)
	}

	// A real store logs through the adapter.
	buf.Reset()
	s := openTestStore(t, t.TempDir(), BadgerOptions{Logger: slog.New(h)})
	_ = s.Close()
	mu.Lock()
	out = buf.String()
	mu.Unlock()
	if !strings.Contains(out, "component=badger") {
		t.Errorf("badger did not log through slog: %q", out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ---------------------------------------------------------------------------
// Encoding

func TestLogEncoding(t *testing.T) {
	valid := appendLog(nil, &raft.Log{Index: 300, Term: 2, Type: raft.LogCommand, Data: []byte("abc"),
		Extensions: []byte("x"), AppendedAt: time.Unix(5, 6)})
	var l raft.Log
	if err := decodeLog(valid, &l); err != nil {
		t.Fatal(err)
	}
	if l.Index != 300 || l.Term != 2 || string(l.Data) != "abc" || string(l.Extensions) != "x" ||
		!l.AppendedAt.Equal(time.Unix(5, 6)) {
		t.Fatalf("decoded %+v", l)
	}
	if cap(l.Data) != len(l.Data) {
		t.Fatal("decoded Data capacity not clipped")
	}
	if got, max := len(valid), encodedLogSize(&raft.Log{Index: 300, Term: 2, Data: []byte("abc"),
		Extensions: []byte("x"), AppendedAt: time.Unix(5, 6)}); got > max {
		t.Fatalf("encodedLogSize %d < actual %d", max, got)
	}

	bad := map[string][]byte{
		"empty":          nil,
		"version 0":      append([]byte{0}, valid[1:]...),
		"version 2":      append([]byte{2}, valid[1:]...),
		"unknown flag":   append([]byte{1, 0x81}, valid[2:]...),
		"trailing bytes": append(append([]byte(nil), valid...), 0),
		"long data len":  {1, 0, 1, 1, 0, 0x10, 'a'},
		"huge data len":  {1, 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"bad uvarint":    {1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	for i := 1; i < len(valid); i++ {
		bad[fmt.Sprintf("truncated %d", i)] = valid[:i]
	}
	for name, b := range bad {
		l := raft.Log{Index: 99}
		if err := decodeLog(b, &l); !errors.Is(err, ErrCorruptLog) {
			t.Errorf("%s: err = %v, want ErrCorruptLog", name, err)
		}
		if l.Index != 99 {
			t.Errorf("%s: log modified on error", name)
		}
	}
}

func FuzzDecodeLog(f *testing.F) {
	for _, l := range []*raft.Log{
		{},
		{Index: 1, Term: 1, Type: raft.LogNoop},
		{Index: math.MaxUint64, Term: math.MaxUint64, Type: 255, Data: []byte("data"), Extensions: []byte("ext"),
			AppendedAt: time.Unix(1700000000, 123)},
		{Index: 7, Data: bytes.Repeat([]byte{0}, 300), AppendedAt: time.Unix(0, math.MinInt64)},
	} {
		f.Add(appendLog(nil, l))
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 1, 0x80})
	f.Add([]byte{1, 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})

	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, &l); err != nil {
			if !errors.Is(err, ErrCorruptLog) {
				t.Fatalf("error not wrapping ErrCorruptLog: %v", err)
			}
			return
		}
		// Whatever decodes must re-encode to something that decodes equal.
		enc := appendLog(nil, &l)
		if len(enc) > encodedLogSize(&l) {
			t.Fatalf("encodedLogSize %d < %d", encodedLogSize(&l), len(enc))
		}
		var l2 raft.Log
		if err := decodeLog(enc, &l2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !logsEqual(&l, &l2) {
			t.Fatalf("round trip mismatch: %+v vs %+v", l, l2)
		}
	})
}

// ---------------------------------------------------------------------------
// Real hashicorp/raft on top of the store.

type countFSM struct {
	mu   sync.Mutex
	n    uint64
	last []byte
}

func (f *countFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.Type == raft.LogCommand {
		f.n++
		f.last = append([]byte(nil), l.Data...)
	}
	return f.n
}

func (f *countFSM) count() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return countSnapshot(f.n), nil
}

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var n uint64
	if _, err := fmt.Fscan(bufio.NewReader(rc), &n); err != nil {
		return err
	}
	f.mu.Lock()
	f.n = n
	f.mu.Unlock()
	return nil
}

type countSnapshot uint64

func (c countSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := fmt.Fprint(sink, uint64(c)); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (countSnapshot) Release() {}

type raftNode struct {
	r     *raft.Raft
	trans *raft.InmemTransport
	fsm   *countFSM
}

func startRaft(t *testing.T, dir string, store *BadgerStore, bootstrap bool) *raftNode {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = "node-1"
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.TrailingLogs = 10
	conf.SnapshotThreshold = 1 << 20 // only explicit snapshots
	conf.LogOutput = io.Discard

	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addr, trans := raft.NewInmemTransport("")
	if bootstrap {
		cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}
		if err := raft.BootstrapCluster(conf, store, store, snaps, trans, cfg); err != nil {
			t.Fatalf("BootstrapCluster: %v", err)
		}
	}
	fsm := &countFSM{}
	r, err := raft.NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatalf("NewRaft: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatalf("no leader after 10s (state %v)", r.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &raftNode{r: r, trans: trans, fsm: fsm}
}

func (n *raftNode) stop(t *testing.T) {
	t.Helper()
	if err := n.r.Shutdown().Error(); err != nil {
		t.Fatalf("raft shutdown: %v", err)
	}
	_ = n.trans.Close()
}

func TestBadgerStoreWithRaft(t *testing.T) {
	dir := t.TempDir()
	dbDir := filepath.Join(dir, "badger")

	store, err := OpenBadgerStore(dbDir, BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node := startRaft(t, dir, store, true)
	const n = 100
	var lastIdx uint64
	for i := 0; i < n; i++ {
		f := node.r.Apply(fmt.Appendf(nil, "cmd-%d", i), 5*time.Second)
		if err := f.Error(); err != nil {
			t.Fatalf("Apply %d: %v", i, err)
		}
		lastIdx = f.Index()
	}
	if got := node.fsm.count(); got != n {
		t.Fatalf("fsm applied %d, want %d", got, n)
	}
	// Snapshot so raft truncates its log through DeleteRange.
	if err := node.r.Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	if last != lastIdx || first <= 1 || first > lastIdx-10+1 {
		t.Fatalf("after snapshot bounds = [%d, %d], last apply index %d", first, last, lastIdx)
	}
	term, err := store.GetUint64([]byte("CurrentTerm"))
	if err != nil || term == 0 {
		t.Fatalf("CurrentTerm = %d, %v", term, err)
	}
	node.stop(t)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen on the same directory.
	store2 := openTestStore(t, dbDir, BadgerOptions{})
	last2, _ := store2.LastIndex()
	first2, _ := store2.FirstIndex()
	if last2 < n || last2 != lastIdx || first2 != first {
		t.Fatalf("reopened bounds = [%d, %d], want [%d, %d]", first2, last2, first, lastIdx)
	}
	var l raft.Log
	if err := store2.GetLog(lastIdx, &l); err != nil || string(l.Data) != fmt.Sprintf("cmd-%d", n-1) {
		t.Fatalf("GetLog(%d) = %q, %v", lastIdx, l.Data, err)
	}
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if has, err := raft.HasExistingState(store2, store2, snaps); err != nil || !has {
		t.Fatalf("HasExistingState = %v, %v", has, err)
	}

	node2 := startRaft(t, dir, store2, false)
	defer node2.stop(t)
	if err := node2.r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	if got := node2.fsm.count(); got != n {
		t.Fatalf("restarted fsm count = %d, want %d (snapshot + log replay)", got, n)
	}
	f := node2.r.Apply([]byte("after-restart"), 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatalf("Apply after restart: %v", err)
	}
	if f.Index() <= lastIdx || node2.fsm.count() != n+1 {
		t.Fatalf("apply after restart: index %d (prev %d), count %d", f.Index(), lastIdx, node2.fsm.count())
	}
	if term2, _ := store2.GetUint64([]byte("CurrentTerm")); term2 <= term {
		t.Fatalf("term did not advance across restart: %d -> %d", term, term2)
	}
}

// ---------------------------------------------------------------------------
// Benchmarks and measurements

// BenchmarkBadgerStoreLogs measures synced appends of 100-byte entries in
// batches of 1 and 64 (raft's default MaxAppendEntries).
func BenchmarkBadgerStoreLogs(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openTestStore(b, b.TempDir(), BadgerOptions{})
			data := bytes.Repeat([]byte{'x'}, 100)
			logs := make([]*raft.Log, batch)
			for i := range logs {
				logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data}
			}
			next := uint64(1)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				now := time.Now()
				for _, l := range logs {
					l.Index = next
					l.AppendedAt = now
					next++
				}
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// BenchmarkBadgerStoreRaftbench runs hashicorp/raft's shared LogStore
// benchmarks (raft has no LogStore conformance test suite, only these).
func BenchmarkBadgerStoreRaftbench(b *testing.B) {
	for name, fn := range map[string]func(*testing.B, raft.LogStore){
		"FirstIndex":  raftbench.FirstIndex,
		"LastIndex":   raftbench.LastIndex,
		"GetLog":      raftbench.GetLog,
		"StoreLog":    raftbench.StoreLog,
		"StoreLogs":   raftbench.StoreLogs,
		"DeleteRange": raftbench.DeleteRange,
	} {
		b.Run(name, func(b *testing.B) {
			fn(b, openTestStore(b, b.TempDir(), BadgerOptions{}))
		})
	}
	for name, fn := range map[string]func(*testing.B, raft.StableStore){
		"Set":       raftbench.Set,
		"Get":       raftbench.Get,
		"SetUint64": raftbench.SetUint64,
		"GetUint64": raftbench.GetUint64,
	} {
		b.Run(name, func(b *testing.B) {
			fn(b, openTestStore(b, b.TempDir(), BadgerOptions{}))
		})
	}
}

// TestBadgerStoreMemoryReport writes 50k synced 1 KiB entries in batches of 64
// and logs heap and RSS figures. It is a measurement, not a check, and only
// runs when RAFTFSM_MEMREPORT is set; run it alone so RSS is not polluted:
//
//	RAFTFSM_MEMREPORT=1 go test -run TestBadgerStoreMemoryReport -v ./raftfsm/
//	RAFTFSM_MEMREPORT=defaults ...   # badger.DefaultOptions for comparison
//	RAFTFSM_MEMREPORT_N=200000 ...   # number of entries (default 50000)
func TestBadgerStoreMemoryReport(t *testing.T) {
	mode := os.Getenv("RAFTFSM_MEMREPORT")
	if mode == "" {
		t.Skip("set RAFTFSM_MEMREPORT=1 (or =defaults) to run")
	}
	opts := BadgerOptions{}
	if mode == "defaults" {
		opts.tune = func(o badger.Options) badger.Options {
			return badger.DefaultOptions(o.Dir).WithSyncWrites(true).WithLogger(nil)
		}
	}
	report := func(stage string) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		status, _ := os.ReadFile("/proc/self/status")
		var fields []string
		for _, line := range strings.Split(string(status), "\n") {
			for _, k := range []string{"VmRSS", "RssAnon", "RssFile", "VmHWM"} {
				if strings.HasPrefix(line, k+":") {
					fields = append(fields, k+"="+strings.Join(strings.Fields(line)[1:], ""))
				}
			}
		}
		t.Logf("%-14s heapAlloc=%.1fMiB heapInuse=%.1fMiB heapSys=%.1fMiB goSys=%.1fMiB %s",
			stage, mib(ms.HeapAlloc), mib(ms.HeapInuse), mib(ms.HeapSys), mib(ms.Sys), strings.Join(fields, " "))
	}
	report("baseline")
	dir := t.TempDir()
	s := openTestStore(t, dir, opts)
	report("opened")
	data := bytes.Repeat([]byte{'r'}, 1024)
	start := time.Now()
	total, batch := uint64(50000), uint64(64)
	if n, err := strconv.ParseUint(os.Getenv("RAFTFSM_MEMREPORT_N"), 10, 64); err == nil && n > 0 {
		total = n
	}
	for i := uint64(1); i <= total; i += batch {
		var logs []*raft.Log
		for j := i; j < i+batch && j <= total; j++ {
			logs = append(logs, &raft.Log{Index: j, Term: 1, Data: data, AppendedAt: time.Now()})
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d x 1 KiB in %v", total, time.Since(start))
	report("after writes")
	var l raft.Log
	for i := uint64(1); i <= total; i += 7 {
		if err := s.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
	}
	report("after reads")
	// badger keeps up to 8 table-builder buffers in a pool after flushes and
	// compactions and releases one every 2s once idle; watch it settle.
	for _, d := range []time.Duration{2 * time.Second, 10 * time.Second, 20 * time.Second} {
		time.Sleep(d)
		report(fmt.Sprintf("idle +%v", d))
	}
	var apparent, allocated int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			apparent += fi.Size()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				allocated += st.Blocks * 512
			}
		}
		return nil
	})
	t.Logf("on disk: %.1fMiB allocated (%.1fMiB apparent; WAL and value log files are preallocated sparse)",
		mib(uint64(allocated)), mib(uint64(apparent)))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
