package coord

import (
	"bytes"
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHclogAdapter routes hashicorp/raft's hclog output into slog. hclog
// writes one formatted line per record; the level tag is mapped back onto
// slog's levels.
func newHclogAdapter(l *slog.Logger, name string) hclog.Logger {
	level := hclog.Info
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	if !l.Enabled(context.Background(), slog.LevelError) {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        name,
		Level:       level,
		Output:      slogWriter{l},
		DisableTime: true,
	})
}

type slogWriter struct{ l *slog.Logger }

var _ io.Writer = slogWriter{}

func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	lvl := slog.LevelInfo
	for tag, l := range map[string]slog.Level{"[ERROR]": slog.LevelError, "[WARN]": slog.LevelWarn, "[DEBUG]": slog.LevelDebug, "[TRACE]": slog.LevelDebug} {
		if bytes.HasPrefix(line, []byte(tag)) {
			lvl = l
			line = bytes.TrimSpace(line[len(tag):])
		}
	}
	line = bytes.TrimPrefix(line, []byte("[INFO]"))
	w.l.Log(context.Background(), lvl, string(bytes.TrimSpace(line)))
	return len(p), nil
}
