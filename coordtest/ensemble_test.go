package coordtest

import (
	"context"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

func TestEnsembleBasic(t *testing.T) {
	start := time.Now()
	e := NewEnsemble(t, 3)
	ctx := context.Background()
	s0 := e.Session(e.Node(0))
	if _, err := s0.Create(ctx, "/a", []byte("x"), coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("start to first write: %v", time.Since(start))
	for i := 0; i < 3; i++ {
		s := e.Session(e.Node(i))
		if _, err := s.Sync(ctx, "/"); err != nil {
			t.Fatal(err)
		}
		d, _, err := s.GetData(ctx, "/a")
		if err != nil || string(d) != "x" {
			t.Fatalf("node %d: %q %v", i, d, err)
		}
		if _, err := s.Create(ctx, "/n", nil, coord.PersistentSequential, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.WaitConverged()
	li := e.LeaderIndex()
	e.Kill(li)
	f := (li + 1) % 3
	s := e.Session(e.Node(f))
	if _, err := s.Create(ctx, "/after", nil, coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	e.Restart(li)
	e.WaitConverged()
}
