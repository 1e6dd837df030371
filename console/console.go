// Package console is coord's web console: an http.Handler, living inside a
// node, that shows the znode tree, the sessions and watches, and the
// ensemble in a browser, and lets authenticated users change the tree.
//
//	mux.Handle("/ui/", console.Handler(node, console.Options{}))
//
// Every read and write goes through a coord session opened with the
// viewer's identity (anonymous, or the digest credentials given at login),
// so the engine enforces ACLs exactly as it would for a ZooKeeper client
// with those credentials. Sessions are cached per identity, bounded and
// closed when idle.
//
// The pages are server-rendered (html/template) and readable without
// JavaScript; a small embedded script adds path completion, live charts and
// live child lists. Nothing is fetched from the network. Responses carry a
// strict Content-Security-Policy (scripts and styles only from the console
// itself), mutations are POST-only and need the login's CSRF token, cookies
// are HttpOnly and SameSite=Strict, and request bodies are bounded.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coordkit/coord"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a console. The zero value is a read-write console
// (for logged-in users; anonymous viewers only read) mounted at /ui/.
type Options struct {
	// Prefix is the path the handler is mounted at ("/ui", the default).
	// Requests under it are served with the prefix removed; requests that
	// arrive without it (http.StripPrefix) are served as they are. Links
	// in the pages are relative, so either mount works.
	Prefix string

	// ReadOnly turns off login and every mutation.
	ReadOnly bool

	// PageSize is how many children a tree page lists at once. Zero: 100.
	PageSize int

	// MaxSessions bounds the coord sessions the console keeps open, one per
	// viewer identity (the anonymous viewer is one). Zero: 32. When all are
	// in use, further identities get 503 until one frees.
	MaxSessions int
	// SessionIdle closes a cached session unused for this long. Zero: 5m.
	SessionIdle time.Duration

	// LoginTTL is how long a login lasts. Zero: 8h.
	LoginTTL time.Duration
	// MaxLogins bounds the logins kept; the oldest goes first. Zero: 1000.
	MaxLogins int

	// MaxRequestBytes bounds a request body. Zero: the node's MaxDataSize
	// plus 64 KiB (data may be sent as hex, so a form holding a maximal
	// znode as hex needs twice that: raise it if you edit large binaries).
	MaxRequestBytes int64

	// SecureCookies marks the login cookie Secure even on plain-HTTP
	// requests (a TLS-terminating proxy in front). TLS requests always get
	// Secure cookies.
	SecureCookies bool

	// Logger receives the console's errors. Nil discards them.
	Logger *slog.Logger
}

func (o *Options) withDefaults(n *coord.Node) {
	if o.Prefix == "" {
		o.Prefix = "/ui"
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 32
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 5 * time.Minute
	}
	if o.LoginTTL <= 0 {
		o.LoginTTL = 8 * time.Hour
	}
	if o.MaxLogins <= 0 {
		o.MaxLogins = 1000
	}
	if o.MaxRequestBytes <= 0 {
		max := n.Config().MaxDataSize
		if max <= 0 {
			max = 1 << 20
		}
		o.MaxRequestBytes = int64(max) + 64<<10
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Console is the console of one node. It is an http.Handler; Close closes
// the coord sessions it holds (they also end when the node closes).
type Console struct {
	n     *coord.Node
	opts  Options
	pages *pageTemplates
	files http.Handler

	sessions *sessionCache
	logins   *loginStore
	stats    statsSampler

	stop     chan struct{}
	stopOnce sync.Once
}

// Handler returns the console of n as an http.Handler.
func Handler(n *coord.Node, opts Options) http.Handler { return New(n, opts) }

// New returns the console of n.
func New(n *coord.Node, opts Options) *Console {
	opts.withDefaults(n)
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	c := &Console{
		n:        n,
		opts:     opts,
		pages:    mustParseTemplates(),
		files:    http.FileServerFS(static),
		sessions: newSessionCache(n, opts.MaxSessions, opts.SessionIdle),
		logins:   newLoginStore(opts.MaxLogins, opts.LoginTTL),
		stop:     make(chan struct{}),
	}
	go c.janitor()
	return c
}

// Close closes the console's sessions. The handler refuses requests after.
func (c *Console) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	c.sessions.closeAll()
	return nil
}

func (c *Console) janitor() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.n.Done():
			c.sessions.closeAll()
			return
		case now := <-t.C:
			c.sessions.expire(now)
			c.logins.expire(now)
		}
	}
}

// securityHeaders are set on every response.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer, browsers send
	// "Origin: null" on the console's own form posts.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	select {
	case <-c.stop:
		http.Error(w, "console closed", http.StatusServiceUnavailable)
		return
	default:
	}
	rel := r.URL.Path
	if rel == c.opts.Prefix {
		// "/ui" without its slash: the relative links need the slash.
		http.Redirect(w, r, c.opts.Prefix+"/"+queryOf(r), http.StatusMovedPermanently)
		return
	}
	if strings.HasPrefix(rel, c.opts.Prefix+"/") {
		rel = rel[len(c.opts.Prefix):]
	}
	if rel == "" {
		rel = "/"
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, c.opts.MaxRequestBytes)
	}
	if strings.HasPrefix(rel, "/static/") {
		if !isGet(r) {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(rel, "/static")
		c.files.ServeHTTP(w, r2)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch rel {
	case "/":
		c.get(w, r, c.treePage)
	case "/sessions":
		c.get(w, r, c.sessionsPage)
	case "/ensemble":
		c.get(w, r, c.ensemblePage)
	case "/api/stats":
		c.get(w, r, c.apiStats)
	case "/api/children":
		c.get(w, r, c.apiChildren)
	case "/login":
		if c.opts.ReadOnly {
			http.Error(w, "this console is read-only", http.StatusForbidden)
			return
		}
		if isGet(r) {
			c.loginPage(w, r, "", http.StatusOK)
		} else if r.Method == http.MethodPost {
			c.login(w, r)
		} else {
			methodNotAllowed(w, "GET, HEAD, POST")
		}
	case "/logout", "/create", "/set", "/delete", "/acl":
		c.mutate(w, r, rel)
	default:
		http.NotFound(w, r)
	}
}

func isGet(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func (c *Console) get(w http.ResponseWriter, r *http.Request, f func(http.ResponseWriter, *http.Request)) {
	if !isGet(r) {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	f(w, r)
}

// ---------------------------------------------------------------------------
// Viewers: who is asking, and the coord session that reads for them

// viewer is the identity a request is served as.
type viewer struct {
	login *login // nil for the anonymous viewer
}

func (v viewer) key() string {
	if v.login == nil {
		return ""
	}
	return v.login.key
}

func (v viewer) auth() []coord.Auth {
	if v.login == nil {
		return nil
	}
	return []coord.Auth{{Scheme: "digest", Credentials: []byte(v.login.user + ":" + v.login.password)}}
}

const cookieName = "coord_console"

// viewerOf returns the request's viewer: the login its cookie names, if
// that login is live, else anonymous.
func (c *Console) viewerOf(r *http.Request) viewer {
	if c.opts.ReadOnly {
		return viewer{}
	}
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return viewer{}
	}
	if l := c.logins.get(ck.Value, time.Now()); l != nil {
		return viewer{login: l}
	}
	return viewer{}
}

// withSession runs f with the viewer's session, opening one if needed.
func (c *Console) withSession(w http.ResponseWriter, r *http.Request, v viewer, f func(s *coord.Session)) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	s, release, err := c.sessions.acquire(ctx, v.key(), v.auth())
	if err != nil {
		c.opts.Logger.Warn("console: opening a viewer session", "err", err)
		http.Error(w, "the console cannot open a session now: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer release()
	f(s)
}

// ---------------------------------------------------------------------------
// Logins

type login struct {
	token    string // the cookie's value
	csrf     string // the token forms carry
	user     string
	password string // kept to reopen the identity's session after idling
	key      string // the session cache key: the digest id
	super    bool   // the credentials match the node's SuperDigest
	expires  time.Time
}

type loginStore struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	byTok map[string]*login
	order []*login // oldest first
}

func newLoginStore(max int, ttl time.Duration) *loginStore {
	return &loginStore{max: max, ttl: ttl, byTok: make(map[string]*login)}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *loginStore) add(user, password, superDigest string, now time.Time) *login {
	id := coord.DigestID(user, password)
	l := &login{
		token: randomToken(), csrf: randomToken(),
		user: user, password: password,
		key:     "digest:" + id,
		super:   superDigest != "" && id == superDigest,
		expires: now.Add(s.ttl),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) >= s.max {
		delete(s.byTok, s.order[0].token)
		s.order = s.order[1:]
	}
	s.byTok[l.token] = l
	s.order = append(s.order, l)
	return l
}

func (s *loginStore) get(token string, now time.Time) *login {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.byTok[token]
	if l == nil || now.After(l.expires) {
		return nil
	}
	return l
}

func (s *loginStore) remove(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.byTok[token]; l != nil {
		delete(s.byTok, token)
		for i, o := range s.order {
			if o == l {
				s.order = append(s.order[:i:i], s.order[i+1:]...)
				break
			}
		}
	}
}

func (s *loginStore) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.order[:0]
	for _, l := range s.order {
		if now.After(l.expires) {
			delete(s.byTok, l.token)
			continue
		}
		kept = append(kept, l)
	}
	clear(s.order[len(kept):])
	s.order = kept
}

// checkCSRF reports whether a POST carries the login's CSRF token and, when
// the browser says where it comes from, comes from this origin.
func checkCSRF(r *http.Request, l *login) bool {
	// Browsers that send Fetch metadata say where a request comes from;
	// for the others, the Origin header (absent from old browsers and
	// non-browser clients, which carry no ambient cookies of a victim).
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		if site != "same-origin" && site != "none" {
			return false
		}
	} else if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if o == "null" || err != nil || u.Host != r.Host {
			return false
		}
	}
	if l == nil {
		return true // the login form: origin checks only
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(l.csrf)) == 1
}

// cookiePath is the path the console is reached at, as the browser sees
// it, so the cookie goes to the console only.
func cookiePath(r *http.Request, rel string) string {
	p := r.RequestURI
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if u, err := url.Parse(p); err == nil && u.Path != "" {
		p = u.Path
	}
	p = strings.TrimSuffix(p, rel)
	if p == "" || !strings.HasPrefix(p, "/") {
		return "/"
	}
	return p + "/"
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, rel, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: cookiePath(r, rel),
		MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.opts.SecureCookies || r.TLS != nil,
	})
}
