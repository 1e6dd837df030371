package zkwire

import (
	"fmt"
	"strconv"
)

// Opcodes (ZooDefs.OpCode), carried in RequestHeader.Type and MultiHeader.Type.
const (
	OpNotification         int32 = 0
	OpCreate               int32 = 1
	OpDelete               int32 = 2
	OpExists               int32 = 3
	OpGetData              int32 = 4
	OpSetData              int32 = 5
	OpGetACL               int32 = 6
	OpSetACL               int32 = 7
	OpGetChildren          int32 = 8
	OpSync                 int32 = 9
	OpPing                 int32 = 11
	OpGetChildren2         int32 = 12
	OpCheck                int32 = 13
	OpMulti                int32 = 14
	OpCreate2              int32 = 15
	OpReconfig             int32 = 16
	OpCheckWatches         int32 = 17
	OpRemoveWatches        int32 = 18
	OpCreateContainer      int32 = 19
	OpDeleteContainer      int32 = 20
	OpCreateTTL            int32 = 21
	OpMultiRead            int32 = 22
	OpAuth                 int32 = 100
	OpSetWatches           int32 = 101
	OpSASL                 int32 = 102
	OpGetEphemerals        int32 = 103
	OpGetAllChildrenNumber int32 = 104
	OpSetWatches2          int32 = 105
	OpAddWatch             int32 = 106
	OpWhoAmI               int32 = 107
	OpCreateSession        int32 = -10
	OpCloseSession         int32 = -11
	OpError                int32 = -1
)

var opNames = map[int32]string{
	OpNotification: "notification", OpCreate: "create", OpDelete: "delete",
	OpExists: "exists", OpGetData: "getData", OpSetData: "setData",
	OpGetACL: "getACL", OpSetACL: "setACL", OpGetChildren: "getChildren",
	OpSync: "sync", OpPing: "ping", OpGetChildren2: "getChildren2",
	OpCheck: "check", OpMulti: "multi", OpCreate2: "create2",
	OpReconfig: "reconfig", OpCheckWatches: "checkWatches",
	OpRemoveWatches: "removeWatches", OpCreateContainer: "createContainer",
	OpDeleteContainer: "deleteContainer", OpCreateTTL: "createTTL",
	OpMultiRead: "multiRead", OpAuth: "auth", OpSetWatches: "setWatches",
	OpSASL: "sasl", OpGetEphemerals: "getEphemerals",
	OpGetAllChildrenNumber: "getAllChildrenNumber", OpSetWatches2: "setWatches2",
	OpAddWatch: "addWatch", OpWhoAmI: "whoAmI", OpCreateSession: "createSession",
	OpCloseSession: "closeSession", OpError: "error",
}

// OpName returns the ZooKeeper name of an opcode ("getData"), or "op(N)".
func OpName(op int32) string {
	if s, ok := opNames[op]; ok {
		return s
	}
	return "op(" + strconv.Itoa(int(op)) + ")"
}

// Special xids. Replies echo the request's xid; go-zookeeper/zk uses
// ordinary positive xids for auth and SetWatches, so servers must not rely
// on these values for those requests.
const (
	XidNotification int32 = -1 // watch events pushed by the server
	XidPing         int32 = -2
	XidAuth         int32 = -4
	XidSetWatches   int32 = -8
)

// ProtocolVersion is the only protocolVersion in use in ConnectRequest and
// ConnectResponse.
const ProtocolVersion int32 = 0

// PasswordLen is the length of a session password.
const PasswordLen = 16

// ErrCode is a ZooKeeper error code (KeeperException.Code) as carried in
// ReplyHeader.Err, MultiHeader.Err and ErrorResponse.Err.
type ErrCode int32

// Error codes.
const (
	CodeOK                           ErrCode = 0
	CodeSystemError                  ErrCode = -1
	CodeRuntimeInconsistency         ErrCode = -2
	CodeDataInconsistency            ErrCode = -3
	CodeConnectionLoss               ErrCode = -4
	CodeMarshallingError             ErrCode = -5
	CodeUnimplemented                ErrCode = -6
	CodeOperationTimeout             ErrCode = -7
	CodeBadArguments                 ErrCode = -8
	CodeUnknownSession               ErrCode = -12
	CodeNewConfigNoQuorum            ErrCode = -13
	CodeReconfigInProgress           ErrCode = -14
	CodeAPIError                     ErrCode = -100
	CodeNoNode                       ErrCode = -101
	CodeNoAuth                       ErrCode = -102
	CodeBadVersion                   ErrCode = -103
	CodeNoChildrenForEphemerals      ErrCode = -108
	CodeNodeExists                   ErrCode = -110
	CodeNotEmpty                     ErrCode = -111
	CodeSessionExpired               ErrCode = -112
	CodeInvalidCallback              ErrCode = -113
	CodeInvalidACL                   ErrCode = -114
	CodeAuthFailed                   ErrCode = -115
	CodeSessionMoved                 ErrCode = -118
	CodeNotReadOnly                  ErrCode = -119
	CodeEphemeralOnLocalSession      ErrCode = -120
	CodeNoWatcher                    ErrCode = -121
	CodeRequestTimeout               ErrCode = -122
	CodeReconfigDisabled             ErrCode = -123
	CodeSessionClosedRequireSASLAuth ErrCode = -124
	CodeQuotaExceeded                ErrCode = -125
	CodeThrottled                    ErrCode = -127
)

var codeNames = map[ErrCode]string{
	CodeOK: "OK", CodeSystemError: "SystemError",
	CodeRuntimeInconsistency: "RuntimeInconsistency",
	CodeDataInconsistency:    "DataInconsistency",
	CodeConnectionLoss:       "ConnectionLoss", CodeMarshallingError: "MarshallingError",
	CodeUnimplemented: "Unimplemented", CodeOperationTimeout: "OperationTimeout",
	CodeBadArguments: "BadArguments", CodeUnknownSession: "UnknownSession",
	CodeNewConfigNoQuorum: "NewConfigNoQuorum", CodeReconfigInProgress: "ReconfigInProgress",
	CodeAPIError: "APIError", CodeNoNode: "NoNode", CodeNoAuth: "NoAuth",
	CodeBadVersion: "BadVersion", CodeNoChildrenForEphemerals: "NoChildrenForEphemerals",
	CodeNodeExists: "NodeExists", CodeNotEmpty: "NotEmpty",
	CodeSessionExpired: "SessionExpired", CodeInvalidCallback: "InvalidCallback",
	CodeInvalidACL: "InvalidACL", CodeAuthFailed: "AuthFailed",
	CodeSessionMoved: "SessionMoved", CodeNotReadOnly: "NotReadOnly",
	CodeEphemeralOnLocalSession: "EphemeralOnLocalSession", CodeNoWatcher: "NoWatcher",
	CodeRequestTimeout: "RequestTimeout", CodeReconfigDisabled: "ReconfigDisabled",
	CodeSessionClosedRequireSASLAuth: "SessionClosedRequireSASLAuth",
	CodeQuotaExceeded:                "QuotaExceeded", CodeThrottled: "Throttled",
}

func (c ErrCode) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "ErrCode(" + strconv.Itoa(int(c)) + ")"
}

// EventType is Watcher.Event.EventType, carried in WatcherEvent.Type.
type EventType int32

// Event types.
const (
	EventNone                   EventType = -1
	EventNodeCreated            EventType = 1
	EventNodeDeleted            EventType = 2
	EventNodeDataChanged        EventType = 3
	EventNodeChildrenChanged    EventType = 4
	EventDataWatchRemoved       EventType = 5
	EventChildWatchRemoved      EventType = 6
	EventPersistentWatchRemoved EventType = 7
)

func (t EventType) String() string {
	switch t {
	case EventNone:
		return "None"
	case EventNodeCreated:
		return "NodeCreated"
	case EventNodeDeleted:
		return "NodeDeleted"
	case EventNodeDataChanged:
		return "NodeDataChanged"
	case EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case EventDataWatchRemoved:
		return "DataWatchRemoved"
	case EventChildWatchRemoved:
		return "ChildWatchRemoved"
	case EventPersistentWatchRemoved:
		return "PersistentWatchRemoved"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// KeeperState is Watcher.Event.KeeperState, carried in WatcherEvent.State.
type KeeperState int32

// Keeper states. Server-sent watch events always carry StateSyncConnected.
const (
	StateUnknown           KeeperState = -1 // deprecated in ZooKeeper
	StateDisconnected      KeeperState = 0
	StateNoSyncConnected   KeeperState = 1 // deprecated in ZooKeeper
	StateSyncConnected     KeeperState = 3
	StateAuthFailed        KeeperState = 4
	StateConnectedReadOnly KeeperState = 5
	StateSaslAuthenticated KeeperState = 6
	StateClosed            KeeperState = 7
	StateExpired           KeeperState = -112
)

func (s KeeperState) String() string {
	switch s {
	case StateUnknown:
		return "Unknown"
	case StateDisconnected:
		return "Disconnected"
	case StateNoSyncConnected:
		return "NoSyncConnected"
	case StateSyncConnected:
		return "SyncConnected"
	case StateAuthFailed:
		return "AuthFailed"
	case StateConnectedReadOnly:
		return "ConnectedReadOnly"
	case StateSaslAuthenticated:
		return "SaslAuthenticated"
	case StateClosed:
		return "Closed"
	case StateExpired:
		return "Expired"
	}
	return "KeeperState(" + strconv.Itoa(int(s)) + ")"
}

// Create modes (CreateRequest.Flags).
const (
	FlagPersistent                  int32 = 0
	FlagEphemeral                   int32 = 1
	FlagPersistentSequential        int32 = 2
	FlagEphemeralSequential         int32 = 3
	FlagContainer                   int32 = 4
	FlagPersistentWithTTL           int32 = 5
	FlagPersistentSequentialWithTTL int32 = 6
)

// ACL permission bits.
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)

// AddWatchRequest modes.
const (
	AddWatchPersistent          int32 = 0
	AddWatchPersistentRecursive int32 = 1
)

// Watcher types of RemoveWatchesRequest / CheckWatchesRequest.
const (
	WatcherChildren            int32 = 1
	WatcherData                int32 = 2
	WatcherAny                 int32 = 3
	WatcherPersistent          int32 = 4
	WatcherPersistentRecursive int32 = 5
)

// ---------------------------------------------------------------------------
// Shared records

// Stat is a node's metadata. Wire order is the field order.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// StatSize is the encoded size of a Stat.
const StatSize = 68

func (s *Stat) Encode(e *Encoder) {
	e.Int64(s.Czxid)
	e.Int64(s.Mzxid)
	e.Int64(s.Ctime)
	e.Int64(s.Mtime)
	e.Int32(s.Version)
	e.Int32(s.Cversion)
	e.Int32(s.Aversion)
	e.Int64(s.EphemeralOwner)
	e.Int32(s.DataLength)
	e.Int32(s.NumChildren)
	e.Int64(s.Pzxid)
}

func (s *Stat) Decode(d *Decoder) {
	s.Czxid = d.Int64()
	s.Mzxid = d.Int64()
	s.Ctime = d.Int64()
	s.Mtime = d.Int64()
	s.Version = d.Int32()
	s.Cversion = d.Int32()
	s.Aversion = d.Int32()
	s.EphemeralOwner = d.Int64()
	s.DataLength = d.Int32()
	s.NumChildren = d.Int32()
	s.Pzxid = d.Int64()
}

// ID is an authentication identity (org.apache.zookeeper.data.Id).
type ID struct {
	Scheme string
	ID     string
}

func (x *ID) Encode(e *Encoder) { e.UString(x.Scheme); e.UString(x.ID) }
func (x *ID) Decode(d *Decoder) { x.Scheme = d.UString(); x.ID = d.UString() }

// ACL is one access-control entry.
type ACL struct {
	Perms int32
	ID    ID
}

func (a *ACL) Encode(e *Encoder) { e.Int32(a.Perms); a.ID.Encode(e) }
func (a *ACL) Decode(d *Decoder) { a.Perms = d.Int32(); a.ID.Decode(d) }

// encodeACLs writes a vector<ACL>; nil is written as an empty vector.
func encodeACLs(e *Encoder, acl []ACL) {
	if !e.VectorLen(len(acl)) {
		return
	}
	for i := range acl {
		acl[i].Encode(e)
	}
}

// decodeACLs reads a vector<ACL>; null and empty vectors decode as nil.
func decodeACLs(d *Decoder) []ACL {
	n := d.VectorLen(12) // perms + two empty strings
	if n <= 0 {
		return nil
	}
	acl := make([]ACL, n)
	for i := range acl {
		acl[i].Decode(d)
		if d.err != nil {
			return nil
		}
	}
	return acl
}

// ---------------------------------------------------------------------------
// Session and headers

// ConnectRequest is the first frame a client sends (no RequestHeader).
// The trailing readOnly byte is optional: go-zookeeper/zk omits it, and
// ZooKeeper reads it only if present (and answers with its own readOnly byte
// only then). Decode sets HasReadOnly to whether the byte was present; Encode
// writes it only when HasReadOnly is true.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectRequest) Encode(e *Encoder) {
	e.Int32(r.ProtocolVersion)
	e.Int64(r.LastZxidSeen)
	e.Int32(r.TimeOut)
	e.Int64(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectRequest) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int32()
	r.LastZxidSeen = d.Int64()
	r.TimeOut = d.Int32()
	r.SessionID = d.Int64()
	r.Passwd = d.Buffer()
	r.ReadOnly, r.HasReadOnly = false, false
	if d.err == nil && d.Remaining() > 0 {
		r.ReadOnly = d.Bool()
		r.HasReadOnly = true
	}
}

// ConnectResponse answers a ConnectRequest. The readOnly byte is written only
// when HasReadOnly is set (set it iff the request had one); Decode reports
// whether it was present. A refused session is {ProtocolVersion 0, TimeOut 0,
// SessionID 0, Passwd: 16 zero bytes}.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectResponse) Encode(e *Encoder) {
	e.Int32(r.ProtocolVersion)
	e.Int32(r.TimeOut)
	e.Int64(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectResponse) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int32()
	r.TimeOut = d.Int32()
	r.SessionID = d.Int64()
	r.Passwd = d.Buffer()
	r.ReadOnly, r.HasReadOnly = false, false
	if d.err == nil && d.Remaining() > 0 {
		r.ReadOnly = d.Bool()
		r.HasReadOnly = true
	}
}

// RequestHeader precedes every request after the ConnectRequest.
type RequestHeader struct {
	Xid  int32
	Type int32
}

func (h *RequestHeader) Encode(e *Encoder) { e.Int32(h.Xid); e.Int32(h.Type) }
func (h *RequestHeader) Decode(d *Decoder) { h.Xid = d.Int32(); h.Type = d.Int32() }

// ReplyHeader precedes every reply and watch notification. The response
// body follows only when Err is CodeOK.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  ErrCode
}

func (h *ReplyHeader) Encode(e *Encoder) { e.Int32(h.Xid); e.Int64(h.Zxid); e.Int32(int32(h.Err)) }
func (h *ReplyHeader) Decode(d *Decoder) {
	h.Xid = d.Int32()
	h.Zxid = d.Int64()
	h.Err = ErrCode(d.Int32())
}

// MultiHeader precedes each op of a multi request and each result of a multi
// response; a header with Done set ends the list.
type MultiHeader struct {
	Type int32
	Done bool
	Err  ErrCode
}

func (h *MultiHeader) Encode(e *Encoder) { e.Int32(h.Type); e.Bool(h.Done); e.Int32(int32(h.Err)) }
func (h *MultiHeader) Decode(d *Decoder) {
	h.Type = d.Int32()
	h.Done = d.Bool()
	h.Err = ErrCode(d.Int32())
}

// multiEnd is the terminator written after the ops of a multi request and
// the results of a multi response (MultiOperationRecord / MultiResponse).
var multiEnd = MultiHeader{Type: -1, Done: true, Err: -1}

// ---------------------------------------------------------------------------
// Requests and responses

// CreateRequest is the body of create (1), create2 (15) and
// createContainer (19); the opcode decides the response type.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
}

func (r *CreateRequest) Encode(e *Encoder) {
	e.UString(r.Path)
	e.Buffer(r.Data)
	encodeACLs(e, r.ACL)
	e.Int32(r.Flags)
}

func (r *CreateRequest) Decode(d *Decoder) {
	r.Path = d.UString()
	r.Data = d.Buffer()
	r.ACL = decodeACLs(d)
	r.Flags = d.Int32()
}

// CreateTTLRequest is the body of createTTL (21).
type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

func (r *CreateTTLRequest) Encode(e *Encoder) {
	e.UString(r.Path)
	e.Buffer(r.Data)
	encodeACLs(e, r.ACL)
	e.Int32(r.Flags)
	e.Int64(r.TTL)
}

func (r *CreateTTLRequest) Decode(d *Decoder) {
	r.Path = d.UString()
	r.Data = d.Buffer()
	r.ACL = decodeACLs(d)
	r.Flags = d.Int32()
	r.TTL = d.Int64()
}

// CreateResponse answers create (1).
type CreateResponse struct{ Path string }

func (r *CreateResponse) Encode(e *Encoder) { e.UString(r.Path) }
func (r *CreateResponse) Decode(d *Decoder) { r.Path = d.UString() }

// Create2Response answers create2, createTTL and createContainer.
type Create2Response struct {
	Path string
	Stat Stat
}

func (r *Create2Response) Encode(e *Encoder) { e.UString(r.Path); r.Stat.Encode(e) }
func (r *Create2Response) Decode(d *Decoder) { r.Path = d.UString(); r.Stat.Decode(d) }

// DeleteRequest is the body of delete (2). Version -1 matches any version.
type DeleteRequest struct {
	Path    string
	Version int32
}

func (r *DeleteRequest) Encode(e *Encoder) { e.UString(r.Path); e.Int32(r.Version) }
func (r *DeleteRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Version = d.Int32() }

// DeleteContainerRequest is the body of deleteContainer (20), a request
// ZooKeeper generates internally (never sent by clients): the path's bytes
// with no length prefix, filling the whole body.
type DeleteContainerRequest struct{ Path string }

func (r *DeleteContainerRequest) Encode(e *Encoder) { e.buf = append(e.buf, r.Path...) }
func (r *DeleteContainerRequest) Decode(d *Decoder) {
	if d.err == nil && d.Remaining() > d.MaxLength() {
		d.Fail(fmt.Errorf("%w: deleteContainer path of %d bytes", ErrTooLarge, d.Remaining()))
	}
	r.Path = string(d.Rest())
}

// ExistsRequest is the body of exists (3).
type ExistsRequest struct {
	Path  string
	Watch bool
}

func (r *ExistsRequest) Encode(e *Encoder) { e.UString(r.Path); e.Bool(r.Watch) }
func (r *ExistsRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Watch = d.Bool() }

// ExistsResponse answers exists when the node exists (otherwise the reply
// carries CodeNoNode and no body).
type ExistsResponse struct{ Stat Stat }

func (r *ExistsResponse) Encode(e *Encoder) { r.Stat.Encode(e) }
func (r *ExistsResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// GetDataRequest is the body of getData (4).
type GetDataRequest struct {
	Path  string
	Watch bool
}

func (r *GetDataRequest) Encode(e *Encoder) { e.UString(r.Path); e.Bool(r.Watch) }
func (r *GetDataRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Watch = d.Bool() }

// GetDataResponse answers getData (and reconfig). Nil Data is sent as a null
// buffer (-1), as ZooKeeper does for nodes created with null data.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

func (r *GetDataResponse) Encode(e *Encoder) { e.Buffer(r.Data); r.Stat.Encode(e) }
func (r *GetDataResponse) Decode(d *Decoder) { r.Data = d.Buffer(); r.Stat.Decode(d) }

// SetDataRequest is the body of setData (5).
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

func (r *SetDataRequest) Encode(e *Encoder) { e.UString(r.Path); e.Buffer(r.Data); e.Int32(r.Version) }
func (r *SetDataRequest) Decode(d *Decoder) {
	r.Path = d.UString()
	r.Data = d.Buffer()
	r.Version = d.Int32()
}

// SetDataResponse answers setData.
type SetDataResponse struct{ Stat Stat }

func (r *SetDataResponse) Encode(e *Encoder) { r.Stat.Encode(e) }
func (r *SetDataResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// GetACLRequest is the body of getACL (6).
type GetACLRequest struct{ Path string }

func (r *GetACLRequest) Encode(e *Encoder) { e.UString(r.Path) }
func (r *GetACLRequest) Decode(d *Decoder) { r.Path = d.UString() }

// GetACLResponse answers getACL.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

func (r *GetACLResponse) Encode(e *Encoder) { encodeACLs(e, r.ACL); r.Stat.Encode(e) }
func (r *GetACLResponse) Decode(d *Decoder) { r.ACL = decodeACLs(d); r.Stat.Decode(d) }

// SetACLRequest is the body of setACL (7).
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (r *SetACLRequest) Encode(e *Encoder) {
	e.UString(r.Path)
	encodeACLs(e, r.ACL)
	e.Int32(r.Version)
}
func (r *SetACLRequest) Decode(d *Decoder) {
	r.Path = d.UString()
	r.ACL = decodeACLs(d)
	r.Version = d.Int32()
}

// SetACLResponse answers setACL.
type SetACLResponse struct{ Stat Stat }

func (r *SetACLResponse) Encode(e *Encoder) { r.Stat.Encode(e) }
func (r *SetACLResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// GetChildrenRequest is the body of getChildren (8).
type GetChildrenRequest struct {
	Path  string
	Watch bool
}

func (r *GetChildrenRequest) Encode(e *Encoder) { e.UString(r.Path); e.Bool(r.Watch) }
func (r *GetChildrenRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Watch = d.Bool() }

// GetChildren2Request is the body of getChildren2 (12); same layout as
// GetChildrenRequest, but answered with GetChildren2Response.
type GetChildren2Request struct {
	Path  string
	Watch bool
}

func (r *GetChildren2Request) Encode(e *Encoder) { e.UString(r.Path); e.Bool(r.Watch) }
func (r *GetChildren2Request) Decode(d *Decoder) { r.Path = d.UString(); r.Watch = d.Bool() }

// GetChildrenResponse answers getChildren.
type GetChildrenResponse struct{ Children []string }

func (r *GetChildrenResponse) Encode(e *Encoder) { e.UStrings(r.Children) }
func (r *GetChildrenResponse) Decode(d *Decoder) { r.Children = d.UStrings() }

// GetChildren2Response answers getChildren2.
type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

func (r *GetChildren2Response) Encode(e *Encoder) { e.UStrings(r.Children); r.Stat.Encode(e) }
func (r *GetChildren2Response) Decode(d *Decoder) { r.Children = d.UStrings(); r.Stat.Decode(d) }

// SyncRequest is the body of sync (9).
type SyncRequest struct{ Path string }

func (r *SyncRequest) Encode(e *Encoder) { e.UString(r.Path) }
func (r *SyncRequest) Decode(d *Decoder) { r.Path = d.UString() }

// SyncResponse answers sync with the requested path.
type SyncResponse struct{ Path string }

func (r *SyncResponse) Encode(e *Encoder) { e.UString(r.Path) }
func (r *SyncResponse) Decode(d *Decoder) { r.Path = d.UString() }

// CheckVersionRequest is the body of check (13), normally inside a multi.
type CheckVersionRequest struct {
	Path    string
	Version int32
}

func (r *CheckVersionRequest) Encode(e *Encoder) { e.UString(r.Path); e.Int32(r.Version) }
func (r *CheckVersionRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Version = d.Int32() }

// ReconfigRequest is the body of reconfig (16); it is answered with a
// GetDataResponse holding the new configuration.
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

func (r *ReconfigRequest) Encode(e *Encoder) {
	e.UString(r.JoiningServers)
	e.UString(r.LeavingServers)
	e.UString(r.NewMembers)
	e.Int64(r.CurConfigID)
}

func (r *ReconfigRequest) Decode(d *Decoder) {
	r.JoiningServers = d.UString()
	r.LeavingServers = d.UString()
	r.NewMembers = d.UString()
	r.CurConfigID = d.Int64()
}

// CheckWatchesRequest is the body of checkWatches (17); Type is one of the
// Watcher* constants.
type CheckWatchesRequest struct {
	Path string
	Type int32
}

func (r *CheckWatchesRequest) Encode(e *Encoder) { e.UString(r.Path); e.Int32(r.Type) }
func (r *CheckWatchesRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Type = d.Int32() }

// RemoveWatchesRequest is the body of removeWatches (18).
type RemoveWatchesRequest struct {
	Path string
	Type int32
}

func (r *RemoveWatchesRequest) Encode(e *Encoder) { e.UString(r.Path); e.Int32(r.Type) }
func (r *RemoveWatchesRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Type = d.Int32() }

// AuthPacket is the body of auth (100).
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

func (r *AuthPacket) Encode(e *Encoder) { e.Int32(r.Type); e.UString(r.Scheme); e.Buffer(r.Auth) }
func (r *AuthPacket) Decode(d *Decoder) {
	r.Type = d.Int32()
	r.Scheme = d.UString()
	r.Auth = d.Buffer()
}

// SetWatches is the body of setWatches (101), sent on reconnect.
type SetWatches struct {
	RelativeZxid int64
	DataWatches  []string
	ExistWatches []string
	ChildWatches []string
}

func (r *SetWatches) Encode(e *Encoder) {
	e.Int64(r.RelativeZxid)
	e.UStrings(r.DataWatches)
	e.UStrings(r.ExistWatches)
	e.UStrings(r.ChildWatches)
}

func (r *SetWatches) Decode(d *Decoder) {
	r.RelativeZxid = d.Int64()
	r.DataWatches = d.UStrings()
	r.ExistWatches = d.UStrings()
	r.ChildWatches = d.UStrings()
}

// SetWatches2 is the body of setWatches2 (105).
type SetWatches2 struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
}

func (r *SetWatches2) Encode(e *Encoder) {
	e.Int64(r.RelativeZxid)
	e.UStrings(r.DataWatches)
	e.UStrings(r.ExistWatches)
	e.UStrings(r.ChildWatches)
	e.UStrings(r.PersistentWatches)
	e.UStrings(r.PersistentRecursiveWatches)
}

func (r *SetWatches2) Decode(d *Decoder) {
	r.RelativeZxid = d.Int64()
	r.DataWatches = d.UStrings()
	r.ExistWatches = d.UStrings()
	r.ChildWatches = d.UStrings()
	r.PersistentWatches = d.UStrings()
	r.PersistentRecursiveWatches = d.UStrings()
}

// GetSASLRequest is the body of sasl (102).
type GetSASLRequest struct{ Token []byte }

func (r *GetSASLRequest) Encode(e *Encoder) { e.Buffer(r.Token) }
func (r *GetSASLRequest) Decode(d *Decoder) { r.Token = d.Buffer() }

// SetSASLResponse answers sasl.
type SetSASLResponse struct{ Token []byte }

func (r *SetSASLResponse) Encode(e *Encoder) { e.Buffer(r.Token) }
func (r *SetSASLResponse) Decode(d *Decoder) { r.Token = d.Buffer() }

// GetEphemeralsRequest is the body of getEphemerals (103).
type GetEphemeralsRequest struct{ PrefixPath string }

func (r *GetEphemeralsRequest) Encode(e *Encoder) { e.UString(r.PrefixPath) }
func (r *GetEphemeralsRequest) Decode(d *Decoder) { r.PrefixPath = d.UString() }

// GetEphemeralsResponse answers getEphemerals.
type GetEphemeralsResponse struct{ Ephemerals []string }

func (r *GetEphemeralsResponse) Encode(e *Encoder) { e.UStrings(r.Ephemerals) }
func (r *GetEphemeralsResponse) Decode(d *Decoder) { r.Ephemerals = d.UStrings() }

// GetAllChildrenNumberRequest is the body of getAllChildrenNumber (104).
type GetAllChildrenNumberRequest struct{ Path string }

func (r *GetAllChildrenNumberRequest) Encode(e *Encoder) { e.UString(r.Path) }
func (r *GetAllChildrenNumberRequest) Decode(d *Decoder) { r.Path = d.UString() }

// GetAllChildrenNumberResponse answers getAllChildrenNumber.
type GetAllChildrenNumberResponse struct{ TotalNumber int32 }

func (r *GetAllChildrenNumberResponse) Encode(e *Encoder) { e.Int32(r.TotalNumber) }
func (r *GetAllChildrenNumberResponse) Decode(d *Decoder) { r.TotalNumber = d.Int32() }

// AddWatchRequest is the body of addWatch (106); Mode is AddWatchPersistent
// or AddWatchPersistentRecursive.
type AddWatchRequest struct {
	Path string
	Mode int32
}

func (r *AddWatchRequest) Encode(e *Encoder) { e.UString(r.Path); e.Int32(r.Mode) }
func (r *AddWatchRequest) Decode(d *Decoder) { r.Path = d.UString(); r.Mode = d.Int32() }

// ClientInfo is one identity in a WhoAmIResponse.
type ClientInfo struct {
	AuthScheme string
	User       string
}

func (c *ClientInfo) Encode(e *Encoder) { e.UString(c.AuthScheme); e.UString(c.User) }
func (c *ClientInfo) Decode(d *Decoder) { c.AuthScheme = d.UString(); c.User = d.UString() }

// WhoAmIResponse answers whoAmI (107).
type WhoAmIResponse struct{ ClientInfo []ClientInfo }

func (r *WhoAmIResponse) Encode(e *Encoder) {
	if !e.VectorLen(len(r.ClientInfo)) {
		return
	}
	for i := range r.ClientInfo {
		r.ClientInfo[i].Encode(e)
	}
}

func (r *WhoAmIResponse) Decode(d *Decoder) {
	r.ClientInfo = nil
	n := d.VectorLen(8)
	if n <= 0 {
		return
	}
	ci := make([]ClientInfo, n)
	for i := range ci {
		ci[i].Decode(d)
		if d.err != nil {
			return
		}
	}
	r.ClientInfo = ci
}

// WatcherEvent is the body of a notification (xid -1).
type WatcherEvent struct {
	Type  EventType
	State KeeperState
	Path  string
}

func (w *WatcherEvent) Encode(e *Encoder) {
	e.Int32(int32(w.Type))
	e.Int32(int32(w.State))
	e.UString(w.Path)
}

func (w *WatcherEvent) Decode(d *Decoder) {
	w.Type = EventType(d.Int32())
	w.State = KeeperState(d.Int32())
	w.Path = d.UString()
}

// ErrorResponse carries an error code (used for error results in a
// MultiResponse).
type ErrorResponse struct{ Err ErrCode }

func (r *ErrorResponse) Encode(e *Encoder) { e.Int32(int32(r.Err)) }
func (r *ErrorResponse) Decode(d *Decoder) { r.Err = ErrCode(d.Int32()) }

// PingRequest is the (empty) body of ping (11).
type PingRequest struct{}

func (*PingRequest) Encode(*Encoder) {}
func (*PingRequest) Decode(*Decoder) {}

// CloseSessionRequest is the (empty) body of closeSession (-11).
type CloseSessionRequest struct{}

func (*CloseSessionRequest) Encode(*Encoder) {}
func (*CloseSessionRequest) Decode(*Decoder) {}

// WhoAmIRequest is the (empty) body of whoAmI (107).
type WhoAmIRequest struct{}

func (*WhoAmIRequest) Encode(*Encoder) {}
func (*WhoAmIRequest) Decode(*Decoder) {}

// Empty is the body of replies that carry none (delete, setWatches, auth,
// ping, closeSession, removeWatches, ...).
type Empty struct{}

func (*Empty) Encode(*Encoder) {}
func (*Empty) Decode(*Decoder) {}

// ---------------------------------------------------------------------------
// multi

// MultiOp is one operation of a multi (14) or multiRead (22) request. Req
// must match Type:
//
//	OpCreate, OpCreate2, OpCreateContainer  *CreateRequest
//	OpCreateTTL                             *CreateTTLRequest
//	OpDelete                                *DeleteRequest
//	OpSetData                               *SetDataRequest
//	OpCheck                                 *CheckVersionRequest
//	OpGetChildren                           *GetChildrenRequest (multiRead)
//	OpGetData                               *GetDataRequest     (multiRead)
//
// (ZooKeeper itself turns a create2 op into create, container or TTL by its
// flags when it deserializes a multi, so a create2 op is answered with a
// plain create result there.)
type MultiOp struct {
	Type int32
	Req  Record
}

// MultiRequest is the body of multi (14) and multiRead (22): each op is
// preceded by MultiHeader{Type, false, -1} and the list ends with
// MultiHeader{-1, true, -1}. Decoding stops at the first header with Done
// set, whatever its type and err, as ZooKeeper does. As in ZooKeeper, read
// ops (getData/getChildren) and write ops cannot be mixed in one request.
type MultiRequest struct{ Ops []MultiOp }

// isReadOp reports whether an op type is one of the multiRead ops.
func isReadOp(t int32) bool { return t == OpGetData || t == OpGetChildren }

func newMultiOpRecord(t int32) Record {
	switch t {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete:
		return &DeleteRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpCheck:
		return &CheckVersionRequest{}
	case OpGetChildren:
		return &GetChildrenRequest{}
	case OpGetData:
		return &GetDataRequest{}
	}
	return nil
}

func multiOpMatches(t int32, r Record) bool {
	switch r.(type) {
	case *CreateRequest:
		return t == OpCreate || t == OpCreate2 || t == OpCreateContainer
	case *CreateTTLRequest:
		return t == OpCreateTTL
	case *DeleteRequest:
		return t == OpDelete
	case *SetDataRequest:
		return t == OpSetData
	case *CheckVersionRequest:
		return t == OpCheck
	case *GetChildrenRequest:
		return t == OpGetChildren
	case *GetDataRequest:
		return t == OpGetData
	}
	return false
}

func (m *MultiRequest) Encode(e *Encoder) {
	for _, op := range m.Ops {
		if op.Req == nil || !multiOpMatches(op.Type, op.Req) {
			e.Fail(fmt.Errorf("%w: %s op with record %T", ErrInvalidMulti, OpName(op.Type), op.Req))
			return
		}
		h := MultiHeader{Type: op.Type, Done: false, Err: -1}
		h.Encode(e)
		op.Req.Encode(e)
	}
	end := multiEnd
	end.Encode(e)
}

func (m *MultiRequest) Decode(d *Decoder) {
	m.Ops = nil
	var h MultiHeader
	for {
		start := d.Offset()
		h.Decode(d)
		if d.err != nil || h.Done {
			return
		}
		rec := newMultiOpRecord(h.Type)
		if rec == nil {
			d.Fail(fmt.Errorf("%w: op type %d at offset %d", ErrInvalidMulti, h.Type, start))
			return
		}
		if len(m.Ops) > 0 && isReadOp(h.Type) != isReadOp(m.Ops[0].Type) {
			d.Fail(fmt.Errorf("%w: mixed read and write ops at offset %d", ErrInvalidMulti, start))
			return
		}
		rec.Decode(d)
		if d.err != nil {
			return
		}
		m.Ops = append(m.Ops, MultiOp{Type: h.Type, Req: rec})
	}
}

// MultiResult is one result of a MultiResponse. Type selects the fields in
// use and the body written after the result's MultiHeader:
//
//	OpCreate                 Path                 (CreateResponse)
//	OpCreate2                Path, Stat           (Create2Response)
//	OpDelete, OpCheck        -                    (no body)
//	OpSetData                Stat                 (SetDataResponse)
//	OpGetChildren            Children             (GetChildrenResponse)
//	OpGetData                Data, Stat           (GetDataResponse)
//	OpError                  Err                  (ErrorResponse)
//
// OpCreateTTL and OpCreateContainer results are encoded as OpCreate2, which
// is what ZooKeeper sends for them (its CreateResult with a stat has type
// create2).
type MultiResult struct {
	Type     int32
	Err      ErrCode
	Path     string
	Stat     Stat
	Data     []byte
	Children []string
}

// ErrorResult returns an error result with the given code. In a failed
// multi, ZooKeeper reports every op as an error result: CodeOK before the
// failing op, its code for that op, CodeRuntimeInconsistency after it.
func ErrorResult(code ErrCode) MultiResult { return MultiResult{Type: OpError, Err: code} }

// MultiResponse answers multi and multiRead. Each result is preceded by
// MultiHeader{Type, false, err} where err is the result's code for error
// results and 0 otherwise (so an error result is header {-1, false, code}
// followed by ErrorResponse{code}); the list ends with {-1, true, -1}. On
// decode, the code of an error result is taken from its ErrorResponse body
// (the header's err is ignored, as ZooKeeper's client does).
type MultiResponse struct{ Results []MultiResult }

func (m *MultiResponse) Encode(e *Encoder) {
	for i := range m.Results {
		r := &m.Results[i]
		t := r.Type
		if t == OpCreateTTL || t == OpCreateContainer {
			t = OpCreate2
		}
		h := MultiHeader{Type: t}
		if t == OpError {
			h.Err = r.Err
		}
		switch t {
		case OpCreate, OpCreate2, OpDelete, OpCheck, OpSetData, OpGetChildren, OpGetData, OpError:
		default:
			e.Fail(fmt.Errorf("%w: result type %s", ErrInvalidMulti, OpName(r.Type)))
			return
		}
		h.Encode(e)
		switch t {
		case OpCreate:
			e.UString(r.Path)
		case OpCreate2:
			e.UString(r.Path)
			r.Stat.Encode(e)
		case OpSetData:
			r.Stat.Encode(e)
		case OpGetChildren:
			e.UStrings(r.Children)
		case OpGetData:
			e.Buffer(r.Data)
			r.Stat.Encode(e)
		case OpError:
			e.Int32(int32(r.Err))
		}
	}
	end := multiEnd
	end.Encode(e)
}

func (m *MultiResponse) Decode(d *Decoder) {
	m.Results = nil
	var h MultiHeader
	for {
		start := d.Offset()
		h.Decode(d)
		if d.err != nil || h.Done {
			return
		}
		r := MultiResult{Type: h.Type}
		switch h.Type {
		case OpCreate:
			r.Path = d.UString()
		case OpCreate2:
			r.Path = d.UString()
			r.Stat.Decode(d)
		case OpDelete, OpCheck:
		case OpSetData:
			r.Stat.Decode(d)
		case OpGetChildren:
			r.Children = d.UStrings()
		case OpGetData:
			r.Data = d.Buffer()
			r.Stat.Decode(d)
		case OpError:
			r.Err = ErrCode(d.Int32())
		default:
			d.Fail(fmt.Errorf("%w: result type %d at offset %d", ErrInvalidMulti, h.Type, start))
			return
		}
		if d.err != nil {
			return
		}
		m.Results = append(m.Results, r)
	}
}

// ---------------------------------------------------------------------------
// Dispatch

// Request is a decoded request body; see DecodeRequest for the concrete
// types.
type Request interface{ Record }

// NewRequest returns a zero request record for opcode op, or nil if op has
// no request layout. Several opcodes share a record type (create, create2
// and createContainer all use *CreateRequest); callers must keep the opcode.
//
//	create, create2, createContainer  *CreateRequest
//	createTTL                         *CreateTTLRequest
//	delete                            *DeleteRequest
//	deleteContainer                   *DeleteContainerRequest
//	exists                            *ExistsRequest
//	getData                           *GetDataRequest
//	setData                           *SetDataRequest
//	getACL / setACL                   *GetACLRequest / *SetACLRequest
//	getChildren / getChildren2        *GetChildrenRequest / *GetChildren2Request
//	sync                              *SyncRequest
//	ping                              *PingRequest
//	check                             *CheckVersionRequest
//	multi, multiRead                  *MultiRequest
//	reconfig                          *ReconfigRequest
//	checkWatches / removeWatches      *CheckWatchesRequest / *RemoveWatchesRequest
//	auth                              *AuthPacket
//	setWatches / setWatches2          *SetWatches / *SetWatches2
//	sasl                              *GetSASLRequest
//	getEphemerals                     *GetEphemeralsRequest
//	getAllChildrenNumber              *GetAllChildrenNumberRequest
//	addWatch                          *AddWatchRequest
//	whoAmI                            *WhoAmIRequest
//	createSession                     *ConnectRequest (sent without a RequestHeader)
//	closeSession                      *CloseSessionRequest
func NewRequest(op int32) Request {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete:
		return &DeleteRequest{}
	case OpDeleteContainer:
		return &DeleteContainerRequest{}
	case OpExists:
		return &ExistsRequest{}
	case OpGetData:
		return &GetDataRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpGetACL:
		return &GetACLRequest{}
	case OpSetACL:
		return &SetACLRequest{}
	case OpGetChildren:
		return &GetChildrenRequest{}
	case OpGetChildren2:
		return &GetChildren2Request{}
	case OpSync:
		return &SyncRequest{}
	case OpPing:
		return &PingRequest{}
	case OpCheck:
		return &CheckVersionRequest{}
	case OpMulti, OpMultiRead:
		return &MultiRequest{}
	case OpReconfig:
		return &ReconfigRequest{}
	case OpCheckWatches:
		return &CheckWatchesRequest{}
	case OpRemoveWatches:
		return &RemoveWatchesRequest{}
	case OpAuth:
		return &AuthPacket{}
	case OpSetWatches:
		return &SetWatches{}
	case OpSASL:
		return &GetSASLRequest{}
	case OpGetEphemerals:
		return &GetEphemeralsRequest{}
	case OpGetAllChildrenNumber:
		return &GetAllChildrenNumberRequest{}
	case OpSetWatches2:
		return &SetWatches2{}
	case OpAddWatch:
		return &AddWatchRequest{}
	case OpWhoAmI:
		return &WhoAmIRequest{}
	case OpCreateSession:
		return &ConnectRequest{}
	case OpCloseSession:
		return &CloseSessionRequest{}
	}
	return nil
}

// DecodeRequest decodes the body of a request with opcode op (the bytes
// after the RequestHeader) into the record NewRequest(op) returns. Unknown
// opcodes yield an error wrapping ErrUnknownOpcode. Bytes after the record
// are ignored, as ZooKeeper does (this is also how the optional readOnly
// byte of a ConnectRequest is detected: it is the only optional tail).
func DecodeRequest(op int32, body []byte) (Request, error) {
	r := NewRequest(op)
	if r == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOpcode, op)
	}
	d := Decoder{buf: body, max: DefaultMaxBuffer}
	r.Decode(&d)
	if d.err != nil {
		return nil, fmt.Errorf("zkwire: decoding %s request: %w", OpName(op), d.err)
	}
	return r, nil
}

// ParseRequest decodes a request frame body (as returned by ReadFrame):
// a RequestHeader followed by the body for its opcode. Do not use it for the
// session's first frame, which is a bare ConnectRequest.
func ParseRequest(frame []byte) (RequestHeader, Request, error) {
	var h RequestHeader
	d := Decoder{buf: frame, max: DefaultMaxBuffer}
	h.Decode(&d)
	if d.err != nil {
		return h, nil, fmt.Errorf("zkwire: decoding request header: %w", d.err)
	}
	r, err := DecodeRequest(h.Type, frame[d.off:])
	return h, r, err
}

// NewResponse returns a zero response record for opcode op, or nil if op
// is unknown. Opcodes whose successful reply has no body get *Empty.
//
//	create                                   *CreateResponse
//	create2, createTTL, createContainer      *Create2Response
//	exists                                   *ExistsResponse
//	getData, reconfig                        *GetDataResponse
//	setData, check                           *SetDataResponse
//	getACL / setACL                          *GetACLResponse / *SetACLResponse
//	getChildren / getChildren2               *GetChildrenResponse / *GetChildren2Response
//	sync                                     *SyncResponse
//	multi, multiRead                         *MultiResponse
//	sasl                                     *SetSASLResponse
//	getEphemerals                            *GetEphemeralsResponse
//	getAllChildrenNumber                     *GetAllChildrenNumberResponse
//	whoAmI                                   *WhoAmIResponse
//	createSession                            *ConnectResponse
//	delete, deleteContainer, ping, checkWatches, removeWatches, auth,
//	setWatches, setWatches2, addWatch, closeSession   *Empty
func NewResponse(op int32) Record {
	switch op {
	case OpCreate:
		return &CreateResponse{}
	case OpCreate2, OpCreateTTL, OpCreateContainer:
		return &Create2Response{}
	case OpExists:
		return &ExistsResponse{}
	case OpGetData, OpReconfig:
		return &GetDataResponse{}
	case OpSetData, OpCheck:
		return &SetDataResponse{}
	case OpGetACL:
		return &GetACLResponse{}
	case OpSetACL:
		return &SetACLResponse{}
	case OpGetChildren:
		return &GetChildrenResponse{}
	case OpGetChildren2:
		return &GetChildren2Response{}
	case OpSync:
		return &SyncResponse{}
	case OpMulti, OpMultiRead:
		return &MultiResponse{}
	case OpSASL:
		return &SetSASLResponse{}
	case OpGetEphemerals:
		return &GetEphemeralsResponse{}
	case OpGetAllChildrenNumber:
		return &GetAllChildrenNumberResponse{}
	case OpWhoAmI:
		return &WhoAmIResponse{}
	case OpCreateSession:
		return &ConnectResponse{}
	case OpDelete, OpDeleteContainer, OpPing, OpCheckWatches, OpRemoveWatches,
		OpAuth, OpSetWatches, OpSetWatches2, OpAddWatch, OpCloseSession:
		return &Empty{}
	}
	return nil
}

// DecodeResponse decodes the body of a successful (err 0) reply to a request
// with opcode op into the record NewResponse(op) returns.
func DecodeResponse(op int32, body []byte) (Record, error) {
	r := NewResponse(op)
	if r == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOpcode, op)
	}
	d := Decoder{buf: body, max: DefaultMaxBuffer}
	r.Decode(&d)
	if d.err != nil {
		return nil, fmt.Errorf("zkwire: decoding %s response: %w", OpName(op), d.err)
	}
	return r, nil
}
