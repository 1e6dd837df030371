package zkwire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

var (
	sampleStat = Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6,
		Aversion: 7, EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}
	sampleStat2 = Stat{Czxid: 0x100000001, Mzxid: -1, Ctime: 1700000000000, Mtime: 1700000000001,
		Version: -1, Cversion: 2, Aversion: 1, EphemeralOwner: 0x0123456789abcdef,
		DataLength: 1 << 20, NumChildren: 1, Pzxid: 0x7fffffffffffffff}
	sampleACL = []ACL{
		{Perms: PermAll, ID: ID{Scheme: "world", ID: "anyone"}},
		{Perms: PermRead | PermWrite, ID: ID{Scheme: "digest", ID: "user:tz6cgS3h4hUuVnVdW1m4QKhLSUA="}},
		{Perms: PermCreate | PermDelete | PermAdmin, ID: ID{Scheme: "ip", ID: "10.0.0.0/8"}},
	}
	samplePasswd = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
)

type opRecord struct {
	name string
	op   int32
	rec  Record
}

// sampleRequests has at least one request for every opcode NewRequest knows.
func sampleRequests() []opRecord {
	return []opRecord{
		{"create", OpCreate, &CreateRequest{Path: "/a", Data: []byte("data"), ACL: sampleACL, Flags: FlagEphemeralSequential}},
		{"create nil data", OpCreate, &CreateRequest{Path: "/a", ACL: sampleACL[:1]}},
		{"create2", OpCreate2, &CreateRequest{Path: "/b/c", Data: []byte{}, ACL: sampleACL, Flags: FlagPersistent}},
		{"createContainer", OpCreateContainer, &CreateRequest{Path: "/c", Data: []byte{0, 0xff}, ACL: sampleACL, Flags: FlagContainer}},
		{"createTTL", OpCreateTTL, &CreateTTLRequest{Path: "/t", Data: []byte("x"), ACL: sampleACL, Flags: FlagPersistentWithTTL, TTL: 60000}},
		{"delete", OpDelete, &DeleteRequest{Path: "/a", Version: -1}},
		{"deleteContainer", OpDeleteContainer, &DeleteContainerRequest{Path: "/c"}},
		{"exists", OpExists, &ExistsRequest{Path: "/a", Watch: true}},
		{"getData", OpGetData, &GetDataRequest{Path: "/a/b", Watch: false}},
		{"setData", OpSetData, &SetDataRequest{Path: "/a", Data: []byte("v2"), Version: 3}},
		{"setData nil", OpSetData, &SetDataRequest{Path: "/a", Version: -1}},
		{"getACL", OpGetACL, &GetACLRequest{Path: "/a"}},
		{"setACL", OpSetACL, &SetACLRequest{Path: "/a", ACL: sampleACL, Version: 0}},
		{"getChildren", OpGetChildren, &GetChildrenRequest{Path: "/", Watch: true}},
		{"getChildren2", OpGetChildren2, &GetChildren2Request{Path: "/zookeeper", Watch: true}},
		{"sync", OpSync, &SyncRequest{Path: "/a"}},
		{"ping", OpPing, &PingRequest{}},
		{"check", OpCheck, &CheckVersionRequest{Path: "/a", Version: 7}},
		{"multi", OpMulti, &MultiRequest{Ops: []MultiOp{
			{OpCreate, &CreateRequest{Path: "/m", Data: []byte("1"), ACL: sampleACL[:1], Flags: FlagPersistentSequential}},
			{OpCreate2, &CreateRequest{Path: "/m2", ACL: sampleACL[:1]}},
			{OpCreateTTL, &CreateTTLRequest{Path: "/m3", ACL: sampleACL[:1], Flags: FlagPersistentSequentialWithTTL, TTL: 5}},
			{OpCreateContainer, &CreateRequest{Path: "/m4", Data: []byte{}, ACL: sampleACL[:1], Flags: FlagContainer}},
			{OpDelete, &DeleteRequest{Path: "/x", Version: 2}},
			{OpSetData, &SetDataRequest{Path: "/y", Data: []byte("z"), Version: -1}},
			{OpCheck, &CheckVersionRequest{Path: "/z", Version: 0}},
		}}},
		{"multi empty", OpMulti, &MultiRequest{}},
		{"multiRead", OpMultiRead, &MultiRequest{Ops: []MultiOp{
			{OpGetChildren, &GetChildrenRequest{Path: "/"}},
			{OpGetData, &GetDataRequest{Path: "/a", Watch: true}},
		}}},
		{"reconfig", OpReconfig, &ReconfigRequest{JoiningServers: "server.4=h4:2888:3888;2181", LeavingServers: "3", CurConfigID: 0x100000000}},
		{"checkWatches", OpCheckWatches, &CheckWatchesRequest{Path: "/a", Type: WatcherData}},
		{"removeWatches", OpRemoveWatches, &RemoveWatchesRequest{Path: "/a", Type: WatcherAny}},
		{"auth", OpAuth, &AuthPacket{Type: 0, Scheme: "digest", Auth: []byte("user:pass")}},
		{"setWatches", OpSetWatches, &SetWatches{RelativeZxid: 0x20, DataWatches: []string{"/a"}, ChildWatches: []string{"/b", "/c"}}},
		{"sasl", OpSASL, &GetSASLRequest{Token: []byte{1, 2, 3}}},
		{"getEphemerals", OpGetEphemerals, &GetEphemeralsRequest{PrefixPath: "/app"}},
		{"getAllChildrenNumber", OpGetAllChildrenNumber, &GetAllChildrenNumberRequest{Path: "/"}},
		{"setWatches2", OpSetWatches2, &SetWatches2{RelativeZxid: -1, DataWatches: []string{"/d"}, ExistWatches: []string{"/e"},
			ChildWatches: []string{"/c"}, PersistentWatches: []string{"/p"}, PersistentRecursiveWatches: []string{"/r", "/r2"}}},
		{"addWatch", OpAddWatch, &AddWatchRequest{Path: "/w", Mode: AddWatchPersistentRecursive}},
		{"whoAmI", OpWhoAmI, &WhoAmIRequest{}},
		{"connect", OpCreateSession, &ConnectRequest{LastZxidSeen: 9, TimeOut: 30000, SessionID: 0x1234, Passwd: samplePasswd}},
		{"connect readOnly", OpCreateSession, &ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true}},
		{"connect readOnly false", OpCreateSession, &ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true}},
		{"closeSession", OpCloseSession, &CloseSessionRequest{}},
	}
}

// sampleResponses has at least one response for every opcode NewResponse
// knows.
func sampleResponses() []opRecord {
	return []opRecord{
		{"create", OpCreate, &CreateResponse{Path: "/a0000000001"}},
		{"create2", OpCreate2, &Create2Response{Path: "/b", Stat: sampleStat}},
		{"createTTL", OpCreateTTL, &Create2Response{Path: "/t", Stat: sampleStat2}},
		{"createContainer", OpCreateContainer, &Create2Response{Path: "/c", Stat: sampleStat}},
		{"delete", OpDelete, &Empty{}},
		{"deleteContainer", OpDeleteContainer, &Empty{}},
		{"exists", OpExists, &ExistsResponse{Stat: sampleStat}},
		{"getData", OpGetData, &GetDataResponse{Data: []byte("hello"), Stat: sampleStat}},
		{"getData null", OpGetData, &GetDataResponse{Stat: sampleStat2}},
		{"getData empty", OpGetData, &GetDataResponse{Data: []byte{}, Stat: sampleStat}},
		{"reconfig", OpReconfig, &GetDataResponse{Data: []byte("server.1=h1:2888:3888:participant;0.0.0.0:2181\nversion=100000000"), Stat: sampleStat}},
		{"setData", OpSetData, &SetDataResponse{Stat: sampleStat}},
		{"check", OpCheck, &SetDataResponse{Stat: sampleStat2}},
		{"getACL", OpGetACL, &GetACLResponse{ACL: sampleACL, Stat: sampleStat}},
		{"setACL", OpSetACL, &SetACLResponse{Stat: sampleStat}},
		{"getChildren", OpGetChildren, &GetChildrenResponse{Children: []string{"a", "b", "zookeeper"}}},
		{"getChildren none", OpGetChildren, &GetChildrenResponse{}},
		{"getChildren2", OpGetChildren2, &GetChildren2Response{Children: []string{"quota", "config"}, Stat: sampleStat}},
		{"sync", OpSync, &SyncResponse{Path: "/a"}},
		{"ping", OpPing, &Empty{}},
		{"multi", OpMulti, &MultiResponse{Results: []MultiResult{
			{Type: OpCreate, Path: "/m0000000000"},
			{Type: OpCreate2, Path: "/m2", Stat: sampleStat},
			{Type: OpDelete},
			{Type: OpSetData, Stat: sampleStat2},
			{Type: OpCheck},
		}}},
		{"multi failed", OpMulti, &MultiResponse{Results: []MultiResult{
			ErrorResult(CodeOK), ErrorResult(CodeNoNode), ErrorResult(CodeRuntimeInconsistency),
		}}},
		{"multi empty", OpMulti, &MultiResponse{}},
		{"multiRead", OpMultiRead, &MultiResponse{Results: []MultiResult{
			{Type: OpGetChildren, Children: []string{"x", "y"}},
			{Type: OpGetData, Data: []byte("d"), Stat: sampleStat},
			{Type: OpGetData, Stat: sampleStat},
			ErrorResult(CodeNoAuth),
		}}},
		{"checkWatches", OpCheckWatches, &Empty{}},
		{"removeWatches", OpRemoveWatches, &Empty{}},
		{"auth", OpAuth, &Empty{}},
		{"setWatches", OpSetWatches, &Empty{}},
		{"sasl", OpSASL, &SetSASLResponse{Token: []byte("tok")}},
		{"getEphemerals", OpGetEphemerals, &GetEphemeralsResponse{Ephemerals: []string{"/app/e1", "/app/x/e2"}}},
		{"getAllChildrenNumber", OpGetAllChildrenNumber, &GetAllChildrenNumberResponse{TotalNumber: 42}},
		{"setWatches2", OpSetWatches2, &Empty{}},
		{"addWatch", OpAddWatch, &Empty{}},
		{"whoAmI", OpWhoAmI, &WhoAmIResponse{ClientInfo: []ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "bob"}}}},
		{"connect", OpCreateSession, &ConnectResponse{TimeOut: 30000, SessionID: 0x100000abc, Passwd: samplePasswd}},
		{"connect readOnly", OpCreateSession, &ConnectResponse{TimeOut: 30000, SessionID: 1, Passwd: samplePasswd, ReadOnly: true, HasReadOnly: true}},
		{"connect refused", OpCreateSession, &ConnectResponse{Passwd: make([]byte, 16), HasReadOnly: true}},
		{"closeSession", OpCloseSession, &Empty{}},
	}
}

// sampleOthers are records used outside the opcode dispatch.
func sampleOthers() []opRecord {
	return []opRecord{
		{"stat", 0, &sampleStat},
		{"id", 0, &ID{Scheme: "world", ID: "anyone"}},
		{"acl", 0, &sampleACL[1]},
		{"request header", 0, &RequestHeader{Xid: -8, Type: OpSetWatches}},
		{"reply header", 0, &ReplyHeader{Xid: 12, Zxid: 0x500000003, Err: CodeNodeExists}},
		{"multi header", 0, &MultiHeader{Type: OpError, Done: false, Err: CodeBadVersion}},
		{"watcher event", 0, &WatcherEvent{Type: EventNodeChildrenChanged, State: StateSyncConnected, Path: "/a"}},
		{"watcher event none", 0, &WatcherEvent{Type: EventNone, State: StateExpired}},
		{"error response", 0, &ErrorResponse{Err: CodeNoNode}},
		{"client info", 0, &ClientInfo{AuthScheme: "sasl", User: "zk/host@REALM"}},
	}
}

func newLike(r Record) Record { return reflect.New(reflect.TypeOf(r).Elem()).Interface().(Record) }

func marshal(t testing.TB, r Record) []byte {
	t.Helper()
	b, err := Marshal(nil, r)
	if err != nil {
		t.Fatalf("Marshal(%T): %v", r, err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	var all []opRecord
	all = append(all, sampleRequests()...)
	all = append(all, sampleResponses()...)
	all = append(all, sampleOthers()...)
	for _, c := range all {
		t.Run(reflect.TypeOf(c.rec).Elem().Name()+"/"+c.name, func(t *testing.T) {
			b := marshal(t, c.rec)
			got := newLike(c.rec)
			d := NewDecoder(b)
			got.Decode(d)
			if d.Err() != nil {
				t.Fatalf("decode: %v\n% x", d.Err(), b)
			}
			if d.Remaining() != 0 {
				t.Fatalf("%d bytes left over", d.Remaining())
			}
			if !reflect.DeepEqual(got, c.rec) {
				t.Fatalf("round trip mismatch\n got  %+v\n want %+v", got, c.rec)
			}
			if again := marshal(t, got); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs\n% x\n% x", again, b)
			}
		})
	}
}

func TestDecodeRequestEveryOpcode(t *testing.T) {
	covered := map[int32]bool{}
	for _, c := range sampleRequests() {
		got, err := DecodeRequest(c.op, marshal(t, c.rec))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.rec) {
			t.Errorf("%s: got %+v want %+v", c.name, got, c.rec)
		}
		covered[c.op] = true
	}
	for op := range opNames {
		switch op {
		case OpNotification, OpError:
			if NewRequest(op) != nil {
				t.Errorf("%s has a request record", OpName(op))
			}
			continue
		}
		if NewRequest(op) == nil {
			t.Errorf("NewRequest(%s) = nil", OpName(op))
		}
		if !covered[op] {
			t.Errorf("no sample request for %s", OpName(op))
		}
	}
	for _, op := range []int32{OpNotification, OpError, 10, 23, 99, 108, -12, 1 << 30, -1 << 31} {
		if _, err := DecodeRequest(op, nil); !errors.Is(err, ErrUnknownOpcode) {
			t.Errorf("DecodeRequest(%d): err = %v, want ErrUnknownOpcode", op, err)
		}
	}
}

func TestDecodeResponseEveryOpcode(t *testing.T) {
	covered := map[int32]bool{}
	for _, c := range sampleResponses() {
		got, err := DecodeResponse(c.op, marshal(t, c.rec))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.rec) {
			t.Errorf("%s: got %+v want %+v", c.name, got, c.rec)
		}
		covered[c.op] = true
	}
	for op := range opNames {
		if op == OpNotification || op == OpError {
			continue
		}
		if !covered[op] {
			t.Errorf("no sample response for %s", OpName(op))
		}
	}
	if _, err := DecodeResponse(OpError, nil); !errors.Is(err, ErrUnknownOpcode) {
		t.Errorf("DecodeResponse(error): %v", err)
	}
}

// golden is a hand-computed encoding.
type golden struct {
	name   string
	hex    string
	rec    Record // the value hex encodes
	op     int32  // request opcode for DecodeRequest; 0 = decode rec's type directly
	minLen int    // shortest valid prefix (for records with an optional tail); 0 = len
}

var passwd16 = "00000010 0102030405060708090a0b0c0d0e0f10"

var goldens = []golden{
	{
		name: "ConnectRequest without readOnly (go-zookeeper style)",
		hex: `00000000 0000000000000010 00007530 0000000000000000
		      00000010 00000000000000000000000000000000`,
		rec: &ConnectRequest{LastZxidSeen: 0x10, TimeOut: 30000, Passwd: make([]byte, 16)},
		op:  OpCreateSession,
	},
	{
		name: "ConnectRequest with readOnly",
		hex:  `00000000 0000000500000007 00001388 0000000100000002 ` + passwd16 + ` 01`,
		rec: &ConnectRequest{LastZxidSeen: 0x500000007, TimeOut: 5000, SessionID: 0x100000002,
			Passwd: samplePasswd, ReadOnly: true, HasReadOnly: true},
		op:     OpCreateSession,
		minLen: 44,
	},
	{
		name:   "ConnectResponse with readOnly false",
		hex:    `00000000 00002710 0123456789abcdef ` + passwd16 + ` 00`,
		rec:    &ConnectResponse{TimeOut: 10000, SessionID: 0x0123456789abcdef, Passwd: samplePasswd, HasReadOnly: true},
		minLen: 36,
	},
	{
		name: "ReplyHeader NoNode",
		hex:  `00000005 0000000000001234 ffffff9b`,
		rec:  &ReplyHeader{Xid: 5, Zxid: 0x1234, Err: CodeNoNode},
	},
	{
		name: "ping RequestHeader",
		hex:  `fffffffe 0000000b`,
		rec:  &RequestHeader{Xid: XidPing, Type: OpPing},
	},
	{
		name: "WatcherEvent NodeCreated",
		hex:  `00000001 00000003 00000002 2f61`,
		rec:  &WatcherEvent{Type: EventNodeCreated, State: StateSyncConnected, Path: "/a"},
	},
	{
		name: "GetDataResponse null data",
		hex: `ffffffff
		      0000000000000001 0000000000000002 0000000000000003 0000000000000004
		      00000005 00000006 00000007 0000000000000008 00000009 0000000a 000000000000000b`,
		rec: &GetDataResponse{Stat: sampleStat},
	},
	{
		name: "CreateRequest",
		hex: `00000004 2f666f6f 00000003 626172
		      00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65
		      00000001`,
		rec: &CreateRequest{Path: "/foo", Data: []byte("bar"), ACL: sampleACL[:1], Flags: FlagEphemeral},
		op:  OpCreate,
	},
	{
		name: "SetWatches",
		hex: `0000000000000020 00000001 00000002 2f61 00000000
		      00000002 00000002 2f62 00000002 2f63`,
		rec: &SetWatches{RelativeZxid: 0x20, DataWatches: []string{"/a"}, ChildWatches: []string{"/b", "/c"}},
		op:  OpSetWatches,
	},
	{
		name: "multi create+delete+check",
		hex: `00000001 00 ffffffff
		        00000002 2f61 00000001 78
		        00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000000
		      00000002 00 ffffffff
		        00000002 2f61 ffffffff
		      0000000d 00 ffffffff
		        00000002 2f62 00000003
		      ffffffff 01 ffffffff`,
		rec: &MultiRequest{Ops: []MultiOp{
			{OpCreate, &CreateRequest{Path: "/a", Data: []byte("x"), ACL: sampleACL[:1], Flags: FlagPersistent}},
			{OpDelete, &DeleteRequest{Path: "/a", Version: -1}},
			{OpCheck, &CheckVersionRequest{Path: "/b", Version: 3}},
		}},
		op: OpMulti,
	},
	{
		name: "multi response ok",
		hex: `00000001 00 00000000 00000002 2f61
		      00000002 00 00000000
		      0000000d 00 00000000
		      ffffffff 01 ffffffff`,
		rec: &MultiResponse{Results: []MultiResult{{Type: OpCreate, Path: "/a"}, {Type: OpDelete}, {Type: OpCheck}}},
	},
	{
		name: "multi response failed",
		hex: `ffffffff 00 00000000 00000000
		      ffffffff 00 ffffff9b ffffff9b
		      ffffffff 00 fffffffe fffffffe
		      ffffffff 01 ffffffff`,
		rec: &MultiResponse{Results: []MultiResult{
			ErrorResult(CodeOK), ErrorResult(CodeNoNode), ErrorResult(CodeRuntimeInconsistency)}},
	},
}

func decodeGolden(g golden, b []byte) (Record, error) {
	if g.op != 0 {
		return DecodeRequest(g.op, b)
	}
	r := newLike(g.rec)
	return r, Unmarshal(b, r)
}

func TestGoldens(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			want := mustHex(t, g.hex)
			if got := marshal(t, g.rec); !bytes.Equal(got, want) {
				t.Fatalf("encode\n got  % x\n want % x", got, want)
			}
			got, err := decodeGolden(g, want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, g.rec) {
				t.Fatalf("decode\n got  %+v\n want %+v", got, g.rec)
			}
		})
	}
}

func TestGoldenTruncations(t *testing.T) {
	for _, g := range goldens {
		full := mustHex(t, g.hex)
		minLen := g.minLen
		if minLen == 0 {
			minLen = len(full)
		}
		for n := 0; n < len(full); n++ {
			// Copy so that reads past the prefix would be caught by -race/asan
			// style tools as well as by the length.
			prefix := append([]byte(nil), full[:n]...)
			_, err := decodeGolden(g, prefix)
			if n < minLen && err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded without error", g.name, n, len(full))
			}
			if n >= minLen && err != nil {
				t.Errorf("%s: valid prefix of %d bytes: %v", g.name, n, err)
			}
			if n < minLen && g.op != 0 && !errors.Is(err, ErrShortBuffer) {
				t.Errorf("%s: prefix %d: err = %v, want ErrShortBuffer", g.name, n, err)
			}
		}
	}
}

func TestConnectRequestOptionalReadOnly(t *testing.T) {
	full := mustHex(t, goldens[1].hex)
	r, err := DecodeRequest(OpCreateSession, full[:44])
	if err != nil {
		t.Fatal(err)
	}
	cr := r.(*ConnectRequest)
	if cr.HasReadOnly || cr.ReadOnly {
		t.Fatalf("readOnly reported without the byte: %+v", cr)
	}
	// Decoding into a reused record clears a previous readOnly.
	d := NewDecoder(full)
	cr.Decode(d)
	if !cr.HasReadOnly || !cr.ReadOnly {
		t.Fatalf("readOnly byte not reported: %+v", cr)
	}
	d = NewDecoder(full[:44])
	cr.Decode(d)
	if cr.HasReadOnly || cr.ReadOnly || d.Err() != nil {
		t.Fatalf("stale readOnly: %+v %v", cr, d.Err())
	}
	// The response carries the byte only when asked.
	rsp := ConnectResponse{TimeOut: 1, Passwd: make([]byte, 16)}
	if n := len(marshal(t, &rsp)); n != 36 {
		t.Fatalf("response without readOnly: %d bytes", n)
	}
	rsp.HasReadOnly = true
	if n := len(marshal(t, &rsp)); n != 37 {
		t.Fatalf("response with readOnly: %d bytes", n)
	}
}

func TestParseRequest(t *testing.T) {
	frame := mustHex(t, `00000007 00000004 00000004 2f666f6f 01`)
	h, r, err := ParseRequest(frame)
	if err != nil {
		t.Fatal(err)
	}
	if h != (RequestHeader{Xid: 7, Type: OpGetData}) {
		t.Fatalf("header %+v", h)
	}
	if !reflect.DeepEqual(r, &GetDataRequest{Path: "/foo", Watch: true}) {
		t.Fatalf("body %+v", r)
	}
	// Trailing bytes are ignored, as in ZooKeeper.
	if _, _, err := ParseRequest(append(frame, 0xde, 0xad)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseRequest(frame[:7]); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("short header: %v", err)
	}
	if _, _, err := ParseRequest(mustHex(t, "00000001 0000000a")); !errors.Is(err, ErrUnknownOpcode) {
		t.Fatalf("opcode 10: %v", err)
	}
	// Ping: header only.
	h, r, err = ParseRequest(mustHex(t, "fffffffe 0000000b"))
	if err != nil || h.Xid != XidPing {
		t.Fatalf("ping: %+v %v", h, err)
	}
	if _, ok := r.(*PingRequest); !ok {
		t.Fatalf("ping decoded as %T", r)
	}
}

func TestMultiRequestErrors(t *testing.T) {
	cases := map[string]string{
		"unknown op type":     `00000003 00 ffffffff 00000002 2f61 00 ffffffff 01 ffffffff`,
		"error op type":       `ffffffff 00 ffffffff ffffffff 01 ffffffff`,
		"read after write":    `00000002 00 ffffffff 00000002 2f61 ffffffff 00000004 00 ffffffff 00000002 2f61 00 ffffffff 01 ffffffff`,
		"write after read":    `00000008 00 ffffffff 00000002 2f61 00 00000002 00 ffffffff 00000002 2f61 ffffffff ffffffff 01 ffffffff`,
		"setACL not allowed":  `00000007 00 ffffffff 00000002 2f61 00000000 00000000 ffffffff 01 ffffffff`,
		"nested multi":        `0000000e 00 ffffffff ffffffff 01 ffffffff ffffffff 01 ffffffff`,
		"missing terminator":  `00000002 00 ffffffff 00000002 2f61 ffffffff`,
		"truncated header":    `00000002 00 ffff`,
		"terminator bad bool": `ffffffff`,
	}
	for name, h := range cases {
		if _, err := DecodeRequest(OpMulti, mustHex(t, h)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	// The terminator is recognised by done alone, as in ZooKeeper.
	r, err := DecodeRequest(OpMulti, mustHex(t, `00000002 00 ffffffff 00000002 2f61 ffffffff 00000000 02 00000000`))
	if err != nil || len(r.(*MultiRequest).Ops) != 1 {
		t.Fatalf("done with other type/err: %+v %v", r, err)
	}
	// Encoding rejects a record that does not match its op type.
	for _, op := range []MultiOp{
		{OpDelete, &SetDataRequest{}},
		{OpCreateTTL, &CreateRequest{}},
		{OpSetACL, &SetACLRequest{}},
		{OpCheck, nil},
	} {
		e := NewEncoder(nil)
		(&MultiRequest{Ops: []MultiOp{op}}).Encode(e)
		if !errors.Is(e.Err(), ErrInvalidMulti) {
			t.Errorf("%s/%T: err = %v", OpName(op.Type), op.Req, e.Err())
		}
	}
}

func TestMultiResponseEncoding(t *testing.T) {
	// createTTL/createContainer results go out as create2, as ZooKeeper's
	// CreateResult(path, stat) does.
	rsp := &MultiResponse{Results: []MultiResult{
		{Type: OpCreateTTL, Path: "/t", Stat: sampleStat},
		{Type: OpCreateContainer, Path: "/c", Stat: sampleStat},
	}}
	var got MultiResponse
	if err := Unmarshal(marshal(t, rsp), &got); err != nil {
		t.Fatal(err)
	}
	for i, r := range got.Results {
		if r.Type != OpCreate2 || r.Path != rsp.Results[i].Path || r.Stat != sampleStat {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	// Non-error results carry err 0 in their header even if Err is set.
	b := marshal(t, &MultiResponse{Results: []MultiResult{{Type: OpDelete, Err: CodeNoNode}}})
	if want := mustHex(t, "00000002 00 00000000 ffffffff 01 ffffffff"); !bytes.Equal(b, want) {
		t.Errorf("got % x want % x", b, want)
	}
	// Error results take their code from the body.
	if err := Unmarshal(mustHex(t, "ffffffff 00 00000000 ffffff9b ffffffff 01 ffffffff"), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 1 || got.Results[0].Err != CodeNoNode {
		t.Errorf("%+v", got.Results)
	}
	// Unknown result types are rejected both ways.
	e := NewEncoder(nil)
	(&MultiResponse{Results: []MultiResult{{Type: OpSetACL}}}).Encode(e)
	if !errors.Is(e.Err(), ErrInvalidMulti) {
		t.Errorf("encode setACL result: %v", e.Err())
	}
	if err := Unmarshal(mustHex(t, "00000007 00 00000000 ffffffff 01 ffffffff"), &got); !errors.Is(err, ErrInvalidMulti) {
		t.Errorf("decode setACL result: %v", err)
	}
}

func TestNamesAndStrings(t *testing.T) {
	checks := map[string]string{
		OpName(OpGetData):                 "getData",
		OpName(OpCloseSession):            "closeSession",
		OpName(55):                        "op(55)",
		CodeNoNode.String():               "NoNode",
		CodeThrottled.String():            "Throttled",
		ErrCode(-9).String():              "ErrCode(-9)",
		EventNodeChildrenChanged.String(): "NodeChildrenChanged",
		EventType(9).String():             "EventType(9)",
		StateExpired.String():             "Expired",
		StateSyncConnected.String():       "SyncConnected",
		KeeperState(2).String():           "KeeperState(2)",
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
	if len(opNames) != 33 {
		t.Errorf("%d opcodes named", len(opNames))
	}
}

// requestFrame builds a request frame body: header + encoded request.
func requestFrame(t testing.TB, xid, op int32, r Record) []byte {
	b, err := Marshal(nil, &RequestHeader{Xid: xid, Type: op}, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeRequest(f *testing.F) {
	for i, c := range sampleRequests() {
		f.Add(requestFrame(f, int32(i), c.op, c.rec))
	}
	for _, g := range goldens {
		if g.op != 0 {
			f.Add(append(requestFrame(f, 1, g.op, &Empty{}), mustHex(f, g.hex)...))
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, r, err := ParseRequest(frame)
		if err != nil {
			if r != nil {
				t.Fatalf("error %v with a non-nil record %T", err, r)
			}
			return
		}
		body := frame[8:]
		// Whatever decodes re-encodes to no more bytes than it came from
		// (null strings/vectors become empty ones, bools become 0/1, trailing
		// bytes are dropped) and decodes back to the same value.
		enc, err := Marshal(nil, r)
		if err != nil {
			t.Fatalf("%s: re-encode: %v", OpName(h.Type), err)
		}
		if len(enc) > len(body) {
			t.Fatalf("%s: re-encoded %d bytes from %d", OpName(h.Type), len(enc), len(body))
		}
		r2, err := DecodeRequest(h.Type, enc)
		if err != nil {
			t.Fatalf("%s: decode of re-encoding: %v", OpName(h.Type), err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("%s: round trip mismatch\n%+v\n%+v", OpName(h.Type), r, r2)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	for _, g := range goldens {
		framed, err := AppendFrame(nil, g.rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(framed, 0)
		f.Add(framed, 8)
	}
	f.Add(be32(-1), 0)
	f.Add(be32(DefaultMaxBuffer+1), 0)
	f.Fuzz(func(t *testing.T, stream []byte, bufCap int) {
		const maxLen = 4096
		buf := make([]byte, 0, bufCap&0xfff)
		r := bytes.NewReader(stream)
		off := 0
		for {
			body, err := ReadFrame(r, buf, maxLen)
			if err != nil {
				return
			}
			if len(body) > maxLen {
				t.Fatalf("frame of %d bytes accepted with max %d", len(body), maxLen)
			}
			if !bytes.Equal(body, stream[off+4:off+4+len(body)]) {
				t.Fatalf("frame at %d: body mismatch", off)
			}
			off += 4 + len(body)
		}
	})
}
