package raftfsm

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// NewLogger returns an hclog.Logger, the logger type hashicorp/raft takes,
// that writes to l: raft's key/value pairs become slog attributes and its
// levels slog's (Trace is logged as Debug-4). name becomes the "component"
// attribute.
func NewLogger(l *slog.Logger, name string) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &slogLogger{l: l.With("component", name), name: name}
}

type slogLogger struct {
	l       *slog.Logger
	name    string
	implied []interface{}
}

var _ hclog.Logger = (*slogLogger)(nil)

const levelTrace = slog.LevelDebug - 4

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// attrs turns hclog's alternating key/value arguments into slog's; an odd
// trailing value is kept under "EXTRA_VALUE_AT_END" as hclog does.
func attrs(args []interface{}) []any {
	out := make([]any, 0, len(args))
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			out = append(out, slog.Any("EXTRA_VALUE_AT_END", args[i]))
			break
		}
		k, ok := args[i].(string)
		if !ok {
			k = "BAD_KEY"
		}
		v := args[i+1]
		if f, ok := v.(hclog.Format); ok && len(f) > 0 {
			if s, ok := f[0].(string); ok {
				v = strings.TrimSpace(fmt.Sprintf(s, f[1:]...))
			}
		}
		out = append(out, slog.Any(k, v))
	}
	return out
}

func (s *slogLogger) Log(level hclog.Level, msg string, args ...interface{}) {
	lvl := adjustLevel(level, msg, args)
	if !s.l.Enabled(context.Background(), lvl) {
		return
	}
	s.l.Log(context.Background(), lvl, msg, attrs(args)...)
}

func (s *slogLogger) Trace(msg string, args ...interface{}) { s.Log(hclog.Trace, msg, args...) }
func (s *slogLogger) Debug(msg string, args ...interface{}) { s.Log(hclog.Debug, msg, args...) }
func (s *slogLogger) Info(msg string, args ...interface{})  { s.Log(hclog.Info, msg, args...) }
func (s *slogLogger) Warn(msg string, args ...interface{})  { s.Log(hclog.Warn, msg, args...) }
func (s *slogLogger) Error(msg string, args ...interface{}) { s.Log(hclog.Error, msg, args...) }

func (s *slogLogger) enabled(l slog.Level) bool { return s.l.Enabled(context.Background(), l) }
func (s *slogLogger) IsTrace() bool             { return s.enabled(levelTrace) }
func (s *slogLogger) IsDebug() bool             { return s.enabled(slog.LevelDebug) }
func (s *slogLogger) IsInfo() bool              { return s.enabled(slog.LevelInfo) }
func (s *slogLogger) IsWarn() bool              { return s.enabled(slog.LevelWarn) }
func (s *slogLogger) IsError() bool             { return s.enabled(slog.LevelError) }

func (s *slogLogger) ImpliedArgs() []interface{} { return s.implied }

func (s *slogLogger) With(args ...interface{}) hclog.Logger {
	return &slogLogger{l: s.l.With(attrs(args)...), name: s.name, implied: append(s.implied[:len(s.implied):len(s.implied)], args...)}
}

func (s *slogLogger) Name() string { return s.name }

func (s *slogLogger) Named(name string) hclog.Logger {
	if s.name != "" {
		name = s.name + "." + name
	}
	return s.ResetNamed(name)
}

func (s *slogLogger) ResetNamed(name string) hclog.Logger {
	return &slogLogger{l: s.l.With("component", name), name: name, implied: s.implied}
}

// SetLevel is a no-op: the slog handler decides what is written.
func (s *slogLogger) SetLevel(hclog.Level) {}

func (s *slogLogger) GetLevel() hclog.Level {
	switch {
	case s.IsTrace():
		return hclog.Trace
	case s.IsDebug():
		return hclog.Debug
	case s.IsInfo():
		return hclog.Info
	case s.IsWarn():
		return hclog.Warn
	case s.IsError():
		return hclog.Error
	}
	return hclog.Off
}

func (s *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(s.StandardWriter(opts), "", 0)
}

func (s *slogLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return LineWriter{L: s.l}
}

// LineWriter logs each line written to it, for libraries that take a
// *log.Logger. A leading level tag ("[ERROR]", "[WARN]", "[DEBUG]",
// "[TRACE]", "[INFO]"), as hashicorp's libraries write them, sets the level.
type LineWriter struct{ L *slog.Logger }

func (w LineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		lvl := slog.LevelInfo
		for _, t := range []struct {
			tag string
			lvl slog.Level
		}{{"[ERR]", slog.LevelError}, {"[ERROR]", slog.LevelError}, {"[WARN]", slog.LevelWarn}, {"[DEBUG]", slog.LevelDebug}, {"[TRACE]", levelTrace}, {"[INFO]", slog.LevelInfo}} {
			if strings.HasPrefix(line, t.tag) {
				lvl = t.lvl
				line = strings.TrimSpace(line[len(t.tag):])
				break
			}
		}
		w.L.Log(context.Background(), lvl, line)
	}
	return len(p), nil
}
