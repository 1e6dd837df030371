package coord

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A model test in the manner of bbolt's simulation tests: random commands
// go to the real tree (through applyOne, with invariants checked after
// every command) and to a naive reference written from ZooKeeper's rules;
// results and the whole state are compared after every step.

// ---- the reference model ----

type mKind int

const (
	mPersistent mKind = iota
	mEphemeral
	mContainer
	mTTL
)

type mNode struct {
	data                              []byte
	acl                               []ACL
	czxid, mzxid, pzxid, ctime, mtime int64
	version, aversion                 int32
	creates                           int32 // children ever created under it
	kind                              mKind
	session                           int64 // owner of an ephemeral
	ttl                               int64
}

type mSession struct {
	timeout int32
	passwd  []byte
}

type model struct {
	nodes    map[string]*mNode
	sessions map[int64]mSession
	zxid     int64
	now      int64
	maxData  int
}

func newModel(maxData int) *model {
	m := &model{nodes: map[string]*mNode{}, sessions: map[int64]mSession{}, maxData: maxData}
	m.nodes["/"] = &mNode{acl: OpenACL}
	m.nodes["/zookeeper"] = &mNode{acl: OpenACL}
	m.nodes["/zookeeper/quota"] = &mNode{acl: OpenACL}
	m.nodes["/zookeeper/config"] = &mNode{acl: ReadACL, aversion: -1} // ZooKeeper's setACL(config, ..., -1)
	return m
}

// clone deep-copies the nodes: a multi works on a copy and keeps it only if
// every op succeeds.
func (m *model) clone() *model {
	c := *m
	c.nodes = make(map[string]*mNode, len(m.nodes))
	for p, n := range m.nodes {
		cp := *n
		c.nodes[p] = &cp
	}
	return &c
}

func mParent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (m *model) children(p string) []string {
	var out []string
	for q := range m.nodes {
		if q != "/" && mParent(q) == p {
			out = append(out, q[strings.LastIndexByte(q, '/')+1:])
		}
	}
	slices.Sort(out)
	return out
}

func (m *model) stat(p string) Stat { return m.statWith(p, len(m.children(p))) }

func (m *model) statWith(p string, numChildren int) Stat {
	n := m.nodes[p]
	kids := int32(numChildren)
	var owner int64
	if n.kind == mEphemeral {
		owner = n.session
	}
	return Stat{Czxid: n.czxid, Mzxid: n.mzxid, Pzxid: n.pzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: 2*n.creates - kids, Aversion: n.aversion,
		EphemeralOwner: owner, DataLength: int32(len(n.data)), NumChildren: kids}
}

// mFixACL is ZooKeeper's fixupACL: validate, expand "auth", drop duplicates.
func mFixACL(acl []ACL, ids []ID) ([]ACL, bool) {
	if len(acl) == 0 {
		return nil, false
	}
	var out []ACL
	add := func(a ACL) {
		for _, b := range out {
			if a == b {
				return
			}
		}
		out = append(out, a)
	}
	for _, a := range acl {
		switch a.Scheme {
		case "world":
			if a.ID != "anyone" {
				return nil, false
			}
			add(a)
		case "auth":
			n := 0
			for _, id := range ids {
				if id.Scheme == "digest" {
					add(ACL{a.Perms, "digest", id.ID})
					n++
				}
			}
			if n == 0 {
				return nil, false
			}
		case "digest":
			parts := strings.Split(a.ID, ":") // Java's split drops trailing empties
			for len(parts) > 0 && parts[len(parts)-1] == "" {
				parts = parts[:len(parts)-1]
			}
			if len(parts) != 2 {
				return nil, false
			}
			add(a)
		case "ip":
			if _, err := netip.ParsePrefix(a.ID); err != nil {
				if _, err := netip.ParseAddr(a.ID); err != nil {
					return nil, false
				}
			}
			add(a)
		default:
			return nil, false
		}
	}
	return out, true
}

func mAllowed(acl []ACL, perm Perm, ids []ID) bool {
	if len(acl) == 0 || slices.Contains(ids, ID{"super", ""}) {
		return true
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.Scheme == "world" && a.ID == "anyone" {
			return true
		}
		for _, id := range ids {
			switch {
			case a.Scheme == "digest" && id.Scheme == "digest" && a.ID == id.ID:
				return true
			case a.Scheme == "ip" && id.Scheme == "ip":
				pfx, err := netip.ParsePrefix(a.ID)
				if err != nil {
					addr, _ := netip.ParseAddr(a.ID)
					pfx = netip.PrefixFrom(addr, addr.BitLen())
				}
				if addr, err := netip.ParseAddr(id.ID); err == nil && pfx.Masked().Contains(addr) {
					return true
				}
			}
		}
	}
	return false
}

func mSpecial(p string) bool {
	return p == "/" || p == "/zookeeper" || p == "/zookeeper/quota" || p == "/zookeeper/config"
}

// apply applies one command and returns what ZooKeeper would answer.
func (m *model) apply(c *command) result {
	if c.kind == opSync {
		return result{}
	}
	m.zxid++
	z := m.zxid
	switch c.kind {
	case opCreateSession:
		if c.session <= 0 {
			return result{err: CodeBadArguments}
		}
		if _, ok := m.sessions[c.session]; ok {
			return result{err: CodeNodeExists}
		}
		m.sessions[c.session] = mSession{int32(c.ttl), c.passwd}
		return result{}
	case opCloseSession:
		if _, ok := m.sessions[c.session]; !ok {
			return result{err: CodeSessionExpired}
		}
		for p, n := range m.nodes {
			if n.kind == mEphemeral && n.session == c.session {
				m.nodes[mParent(p)].pzxid = z
				delete(m.nodes, p)
			}
		}
		delete(m.sessions, c.session)
		return result{}
	case opCheck:
		return result{err: CodeUnimplemented}
	case opMulti:
		if _, ok := m.sessions[c.session]; !ok && c.session != 0 {
			return result{err: CodeSessionExpired}
		}
		work := m.clone()
		res := result{multi: make([]result, len(c.ops))}
		for i := range c.ops {
			op := c.ops[i]
			op.session, op.ids = c.session, c.ids
			var r result
			switch op.kind {
			case opCreate, opDelete, opSetData, opCheck:
				r = work.op(&op, z)
			default:
				r = result{err: CodeUnimplemented}
			}
			if r.err != CodeOK {
				for j := range res.multi {
					switch {
					case j < i:
						res.multi[j] = result{}
					case j == i:
						res.multi[j] = result{err: r.err}
					default:
						res.multi[j] = result{err: CodeRuntimeInconsistency}
					}
				}
				res.err = r.err
				return res
			}
			res.multi[i] = r
		}
		m.nodes = work.nodes
		return res
	}
	if _, ok := m.sessions[c.session]; !ok && c.session != 0 && c.kind != opDeleteContainer {
		return result{err: CodeSessionExpired}
	}
	return m.op(c, z)
}

func (m *model) op(c *command, z int64) result {
	switch c.kind {
	case opCreate:
		if c.mode < Persistent || c.mode > PersistentSequentialTTL {
			return result{err: CodeBadArguments}
		}
		isTTL := c.mode == PersistentTTL || c.mode == PersistentSequentialTTL
		if isTTL && (c.ttl <= 0 || c.ttl > 1<<40-1) || !isTTL && c.ttl > 0 {
			return result{err: CodeBadArguments}
		}
		eph := c.mode == Ephemeral || c.mode == EphemeralSequential
		if eph && c.session == 0 {
			return result{err: CodeBadArguments}
		}
		slash := strings.LastIndexByte(c.path, '/')
		if slash < 0 || strings.IndexByte(c.path, 0) >= 0 {
			return result{err: CodeBadArguments}
		}
		acl, ok := mFixACL(c.acl, c.ids)
		if !ok {
			return result{err: CodeInvalidACL}
		}
		parentPath := c.path[:slash]
		if parentPath == "" {
			parentPath = "/"
		}
		parent := m.nodes[parentPath]
		if parent == nil {
			return result{err: CodeNoNode}
		}
		if !mAllowed(parent.acl, PermCreate, c.ids) {
			return result{err: CodeNoAuth}
		}
		path := c.path
		if c.mode == PersistentSequential || c.mode == EphemeralSequential || c.mode == PersistentSequentialTTL {
			path += fmt.Sprintf("%010d", parent.creates)
		}
		if !zkValidPath(path) {
			return result{err: CodeBadArguments}
		}
		if m.nodes[path] != nil {
			return result{err: CodeNodeExists}
		}
		if parent.kind == mEphemeral {
			return result{err: CodeNoChildrenForEphemerals}
		}
		if len(c.data) > m.maxData {
			return result{err: CodeBadArguments}
		}
		n := &mNode{data: c.data, acl: acl, czxid: z, mzxid: z, pzxid: z, ctime: m.now, mtime: m.now}
		switch {
		case eph:
			n.kind, n.session = mEphemeral, c.session
		case c.mode == Container:
			n.kind = mContainer
		case isTTL:
			n.kind, n.ttl = mTTL, c.ttl
		}
		m.nodes[path] = n
		parent.creates++
		parent.pzxid = z
		return result{path: path, stat: m.stat(path)}
	case opDelete:
		slash := strings.LastIndexByte(c.path, '/')
		if slash < 0 || strings.IndexByte(c.path, 0) >= 0 || mSpecial(c.path) {
			return result{err: CodeBadArguments}
		}
		parent := m.nodes[mParent(c.path)]
		if parent == nil {
			return result{err: CodeNoNode}
		}
		if !mAllowed(parent.acl, PermDelete, c.ids) {
			return result{err: CodeNoAuth}
		}
		n := m.nodes[c.path]
		if n == nil {
			return result{err: CodeNoNode}
		}
		if c.version != -1 && c.version != n.version {
			return result{err: CodeBadVersion}
		}
		if len(m.children(c.path)) > 0 {
			return result{err: CodeNotEmpty}
		}
		delete(m.nodes, c.path)
		parent.pzxid = z
		return result{}
	case opSetData:
		if !zkValidPath(c.path) {
			return result{err: CodeBadArguments}
		}
		n := m.nodes[c.path]
		if n == nil {
			return result{err: CodeNoNode}
		}
		if !mAllowed(n.acl, PermWrite, c.ids) {
			return result{err: CodeNoAuth}
		}
		if len(c.data) > m.maxData {
			return result{err: CodeBadArguments}
		}
		if c.version != -1 && c.version != n.version {
			return result{err: CodeBadVersion}
		}
		n.data, n.version, n.mzxid, n.mtime = c.data, n.version+1, z, m.now
		return result{stat: m.stat(c.path)}
	case opSetACL:
		if !zkValidPath(c.path) {
			return result{err: CodeBadArguments}
		}
		acl, ok := mFixACL(c.acl, c.ids)
		if !ok {
			return result{err: CodeInvalidACL}
		}
		n := m.nodes[c.path]
		if n == nil {
			return result{err: CodeNoNode}
		}
		if !mAllowed(n.acl, PermAdmin, c.ids) {
			return result{err: CodeNoAuth}
		}
		if c.version != -1 && c.version != n.aversion {
			return result{err: CodeBadVersion}
		}
		n.acl, n.aversion = acl, n.aversion+1
		return result{stat: m.stat(c.path)}
	case opCheck:
		if !zkValidPath(c.path) {
			return result{err: CodeBadArguments}
		}
		n := m.nodes[c.path]
		if n == nil {
			return result{err: CodeNoNode}
		}
		if !mAllowed(n.acl, PermRead, c.ids) {
			return result{err: CodeNoAuth}
		}
		if c.version != -1 && c.version != n.version {
			return result{err: CodeBadVersion}
		}
		return result{}
	case opDeleteContainer:
		n := m.nodes[c.path]
		if n == nil || mSpecial(c.path) {
			return result{err: CodeNoNode}
		}
		if len(m.children(c.path)) > 0 {
			return result{err: CodeNotEmpty}
		}
		switch {
		case n.kind == mContainer && n.creates > 0:
		case n.kind == mTTL && m.now-n.mtime > n.ttl:
		default:
			return result{err: CodeBadVersion}
		}
		delete(m.nodes, c.path)
		m.nodes[mParent(c.path)].pzxid = z
		return result{}
	}
	return result{err: CodeUnimplemented}
}

// ---- comparing the tree with the model ----

type nodeDump struct {
	stat     Stat
	data     []byte
	acl      []ACL
	children []string
}

func dumpTree(t *tree) map[string]nodeDump {
	out := make(map[string]nodeDump, len(t.nodes))
	for p, n := range t.nodes {
		kids := make([]string, 0, len(n.children))
		for k := range n.children {
			kids = append(kids, k)
		}
		slices.Sort(kids)
		out[p] = nodeDump{n.stat(), n.data, t.acls.get(n.acl), kids}
	}
	return out
}

func dumpModel(m *model) map[string]nodeDump {
	kids := make(map[string][]string, len(m.nodes))
	for p := range m.nodes {
		kids[p] = []string{}
	}
	for p := range m.nodes {
		if p != "/" {
			pp := mParent(p)
			kids[pp] = append(kids[pp], p[strings.LastIndexByte(p, '/')+1:])
		}
	}
	out := make(map[string]nodeDump, len(m.nodes))
	for p, n := range m.nodes {
		slices.Sort(kids[p])
		out[p] = nodeDump{m.statWith(p, len(kids[p])), n.data, n.acl, kids[p]}
	}
	return out
}

func diffDumps(got, want map[string]nodeDump) string {
	var b strings.Builder
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			fmt.Fprintf(&b, "%s: missing from the tree\n", p)
		case g.stat != w.stat:
			fmt.Fprintf(&b, "%s: stat\n  tree  %+v\n  model %+v\n", p, g.stat, w.stat)
		case !bytes.Equal(g.data, w.data):
			fmt.Fprintf(&b, "%s: data %q, model %q\n", p, g.data, w.data)
		case !slices.Equal(g.acl, w.acl):
			fmt.Fprintf(&b, "%s: acl %v, model %v\n", p, g.acl, w.acl)
		case !slices.Equal(g.children, w.children):
			fmt.Fprintf(&b, "%s: children %q, model %q\n", p, g.children, w.children)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			fmt.Fprintf(&b, "%s: in the tree, not in the model\n", p)
		}
	}
	return b.String()
}

// sameState is a fast check that the tree holds exactly the model's nodes
// with the same stats, data and ACLs. With the tree's invariants (every
// node linked into its parent's children and no other children) that is
// the whole state; diffDumps explains a difference.
func sameState(tr *tree, m *model) bool {
	if len(tr.nodes) != len(m.nodes) {
		return false
	}
	kids := make(map[string]int, len(m.nodes))
	for p := range m.nodes {
		if p != "/" {
			kids[mParent(p)]++
		}
	}
	for p, mn := range m.nodes {
		n := tr.nodes[p]
		if n == nil || n.stat() != m.statWith(p, kids[p]) || !bytes.Equal(n.data, mn.data) || !slices.Equal(tr.acls.get(n.acl), mn.acl) {
			return false
		}
	}
	return true
}

// compareSessions checks the session table and the ephemeral, container
// and TTL indexes against the model.
func compareSessions(tr *tree, m *model) string {
	var b strings.Builder
	if len(tr.sessions) != len(m.sessions) {
		fmt.Fprintf(&b, "%d sessions, model %d\n", len(tr.sessions), len(m.sessions))
	}
	for id, ms := range m.sessions {
		s, ok := tr.sessions[id]
		if !ok {
			fmt.Fprintf(&b, "session %d missing\n", id)
		} else if s.timeout != ms.timeout || !bytes.Equal(s.passwd, ms.passwd) {
			fmt.Fprintf(&b, "session %d: timeout %d passwd %x, model %d %x\n", id, s.timeout, s.passwd, ms.timeout, ms.passwd)
		}
	}
	var eph, containers, ttls int
	for p, n := range m.nodes {
		var in bool
		switch n.kind {
		case mEphemeral:
			eph++
			if s := tr.sessions[n.session]; s != nil {
				_, in = s.ephemerals[p]
			}
		case mContainer:
			containers++
			_, in = tr.containers[p]
		case mTTL:
			ttls++
			_, in = tr.ttls[p]
		default:
			continue
		}
		if !in {
			fmt.Fprintf(&b, "%s (kind %d) not indexed\n", p, n.kind)
		}
	}
	treeEph := 0
	for _, s := range tr.sessions {
		treeEph += len(s.ephemerals)
	}
	if treeEph != eph || len(tr.containers) != containers || len(tr.ttls) != ttls {
		fmt.Fprintf(&b, "indexes hold %d ephemerals, %d containers, %d TTL nodes; model %d, %d, %d\n",
			treeEph, len(tr.containers), len(tr.ttls), eph, containers, ttls)
	}
	return b.String()
}

// ---- random commands ----

type gen struct {
	r     *rand.Rand
	m     *model
	paths []string // the model's paths, sorted
	stale bool     // paths must be rebuilt: the model's node set changed
}

// Sessions 1..4 with fixed identities; 5 is a super user. Session 0 is the
// node itself.
var modelIDs = map[int64][]ID{
	1: {{"digest", DigestID("alice", "pw")}},
	2: {{"digest", DigestID("bob", "pw")}, {"ip", "10.0.0.5"}},
	3: {{"ip", "10.1.2.3"}},
	4: nil,
	5: {superID, {"digest", DigestID("super", "pw")}},
}

var modelACLs = [][]ACL{
	OpenACL, OpenACL, OpenACL, OpenACL, OpenACL, OpenACL,
	ReadACL,
	WorldACL(PermRead | PermCreate | PermDelete),
	WorldACL(PermAll &^ PermRead),
	DigestACL(PermAll, "alice", "pw"),
	append(DigestACL(PermAll, "alice", "pw"), ACL{PermRead | PermCreate, "world", "anyone"}),
	DigestACL(PermAll, "bob", "pw"),
	CreatorACL,
	{{PermAll, "ip", "10.0.0.0/8"}},
	{{PermRead, "ip", "10.1.2.3"}, {PermAll, "world", "anyone"}, {PermAll, "world", "anyone"}},
	{},
	{{PermAll, "world", "nobody"}},
	{{PermAll, "digest", "nocolon"}},
	{{PermAll, "ip", "999.0.0.1"}},
	{{PermAll, "x509", "cn"}},
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) existing() string { return g.paths[g.pick(len(g.paths))] }

func (g *gen) child(parent string) string {
	names := []string{"a", "b", "c", "s-", "d"}
	name := names[g.pick(len(names))]
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// path returns a path to act on: mostly an existing node or a new child of
// one, sometimes something odd.
func (g *gen) path() string {
	switch x := g.pick(100); {
	case x < 45:
		return g.existing()
	case x < 90:
		return g.child(g.existing())
	case x < 93:
		return []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}[g.pick(4)]
	default:
		return []string{"", "a", "/a/", "/a//b", "/a/.", "/a/..", "/x\x00", "/\u0001", "/\ue000"}[g.pick(9)]
	}
}

func (g *gen) data() []byte {
	switch x := g.pick(20); {
	case x == 0:
		return nil
	case x == 1:
		return make([]byte, g.m.maxData+1)
	default:
		b := make([]byte, g.pick(8))
		for i := range b {
			b[i] = byte(g.pick(256))
		}
		return b
	}
}

func (g *gen) version(path string, aversion bool) int32 {
	switch x := g.pick(10); {
	case x < 5:
		return -1
	case x < 8:
		if n := g.m.nodes[path]; n != nil {
			if aversion {
				return n.aversion
			}
			return n.version
		}
		return 0
	default:
		return int32(g.pick(3))
	}
}

func (g *gen) create(session int64) command {
	c := command{kind: opCreate, path: g.child(g.existing()), data: g.data(), acl: modelACLs[g.pick(len(modelACLs))]}
	if g.pick(20) == 0 {
		c.path = g.path()
	}
	c.mode = CreateMode(g.pick(7))
	if g.pick(40) == 0 {
		c.mode = []CreateMode{-1, 7}[g.pick(2)]
	}
	if c.mode.isTTL() {
		c.ttl = int64(1 + g.pick(100))
		if g.pick(20) == 0 {
			c.ttl = []int64{0, -1, 1 << 40}[g.pick(3)]
		}
	} else if g.pick(30) == 0 {
		c.ttl = 5
	}
	return c
}

func (g *gen) writeOp(session int64) command {
	switch g.pick(10) {
	case 0, 1, 2, 3:
		return g.create(session)
	case 4, 5:
		p := g.path()
		return command{kind: opDelete, path: p, version: g.version(p, false)}
	case 6, 7:
		p := g.path()
		return command{kind: opSetData, path: p, data: g.data(), version: g.version(p, false)}
	default:
		p := g.path()
		return command{kind: opCheck, path: p, version: g.version(p, false)}
	}
}

func (g *gen) command() command {
	if g.stale || g.paths == nil {
		g.paths = g.paths[:0]
		for p := range g.m.nodes {
			g.paths = append(g.paths, p)
		}
		slices.Sort(g.paths)
		g.stale = false
	}
	session := int64(1 + g.pick(5))
	if g.pick(30) == 0 {
		session = int64(g.pick(8)) // 0 (the node), or one that never existed
	}
	if _, ok := g.m.sessions[session]; !ok && session > 0 && g.pick(2) == 0 {
		// Bring a closed session back, so that most commands come from
		// live ones.
		return command{kind: opCreateSession, session: session, ids: modelIDs[session], ttl: 5000, passwd: []byte{byte(session)}}
	}
	var c command
	switch x := g.pick(100); {
	case x < 60:
		c = g.writeOp(session)
		if c.kind == opCheck && g.pick(4) != 0 {
			c = g.create(session) // a bare check is rare: it only fails
		}
	case x < 68:
		p := g.path()
		c = command{kind: opSetACL, path: p, acl: modelACLs[g.pick(len(modelACLs))], version: g.version(p, true)}
	case x < 82:
		c = command{kind: opMulti, ops: make([]command, g.pick(6))}
		for i := range c.ops {
			c.ops[i] = g.writeOp(session)
		}
		if len(c.ops) > 0 && g.pick(30) == 0 {
			c.ops[g.pick(len(c.ops))] = command{kind: opSetACL, path: "/", acl: OpenACL, version: -1}
		}
	case x < 88:
		c = command{kind: opDeleteContainer, path: g.existing()}
		session = 0
	case x < 91:
		c = command{kind: opCloseSession, expire: g.pick(2) == 0}
	case x < 97:
		c = command{kind: opCreateSession, ttl: int64(1000 * (1 + g.pick(30))), passwd: []byte{byte(session), byte(g.pick(256))}}
	case x < 98:
		c = command{kind: opSync}
	default:
		c = command{kind: opSetQuota, path: "/"} // not implemented yet
	}
	c.session = session
	c.ids = modelIDs[session]
	if g.pick(20) == 0 {
		c.ids = modelIDs[int64(1+g.pick(5))] // identities of another session
	}
	return c
}

// ---- the test ----

func TestModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5}
	steps := 3000
	if testing.Short() {
		seeds, steps = seeds[:2], 1000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, steps)
		})
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	const maxData = 16
	tr := newTree(treeLimits{maxData: maxData})
	tr.strict = true
	twin := newTree(treeLimits{maxData: maxData}) // determinism: same commands, same digest
	m := newModel(maxData)
	g := &gen{r: rand.New(rand.NewPCG(seed, seed*7919)), m: m}
	for _, id := range []int64{1, 2, 3, 4, 5} {
		c := command{kind: opCreateSession, session: id, ttl: 10000, passwd: []byte{byte(id)}}
		tr.applyOne(&c)
		twin.applyOne(&c)
		m.apply(&c)
	}
	kinds := map[opKind]int{}
	codes := map[Code]int{}
	for step := range steps {
		c := g.command()
		m.now += int64(g.pick(15))
		tr.now, twin.now = m.now, m.now
		got := tr.applyOne(&c)
		twinRes := twin.applyOne(&c)
		want := m.apply(&c)
		tr.takeSessionChanges()
		twin.takeSessionChanges()
		kinds[c.kind]++
		codes[want.err]++
		g.stale = g.stale || len(m.nodes) != len(g.paths) || want.err == CodeOK && c.kind == opMulti

		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d step %d, command %+v:\n%s", seed, step, c, fmt.Sprintf(format, args...))
		}
		if tr.invError != nil {
			fail("invariant: %v", tr.invError)
		}
		if !reflect.DeepEqual(got, want) {
			fail("result\n tree  %+v\n model %+v", got, want)
		}
		if !reflect.DeepEqual(got, twinRes) || tr.digest != twin.digest {
			fail("two trees diverged: digests %x %x", tr.digest, twin.digest)
		}
		if tr.zxid != m.zxid {
			fail("zxid %d, model %d", tr.zxid, m.zxid)
		}
		if !sameState(tr, m) {
			fail("state differs:\n%s", diffDumps(dumpTree(tr), dumpModel(m)))
		}
		if d := compareSessions(tr, m); d != "" {
			fail("sessions differ:\n%s", d)
		}
	}
	// The run must have exercised what it claims to.
	for _, k := range []opKind{opCreate, opDelete, opSetData, opSetACL, opMulti, opCreateSession, opCloseSession, opDeleteContainer} {
		if kinds[k] == 0 {
			t.Errorf("no command of kind %d", k)
		}
	}
	for _, code := range []Code{CodeOK, CodeNoNode, CodeNodeExists, CodeBadVersion, CodeNotEmpty, CodeNoAuth,
		CodeInvalidACL, CodeBadArguments, CodeNoChildrenForEphemerals, CodeSessionExpired} {
		if codes[code] == 0 {
			t.Errorf("no result with code %v", code)
		}
	}
	// A snapshot of the final state restores to the same tree.
	restored, err := decodeSnapshot(encodeSnapshot(tr), tr.limits)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if restored.digest != tr.digest || diffDumps(dumpTree(restored), dumpModel(m)) != "" || compareSessions(restored, m) != "" {
		t.Fatal("restored snapshot differs")
	}
	t.Logf("seed %d: %d nodes, %d sessions, zxid %d; kinds %v; codes %v", seed, len(tr.nodes), len(tr.sessions), tr.zxid, kinds, codes)
}
