package zkserver

import (
	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkwire"
)

// The one place where coord's values meet their wire numbers: error codes,
// event types, create modes, watcher types and watch modes, and the
// records (Stat, ACL) both sides describe. coord numbers its constants as
// ZooKeeper does, but nothing here relies on it.

// codes maps coord's error codes to the wire's.
var codes = map[coord.Code]zkwire.ErrCode{
	coord.CodeOK:                      zkwire.CodeOK,
	coord.CodeSystemError:             zkwire.CodeSystemError,
	coord.CodeRuntimeInconsistency:    zkwire.CodeRuntimeInconsistency,
	coord.CodeDataInconsistency:       zkwire.CodeDataInconsistency,
	coord.CodeConnectionLoss:          zkwire.CodeConnectionLoss,
	coord.CodeMarshallingError:        zkwire.CodeMarshallingError,
	coord.CodeUnimplemented:           zkwire.CodeUnimplemented,
	coord.CodeOperationTimeout:        zkwire.CodeOperationTimeout,
	coord.CodeBadArguments:            zkwire.CodeBadArguments,
	coord.CodeUnknownSession:          zkwire.CodeUnknownSession,
	coord.CodeNewConfigNoQuorum:       zkwire.CodeNewConfigNoQuorum,
	coord.CodeReconfigInProgress:      zkwire.CodeReconfigInProgress,
	coord.CodeNoNode:                  zkwire.CodeNoNode,
	coord.CodeNoAuth:                  zkwire.CodeNoAuth,
	coord.CodeBadVersion:              zkwire.CodeBadVersion,
	coord.CodeNoChildrenForEphemerals: zkwire.CodeNoChildrenForEphemerals,
	coord.CodeNodeExists:              zkwire.CodeNodeExists,
	coord.CodeNotEmpty:                zkwire.CodeNotEmpty,
	coord.CodeSessionExpired:          zkwire.CodeSessionExpired,
	coord.CodeInvalidCallback:         zkwire.CodeInvalidCallback,
	coord.CodeInvalidACL:              zkwire.CodeInvalidACL,
	coord.CodeAuthFailed:              zkwire.CodeAuthFailed,
	coord.CodeSessionMoved:            zkwire.CodeSessionMoved,
	coord.CodeNotReadOnly:             zkwire.CodeNotReadOnly,
	coord.CodeEphemeralOnLocalSession: zkwire.CodeEphemeralOnLocalSession,
	coord.CodeNoWatcher:               zkwire.CodeNoWatcher,
	coord.CodeRequestTimeout:          zkwire.CodeRequestTimeout,
	coord.CodeReconfigDisabled:        zkwire.CodeReconfigDisabled,
	coord.CodeQuotaExceeded:           zkwire.CodeQuotaExceeded,
	coord.CodeThrottled:               zkwire.CodeThrottled,
}

// wireCode is code's wire number; SystemError for a code the wire lacks.
func wireCode(code coord.Code) zkwire.ErrCode {
	if c, ok := codes[code]; ok {
		return c
	}
	return zkwire.CodeSystemError
}

// errCode is the wire code of err (nil: OK), as coord.CodeOf reads it.
func errCode(err error) zkwire.ErrCode { return wireCode(coord.CodeOf(err)) }

// eventTypes are the watch events the wire carries. Removal events are
// made by ZooKeeper clients themselves, and NotWatching is coord's own.
var eventTypes = map[coord.EventType]zkwire.EventType{
	coord.EventNodeCreated:         zkwire.EventNodeCreated,
	coord.EventNodeDeleted:         zkwire.EventNodeDeleted,
	coord.EventNodeDataChanged:     zkwire.EventNodeDataChanged,
	coord.EventNodeChildrenChanged: zkwire.EventNodeChildrenChanged,
}

func wireEventType(t coord.EventType) (zkwire.EventType, bool) {
	w, ok := eventTypes[t]
	return w, ok
}

// createModes are the create flags ZooKeeper knows (CreateMode.fromFlag);
// others are invalid.
var createModes = map[int32]coord.CreateMode{
	zkwire.FlagPersistent:                  coord.Persistent,
	zkwire.FlagEphemeral:                   coord.Ephemeral,
	zkwire.FlagPersistentSequential:        coord.PersistentSequential,
	zkwire.FlagEphemeralSequential:         coord.EphemeralSequential,
	zkwire.FlagContainer:                   coord.Container,
	zkwire.FlagPersistentWithTTL:           coord.PersistentTTL,
	zkwire.FlagPersistentSequentialWithTTL: coord.PersistentSequentialTTL,
}

func createMode(flags int32) (coord.CreateMode, bool) {
	m, ok := createModes[flags]
	return m, ok
}

func isTTL(m coord.CreateMode) bool {
	return m == coord.PersistentTTL || m == coord.PersistentSequentialTTL
}

// maxTTL is the longest TTL ZooKeeper accepts, in ms
// (EphemeralType.TTL's maximum).
const maxTTL = 1<<40 - 1

// watcherTypes are the watcher types of checkWatches and removeWatches.
var watcherTypes = map[int32]coord.WatcherType{
	zkwire.WatcherChildren:            coord.WatcherChildren,
	zkwire.WatcherData:                coord.WatcherData,
	zkwire.WatcherAny:                 coord.WatcherAny,
	zkwire.WatcherPersistent:          coord.WatcherPersistent,
	zkwire.WatcherPersistentRecursive: coord.WatcherPersistentRecursive,
}

// addWatchModes are addWatch's modes.
var addWatchModes = map[int32]coord.AddWatchMode{
	zkwire.AddWatchPersistent:          coord.WatchPersistent,
	zkwire.AddWatchPersistentRecursive: coord.WatchPersistentRecursive,
}

func statToWire(s coord.Stat) zkwire.Stat {
	return zkwire.Stat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: s.EphemeralOwner, DataLength: s.DataLength,
		NumChildren: s.NumChildren, Pzxid: s.Pzxid,
	}
}

// aclFromWire converts a request's ACL list. The result is never nil (an
// empty list on the wire is InvalidACL, which ServerSession keeps). The
// permission bits are ZooKeeper's on both sides.
func aclFromWire(in []zkwire.ACL) []coord.ACL {
	out := make([]coord.ACL, 0, len(in))
	for _, a := range in {
		out = append(out, coord.ACL{Perms: coord.Perm(a.Perms), Scheme: a.ID.Scheme, ID: a.ID.ID})
	}
	return out
}

func aclToWire(in []coord.ACL) []zkwire.ACL {
	out := make([]zkwire.ACL, 0, len(in))
	for _, a := range in {
		out = append(out, zkwire.ACL{Perms: int32(a.Perms), ID: zkwire.ID{Scheme: a.Scheme, ID: a.ID}})
	}
	return out
}
