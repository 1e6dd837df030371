package coord

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDataDirKeepsItsIdentity(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	n, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id := n.ID()
	s := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/kept", []byte("v"), Persistent, OpenACL)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The same zero Config: the same node, with its data.
	n, err = Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatalf("reopen with the zero NodeID: %v", err)
	}
	if n.ID() != id {
		t.Fatalf("reopened as %q, was %q", n.ID(), id)
	}
	s = newSession(t, n, SessionConfig{})
	if data, _, err := s.GetData(ctx, "/kept"); err != nil || string(data) != "v" {
		t.Fatalf("GetData after reopen: %q, %v", data, err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Another node's id, or another cluster: refused at once, naming both.
	_, err = Open(ctx, Config{DataDir: dir, NodeID: "someone-else"})
	if err == nil || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "someone-else") {
		t.Fatalf("reopen with another NodeID: %v", err)
	}
	_, err = Open(ctx, Config{DataDir: dir, Gossip: GossipConfig{ClusterName: "blue"}})
	if err == nil || !strings.Contains(err.Error(), `"coord"`) || !strings.Contains(err.Error(), `"blue"`) {
		t.Fatalf("reopen in another cluster: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("a refused Open waited for its context")
	}
}

// A data directory written before identities were kept: its id must be
// given once, and is remembered from then on.
func TestLegacyDataDirNeedsItsID(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	n, err := Open(ctx, Config{DataDir: dir, NodeID: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, identityFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Config{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "NodeID") {
		t.Fatalf("legacy data dir without NodeID: %v", err)
	}
	n, err = Open(ctx, Config{DataDir: dir, NodeID: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatalf("after the id was given once: %v", err)
	}
	if n.ID() != "old" {
		t.Fatalf("id %q", n.ID())
	}
	_ = n.Close(ctx)
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A node whose peers are all down says what it waits for instead of
// waiting silently.
func TestOpenSaysWhatItWaitsFor(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the first report")
	}
	var logs syncBuffer
	self, other1, other2 := loopbackAddr(t), loopbackAddr(t), loopbackAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitingReportEvery+3*time.Second)
	defer cancel()
	_, err := Open(ctx, Config{
		NodeID: "a", BindAddr: self,
		Peers:  []Peer{{ID: "a", Addr: self}, {ID: "b", Addr: other1}, {ID: "c", Addr: other2}},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err == nil {
		t.Fatal("Open succeeded without a quorum")
	}
	out := logs.String()
	for _, want := range []string{"waiting for the ensemble", "no leader yet", "1 of 3 voters reachable", "2 needed", other1 + " unreachable"} {
		if !strings.Contains(out, want) {
			t.Errorf("the waiting report lacks %q:\n%s", want, out)
		}
	}
}
