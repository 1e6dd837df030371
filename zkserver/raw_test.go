package zkserver

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkwire"
)

// Tests that speak raw frames: opcodes go-zookeeper/zk does not send,
// session re-attachment, refusals and malformed input.

var wireOpen = []zkwire.ACL{{Perms: zkwire.PermAll, ID: zkwire.ID{Scheme: "world", ID: "anyone"}}}

func wireRawCreate(t *testing.T, r *wireRaw, path string, flags int32) {
	t.Helper()
	if code := r.call(zkwire.OpCreate, &zkwire.CreateRequest{Path: path, ACL: wireOpen, Flags: flags}, nil); code != 0 {
		t.Fatalf("create %s: %v", path, code)
	}
}

func TestWireHandshake(t *testing.T) {
	n := startWire(t, nil)

	t.Run("readOnly byte echoed only when sent", func(t *testing.T) {
		for _, withRO := range []bool{false, true} {
			r := wireDialRaw(t, n.ClientAddr())
			req := zkwire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16), HasReadOnly: withRO}
			frame, _ := zkwire.AppendFrame(nil, &req)
			r.write(frame)
			body, err := r.readFrame()
			wireOK(t, err)
			// protocolVersion, timeOut, sessionId, passwd(4+16) [, readOnly]
			want := 4 + 4 + 8 + 4 + 16
			if withRO {
				want++
			}
			if len(body) != want {
				t.Fatalf("readOnly=%v: response of %d bytes, want %d", withRO, len(body), want)
			}
			var resp zkwire.ConnectResponse
			wireOK(t, zkwire.Unmarshal(body, &resp))
			if resp.SessionID == 0 || resp.TimeOut != 1000 || len(resp.Passwd) != 16 {
				t.Fatalf("response %+v", resp)
			}
		}
	})

	t.Run("timeout negotiated", func(t *testing.T) {
		for _, tc := range []struct{ ask, want int32 }{{0, 100}, {-5, 100}, {10, 100}, {700, 700}, {600000, 5000}} {
			r := wireDialRaw(t, n.ClientAddr())
			resp, err := r.connect(zkwire.ConnectRequest{TimeOut: tc.ask, Passwd: make([]byte, 16)})
			wireOK(t, err)
			if resp.TimeOut != tc.want {
				t.Errorf("asked %d ms, got %d, want %d", tc.ask, resp.TimeOut, tc.want)
			}
		}
	})

	t.Run("unknown session refused", func(t *testing.T) {
		r := wireDialRaw(t, n.ClientAddr())
		resp, err := r.connect(zkwire.ConnectRequest{TimeOut: 1000, SessionID: 0x1234, Passwd: make([]byte, 16)})
		wireOK(t, err)
		if resp.SessionID != 0 || resp.TimeOut != 0 || len(resp.Passwd) != 16 || slices.ContainsFunc(resp.Passwd, func(b byte) bool { return b != 0 }) {
			t.Fatalf("refusal %+v", resp)
		}
		r.expectClosed()
	})

	t.Run("wrong password refused", func(t *testing.T) {
		a := wireConnectRaw(t, n, 0, nil)
		bad := slices.Clone(a.passwd)
		bad[0] ^= 1
		r := wireDialRaw(t, n.ClientAddr())
		resp, err := r.connect(zkwire.ConnectRequest{TimeOut: 1000, SessionID: a.sid, Passwd: bad})
		wireOK(t, err)
		if resp.SessionID != 0 {
			t.Fatalf("accepted a wrong password: %+v", resp)
		}
		r.expectClosed()
		// The real owner is untouched.
		if code := a.call(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/"}, nil); code != 0 {
			t.Fatalf("owner's request: %v", code)
		}
	})

	t.Run("client ahead refused", func(t *testing.T) {
		r := wireDialRaw(t, n.ClientAddr())
		req := zkwire.ConnectRequest{TimeOut: 1000, LastZxidSeen: n.LastZxid() + 100, Passwd: make([]byte, 16)}
		frame, _ := zkwire.AppendFrame(nil, &req)
		r.write(frame)
		if frames := r.expectClosed(); len(frames) != 0 {
			t.Fatalf("got %d frames before the close, want none", len(frames))
		}
	})

	t.Run("pipelined auth and setWatches", func(t *testing.T) {
		a := wireConnectRaw(t, n, 0, nil)
		wireRawCreate(t, a, "/piped", 0)
		r := wireDialRaw(t, n.ClientAddr())
		var buf []byte
		buf, _ = zkwire.AppendFrame(buf, &zkwire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)})
		buf, _ = zkwire.AppendFrame(buf, &zkwire.RequestHeader{Xid: zkwire.XidAuth, Type: zkwire.OpAuth},
			&zkwire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")})
		buf, _ = zkwire.AppendFrame(buf, &zkwire.RequestHeader{Xid: zkwire.XidSetWatches, Type: zkwire.OpSetWatches},
			&zkwire.SetWatches{RelativeZxid: 0, ExistWatches: []string{"/piped"}})
		buf, _ = zkwire.AppendFrame(buf, &zkwire.RequestHeader{Xid: 1, Type: zkwire.OpWhoAmI}, &zkwire.WhoAmIRequest{})
		r.write(buf) // all at once, before the session exists
		body, err := r.readFrame()
		wireOK(t, err)
		var resp zkwire.ConnectResponse
		wireOK(t, zkwire.Unmarshal(body, &resp))
		if resp.SessionID == 0 {
			t.Fatal("no session")
		}
		h, _, err := r.reply(zkwire.XidAuth)
		wireOK(t, err)
		if h.Err != 0 || h.Zxid != 0 {
			t.Fatalf("auth reply %+v (ZooKeeper answers auth with zxid 0)", h)
		}
		h, _, err = r.reply(zkwire.XidSetWatches)
		wireOK(t, err)
		if h.Err != 0 || len(r.events) != 1 || r.events[0].Type != zkwire.EventNodeCreated {
			t.Fatalf("setWatches reply %+v, events %+v", h, r.events)
		}
		var who zkwire.WhoAmIResponse
		h, body, err = r.reply(1)
		wireOK(t, err)
		wireOK(t, zkwire.Unmarshal(body, &who))
		want := []zkwire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "u"}}
		if !slices.Equal(who.ClientInfo, want) {
			t.Fatalf("whoAmI %+v", who.ClientInfo)
		}
	})
}

func TestWireReattachMovesSession(t *testing.T) {
	n := startWire(t, nil)
	a := wireConnectRaw(t, n, 0, nil)
	wireRawCreate(t, a, "/eph", zkwire.FlagEphemeral)
	wireRawCreate(t, a, "/watched", 0)
	if code := a.call(zkwire.OpGetData, &zkwire.GetDataRequest{Path: "/watched", Watch: true}, nil); code != 0 {
		t.Fatal(code)
	}

	b := wireConnectRaw(t, n, a.sid, a.passwd)
	if b.sid != a.sid {
		t.Fatalf("re-attached as %x, want %x", b.sid, a.sid)
	}
	// The old connection is closed; a request racing the close is
	// answered SessionMoved, if at all.
	a.request(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/"})
	for _, f := range a.expectClosed() {
		var h zkwire.ReplyHeader
		wireOK(t, zkwire.Unmarshal(f, &h))
		if h.Err != zkwire.CodeSessionMoved {
			t.Fatalf("old connection got %+v", h)
		}
	}
	// The session, its ephemeral and its identity carry on; watches were
	// the old connection's and went with it.
	var st zkwire.ExistsResponse
	if code := b.call(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/eph"}, &st); code != 0 || st.Stat.EphemeralOwner != a.sid {
		t.Fatalf("ephemeral after re-attach: %v %+v", code, st)
	}
	if code := b.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/watched", Version: -1}, nil); code != 0 || len(b.events) != 0 {
		t.Fatalf("setData %v, events %+v", code, b.events)
	}
	var eph zkwire.GetEphemeralsResponse
	if code := b.call(zkwire.OpGetEphemerals, &zkwire.GetEphemeralsRequest{PrefixPath: "/"}, &eph); code != 0 || !slices.Equal(eph.Ephemerals, []string{"/eph"}) {
		t.Fatalf("getEphemerals %v %v", code, eph.Ephemerals)
	}
}

func TestWireDetachedSessionExpires(t *testing.T) {
	n := startWire(t, nil)
	obs, _ := wireDialZK(t, n)
	r := wireDialRaw(t, n.ClientAddr())
	// The raw client never pings: a generous timeout keeps the server's
	// idle-connection deadline from detaching it early on a loaded machine.
	resp, err := r.connect(zkwire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)})
	wireOK(t, err)
	start := time.Now() // before the session's last sign of life, the create
	wireRawCreate(t, r, "/gone-soon", zkwire.FlagEphemeral)
	_, _, ch, err := obs.ExistsW("/gone-soon")
	wireOK(t, err)
	r.nc.Close() // connection loss, not closeSession
	if ev := wireEvent(t, ch); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("event %+v", ev)
	}
	if d := time.Since(start); d < time.Duration(resp.TimeOut)*time.Millisecond/2 {
		t.Fatalf("session ended %v after the disconnect; its timeout is %d ms", d, resp.TimeOut)
	}
	// Re-attaching an expired session is refused.
	r2 := wireDialRaw(t, n.ClientAddr())
	resp2, err := r2.connect(zkwire.ConnectRequest{TimeOut: 200, SessionID: resp.SessionID, Passwd: resp.Passwd})
	wireOK(t, err)
	if resp2.SessionID != 0 {
		t.Fatal("expired session re-attached")
	}
}

func TestWireExpiryNotification(t *testing.T) {
	n := startWire(t, nil)
	r := wireConnectRaw(t, n, 0, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wireWait)
	defer cancel()
	wireOK(t, n.ExpireSession(ctx, r.sid))
	frames := r.expectClosed()
	if len(frames) != 1 {
		t.Fatalf("%d frames before the close, want the expiry notification", len(frames))
	}
	var h zkwire.ReplyHeader
	d := zkwire.NewDecoder(frames[0])
	h.Decode(d)
	var ev zkwire.WatcherEvent
	wireOK(t, zkwire.Unmarshal(frames[0][d.Offset():], &ev))
	if h.Xid != zkwire.XidNotification || ev.Type != zkwire.EventNone || ev.State != zkwire.StateExpired || ev.Path != "" {
		t.Fatalf("notification %+v %+v", h, ev)
	}
}

func TestWireCloseSession(t *testing.T) {
	n := startWire(t, nil)
	r := wireConnectRaw(t, n, 0, nil)
	wireRawCreate(t, r, "/e", zkwire.FlagEphemeral)
	xid := r.request(zkwire.OpCloseSession, &zkwire.CloseSessionRequest{})
	h, _, err := r.reply(xid)
	wireOK(t, err)
	if h.Err != 0 {
		t.Fatalf("closeSession %+v", h)
	}
	r.expectClosed()
	s := wireConnectRaw(t, n, 0, nil)
	if code := s.call(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/e"}, nil); code != zkwire.CodeNoNode {
		t.Fatalf("ephemeral after closeSession: %v", code)
	}
}

func TestWireOps(t *testing.T) {
	n := startWire(t, nil)
	r := wireConnectRaw(t, n, 0, nil)

	var c2 zkwire.Create2Response
	if code := r.call(zkwire.OpCreate2, &zkwire.CreateRequest{Path: "/c2", Data: []byte("d"), ACL: wireOpen}, &c2); code != 0 || c2.Path != "/c2" || c2.Stat.DataLength != 1 || c2.Stat.Czxid == 0 {
		t.Fatalf("create2 %v %+v", code, c2)
	}
	// create with the container flag makes a plain node, as ZooKeeper's
	// CreateTxn does; createContainer makes a container whatever the flags.
	if code := r.call(zkwire.OpCreate, &zkwire.CreateRequest{Path: "/notbox", ACL: wireOpen, Flags: zkwire.FlagContainer}, nil); code != 0 {
		t.Fatal(code)
	}
	if code := r.call(zkwire.OpCreateContainer, &zkwire.CreateRequest{Path: "/box", ACL: wireOpen}, &c2); code != 0 {
		t.Fatal(code)
	}
	// Tell them apart by what the container check does with each once its
	// last child is gone.
	ctx, cancel := context.WithTimeout(context.Background(), wireWait)
	defer cancel()
	s, err := n.NewSession(ctx, coord.SessionConfig{})
	wireOK(t, err)
	for _, p := range []string{"/notbox/k", "/box/k"} {
		_, err := s.Create(ctx, p, nil, coord.Persistent, nil)
		wireOK(t, err)
		wireOK(t, s.Delete(ctx, p, -1))
	}
	n.CheckContainers()
	notBox, _, err := s.Exists(ctx, "/notbox")
	wireOK(t, err)
	box, _, err := s.Exists(ctx, "/box")
	wireOK(t, err)
	if !notBox || box {
		t.Fatalf("after the container check: /notbox %v, /box %v", notBox, box)
	}
	wireOK(t, s.Close(ctx))
	if code := r.call(zkwire.OpCreate, &zkwire.CreateRequest{Path: "/x", ACL: wireOpen, Flags: 9}, nil); code != zkwire.CodeBadArguments {
		t.Fatalf("invalid flags: %v", code)
	}
	if code := r.call(zkwire.OpCreateTTL, &zkwire.CreateTTLRequest{Path: "/ttl", ACL: wireOpen, Flags: zkwire.FlagPersistentWithTTL, TTL: 60000}, &c2); code != 0 || c2.Path != "/ttl" {
		t.Fatalf("createTTL %v %+v", code, c2)
	}
	if code := r.call(zkwire.OpCreateTTL, &zkwire.CreateTTLRequest{Path: "/ttl2", ACL: wireOpen, Flags: zkwire.FlagPersistent, TTL: 60000}, nil); code != zkwire.CodeBadArguments {
		t.Fatalf("createTTL with a non-TTL mode: %v", code)
	}

	// exists on a missing node: NoNode, and the watch is set.
	if code := r.call(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/later", Watch: true}, nil); code != zkwire.CodeNoNode {
		t.Fatalf("exists on a missing node: %v", code)
	}
	if code := r.call(zkwire.OpCheckWatches, &zkwire.CheckWatchesRequest{Path: "/later", Type: zkwire.WatcherData}, nil); code != 0 {
		t.Fatalf("checkWatches %v", code)
	}
	if code := r.call(zkwire.OpCheckWatches, &zkwire.CheckWatchesRequest{Path: "/later", Type: zkwire.WatcherChildren}, nil); code != zkwire.CodeNoWatcher {
		t.Fatalf("checkWatches children: %v", code)
	}
	if code := r.call(zkwire.OpRemoveWatches, &zkwire.RemoveWatchesRequest{Path: "/later", Type: zkwire.WatcherAny}, nil); code != 0 {
		t.Fatalf("removeWatches %v", code)
	}
	if code := r.call(zkwire.OpRemoveWatches, &zkwire.RemoveWatchesRequest{Path: "/later", Type: zkwire.WatcherAny}, nil); code != zkwire.CodeNoWatcher {
		t.Fatalf("second removeWatches %v", code)
	}
	// The removed watch does not fire, and the server sends no removal
	// event (clients make those).
	wireRawCreate(t, r, "/later", 0)
	if len(r.events) != 0 {
		t.Fatalf("events %+v", r.events)
	}

	var num zkwire.GetAllChildrenNumberResponse
	wireRawCreate(t, r, "/later/a", 0)
	wireRawCreate(t, r, "/later/a/b", 0)
	if code := r.call(zkwire.OpGetAllChildrenNumber, &zkwire.GetAllChildrenNumberRequest{Path: "/later"}, &num); code != 0 || num.TotalNumber != 2 {
		t.Fatalf("getAllChildrenNumber %v %d", code, num.TotalNumber)
	}

	var gc zkwire.GetChildrenResponse
	if code := r.call(zkwire.OpGetChildren, &zkwire.GetChildrenRequest{Path: "/later"}, &gc); code != 0 || !slices.Equal(gc.Children, []string{"a"}) {
		t.Fatalf("getChildren %v %v", code, gc.Children)
	}

	var sync zkwire.SyncResponse
	if code := r.call(zkwire.OpSync, &zkwire.SyncRequest{Path: "/later"}, &sync); code != 0 || sync.Path != "/later" {
		t.Fatalf("sync %v %q", code, sync.Path)
	}
	if code := r.call(zkwire.OpReconfig, &zkwire.ReconfigRequest{NewMembers: "server.1=x"}, nil); code != zkwire.CodeReconfigDisabled {
		t.Fatalf("reconfig %v", code)
	}

	// multiRead: per-op results, errors included.
	var mr zkwire.MultiResponse
	code := r.call(zkwire.OpMultiRead, &zkwire.MultiRequest{Ops: []zkwire.MultiOp{
		{Type: zkwire.OpGetData, Req: &zkwire.GetDataRequest{Path: "/c2"}},
		{Type: zkwire.OpGetChildren, Req: &zkwire.GetChildrenRequest{Path: "/nope"}},
		{Type: zkwire.OpGetChildren, Req: &zkwire.GetChildrenRequest{Path: "/later"}},
	}}, &mr)
	if code != 0 || len(mr.Results) != 3 || string(mr.Results[0].Data) != "d" ||
		mr.Results[1].Type != zkwire.OpError || mr.Results[1].Err != zkwire.CodeNoNode ||
		!slices.Equal(mr.Results[2].Children, []string{"a"}) {
		t.Fatalf("multiRead %v %+v", code, mr)
	}
	// A multi of reads, or reads and writes mixed: MarshallingError.
	mixed := []byte{}
	mixed, _ = zkwire.Marshal(mixed, &zkwire.MultiHeader{Type: zkwire.OpCheck, Err: -1}, &zkwire.CheckVersionRequest{Path: "/c2", Version: -1},
		&zkwire.MultiHeader{Type: zkwire.OpGetData, Err: -1}, &zkwire.GetDataRequest{Path: "/c2"},
		&zkwire.MultiHeader{Type: -1, Done: true, Err: -1})
	if code := r.call(zkwire.OpMulti, wireRawRecord(mixed), nil); code != zkwire.CodeMarshallingError {
		t.Fatalf("mixed multi: %v", code)
	}
	if code := r.call(zkwire.OpMulti, &zkwire.MultiRequest{Ops: []zkwire.MultiOp{
		{Type: zkwire.OpGetData, Req: &zkwire.GetDataRequest{Path: "/c2"}}}}, nil); code != zkwire.CodeMarshallingError {
		t.Fatalf("reads in multi: %v", code)
	}
	// multi with create2 and TTL ops answers create2-style results.
	var mres zkwire.MultiResponse
	code = r.call(zkwire.OpMulti, &zkwire.MultiRequest{Ops: []zkwire.MultiOp{
		{Type: zkwire.OpCreate2, Req: &zkwire.CreateRequest{Path: "/m2", ACL: wireOpen}},
		{Type: zkwire.OpCreateTTL, Req: &zkwire.CreateTTLRequest{Path: "/mttl", ACL: wireOpen, Flags: zkwire.FlagPersistentWithTTL, TTL: 1000}},
		{Type: zkwire.OpDelete, Req: &zkwire.DeleteRequest{Path: "/m2", Version: -1}},
	}}, &mres)
	if code != 0 || len(mres.Results) != 3 || mres.Results[0].Type != zkwire.OpCreate2 || mres.Results[0].Path != "/m2" ||
		mres.Results[1].Type != zkwire.OpCreate2 || mres.Results[1].Stat.Czxid == 0 || mres.Results[2].Type != zkwire.OpDelete {
		t.Fatalf("multi %v %+v", code, mres)
	}
	// An undecodable body: MarshallingError, and the connection stays.
	if code := r.call(zkwire.OpGetData, wireRawRecord([]byte{0, 0, 0, 9, 'x'}), nil); code != zkwire.CodeMarshallingError {
		t.Fatalf("truncated body: %v", code)
	}
	if code := r.call(zkwire.OpAddWatch, &zkwire.AddWatchRequest{Path: "/", Mode: 7}, nil); code != zkwire.CodeMarshallingError {
		t.Fatalf("addWatch with a bad mode: %v", code)
	}
	// Reads do not validate paths in ZooKeeper: a bad path names no node,
	// and "" is the root.
	if code := r.call(zkwire.OpGetData, &zkwire.GetDataRequest{Path: "/c2/"}, nil); code != zkwire.CodeNoNode {
		t.Fatalf("getData of a bad path: %v", code)
	}
	var rootKids zkwire.GetChildrenResponse
	if code := r.call(zkwire.OpGetChildren, &zkwire.GetChildrenRequest{Path: ""}, &rootKids); code != 0 || !slices.Contains(rootKids.Children, "zookeeper") {
		t.Fatalf("getChildren of \"\": %v %v", code, rootKids.Children)
	}
	// Writes check in ZooKeeper's order: the parent before the last
	// segment's syntax; delete looks the node up after a light check.
	if code := r.call(zkwire.OpCreate, &zkwire.CreateRequest{Path: "/missing/x\x01", ACL: wireOpen}, nil); code != zkwire.CodeNoNode {
		t.Fatalf("create of a bad name under a missing parent: %v", code)
	}
	if code := r.call(zkwire.OpCreate, &zkwire.CreateRequest{Path: "/c2/x\x01", ACL: nil}, nil); code != zkwire.CodeInvalidACL {
		t.Fatalf("create of a bad name with an empty ACL: %v", code)
	}
	if code := r.call(zkwire.OpDelete, &zkwire.DeleteRequest{Path: "/c2/", Version: -1}, nil); code != zkwire.CodeNoNode {
		t.Fatalf("delete of a bad path: %v", code)
	}
	if code := r.call(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/a\x00b"}, nil); code != zkwire.CodeBadArguments {
		t.Fatalf("exists with a NUL: %v", code)
	}
	if code := r.call(zkwire.OpSync, &zkwire.SyncRequest{Path: "not/a/path"}, &sync); code != 0 || sync.Path != "not/a/path" {
		t.Fatalf("sync of a bad path: %v %q", code, sync.Path)
	}
	// No SASL: answered OK with a null token, as a ZooKeeper server
	// without SASL does.
	var sasl zkwire.SetSASLResponse
	if code := r.call(zkwire.OpSASL, &zkwire.GetSASLRequest{Token: []byte{}}, &sasl); code != 0 || sasl.Token != nil {
		t.Fatalf("sasl %v %+v", code, sasl)
	}
	// Pings are answered with xid -2, whatever they carried.
	xid := r.request(zkwire.OpPing, &zkwire.PingRequest{})
	if h, _, err := r.reply(zkwire.XidPing); err != nil || h.Err != 0 {
		t.Fatalf("ping (xid %d): %+v %v", xid, h, err)
	}
	if code := r.call(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/"}, nil); code != 0 {
		t.Fatalf("after bad requests: %v", code)
	}
}

// wireRawRecord encodes as its bytes, verbatim.
type wireRawRecord []byte

func (r wireRawRecord) Encode(e *zkwire.Encoder) { e.Raw(r) }
func (r wireRawRecord) Decode(*zkwire.Decoder)   {}

func TestWirePersistentWatches(t *testing.T) {
	n := startWire(t, nil)
	r := wireConnectRaw(t, n, 0, nil)
	w := wireConnectRaw(t, n, 0, nil)

	addWatch := func(path string, mode int32) {
		t.Helper()
		var body zkwire.ErrorResponse
		xid := r.request(zkwire.OpAddWatch, &zkwire.AddWatchRequest{Path: path, Mode: mode})
		h, rest, err := r.reply(xid)
		wireOK(t, err)
		// ZooKeeper answers addWatch with an ErrorResponse{0} body.
		if h.Err != 0 || len(rest) != 4 || zkwire.Unmarshal(rest, &body) != nil || body.Err != 0 {
			t.Fatalf("addWatch reply %+v %x", h, rest)
		}
	}
	addWatch("/p", zkwire.AddWatchPersistent)
	addWatch("/tree", zkwire.AddWatchPersistentRecursive)

	type ev struct {
		typ  zkwire.EventType
		path string
	}
	next := func() ev { e := r.event(); return ev{e.Type, e.Path} }
	expect := func(want ...ev) {
		t.Helper()
		for _, wnt := range want {
			if got := next(); got != wnt {
				t.Fatalf("event %+v, want %+v", got, wnt)
			}
		}
	}

	wireRawCreate(t, w, "/p", 0)
	expect(ev{zkwire.EventNodeCreated, "/p"})
	wireRawCreate(t, w, "/p/kid", 0)
	expect(ev{zkwire.EventNodeChildrenChanged, "/p"})
	w.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/p", Version: -1}, nil)
	expect(ev{zkwire.EventNodeDataChanged, "/p"}) // still there: persistent

	wireRawCreate(t, w, "/tree", 0)
	wireRawCreate(t, w, "/tree/a", 0)
	wireRawCreate(t, w, "/tree/a/b", 0)
	w.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/tree/a/b", Version: -1}, nil)
	w.call(zkwire.OpDelete, &zkwire.DeleteRequest{Path: "/tree/a/b", Version: -1}, nil)
	// Recursive: created/changed/deleted for the subtree, never
	// NodeChildrenChanged.
	expect(ev{zkwire.EventNodeCreated, "/tree"}, ev{zkwire.EventNodeCreated, "/tree/a"}, ev{zkwire.EventNodeCreated, "/tree/a/b"},
		ev{zkwire.EventNodeDataChanged, "/tree/a/b"}, ev{zkwire.EventNodeDeleted, "/tree/a/b"})

	// One notification per connection per trigger, whatever it registered.
	r.call(zkwire.OpGetData, &zkwire.GetDataRequest{Path: "/tree/a", Watch: true}, nil)
	r.call(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/tree/a", Watch: true}, nil)
	w.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/tree/a", Version: -1}, nil)
	expect(ev{zkwire.EventNodeDataChanged, "/tree/a"})
	// A write of our own: its notifications precede its reply.
	if code := r.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/tree/a", Version: -1}, nil); code != 0 || len(r.events) != 1 {
		t.Fatalf("setData %v, events before the reply %+v", code, r.events)
	}
	expect(ev{zkwire.EventNodeDataChanged, "/tree/a"})

	if code := r.call(zkwire.OpRemoveWatches, &zkwire.RemoveWatchesRequest{Path: "/tree", Type: zkwire.WatcherPersistentRecursive}, nil); code != 0 {
		t.Fatalf("removeWatches %v", code)
	}
	w.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/tree/a", Version: -1}, nil)
	w.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/p", Version: -1}, nil)
	expect(ev{zkwire.EventNodeDataChanged, "/p"}) // and nothing for /tree/a before it
}

func TestWireSetWatches2CatchUp(t *testing.T) {
	n := startWire(t, nil)
	w := wireConnectRaw(t, n, 0, nil)
	for _, p := range []string{"/same", "/changed", "/kids", "/stillkids"} {
		wireRawCreate(t, w, p, 0)
	}
	rel := n.LastZxid()
	w.call(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/changed", Version: -1}, nil)
	wireRawCreate(t, w, "/kids/k", 0)
	wireRawCreate(t, w, "/present", 0)

	r := wireConnectRaw(t, n, 0, nil)
	code := r.call(zkwire.OpSetWatches2, &zkwire.SetWatches2{
		RelativeZxid:               rel,
		DataWatches:                []string{"/same", "/changed", "/gone"},
		ExistWatches:               []string{"/present", "/absent"},
		ChildWatches:               []string{"/kids", "/stillkids", "/gone2"},
		PersistentWatches:          []string{"/pers"},
		PersistentRecursiveWatches: []string{"/rec"},
	}, nil)
	if code != 0 {
		t.Fatal(code)
	}
	got := map[string]zkwire.EventType{}
	for _, e := range r.events {
		got[e.Path] = e.Type
	}
	want := map[string]zkwire.EventType{
		"/changed": zkwire.EventNodeDataChanged, "/gone": zkwire.EventNodeDeleted,
		"/present": zkwire.EventNodeCreated, "/kids": zkwire.EventNodeChildrenChanged, "/gone2": zkwire.EventNodeDeleted,
	}
	if len(got) != len(want) || len(r.events) != len(want) {
		t.Fatalf("catch-up events %+v", r.events)
	}
	for p, typ := range want {
		if got[p] != typ {
			t.Fatalf("catch-up for %s: %v, want %v", p, got[p], typ)
		}
	}
	r.events = nil
	// The others were re-armed.
	for _, check := range []struct {
		path string
		typ  int32
	}{{"/same", zkwire.WatcherData}, {"/absent", zkwire.WatcherData}, {"/stillkids", zkwire.WatcherChildren},
		{"/pers", zkwire.WatcherPersistent}, {"/rec", zkwire.WatcherPersistentRecursive}} {
		if code := r.call(zkwire.OpCheckWatches, &zkwire.CheckWatchesRequest{Path: check.path, Type: check.typ}, nil); code != 0 {
			t.Errorf("watch on %s not re-armed: %v", check.path, code)
		}
	}
	for _, p := range []string{"/changed", "/kids", "/present"} {
		if code := r.call(zkwire.OpCheckWatches, &zkwire.CheckWatchesRequest{Path: p, Type: zkwire.WatcherAny}, nil); code != zkwire.CodeNoWatcher {
			t.Errorf("fired watch on %s still registered: %v", p, code)
		}
	}
}

func TestWireAuthFailureCloses(t *testing.T) {
	n := startWire(t, nil)
	r := wireConnectRaw(t, n, 0, nil)
	xid := r.request(zkwire.OpAuth, &zkwire.AuthPacket{Scheme: "kerberos", Auth: []byte("x")})
	h, _, err := r.reply(xid)
	wireOK(t, err)
	if h.Err != zkwire.CodeAuthFailed {
		t.Fatalf("auth reply %+v", h)
	}
	r.expectClosed()
	// The ip scheme is accepted, as ZooKeeper's ip provider does.
	r2 := wireConnectRaw(t, n, 0, nil)
	if code := r2.call(zkwire.OpAuth, &zkwire.AuthPacket{Scheme: "ip"}, nil); code != 0 {
		t.Fatalf("ip auth: %v", code)
	}
}

func TestWireBadInputClosesOnlyThatConnection(t *testing.T) {
	n := startWire(t, nil)
	good, _ := wireDialZK(t, n)
	wireCreate(t, good, "/alive", nil, 0, wireOpenACL)

	frameLen := func(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
	connected := func() *wireRaw { return wireConnectRaw(t, n, 0, nil) }
	cases := []struct {
		name  string
		conn  func() *wireRaw
		bytes []byte
		reply zkwire.ErrCode // expected reply before the close, if any
	}{
		{"negative length first", func() *wireRaw { return wireDialRaw(t, n.ClientAddr()) }, frameLen(-5), 0},
		{"oversized length first", func() *wireRaw { return wireDialRaw(t, n.ClientAddr()) }, frameLen(zkwire.DefaultMaxBuffer + 1), 0},
		{"garbage connect request", func() *wireRaw { return wireDialRaw(t, n.ClientAddr()) }, append(frameLen(3), 1, 2, 3), 0},
		{"negative length", connected, frameLen(-1), 0},
		{"oversized length", connected, frameLen(1 << 30), 0},
		{"short header", connected, append(frameLen(3), 0, 0, 1), 0},
		{"garbage", connected, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0},
		{"unknown opcode", connected, append(frameLen(8), 0, 0, 0, 7, 0, 0, 0x30, 0x39), zkwire.CodeUnimplemented},
		{"check outside multi", connected, wireFrame(t, &zkwire.RequestHeader{Xid: 7, Type: zkwire.OpCheck}, &zkwire.CheckVersionRequest{Path: "/", Version: -1}), zkwire.CodeUnimplemented},
		{"notification opcode", connected, wireFrame(t, &zkwire.RequestHeader{Xid: 7, Type: zkwire.OpNotification}), zkwire.CodeUnimplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.conn()
			r.write(tc.bytes)
			frames := r.expectClosed()
			switch {
			case tc.reply == 0 && len(frames) != 0:
				t.Fatalf("%d frames before the close", len(frames))
			case tc.reply != 0:
				var h zkwire.ReplyHeader
				if len(frames) != 1 || zkwire.Unmarshal(frames[0], &h) != nil || h.Err != tc.reply || h.Xid != 7 && h.Xid != 12345 {
					t.Fatalf("frames before the close: %x", frames)
				}
			}
			if _, _, err := good.Get("/alive"); err != nil {
				t.Fatalf("the other client: %v", err)
			}
		})
	}

	t.Run("truncated frame", func(t *testing.T) {
		r := wireConnectRaw(t, n, 0, nil)
		f := wireFrame(t, &zkwire.RequestHeader{Xid: 1, Type: zkwire.OpGetData}, &zkwire.GetDataRequest{Path: "/alive"})
		r.write(f[:len(f)-3])
		r.nc.(interface{ CloseWrite() error }).CloseWrite()
		r.expectClosed()
		if _, _, err := good.Get("/alive"); err != nil {
			t.Fatalf("the other client: %v", err)
		}
	})
}

func wireFrame(t *testing.T, recs ...zkwire.Record) []byte {
	t.Helper()
	f, err := zkwire.AppendFrame(nil, recs...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
