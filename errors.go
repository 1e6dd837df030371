package coord

import (
	"context"
	"errors"
	"strconv"
)

// Code is a ZooKeeper error code. Every Code is also an error, and the
// sentinel errors below are Codes, so errors.Is(err, ErrNoNode) works on any
// error this package returns, however it is wrapped.
type Code int32

// ZooKeeper's error codes, with the numbers its wire protocol uses.
const (
	CodeOK                      Code = 0
	CodeSystemError             Code = -1
	CodeRuntimeInconsistency    Code = -2
	CodeDataInconsistency       Code = -3
	CodeConnectionLoss          Code = -4
	CodeMarshallingError        Code = -5
	CodeUnimplemented           Code = -6
	CodeOperationTimeout        Code = -7
	CodeBadArguments            Code = -8
	CodeUnknownSession          Code = -12
	CodeNewConfigNoQuorum       Code = -13
	CodeReconfigInProgress      Code = -14
	CodeNoNode                  Code = -101
	CodeNoAuth                  Code = -102
	CodeBadVersion              Code = -103
	CodeNoChildrenForEphemerals Code = -108
	CodeNodeExists              Code = -110
	CodeNotEmpty                Code = -111
	CodeSessionExpired          Code = -112
	CodeInvalidCallback         Code = -113
	CodeInvalidACL              Code = -114
	CodeAuthFailed              Code = -115
	CodeSessionMoved            Code = -118
	CodeNotReadOnly             Code = -119
	CodeEphemeralOnLocalSession Code = -120
	CodeNoWatcher               Code = -121
	CodeRequestTimeout          Code = -122
	CodeReconfigDisabled        Code = -123
	CodeQuotaExceeded           Code = -125
	CodeThrottled               Code = -127
)

// Sentinel errors, one per ZooKeeper error code. Match them with errors.Is.
var (
	ErrSystemError             error = CodeSystemError
	ErrRuntimeInconsistency    error = CodeRuntimeInconsistency
	ErrDataInconsistency       error = CodeDataInconsistency
	ErrConnectionLoss          error = CodeConnectionLoss
	ErrMarshallingError        error = CodeMarshallingError
	ErrUnimplemented           error = CodeUnimplemented
	ErrOperationTimeout        error = CodeOperationTimeout
	ErrBadArguments            error = CodeBadArguments
	ErrUnknownSession          error = CodeUnknownSession
	ErrNewConfigNoQuorum       error = CodeNewConfigNoQuorum
	ErrReconfigInProgress      error = CodeReconfigInProgress
	ErrNoNode                  error = CodeNoNode
	ErrNoAuth                  error = CodeNoAuth
	ErrBadVersion              error = CodeBadVersion
	ErrNoChildrenForEphemerals error = CodeNoChildrenForEphemerals
	ErrNodeExists              error = CodeNodeExists
	ErrNotEmpty                error = CodeNotEmpty
	ErrSessionExpired          error = CodeSessionExpired
	ErrInvalidCallback         error = CodeInvalidCallback
	ErrInvalidACL              error = CodeInvalidACL
	ErrAuthFailed              error = CodeAuthFailed
	ErrSessionMoved            error = CodeSessionMoved
	ErrNotReadOnly             error = CodeNotReadOnly
	ErrEphemeralOnLocalSession error = CodeEphemeralOnLocalSession
	ErrNoWatcher               error = CodeNoWatcher
	ErrRequestTimeout          error = CodeRequestTimeout
	ErrReconfigDisabled        error = CodeReconfigDisabled
	ErrQuotaExceeded           error = CodeQuotaExceeded
	ErrThrottled               error = CodeThrottled
)

var codeText = map[Code]string{
	CodeOK:                      "ok",
	CodeSystemError:             "system error",
	CodeRuntimeInconsistency:    "runtime inconsistency",
	CodeDataInconsistency:       "data inconsistency",
	CodeConnectionLoss:          "connection loss",
	CodeMarshallingError:        "marshalling error",
	CodeUnimplemented:           "unimplemented",
	CodeOperationTimeout:        "operation timeout",
	CodeBadArguments:            "bad arguments",
	CodeUnknownSession:          "unknown session",
	CodeNewConfigNoQuorum:       "new config has no quorum",
	CodeReconfigInProgress:      "reconfig in progress",
	CodeNoNode:                  "node does not exist",
	CodeNoAuth:                  "not authorized",
	CodeBadVersion:              "bad version",
	CodeNoChildrenForEphemerals: "ephemeral nodes may not have children",
	CodeNodeExists:              "node already exists",
	CodeNotEmpty:                "node has children",
	CodeSessionExpired:          "session expired",
	CodeInvalidCallback:         "invalid callback",
	CodeInvalidACL:              "invalid ACL",
	CodeAuthFailed:              "authentication failed",
	CodeSessionMoved:            "session moved to another server",
	CodeNotReadOnly:             "not a read-only call",
	CodeEphemeralOnLocalSession: "ephemeral on local session",
	CodeNoWatcher:               "no such watcher",
	CodeRequestTimeout:          "request timeout",
	CodeReconfigDisabled:        "reconfig is disabled",
	CodeQuotaExceeded:           "quota exceeded",
	CodeThrottled:               "request throttled",
}

// Error returns the code's text, prefixed with "zk: ".
func (c Code) Error() string {
	if s, ok := codeText[c]; ok {
		return "zk: " + s
	}
	return "zk: unknown error code " + strconv.Itoa(int(c))
}

// CodeOf returns the ZooKeeper code carried by err: CodeOK for nil,
// the wrapped Code when there is one, CodeOperationTimeout for an ended
// context, and CodeSystemError otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return CodeOperationTimeout
	}
	return CodeSystemError
}

// OpError is the error returned by Session methods: the operation, the path
// it was applied to (as the caller named it, inside the session's chroot) and
// the underlying error, usually a Code. It unwraps to Err.
type OpError struct {
	Op   string // "create", "getData", "multi", …
	Path string // the path as passed by the caller; empty for path-less operations
	Err  error
	// Detail is extra text for humans (e.g. which limit was exceeded); it does
	// not take part in matching.
	Detail string
}

func (e *OpError) Error() string {
	s := "coord: " + e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *OpError) Unwrap() error { return e.Err }

func opErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Path: path, Err: err}
}
