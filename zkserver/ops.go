package zkserver

import (
	"context"
	"strings"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkwire"
)

// zkLastOp are ZooKeeper's short operation names, which cons prints as
// "lop" (FinalRequestProcessor's lastOp).
var zkLastOp = map[int32]string{
	zkwire.OpPing: "PING", zkwire.OpMulti: "MULT", zkwire.OpMultiRead: "MLTR",
	zkwire.OpCreate: "CREA", zkwire.OpCreate2: "CREA", zkwire.OpCreateTTL: "CREA",
	zkwire.OpCreateContainer: "CREA", zkwire.OpDelete: "DELE", zkwire.OpSetData: "SETD",
	zkwire.OpReconfig: "RECO", zkwire.OpSetACL: "SETA", zkwire.OpCloseSession: "CLOS",
	zkwire.OpSync: "SYNC", zkwire.OpCheck: "CHEC", zkwire.OpExists: "EXIS",
	zkwire.OpGetData: "GETD", zkwire.OpSetWatches: "SETW", zkwire.OpSetWatches2: "STW2",
	zkwire.OpAddWatch: "ADDW", zkwire.OpGetACL: "GETA", zkwire.OpGetChildren: "GETC",
	zkwire.OpGetChildren2: "GETC", zkwire.OpGetAllChildrenNumber: "GETACN",
	zkwire.OpCheckWatches: "CHKW", zkwire.OpRemoveWatches: "REMW", zkwire.OpWhoAmI: "HOMI",
	zkwire.OpGetEphemerals: "GETE", zkwire.OpAuth: "AUTH",
}

// process executes one request frame (a RequestHeader and its body) and
// queues the reply. It reports false when the connection must close once
// what is queued has been written. It never panics on any input and touches
// only this connection.
func (c *zkConn) process(frame []byte, start time.Time) bool {
	var h zkwire.RequestHeader
	d := zkwire.NewDecoder(frame)
	h.Decode(d)
	if d.Err() != nil {
		return false // not even a request header: ZooKeeper closes too
	}
	ss := c.sess.Load()
	if ss == nil {
		return false
	}
	st := &c.srv.stats
	st.outstanding.Add(1)
	c.cstats.queued.Add(1)
	keep := c.execute(ss, h, frame[d.Offset():])
	st.outstanding.Add(-1)
	c.cstats.queued.Add(-1)
	end := time.Now()
	st.addLatency(end.Sub(start))
	switch {
	case isUpdate(h.Type):
		st.update.observe(end.Sub(start))
	case isRead(h.Type):
		st.read.observe(end.Sub(start))
	}
	op, ok := zkLastOp[h.Type]
	if !ok {
		op = "NA"
	}
	c.cstats.update(op, h.Xid, c.srv.n.LastZxid(), start, end)
	return keep
}

func (c *zkConn) execute(ss *coord.ServerSession, h zkwire.RequestHeader, body []byte) bool {
	n := c.srv.n
	s := ss.Session()
	if state := s.State(); state != coord.StateSyncConnected {
		switch {
		case state == coord.StateExpired || state == coord.StateClosed:
			c.reply(h.Xid, n.LastZxid(), coord.CodeSessionExpired, nil)
		case isDone(s.Done()):
			// Re-attached elsewhere: ZooKeeper fails the request with
			// SessionMoved and tears the connection down.
			c.reply(h.Xid, n.LastZxid(), coord.CodeSessionMoved, nil)
		}
		// Otherwise this node lost its leader: close so the client looks
		// elsewhere, as a ZooKeeper follower does.
		return false
	}

	switch h.Type {
	case zkwire.OpPing:
		// ZooKeeper answers with the ping xid whatever the request carried.
		c.reply(zkwire.XidPing, n.LastZxid(), coord.CodeOK, nil)
		return true
	case zkwire.OpCloseSession:
		c.closingSession.Store(true)
		err := s.Close(c.ctx)
		c.reply(h.Xid, n.LastZxid(), coord.CodeOf(err), nil)
		return false
	case zkwire.OpSASL:
		// No SASL here. A ZooKeeper server without SASL configured answers
		// OK with a null token (its processSasl finds no SASL server) and
		// carries on; so does this one.
		c.reply(h.Xid, 0, coord.CodeOK, &zkwire.SetSASLResponse{})
		return true
	case zkwire.OpCreate, zkwire.OpCreate2, zkwire.OpCreateContainer, zkwire.OpCreateTTL,
		zkwire.OpDelete, zkwire.OpExists, zkwire.OpGetData, zkwire.OpSetData,
		zkwire.OpGetACL, zkwire.OpSetACL, zkwire.OpGetChildren, zkwire.OpGetChildren2,
		zkwire.OpSync, zkwire.OpMulti, zkwire.OpMultiRead, zkwire.OpReconfig,
		zkwire.OpCheckWatches, zkwire.OpRemoveWatches, zkwire.OpAuth, zkwire.OpSetWatches,
		zkwire.OpGetEphemerals, zkwire.OpGetAllChildrenNumber, zkwire.OpSetWatches2,
		zkwire.OpAddWatch, zkwire.OpWhoAmI:
	default:
		// ZooKeeper's Request.isValid rejects these (check outside a multi
		// and notification included) and its UnimplementedRequestProcessor
		// answers Unimplemented with zxid -1, then closes the connection.
		c.reply(h.Xid, -1, coord.CodeUnimplemented, nil)
		return false
	}

	req, err := c.srv.decodeRequest(h.Type, body)
	if err != nil {
		// ZooKeeper fails a request whose body does not deserialize with
		// MarshallingError and keeps the connection: the framing is intact.
		c.reply(h.Xid, n.LastZxid(), coord.CodeMarshallingError, nil)
		return true
	}
	if h.Type == zkwire.OpAuth {
		return c.auth(s, h.Xid, req.(*zkwire.AuthPacket))
	}
	code, resp := c.op(c.ctx, ss, h.Type, req)
	c.reply(h.Xid, n.LastZxid(), code, resp)
	return true
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// auth adds credentials to the session. As ZooKeeper's processPacket, the
// reply carries zxid 0, and an unknown scheme is answered AuthFailed and
// the connection closed.
func (c *zkConn) auth(s *coord.Session, xid int32, r *zkwire.AuthPacket) bool {
	switch r.Scheme {
	case "digest":
		err := s.AddAuth(c.ctx, "digest", r.Auth)
		c.reply(xid, 0, coord.CodeOf(err), nil)
		return true
	case "ip":
		// ZooKeeper's ip provider adds the peer address, which every
		// connection carries already.
		c.reply(xid, 0, coord.CodeOK, nil)
		return true
	}
	c.reply(xid, 0, coord.CodeAuthFailed, nil)
	return false
}

// op executes a decoded request and returns its code and, for CodeOK, the
// response body.
func (c *zkConn) op(ctx context.Context, ss *coord.ServerSession, op int32, req zkwire.Request) (coord.Code, zkwire.Record) {
	s := ss.Session()
	switch r := req.(type) {
	case *zkwire.CreateRequest:
		mode, ok := wireCreateMode(op, r.Flags)
		if !ok {
			return coord.CodeBadArguments, nil
		}
		p, st, err := ss.Create(ctx, coord.CreateOp{Path: r.Path, Data: r.Data, ACL: aclFromWire(r.ACL), Mode: mode})
		if err != nil {
			return coord.CodeOf(err), nil
		}
		if op == zkwire.OpCreate {
			return coord.CodeOK, &zkwire.CreateResponse{Path: p}
		}
		return coord.CodeOK, &zkwire.Create2Response{Path: p, Stat: statToWire(st)}

	case *zkwire.CreateTTLRequest:
		mode, ok := createMode(r.Flags)
		if !ok || !isTTL(mode) || r.TTL <= 0 || r.TTL > maxTTL {
			// EphemeralType.validateTTL: BadArguments.
			return coord.CodeBadArguments, nil
		}
		p, st, err := ss.Create(ctx, coord.CreateOp{Path: r.Path, Data: r.Data, ACL: aclFromWire(r.ACL), Mode: mode,
			TTL: time.Duration(r.TTL) * time.Millisecond})
		if err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.Create2Response{Path: p, Stat: statToWire(st)}

	case *zkwire.DeleteRequest:
		return coord.CodeOf(ss.Delete(ctx, r.Path, r.Version)), nil

	case *zkwire.ExistsRequest:
		p, found := readPath(r.Path)
		if !found {
			// exists rejects only a NUL, and sets its watch anyway (on a
			// path no node can have).
			if strings.IndexByte(r.Path, 0) >= 0 {
				return coord.CodeBadArguments, nil
			}
			p = r.Path
		}
		ok, st, err := ss.Exists(ctx, p, r.Watch && p == r.Path)
		switch {
		case err != nil:
			return coord.CodeOf(err), nil
		case !ok:
			// ZooKeeper answers NoNode, with the watch (if asked) set.
			return coord.CodeNoNode, nil
		}
		return coord.CodeOK, &zkwire.ExistsResponse{Stat: statToWire(st)}

	case *zkwire.GetDataRequest:
		p, found := readPath(r.Path)
		if !found {
			return coord.CodeNoNode, nil
		}
		data, st, err := ss.GetData(ctx, p, r.Watch && p == r.Path)
		if err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.GetDataResponse{Data: data, Stat: statToWire(st)}

	case *zkwire.SetDataRequest:
		st, err := s.SetData(ctx, r.Path, r.Data, r.Version)
		if err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.SetDataResponse{Stat: statToWire(st)}

	case *zkwire.GetACLRequest:
		p, found := readPath(r.Path)
		if !found {
			return coord.CodeNoNode, nil
		}
		acl, st, err := s.GetACL(ctx, p)
		if err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.GetACLResponse{ACL: aclToWire(acl), Stat: statToWire(st)}

	case *zkwire.SetACLRequest:
		st, err := s.SetACL(ctx, r.Path, aclFromWire(r.ACL), r.Version)
		if err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.SetACLResponse{Stat: statToWire(st)}

	case *zkwire.GetChildrenRequest:
		p, found := readPath(r.Path)
		if !found {
			return coord.CodeNoNode, nil
		}
		names, _, err := ss.GetChildren(ctx, p, r.Watch && p == r.Path)
		if err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.GetChildrenResponse{Children: names}

	case *zkwire.GetChildren2Request:
		p, found := readPath(r.Path)
		if !found {
			return coord.CodeNoNode, nil
		}
		names, st, err := ss.GetChildren(ctx, p, r.Watch && p == r.Path)
		if err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.GetChildren2Response{Children: names, Stat: statToWire(st)}

	case *zkwire.SyncRequest:
		// ZooKeeper neither validates nor uses the path; it echoes it.
		if _, err := s.Sync(ctx, "/"); err != nil {
			return coord.CodeOf(err), nil
		}
		return coord.CodeOK, &zkwire.SyncResponse{Path: r.Path}

	case *zkwire.MultiRequest:
		if op == zkwire.OpMultiRead {
			return c.multiRead(ctx, ss, r)
		}
		return c.multi(ctx, ss, r)

	case *zkwire.ReconfigRequest:
		// ZooKeeper with reconfigEnabled=false (its default) answers
		// ReconfigDisabled; membership here follows the Node's config.
		return coord.CodeReconfigDisabled, nil

	case *zkwire.CheckWatchesRequest:
		return removeWatches(ss, r.Path, r.Type, true), nil

	case *zkwire.RemoveWatchesRequest:
		return removeWatches(ss, r.Path, r.Type, false), nil

	case *zkwire.SetWatches:
		ss.SetWatches(r.RelativeZxid, coord.WatchSet{Data: r.DataWatches, Exist: r.ExistWatches, Child: r.ChildWatches})
		return coord.CodeOK, nil

	case *zkwire.SetWatches2:
		ss.SetWatches(r.RelativeZxid, coord.WatchSet{Data: r.DataWatches, Exist: r.ExistWatches, Child: r.ChildWatches,
			Persistent: r.PersistentWatches, PersistentRecursive: r.PersistentRecursiveWatches})
		return coord.CodeOK, nil

	case *zkwire.AddWatchRequest:
		mode, ok := addWatchModes[r.Mode]
		if !ok {
			// WatcherMode.fromZooDef throws; FinalRequestProcessor turns
			// that into MarshallingError.
			return coord.CodeMarshallingError, nil
		}
		// ZooKeeper neither validates the path nor checks ACLs here.
		if err := ss.AddWatch(r.Path, mode); err != nil {
			return coord.CodeOf(err), nil
		}
		// ZooKeeper answers addWatch with an ErrorResponse{0} body.
		return coord.CodeOK, &zkwire.ErrorResponse{Err: 0}

	case *zkwire.GetEphemeralsRequest:
		// A plain string prefix, not validated, trimmed as ZooKeeper does.
		return coord.CodeOK, &zkwire.GetEphemeralsResponse{Ephemerals: ss.Ephemerals(strings.TrimSpace(r.PrefixPath))}

	case *zkwire.GetAllChildrenNumberRequest:
		p, found := readPath(r.Path)
		if !found {
			return coord.CodeNoNode, nil
		}
		num, err := s.GetAllChildrenNumber(ctx, p)
		if err != nil {
			return coord.CodeOf(err), nil
		}
		if r.Path == "" {
			num++ // ZooKeeper counts its node map's keys under "/": "/" too
		}
		return coord.CodeOK, &zkwire.GetAllChildrenNumberResponse{TotalNumber: int32(num)}

	case *zkwire.WhoAmIRequest:
		return coord.CodeOK, &zkwire.WhoAmIResponse{ClientInfo: clientInfos(ss.Identities())}
	}
	return coord.CodeUnimplemented, nil
}

// readPath is the node a read names, as ZooKeeper's node map sees it:
// ZooKeeper does not validate read paths, so an invalid one names no node,
// and "" is the root's other key in that map. (A watch asked for with "" is
// not set: it could never fire in ZooKeeper either.)
func readPath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if coord.ValidatePath(p) != nil {
		return "", false
	}
	return p, true
}

// wireCreateMode maps a create opcode and its flags to a CreateMode the way
// ZooKeeper's PrepRequestProcessor does: flags outside 0..6 are
// BadArguments; TTL flags pass through and fail in apply for want of a TTL
// (validateTTL); otherwise createContainer always makes a container, and
// create or create2 with the container flag a plain persistent node (a
// CreateTxn carries only "ephemeral").
func wireCreateMode(op, flags int32) (coord.CreateMode, bool) {
	mode, ok := createMode(flags)
	if !ok {
		return 0, false
	}
	switch {
	case isTTL(mode):
	case op == zkwire.OpCreateContainer:
		return coord.Container, true
	case mode == coord.Container:
		return coord.Persistent, true
	}
	return mode, true
}

// removeWatches is checkWatches (dryRun) and removeWatches. As ZooKeeper,
// the path is neither validated nor ACL-checked, and the server sends no
// notification: clients make the removal events themselves.
func removeWatches(ss *coord.ServerSession, path string, typ int32, dryRun bool) coord.Code {
	t, ok := watcherTypes[typ]
	if !ok {
		return coord.CodeMarshallingError // WatcherType.fromInt throws
	}
	if dryRun {
		return coord.CodeOf(ss.CheckWatches(path, t))
	}
	return coord.CodeOf(ss.RemoveWatches(path, t))
}

// clientInfos is whoAmI's answer (ZooKeeper's AuthUtil.getClientInfos):
// each identity's scheme and user name — the address for ip, the user for
// digest.
func clientInfos(ids []coord.ID) []zkwire.ClientInfo {
	out := make([]zkwire.ClientInfo, 0, len(ids))
	for _, id := range ids {
		user := id.ID
		if id.Scheme == "digest" {
			user, _, _ = strings.Cut(id.ID, ":")
		}
		out = append(out, zkwire.ClientInfo{AuthScheme: id.Scheme, User: user})
	}
	return out
}

// multi runs a multi (14): writes only, all or nothing. On failure the
// reply's err is 0 and every result is an error result: 0 before the
// failing op, its code for it, RuntimeInconsistency after it. The ops go to
// the engine unvalidated, as single writes do: it checks each in
// ZooKeeper's order, so a bad path fails at its place unless an earlier op
// fails first.
func (c *zkConn) multi(ctx context.Context, ss *coord.ServerSession, r *zkwire.MultiRequest) (coord.Code, zkwire.Record) {
	ops := make([]coord.Op, 0, len(r.Ops))
	types := make([]int32, 0, len(r.Ops))
	for _, op := range r.Ops {
		typ := op.Type
		var sub coord.Op
		switch q := op.Req.(type) {
		case *zkwire.CreateRequest:
			// MultiOperationRecord.deserialize: CreateMode.fromFlag throws
			// on an unknown flag, and CreateOptions on a TTL mode (no TTL
			// here); either fails the whole request.
			mode, ok := createMode(q.Flags)
			if !ok || isTTL(mode) {
				return coord.CodeMarshallingError, nil
			}
			// Op.create picks createContainer for the container flag, and
			// a createContainer op makes a container whatever its flags.
			if typ == zkwire.OpCreateContainer || mode == coord.Container {
				mode, typ = coord.Container, zkwire.OpCreateContainer
			}
			sub = &coord.CreateOp{Path: q.Path, Data: q.Data, ACL: aclFromWire(q.ACL), Mode: mode}
		case *zkwire.CreateTTLRequest:
			// Op.create(…, flags, ttl): an unknown flag means persistent,
			// and a mode without TTL makes a plain create (the TTL is
			// dropped). A bad TTL fails in the engine, at its place.
			mode, ok := createMode(q.Flags)
			if !ok {
				mode = coord.Persistent
			}
			cop := &coord.CreateOp{Path: q.Path, Data: q.Data, ACL: aclFromWire(q.ACL), Mode: mode}
			if isTTL(mode) {
				// Past maxTTL is as bad as any: keep it so without
				// overflowing a Duration.
				cop.TTL = time.Duration(min(max(q.TTL, 0), maxTTL+1)) * time.Millisecond
			} else {
				typ = zkwire.OpCreate
			}
			sub = cop
		case *zkwire.DeleteRequest:
			sub = &coord.DeleteOp{Path: q.Path, Version: q.Version}
		case *zkwire.SetDataRequest:
			sub = &coord.SetDataOp{Path: q.Path, Data: q.Data, Version: q.Version}
		case *zkwire.CheckVersionRequest:
			sub = &coord.CheckOp{Path: q.Path, Version: q.Version}
		default:
			// Read ops belong in multiRead.
			return coord.CodeMarshallingError, nil
		}
		ops = append(ops, sub)
		types = append(types, typ)
	}
	res, err := ss.Multi(ctx, ops...)
	if res == nil {
		return coord.CodeOf(err), nil
	}
	resp := &zkwire.MultiResponse{Results: make([]zkwire.MultiResult, len(res))}
	if err != nil {
		for i, sub := range res {
			resp.Results[i] = zkwire.ErrorResult(errCode(sub.Err))
		}
		return coord.CodeOK, resp
	}
	for i, sub := range res {
		mr := zkwire.MultiResult{Type: types[i]}
		switch types[i] {
		case zkwire.OpCreate:
			mr.Path = sub.Path
		case zkwire.OpCreate2, zkwire.OpCreateTTL, zkwire.OpCreateContainer:
			mr.Path, mr.Stat = sub.Path, statToWire(sub.Stat)
		case zkwire.OpSetData:
			mr.Stat = statToWire(sub.Stat)
		}
		resp.Results[i] = mr
	}
	return coord.CodeOK, resp
}

// multiRead runs a multiRead (22): getData and getChildren, each on its
// own (not atomic), each a result or an error result. No watches are set,
// as in ZooKeeper (its Op.getData carries no watch flag).
func (c *zkConn) multiRead(ctx context.Context, ss *coord.ServerSession, r *zkwire.MultiRequest) (coord.Code, zkwire.Record) {
	resp := &zkwire.MultiResponse{Results: make([]zkwire.MultiResult, 0, len(r.Ops))}
	for _, op := range r.Ops {
		switch q := op.Req.(type) {
		case *zkwire.GetDataRequest:
			p, found := readPath(q.Path)
			if !found {
				resp.Results = append(resp.Results, zkwire.ErrorResult(zkwire.CodeNoNode))
				continue
			}
			data, st, err := ss.GetData(ctx, p, false)
			if err != nil {
				resp.Results = append(resp.Results, zkwire.ErrorResult(errCode(err)))
				continue
			}
			resp.Results = append(resp.Results, zkwire.MultiResult{Type: zkwire.OpGetData, Data: data, Stat: statToWire(st)})
		case *zkwire.GetChildrenRequest:
			p, found := readPath(q.Path)
			if !found {
				resp.Results = append(resp.Results, zkwire.ErrorResult(zkwire.CodeNoNode))
				continue
			}
			names, _, err := ss.GetChildren(ctx, p, false)
			if err != nil {
				resp.Results = append(resp.Results, zkwire.ErrorResult(errCode(err)))
				continue
			}
			resp.Results = append(resp.Results, zkwire.MultiResult{Type: zkwire.OpGetChildren, Children: names})
		default:
			// FinalRequestProcessor: "Invalid type of readOp" fails the
			// whole request with MarshallingError; it sends the results
			// gathered so far along (clients ignore a body after an error).
			return coord.CodeMarshallingError, resp
		}
	}
	return coord.CodeOK, resp
}
