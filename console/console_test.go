package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
)

const (
	superUser = "super"
	superPass = "letmein"
)

// openNode opens a single in-memory node with a super digest.
func openNode(t testing.TB) *coord.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := coord.Open(ctx, coord.Config{NodeID: "n1", SuperDigest: coord.DigestID(superUser, superPass)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

// fixture is a node, its console mounted at /ui/, and a session to set up
// the tree with.
type fixture struct {
	t   testing.TB
	n   *coord.Node
	c   *Console
	srv *httptest.Server
	s   *coord.Session
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	n := openNode(t)
	c := New(n, opts)
	t.Cleanup(func() { _ = c.Close() })
	mux := http.NewServeMux()
	mux.Handle("/ui/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := n.NewSession(context.Background(), coord.SessionConfig{
		Auth: []coord.Auth{{Scheme: "digest", Credentials: []byte(superUser + ":" + superPass)}}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, n: n, c: c, srv: srv, s: s}
}

func (f *fixture) create(path, data string, acl []coord.ACL) {
	f.t.Helper()
	if _, err := f.s.Create(context.Background(), path, []byte(data), coord.Persistent, acl); err != nil {
		f.t.Fatalf("create %s: %v", path, err)
	}
}

// client is a browser-like client: a cookie jar, no redirects followed.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) get(c *http.Client, path string) (int, string) {
	f.t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) post(c *http.Client, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login logs c in and returns the CSRF token its pages carry.
func (f *fixture) login(c *http.Client, user, pass string) string {
	f.t.Helper()
	resp, body := f.post(c, "/ui/login", url.Values{"user": {user}, "password": {pass}, "next": {"/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	_, page := f.get(c, "/ui/?path=%2F")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("no CSRF token on the page after login:\n%s", page)
	}
	return m[1]
}

func treeURL(p string) string { return "/ui/?path=" + url.QueryEscape(p) }

func TestTreePageShowsNode(t *testing.T) {
	f := newFixture(t, Options{})
	f.create("/app", `{"name":"demo","replicas":3}`, nil)
	f.create("/app/config", "plain text", nil)
	f.create("/app/bin", "\x00\x01\x02binary\xff", nil)

	code, body := f.get(http.DefaultClient, treeURL("/app"))
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{
		`&#34;name&#34;: &#34;demo&#34;`, // pretty-printed JSON
		`href="./?path=%2Fapp%2Fconfig"`, `href="./?path=%2Fapp%2Fbin"`,
		`aria-label="Breadcrumb"`, "dataVersion", "world", "cdrwa",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the /app page lacks %q", want)
		}
	}
	_, body = f.get(http.DefaultClient, treeURL("/app/bin"))
	if !strings.Contains(body, "00 01 02 62 69 6e 61 72  79 ff") || !strings.Contains(body, "...binary.") {
		t.Errorf("binary data not shown as hex:\n%s", body)
	}
	code, body = f.get(http.DefaultClient, treeURL("/app/missing/deeper"))
	if code != 404 || !strings.Contains(body, `href="./?path=%2Fapp"`) {
		t.Errorf("missing znode: status %d, want 404 with a link to the nearest ancestor", code)
	}
}

func TestEscaping(t *testing.T) {
	f := newFixture(t, Options{})
	name := `<script>alert(1)<`
	f.create("/"+name, `<script>alert("data")</script><img src=x onerror=alert(2)>`, nil)
	_, root := f.get(http.DefaultClient, treeURL("/"))
	_, node := f.get(http.DefaultClient, treeURL("/"+name))
	for _, body := range []string{root, node} {
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Fatalf("unescaped markup from a znode in the page:\n%s", body)
		}
	}
	if !strings.Contains(root, "&lt;script&gt;alert(1)&lt;") {
		t.Errorf("the root page does not show the name as text")
	}
	if !strings.Contains(node, "&lt;img src=x onerror=alert(2)&gt;") {
		t.Errorf("the node page does not show the data as text")
	}
	// The only scripts are the console's own, and the policy forbids others.
	resp, err := http.Get(f.srv.URL + treeURL("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if got := regexp.MustCompile(`<script[^>]*>`).FindAllString(node, -1); len(got) != 1 || !strings.Contains(got[0], `src="static/console.js"`) {
		t.Errorf("script tags on the page: %q", got)
	}
}

func TestMutationsNeedLoginAndCSRF(t *testing.T) {
	f := newFixture(t, Options{})
	f.create("/x", "old", nil)
	anon := f.client()
	resp, _ := f.post(anon, "/ui/set", url.Values{"path": {"/x"}, "data": {"anon"}, "version": {"-1"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous set: %d, want 403", resp.StatusCode)
	}
	if code, _ := f.get(anon, "/ui/set?path=%2Fx&data=get"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET set: %d, want 405", code)
	}

	c := f.client()
	csrf := f.login(c, "alice", "pw")
	set := func(token string, hdr map[string]string) int {
		resp, _ := f.post(c, "/ui/set", url.Values{"csrf": {token}, "path": {"/x"}, "data": {"new"}, "version": {"0"}}, hdr)
		return resp.StatusCode
	}
	if got := set("", nil); got != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", got)
	}
	if got := set("wrong", nil); got != http.StatusForbidden {
		t.Errorf("wrong token: %d, want 403", got)
	}
	if got := set(csrf, map[string]string{"Origin": "http://evil.example"}); got != http.StatusForbidden {
		t.Errorf("cross-origin: %d, want 403", got)
	}
	if got := set(csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}); got != http.StatusForbidden {
		t.Errorf("cross-site: %d, want 403", got)
	}
	if data, _, _ := f.s.GetData(context.Background(), "/x"); string(data) != "old" {
		t.Fatalf("a refused request changed the data to %q", data)
	}
	if got := set(csrf, map[string]string{"Origin": f.srv.URL}); got != http.StatusSeeOther {
		t.Fatalf("same-origin set with the token: %d, want 303", got)
	}
	if data, _, _ := f.s.GetData(context.Background(), "/x"); string(data) != "new" {
		t.Fatalf("data = %q after set", data)
	}
	// A stale version is a conflict, shown on the page.
	resp, body := f.post(c, "/ui/set", url.Values{"csrf": {csrf}, "path": {"/x"}, "data": {"newer"}, "version": {"0"}}, nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "version mismatch") {
		t.Errorf("stale set: %d", resp.StatusCode)
	}
	// Another login's token does not work for this one.
	other := f.client()
	otherCSRF := f.login(other, "alice", "pw")
	if got := set(otherCSRF, nil); got != http.StatusForbidden {
		t.Errorf("another login's token: %d, want 403", got)
	}
	// Logout ends the login.
	if resp, _ := f.post(c, "/ui/logout", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if got := set(csrf, nil); got != http.StatusForbidden {
		t.Errorf("after logout: %d, want 403", got)
	}
}

func TestCreateDeleteSetACL(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client()
	csrf := f.login(c, "alice", "pw")
	resp, body := f.post(c, "/ui/create", url.Values{"csrf": {csrf}, "path": {"/"}, "name": {"svc"}, "data": {"68690a"},
		"encoding": {"hex"}, "mode": {"persistent"}, "aclmode": {"creator"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if loc := resp.Header.Get("Location"); loc != "./?done=created&path=%2Fsvc" {
		t.Errorf("create redirects to %q", loc)
	}
	data, _, err := f.s.GetData(context.Background(), "/svc")
	if err != nil || string(data) != "hi\n" {
		t.Fatalf("created data %q, %v", data, err)
	}
	acl, _, _ := f.s.GetACL(context.Background(), "/svc")
	if len(acl) != 1 || acl[0].ID != coord.DigestID("alice", "pw") {
		t.Errorf("creator ACL = %+v", acl)
	}
	// The anonymous viewer may not read it now.
	_, page := f.get(http.DefaultClient, treeURL("/svc"))
	if !strings.Contains(page, `id="data-denied"`) {
		t.Errorf("anonymous sees creator-only data")
	}
	// Alice opens it to the world for reading.
	resp, body = f.post(c, "/ui/acl", url.Values{"csrf": {csrf}, "path": {"/svc"}, "aversion": {"0"},
		"acl": {"world:anyone:r\ndigest:" + coord.DigestID("alice", "pw") + ":cdrwa"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setACL: %d %s", resp.StatusCode, body)
	}
	_, page = f.get(http.DefaultClient, treeURL("/svc"))
	if strings.Contains(page, `id="data-denied"`) || !strings.Contains(page, "hi\n</pre>") {
		t.Errorf("anonymous cannot read after the ACL change")
	}
	// Deleting needs the confirmation.
	resp, _ = f.post(c, "/ui/delete", url.Values{"csrf": {csrf}, "path": {"/svc"}, "version": {"0"}}, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unconfirmed delete: %d", resp.StatusCode)
	}
	resp, _ = f.post(c, "/ui/delete", url.Values{"csrf": {csrf}, "path": {"/svc"}, "version": {"0"}, "confirm": {"1"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if ok, _, _ := f.s.Exists(context.Background(), "/svc"); ok {
		t.Error("/svc still exists")
	}
}

func TestACLEnforcedPerViewer(t *testing.T) {
	f := newFixture(t, Options{})
	f.create("/secret", "s3cret-value", coord.DigestACL(coord.PermAll, "alice", "pw"))
	f.create("/locked", "", coord.DigestACL(coord.PermAll, "alice", "pw"))
	f.create("/locked/inner", "x", nil)

	sees := func(c *http.Client) bool {
		_, page := f.get(c, treeURL("/secret"))
		return strings.Contains(page, "s3cret-value")
	}
	anon := f.client()
	if sees(anon) {
		t.Error("the anonymous viewer sees /secret's data")
	}
	_, page := f.get(anon, treeURL("/secret"))
	if !strings.Contains(page, "Withheld") {
		t.Error("no withheld notice for the anonymous viewer")
	}
	_, page = f.get(anon, treeURL("/locked"))
	if strings.Contains(page, "inner") {
		t.Error("the anonymous viewer sees /locked's children")
	}
	var paths struct{ Paths []string }
	_, js := f.get(anon, "/ui/api/children?dir=%2Flocked")
	if err := json.Unmarshal([]byte(js), &paths); err != nil || len(paths.Paths) != 0 {
		t.Errorf("completion leaks children: %s", js)
	}

	bob := f.client()
	f.login(bob, "bob", "pw")
	if sees(bob) {
		t.Error("bob sees alice's /secret")
	}
	alice := f.client()
	f.login(alice, "alice", "pw")
	if !sees(alice) {
		t.Error("alice does not see her /secret")
	}
	if sees(anon) || sees(bob) {
		t.Error("after alice's read, another viewer sees /secret (a session leaked between identities)")
	}
	wrong := f.client()
	f.login(wrong, "alice", "not-her-password")
	if sees(wrong) {
		t.Error("a wrong password sees /secret")
	}
	root := f.client()
	f.login(root, superUser, superPass)
	if !sees(root) {
		t.Error("the super user does not see /secret")
	}
	_, page = f.get(root, treeURL("/"))
	if !strings.Contains(page, "badge super") {
		t.Error("the super login is not marked")
	}
	// Bob may not write it either: the engine says no.
	csrf := f.login(bob, "bob", "pw")
	resp, body := f.post(bob, "/ui/set", url.Values{"csrf": {csrf}, "path": {"/secret"}, "data": {"x"}, "force": {"1"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Not allowed") {
		t.Errorf("bob's set: %d", resp.StatusCode)
	}
}

func TestChildrenPaging(t *testing.T) {
	f := newFixture(t, Options{PageSize: 100})
	f.create("/many", "", nil)
	for i := range 250 {
		f.create("/many/c"+strconv.Itoa(1000+i), "", nil)
	}
	rows := regexp.MustCompile(`<a href="\./\?path=%2Fmany%2Fc\d+">`)
	_, p1 := f.get(http.DefaultClient, treeURL("/many"))
	if n := len(rows.FindAllString(p1, -1)); n != 100 {
		t.Errorf("page 1 lists %d children, want 100", n)
	}
	if !strings.Contains(p1, "1–100 of 250") || !strings.Contains(p1, `rel="next"`) || strings.Contains(p1, `rel="prev"`) {
		t.Errorf("page 1 pager wrong")
	}
	_, p3 := f.get(http.DefaultClient, treeURL("/many")+"&page=3")
	if n := len(rows.FindAllString(p3, -1)); n != 50 {
		t.Errorf("page 3 lists %d children, want 50", n)
	}
	if !strings.Contains(p3, "c1249") || strings.Contains(p3, "c1199<") || strings.Contains(p3, `rel="next"`) {
		t.Errorf("page 3 shows the wrong children")
	}
	_, pf := f.get(http.DefaultClient, treeURL("/many")+"&filter=c110")
	if n := len(rows.FindAllString(pf, -1)); n != 10 {
		t.Errorf("filter c110 lists %d children, want 10", n)
	}
	_, big := f.get(http.DefaultClient, treeURL("/many")+"&page=99")
	if !strings.Contains(big, "page 3 of 3") {
		t.Errorf("an out-of-range page is not clamped")
	}
}

func TestBoundsAndHeaders(t *testing.T) {
	f := newFixture(t, Options{MaxRequestBytes: 1024})
	c := f.client()
	csrf := f.login(c, "alice", "pw")
	resp, _ := f.post(c, "/ui/set", url.Values{"csrf": {csrf}, "path": {"/"}, "data": {strings.Repeat("x", 4096)}}, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", resp.StatusCode)
	}
	resp, err := http.Get(f.srv.URL + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	// The login cookie is HttpOnly, SameSite=Strict and scoped to the console.
	resp, _ = f.post(f.client(), "/ui/login", url.Values{"user": {"a"}, "password": {"b"}}, nil)
	ck := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/ui/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("Set-Cookie %q lacks %s", ck, want)
		}
	}
	// A cross-site login is refused (login CSRF).
	resp, _ = f.post(f.client(), "/ui/login", url.Values{"user": {"a"}, "password": {"b"}}, map[string]string{"Origin": "http://evil.example"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login: %d, want 403", resp.StatusCode)
	}
}

func TestReadOnly(t *testing.T) {
	f := newFixture(t, Options{ReadOnly: true})
	if code, _ := f.get(http.DefaultClient, "/ui/login"); code != http.StatusForbidden {
		t.Errorf("login on a read-only console: %d", code)
	}
	resp, _ := f.post(f.client(), "/ui/create", url.Values{"path": {"/"}, "name": {"x"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("create on a read-only console: %d", resp.StatusCode)
	}
	if _, page := f.get(http.DefaultClient, "/ui/"); !strings.Contains(page, "read-only console") {
		t.Error("no read-only badge")
	}
}

func TestMounts(t *testing.T) {
	n := openNode(t)
	c := New(n, Options{})
	defer c.Close()
	for _, tc := range []struct {
		name string
		h    http.Handler
		path string
	}{
		{"prefix", c, "/ui/sessions"},
		{"stripped", http.StripPrefix("/ui", c), "/ui/sessions"},
	} {
		mux := http.NewServeMux()
		mux.Handle("/ui/", tc.h)
		srv := httptest.NewServer(mux)
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "Sessions attached to this node") {
			t.Errorf("%s mount: %d", tc.name, resp.StatusCode)
		}
		resp, err = http.Get(srv.URL + "/ui/static/console.css")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
			t.Errorf("%s mount: css %d %s", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		srv.Close()
	}
}

func TestSessionsPageAndStats(t *testing.T) {
	f := newFixture(t, Options{})
	f.create("/open", "", nil)
	f.create("/closed", "", coord.DigestACL(coord.PermAll, "alice", "pw"))
	worker, err := f.n.NewSession(context.Background(), coord.SessionConfig{
		Auth: []coord.Auth{{Scheme: "digest", Credentials: []byte("alice:pw")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := worker.Create(ctx, "/open/worker-1", nil, coord.Ephemeral, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := worker.Create(ctx, "/closed/hidden-worker", nil, coord.Ephemeral, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := worker.GetDataW(ctx, "/open"); err != nil {
		t.Fatal(err)
	}
	_, page := f.get(http.DefaultClient, "/ui/sessions")
	if !strings.Contains(page, sessionHex(worker.ID())) || !strings.Contains(page, "/open/worker-1") {
		t.Errorf("the sessions page lacks the worker or its ephemeral")
	}
	if strings.Contains(page, "hidden-worker") || !strings.Contains(page, "1 hidden from you") {
		t.Errorf("the anonymous viewer sees an ephemeral under a parent it may not list")
	}
	if !strings.Contains(page, `<a href="./?path=%2Fopen">/open</a>`) {
		t.Errorf("the watch summary lacks /open")
	}
	alice := f.client()
	f.login(alice, "alice", "pw")
	if _, page := f.get(alice, "/ui/sessions"); !strings.Contains(page, "/closed/hidden-worker") {
		t.Errorf("alice does not see her ephemeral")
	}
	// The ephemeral's page names its owner.
	_, node := f.get(http.DefaultClient, treeURL("/open/worker-1"))
	if !strings.Contains(node, `href="sessions#s-`+sessionHex(worker.ID())+`"`) {
		t.Errorf("the ephemeral's page does not link its owner")
	}

	_, js := f.get(http.DefaultClient, "/ui/api/stats")
	var st statSample
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	if st.Znodes < 5 || st.Role != "standalone" || st.SyncMs < 0 || st.GlobalSessions < 2 {
		t.Errorf("stats = %+v", st)
	}
	_, ens := f.get(http.DefaultClient, "/ui/ensemble")
	for _, want := range []string{"Members", "n1", "log format", `data-series="ops"`} {
		if !strings.Contains(ens, want) {
			t.Errorf("the ensemble page lacks %q", want)
		}
	}
}

func TestSessionCacheBoundsAndIdle(t *testing.T) {
	n := openNode(t)
	c := newSessionCache(n, 2, time.Minute)
	defer c.closeAll()
	ctx := context.Background()
	auth := func(u string) []coord.Auth { return []coord.Auth{{Scheme: "digest", Credentials: []byte(u + ":pw")}} }
	a, relA, err := c.acquire(ctx, "a", auth("a"))
	if err != nil {
		t.Fatal(err)
	}
	a2, relA2, _ := c.acquire(ctx, "a", auth("a"))
	if a2 != a {
		t.Error("the same identity got two sessions")
	}
	b, relB, _ := c.acquire(ctx, "b", auth("b"))
	if b == a {
		t.Error("two identities share a session")
	}
	if _, _, err := c.acquire(ctx, "c", auth("c")); err != errBusy {
		t.Errorf("a third identity while two are busy: %v, want errBusy", err)
	}
	relA()
	relA2()
	cs, relC, err := c.acquire(ctx, "c", auth("c"))
	if err != nil {
		t.Fatalf("after a frees: %v", err)
	}
	if ids := c.ids(); ids[a.ID()] || !ids[cs.ID()] || !ids[b.ID()] {
		t.Errorf("the idle session was not the one evicted: %v", ids)
	}
	relB()
	relC()
	c.expire(time.Now().Add(2 * time.Minute))
	if len(c.ids()) != 0 {
		t.Error("idle sessions outlived the idle timeout")
	}
	waitClosed := func(s *coord.Session) {
		deadline := time.Now().Add(5 * time.Second)
		for live(s) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if live(s) {
			t.Errorf("session %x not closed", s.ID())
		}
	}
	waitClosed(a)
	waitClosed(b)
	waitClosed(cs)
}

func TestViewData(t *testing.T) {
	if v := viewData([]byte(`[1,{"a":2}]`)); v.Kind != "json" || !strings.Contains(v.Text, "\n  {\n    \"a\": 2") {
		t.Errorf("json: %+v", v)
	}
	if v := viewData([]byte("héllo\tworld\n")); v.Kind != "text" {
		t.Errorf("text: %+v", v)
	}
	if v := viewData([]byte{0xff, 0xfe}); v.Kind != "binary" || v.Edit != "fffe" || v.EditEncoding != "hex" {
		t.Errorf("binary: %+v", v)
	}
	if v := viewData(nil); v.Kind != "empty" {
		t.Errorf("empty: %+v", v)
	}
	acl, err := parseACL("world:anyone:r, digest:alice:abc=:cdrwa\n")
	if err != nil || len(acl) != 2 || acl[1].ID != "alice:abc=" || acl[1].Perms != coord.PermAll {
		t.Errorf("parseACL: %+v %v", acl, err)
	}
	if _, err := parseACL("world:anyone:rx"); err == nil {
		t.Error("parseACL accepted an unknown permission")
	}
}

// A follower's ensemble page names the leader and each member's role.
func TestEnsemblePageNamesTheLeader(t *testing.T) {
	e := coordtest.NewEnsemble(t, 3)
	li := e.LeaderIndex()
	follower := e.Node((li + 1) % 3)
	mux := http.NewServeMux()
	c := New(follower, Options{})
	t.Cleanup(func() { _ = c.Close() })
	mux.Handle("/ui/", c)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ui/ensemble")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	leader := e.Node(li).ID()
	if !strings.Contains(string(body), "Leader: <strong>"+leader+"</strong>") {
		t.Fatalf("the follower's ensemble page does not name the leader %s:\n%s", leader, body)
	}
	if strings.Contains(string(body), "follower or leader") {
		t.Errorf("a member's role is left open although the leader is known")
	}
}
