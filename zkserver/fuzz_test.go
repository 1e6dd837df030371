package zkserver

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkwire"
)

// FuzzWireProcess feeds request frames (a RequestHeader and a body) to a
// connection's request handler with a live session, as the read loop does.
// The handler must not panic, and everything it queues must be a frame a
// client can parse.
//
//	go test -run '^$' -fuzz FuzzWireProcess -fuzztime 60s ./zkserver
func FuzzWireProcess(f *testing.F) {
	acl := []zkwire.ACL{{Perms: zkwire.PermAll, ID: zkwire.ID{Scheme: "world", ID: "anyone"}}}
	seed := func(op int32, req zkwire.Record) {
		frame, err := zkwire.Marshal(nil, &zkwire.RequestHeader{Xid: 1, Type: op}, req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	seed(zkwire.OpCreate, &zkwire.CreateRequest{Path: "/f", Data: []byte("d"), ACL: acl})
	seed(zkwire.OpCreate2, &zkwire.CreateRequest{Path: "/f/s-", ACL: acl, Flags: zkwire.FlagEphemeralSequential})
	seed(zkwire.OpCreateContainer, &zkwire.CreateRequest{Path: "/c", ACL: acl, Flags: zkwire.FlagContainer})
	seed(zkwire.OpCreateTTL, &zkwire.CreateTTLRequest{Path: "/t", ACL: acl, Flags: zkwire.FlagPersistentWithTTL, TTL: 1000})
	seed(zkwire.OpDelete, &zkwire.DeleteRequest{Path: "/f", Version: -1})
	seed(zkwire.OpExists, &zkwire.ExistsRequest{Path: "/f", Watch: true})
	seed(zkwire.OpGetData, &zkwire.GetDataRequest{Path: "/f", Watch: true})
	seed(zkwire.OpSetData, &zkwire.SetDataRequest{Path: "/f", Data: []byte("x"), Version: -1})
	seed(zkwire.OpGetACL, &zkwire.GetACLRequest{Path: "/f"})
	seed(zkwire.OpSetACL, &zkwire.SetACLRequest{Path: "/f", ACL: acl, Version: -1})
	seed(zkwire.OpGetChildren, &zkwire.GetChildrenRequest{Path: "/", Watch: true})
	seed(zkwire.OpGetChildren2, &zkwire.GetChildren2Request{Path: "/"})
	seed(zkwire.OpSync, &zkwire.SyncRequest{Path: "/"})
	seed(zkwire.OpPing, &zkwire.PingRequest{})
	seed(zkwire.OpCheck, &zkwire.CheckVersionRequest{Path: "/", Version: -1})
	seed(zkwire.OpMulti, &zkwire.MultiRequest{Ops: []zkwire.MultiOp{
		{Type: zkwire.OpCreate, Req: &zkwire.CreateRequest{Path: "/m", ACL: acl}},
		{Type: zkwire.OpSetData, Req: &zkwire.SetDataRequest{Path: "/m", Version: -1}},
		{Type: zkwire.OpCheck, Req: &zkwire.CheckVersionRequest{Path: "/m", Version: 1}},
		{Type: zkwire.OpDelete, Req: &zkwire.DeleteRequest{Path: "/m", Version: -1}},
	}})
	seed(zkwire.OpMultiRead, &zkwire.MultiRequest{Ops: []zkwire.MultiOp{
		{Type: zkwire.OpGetData, Req: &zkwire.GetDataRequest{Path: "/"}},
		{Type: zkwire.OpGetChildren, Req: &zkwire.GetChildrenRequest{Path: "/"}},
	}})
	seed(zkwire.OpReconfig, &zkwire.ReconfigRequest{})
	seed(zkwire.OpCheckWatches, &zkwire.CheckWatchesRequest{Path: "/f", Type: zkwire.WatcherAny})
	seed(zkwire.OpRemoveWatches, &zkwire.RemoveWatchesRequest{Path: "/f", Type: zkwire.WatcherData})
	seed(zkwire.OpAuth, &zkwire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")})
	seed(zkwire.OpSetWatches, &zkwire.SetWatches{DataWatches: []string{"/f"}, ChildWatches: []string{"/"}})
	seed(zkwire.OpSetWatches2, &zkwire.SetWatches2{PersistentRecursiveWatches: []string{"/"}})
	seed(zkwire.OpSASL, &zkwire.GetSASLRequest{})
	seed(zkwire.OpGetEphemerals, &zkwire.GetEphemeralsRequest{PrefixPath: "/"})
	seed(zkwire.OpGetAllChildrenNumber, &zkwire.GetAllChildrenNumberRequest{Path: "/"})
	seed(zkwire.OpAddWatch, &zkwire.AddWatchRequest{Path: "/", Mode: zkwire.AddWatchPersistentRecursive})
	seed(zkwire.OpWhoAmI, &zkwire.WhoAmIRequest{})
	seed(zkwire.OpCloseSession, &zkwire.CloseSessionRequest{})
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0})
	f.Add([]byte{0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3})

	ctx := context.Background()
	n, err := coord.Open(ctx, coord.Config{TickTime: 50 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	defer n.Close(ctx)
	srv := newServer(n, Config{})
	defer srv.cancel()

	var c *zkConn
	fresh := func(t *testing.T) {
		c = newZKConn(srv, nil, "127.0.0.1")
		ss, err := n.NewServerSession(ctx, coord.ServerSessionConfig{ClientIP: "127.0.0.1", Notify: c.notify})
		if err != nil {
			t.Fatal(err)
		}
		c.sess.Store(ss)
		c.stMu.Lock()
		c.ready = true
		c.stMu.Unlock()
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		if c == nil {
			fresh(t)
		}
		keep := c.process(frame, time.Now())
		out := c.takeOut()
		for _, fr := range out {
			body, err := zkwire.ReadFrame(bytes.NewReader(fr), nil, 0)
			if err != nil {
				t.Fatalf("queued frame unreadable: %v", err)
			}
			var h zkwire.ReplyHeader
			if err := zkwire.Unmarshal(body, &h); err != nil {
				t.Fatalf("queued frame without a reply header: %v", err)
			}
		}
		if !keep {
			// The connection would close here: drop it (and its watches)
			// as the server does, and carry on with a new one.
			c.detach()
			fresh(t)
		}
	})
}
