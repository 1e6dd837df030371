package zkwire

import (
	"errors"
	"strconv"
)

// Error is a ZooKeeper error returned by a Client: a server reply whose
// header carried a non-zero err, or a client-side condition mapped to the
// same codes (CodeConnectionLoss once the connection is gone,
// CodeSessionExpired for a refused session, CodeInvalidACL for an empty ACL,
// CodeNoWatcher from RemoveWatches).
//
// Its text is the Java client's KeeperException message, e.g.
// "KeeperErrorCode = NoNode for /a". errors.Is matches another *Error with
// the same Code and, when the target has one, the same Path, so
// errors.Is(err, zkwire.ErrNoNode) works.
type Error struct {
	Code ErrCode
	Path string // the request's path, when it has one
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "KeeperErrorCode = " + CodeText(e.Code)
	}
	return "KeeperErrorCode = " + CodeText(e.Code) + " for " + e.Path
}

// Is reports whether target is an *Error with the same code (and the same
// path, when target's is set).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Path == "" || t.Path == e.Path)
}

// Sentinels for errors.Is.
var (
	ErrConnectionLoss          = &Error{Code: CodeConnectionLoss}
	ErrSessionExpired          = &Error{Code: CodeSessionExpired}
	ErrBadArguments            = &Error{Code: CodeBadArguments}
	ErrNoNode                  = &Error{Code: CodeNoNode}
	ErrNoAuth                  = &Error{Code: CodeNoAuth}
	ErrBadVersion              = &Error{Code: CodeBadVersion}
	ErrNoChildrenForEphemerals = &Error{Code: CodeNoChildrenForEphemerals}
	ErrNodeExists              = &Error{Code: CodeNodeExists}
	ErrNotEmpty                = &Error{Code: CodeNotEmpty}
	ErrInvalidACL              = &Error{Code: CodeInvalidACL}
	ErrAuthFailed              = &Error{Code: CodeAuthFailed}
	ErrNoWatcher               = &Error{Code: CodeNoWatcher}
	ErrUnimplemented           = &Error{Code: CodeUnimplemented}
)

// CodeOf returns the ErrCode carried by err (CodeOK for nil, CodeSystemError
// for an error that is not an *Error).
func CodeOf(err error) ErrCode {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeSystemError
}

// CodeText returns the readable text the Java client uses for a code
// (KeeperException.getCodeMessage): "NoNode", "Directory not empty",
// "No such watcher", ...
func CodeText(c ErrCode) string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeNotEmpty:
		return "Directory not empty"
	case CodeSessionExpired:
		return "Session expired"
	case CodeInvalidCallback:
		return "Invalid callback"
	case CodeSessionMoved:
		return "Session moved"
	case CodeNotReadOnly:
		return "Not a read-only call"
	case CodeEphemeralOnLocalSession:
		return "Ephemeral node on local session"
	case CodeNoWatcher:
		return "No such watcher"
	case CodeRequestTimeout:
		return "Request timeout"
	case CodeReconfigDisabled:
		return "Reconfig is disabled"
	case CodeSessionClosedRequireSASLAuth:
		return "Session closed because client failed to authenticate"
	case CodeQuotaExceeded:
		return "Quota has exceeded"
	case CodeThrottled:
		return "Op throttled due to high load"
	}
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "Unknown error " + strconv.Itoa(int(c))
}
