package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coordkit/coord"
)

// ---------------------------------------------------------------------------
// Templates

type pageTemplates struct {
	byName map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"treeURL": func(p string) string { return "./?path=" + url.QueryEscape(p) },
	"perms":   permString,
	"bytes":   humanBytes,
	"add":     func(a, b int) int { return a + b },
	"slice3":  func(n int, paths []string, hidden int) []any { return []any{n, paths, hidden} },
	"cls": func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, strings.ToLower(s))
	},
}

func mustParseTemplates() *pageTemplates {
	pt := &pageTemplates{byName: make(map[string]*template.Template)}
	for _, name := range []string{"tree", "sessions", "ensemble", "login"} {
		t := template.Must(template.New(name).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
		pt.byName[name] = t
	}
	return pt
}

// base is what every page's layout needs.
type base struct {
	Title    string
	Nav      string // the current section: tree, sessions, ensemble, login
	NodeID   string
	Role     string
	User     string // empty: anonymous
	Super    bool
	CSRF     string
	ReadOnly bool
	// Path fills the path box; Completions its suggestions.
	Path        string
	Completions []string
	Notice      string
	Done        string // which action the notice reports
	Error       string
}

func (c *Console) base(v viewer, title, nav string) base {
	b := base{Title: title, Nav: nav, NodeID: c.n.ID(), Role: c.n.Role(), ReadOnly: c.opts.ReadOnly, Path: "/"}
	if v.login != nil {
		b.User, b.Super, b.CSRF = v.login.user, v.login.super, v.login.csrf
	}
	return b
}

func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages.byName[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		c.opts.Logger.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ---------------------------------------------------------------------------
// The tree page

type treePage struct {
	base
	Crumbs   []crumb
	Exists   bool
	Ancestor string // the nearest existing ancestor, when Exists is false
	IsRoot   bool

	Stat         []statRow
	StatDenied   bool
	Version      int32
	Aversion     int32
	Ephemeral    bool
	Owner        string // the owning session, hex
	OwnerLocal   bool   // attached to this node
	OwnerConsole bool   // one of the console's own sessions

	Data       dataView
	DataDenied bool

	ACL       []coord.ACL
	ACLText   string
	ACLDenied bool

	Children              []childRow
	ChildrenDenied        bool
	ChildCount            int // after the filter
	Filter                string
	Page, Pages           int
	PrevURL, NextURL      string
	FirstShown, LastShown int

	CanEdit bool
}

type childRow struct {
	Name        string
	Path        string
	NumChildren int32
	DataLength  int32
	Ephemeral   bool
	Container   bool
	Known       bool // false: the viewer may not read the child's stat
}

var doneNotices = map[string]string{
	"created": "Created.",
	"set":     "Data saved.",
	"deleted": "Deleted.",
	"acl":     "ACL saved.",
	"login":   "Logged in.",
	"logout":  "Logged out.",
}

func (c *Console) treePage(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(r)
	q := r.URL.Query()
	p := cleanPath(q.Get("path"))
	c.withSession(w, r, v, func(s *coord.Session) {
		page, status := c.buildTree(r.Context(), s, v, p, q)
		if n, ok := doneNotices[q.Get("done")]; ok {
			page.Notice, page.Done = n, q.Get("done")
		}
		c.render(w, status, "tree", page)
	})
}

func (c *Console) buildTree(ctx context.Context, s *coord.Session, v viewer, p string, q url.Values) (*treePage, int) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	page := &treePage{base: c.base(v, p, "tree"), Crumbs: crumbs(p), IsRoot: p == "/"}
	page.Path = p
	page.CanEdit = v.login != nil && !c.opts.ReadOnly

	ok, st, err := s.Exists(ctx, p)
	denied := coord.CodeOf(err) == coord.CodeNoAuth
	switch {
	case denied:
		// The engine checks READ on exists too: the znode is there, and
		// its stat is withheld with everything else.
		ok = true
	case err != nil:
		page.Error = describe(err)
		page.Crumbs = crumbs("/")
		page.Path = "/"
		return page, statusOf(err)
	}
	if !ok {
		page.Error = "There is no znode at " + p + "."
		a := parentOf(p)
		for a != "/" {
			if ok, _, _ := s.Exists(ctx, a); ok {
				break
			}
			a = parentOf(a)
		}
		page.Ancestor = a
		return page, http.StatusNotFound
	}
	page.Exists = true
	page.StatDenied = denied
	if !denied {
		page.Stat = statRows(st)
	}
	page.Version, page.Aversion = st.Version, st.Aversion
	if st.EphemeralOwner > 0 {
		page.Ephemeral = true
		page.Owner = sessionHex(st.EphemeralOwner)
		for _, ls := range c.n.Stats().Sessions {
			if ls.ID == st.EphemeralOwner {
				page.OwnerLocal = true
			}
		}
		page.OwnerConsole = c.sessions.ids()[st.EphemeralOwner]
	}

	if data, _, err := s.GetData(ctx, p); err == nil {
		page.Data = viewData(data)
	} else if coord.CodeOf(err) == coord.CodeNoAuth {
		page.DataDenied = true
	} else {
		page.Error = describe(err)
	}
	if acl, _, err := s.GetACL(ctx, p); err == nil {
		page.ACL, page.ACLText = acl, formatACL(acl)
	} else if coord.CodeOf(err) == coord.CodeNoAuth {
		page.ACLDenied = true
	}

	children, _, err := s.GetChildren(ctx, p)
	switch {
	case err == nil:
	case coord.CodeOf(err) == coord.CodeNoAuth:
		page.ChildrenDenied = true
	default:
		page.Error = describe(err)
	}
	slices.Sort(children)
	page.Filter = strings.TrimSpace(q.Get("filter"))
	if page.Filter != "" {
		children = slices.DeleteFunc(children, func(name string) bool { return !strings.Contains(name, page.Filter) })
	}
	page.ChildCount = len(children)
	size := c.opts.PageSize
	page.Pages = max(1, (len(children)+size-1)/size)
	page.Page, _ = strconv.Atoi(q.Get("page"))
	page.Page = min(max(page.Page, 1), page.Pages)
	lo := (page.Page - 1) * size
	hi := min(lo+size, len(children))
	pageURL := func(n int) string {
		u := url.Values{"path": {p}}
		if page.Filter != "" {
			u.Set("filter", page.Filter)
		}
		if n > 1 {
			u.Set("page", strconv.Itoa(n))
		}
		return "./?" + u.Encode()
	}
	if page.Page > 1 {
		page.PrevURL = pageURL(page.Page - 1)
	}
	if page.Page < page.Pages {
		page.NextURL = pageURL(page.Page + 1)
	}
	page.FirstShown, page.LastShown = lo+1, hi
	for _, name := range children[lo:hi] {
		cp := join(p, name)
		row := childRow{Name: name, Path: cp}
		if ok, cst, err := s.Exists(ctx, cp); err == nil && ok {
			row.Known = true
			row.NumChildren, row.DataLength = cst.NumChildren, cst.DataLength
			row.Ephemeral = cst.EphemeralOwner > 0
			row.Container = cst.EphemeralOwner < 0
		}
		page.Children = append(page.Children, row)
	}
	for i, ch := range page.Children {
		if i == 50 {
			break
		}
		page.Completions = append(page.Completions, ch.Path)
	}
	return page, http.StatusOK
}

// describe turns an engine error into a sentence for the page.
func describe(err error) string {
	switch coord.CodeOf(err) {
	case coord.CodeNoAuth:
		return "Not allowed: this znode's ACL does not grant your identity that permission."
	case coord.CodeNoNode:
		return "The znode does not exist (any more)."
	case coord.CodeNodeExists:
		return "A znode of that name exists already."
	case coord.CodeBadVersion:
		return "The znode changed since you loaded the page (version mismatch): reload and try again."
	case coord.CodeNotEmpty:
		return "The znode has children: delete them first."
	case coord.CodeBadArguments:
		return "Invalid request: " + err.Error()
	case coord.CodeInvalidACL:
		return "Invalid ACL: " + err.Error()
	case coord.CodeNoChildrenForEphemerals:
		return "Ephemeral znodes cannot have children."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "The ensemble did not answer in time."
	}
	return "Error: " + err.Error()
}

func statusOf(err error) int {
	switch coord.CodeOf(err) {
	case coord.CodeNoAuth:
		return http.StatusForbidden
	case coord.CodeNoNode:
		return http.StatusNotFound
	case coord.CodeNodeExists, coord.CodeBadVersion, coord.CodeNotEmpty, coord.CodeNoChildrenForEphemerals:
		return http.StatusConflict
	case coord.CodeBadArguments, coord.CodeInvalidACL:
		return http.StatusBadRequest
	}
	return http.StatusServiceUnavailable
}

// ---------------------------------------------------------------------------
// Mutations

func (c *Console) mutate(w http.ResponseWriter, r *http.Request, rel string) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if c.opts.ReadOnly {
		http.Error(w, "this console is read-only", http.StatusForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := c.viewerOf(r)
	if v.login == nil {
		http.Error(w, "log in to change the tree", http.StatusForbidden)
		return
	}
	if !checkCSRF(r, v.login) {
		http.Error(w, "refused: missing or wrong CSRF token, or a cross-site request", http.StatusForbidden)
		return
	}
	if rel == "/logout" {
		c.logins.remove(v.login.token)
		c.setCookie(w, r, rel, "", -1)
		seeOther(w, "./?done=logout")
		return
	}
	p := cleanPath(r.PostFormValue("path"))
	c.withSession(w, r, v, func(s *coord.Session) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		target, done, err := c.apply(ctx, s, rel, p, r)
		if err != nil {
			page, status := c.buildTree(r.Context(), s, v, p, url.Values{})
			page.Error = describe(err)
			if status == http.StatusOK {
				status = statusOf(err)
			}
			c.render(w, status, "tree", page)
			return
		}
		seeOther(w, "./?"+url.Values{"path": {target}, "done": {done}}.Encode())
	})
}

// seeOther redirects to loc, relative to the request's URL as the browser
// sent it (http.Redirect would resolve it against r.URL.Path, which a
// StripPrefix mount has cut).
func seeOther(w http.ResponseWriter, loc string) {
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

// formError is a mistake in the form, reported as bad arguments.
type formError struct{ msg string }

func (e *formError) Error() string { return e.msg }
func (e *formError) Unwrap() error { return coord.ErrBadArguments }

func formErr(msg string) error { return &formError{msg} }

func versionField(r *http.Request, name string) (int32, error) {
	if r.PostFormValue("force") != "" {
		return -1, nil
	}
	v, err := strconv.ParseInt(r.PostFormValue(name), 10, 32)
	if err != nil {
		return 0, formErr("missing or bad " + name)
	}
	return int32(v), nil
}

func (c *Console) apply(ctx context.Context, s *coord.Session, rel, p string, r *http.Request) (target, done string, err error) {
	switch rel {
	case "/create":
		name := strings.TrimSpace(r.PostFormValue("name"))
		if name == "" || strings.Contains(name, "/") {
			return "", "", formErr("the name must be non-empty and hold no '/'")
		}
		data, err := decodeData(r.PostFormValue("data"), r.PostFormValue("encoding"))
		if err != nil {
			return "", "", formErr(err.Error())
		}
		mode := coord.Persistent
		switch r.PostFormValue("mode") {
		case "", "persistent":
		case "sequential":
			mode = coord.PersistentSequential
		case "container":
			mode = coord.Container
		default:
			return "", "", formErr("unknown create mode")
		}
		var acl []coord.ACL
		switch r.PostFormValue("aclmode") {
		case "", "parent":
			acl, _, err = s.GetACL(ctx, p)
			if err != nil {
				return "", "", err
			}
			for _, a := range acl {
				if a.Scheme == "digest" && strings.HasSuffix(a.ID, ":x") {
					return "", "", formErr("the parent's ACL cannot be copied without ADMIN on it; choose another ACL")
				}
			}
		case "open":
			acl = coord.OpenACL
		case "creator":
			acl = coord.CreatorACL
		case "custom":
			if acl, err = parseACL(r.PostFormValue("acl")); err != nil {
				return "", "", formErr(err.Error())
			}
		default:
			return "", "", formErr("unknown ACL choice")
		}
		created, err := s.Create(ctx, join(p, name), data, mode, acl)
		if err != nil {
			return "", "", err
		}
		return created, "created", nil
	case "/set":
		data, err := decodeData(r.PostFormValue("data"), r.PostFormValue("encoding"))
		if err != nil {
			return "", "", formErr(err.Error())
		}
		ver, err := versionField(r, "version")
		if err != nil {
			return "", "", err
		}
		if _, err := s.SetData(ctx, p, data, ver); err != nil {
			return "", "", err
		}
		return p, "set", nil
	case "/delete":
		if r.PostFormValue("confirm") == "" {
			return "", "", formErr("tick the box to confirm the delete")
		}
		ver, err := versionField(r, "version")
		if err != nil {
			return "", "", err
		}
		if err := s.Delete(ctx, p, ver); err != nil {
			return "", "", err
		}
		return parentOf(p), "deleted", nil
	case "/acl":
		acl, err := parseACL(r.PostFormValue("acl"))
		if err != nil {
			return "", "", formErr(err.Error())
		}
		ver, err := versionField(r, "aversion")
		if err != nil {
			return "", "", err
		}
		if _, err := s.SetACL(ctx, p, acl, ver); err != nil {
			return "", "", err
		}
		return p, "acl", nil
	}
	return "", "", formErr("unknown action")
}

// ---------------------------------------------------------------------------
// Login

type loginPageData struct {
	base
	Next string
	Name string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, msg string, status int) {
	v := c.viewerOf(r)
	d := loginPageData{base: c.base(v, "Log in", "login"), Next: cleanPath(r.FormValue("next")), Name: r.PostFormValue("user")}
	d.Error = msg
	c.render(w, status, "login", d)
}

const maxCredential = 256

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !checkCSRF(r, nil) {
		http.Error(w, "refused: a cross-site request", http.StatusForbidden)
		return
	}
	user, password := r.PostFormValue("user"), r.PostFormValue("password")
	switch {
	case user == "" || password == "":
		c.loginPage(w, r, "Give a user name and a password.", http.StatusBadRequest)
		return
	case strings.Contains(user, ":"):
		c.loginPage(w, r, "The user name cannot hold ':'.", http.StatusBadRequest)
		return
	case len(user) > maxCredential || len(password) > maxCredential:
		c.loginPage(w, r, "The user name or password is too long.", http.StatusBadRequest)
		return
	}
	// Digest authentication never fails in ZooKeeper: the credentials are
	// an identity, and what it may do is up to the ACLs. Open the session
	// now so a broken ensemble shows here rather than on the next page.
	l := c.logins.add(user, password, c.n.Config().SuperDigest, time.Now())
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if _, release, err := c.sessions.acquire(ctx, l.key, viewer{login: l}.auth()); err != nil {
		c.logins.remove(l.token)
		c.loginPage(w, r, "Cannot open a session now: "+err.Error(), http.StatusServiceUnavailable)
		return
	} else {
		release()
	}
	c.setCookie(w, r, "/login", l.token, int(c.opts.LoginTTL/time.Second))
	next := cleanPath(r.PostFormValue("next"))
	seeOther(w, "./?"+url.Values{"path": {next}, "done": {"login"}}.Encode())
}

// ---------------------------------------------------------------------------
// Sessions and watches

type sessionsPage struct {
	base
	Global        int
	LocalCount    int
	TotalWatches  int
	Ephemerals    int
	Sessions      []sessionRow
	Remote        []sessionRow
	WatchSummary  []watchRow
	HiddenWatches int
}

type sessionRow struct {
	ID             string
	Timeout        string
	Node           string
	Console        bool
	Ephemerals     []string
	EphemeralCount int
	HiddenEph      int
	Watches        []string
	WatchCount     int
	HiddenWatches  int
}

type watchRow struct {
	Path     string
	Sessions int
}

// visibility answers, for the viewer, whether a path's name may be shown:
// the viewer can list its parent (READ on it), as a ZooKeeper client with
// the same identity could find it.
type visibility struct {
	ctx   context.Context
	s     *coord.Session
	cache map[string]bool
}

func (v *visibility) can(p string) bool {
	parent := parentOf(p)
	if ok, seen := v.cache[parent]; seen {
		return ok
	}
	_, _, err := v.s.GetChildren(v.ctx, parent)
	ok := err == nil
	v.cache[parent] = ok
	return ok
}

func (c *Console) sessionsPage(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(r)
	c.withSession(w, r, v, func(s *coord.Session) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		vis := &visibility{ctx: ctx, s: s, cache: map[string]bool{}}
		st := c.n.Stats()
		mine := c.sessions.ids()
		page := sessionsPage{base: c.base(v, "Sessions", "sessions"), Global: st.GlobalSessions,
			LocalCount: len(st.Sessions), TotalWatches: st.Watches, Ephemerals: st.Ephemerals}
		filter := func(paths []string) (shown []string, hidden int) {
			for _, p := range paths {
				if vis.can(p) {
					shown = append(shown, p)
				} else {
					hidden++
				}
			}
			return shown, hidden
		}
		watchers := map[string]int{}
		local := map[int64]bool{}
		for _, ls := range st.Sessions {
			local[ls.ID] = true
			row := sessionRow{ID: sessionHex(ls.ID), Timeout: ls.Timeout.String(), Node: c.n.ID(), Console: mine[ls.ID],
				EphemeralCount: len(st.EphemeralsBySession[ls.ID]), WatchCount: len(ls.Watches)}
			row.Ephemerals, row.HiddenEph = filter(st.EphemeralsBySession[ls.ID])
			row.Watches, row.HiddenWatches = filter(ls.Watches)
			for _, p := range ls.Watches {
				watchers[p]++
			}
			page.Sessions = append(page.Sessions, row)
		}
		var remote []int64
		for id := range st.EphemeralsBySession {
			if !local[id] {
				remote = append(remote, id)
			}
		}
		slices.Sort(remote)
		for _, id := range remote {
			row := sessionRow{ID: sessionHex(id), Node: "another member", EphemeralCount: len(st.EphemeralsBySession[id])}
			row.Ephemerals, row.HiddenEph = filter(st.EphemeralsBySession[id])
			page.Remote = append(page.Remote, row)
		}
		for p, n := range watchers {
			if vis.can(p) {
				page.WatchSummary = append(page.WatchSummary, watchRow{Path: p, Sessions: n})
			} else {
				page.HiddenWatches++
			}
		}
		slices.SortFunc(page.WatchSummary, func(a, b watchRow) int {
			if a.Sessions != b.Sessions {
				return b.Sessions - a.Sessions
			}
			return strings.Compare(a.Path, b.Path)
		})
		if len(page.WatchSummary) > 200 {
			page.WatchSummary = page.WatchSummary[:200]
		}
		c.render(w, http.StatusOK, "sessions", page)
	})
}

// ---------------------------------------------------------------------------
// The ensemble

type ensemblePage struct {
	base
	Members                 []memberRow
	MembersErr              string
	IsLeader                bool
	HasQuorum               bool
	LeaderKnown             string
	Zxid                    int64
	FormatActive, FormatMax int
	Stats                   coord.NodeStats
	DataSize                string
	BindAddr                string
}

type memberRow struct {
	ID   string
	Addr string
	Kind string // voter, observer
	Role string
	Self bool
}

func (c *Console) ensemblePage(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(r)
	st := c.n.Stats()
	page := ensemblePage{base: c.base(v, "Ensemble", "ensemble"), IsLeader: c.n.IsLeader(), HasQuorum: c.n.HasQuorum(),
		Zxid: st.Zxid, FormatActive: st.LogFormatActive, FormatMax: st.LogFormatMax, Stats: st,
		DataSize: humanBytes(st.DataSize), BindAddr: c.n.Config().BindAddr}
	servers, err := c.n.Servers()
	if err != nil {
		page.MembersErr = err.Error()
	}
	leader := c.n.Leader()
	switch {
	case st.Role == "standalone" || page.IsLeader:
		page.LeaderKnown = c.n.ID() + " (this node)"
	case leader != "":
		page.LeaderKnown = leader
	default:
		page.LeaderKnown = "none known (an election, or no quorum)"
	}
	for _, s := range servers {
		row := memberRow{ID: s.ID, Addr: s.Addr, Kind: "voter", Self: s.ID == c.n.ID()}
		if !s.Voter {
			row.Kind = "observer"
		}
		switch {
		case row.Self:
			row.Role = st.Role
		case !s.Voter:
			row.Role = "observer"
		case s.ID == leader:
			row.Role = "leader"
		case leader != "":
			row.Role = "follower"
		default:
			row.Role = "follower or leader"
		}
		page.Members = append(page.Members, row)
	}
	slices.SortFunc(page.Members, func(a, b memberRow) int { return strings.Compare(a.ID, b.ID) })
	c.render(w, http.StatusOK, "ensemble", page)
}

// ---------------------------------------------------------------------------
// JSON endpoints for the script

// statSample is what /api/stats returns; the script turns consecutive
// samples into rates and charts.
type statSample struct {
	Time           int64   `json:"t"` // unix ms
	Zxid           int64   `json:"zxid"`
	Znodes         int     `json:"znodes"`
	DataSize       int64   `json:"dataSize"`
	Ephemerals     int     `json:"ephemerals"`
	GlobalSessions int     `json:"sessions"`
	LocalSessions  int     `json:"localSessions"`
	Watches        int     `json:"watches"`
	Role           string  `json:"role"`
	Leader         bool    `json:"leader"`
	Quorum         bool    `json:"quorum"`
	SyncMs         float64 `json:"syncMs"` // a sync round-trip through the leader; -1 if it failed
	FormatActive   int     `json:"formatActive"`
	FormatMax      int     `json:"formatMax"`
}

// statsSampler shares one sample among the viewers polling within
// sampleEvery, so many open tabs cost the ensemble one sync each period.
type statsSampler struct {
	mu   sync.Mutex
	last statSample
	at   time.Time
}

const sampleEvery = 500 * time.Millisecond

func (c *Console) sample(ctx context.Context) statSample {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	if time.Since(c.stats.at) < sampleEvery {
		return c.stats.last
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	syncMs := -1.0
	if err := c.n.CatchUp(ctx); err == nil {
		syncMs = float64(time.Since(start).Microseconds()) / 1000
	}
	st := c.n.Stats()
	now := time.Now()
	c.stats.last = statSample{Time: now.UnixMilli(), Zxid: st.Zxid, Znodes: st.Znodes, DataSize: st.DataSize,
		Ephemerals: st.Ephemerals, GlobalSessions: st.GlobalSessions, LocalSessions: len(st.Sessions),
		Watches: st.Watches, Role: st.Role, Leader: c.n.IsLeader(), Quorum: c.n.HasQuorum(), SyncMs: syncMs,
		FormatActive: st.LogFormatActive, FormatMax: st.LogFormatMax}
	c.stats.at = now
	return c.stats.last
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *Console) apiStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, c.sample(r.Context()))
}

// apiChildren completes the path box: the children of dir starting with
// prefix, as full paths, read as the viewer.
func (c *Console) apiChildren(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(r)
	dir := cleanPath(r.URL.Query().Get("dir"))
	prefix := r.URL.Query().Get("prefix")
	c.withSession(w, r, v, func(s *coord.Session) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		children, _, err := s.GetChildren(ctx, dir)
		out := struct {
			Paths []string `json:"paths"`
		}{Paths: []string{}}
		if err == nil {
			slices.Sort(children)
			for _, name := range children {
				if strings.HasPrefix(name, prefix) {
					out.Paths = append(out.Paths, join(dir, name))
					if len(out.Paths) == 50 {
						break
					}
				}
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}
