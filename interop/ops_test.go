package interop

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// Recording wrappers around go-zookeeper calls. Each logs one line:
// "<conn> <op> <args> -> <outcome>".

func (s *sc) create(c *zconn, path string, d []byte, flags int32, acl []zk.ACL) (string, error) {
	name, err := c.c.Create(path, d, flags, acl)
	s.logf("%s create %s data=%s flags=%d acl=%s -> %s", c.name, path, data(d), flags, acls(acl), outcome(err, name))
	return name, err
}

func (s *sc) createContainer(c *zconn, path string, d []byte, acl []zk.ACL) (string, error) {
	name, err := c.c.CreateContainer(path, d, zk.FlagContainer, acl)
	s.logf("%s createContainer %s -> %s", c.name, path, outcome(err, name))
	return name, err
}

func (s *sc) createTTL(c *zconn, path string, d []byte, flags int32, ttl time.Duration) (string, error) {
	name, err := c.c.CreateTTL(path, d, flags, zk.WorldACL(zk.PermAll), ttl)
	s.logf("%s createTTL %s flags=%d ttl=%v -> %s", c.name, path, flags, ttl, outcome(err, name))
	return name, err
}

func (s *sc) del(c *zconn, path string, version int32) error {
	err := c.c.Delete(path, version)
	s.logf("%s delete %s version=%d -> %s", c.name, path, version, errName(err))
	return err
}

func (s *sc) exists(c *zconn, path string) *zk.Stat {
	ok, st, err := c.c.Exists(path)
	switch {
	case err != nil:
		s.logf("%s exists %s -> %s", c.name, path, errName(err))
		return nil
	case !ok:
		s.logf("%s exists %s -> false", c.name, path)
		return nil
	}
	s.logf("%s exists %s -> %s", c.name, path, s.stat(st))
	return st
}

func (s *sc) get(c *zconn, path string) ([]byte, *zk.Stat) {
	d, st, err := c.c.Get(path)
	if err != nil {
		s.logf("%s getData %s -> %s", c.name, path, errName(err))
		return nil, nil
	}
	s.logf("%s getData %s -> data=%s %s", c.name, path, data(d), s.stat(st))
	return d, st
}

// mtimeGap keeps a write's mtime strictly after the node's ctime, so the
// stat rendering ("mtime=>ctime") does not depend on the clock's resolution.
const mtimeGap = 3 * time.Millisecond

func (s *sc) set(c *zconn, path string, d []byte, version int32) *zk.Stat {
	time.Sleep(mtimeGap)
	st, err := c.c.Set(path, d, version)
	if err != nil {
		s.logf("%s setData %s data=%s version=%d -> %s", c.name, path, data(d), version, errName(err))
		return nil
	}
	s.logf("%s setData %s data=%s version=%d -> %s", c.name, path, data(d), version, s.stat(st))
	return st
}

func (s *sc) children(c *zconn, path string) []string {
	kids, st, err := c.c.Children(path)
	if err != nil {
		s.logf("%s getChildren %s -> %s", c.name, path, errName(err))
		return nil
	}
	s.logf("%s getChildren %s -> %s %s", c.name, path, sortedList(kids), s.stat(st))
	return kids
}

func (s *sc) getACL(c *zconn, path string) []zk.ACL {
	a, st, err := c.c.GetACL(path)
	if err != nil {
		s.logf("%s getACL %s -> %s", c.name, path, errName(err))
		return nil
	}
	s.logf("%s getACL %s -> %s %s", c.name, path, acls(a), s.stat(st))
	return a
}

// getACLSorted is getACL with the entries sorted (for ACLs whose order the
// server does not define).
func (s *sc) getACLSorted(c *zconn, path string) {
	a, st, err := c.c.GetACL(path)
	if err != nil {
		s.logf("%s getACL %s -> %s", c.name, path, errName(err))
		return
	}
	sort.Slice(a, func(i, j int) bool { return acls(a[i:i+1]) < acls(a[j:j+1]) })
	s.logf("%s getACL %s -> sorted %s %s", c.name, path, acls(a), s.stat(st))
}

func (s *sc) setACL(c *zconn, path string, acl []zk.ACL, version int32) *zk.Stat {
	st, err := c.c.SetACL(path, acl, version)
	if err != nil {
		s.logf("%s setACL %s %s version=%d -> %s", c.name, path, acls(acl), version, errName(err))
		return nil
	}
	s.logf("%s setACL %s %s version=%d -> %s", c.name, path, acls(acl), version, s.stat(st))
	return st
}

func (s *sc) sync(c *zconn, path string) {
	p, err := c.c.Sync(path)
	s.logf("%s sync %s -> %s", c.name, path, outcome(err, p))
}

func (s *sc) addAuth(c *zconn, scheme, auth string) {
	err := c.c.AddAuth(scheme, []byte(auth))
	s.logf("%s addAuth %s %s -> %s", c.name, scheme, auth, errName(err))
}

// Watch-setting reads log like the plain ones.
func (s *sc) existsW(c *zconn, path string) {
	ok, st, _, err := c.c.ExistsW(path)
	switch {
	case err != nil:
		s.logf("%s existsW %s -> %s", c.name, path, errName(err))
	case !ok:
		s.logf("%s existsW %s -> false", c.name, path)
	default:
		s.logf("%s existsW %s -> %s", c.name, path, s.stat(st))
	}
}

func (s *sc) getW(c *zconn, path string) {
	d, st, _, err := c.c.GetW(path)
	if err != nil {
		s.logf("%s getDataW %s -> %s", c.name, path, errName(err))
		return
	}
	s.logf("%s getDataW %s -> data=%s %s", c.name, path, data(d), s.stat(st))
}

func (s *sc) childrenW(c *zconn, path string) {
	kids, st, _, err := c.c.ChildrenW(path)
	if err != nil {
		s.logf("%s getChildrenW %s -> %s", c.name, path, errName(err))
		return
	}
	s.logf("%s getChildrenW %s -> %s %s", c.name, path, sortedList(kids), s.stat(st))
}

// events records the watch notifications c has received, after a round trip
// on c so that every event caused by an already-answered request has arrived.
func (s *sc) events(c *zconn) {
	c.c.Exists("/")
	c.mu.Lock()
	evs := c.evs
	c.evs = nil
	c.mu.Unlock()
	s.logf("%s events %s", c.name, fmtEvents(evs))
}

// waitEvents waits up to d for c to have at least n events, then records them.
func (s *sc) waitEvents(c *zconn, n int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		k := len(c.evs)
		c.mu.Unlock()
		if k >= n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.events(c)
}

func fmtEvents(evs []zk.Event) string {
	parts := make([]string, 0, len(evs))
	for _, e := range evs {
		p := evName(e.Type) + " " + e.Path
		if e.State != zk.StateSyncConnected {
			p += fmt.Sprintf(" state=%d", e.State)
		}
		parts = append(parts, p)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func outcome(err error, v string) string {
	if err != nil {
		return errName(err)
	}
	return fmt.Sprintf("%q", v)
}

func (s *sc) multi(c *zconn, label string, ops ...interface{}) {
	time.Sleep(mtimeGap)
	res, err := c.c.Multi(ops...)
	parts := make([]string, len(res))
	for i, r := range res {
		switch {
		case r.Error != nil:
			parts[i] = "err=" + errName(r.Error)
		case r.Stat != nil:
			parts[i] = "stat=" + s.stat(r.Stat)
		case r.String != "":
			parts[i] = fmt.Sprintf("path=%q", r.String)
		default:
			parts[i] = "ok"
		}
	}
	s.logf("%s multi %s -> err=%s results=[%s]", c.name, label, errName(err), strings.Join(parts, "; "))
}

// ---- raw requests ----

// rawReq sends one raw request, logging "<label> -> <code> [decoded body]".
// decode may be nil (no body expected).
func (s *sc) rawReq(c *rawConn, label string, op int32, body []byte, decode func(r *jr) string) rawReply {
	return s.rawReqWait(c, label, op, body, decode, 5*time.Second, true)
}

func (s *sc) rawReqWait(c *rawConn, label string, op int32, body []byte, decode func(r *jr) string, wait time.Duration, closeOnTimeout bool) rawReply {
	rep, err := c.callWait(op, body, wait, closeOnTimeout)
	if err != nil {
		s.logf("raw %s -> %v", label, err)
		return rep
	}
	out := codeName(rep.err)
	if rep.err == 0 && decode != nil {
		r := &jr{b: rep.body}
		v := decode(r)
		if r.err != nil {
			v += fmt.Sprintf(" (decode error: %v)", r.err)
		}
		out += " " + v
	}
	if rep.err == 0 && decode == nil && len(rep.body) > 0 {
		out += fmt.Sprintf(" (unexpected %d-byte body)", len(rep.body))
	}
	s.logf("raw %s -> %s", label, out)
	return rep
}

// rawEvents records c's notifications after a round trip.
func (s *sc) rawEvents(c *rawConn) {
	c.call(opExists, (&jw{}).str("/").bool(false).b)
	evs := c.takeEvents()
	parts := make([]string, 0, len(evs))
	for _, e := range evs {
		p := evName(zk.EventType(e.typ)) + " " + e.path
		if e.state != 3 {
			p += fmt.Sprintf(" state=%d", e.state)
		}
		parts = append(parts, p)
	}
	s.logf("raw events [%s]", strings.Join(parts, ", "))
}

func rawStatBody(s *sc) func(r *jr) string {
	return func(r *jr) string { st := r.stat(); return s.stat(&st) }
}

// errRespBody decodes a reply body that is a bare ErrorResponse {int32 err}
// (ZooKeeper answers addWatch with one).
func errRespBody(r *jr) string { return fmt.Sprintf("body=ErrorResponse(%d)", r.i32()) }

func rawPathBody(r *jr) string { return fmt.Sprintf("%q", r.str()) }

func rawStrsSorted(r *jr) string {
	ss := r.strs()
	sort.Strings(ss)
	return sortedList(ss)
}

// createBody is a CreateRequest (opcodes 1, 15, 19) and, with ttl >= 0, a
// CreateTTLRequest (opcode 21).
func createBody(path string, d []byte, acl []zk.ACL, flags int32, ttl int64) []byte {
	w := (&jw{}).str(path).buf(d).acls(acl).i32(flags)
	if ttl >= 0 {
		w.i64(ttl)
	}
	return w.b
}

func pathBody(path string) []byte              { return (&jw{}).str(path).b }
func pathWatchBody(path string, w bool) []byte { return (&jw{}).str(path).bool(w).b }
func pathIntBody(path string, v int32) []byte  { return (&jw{}).str(path).i32(v).b }

var worldAll = zk.WorldACL(zk.PermAll)

// multiRaw is c.c.Multi after the mtimeGap pause, for multis whose
// results the scenario renders itself.
func (c *zconn) multiRaw(ops ...interface{}) ([]zk.MultiResponse, error) {
	time.Sleep(mtimeGap)
	return c.c.Multi(ops...)
}
