package coord_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// TestLargeWritesAtOnce: many sessions on every node of a durable TCP
// ensemble write values near the 1 MiB limit at the same moment, so that
// followers forward large batches and the leader packs several into its
// entries. Every write is acknowledged once and every replica holds every
// value. (TestEntriesClosedBySize checks the bound on an entry's size.)
func TestLargeWritesAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~60 MB to disk")
	}
	const (
		perNode = 6 // 18 writers × 1000000 bytes: 18 MB waiting at once
		size    = 1_000_000
	)
	dir := t.TempDir()
	nodes := coord.OpenTCPCluster(t, 3, "w", func(i int, cfg *coord.Config) {
		cfg.DataDir = filepath.Join(dir, cfg.NodeID)
		cfg.ElectionTimeout = time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sessions := make([]*coord.Session, 0, perNode*len(nodes))
	for _, n := range nodes {
		for range perNode {
			s, err := n.NewSession(ctx, coord.SessionConfig{})
			if err != nil {
				t.Fatal(err)
			}
			sessions = append(sessions, s)
		}
	}
	if _, err := sessions[0].Create(ctx, "/big", nil, coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	value := func(w int) []byte {
		v := bytes.Repeat([]byte{byte('a' + w%26)}, size)
		copy(v, fmt.Sprintf("writer %d", w))
		return v
	}
	start := make(chan struct{})
	werrs := make([]error, len(sessions))
	for w, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, werrs[w] = s.Create(ctx, fmt.Sprintf("/big/%d", w), value(w), coord.Persistent, nil)
		}()
	}
	close(start)
	wg.Wait()
	for w, err := range werrs {
		if err != nil {
			t.Fatalf("writer %d (node %d): %v", w, w/perNode, err)
		}
	}
	for i := range nodes {
		s := sessions[i*perNode]
		if _, err := s.Sync(ctx, "/big"); err != nil {
			t.Fatal(err)
		}
		for w := range sessions {
			data, st, err := s.GetData(ctx, fmt.Sprintf("/big/%d", w))
			if err != nil {
				t.Fatalf("node %d: writer %d: %v", i, w, err)
			}
			if st.Version != 0 || !bytes.Equal(data, value(w)) {
				t.Fatalf("node %d: writer %d: version %d, %d bytes, not the value written", i, w, st.Version, len(data))
			}
		}
	}
}
