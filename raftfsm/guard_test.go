package raftfsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fakeTransport feeds RPCs to a guard as a network transport would.
type fakeTransport struct {
	raft.Transport
	ch chan raft.RPC
	mu sync.Mutex
	hb func(raft.RPC)
}

func (f *fakeTransport) Consumer() <-chan raft.RPC { return f.ch }
func (f *fakeTransport) SetHeartbeatHandler(cb func(raft.RPC)) {
	f.mu.Lock()
	f.hb = cb
	f.mu.Unlock()
}

func newTestGuard(t *testing.T, term uint64) (*guard, *fakeTransport) {
	ft := &fakeTransport{ch: make(chan raft.RPC)}
	g := newGuard(ft, 1<<20, func() uint64 { return term }, func(string, ...any) {})
	t.Cleanup(func() { g.Close() })
	return g, ft
}

// send delivers cmd through the guard and reports whether raft got it;
// when refused, the response carries ErrRefused.
func send(t *testing.T, g *guard, ft *fakeTransport, cmd any, data io.Reader) bool {
	t.Helper()
	resp := make(chan raft.RPCResponse, 1)
	ft.ch <- raft.RPC{Command: cmd, Reader: data, RespChan: resp}
	select {
	case rpc := <-g.Consumer():
		rpc.Respond(nil, nil)
		return true
	case r := <-resp:
		if !errors.Is(r.Error, ErrRefused) {
			t.Fatalf("refused with %v", r.Error)
		}
		return false
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	return false
}

func goodConfig() []byte {
	return raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "a", Address: "127.0.0.1:1", Suffrage: raft.Voter}}})
}

func TestGuardTerms(t *testing.T) {
	g, ft := newTestGuard(t, 7)
	cases := []struct {
		cmd  any
		pass bool
	}{
		{&raft.RequestVoteRequest{Term: 8}, true},
		{&raft.RequestVoteRequest{Term: 3}, true}, // stale: raft answers it
		{&raft.RequestVoteRequest{Term: 7 + 1<<32}, true},
		{&raft.RequestVoteRequest{Term: 8 + 1<<32}, false},
		{&raft.RequestVoteRequest{Term: math.MaxUint64, LeadershipTransfer: true}, false},
		{&raft.RequestPreVoteRequest{Term: math.MaxUint64}, false},
		{&raft.AppendEntriesRequest{Term: math.MaxUint64 - 5}, false},
		{&raft.AppendEntriesRequest{Term: 9}, true},
		{&raft.InstallSnapshotRequest{Term: math.MaxUint64, SnapshotVersion: 1, Configuration: goodConfig()}, false},
		{&raft.TimeoutNowRequest{}, true},
	}
	for i, c := range cases {
		if got := send(t, g, ft, c.cmd, nil); got != c.pass {
			t.Errorf("case %d %T%+v: passed %v, want %v", i, c.cmd, c.cmd, got, c.pass)
		}
	}
}

// The heartbeat fast path is guarded too: a wrapping term in a heartbeat
// never reaches raft.
func TestGuardHeartbeat(t *testing.T) {
	g, ft := newTestGuard(t, 7)
	var got []uint64
	g.SetHeartbeatHandler(func(rpc raft.RPC) {
		got = append(got, rpc.Command.(*raft.AppendEntriesRequest).Term)
		rpc.Respond(&raft.AppendEntriesResponse{}, nil)
	})
	for _, term := range []uint64{7, math.MaxUint64} {
		resp := make(chan raft.RPCResponse, 1)
		ft.mu.Lock()
		hb := ft.hb
		ft.mu.Unlock()
		hb(raft.RPC{Command: &raft.AppendEntriesRequest{Term: term}, RespChan: resp})
		r := <-resp
		if (term == 7) != (r.Error == nil) {
			t.Fatalf("term %d: %v", term, r.Error)
		}
	}
	if len(got) != 1 || got[0] != 7 {
		t.Fatalf("raft saw heartbeats %v", got)
	}
}

func TestGuardSnapshots(t *testing.T) {
	g, ft := newTestGuard(t, 7)
	emptyConf := raft.EncodeConfiguration(raft.Configuration{})
	nonvoters := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "a", Address: "x", Suffrage: raft.Nonvoter}}})
	cases := []struct {
		name string
		req  raft.InstallSnapshotRequest
		pass bool
	}{
		{"good", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: 4, LastLogIndex: 9, ConfigurationIndex: 2, Configuration: goodConfig()}, true},
		{"no configuration", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: 4, LastLogIndex: 9}, false},
		{"empty configuration", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: 4, LastLogIndex: 9, Configuration: emptyConf}, false},
		{"no voter", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: 4, LastLogIndex: 9, Configuration: nonvoters}, false},
		{"junk configuration", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: 4, LastLogIndex: 9, Configuration: []byte{0xc1, 0xff, 0x00}}, false},
		{"version 0", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 0, Size: 4, LastLogIndex: 9, Configuration: goodConfig()}, false},
		{"oversized", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: 300 << 20, LastLogIndex: 9, Configuration: goodConfig()}, false},
		{"negative size", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: -1, LastLogIndex: 9, Configuration: goodConfig()}, false},
		{"config after end", raft.InstallSnapshotRequest{Term: 8, SnapshotVersion: 1, Size: 4, LastLogIndex: 1, ConfigurationIndex: 2, Configuration: goodConfig()}, false},
	}
	for _, c := range cases {
		data := bytes.NewReader([]byte("data"))
		if got := send(t, g, ft, &c.req, io.LimitReader(data, 4)); got != c.pass {
			t.Errorf("%s: passed %v, want %v", c.name, got, c.pass)
		}
		if !c.pass && c.req.Size == 4 && data.Len() != 0 {
			t.Errorf("%s: refused snapshot data not drained", c.name)
		}
	}
}

// testSM is a state machine holding a counter of applied commands.
type testSM struct {
	mu  sync.Mutex
	sum uint64
}

func (s *testSM) ApplyBatch(es []Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range es {
		if e.Command {
			s.sum += uint64(len(e.Data))
		}
	}
}

type testSnap struct{ sum uint64 }

func (s testSnap) Persist(w io.Writer) error {
	return binary.Write(w, binary.BigEndian, s.sum)
}
func (testSnap) Release() {}

func (s *testSM) Snapshot() (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return testSnap{s.sum}, nil
}

func (s *testSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) != 8 {
		return errors.New("junk snapshot")
	}
	s.mu.Lock()
	s.sum = binary.BigEndian.Uint64(b)
	s.mu.Unlock()
	return nil
}

func (s *testSM) get() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum
}

func startDurable(t *testing.T, dir string, sm *testSM) (*Replica, error) {
	return Start(Config{ID: "a", Single: true, DataDir: dir, TrailingLogs: 1000,
		Bootstrap: []Server{{ID: "a", Voter: true}}}, sm)
}

func waitLeader(t *testing.T, rep *Replica) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !rep.Leads(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
	}
}

// A snapshot that cannot be restored (its data replaced by junk with a
// matching checksum, as an installed junk snapshot would be) is moved
// aside at the next start, and the replica rebuilds its state from the
// previous snapshot and the log.
func TestCorruptSnapshotMovedAside(t *testing.T) {
	dir := t.TempDir()
	sm := &testSM{}
	rep, err := startDurable(t, dir, sm)
	if err != nil {
		t.Fatal(err)
	}
	waitLeader(t, rep)
	for i := 0; i < 10; i++ {
		if err := rep.Apply([]byte("x")).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rep.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := rep.Apply([]byte("yy")).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rep.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := rep.Apply([]byte("zzz")).Error(); err != nil {
		t.Fatal(err)
	}
	want := sm.get()
	if err := rep.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// Replace the newest snapshot's data with junk and fix its checksum
	// (what raft stores for a junk snapshot a peer sent): restoring it
	// fails, the older one works.
	ents, _ := os.ReadDir(filepath.Join(dir, "snapshots"))
	var newest string
	for _, e := range ents {
		if e.IsDir() && e.Name() > newest {
			newest = e.Name()
		}
	}
	rewriteSnapshot(t, filepath.Join(dir, "snapshots", newest), []byte("junk!"))

	sm2 := &testSM{}
	rep2, err := startDurable(t, dir, sm2)
	if err != nil {
		t.Fatal(err)
	}
	defer rep2.Shutdown()
	waitLeader(t, rep2)
	if err := rep2.r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := sm2.get(); got != want {
		t.Fatalf("state after restart %d, want %d", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshots", newest)); !os.IsNotExist(err) {
		t.Fatalf("bad snapshot still in place: %v", err)
	}
	bad, _ := os.ReadDir(filepath.Join(dir, "snapshots-bad"))
	if len(bad) != 1 || !strings.HasPrefix(bad[0].Name(), newest) {
		t.Fatalf("snapshots-bad holds %v", bad)
	}
}

// When the only snapshot is junk and the log was compacted, the replica
// refuses to start with an error saying what to do, rather than panic.
func TestCorruptOnlySnapshotWithCompactedLog(t *testing.T) {
	dir := t.TempDir()
	sm := &testSM{}
	rep, err := Start(Config{ID: "a", Single: true, DataDir: dir, TrailingLogs: 1,
		Bootstrap: []Server{{ID: "a", Voter: true}}}, sm)
	if err != nil {
		t.Fatal(err)
	}
	waitLeader(t, rep)
	for i := 0; i < 10; i++ {
		if err := rep.Apply([]byte("x")).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rep.Snapshot(); err != nil {
		t.Fatal(err)
	}
	rep.Shutdown()
	ents, _ := os.ReadDir(filepath.Join(dir, "snapshots"))
	for _, e := range ents {
		rewriteSnapshot(t, filepath.Join(dir, "snapshots", e.Name()), []byte("junk"))
	}
	_, err = startDurable(t, dir, &testSM{})
	if err == nil || !strings.Contains(err.Error(), "cannot rebuild") {
		t.Fatalf("start: %v", err)
	}
}

// rewriteSnapshot replaces a file snapshot's data and fixes its meta.
func rewriteSnapshot(t *testing.T, dir string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "state.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := jsonUnmarshal(mb, &meta); err != nil {
		t.Fatal(err)
	}
	meta["CRC"] = crc64Of(data)
	meta["Size"] = len(data)
	if mb, err = jsonMarshal(meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), mb, 0o644); err != nil {
		t.Fatal(err)
	}
}
