package raftfsm

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// peerFailureLines are hashicorp/raft's ERROR lines about an RPC to a peer
// that failed. raft retries them with backoff; when the cause is the
// connection (the peer is down, restarting, partitioned or closing) they
// are an expected event of a running ensemble, logged at WARN: a stopped
// member is not an error of this node. Other causes keep ERROR.
var peerFailureLines = map[string]bool{
	"failed to appendEntries to":       true,
	"failed to heartbeat to":           true,
	"failed to make requestVote RPC":   true,
	"failed to pipeline appendEntries": true,
	"failed to flush response":         true, // raft-net: the peer hung up before our answer
}

// adjustLevel returns the level an hclog line from raft is logged at. It
// lowers exactly three kinds of ERROR line:
//   - peerFailureLines whose "error" is a connection failure: WARN;
//   - raft-net's "failed to decode incoming command" with
//     raft.ErrTransportShutdown, which is this node's own shutdown: DEBUG;
//   - "peer has newer term, stopping replication": a leader learning that
//     another was elected (a leadership transfer, a partition healed), which
//     raft handles by stepping down: WARN, as raft's other election lines.
func adjustLevel(level hclog.Level, msg string, args []interface{}) slog.Level {
	lvl := toSlog(level)
	if level != hclog.Error {
		return lvl
	}
	if msg == "peer has newer term, stopping replication" {
		return slog.LevelWarn
	}
	err := argError(args)
	if err == nil {
		return lvl
	}
	switch {
	case msg == "failed to decode incoming command" && errors.Is(err, raft.ErrTransportShutdown):
		return slog.LevelDebug
	case peerFailureLines[msg] && connectionFailure(err):
		return slog.LevelWarn
	}
	return lvl
}

// argError returns the value of the "error" key, if it is an error.
func argError(args []interface{}) error {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "error" {
			err, _ := args[i+1].(error)
			return err
		}
	}
	return nil
}

// connectionFailure reports whether err is the connection's failure, not
// the RPC's: closed or reset connections, refused dials, timeouts, a
// transport shut down.
func connectionFailure(err error) bool {
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, io.ErrClosedPipe, net.ErrClosed,
		raft.ErrTransportShutdown, raft.ErrPipelineShutdown, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}
