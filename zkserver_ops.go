package coord

import (
	"context"
	"strings"
	"time"

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
	s := c.sess.Load()
	if s == nil {
		return false
	}
	st := &c.srv.stats
	st.outstanding.Add(1)
	c.cstats.queued.Add(1)
	keep := c.execute(s, h, frame[d.Offset():])
	st.outstanding.Add(-1)
	c.cstats.queued.Add(-1)
	end := time.Now()
	st.addLatency(end.Sub(start))
	op, ok := zkLastOp[h.Type]
	if !ok {
		op = "NA"
	}
	c.cstats.update(op, h.Xid, c.srv.n.LastZxid(), start, end)
	return keep
}

func (c *zkConn) execute(s *Session, h zkwire.RequestHeader, body []byte) bool {
	n := c.srv.n
	if state := s.State(); state != StateSyncConnected {
		switch {
		case state == StateExpired || state == StateClosed:
			c.reply(h.Xid, n.LastZxid(), CodeSessionExpired, nil)
		case isDone(s.Done()):
			// Re-attached elsewhere: ZooKeeper fails the request with
			// SessionMoved and tears the connection down.
			c.reply(h.Xid, n.LastZxid(), CodeSessionMoved, nil)
		}
		// Otherwise this node lost its leader: close so the client looks
		// elsewhere, as a ZooKeeper follower does.
		return false
	}

	switch h.Type {
	case zkwire.OpPing:
		// ZooKeeper answers with the ping xid whatever the request carried.
		c.reply(zkwire.XidPing, n.LastZxid(), CodeOK, nil)
		return true
	case zkwire.OpCloseSession:
		c.closingSession.Store(true)
		err := s.Close(c.ctx)
		c.reply(h.Xid, n.LastZxid(), CodeOf(err), nil)
		return false
	case zkwire.OpSASL:
		// No SASL here. A ZooKeeper server without SASL configured answers
		// OK with a null token (its processSasl finds no SASL server) and
		// carries on; so does this one.
		c.reply(h.Xid, 0, CodeOK, &zkwire.SetSASLResponse{})
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
		c.reply(h.Xid, -1, CodeUnimplemented, nil)
		return false
	}

	req, err := zkwire.DecodeRequest(h.Type, body)
	if err != nil {
		// ZooKeeper fails a request whose body does not deserialize with
		// MarshallingError and keeps the connection: the framing is intact.
		c.reply(h.Xid, n.LastZxid(), CodeMarshallingError, nil)
		return true
	}
	if h.Type == zkwire.OpAuth {
		return c.auth(s, h.Xid, req.(*zkwire.AuthPacket))
	}
	code, resp := c.op(c.ctx, s, h.Type, req)
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
func (c *zkConn) auth(s *Session, xid int32, r *zkwire.AuthPacket) bool {
	switch r.Scheme {
	case "digest":
		err := s.AddAuth(c.ctx, "digest", r.Auth)
		c.reply(xid, 0, CodeOf(err), nil)
		return true
	case "ip":
		// ZooKeeper's ip provider adds the peer address, which every
		// connection carries already.
		c.reply(xid, 0, CodeOK, nil)
		return true
	}
	c.reply(xid, 0, CodeAuthFailed, nil)
	return false
}

// op executes a decoded request and returns its code and, for CodeOK, the
// response body.
func (c *zkConn) op(ctx context.Context, s *Session, op int32, req zkwire.Request) (Code, zkwire.Record) {
	// Watches set through this connection deliver to it; the connection
	// is also their group, so a trigger sends it one notification.
	var sink watchSink
	var group any
	watch := func(w bool) {
		sink, group = nil, nil
		if w {
			sink, group = c, c
		}
	}
	switch r := req.(type) {
	case *zkwire.CreateRequest:
		mode, ok := wireCreateMode(op, r.Flags)
		if !ok {
			return CodeBadArguments, nil
		}
		res, err := s.write(ctx, "create", r.Path, command{kind: opCreate, path: r.Path, data: r.Data, acl: aclFromWire(r.ACL), mode: mode})
		if err != nil {
			return CodeOf(err), nil
		}
		if op == zkwire.OpCreate {
			return CodeOK, &zkwire.CreateResponse{Path: res.path}
		}
		return CodeOK, &zkwire.Create2Response{Path: res.path, Stat: statToWire(res.stat)}

	case *zkwire.CreateTTLRequest:
		mode := CreateMode(r.Flags)
		if !mode.isTTL() || r.TTL <= 0 || r.TTL > ttlMask {
			// EphemeralType.validateTTL: BadArguments.
			return CodeBadArguments, nil
		}
		res, err := s.write(ctx, "create", r.Path, command{kind: opCreate, path: r.Path, data: r.Data, acl: aclFromWire(r.ACL), mode: mode, ttl: r.TTL})
		if err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.Create2Response{Path: res.path, Stat: statToWire(res.stat)}

	case *zkwire.DeleteRequest:
		_, err := s.write(ctx, "delete", r.Path, command{kind: opDelete, path: r.Path, version: r.Version})
		return CodeOf(err), nil

	case *zkwire.ExistsRequest:
		p, found := readPath(r.Path)
		if !found {
			// exists rejects only a NUL, and sets its watch anyway.
			if strings.IndexByte(r.Path, 0) >= 0 {
				return CodeBadArguments, nil
			}
			if r.Watch {
				s.addPersistentWatch(r.Path, watchData, c, c)
			}
			return CodeNoNode, nil
		}
		watch(r.Watch && p == r.Path)
		ok, st, err := s.exists(ctx, p, sink, group)
		switch {
		case err != nil:
			return CodeOf(err), nil
		case !ok:
			// ZooKeeper answers NoNode, with the watch (if asked) set.
			return CodeNoNode, nil
		}
		return CodeOK, &zkwire.ExistsResponse{Stat: statToWire(st)}

	case *zkwire.GetDataRequest:
		p, found := readPath(r.Path)
		if !found {
			return CodeNoNode, nil
		}
		watch(r.Watch && p == r.Path)
		data, st, err := s.getData(ctx, p, sink, group)
		if err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.GetDataResponse{Data: data, Stat: statToWire(st)}

	case *zkwire.SetDataRequest:
		st, err := s.SetData(ctx, r.Path, r.Data, r.Version)
		if err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.SetDataResponse{Stat: statToWire(st)}

	case *zkwire.GetACLRequest:
		p, found := readPath(r.Path)
		if !found {
			return CodeNoNode, nil
		}
		acl, st, err := s.GetACL(ctx, p)
		if err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.GetACLResponse{ACL: aclToWire(acl), Stat: statToWire(st)}

	case *zkwire.SetACLRequest:
		st, err := s.SetACL(ctx, r.Path, aclFromWire(r.ACL), r.Version)
		if err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.SetACLResponse{Stat: statToWire(st)}

	case *zkwire.GetChildrenRequest:
		p, found := readPath(r.Path)
		if !found {
			return CodeNoNode, nil
		}
		watch(r.Watch && p == r.Path)
		names, _, err := s.getChildren(ctx, p, sink, group)
		if err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.GetChildrenResponse{Children: names}

	case *zkwire.GetChildren2Request:
		p, found := readPath(r.Path)
		if !found {
			return CodeNoNode, nil
		}
		watch(r.Watch && p == r.Path)
		names, st, err := s.getChildren(ctx, p, sink, group)
		if err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.GetChildren2Response{Children: names, Stat: statToWire(st)}

	case *zkwire.SyncRequest:
		// ZooKeeper neither validates nor uses the path; it echoes it.
		if _, err := s.Sync(ctx, "/"); err != nil {
			return CodeOf(err), nil
		}
		return CodeOK, &zkwire.SyncResponse{Path: r.Path}

	case *zkwire.MultiRequest:
		if op == zkwire.OpMultiRead {
			return c.multiRead(ctx, s, r)
		}
		return c.multi(ctx, s, r)

	case *zkwire.ReconfigRequest:
		// ZooKeeper with reconfigEnabled=false (its default) answers
		// ReconfigDisabled; membership here follows Config.Peers.
		return CodeReconfigDisabled, nil

	case *zkwire.CheckWatchesRequest:
		return c.removeWatches(s, r.Path, r.Type, true), nil

	case *zkwire.RemoveWatchesRequest:
		return c.removeWatches(s, r.Path, r.Type, false), nil

	case *zkwire.SetWatches:
		c.setWatches(s, r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches, nil, nil)
		return CodeOK, nil

	case *zkwire.SetWatches2:
		c.setWatches(s, r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches,
			r.PersistentWatches, r.PersistentRecursiveWatches)
		return CodeOK, nil

	case *zkwire.AddWatchRequest:
		var kind watchKind
		switch r.Mode {
		case zkwire.AddWatchPersistent:
			kind = watchPersistent
		case zkwire.AddWatchPersistentRecursive:
			kind = watchRecursive
		default:
			// WatcherMode.fromZooDef throws; FinalRequestProcessor turns
			// that into MarshallingError.
			return CodeMarshallingError, nil
		}
		// ZooKeeper neither validates the path nor checks ACLs here.
		s.addPersistentWatch(r.Path, kind, c, c)
		// ZooKeeper answers addWatch with an ErrorResponse{0} body.
		return CodeOK, &zkwire.ErrorResponse{Err: 0}

	case *zkwire.GetEphemeralsRequest:
		return CodeOK, &zkwire.GetEphemeralsResponse{Ephemerals: c.ephemerals(s, r.PrefixPath)}

	case *zkwire.GetAllChildrenNumberRequest:
		p, found := readPath(r.Path)
		if !found {
			return CodeNoNode, nil
		}
		num, err := s.GetAllChildrenNumber(ctx, p)
		if err != nil {
			return CodeOf(err), nil
		}
		if r.Path == "" {
			num++ // ZooKeeper counts its node map's keys under "/": "/" too
		}
		return CodeOK, &zkwire.GetAllChildrenNumberResponse{TotalNumber: int32(num)}

	case *zkwire.WhoAmIRequest:
		return CodeOK, &zkwire.WhoAmIResponse{ClientInfo: clientInfos(s.identities())}
	}
	return CodeUnimplemented, nil
}

// readPath is the node a read names, as ZooKeeper's node map sees it:
// ZooKeeper does not validate read paths, so an invalid one names no node,
// and "" is the root's other key in that map. (A watch asked for with "" is
// not set: it could never fire in ZooKeeper either.)
func readPath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if pathProblem(p) != "" {
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
func wireCreateMode(op, flags int32) (CreateMode, bool) {
	mode := CreateMode(flags)
	if !mode.valid() {
		return 0, false
	}
	switch {
	case mode.isTTL():
	case op == zkwire.OpCreateContainer:
		return Container, true
	case mode == Container:
		return Persistent, true
	}
	return mode, true
}

// removeWatches is checkWatches (dryRun) and removeWatches. As ZooKeeper,
// the path is neither validated nor ACL-checked, and the server sends no
// notification: clients make the removal events themselves.
func (c *zkConn) removeWatches(s *Session, path string, typ int32, dryRun bool) Code {
	if typ < zkwire.WatcherChildren || typ > zkwire.WatcherPersistentRecursive {
		return CodeMarshallingError // WatcherType.fromInt throws
	}
	if !s.n.watches.remove(s.owner, path, WatcherType(typ), dryRun) {
		return CodeNoWatcher
	}
	return CodeOK
}

// setWatches re-registers a reconnecting client's watches, with
// ZooKeeper's catch-up (DataTree.setWatches) relative to the last zxid the
// client saw: a data watch on a missing node fires NodeDeleted, on a node
// changed since NodeDataChanged; an exist watch on a present node fires
// NodeCreated; a child watch on a missing node fires NodeDeleted, on a node
// whose children changed since NodeChildrenChanged. A watch that fires is
// not registered. Persistent watches are registered with no catch-up. The
// tree is read-locked throughout, so nothing can change between a check and
// its registration.
func (c *zkConn) setWatches(s *Session, rel int64, data, exist, child, persistent, recursive []string) {
	f := s.n.fsm
	f.mu.RLock()
	defer f.mu.RUnlock()
	nodes := f.t.nodes
	fire := func(t EventType, p string) {
		c.deliver(Event{Type: t, State: StateSyncConnected, Path: p, Zxid: -1})
	}
	for _, p := range data {
		switch z := nodes[p]; {
		case z == nil:
			fire(EventNodeDeleted, p)
		case z.mzxid > rel:
			fire(EventNodeDataChanged, p)
		default:
			s.addWatch(p, watchData, c, c)
		}
	}
	for _, p := range exist {
		if nodes[p] != nil {
			fire(EventNodeCreated, p)
		} else {
			s.addWatch(p, watchData, c, c)
		}
	}
	for _, p := range child {
		switch z := nodes[p]; {
		case z == nil:
			fire(EventNodeDeleted, p)
		case z.pzxid > rel:
			fire(EventNodeChildrenChanged, p)
		default:
			s.addWatch(p, watchChild, c, c)
		}
	}
	for _, p := range persistent {
		s.addWatch(p, watchPersistent, c, c)
	}
	for _, p := range recursive {
		s.addWatch(p, watchRecursive, c, c)
	}
}

// ephemerals is getEphemerals as ZooKeeper answers it: every ephemeral of
// the session when the prefix is empty or "/", else those whose path starts
// with the prefix (a plain string prefix, not validated).
func (c *zkConn) ephemerals(s *Session, prefix string) []string {
	prefix = strings.TrimSpace(prefix)
	f := s.n.fsm
	f.mu.RLock()
	defer f.mu.RUnlock()
	e := f.t.sessions[s.id]
	if e == nil {
		return nil
	}
	out := make([]string, 0, len(e.ephemerals))
	for p := range e.ephemerals {
		if prefix == "" || prefix == "/" || strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// clientInfos is whoAmI's answer (ZooKeeper's AuthUtil.getClientInfos):
// each identity's scheme and user name — the address for ip, the user for
// digest.
func clientInfos(ids []ID) []zkwire.ClientInfo {
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
// apply unvalidated, as single writes do: apply checks each in ZooKeeper's
// order, so a bad path fails at its place unless an earlier op fails first.
func (c *zkConn) multi(ctx context.Context, s *Session, r *zkwire.MultiRequest) (Code, zkwire.Record) {
	cmd := command{kind: opMulti, ops: make([]command, 0, len(r.Ops))}
	types := make([]int32, 0, len(r.Ops))
	for _, op := range r.Ops {
		typ := op.Type
		var sub command
		switch q := op.Req.(type) {
		case *zkwire.CreateRequest:
			// MultiOperationRecord.deserialize: CreateMode.fromFlag throws
			// on an unknown flag, and CreateOptions on a TTL mode (no TTL
			// here); either fails the whole request.
			mode := CreateMode(q.Flags)
			if !mode.valid() || mode.isTTL() {
				return CodeMarshallingError, nil
			}
			// Op.create picks createContainer for the container flag, and
			// a createContainer op makes a container whatever its flags.
			if typ == zkwire.OpCreateContainer || mode == Container {
				mode, typ = Container, zkwire.OpCreateContainer
			}
			sub = command{kind: opCreate, path: q.Path, data: q.Data, acl: aclFromWire(q.ACL), mode: mode}
		case *zkwire.CreateTTLRequest:
			// Op.create(…, flags, ttl): an unknown flag means persistent,
			// and a mode without TTL makes a plain create (the TTL is
			// dropped). A bad TTL fails in apply, at its place.
			mode := CreateMode(q.Flags)
			if !mode.valid() {
				mode = Persistent
			}
			sub = command{kind: opCreate, path: q.Path, data: q.Data, acl: aclFromWire(q.ACL), mode: mode}
			if mode.isTTL() {
				sub.ttl = max(q.TTL, 0)
			} else {
				typ = zkwire.OpCreate
			}
		case *zkwire.DeleteRequest:
			sub = command{kind: opDelete, path: q.Path, version: q.Version}
		case *zkwire.SetDataRequest:
			sub = command{kind: opSetData, path: q.Path, data: q.Data, version: q.Version}
		case *zkwire.CheckVersionRequest:
			sub = command{kind: opCheck, path: q.Path, version: q.Version}
		default:
			// Read ops belong in multiRead.
			return CodeMarshallingError, nil
		}
		cmd.ops = append(cmd.ops, sub)
		types = append(types, typ)
	}
	res, err := s.write(ctx, "multi", "", cmd)
	if res.multi == nil {
		return CodeOf(err), nil
	}
	resp := &zkwire.MultiResponse{Results: make([]zkwire.MultiResult, len(res.multi))}
	if res.err != CodeOK {
		for i, sub := range res.multi {
			resp.Results[i] = zkwire.ErrorResult(zkwire.ErrCode(sub.err))
		}
		return CodeOK, resp
	}
	for i, sub := range res.multi {
		mr := zkwire.MultiResult{Type: types[i]}
		switch types[i] {
		case zkwire.OpCreate:
			mr.Path = sub.path
		case zkwire.OpCreate2, zkwire.OpCreateTTL, zkwire.OpCreateContainer:
			mr.Path, mr.Stat = sub.path, statToWire(sub.stat)
		case zkwire.OpSetData:
			mr.Stat = statToWire(sub.stat)
		}
		resp.Results[i] = mr
	}
	return CodeOK, resp
}

// multiRead runs a multiRead (22): getData and getChildren, each on its
// own (not atomic), each a result or an error result. No watches are set,
// as in ZooKeeper (its Op.getData carries no watch flag).
func (c *zkConn) multiRead(ctx context.Context, s *Session, r *zkwire.MultiRequest) (Code, zkwire.Record) {
	resp := &zkwire.MultiResponse{Results: make([]zkwire.MultiResult, 0, len(r.Ops))}
	for _, op := range r.Ops {
		switch q := op.Req.(type) {
		case *zkwire.GetDataRequest:
			p, found := readPath(q.Path)
			if !found {
				resp.Results = append(resp.Results, zkwire.ErrorResult(zkwire.CodeNoNode))
				continue
			}
			data, st, err := s.getData(ctx, p, nil, nil)
			if err != nil {
				resp.Results = append(resp.Results, zkwire.ErrorResult(zkwire.ErrCode(CodeOf(err))))
				continue
			}
			resp.Results = append(resp.Results, zkwire.MultiResult{Type: zkwire.OpGetData, Data: data, Stat: statToWire(st)})
		case *zkwire.GetChildrenRequest:
			p, found := readPath(q.Path)
			if !found {
				resp.Results = append(resp.Results, zkwire.ErrorResult(zkwire.CodeNoNode))
				continue
			}
			names, _, err := s.getChildren(ctx, p, nil, nil)
			if err != nil {
				resp.Results = append(resp.Results, zkwire.ErrorResult(zkwire.ErrCode(CodeOf(err))))
				continue
			}
			resp.Results = append(resp.Results, zkwire.MultiResult{Type: zkwire.OpGetChildren, Children: names})
		default:
			// FinalRequestProcessor: "Invalid type of readOp" fails the
			// whole request with MarshallingError; it sends the results
			// gathered so far along (clients ignore a body after an error).
			return CodeMarshallingError, resp
		}
	}
	return CodeOK, resp
}

// ---------------------------------------------------------------------------
// Conversions

func statToWire(s Stat) zkwire.Stat {
	return zkwire.Stat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: s.EphemeralOwner, DataLength: s.DataLength,
		NumChildren: s.NumChildren, Pzxid: s.Pzxid,
	}
}

// aclFromWire converts a request's ACL list. The result is never nil: an
// empty list on the wire is InvalidACL, not "open" (nil means OpenACL to
// the Go API).
func aclFromWire(in []zkwire.ACL) []ACL {
	out := make([]ACL, 0, len(in))
	for _, a := range in {
		out = append(out, ACL{Perms: Perm(a.Perms), Scheme: a.ID.Scheme, ID: a.ID.ID})
	}
	return out
}

func aclToWire(in []ACL) []zkwire.ACL {
	out := make([]zkwire.ACL, 0, len(in))
	for _, a := range in {
		out = append(out, zkwire.ACL{Perms: int32(a.Perms), ID: zkwire.ID{Scheme: a.Scheme, ID: a.ID}})
	}
	return out
}
