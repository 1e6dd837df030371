package raftfsm

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// raft's key/value pairs arrive as slog attributes, with its levels.
func TestLoggerKeepsAttributes(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "raft")
	l.With("peer", "n2").Warn("failed to contact", "server-id", "n3", "time", 42)
	l.Named("net").Debug("dialing", "addr", "127.0.0.1:7000")
	l.Trace("not written at debug")
	l.Error("odd", "lonely")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	var rec []map[string]any
	for _, ln := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatal(err)
		}
		rec = append(rec, m)
	}
	if r := rec[0]; r["level"] != "WARN" || r["msg"] != "failed to contact" || r["component"] != "raft" ||
		r["peer"] != "n2" || r["server-id"] != "n3" || r["time"] != float64(42) {
		t.Errorf("first record %v", r)
	}
	if r := rec[1]; r["level"] != "DEBUG" || r["component"] != "raft.net" || r["addr"] != "127.0.0.1:7000" {
		t.Errorf("second record %v", r)
	}
	if r := rec[2]; r["level"] != "ERROR" || r["EXTRA_VALUE_AT_END"] != "lonely" {
		t.Errorf("third record %v", r)
	}
	if l.GetLevel() != hclog.Debug || !l.IsDebug() || l.IsTrace() {
		t.Errorf("level %v", l.GetLevel())
	}
}

// Libraries that log through a *log.Logger: one record per line, the level
// taken from the tag.
func TestLineWriter(t *testing.T) {
	var buf bytes.Buffer
	w := LineWriter{L: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	_, _ = w.Write([]byte("[WARN] memberlist: suspect n2\n[ERR] memberlist: failed\nplain line\n"))
	out := buf.String()
	for _, want := range []string{`level=WARN msg="memberlist: suspect n2"`, `level=ERROR msg="memberlist: failed"`, `level=INFO msg="plain line"`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
