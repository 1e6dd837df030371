package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coordkit/coord"
)

func TestSnapshotInspectAndRestore(t *testing.T) {
	ctx := context.Background()
	n, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	s, err := n.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/app", []byte("hello"), coord.Persistent, coord.OpenACL); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := n.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "b.coordbak")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"snapshot", "inspect", file}, &out, &errOut); code != 0 {
		t.Fatalf("inspect: %d %s", code, errOut.String())
	}
	for _, want := range []string{"znodes:      5", "verified:    checksum and digest OK", "sessions:    1", "data bytes:  5"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("inspect output lacks %q:\n%s", want, out.String())
		}
	}

	bad := filepath.Join(dir, "bad.coordbak")
	b := bytes.Clone(buf.Bytes())
	b[len(b)-20] ^= 1
	os.WriteFile(bad, b, 0o644)
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"snapshot", "inspect", bad}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), bad+": offset") {
		t.Fatalf("inspect of a corrupt file: %d %q", code, errOut.String())
	}
	data := filepath.Join(dir, "data")
	if code := run(ctx, []string{"snapshot", "restore", bad, "-data-dir", data, "-id", "7"}, &out, &errOut); code != 1 {
		t.Fatalf("restore of a corrupt file: %d", code)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatal("a refused restore wrote the data dir")
	}
	errOut.Reset()
	if code := run(ctx, []string{"snapshot", "restore", file, "-data-dir", data, "-id", "7"}, &out, &errOut); code != 0 {
		t.Fatalf("restore: %d %s", code, errOut.String())
	}
	r, err := coord.Open(ctx, coord.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if r.ID() != "7" || r.LastZxid() != n.LastZxid() {
		t.Fatalf("restored node %q at zxid %#x, want 7 at %#x", r.ID(), r.LastZxid(), n.LastZxid())
	}
}
