package zkdata

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"
)

// The in-memory tree mirrors ZooKeeper's DataTree: a flat map from path to
// node (the root is ""), each node holding the names of its children, plus
// the ephemerals of each session, the paths that have a quota and the
// running tree digest.

type dnode struct {
	data     []byte
	acl      []ACL // resolved; nil only with aclMissing
	stat     StatPersisted
	children map[string]struct{}
	// aclMissing is the snapshot ACL reference that was not in the
	// snapshot's ACL cache (a fuzzy snapshot can have one); a replayed
	// create of the same path repairs it, as in ZooKeeper.
	aclMissing int64
	hasMissing bool
}

type dataTree struct {
	nodes      map[string]*dnode
	ephemerals map[int64]map[string]struct{}
	quotas     map[string]struct{} // normalized paths with a zookeeper_limits node
	digest     uint64
	warn       func(string)
}

// ZooKeeper's error codes that a replayed transaction may hit; like
// ZooKeeper, replay ignores them.
type keeperErr int

const (
	errNoNode     keeperErr = -101
	errNodeExists keeperErr = -110
	errBadPath    keeperErr = -8 // bad arguments: a path without a '/'
)

func (e keeperErr) Error() string {
	switch e {
	case errNoNode:
		return "no node"
	case errNodeExists:
		return "node exists"
	}
	return "bad arguments"
}

const (
	procZookeeper  = "/zookeeper"
	quotaZookeeper = "/zookeeper/quota"
	zkSubtree      = "/zookeeper/"
	limitNode      = "zookeeper_limits"
	statNode       = "zookeeper_stats"
	digestVersion  = 2 // DigestCalculator's version, the only one known
)

func newDataTree(warn func(string)) *dataTree {
	return &dataTree{
		nodes:      map[string]*dnode{},
		ephemerals: map[int64]map[string]struct{}{},
		quotas:     map[string]struct{}{},
		warn:       warn,
	}
}

// newInitialTree is the tree of a fresh ZooKeeper DataTree: the root,
// /zookeeper, /zookeeper/quota and /zookeeper/config (read-only to world).
func newInitialTree(warn func(string)) *dataTree {
	t := newDataTree(warn)
	mk := func(p string, acl []ACL) {
		n := &dnode{data: []byte{}, acl: acl, children: map[string]struct{}{}}
		t.put(p, n)
		if p != "" {
			par, name := parentOf(p)
			t.nodes[par].children[name] = struct{}{}
		}
	}
	mk("", OpenACL)
	mk(procZookeeper, OpenACL)
	mk(quotaZookeeper, OpenACL)
	mk("/zookeeper/config", []ACL{{Perms: PermRead, Scheme: "world", ID: "anyone"}})
	return t
}

// canon maps ZooKeeper's alias "/" to the root's key "".
func canon(p string) string {
	if p == "/" {
		return ""
	}
	return p
}

func (t *dataTree) get(p string) *dnode { return t.nodes[canon(p)] }

// nodeDigest is DigestCalculator.calculateDigest (version 2): the CRC32 of
// the path, the data and 60 bytes of stat, and 0 under /zookeeper/.
func nodeDigest(p string, n *dnode) uint64 {
	if strings.HasPrefix(p, zkSubtree) {
		return 0
	}
	p = canon(p)
	var b [60]byte
	s := &n.stat
	binary.BigEndian.PutUint64(b[0:], uint64(s.Czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(s.Mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(s.Pzxid))
	binary.BigEndian.PutUint64(b[24:], uint64(s.Ctime))
	binary.BigEndian.PutUint64(b[32:], uint64(s.Mtime))
	binary.BigEndian.PutUint32(b[40:], uint32(s.Version))
	binary.BigEndian.PutUint32(b[44:], uint32(s.Cversion))
	binary.BigEndian.PutUint32(b[48:], uint32(s.Aversion))
	binary.BigEndian.PutUint64(b[52:], uint64(s.EphemeralOwner))
	c := crc32.NewIEEE()
	c.Write([]byte(p))
	c.Write(n.data)
	c.Write(b[:])
	return uint64(c.Sum32())
}

func (t *dataTree) preChange(p string, n *dnode)  { t.digest -= nodeDigest(p, n) }
func (t *dataTree) postChange(p string, n *dnode) { t.digest += nodeDigest(p, n) }

func (t *dataTree) put(p string, n *dnode) {
	if old := t.nodes[p]; old != nil {
		t.digest -= nodeDigest(p, old)
	}
	t.nodes[p] = n
	t.digest += nodeDigest(p, n)
}

func (t *dataTree) remove(p string) {
	if old := t.nodes[p]; old != nil {
		t.digest -= nodeDigest(p, old)
		delete(t.nodes, p)
	}
}

func (t *dataTree) trackOwner(p string, owner int64) {
	if KindOf(owner) != Ephemeral {
		return
	}
	s := t.ephemerals[owner]
	if s == nil {
		s = map[string]struct{}{}
		t.ephemerals[owner] = s
	}
	s[p] = struct{}{}
}

// createNode is DataTree.createNode.
func (t *dataTree) createNode(p string, data []byte, acl []ACL, owner int64, parentCVersion int32, zxid, time int64) error {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return errBadPath
	}
	parentName, childName := parentOf(p)
	parent := t.get(parentName)
	if parent == nil {
		return errNoNode
	}
	if acl == nil {
		acl = OpenACL
	}
	if existing := t.nodes[p]; existing != nil {
		// ZooKeeper gives the existing node the create's ACL (this is what
		// repairs a fuzzy snapshot's dangling ACL reference).
		existing.acl, existing.hasMissing = acl, false
		return errNodeExists
	}
	t.preChange(parentName, parent)
	if parentCVersion == -1 {
		parentCVersion = parent.stat.Cversion + 1
	}
	if parentCVersion > parent.stat.Cversion {
		parent.stat.Cversion = parentCVersion
		parent.stat.Pzxid = zxid
	}
	child := &dnode{
		data: data, acl: acl, children: map[string]struct{}{},
		stat: StatPersisted{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: time, Mtime: time, EphemeralOwner: owner},
	}
	parent.children[childName] = struct{}{}
	t.postChange(parentName, parent)
	t.put(p, child)
	t.trackOwner(p, owner)
	if strings.HasPrefix(parentName, quotaZookeeper) {
		switch childName {
		case limitNode:
			t.addQuota(parentName[len(quotaZookeeper):])
		case statNode:
			t.updateQuotaForPath(parentName[len(quotaZookeeper):])
		}
	}
	if prefix := t.maxQuotaPrefix(p); prefix != "" {
		t.updateQuotaStat(prefix, int64(len(data)), 1)
	}
	return nil
}

// deleteNode is DataTree.deleteNode: the parent loses the child name and
// gets the zxid as pzxid (when larger) even when the child is gone
// already; its cversion does not change.
func (t *dataTree) deleteNode(p string, zxid int64) error {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return errBadPath
	}
	parentName, childName := parentOf(p)
	parent := t.get(parentName)
	if parent == nil {
		return errNoNode
	}
	t.preChange(parentName, parent)
	delete(parent.children, childName)
	if zxid > parent.stat.Pzxid {
		parent.stat.Pzxid = zxid
	}
	t.postChange(parentName, parent)
	node := t.nodes[p]
	if node == nil {
		return errNoNode
	}
	t.remove(p)
	if owner := node.stat.EphemeralOwner; KindOf(owner) == Ephemeral {
		if s := t.ephemerals[owner]; s != nil {
			delete(s, p)
		}
	}
	if strings.HasPrefix(parentName, procZookeeper) && childName == limitNode && len(parentName) >= len(quotaZookeeper) {
		delete(t.quotas, normQuotaPath(parentName[len(quotaZookeeper):]))
	}
	if prefix := t.maxQuotaPrefix(p); prefix != "" {
		t.updateQuotaStat(prefix, -int64(len(node.data)), -1)
	}
	return nil
}

// setData is DataTree.setData: the version comes from the transaction.
func (t *dataTree) setData(p string, data []byte, version int32, zxid, time int64) error {
	n := t.get(p)
	if n == nil {
		return errNoNode
	}
	old := len(n.data)
	t.preChange(p, n)
	n.data = data
	n.stat.Mtime = time
	n.stat.Mzxid = zxid
	n.stat.Version = version
	t.postChange(p, n)
	if prefix := t.maxQuotaPrefix(p); prefix != "" {
		t.updateQuotaStat(prefix, int64(len(data)-old), 0)
	}
	return nil
}

// setACL is DataTree.setACL: the aversion comes from the transaction.
func (t *dataTree) setACL(p string, acl []ACL, version int32) error {
	n := t.get(p)
	if n == nil {
		return errNoNode
	}
	if acl == nil {
		acl = OpenACL
	}
	t.preChange(p, n)
	n.stat.Aversion = version
	n.acl, n.hasMissing = acl, false
	t.postChange(p, n)
	return nil
}

// setCversionPzxid is DataTree.setCversionPzxid, which replay uses when a
// create finds its node already there.
func (t *dataTree) setCversionPzxid(p string, cversion int32, zxid int64) error {
	if strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	n := t.nodes[p]
	if n == nil {
		return errNoNode
	}
	if cversion == -1 {
		cversion = n.stat.Cversion + 1
	}
	if cversion > n.stat.Cversion {
		t.preChange(p, n)
		n.stat.Cversion = cversion
		n.stat.Pzxid = zxid
		t.postChange(p, n)
	}
	return nil
}

// killSession deletes a closed session's ephemerals: first the paths its
// closeSession transaction names (3.6+), then any other node the session
// still owns.
func (t *dataTree) killSession(session, zxid int64, inTxn []string, hasTxn bool) {
	local := t.ephemerals[session]
	delete(t.ephemerals, session)
	if hasTxn {
		for _, p := range inTxn {
			t.deleteNode(p, zxid)
		}
	}
	if local == nil {
		return
	}
	if hasTxn {
		for _, p := range inTxn {
			delete(local, p)
		}
		if len(local) > 0 {
			t.warn(fmt.Sprintf("closeSession 0x%x at zxid 0x%x: ephemerals %v not named by the transaction, deleted too", session, zxid, sortedKeys(local)))
		}
	}
	for _, p := range sortedKeys(local) {
		t.deleteNode(p, zxid)
	}
}

func sortedKeys(m map[string]struct{}) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Quotas. ZooKeeper keeps the paths with a zookeeper_limits node in a
// trie and maintains the data of their zookeeper_stats nodes itself (no
// transaction changes it): "count=N,bytes=M" for the subtree.

func splitQuotaPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if strings.TrimSpace(c) != "" {
			out = append(out, c)
		}
	}
	return out
}

func normQuotaPath(p string) string {
	c := splitQuotaPath(p)
	if len(c) == 0 {
		return ""
	}
	return "/" + strings.Join(c, "/")
}

func (t *dataTree) addQuota(p string) {
	if np := normQuotaPath(p); np != "" {
		t.quotas[np] = struct{}{}
	}
}

// maxQuotaPrefix is getMaxPrefixWithQuota: the deepest quota path that is
// a prefix of p, or "" for none.
func (t *dataTree) maxQuotaPrefix(p string) string {
	if len(t.quotas) == 0 {
		return ""
	}
	c := splitQuotaPath(p)
	for i := len(c); i >= 1; i-- {
		k := "/" + strings.Join(c[:i], "/")
		if _, ok := t.quotas[k]; ok {
			return k
		}
	}
	return ""
}

func (t *dataTree) updateQuotaStat(prefix string, bytesDiff int64, countDiff int) {
	sp := quotaZookeeper + prefix + "/" + statNode
	n := t.nodes[sp]
	if n == nil {
		return
	}
	st, ok := parseStatsTrack(string(n.data))
	if !ok {
		t.warn(fmt.Sprintf("quota stats node %s holds unparsable %q; left unchanged", sp, n.data))
		return
	}
	st["count"] = statsGet(st, "count") + int64(countDiff)
	st["bytes"] = statsGet(st, "bytes") + bytesDiff
	n.data = []byte(formatStatsTrack(st))
}

func (t *dataTree) updateQuotaForPath(p string) {
	var count, bytes int64
	var walk func(string)
	walk = func(q string) {
		n := t.get(q)
		if n == nil {
			return
		}
		count++
		bytes += int64(len(n.data))
		for _, c := range sortedKeys(n.children) {
			walk(q + "/" + c)
		}
	}
	walk(p)
	sp := quotaZookeeper + p + "/" + statNode
	if n := t.nodes[sp]; n != nil {
		n.data = []byte(formatStatsTrack(map[string]int64{"count": count, "bytes": bytes}))
	}
}

// setupQuota is what DataTree does after loading a snapshot: every leaf
// zookeeper_limits node under /zookeeper/quota registers its path and
// recomputes its zookeeper_stats.
func (t *dataTree) setupQuota() {
	var walk func(string)
	walk = func(p string) {
		n := t.nodes[p]
		if n == nil {
			return
		}
		if len(n.children) == 0 {
			if strings.HasSuffix(p, "/"+limitNode) {
				real := p[len(quotaZookeeper):strings.Index(p, "/"+limitNode)]
				t.updateQuotaForPath(real)
				t.addQuota(real)
			}
			return
		}
		for _, c := range sortedKeys(n.children) {
			walk(p + "/" + c)
		}
	}
	walk(quotaZookeeper)
}

func statsGet(m map[string]int64, k string) int64 {
	if v, ok := m[k]; ok {
		return v
	}
	return -1
}

// parseStatsTrack parses StatsTrack's text: pairs key=value separated by
// runs of ',' and ';'.
func parseStatsTrack(s string) (map[string]int64, bool) {
	m := map[string]int64{}
	if s == "" {
		return m, true
	}
	pairs := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' })
	if len(s) > 0 && (s[0] == ',' || s[0] == ';') {
		return nil, false // Java's split keeps a leading empty pair, which fails
	}
	for _, kv := range pairs {
		parts := strings.Split(kv, "=")
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		if len(parts) < 2 {
			return nil, false
		}
		v := int64(-1)
		if parts[1] != "" {
			var err error
			if v, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
				return nil, false
			}
		}
		m[parts[0]] = v
	}
	return m, true
}

func formatStatsTrack(m map[string]int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "count=%d,bytes=%d", statsGet(m, "count"), statsGet(m, "bytes"))
	var keys []string
	for k := range m {
		if k != "count" && k != "bytes" {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		sort.Strings(keys)
		b.WriteString("=")
		for _, k := range keys {
			fmt.Fprintf(&b, ";%s=%d", k, m[k])
		}
	}
	return b.String()
}

// recomputeDigest sums every node's digest (for checks and tests).
func (t *dataTree) recomputeDigest() uint64 {
	var d uint64
	for p, n := range t.nodes {
		d += nodeDigest(p, n)
	}
	return d
}
