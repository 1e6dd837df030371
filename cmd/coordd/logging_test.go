package main

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogFormats(t *testing.T) {
	var b strings.Builder
	l, err := newLogger(&b, "json", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal([]byte(b.String()), &rec); err != nil || rec["msg"] != "hello" || rec["k"] != float64(1) {
		t.Fatalf("json record %q: %v", b.String(), err)
	}
	b.Reset()
	if l, err = newLogger(&b, "text", slog.LevelInfo); err != nil {
		t.Fatal(err)
	}
	l.Info("hello", "k", 1)
	if !strings.Contains(b.String(), "msg=hello k=1") {
		t.Fatalf("text record %q", b.String())
	}
	if _, err := newLogger(&b, "xml", slog.LevelInfo); err == nil {
		t.Fatal("xml accepted")
	}
	if code := run(t.Context(), []string{"-log-format", "xml"}, &b, &b); code != 2 {
		t.Fatalf("run with -log-format xml: exit %d", code)
	}
}
