package raftfsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestAdjustLevel(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		level hclog.Level
		msg   string
		err   error
		want  slog.Level
	}{
		{hclog.Error, "failed to appendEntries to", io.EOF, slog.LevelWarn},
		{hclog.Error, "failed to appendEntries to", dialErr, slog.LevelWarn},
		{hclog.Error, "failed to heartbeat to", fmt.Errorf("wrapped: %w", net.ErrClosed), slog.LevelWarn},
		{hclog.Error, "failed to make requestVote RPC", raft.ErrTransportShutdown, slog.LevelWarn},
		{hclog.Error, "failed to flush response", io.ErrClosedPipe, slog.LevelWarn},
		{hclog.Error, "failed to decode incoming command", raft.ErrTransportShutdown, slog.LevelDebug},
		{hclog.Error, "peer has newer term, stopping replication", nil, slog.LevelWarn},
		// Real errors keep their level.
		{hclog.Error, "failed to appendEntries to", errors.New("log not found"), slog.LevelError},
		{hclog.Error, "failed to decode incoming command", errors.New("msgpack: bad"), slog.LevelError},
		{hclog.Error, "failed to get log", io.EOF, slog.LevelError},
		{hclog.Error, "failed to take snapshot", nil, slog.LevelError},
		{hclog.Warn, "failed to appendEntries to", io.EOF, slog.LevelWarn},
		{hclog.Info, "entering follower state", nil, slog.LevelInfo},
	} {
		var args []interface{}
		if c.err != nil {
			args = []interface{}{"peer", "x", "error", c.err}
		}
		if got := adjustLevel(c.level, c.msg, args); got != c.want {
			t.Errorf("%v %q %v: %v, want %v", c.level, c.msg, c.err, got, c.want)
		}
	}
}

func TestBadgerMultiLineIsOneRecord(t *testing.T) {
	var b strings.Builder
	l := slogBadgerLogger{l: slog.New(slog.NewJSONHandler(&b, nil))}
	l.Infof("Lifetime L0 stalled for: %s\nLevel 0 [ ]: NumTables: 00.\n  Level 1 [ ]: NumTables: 00.\n\n", "0s")
	l.Warningf("single line\n")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 records, got %d:\n%s", len(lines), b.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "Lifetime L0 stalled for: 0s" || rec["detail"] != "Level 0 [ ]: NumTables: 00.; Level 1 [ ]: NumTables: 00." {
		t.Errorf("record %v", rec)
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil || rec["msg"] != "single line" {
		t.Errorf("record %v %v", rec, err)
	}
}
