package coordtest

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/coordkit/coord"
)

// logTB records what an ensemble logs.
type logTB struct {
	*testing.T
	mu    sync.Mutex
	lines []string
}

func (l *logTB) Log(args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprint(args...))
	l.mu.Unlock()
}

func (l *logTB) logged(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// TestLogLevel checks that every level can be chosen, Info (slog's zero
// Level) included, and that nil means Warn.
func TestLogLevel(t *testing.T) {
	for _, c := range []struct {
		name       string
		level      slog.Leveler
		info, warn bool
	}{
		{"default", nil, false, true},
		{"info", slog.LevelInfo, true, true},
		{"error", slog.LevelError, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := &logTB{T: t}
			NewEnsembleWith(tb, 1, Options{
				LogLevel: c.level,
				Configure: func(i int, cfg *coord.Config) {
					cfg.Logger.Info("probe-info")
					cfg.Logger.Warn("probe-warn")
				},
			})
			if got := tb.logged("probe-info"); got != c.info {
				t.Errorf("Info logged = %v, want %v", got, c.info)
			}
			if got := tb.logged("probe-warn"); got != c.warn {
				t.Errorf("Warn logged = %v, want %v", got, c.warn)
			}
		})
	}
}
