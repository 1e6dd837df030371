package coord

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash/crc64"
	"slices"
	"strings"
)

// znode is one node of the tree. Its path is the key it is stored under.
// Kept small: a million znodes cost a few hundred bytes each beyond data.
type znode struct {
	data     []byte              // never mutated in place: setData replaces it
	children map[string]struct{} // child names; nil when there are none
	czxid    int64
	mzxid    int64
	pzxid    int64
	ctime    int64
	mtime    int64
	owner    int64 // ephemeral session id, ownerContainer, ownerTTLTag|ttl, or 0
	version  int32
	cseq     int32 // children ever created: the sequence counter
	aversion int32
	acl      uint32 // slot in the ACL table
	streamed uint32 // epoch of the snapshot stream that has written this node
}

func (n *znode) stat() Stat {
	owner := n.owner
	if !ownerIsEphemeral(owner) {
		owner = 0
	}
	nc := int32(len(n.children))
	return Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Pzxid: n.pzxid,
		Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: 2*n.cseq - nc, Aversion: n.aversion,
		EphemeralOwner: owner, DataLength: int32(len(n.data)), NumChildren: nc,
	}
}

// sessionEntry is a session's replicated record.
type sessionEntry struct {
	owner      uint64 // tag of the node the session is attached to
	timeout    int32  // ms, as negotiated
	passwd     []byte
	ephemerals map[string]struct{}
}

// result is what apply returns for one command.
type result struct {
	err   Code
	retry bool   // not applied: propose again (the proposer's, see retryResult)
	path  string // create: the path actually created
	stat  Stat
	multi []result
}

// tree is the replicated state: znodes, sessions and the ACL table. It is a
// plain value mutated only by apply, which is deterministic: it reads no
// clock (time comes in the batch), draws no random numbers and never
// depends on map iteration order. Locking is the caller's (see fsm).
type tree struct {
	nodes      map[string]*znode
	acls       *aclTable
	sessions   map[int64]*sessionEntry
	containers map[string]struct{}
	ttls       map[string]struct{}
	zxid       int64             // last zxid handed out; one per applied command
	format     uint8             // the ensemble's active log format (command.go)
	lastBatch  map[uint64]uint64 // origin -> counter of the last batch applied from it
	digest     uint64            // sum of node hashes, kept up to date by apply
	dataSize   int64             // sum of every node's path and data lengths, kept likewise

	cow     *cowSnap      // set while a snapshot streams (see snapshot_cow.go)
	restore *restoreStage // an online restore being staged (restore_apply.go)
	limits  treeLimits
	quota   quotaState // quota index and counters (quota.go)

	// Scratch state of the command being applied.
	now    int64
	undo   []func() // non-nil while a multi records how to roll back
	fired  []firing // watch events of the current command, fired on commit
	unrefs []uint32 // ACL slots to release on commit
	origin uint64   // the proposing node of the command being applied; 0: unknown (tests)
	// effects, when keepEffects is set, collects in order what the caller
	// must do once the commands are applied (takeEffects): apply itself
	// never calls out.
	keepEffects bool
	effects     []effect
	moved       []movedSession  // sessions attached elsewhere, for the node to notify
	closed      []closedSession // sessions ended by apply, for the node to notify
	opened      []int64         // sessions created by apply, for the leader's tracker
	strict      bool            // check invariants after every command (tests)
	invError    error           // first invariant violation seen in strict mode
}

type treeLimits struct {
	maxData      int  // bytes of data per znode
	enforceQuota bool // hard quota limits refuse writes (ZooKeeper's zookeeper.enforceQuota)
}

type firing struct {
	typ  EventType
	path string
	acl  []ACL // of the node the event is about, for the READ check
}

// An effect is one thing apply asks its caller to do, in order, before
// anyone can read the state it produced: fire a watch event, or mark a
// session as ending (before the deletes of its ephemerals fire, so that a
// holder that sees its node go can tell expiry from someone else's
// delete).
type effect struct {
	fire    firing
	zxid    int64 // of the event
	session int64 // nonzero: the session is ending
	expired bool
	// restored, when set, is the state an online restore replaced: the
	// caller catches watches up on what changed (restore_apply.go).
	restored *tree
}

const (
	zkRoot   = "/zookeeper"
	zkQuota  = "/zookeeper/quota"
	zkConfig = "/zookeeper/config"
)

func newTree(limits treeLimits) *tree {
	t := &tree{
		nodes:      make(map[string]*znode),
		acls:       newACLTable(),
		sessions:   make(map[int64]*sessionEntry),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		lastBatch:  make(map[uint64]uint64),
		format:     logFormat1,
		limits:     limits,
	}
	// As ZooKeeper's DataTree: empty (not null) data, and the aversion -1
	// that its setACL(config, READ_ACL_UNSAFE, -1) leaves on the config node.
	open := t.acls.ref(OpenACL)
	root := &znode{data: []byte{}, acl: open}
	t.nodes["/"] = root
	t.digest = nodeHash("/", root) // insert adds the others
	t.dataSize = nodeSize("/", root)
	for _, p := range []string{zkRoot, zkQuota} {
		t.acls.addRef(open)
		t.insert(p, &znode{data: []byte{}, acl: open})
	}
	t.insert(zkConfig, &znode{data: []byte{}, aversion: -1, acl: t.acls.ref(ReadACL)})
	return t
}

// insert links a node under its parent. It does not touch the parent's stat.
func (t *tree) insert(path string, n *znode) {
	t.preserve(path, nil)
	t.nodes[path] = n
	parent, name := parentOf(path)
	p := t.nodes[parent]
	if p.children == nil {
		p.children = make(map[string]struct{})
	}
	p.children[name] = struct{}{}
	t.digest += nodeHash(path, n)
	t.dataSize += nodeSize(path, n)
}

func (t *tree) unlink(path string, n *znode) {
	t.preserve(path, n)
	delete(t.nodes, path)
	parent, name := parentOf(path)
	p := t.nodes[parent]
	delete(p.children, name)
	if len(p.children) == 0 {
		p.children = nil
	}
	t.digest -= nodeHash(path, n)
	t.dataSize -= nodeSize(path, n)
}

// nodeSize is what a node adds to the tree's data size (ZooKeeper's
// approximate_data_size: path and data lengths).
func nodeSize(path string, n *znode) int64 { return int64(len(path) + len(n.data)) }

var crcTable = crc64.MakeTable(crc64.ECMA)

// nodeHash hashes what a client can observe of a node: path, data, stat and
// ACL slot. The tree digest is the sum of these.
func nodeHash(path string, n *znode) uint64 {
	var buf [80]byte
	b := buf[:0]
	b = binary.LittleEndian.AppendUint64(b, uint64(n.czxid))
	b = binary.LittleEndian.AppendUint64(b, uint64(n.mzxid))
	b = binary.LittleEndian.AppendUint64(b, uint64(n.pzxid))
	b = binary.LittleEndian.AppendUint64(b, uint64(n.ctime))
	b = binary.LittleEndian.AppendUint64(b, uint64(n.mtime))
	b = binary.LittleEndian.AppendUint64(b, uint64(n.owner))
	b = binary.LittleEndian.AppendUint32(b, uint32(n.version))
	b = binary.LittleEndian.AppendUint32(b, uint32(n.cseq))
	b = binary.LittleEndian.AppendUint32(b, uint32(n.aversion))
	b = binary.LittleEndian.AppendUint32(b, n.acl)
	h := crc64.Update(0, crcTable, []byte(path))
	h = crc64.Update(h, crcTable, b)
	h = crc64.Update(h, crcTable, n.data)
	return h*0x9e3779b97f4a7c15 + 1
}

// modify runs f on n, keeping the digest (and, inside a multi, the undo
// log) right.
func (t *tree) modify(path string, n *znode, f func(*znode)) {
	t.preserve(path, n)
	t.digest -= nodeHash(path, n)
	t.dataSize -= nodeSize(path, n)
	if t.undo != nil {
		old := *n
		t.undo = append(t.undo, func() {
			// Child links have undo entries of their own (insert/unlink),
			// which may have replaced the map since: keep the current one.
			old.children = n.children
			*n = old
		})
	}
	f(n)
	t.digest += nodeHash(path, n)
	t.dataSize += nodeSize(path, n)
}

// applyBatch applies every entry of b in order and returns their results.
func (t *tree) applyBatch(b *batch) []result {
	return t.applyBatchInto(b, nil)
}

// applyBatchInto is applyBatch writing into res's storage when it is large
// enough.
func (t *tree) applyBatchInto(b *batch, res []result) []result {
	if b.origin != 0 {
		if b.counter <= t.lastBatch[b.origin] {
			return res[:0] // a stale copy: its sender has settled its fate
		}
		t.lastBatch[b.origin] = b.counter
	}
	t.now = b.time
	if cap(res) >= len(b.entries) {
		res = res[:len(b.entries)]
	} else {
		res = make([]result, len(b.entries))
	}
	for i := range b.entries {
		t.origin = b.entries[i].origin
		res[i] = t.applyOne(&b.entries[i].cmd)
	}
	t.origin = 0
	return res
}

// applyOne applies one command: it takes a zxid whether or not the command
// succeeds (ZooKeeper logs failed requests as error transactions), changes
// the tree or returns the ZooKeeper error, and fires the watches.
func (t *tree) applyOne(c *command) result {
	switch c.kind {
	case opSync:
		return result{}
	case opAttachSession:
		return t.attachSession(c)
	case opSetFormat:
		// Only ever rises; the decoder refused a format above this
		// node's, so every replica applies it alike.
		if f := uint8(c.version); f > t.format {
			t.format = f
		}
		return result{}
	case opRestoreChunk:
		return t.restoreChunk(c)
	case opRestoreCommit:
		return t.restoreCommit(c)
	case opRestoreAbort:
		return t.restoreAbort(c)
	}
	if !t.ownedByOrigin(c) {
		return result{err: CodeSessionMoved} // refused before it could take a zxid
	}
	t.zxid++
	zxid := t.zxid
	var r result
	switch c.kind {
	case opMulti:
		r = t.applyMulti(c, zxid)
	case opCreateSession:
		r = t.createSession(c)
	case opCloseSession:
		r = t.closeSession(c, zxid)
	default:
		if c.kind == opCheck {
			r.err = CodeUnimplemented // a bare check is only valid inside a multi
			break
		}
		if c.kind != opDeleteContainer && !t.sessionValid(c.session) {
			r.err = CodeSessionExpired
			break
		}
		r = t.applyOp(c, zxid)
	}
	t.commit(zxid)
	if t.strict && t.invError == nil {
		t.invError = t.checkInvariants()
	}
	return r
}

// commit turns the command's watch events into effects and releases ACL
// references.
func (t *tree) commit(zxid int64) {
	for _, s := range t.unrefs {
		t.acls.unref(s)
	}
	t.unrefs = t.unrefs[:0]
	if t.keepEffects {
		for _, f := range t.fired {
			t.effects = append(t.effects, effect{fire: f, zxid: zxid})
		}
	}
	t.fired = t.fired[:0]
}

// takeEffects returns the effects collected since the last call; the
// slice is reused by the next apply.
func (t *tree) takeEffects() []effect {
	e := t.effects
	t.effects = t.effects[:0]
	return e
}

func (t *tree) fire(typ EventType, path string, n *znode) {
	t.fired = append(t.fired, firing{typ, path, t.acls.get(n.acl)})
}

// sessionValid reports whether a write from session id may proceed. Session
// 0 is the node itself (cleanup commands) and always valid.
func (t *tree) sessionValid(id int64) bool {
	if id == 0 {
		return true
	}
	_, ok := t.sessions[id]
	return ok
}

func (t *tree) applyOp(c *command, zxid int64) result {
	switch c.kind {
	case opCreate:
		return t.create(c, zxid)
	case opDelete:
		return result{err: t.delete(c, zxid)}
	case opSetData:
		return t.setData(c, zxid)
	case opSetACL:
		return t.setACL(c)
	case opCheck:
		return result{err: t.check(c)}
	case opDeleteContainer:
		return result{err: t.deleteContainer(c, zxid)}
	}
	return result{err: CodeUnimplemented}
}

func (t *tree) applyMulti(c *command, zxid int64) result {
	res := result{multi: make([]result, len(c.ops))}
	if !t.sessionValid(c.session) {
		res.err = CodeSessionExpired
		res.multi = nil
		return res
	}
	t.undo = make([]func(), 0, 8)
	digest, dataSize := t.digest, t.dataSize
	failed := -1
	for i := range c.ops {
		op := c.ops[i]
		op.session, op.ids = c.session, c.ids
		var r result
		switch op.kind {
		case opCreate, opDelete, opSetData, opCheck:
			r = t.applyOp(&op, zxid)
		default:
			r.err = CodeUnimplemented
		}
		res.multi[i] = r
		if r.err != CodeOK {
			failed = i
			break
		}
	}
	undo := t.undo
	t.undo = nil
	if failed < 0 {
		return res
	}
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
	t.digest, t.dataSize = digest, dataSize
	t.fired = t.fired[:0]
	t.unrefs = t.unrefs[:0]
	for i := range res.multi {
		switch {
		case i < failed:
			res.multi[i] = result{err: CodeOK}
		case i > failed:
			res.multi[i] = result{err: CodeRuntimeInconsistency}
		default:
			res.multi[i] = result{err: res.multi[i].err}
		}
	}
	res.err = res.multi[failed].err
	return res
}

func (t *tree) perm(n *znode, p Perm, ids []ID) bool {
	return checkPerm(t.acls.get(n.acl), p, ids)
}

func hasNull(p string) bool { return strings.IndexByte(p, 0) >= 0 }

func lastSlash(p string) int { return strings.LastIndexByte(p, '/') }

// create follows the order of ZooKeeper's PrepRequestProcessor: mode and
// TTL, path shape, ACL, parent, CREATE permission, sequence suffix, full
// path validity, existence, ephemeral parent.
func (t *tree) create(c *command, zxid int64) result {
	mode := c.mode
	if !mode.valid() {
		return result{err: CodeBadArguments}
	}
	if mode.isTTL() {
		if c.ttl <= 0 || c.ttl > ttlMask {
			return result{err: CodeBadArguments}
		}
	} else if c.ttl > 0 {
		return result{err: CodeBadArguments}
	}
	if mode.isEphemeral() && c.session == 0 {
		return result{err: CodeBadArguments}
	}
	if lastSlash(c.path) < 0 || hasNull(c.path) {
		return result{err: CodeBadArguments}
	}
	acl, err := fixupACL(c.acl, c.ids, t.format >= logFormat2)
	if err != nil {
		return result{err: CodeInvalidACL}
	}
	parentPath := "/"
	if i := lastSlash(c.path); i > 0 {
		parentPath = c.path[:i]
	}
	parent, ok := t.nodes[parentPath]
	if !ok {
		return result{err: CodeNoNode}
	}
	if !t.perm(parent, PermCreate, c.ids) {
		return result{err: CodeNoAuth}
	}
	path := c.path
	if mode.isSequential() {
		path += seqName(parent.cseq)
	}
	if pathProblem(path) != "" {
		return result{err: CodeBadArguments}
	}
	if _, ok := t.nodes[path]; ok {
		return result{err: CodeNodeExists}
	}
	if ownerIsEphemeral(parent.owner) {
		return result{err: CodeNoChildrenForEphemerals}
	}
	if len(c.data) > t.limits.maxData {
		return result{err: CodeBadArguments}
	}
	if code := t.checkQuota(path, 1, int64(len(c.data))); code != CodeOK {
		return result{err: code}
	}

	var owner int64
	switch {
	case mode.isEphemeral():
		owner = c.session
	case mode == Container:
		owner = ownerContainer
	case mode.isTTL():
		owner = ownerTTLTag | c.ttl
	}
	n := &znode{
		data:  c.data,
		czxid: zxid, mzxid: zxid, pzxid: zxid,
		ctime: t.now, mtime: t.now,
		owner: owner,
		acl:   t.acls.ref(acl),
	}
	if t.undo != nil {
		slot := n.acl
		t.undo = append(t.undo, func() { t.acls.unref(slot) })
	}
	t.modify(parentPath, parent, func(p *znode) {
		p.cseq++
		p.pzxid = zxid
	})
	if t.undo != nil {
		t.undo = append(t.undo, func() { t.unlink(path, n) })
	}
	t.insert(path, n)
	t.trackKind(path, owner, true)
	st := n.stat() // as ZooKeeper, before the quota update (which may rewrite a stats node's data)
	t.updateQuota(path, 1, int64(len(c.data)))
	t.fire(EventNodeCreated, path, n)
	t.fire(EventNodeChildrenChanged, parentPath, parent)
	return result{path: path, stat: st}
}

// trackKind keeps the session's ephemeral set and the container and TTL
// indexes in step with a node's creation (add) or removal.
func (t *tree) trackKind(path string, owner int64, add bool) {
	var set map[string]struct{}
	switch {
	case ownerIsEphemeral(owner):
		if s := t.sessions[owner]; s != nil {
			set = s.ephemerals
		}
	case owner == ownerContainer:
		set = t.containers
	case ownerIsTTL(owner):
		set = t.ttls
	}
	if set == nil {
		return
	}
	if add {
		set[path] = struct{}{}
	} else {
		delete(set, path)
	}
	if t.undo != nil {
		t.undo = append(t.undo, func() {
			if add {
				delete(set, path)
			} else {
				set[path] = struct{}{}
			}
		})
	}
}

func isSpecialPath(p string) bool {
	return p == "/" || p == zkRoot || p == zkQuota || p == zkConfig
}

// delete follows ZooKeeper: path shape, parent, DELETE on the parent,
// node, version, children.
func (t *tree) delete(c *command, zxid int64) Code {
	i := lastSlash(c.path)
	if i < 0 || hasNull(c.path) || isSpecialPath(c.path) {
		return CodeBadArguments
	}
	parentPath := "/"
	if i > 0 {
		parentPath = c.path[:i]
	}
	parent, ok := t.nodes[parentPath]
	if !ok {
		return CodeNoNode
	}
	if !t.perm(parent, PermDelete, c.ids) {
		return CodeNoAuth
	}
	n, ok := t.nodes[c.path]
	if !ok {
		return CodeNoNode
	}
	if c.version != -1 && c.version != n.version {
		return CodeBadVersion
	}
	if len(n.children) > 0 {
		return CodeNotEmpty
	}
	t.remove(c.path, parentPath, n, parent, zxid)
	return CodeOK
}

// remove deletes a childless node and does everything that goes with it.
func (t *tree) remove(path, parentPath string, n, parent *znode, zxid int64) {
	t.modify(parentPath, parent, func(p *znode) { p.pzxid = zxid })
	t.unlink(path, n)
	if t.undo != nil {
		t.undo = append(t.undo, func() { t.insert(path, n) })
	}
	t.unrefs = append(t.unrefs, n.acl)
	t.trackKind(path, n.owner, false)
	t.updateQuota(path, -1, -int64(len(n.data)))
	t.fire(EventNodeDeleted, path, n)
	t.fire(EventNodeChildrenChanged, parentPath, parent)
}

func (t *tree) setData(c *command, zxid int64) result {
	if pathProblem(c.path) != "" {
		return result{err: CodeBadArguments}
	}
	n, ok := t.nodes[c.path]
	if !ok {
		return result{err: CodeNoNode}
	}
	if !t.perm(n, PermWrite, c.ids) {
		return result{err: CodeNoAuth}
	}
	if len(c.data) > t.limits.maxData {
		return result{err: CodeBadArguments}
	}
	if code := t.checkQuota(c.path, 0, int64(len(c.data)-len(n.data))); code != CodeOK {
		return result{err: code}
	}
	if c.version != -1 && c.version != n.version {
		return result{err: CodeBadVersion}
	}
	delta := int64(len(c.data) - len(n.data))
	t.modify(c.path, n, func(n *znode) {
		n.data = c.data
		n.version++
		n.mzxid = zxid
		n.mtime = t.now
	})
	st := n.stat() // as ZooKeeper, before the quota update
	t.updateQuota(c.path, 0, delta)
	t.fire(EventNodeDataChanged, c.path, n)
	return result{stat: st}
}

func (t *tree) setACL(c *command) result {
	if pathProblem(c.path) != "" {
		return result{err: CodeBadArguments}
	}
	acl, err := fixupACL(c.acl, c.ids, t.format >= logFormat2)
	if err != nil {
		return result{err: CodeInvalidACL}
	}
	n, ok := t.nodes[c.path]
	if !ok {
		return result{err: CodeNoNode}
	}
	if !t.perm(n, PermAdmin, c.ids) {
		return result{err: CodeNoAuth}
	}
	if c.version != -1 && c.version != n.aversion {
		return result{err: CodeBadVersion}
	}
	slot := t.acls.ref(acl)
	t.unrefs = append(t.unrefs, n.acl)
	t.modify(c.path, n, func(n *znode) {
		n.acl = slot
		n.aversion++
	})
	return result{stat: n.stat()}
}

func (t *tree) check(c *command) Code {
	if pathProblem(c.path) != "" {
		return CodeBadArguments
	}
	n, ok := t.nodes[c.path]
	if !ok {
		return CodeNoNode
	}
	if !t.perm(n, PermRead, c.ids) {
		return CodeNoAuth
	}
	if c.version != -1 && c.version != n.version {
		return CodeBadVersion
	}
	return CodeOK
}

// deleteContainer removes a container that has had children and has none
// left, or a TTL node that is childless and unmodified for longer than its
// TTL at the batch's time. It re-checks everything: the leader proposed it
// from a possibly stale look.
func (t *tree) deleteContainer(c *command, zxid int64) Code {
	n, ok := t.nodes[c.path]
	if !ok || isSpecialPath(c.path) {
		return CodeNoNode
	}
	if len(n.children) > 0 {
		return CodeNotEmpty
	}
	switch {
	case n.owner == ownerContainer:
		if n.cseq == 0 {
			return CodeBadVersion
		}
	case ownerIsTTL(n.owner):
		if t.now-n.mtime <= ownerTTL(n.owner) {
			return CodeBadVersion
		}
	default:
		return CodeBadVersion
	}
	parentPath, _ := parentOf(c.path)
	t.remove(c.path, parentPath, n, t.nodes[parentPath], zxid)
	return CodeOK
}

func (t *tree) createSession(c *command) result {
	if c.session <= 0 {
		return result{err: CodeBadArguments}
	}
	if _, ok := t.sessions[c.session]; ok {
		return result{err: CodeNodeExists}
	}
	t.sessions[c.session] = &sessionEntry{
		owner:      t.origin,
		timeout:    int32(c.ttl),
		passwd:     c.passwd,
		ephemerals: make(map[string]struct{}),
	}
	t.opened = append(t.opened, c.session)
	return result{}
}

// closeSession ends a session and deletes its ephemerals, in path order so
// every replica fires the same events in the same order.
func (t *tree) closeSession(c *command, zxid int64) result {
	s, ok := t.sessions[c.session]
	if !ok {
		return result{err: CodeSessionExpired}
	}
	if t.keepEffects {
		// Before the deletes below fire their watches (see effect).
		t.effects = append(t.effects, effect{session: c.session, expired: c.expire})
	}
	paths := make([]string, 0, len(s.ephemerals))
	for p := range s.ephemerals {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		n := t.nodes[p]
		parentPath, _ := parentOf(p)
		t.remove(p, parentPath, n, t.nodes[parentPath], zxid)
	}
	delete(t.sessions, c.session)
	t.closed = append(t.closed, closedSession{id: c.session, expired: c.expire})
	return result{}
}

type movedSession struct {
	id   int64
	from uint64 // the node that held it
}

// ownedByOrigin reports whether the command's session is attached to the
// node that proposed it. A session moved to another node refuses the old
// node's writes (ZooKeeper's SessionMoved); the leader's expiry and
// commands of the node itself (session 0) are always allowed.
func (t *tree) ownedByOrigin(c *command) bool {
	if t.origin == 0 || c.session == 0 || (c.kind == opCloseSession && c.expire) || c.kind == opCreateSession {
		return true
	}
	s := t.sessions[c.session]
	return s == nil || s.owner == 0 || s.owner == t.origin
}

// attachSession moves a session to the proposing node, which has checked
// the password against this same table; apply checks it again.
func (t *tree) attachSession(c *command) result {
	s := t.sessions[c.session]
	if s == nil || subtle.ConstantTimeCompare(s.passwd, c.passwd) != 1 {
		return result{err: CodeSessionExpired}
	}
	if s.owner != t.origin && s.owner != 0 {
		t.moved = append(t.moved, movedSession{id: c.session, from: s.owner})
	}
	s.owner = t.origin
	return result{}
}

type closedSession struct {
	id      int64
	expired bool
}

// takeSessionChanges returns and forgets the sessions created and ended
// since the last call.
func (t *tree) takeSessionChanges() (opened []int64, closed []closedSession, moved []movedSession) {
	opened, closed, moved = t.opened, t.closed, t.moved
	t.opened, t.closed, t.moved = nil, nil, nil
	return opened, closed, moved
}

// checkInvariants verifies what every applied state must satisfy: parent
// links, children sets, ephemeral ownership, container/TTL indexes, ACL
// reference counts, the running digest and the quota index and stats.
func (t *tree) checkInvariants() error {
	var digest uint64
	var dataSize int64
	refs := make(map[uint32]int64)
	for path, n := range t.nodes {
		digest += nodeHash(path, n)
		dataSize += nodeSize(path, n)
		refs[n.acl]++
		if int(n.acl) >= len(t.acls.lists) || t.acls.lists[n.acl].refs == 0 {
			return fmt.Errorf("%s: dangling ACL slot %d", path, n.acl)
		}
		for name := range n.children {
			cp := path + "/" + name
			if path == "/" {
				cp = "/" + name
			}
			if _, ok := t.nodes[cp]; !ok {
				return fmt.Errorf("%s: child %q missing", path, name)
			}
		}
		if n.children != nil && len(n.children) == 0 {
			return fmt.Errorf("%s: empty children map kept", path)
		}
		if path == "/" {
			continue
		}
		pp, name := parentOf(path)
		p, ok := t.nodes[pp]
		if !ok {
			return fmt.Errorf("%s: parent missing", path)
		}
		if _, ok := p.children[name]; !ok {
			return fmt.Errorf("%s: not in parent's children", path)
		}
		if ownerIsEphemeral(p.owner) {
			return fmt.Errorf("%s: child of an ephemeral", path)
		}
		if n.mzxid < n.czxid || n.pzxid < n.czxid || n.czxid > t.zxid {
			return fmt.Errorf("%s: zxids out of order", path)
		}
		// Every child was created under it, unless the int32 counter has
		// wrapped (ZooKeeper's wraps too).
		if n.cseq >= 0 && len(n.children) > int(n.cseq) && n.czxid != 0 {
			return fmt.Errorf("%s: %d children but %d creates", path, len(n.children), n.cseq)
		}
		switch {
		case ownerIsEphemeral(n.owner):
			s, ok := t.sessions[n.owner]
			if !ok {
				return fmt.Errorf("%s: ephemeral of unknown session %d", path, n.owner)
			}
			if _, ok := s.ephemerals[path]; !ok {
				return fmt.Errorf("%s: not in its session's ephemerals", path)
			}
		case n.owner == ownerContainer:
			if _, ok := t.containers[path]; !ok {
				return fmt.Errorf("%s: container not indexed", path)
			}
		case ownerIsTTL(n.owner):
			if _, ok := t.ttls[path]; !ok {
				return fmt.Errorf("%s: TTL node not indexed", path)
			}
		}
	}
	if digest != t.digest {
		return fmt.Errorf("digest %x, recomputed %x", t.digest, digest)
	}
	if dataSize != t.dataSize {
		return fmt.Errorf("data size %d, recomputed %d", t.dataSize, dataSize)
	}
	for id, s := range t.sessions {
		for p := range s.ephemerals {
			if n, ok := t.nodes[p]; !ok || n.owner != id {
				return fmt.Errorf("session %d lists %s which it does not own", id, p)
			}
		}
	}
	for p := range t.containers {
		if n, ok := t.nodes[p]; !ok || n.owner != ownerContainer {
			return fmt.Errorf("container index lists %s", p)
		}
	}
	for p := range t.ttls {
		if n, ok := t.nodes[p]; !ok || !ownerIsTTL(n.owner) {
			return fmt.Errorf("TTL index lists %s", p)
		}
	}
	for i, e := range t.acls.lists {
		if e.refs != refs[uint32(i)] {
			return fmt.Errorf("ACL slot %d: %d refs counted, %d recorded", i, refs[uint32(i)], e.refs)
		}
	}
	// The free list holds exactly the unused slots, once each, and the
	// index maps each live list's key to its slot: otherwise a later ref
	// would hand out a slot in use.
	free := make(map[uint32]bool, len(t.acls.free))
	for _, i := range t.acls.free {
		if int(i) >= len(t.acls.lists) || t.acls.lists[i].refs != 0 || free[i] {
			return fmt.Errorf("ACL free list entry %d is in use or repeated", i)
		}
		free[i] = true
	}
	live := 0
	for i, e := range t.acls.lists {
		if e.refs == 0 {
			if !free[uint32(i)] {
				return fmt.Errorf("ACL slot %d is unused but not free", i)
			}
			continue
		}
		live++
		if j, ok := t.acls.index[e.key]; !ok || j != uint32(i) || e.key != aclKey(e.acl) {
			return fmt.Errorf("ACL slot %d is not indexed under its key", i)
		}
	}
	if len(t.acls.index) != live {
		return fmt.Errorf("ACL index has %d keys for %d lists", len(t.acls.index), live)
	}
	return t.checkQuotaInvariants()
}

// seqName formats a sequential suffix as ZooKeeper does (%010d of an int32),
// in one allocation.
func seqName(n int32) string {
	var buf [11]byte // "-2147483648"
	i := len(buf)
	u := int64(n)
	if u < 0 {
		u = -u
	}
	for u > 0 || i > len(buf)-10 {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	if n < 0 {
		if buf[i] == '0' { // the sign takes the place of a leading zero
			i++
		}
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
