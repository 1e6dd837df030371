package interop

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// The workload of the partition tests: one go-zookeeper session per
// server, pinned to it, and two clients on each session:
//
//   - a writer that creates sequential znodes <prefix>/s/<token>- in a
//     closed loop, each with a token never used before, remembering which
//     creates were acknowledged; afterwards every server must list each
//     acknowledged token exactly once (at the path the server returned),
//     and no token twice;
//   - a register client doing Sync+getData, setData and a compare-and-set
//     (setData with the version it last saw) on eight znodes
//     <prefix>/r0..r7, whose history porcupine must find linearizable.
//
// Every acknowledged write (a create, a setData or a successful CAS) is
// also logged with the server it went through and its call and return
// times: the recovery time after a fault is measured from that log.

const partRegisters = 8

// pinnedHost is a go-zookeeper HostProvider that keeps a session on one
// server and retries it every 50 ms (the default provider sleeps a second
// after each round over its list, which would quantize the recovery times
// to seconds).
type pinnedHost struct {
	addr   string
	mu     sync.Mutex
	tries  int
	closed atomic.Bool
}

func (h *pinnedHost) Init(servers []string) error {
	if h.addr == "" {
		h.addr = servers[0]
	}
	return nil
}

func (h *pinnedHost) Len() int { return 1 }

func (h *pinnedHost) Next() (string, bool) {
	if h.closed.Load() {
		// Closing: retryStart makes the connect loop look at its quit
		// channel (it never does otherwise).
		return h.addr, true
	}
	h.mu.Lock()
	h.tries++
	again := h.tries > 1
	h.mu.Unlock()
	if again {
		time.Sleep(50 * time.Millisecond)
	}
	return h.addr, false
}

func (h *pinnedHost) Connected() {
	h.mu.Lock()
	h.tries = 0
	h.mu.Unlock()
}

// pinnedConn is a session on one server of s.
type pinnedConn struct {
	*zk.Conn
	host *pinnedHost
}

func (c *pinnedConn) close() {
	c.host.closed.Store(true)
	c.Conn.Close()
}

// dialPinned opens a session on node i of s and waits for it (up to d).
func dialPinned(s *partServers, i int, d time.Duration) (*pinnedConn, error) {
	h := &pinnedHost{addr: s.clientAddr(i)}
	c, ev, err := zk.Connect([]string{h.addr}, 8*time.Second, zk.WithDialer(s.lab.Dial),
		zk.WithHostProvider(h), zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	go func() {
		for range ev {
		}
	}()
	pc := &pinnedConn{Conn: c, host: h}
	deadline := time.Now().Add(d)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			pc.close()
			return nil, fmt.Errorf("no session on %s %d after %v", s.kind, i+1, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return pc, nil
}

// The register model: a znode's data and version.
type regState struct {
	val string
	ver int32
}

type regKind int

const (
	regRead regKind = iota
	regSet
	regCAS
)

type regInput struct {
	key  string
	kind regKind
	val  string
	exp  int32 // regCAS: the expected version
}

type regResult int

const (
	regOK regResult = iota
	regBadVersion
	regUnknown // failed without saying whether it took effect
)

type regOutput struct {
	res regResult
	val string // regRead
	ver int32  // regRead: the version read; regSet, regCAS: the new version
}

var registerModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{regState{}} },
	Step: func(st, in, out interface{}) []interface{} {
		s, i, o := st.(regState), in.(regInput), out.(regOutput)
		next := regState{i.val, s.ver + 1}
		switch i.kind {
		case regRead:
			if o.res == regOK && o.val == s.val && o.ver == s.ver {
				return []interface{}{s}
			}
		case regSet:
			switch {
			case o.res == regOK && o.ver == next.ver:
				return []interface{}{next}
			case o.res == regUnknown:
				return []interface{}{s, next}
			}
		case regCAS:
			can := s.ver == i.exp
			switch {
			case o.res == regOK && can && o.ver == next.ver:
				return []interface{}{next}
			case o.res == regBadVersion && !can:
				return []interface{}{s}
			case o.res == regUnknown && can:
				return []interface{}{s, next}
			case o.res == regUnknown:
				return []interface{}{s}
			}
		}
		return nil
	},
	Equal: func(a, b interface{}) bool { return a.(regState) == b.(regState) },
	DescribeOperation: func(in, out interface{}) string {
		return fmt.Sprintf("%+v -> %+v", in, out)
	},
}

// ack is one acknowledged write.
type ack struct {
	node      int
	call, ret time.Time
}

// created is what a writer knows about one token.
type created struct {
	node  int
	acked bool
	path  string // as acknowledged
}

// partWorkload runs the clients of one measurement on s.
type partWorkload struct {
	s      *partServers
	prefix string
	start  time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	conns  []*pinnedConn

	mu      sync.Mutex
	acks    []ack
	tokens  map[string]created
	history []porcupine.Operation
}

// startWorkload creates prefix, its sequential parent and registers
// through a session on node 0, then starts the clients.
func startWorkload(tb testing.TB, s *partServers, prefix string) *partWorkload {
	tb.Helper()
	w := &partWorkload{s: s, prefix: prefix, start: time.Now(), stop: make(chan struct{}), tokens: map[string]created{}}
	setup, err := dialPinned(s, 0, 30*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	acl := zk.WorldACL(zk.PermAll)
	paths := []string{prefix, prefix + "/s"}
	for r := range partRegisters {
		paths = append(paths, fmt.Sprintf("%s/r%d", prefix, r))
	}
	for _, p := range paths {
		if _, err := setup.Create(p, nil, 0, acl); err != nil {
			setup.close()
			tb.Fatalf("create %s: %v", p, err)
		}
	}
	setup.close()
	for i := range partNodes {
		c, err := dialPinned(s, i, 30*time.Second)
		if err != nil {
			w.close()
			tb.Fatal(err)
		}
		w.conns = append(w.conns, c)
	}
	for i, c := range w.conns {
		w.wg.Add(2)
		go func() { defer w.wg.Done(); w.writer(i, c) }()
		go func() { defer w.wg.Done(); w.registers(i, c) }()
	}
	return w
}

func (w *partWorkload) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *partWorkload) pause(d time.Duration) {
	select {
	case <-w.stop:
	case <-time.After(d):
	}
}

func (w *partWorkload) writer(node int, c *pinnedConn) {
	acl := zk.WorldACL(zk.PermAll)
	for k := 0; !w.stopped(); k++ {
		token := fmt.Sprintf("n%d-%d", node, k)
		call := time.Now()
		path, err := c.Create(w.prefix+"/s/"+token+"-", nil, zk.FlagSequence, acl)
		ret := time.Now()
		w.mu.Lock()
		w.tokens[token] = created{node: node, acked: err == nil, path: path}
		if err == nil {
			w.acks = append(w.acks, ack{node, call, ret})
		}
		w.mu.Unlock()
		if err != nil {
			w.pause(20 * time.Millisecond)
		} else {
			w.pause(3 * time.Millisecond)
		}
	}
}

func (w *partWorkload) registers(node int, c *pinnedConn) {
	rng := rand.New(rand.NewPCG(uint64(node), uint64(w.start.UnixNano())))
	seen := map[string]int32{}
	for k := 0; !w.stopped(); k++ {
		in := regInput{key: fmt.Sprintf("%s/r%d", w.prefix, rng.IntN(partRegisters)), val: fmt.Sprintf("n%d-%d", node, k)}
		switch p := rng.IntN(10); {
		case p < 4:
			in.kind = regRead
		case p < 7:
			in.kind = regSet
		default:
			in.kind = regCAS
			in.exp = seen[in.key]
		}
		call := time.Now()
		var out regOutput
		var err error
		switch in.kind {
		case regRead:
			if _, err = c.Sync(in.key); err == nil {
				var data []byte
				var st *zk.Stat
				if data, st, err = c.Get(in.key); err == nil {
					out = regOutput{res: regOK, val: string(data), ver: st.Version}
					seen[in.key] = st.Version
				}
			}
			if err != nil {
				w.pause(20 * time.Millisecond)
				continue // a failed read tells nothing: leave it out
			}
		case regSet, regCAS:
			ver := int32(-1)
			if in.kind == regCAS {
				ver = in.exp
			}
			var st *zk.Stat
			st, err = c.Set(in.key, []byte(in.val), ver)
			switch {
			case err == nil:
				out = regOutput{res: regOK, ver: st.Version}
				seen[in.key] = st.Version
			case in.kind == regCAS && errors.Is(err, zk.ErrBadVersion):
				out = regOutput{res: regBadVersion}
			default:
				out = regOutput{res: regUnknown}
			}
		}
		ret := time.Now()
		op := porcupine.Operation{ClientId: node, Input: in, Call: int64(call.Sub(w.start)), Output: out, Return: int64(ret.Sub(w.start))}
		if out.res == regUnknown {
			op.Return = math.MaxInt64 // it may take effect at any later time
		}
		w.mu.Lock()
		w.history = append(w.history, op)
		if out.res == regOK && in.kind != regRead {
			w.acks = append(w.acks, ack{node, call, ret})
		}
		w.mu.Unlock()
		if out.res == regUnknown {
			w.pause(20 * time.Millisecond)
		} else {
			w.pause(8 * time.Millisecond)
		}
	}
}

// firstAck returns the earliest return time of a write acknowledged by a
// node accept says yes to, among the writes called at or after since.
func (w *partWorkload) firstAck(since time.Time, accept func(node int) bool) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first time.Time
	for _, a := range w.acks {
		if accept(a.node) && !a.call.Before(since) && (first.IsZero() || a.ret.Before(first)) {
			first = a.ret
		}
	}
	return first, !first.IsZero()
}

// waitAck waits up to d for firstAck.
func (w *partWorkload) waitAck(since time.Time, accept func(node int) bool, d time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(d)
	for {
		if at, ok := w.firstAck(since, accept); ok {
			return at, true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEveryNode waits up to d until every node has acknowledged a write
// called at or after since.
func (w *partWorkload) waitEveryNode(tb testing.TB, since time.Time, d time.Duration) {
	tb.Helper()
	for i := range partNodes {
		if _, ok := w.waitAck(since, func(n int) bool { return n == i }, d); !ok {
			tb.Fatalf("%s %d acknowledges no write %v after the ensemble was whole again", w.s.kind, i+1, d)
		}
	}
}

// close stops the clients: they finish their current request (the
// sessions are closed after 30s to unblock them) and the sessions close.
func (w *partWorkload) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	for _, c := range w.conns {
		c.close()
	}
	<-done
}

// verify checks, through a fresh session on every node after a Sync,
// that each acknowledged create is listed exactly once at the path it
// was acknowledged with, that no token is listed twice, that all nodes
// list the same children, and that the register history is linearizable.
func (w *partWorkload) verify(tb testing.TB) {
	tb.Helper()
	var lists [][]string
	for i := range partNodes {
		c, err := dialPinned(w.s, i, 30*time.Second)
		if err != nil {
			tb.Fatal(err)
		}
		_, err = c.Sync(w.prefix + "/s")
		var children []string
		if err == nil {
			children, _, err = c.Children(w.prefix + "/s")
		}
		c.close()
		if err != nil {
			tb.Fatalf("listing %s/s on %s %d: %v", w.prefix, w.s.kind, i+1, err)
		}
		sort.Strings(children)
		lists = append(lists, children)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 1; i < len(lists); i++ {
		if !slices.Equal(lists[0], lists[i]) {
			tb.Errorf("%s 1 lists %d children of %s/s, %s %d lists %d, and they differ", w.s.kind, len(lists[0]), w.prefix, w.s.kind, i+1, len(lists[i]))
		}
	}
	seen := map[string][]string{}
	for _, name := range lists[0] {
		cut := strings.LastIndexByte(name, '-')
		if cut < 0 {
			tb.Errorf("unexpected child %q", name)
			continue
		}
		token := name[:cut]
		seen[token] = append(seen[token], w.prefix+"/s/"+name)
	}
	acked, unknownPresent, unknownAbsent := 0, 0, 0
	for token, paths := range seen {
		if len(paths) > 1 {
			tb.Errorf("create %s applied %d times: %v", token, len(paths), paths)
		}
		if _, ok := w.tokens[token]; !ok {
			tb.Errorf("child %v was never created by a client", paths)
		}
	}
	for token, c := range w.tokens {
		paths := seen[token]
		switch {
		case c.acked:
			acked++
			if len(paths) == 0 {
				tb.Errorf("acknowledged create %s (%s, through %s %d) is lost", token, c.path, w.s.kind, c.node+1)
			} else if paths[0] != c.path {
				tb.Errorf("acknowledged create %s was acknowledged as %s but is listed as %s", token, c.path, paths[0])
			}
		case len(paths) > 0:
			unknownPresent++
		default:
			unknownAbsent++
		}
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel.ToModel(), w.history, 60*time.Second)
	unknownRegs := 0
	for _, op := range w.history {
		if op.Output.(regOutput).res == regUnknown {
			unknownRegs++
		}
	}
	tb.Logf("%s: %d acknowledged creates, all present once on every node; %d failed creates applied, %d not; %d register operations (%d of unknown outcome): %s",
		w.s.kind, acked, unknownPresent, unknownAbsent, len(w.history), unknownRegs, res)
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		for _, part := range info.PartialLinearizations() {
			tb.Logf("longest linearizable prefix: %v", part)
			break
		}
		tb.Errorf("%s: the register history is not linearizable", w.s.kind)
	default:
		tb.Errorf("%s: porcupine gave no verdict (%s) on %d operations", w.s.kind, res, len(w.history))
	}
}

// The register model rejects what it must: a read of a value older than
// a write that completed before the read began, and a CAS that succeeded
// with a stale version.
func TestRegisterModelRejects(t *testing.T) {
	w := regInput{key: "/r", kind: regSet, val: "a"}
	ok := func(ops ...porcupine.Operation) bool {
		return porcupine.CheckOperations(registerModel.ToModel(), ops)
	}
	good := []porcupine.Operation{
		{ClientId: 0, Input: w, Output: regOutput{res: regOK, ver: 1}, Call: 0, Return: 10},
		{ClientId: 1, Input: regInput{key: "/r", kind: regRead}, Output: regOutput{res: regOK, val: "a", ver: 1}, Call: 20, Return: 30},
		{ClientId: 1, Input: regInput{key: "/r", kind: regCAS, val: "b", exp: 1}, Output: regOutput{res: regOK, ver: 2}, Call: 40, Return: 50},
		{ClientId: 0, Input: regInput{key: "/r", kind: regCAS, val: "c", exp: 1}, Output: regOutput{res: regBadVersion}, Call: 60, Return: 70},
		{ClientId: 0, Input: regInput{key: "/r", kind: regSet, val: "d"}, Output: regOutput{res: regUnknown}, Call: 80, Return: math.MaxInt64},
	}
	if !ok(good...) {
		t.Fatal("a linearizable history was rejected")
	}
	stale := slices.Clone(good[:1])
	stale = append(stale, porcupine.Operation{ClientId: 1, Input: regInput{key: "/r", kind: regRead}, Output: regOutput{res: regOK, val: "", ver: 0}, Call: 20, Return: 30})
	if ok(stale...) {
		t.Error("a stale read was accepted")
	}
	staleCAS := slices.Clone(good[:3])
	staleCAS = append(staleCAS, porcupine.Operation{ClientId: 0, Input: regInput{key: "/r", kind: regCAS, val: "c", exp: 1}, Output: regOutput{res: regOK, ver: 3}, Call: 60, Return: 70})
	if ok(staleCAS...) {
		t.Error("a CAS with a stale version was accepted")
	}
}
