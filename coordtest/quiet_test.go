package coordtest_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
)

// errorRecorder keeps the ERROR records of every node.
type errorRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *errorRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (r *errorRecorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.mu.Lock()
	r.recs = append(r.recs, line)
	r.mu.Unlock()
	return nil
}
func (r *errorRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *errorRecorder) WithGroup(string) slog.Handler      { return r }

// A healthy ensemble, from its election through writes to a clean close
// of every node, logs no ERROR: raft's lines about peers that went away
// are WARN (raftfsm's adjustLevel), its own shutdown DEBUG.
func TestHealthyEnsembleLogsNoErrors(t *testing.T) {
	rec := &errorRecorder{}
	e := coordtest.NewEnsembleWith(t, 3, coordtest.Options{Configure: func(_ int, cfg *coord.Config) {
		cfg.Logger = slog.New(rec)
	}})
	s := e.Session(e.Node(0))
	for i := 0; i < 20; i++ {
		if _, err := s.Create(context.Background(), "/p", nil, coord.PersistentSequential, coord.WorldACL(coord.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	e.WaitConverged()
	for i := 0; i < e.Size(); i++ {
		if err := e.Node(i).Close(context.Background()); err != nil {
			t.Errorf("close node %d: %v", i, err)
		}
	}
	time.Sleep(200 * time.Millisecond) // raft's goroutines finish logging
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.recs {
		t.Errorf("ERROR from a healthy ensemble: %s", r)
	}
}
