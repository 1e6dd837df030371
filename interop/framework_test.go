package interop

import (
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// A scenario drives one or more sessions against a target and records every
// outcome as a line of text. Values that legitimately differ between servers
// (zxids, times, session ids) are recorded as markers and normalized at the
// end: zxids become z1, z2, … by rank among the distinct zxids the scenario
// saw; session ids become s1, s2, … in the order the scenario opened its
// sessions; times are shown as their relation to other fields.
type scenario struct {
	name string
	// fresh scenarios look at the untouched tree: they run first, in table
	// order, and get no private root.
	fresh bool
	run   func(s *sc)
}

type transcript struct {
	name  string
	lines []string
}

func (t transcript) String() string {
	return "== " + t.name + "\n" + strings.Join(t.lines, "\n") + "\n"
}

// sc is a scenario's context.
type sc struct {
	name  string
	addr  string
	root  string // "/<name>" for non-fresh scenarios
	start time.Time

	mu       sync.Mutex
	lines    []string
	sessions map[int64]string
	nconn    int
	zconns   []*zconn
	raws     []*rawConn
}

// zconn is a go-zookeeper session whose watch notifications are recorded in
// arrival order (the event callback runs on the receive loop, so an event is
// recorded before any later reply on the same connection is delivered).
type zconn struct {
	name string
	c    *zk.Conn
	mu   sync.Mutex
	evs  []zk.Event
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

const sessionTimeout = 4 * time.Second

func (s *sc) logf(format string, a ...any) {
	s.mu.Lock()
	s.lines = append(s.lines, fmt.Sprintf(format, a...))
	s.mu.Unlock()
}

// conn opens a new go-zookeeper session and waits until it has a session id.
func (s *sc) conn() *zconn {
	s.mu.Lock()
	s.nconn++
	name := fmt.Sprintf("c%d", s.nconn)
	s.mu.Unlock()
	zc := &zconn{name: name}
	has := make(chan struct{}, 1)
	cb := func(ev zk.Event) {
		if ev.Type == zk.EventSession {
			if ev.State == zk.StateHasSession {
				select {
				case has <- struct{}{}:
				default:
				}
			}
			return
		}
		zc.mu.Lock()
		zc.evs = append(zc.evs, ev)
		zc.mu.Unlock()
	}
	c, _, err := zk.Connect([]string{s.addr}, sessionTimeout,
		zk.WithLogger(nopLogger{}), zk.WithLogInfo(false), zk.WithEventCallback(cb))
	if err != nil {
		panic(fmt.Sprintf("connect: %v", err))
	}
	select {
	case <-has:
	case <-time.After(10 * time.Second):
		c.Close()
		panic("connect: no session within 10s")
	}
	zc.c = c
	s.mu.Lock()
	s.zconns = append(s.zconns, zc)
	s.sessions[c.SessionID()] = fmt.Sprintf("s%d", len(s.sessions)+1)
	s.mu.Unlock()
	return zc
}

// raw opens a raw wire session.
func (s *sc) raw() *rawConn {
	rc, err := dialRaw(s.addr, int32(sessionTimeout/time.Millisecond))
	if err != nil {
		panic(fmt.Sprintf("raw connect: %v", err))
	}
	s.mu.Lock()
	s.raws = append(s.raws, rc)
	s.sessions[rc.session] = fmt.Sprintf("s%d", len(s.sessions)+1)
	s.mu.Unlock()
	return rc
}

func (s *sc) closeAll() {
	s.mu.Lock()
	zs, rs := s.zconns, s.raws
	s.zconns, s.raws = nil, nil
	s.mu.Unlock()
	for _, z := range zs {
		z.c.Close()
	}
	for _, r := range rs {
		r.close()
	}
}

// ---- value rendering ----

func zx(v int64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("⟨z%d⟩", v)
}

func (s *sc) sid(v int64) string {
	if v == 0 {
		return "0"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.sessions[v]; ok {
		return n
	}
	return fmt.Sprintf("0x%x(not-a-session)", uint64(v))
}

func (s *sc) ts(v int64) string {
	if v == 0 {
		return "0"
	}
	lo := s.start.Add(-time.Minute).UnixMilli()
	hi := time.Now().Add(time.Minute).UnixMilli()
	if v >= lo && v <= hi {
		return "now"
	}
	return fmt.Sprintf("abs(%d)", v)
}

func (s *sc) stat(st *zk.Stat) string {
	if st == nil {
		return "<nil stat>"
	}
	var mt string
	switch {
	case st.Mtime == 0:
		mt = "0"
	case st.Mtime == st.Ctime:
		mt = "=ctime"
	case st.Mtime > st.Ctime:
		mt = ">ctime"
	default:
		mt = "<ctime!"
	}
	if st.Mzxid == st.Czxid && st.Mtime != st.Ctime {
		mt += "(differs-with-same-zxid)"
	}
	return fmt.Sprintf("{czxid=%s mzxid=%s pzxid=%s ctime=%s mtime=%s version=%d cversion=%d aversion=%d ephemeralOwner=%s dataLength=%d numChildren=%d}",
		zx(st.Czxid), zx(st.Mzxid), zx(st.Pzxid), s.ts(st.Ctime), mt,
		st.Version, st.Cversion, st.Aversion, s.sid(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

func data(b []byte) string {
	if b == nil {
		return "<null>"
	}
	return strconv.Quote(string(b))
}

func acls(a []zk.ACL) string {
	if a == nil {
		return "<nil acl>"
	}
	parts := make([]string, len(a))
	for i, x := range a {
		parts[i] = fmt.Sprintf("%s:%s:%s", x.Scheme, x.ID, perms(x.Perms))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func perms(p int32) string {
	if p == zk.PermAll {
		return "cdrwa"
	}
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{zk.PermCreate, 'c'}, {zk.PermDelete, 'd'}, {zk.PermRead, 'r'}, {zk.PermWrite, 'w'}, {zk.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	if rest := p &^ zk.PermAll; rest != 0 || p == 0 {
		fmt.Fprintf(&b, "(%d)", p)
	}
	return b.String()
}

func sortedList(ss []string) string {
	if ss == nil {
		return "<nil list>"
	}
	c := append([]string{}, ss...)
	sort.Strings(c)
	return "[" + strings.Join(c, " ") + "]"
}

var codeNames = map[int32]string{
	0: "OK", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
	-4: "ConnectionLoss", -5: "MarshallingError", -6: "Unimplemented", -7: "OperationTimeout",
	-8: "BadArguments", -12: "UnknownSession", -13: "NewConfigNoQuorum", -14: "ReconfigInProgress",
	-100: "APIError", -101: "NoNode", -102: "NoAuth", -103: "BadVersion",
	-108: "NoChildrenForEphemerals", -110: "NodeExists", -111: "NotEmpty", -112: "SessionExpired",
	-113: "InvalidCallback", -114: "InvalidACL", -115: "AuthFailed", -116: "Closing", -117: "Nothing",
	-118: "SessionMoved", -119: "NotReadOnly", -120: "EphemeralOnLocalSession", -121: "NoWatcher",
	-122: "RequestTimeout", -123: "ReconfigDisabled", -124: "SessionClosedRequireSaslAuth",
	-125: "QuotaExceeded", -127: "Throttled",
}

func codeName(c int32) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code(%d)", c)
}

var zkErrCodes = map[error]int32{
	zk.ErrAPIError: -100, zk.ErrNoNode: -101, zk.ErrNoAuth: -102, zk.ErrBadVersion: -103,
	zk.ErrNoChildrenForEphemerals: -108, zk.ErrNodeExists: -110, zk.ErrNotEmpty: -111,
	zk.ErrSessionExpired: -112, zk.ErrInvalidACL: -114, zk.ErrAuthFailed: -115,
	zk.ErrClosing: -116, zk.ErrNothing: -117, zk.ErrSessionMoved: -118,
	zk.ErrReconfigDisabled: -123, zk.ErrBadArguments: -8,
}

var unknownErrRE = regexp.MustCompile(`^unknown error: (-?\d+)$`)

// errName names a go-zookeeper error by the server's code.
func errName(err error) string {
	if err == nil {
		return "OK"
	}
	if c, ok := zkErrCodes[err]; ok {
		return codeName(c)
	}
	if m := unknownErrRE.FindStringSubmatch(err.Error()); m != nil {
		c, _ := strconv.Atoi(m[1])
		return codeName(int32(c))
	}
	switch {
	case errors.Is(err, zk.ErrConnectionClosed):
		return "ConnectionClosed"
	case errors.Is(err, zk.ErrInvalidPath):
		return "client-side:InvalidPath"
	case errors.Is(err, zk.ErrInvalidFlags):
		return "client-side:InvalidFlags"
	}
	return "client-side:" + err.Error()
}

func evName(t zk.EventType) string {
	switch t {
	case zk.EventNodeCreated:
		return "NodeCreated"
	case zk.EventNodeDeleted:
		return "NodeDeleted"
	case zk.EventNodeDataChanged:
		return "NodeDataChanged"
	case zk.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case 5:
		return "DataWatchRemoved"
	case 6:
		return "ChildWatchRemoved"
	case 7:
		return "PersistentWatchRemoved"
	}
	return fmt.Sprintf("event(%d)", t)
}

// ---- normalization ----

var zxMarker = regexp.MustCompile(`⟨z(-?\d+)⟩`)

// normalize replaces zxid markers by their rank among the distinct zxids in
// the transcript.
func normalize(lines []string) []string {
	seen := map[int64]bool{}
	for _, l := range lines {
		for _, m := range zxMarker.FindAllStringSubmatch(l, -1) {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			seen[v] = true
		}
	}
	vals := make([]int64, 0, len(seen))
	for v := range seen {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	rank := make(map[int64]string, len(vals))
	for i, v := range vals {
		rank[v] = fmt.Sprintf("z%d", i+1)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = zxMarker.ReplaceAllStringFunc(l, func(m string) string {
			v, _ := strconv.ParseInt(zxMarker.FindStringSubmatch(m)[1], 10, 64)
			return rank[v]
		})
	}
	return out
}

// ---- running ----

const scenarioTimeout = 30 * time.Second

// runScenarios runs every scenario against addr, fresh ones first, and
// returns their normalized transcripts in table order.
func runScenarios(addr string, table []scenario) []transcript {
	var order []int
	for i, sn := range table {
		if sn.fresh {
			order = append(order, i)
		}
	}
	for i, sn := range table {
		if !sn.fresh {
			order = append(order, i)
		}
	}
	out := make([]transcript, len(table))
	for _, i := range order {
		out[i] = runScenario(addr, table[i])
	}
	return out
}

func runScenario(addr string, sn scenario) transcript {
	s := &sc{name: sn.name, addr: addr, start: time.Now(), sessions: map[int64]string{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				s.logf("PANIC: %v\n%s", r, firstFrames(debug.Stack()))
			}
		}()
		if !sn.fresh {
			s.root = "/" + sn.name
			a := s.conn()
			_, err := a.c.Create(s.root, nil, 0, zk.WorldACL(zk.PermAll))
			if err != nil {
				s.logf("setup: create %s -> %s", s.root, errName(err))
			}
			a.c.Close()
			s.mu.Lock()
			s.zconns = s.zconns[:0]
			s.sessions = map[int64]string{}
			s.nconn = 0
			s.mu.Unlock()
		}
		sn.run(s)
	}()
	select {
	case <-done:
		s.closeAll()
	case <-time.After(scenarioTimeout):
		s.logf("TIMEOUT: scenario did not finish in %v", scenarioTimeout)
		go s.closeAll()
	}
	s.mu.Lock()
	lines := append([]string{}, s.lines...)
	s.mu.Unlock()
	return transcript{name: sn.name, lines: normalize(lines)}
}

func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 24 {
		lines = lines[:24]
	}
	return strings.Join(lines, "\n")
}
