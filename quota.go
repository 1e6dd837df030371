package coord

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Quotas, kept as ZooKeeper 3.9 keeps them (DataTree's createNode,
// deleteNode, setData, updateQuotaStat, updateQuotaForPath, getCounts and
// pTrie; Quotas; StatsTrack; ZooKeeperServer.checkQuota):
//
//   - A quota on path P is the node /zookeeper/quota<P>/zookeeper_limits,
//     whose data is a StatsTrack ("count=3,bytes=-1", or with the 3.7+ hard
//     limits "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"). Its
//     usage is /zookeeper/quota<P>/zookeeper_stats ("count=N,bytes=M").
//   - Creating a zookeeper_limits node puts P in the quota index (the
//     pTrie); deleting it takes P out. Creating a zookeeper_stats node
//     overwrites its data with the current count and bytes of P's subtree,
//     P included (updateQuotaForPath).
//   - Every create, delete and setData of a node adds its count and bytes
//     delta to the stats of its nearest quota'd ancestor-or-self, and to no
//     other (updateQuotaStat): the data is parsed, count and bytes moved,
//     and written back in StatsTrack's format. The stats node's stat does
//     not change (no version, mzxid or mtime) and no watch fires.
//   - Only with enforcement on (zookeeper.enforceQuota, default false)
//     does a create or setData consult the limits, before the change: past
//     a hard limit it fails with QuotaExceeded; past a soft one ZooKeeper
//     only logs, which here is a counter the node may report.
//
// Where ZooKeeper is inconsistent or would throw inside apply, this keeps
// the replicated state a function of the log:
//
//   - The index is exactly the set of P with a zookeeper_limits node
//     strictly under /zookeeper/quota/, live and after a restore.
//     ZooKeeper's create matches a parent that merely starts with the
//     string "/zookeeper/quota" (so /zookeeper/quotas/x/zookeeper_limits
//     puts "s/x" in the trie), its delete any parent under /zookeeper (and
//     throws for /zookeeper itself), its snapshot load only leaf limits
//     nodes; its trie also drops blank path components.
//   - A restored snapshot keeps the stats data it carries. ZooKeeper
//     recomputes every stats node when it loads a snapshot, which differs
//     from the logged value whenever stats drifted (below) and would make
//     a restored replica diverge from one that replayed the log.
//   - Stats data StatsTrack cannot parse (only a client's setData puts it
//     there) is left alone; ZooKeeper throws in the middle of apply. With
//     enforcement on, a create or setData that must read unparsable
//     limits or stats fails with MarshallingError, as ZooKeeper's
//     PrepRequestProcessor turns the exception into.
//   - The hard-limit check sees the state as of the command, earlier ops
//     of the same multi included; ZooKeeper's checks the last committed
//     tree, so requests in flight together can overshoot it.
//
// Stats are replicated data, not derived state: under ZooKeeper's rules
// they legitimately drift from a recount (nested quotas credit only the
// nearest; a client may set the stats node; a stats node older than its
// limits node missed the changes in between; a quota on /zookeeper counts
// its own stats nodes). quotaState.drifted records the quota paths that
// may have drifted, so that checkInvariants can demand stats == recount
// of every other one.

const (
	quotaLimitNode = "zookeeper_limits"
	quotaStatNode  = "zookeeper_stats"
)

// quotaState is the tree's derived quota state. None of it is in a
// snapshot: decodeSnapshot rebuilds it (rebuildQuotaIndex).
type quotaState struct {
	// index holds every P with a node zkQuota+P+"/zookeeper_limits":
	// ZooKeeper's pTrie.
	index map[string]struct{}
	// drifted holds quota paths whose stats may differ from a recount by
	// ZooKeeper's rules; checkInvariants skips them.
	drifted map[string]struct{}

	// What ZooKeeper's checkQuota logs, counted: writes past a soft limit
	// (allowed) and past a hard limit (refused with QuotaExceeded), with
	// enforcement on. Never reset; not replicated (the node may report
	// them outside apply).
	softExceeded uint64
	hardExceeded uint64
}

// quotaExceededCounts returns how many writes went past a soft quota limit
// and how many were refused by a hard one (enforcement on). The caller
// holds the tree's lock.
func (t *tree) quotaExceededCounts() (soft, hard uint64) {
	return t.quota.softExceeded, t.quota.hardExceeded
}

func quotaLimitPath(p string) string { return zkQuota + p + "/" + quotaLimitNode }
func quotaStatPath(p string) string  { return zkQuota + p + "/" + quotaStatNode }

// quotaSubject returns P when path is zkQuota+P+"/"+name for a path P
// other than the root.
func quotaSubject(path, name string) (string, bool) {
	if len(path) <= len(zkQuota)+len(name)+2 || !strings.HasPrefix(path, zkQuota+"/") ||
		!strings.HasSuffix(path, name) || path[len(path)-len(name)-1] != '/' {
		return "", false
	}
	return path[len(zkQuota) : len(path)-len(name)-1], true
}

// quotaNearest returns the deepest quota'd ancestor-or-self of path, or ""
// (ZooKeeper's getMaxPrefixWithQuota: never the root).
func (t *tree) quotaNearest(path string) string {
	if len(t.quota.index) == 0 {
		return ""
	}
	for p := path; len(p) > 1; {
		if _, ok := t.quota.index[p]; ok {
			return p
		}
		i := lastSlash(p)
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return ""
}

// setQuotaIndex adds P to (or removes it from) the index, recording the
// undo inside a multi.
func (t *tree) setQuotaIndex(p string, in bool) {
	setMember(&t.quota.index, p, in, t)
}

// setQuotaDrifted marks P as (not) drifted, recording the undo inside a
// multi.
func (t *tree) setQuotaDrifted(p string, drifted bool) {
	setMember(&t.quota.drifted, p, drifted, t)
}

func setMember(m *map[string]struct{}, p string, in bool, t *tree) {
	_, was := (*m)[p]
	if was == in {
		return
	}
	if in {
		if *m == nil {
			*m = make(map[string]struct{})
		}
		(*m)[p] = struct{}{}
	} else {
		delete(*m, p)
	}
	if t.undo != nil {
		t.undo = append(t.undo, func() {
			if in {
				delete(*m, p)
			} else {
				(*m)[p] = struct{}{}
			}
		})
	}
}

// checkQuota is ZooKeeperServer.checkQuota: called before a create
// (countDelta 1, bytesDelta its data length) or a setData (0, new length
// minus old) of path. Only with enforcement on; a hard limit the change
// would pass fails it, a soft one is counted.
func (t *tree) checkQuota(path string, countDelta, bytesDelta int64) Code {
	if !t.limits.enforceQuota {
		return CodeOK
	}
	q := t.quotaNearest(path)
	if q == "" {
		return CodeOK
	}
	ln := t.nodes[quotaLimitPath(q)]
	if ln == nil {
		return CodeOK // ZooKeeper logs "Missing limit node"; the index rules it out
	}
	limit, ok := parseStatsTrack(ln.data)
	if !ok {
		return CodeMarshallingError
	}
	checkCount := countDelta != 0 && (limit.get(stCount) > -1 || limit.get(stCountHard) > -1)
	checkBytes := bytesDelta != 0 && (limit.get(stBytes) > -1 || limit.get(stBytesHard) > -1)
	if !checkCount && !checkBytes {
		return CodeOK
	}
	sn := t.nodes[quotaStatPath(q)]
	if sn == nil {
		return CodeOK // ZooKeeper logs "Missing node for stat" and allows
	}
	cur, ok := parseStatsTrack(sn.data)
	if !ok {
		return CodeMarshallingError
	}
	if checkCount && t.quotaPast(cur.get(stCount)+countDelta, limit.get(stCountHard), limit.get(stCount)) {
		return CodeQuotaExceeded
	}
	if checkBytes && t.quotaPast(cur.get(stBytes)+bytesDelta, limit.get(stBytesHard), limit.get(stBytes)) {
		return CodeQuotaExceeded
	}
	return CodeOK
}

// quotaPast compares a new usage with the hard limit if one is set (> -1),
// else with the soft one, and reports whether the write must be refused.
func (t *tree) quotaPast(usage, hard, soft int64) bool {
	if hard > -1 {
		if usage > hard {
			t.quota.hardExceeded++
			return true
		}
		return false
	}
	if usage > soft {
		t.quota.softExceeded++
	}
	return false
}

// updateQuota runs after path was created (countDelta 1), deleted (-1) or
// had its data set (0), bytesDelta being the change in its data length:
// DataTree's quota steps, in its order.
func (t *tree) updateQuota(path string, countDelta, bytesDelta int64) {
	if strings.HasPrefix(path, zkQuota+"/") {
		switch {
		case countDelta != 0:
			if p, ok := quotaSubject(path, quotaLimitNode); ok {
				t.setQuotaIndex(p, countDelta > 0)
				if _, ok := t.nodes[quotaStatPath(p)]; ok && countDelta > 0 {
					t.setQuotaDrifted(p, true) // the stats missed what changed before
				}
			} else if p, ok := quotaSubject(path, quotaStatNode); ok && countDelta > 0 {
				t.updateQuotaForPath(p)
			}
		default:
			if p, ok := quotaSubject(path, quotaStatNode); ok {
				t.setQuotaDrifted(p, true) // a client wrote the stats
			}
		}
	}
	q := t.quotaNearest(path)
	if q == "" {
		return
	}
	if !t.updateQuotaStat(q, countDelta, bytesDelta) {
		t.setQuotaDrifted(q, true)
	}
	// Quota'd ancestors of q were not credited: they drift from a recount.
	for p := q; ; {
		i := lastSlash(p)
		if i <= 0 {
			break
		}
		p = p[:i]
		if _, ok := t.quota.index[p]; ok {
			t.setQuotaDrifted(p, true)
		}
	}
}

// updateQuotaStat is DataTree.updateQuotaStat: it moves the count and
// bytes in q's stats node, data replaced in place. It reports false when
// there is no stats node or its data does not parse (ZooKeeper: logs, or
// throws), leaving the tree as it was.
func (t *tree) updateQuotaStat(q string, countDelta, bytesDelta int64) bool {
	sp := quotaStatPath(q)
	sn := t.nodes[sp]
	if sn == nil {
		return false
	}
	st, ok := parseStatsTrack(sn.data)
	if !ok {
		return false
	}
	st.set(stCount, st.get(stCount)+countDelta)
	st.set(stBytes, st.get(stBytes)+bytesDelta)
	data := st.bytes()
	t.modify(sp, sn, func(n *znode) { n.data = data })
	return true
}

// updateQuotaForPath is DataTree.updateQuotaForPath: the stats node of p
// gets the current count and bytes of p's subtree.
func (t *tree) updateQuotaForPath(p string) {
	sp := quotaStatPath(p)
	sn := t.nodes[sp]
	if sn == nil {
		return
	}
	data := t.quotaRecount(p)
	t.modify(sp, sn, func(n *znode) { n.data = data })
	t.setQuotaDrifted(p, false)
}

// quotaRecount is DataTree.getCounts in StatsTrack's format: the nodes and
// data bytes of p's subtree, p included ("count=0,bytes=0" if p is absent).
func (t *tree) quotaRecount(p string) []byte {
	var count, size int64
	stack := []string{p}
	for len(stack) > 0 {
		path := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := t.nodes[path]
		if n == nil {
			continue
		}
		count++
		size += int64(len(n.data))
		for name := range n.children {
			stack = append(stack, path+"/"+name)
		}
	}
	return statsTrack{stCount: count, stBytes: size}.bytes()
}

// quotaPaths returns the quota index as the tree defines it: every P with
// a zookeeper_limits node under /zookeeper/quota.
func (t *tree) quotaPaths() map[string]struct{} {
	m := make(map[string]struct{})
	stack := []string{zkQuota}
	for len(stack) > 0 {
		path := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := t.nodes[path]
		if n == nil {
			continue
		}
		if p, ok := quotaSubject(path, quotaLimitNode); ok {
			m[p] = struct{}{}
		}
		for name := range n.children {
			stack = append(stack, path+"/"+name)
		}
	}
	return m
}

// quotaCrossesTree reports whether p's subtree and /zookeeper/quota
// overlap: updates to stats nodes are not themselves credited, so such a
// quota's bytes drift by design.
func quotaCrossesTree(p string) bool {
	return p == zkRoot || p == zkQuota || strings.HasPrefix(p, zkQuota+"/")
}

// rebuildQuotaIndex derives the quota state of a tree decoded from a
// snapshot. Stats that differ from a recount are marked drifted: from here
// on, every credited change keeps the difference, so the others must stay
// equal to a recount.
func (t *tree) rebuildQuotaIndex() {
	t.quota.index = t.quotaPaths()
	t.quota.drifted = nil
	for p := range t.quota.index {
		if sn := t.nodes[quotaStatPath(p)]; sn != nil && !bytes.Equal(sn.data, t.quotaRecount(p)) {
			t.setQuotaDrifted(p, true)
		}
	}
}

// checkQuotaInvariants verifies that the index is the one the tree defines
// and that every quota that has not drifted has stats equal to a recount.
func (t *tree) checkQuotaInvariants() error {
	want := t.quotaPaths()
	for p := range t.quota.index {
		if _, ok := want[p]; !ok {
			return fmt.Errorf("quota index lists %s, which has no %s node", p, quotaLimitNode)
		}
	}
	if len(want) != len(t.quota.index) {
		for _, p := range slices.Sorted(maps.Keys(want)) {
			if _, ok := t.quota.index[p]; !ok {
				return fmt.Errorf("quota on %s missing from the index", p)
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(t.quota.index)) {
		if _, ok := t.quota.drifted[p]; ok || quotaCrossesTree(p) {
			continue
		}
		sn := t.nodes[quotaStatPath(p)]
		if sn == nil {
			continue
		}
		if want := t.quotaRecount(p); !bytes.Equal(sn.data, want) {
			return fmt.Errorf("quota %s: stats %q, recount %q", p, sn.data, want)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// StatsTrack

const (
	stCount     = "count"
	stBytes     = "bytes"
	stCountHard = "countHardLimit"
	stBytesHard = "byteHardLimit"
)

// statsTrack is ZooKeeper's StatsTrack: named longs, -1 when absent.
type statsTrack map[string]int64

func (s statsTrack) get(k string) int64 {
	if v, ok := s[k]; ok {
		return v
	}
	return -1
}

func (s statsTrack) set(k string, v int64) { s[k] = v }

// parseStatsTrack parses data as StatsTrack(String) does: pairs split on
// runs of ',' and ';', each split on '=' (Java's String.split: a leading
// empty field kept, trailing empty ones dropped), key = value, an empty
// value meaning -1, the last of a repeated key winning. It reports false
// where the Java constructor throws (a pair without a value, a value that
// is not a long). Java decodes the bytes as UTF-8 first and also accepts
// non-ASCII decimal digits; keys and values here are compared as bytes.
func parseStatsTrack(data []byte) (statsTrack, bool) {
	st := statsTrack{}
	if len(data) == 0 {
		return st, true
	}
	for _, pair := range javaSplit(string(data), func(c byte) bool { return c == ',' || c == ';' }, true) {
		kv := javaSplit(pair, func(c byte) bool { return c == '=' }, false)
		if len(kv) < 2 {
			return nil, false
		}
		v := int64(-1)
		if kv[1] != "" {
			n, err := strconv.ParseInt(kv[1], 10, 64)
			if err != nil {
				return nil, false
			}
			v = n
		}
		st[kv[0]] = v
	}
	return st, true
}

// javaSplit splits s as Java's String.split(regex) with limit 0, for a
// regex matching one separator byte (runs false) or a run of them (true).
func javaSplit(s string, sep func(byte) bool, runs bool) []string {
	var out []string
	start, matched := 0, false
	for i := 0; i < len(s); {
		if !sep(s[i]) {
			i++
			continue
		}
		j := i + 1
		for runs && j < len(s) && sep(s[j]) {
			j++
		}
		out = append(out, s[start:i])
		start, i, matched = j, j, true
	}
	if !matched {
		return []string{s}
	}
	out = append(out, s[start:])
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// bytes is StatsTrack.toString: "count=C,bytes=B", then, if there are other
// keys, "=" and ";key=value" for each in key order.
func (s statsTrack) bytes() []byte {
	b := make([]byte, 0, 32)
	b = append(b, "count="...)
	b = strconv.AppendInt(b, s.get(stCount), 10)
	b = append(b, ",bytes="...)
	b = strconv.AppendInt(b, s.get(stBytes), 10)
	var keys []string
	for k := range s {
		if k != stCount && k != stBytes {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		b = append(b, '=')
		for _, k := range keys {
			b = append(b, ';')
			b = append(b, k...)
			b = append(b, '=')
			b = strconv.AppendInt(b, s[k], 10)
		}
	}
	return b
}
