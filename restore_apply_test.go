package coord

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func stageRestore(t *testing.T, tr *tree, id int64, body []byte, chunk int) int32 {
	t.Helper()
	seq := int32(0)
	for off := 0; off < len(body); off += chunk {
		c := command{kind: opRestoreChunk, ttl: id, version: seq, data: body[off:min(off+chunk, len(body))]}
		if r := tr.applyOne(&c); r.err != CodeOK {
			t.Fatalf("chunk %d: %v", seq, r.err)
		}
		seq++
	}
	return seq
}

// A member that installs a snapshot taken between two chunks commits the
// same restore as one that applied them.
func TestRestoreStageTravelsInSnapshots(t *testing.T) {
	src := snapshotTree(t)
	body := encodeSnapshot(src)
	a := newTree(treeLimits{maxData: 1 << 10})
	a.format = logFormat2
	n := stageRestore(t, a, 42, body, 100)
	b, err := decodeSnapshot(encodeSnapshot(a), a.limits)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*tree{a, b} {
		c := command{kind: opRestoreCommit, ttl: 42, version: n}
		if r := tr.applyOne(&c); r.err != CodeOK {
			t.Fatalf("commit: %v", r.err)
		}
		if err := tr.checkInvariants(); err != nil {
			t.Fatal(err)
		}
		sameRestoredState(t, "restored", tr, src)
	}
	// Out of order, or a commit that does not match: refused alike.
	c := newTree(treeLimits{maxData: 1 << 10})
	stageRestore(t, c, 7, body, 100)
	bad := command{kind: opRestoreChunk, ttl: 7, version: 99, data: []byte{1}}
	if r := c.applyOne(&bad); r.err == CodeOK || c.restore != nil {
		t.Fatal("an out-of-order chunk was staged")
	}
	commit := command{kind: opRestoreCommit, ttl: 7, version: 1}
	if r := c.applyOne(&commit); r.err == CodeOK {
		t.Fatal("committed a dropped stage")
	}
}

// A restore committed while a snapshot streams leaves the stream exactly
// the state at its mark.
func TestRestoreDuringSnapshotStream(t *testing.T) {
	f := &fsm{t: newTree(treeLimits{maxData: 1 << 20})}
	tr := f.t
	tr.now = 1
	for i := 0; i < 3000; i++ {
		c := command{kind: opCreate, path: fmt.Sprintf("/n%04d", i), data: []byte("x"), acl: OpenACL}
		tr.applyOne(&c)
	}
	atMark := encodeSnapshot(tr)
	body := encodeSnapshot(snapshotTree(t))
	snap := f.snapshotCOW()
	done := false
	snap.betweenChunks = func() {
		if done {
			return
		}
		done = true
		f.mu.Lock()
		n := stageRestore(t, tr, 1, body, 1000)
		c := command{kind: opRestoreCommit, ttl: 1, version: n}
		if r := tr.applyOne(&c); r.err != CodeOK {
			t.Errorf("commit: %v", r.err)
		}
		f.mu.Unlock()
	}
	var out bytes.Buffer
	if err := snap.Persist(&out); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !done {
		t.Fatal("the stream had one chunk")
	}
	got, err := decodeSnapshot(out.Bytes(), tr.limits)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeSnapshot(atMark, tr.limits)
	sameRestoredState(t, "stream", got, want)
}

// TestRestoreEnsemble restores a backup into a 3-node ensemble online
// (through a follower) and, offline, into a new 3-node ensemble.
func TestRestoreEnsemble(t *testing.T) {
	ctx := context.Background()
	src := openNode(t, Config{})
	populate(t, src)
	file, _ := backupOf(t, src)
	want := nodeTree(t, src)

	nodes := openTCPCluster(t, 3, "on", nil)
	waitFormat2(t, nodes...)
	s := newSession(t, nodes[0], SessionConfig{})
	mustCreate(t, s, "/before", nil, Persistent, OpenACL)
	follower := nodes[slices.IndexFunc(nodes, func(n *Node) bool { return !n.IsLeader() })]
	if err := follower.Restore(ctx, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		eventually(t, "member restored", func() bool { return n.LastZxid() == want.zxid })
		sameRestoredState(t, "online "+n.ID(), nodeTree(t, n), want)
	}
	waitState(t, s, StateExpired)

	// Offline: every member from the same file, then started.
	path := filepath.Join(t.TempDir(), "b.coordbak")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	peers := make([]Peer, 3)
	for i := range peers {
		peers[i] = Peer{ID: fmt.Sprintf("off%d", i), Addr: loopbackAddr(t)}
	}
	dirs := make([]string, 3)
	for i := range peers {
		dirs[i] = filepath.Join(t.TempDir(), "data")
		if _, err := RestoreDataDir(Config{NodeID: peers[i].ID, BindAddr: peers[i].Addr, Peers: peers, DataDir: dirs[i]}, path); err != nil {
			t.Fatal(err)
		}
	}
	restored := make([]*Node, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range peers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			octx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			restored[i], errs[i] = Open(octx, Config{BindAddr: peers[i].Addr, Peers: peers, DataDir: dirs[i]})
		}(i)
	}
	wg.Wait()
	for i, n := range restored {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { _ = n.Abort() })
	}
	for _, n := range restored {
		sameRestoredState(t, "offline "+n.ID(), nodeTree(t, n), want)
	}
	s2 := newSession(t, restored[2], SessionConfig{})
	p := mustCreate(t, s2, "/app/s-", nil, PersistentSequential, OpenACL)
	if wp := "/app/s-" + seqName(want.nodes["/app"].cseq); p != wp {
		t.Fatalf("next sequential %s, want %s", p, wp)
	}
}

// zkSessionPassword reproduces java.util.Random: new Random(42).nextInt()
// is -1170105035.
func TestZKSessionPassword(t *testing.T) {
	p := zkSessionPassword(42 ^ 0xB3415C00)
	if got := int32(uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24); got != -1170105035 || len(p) != 16 {
		t.Fatalf("first int %d (%x)", got, p)
	}
}
