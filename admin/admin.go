// Package admin serves ZooKeeper's AdminServer for a coord Node: the HTTP
// JSON commands of ZooKeeper 3.9 (/commands, /commands/<name>) and
// health endpoints for probes (/healthz, /readyz), and the web console
// (package console) at /ui/.
//
// A Handler is an http.Handler: coordd serves it on
// admin.serverAddress:admin.serverPort, and an embedder can mount it on a
// mux of its own.
//
// Commands answer in ZooKeeper 3.9's JSON shapes (its Commands.java): the
// command's data, then "command" (its primary name) and "error" (null or a
// message). Names and aliases are ZooKeeper's (monitor and mntr,
// server_stats and srvr, ...). As in ZooKeeper 3.9, the command that
// exposes the data or changes state (snapshot, which streams a backup of
// the tree, and restore, which replaces it) needs authentication: an
// "Authorization: digest user:password" header (or "ip") whose identity
// the super digest or the ACL of "/" grants every permission; 401 without
// it or with bad credentials, 403 when not granted.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/console"
	"github.com/coordkit/coord/zkserver"
)

// Config configures a Handler.
type Config struct {
	// Node is the node served. Required.
	Node *coord.Node
	// Wire is the node's ZooKeeper wire server, for the commands about
	// client connections and request statistics; nil: none.
	Wire *zkserver.Server
	// CommandURL is where the commands live (ZooKeeper's
	// admin.commandURL). Empty means "/commands".
	CommandURL string
	// ReadyTimeout bounds /readyz's catch-up. Zero means Node.Ready's own
	// bound (two election timeouts).
	ReadyTimeout time.Duration
	// NoConsole turns off the web console (package console), which the
	// Handler otherwise serves at /ui/ with its default options: anonymous
	// viewers see what world ACLs let them read; changes need digest
	// credentials.
	NoConsole bool
}

// Handler serves the AdminServer's commands and the health endpoints.
type Handler struct {
	cfg     Config
	console *console.Console // nil with NoConsole
	mux     *http.ServeMux
	cmds    map[string]*command // by every name
	primary []string
}

// New returns the AdminServer's handler for cfg.Node.
func New(cfg Config) *Handler {
	if cfg.CommandURL == "" {
		cfg.CommandURL = "/commands"
	}
	cfg.CommandURL = "/" + strings.Trim(cfg.CommandURL, "/")
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), cmds: map[string]*command{}}
	for _, c := range commands() {
		for _, name := range c.names {
			h.cmds[name] = c
		}
		h.primary = append(h.primary, c.names[0])
	}
	slices.Sort(h.primary)
	h.mux.HandleFunc(cfg.CommandURL, h.list)
	h.mux.HandleFunc(cfg.CommandURL+"/", h.command)
	h.mux.HandleFunc("/healthz", h.healthz)
	h.mux.HandleFunc("/readyz", h.readyz)
	if !cfg.NoConsole {
		h.console = console.New(cfg.Node, console.Options{})
		h.mux.Handle("/ui/", h.console)
		h.mux.Handle("/ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	}
	return h
}

// Close ends the console's sessions, if it serves one.
func (h *Handler) Close() {
	if h.console != nil {
		_ = h.console.Close()
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Commands returns the primary names of the commands served, sorted.
func (h *Handler) Commands() []string { return slices.Clone(h.primary) }

// list answers the command URL itself with links to every command, as
// ZooKeeper's JettyAdminServer does.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	for _, name := range h.primary {
		fmt.Fprintf(w, "<a href=\"%s/%s\">%s</a>\n<br/>\n", h.cfg.CommandURL, name, html.EscapeString(name))
	}
}

func (h *Handler) command(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, h.cfg.CommandURL+"/"), "/")
	if name == "" {
		h.list(w, r)
		return
	}
	c := h.cmds[name]
	if c == nil {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			writeJSON(w, http.StatusMethodNotAllowed, response(name, "method not allowed"))
			return
		}
		// ZooKeeper answers 200 to keep old clients working.
		writeJSON(w, http.StatusOK, response(name, "Unknown command: "+name))
		return
	}
	if want := c.method(); r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", want)
		writeJSON(w, http.StatusMethodNotAllowed, response(c.names[0], "method not allowed"))
		return
	}
	primary := c.names[0]
	if c.serving && !h.serving() {
		writeJSON(w, http.StatusOK, response(primary, zkserver.NotServing))
		return
	}
	if c.auth != 0 {
		if status, msg := h.authorize(r, c.auth); status != 0 {
			writeJSON(w, status, response(primary, msg))
			return
		}
	}
	kwargs := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			kwargs[k] = v[0]
		}
	}
	if c.raw != nil && c.raw(h, w, r, kwargs) {
		return
	}
	res := &result{status: http.StatusOK, headers: http.Header{}}
	c.run(h, kwargs, res)
	for k, v := range res.headers {
		w.Header()[k] = v
	}
	res.data = append(res.data, kv{"command", primary}, kv{"error", res.errValue()})
	writeJSON(w, res.status, res.data)
}

// serving is ZooKeeper's isRunning for commands that need a server: the
// node is part of a quorum with a leader.
func (h *Handler) serving() bool {
	if h.cfg.Wire != nil {
		return h.cfg.Wire.Serving()
	}
	return h.cfg.Node.HasQuorum() && h.cfg.Node.Healthy() == nil
}

// authorize checks the Authorization header as ZooKeeper's
// Commands.runCommand: "scheme credentials" (digest user:password) or
// "scheme" alone (ip), granted every bit of perm on "/".
func (h *Handler) authorize(r *http.Request, perm coord.Perm) (int, string) {
	info := r.Header.Get("Authorization")
	if info == "" {
		return http.StatusUnauthorized, "Auth info is missing for the command"
	}
	parts := strings.Split(info, " ")
	if len(parts) != 1 && len(parts) != 2 {
		return http.StatusUnauthorized, "Not authenticated"
	}
	var cred []byte
	if len(parts) == 2 {
		cred = []byte(parts[1])
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	switch err := h.cfg.Node.Authorize(parts[0], cred, ip, "/", perm); err {
	case nil:
		return 0, ""
	case coord.ErrAuthFailed:
		return http.StatusUnauthorized, "Not authenticated"
	case coord.ErrNoAuth:
		return http.StatusForbidden, "Not authorized"
	default:
		return http.StatusInternalServerError, "Error occurred during auth"
	}
}

// healthz answers 200 while the node runs, 503 once it has stopped.
func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	if err := h.cfg.Node.Healthy(); err != nil {
		http.Error(w, "not healthy: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when the node is part of a quorum with a leader and
// has applied what that leader committed (Node.Ready), 503 otherwise.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.cfg.ReadyTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.ReadyTimeout)
		defer cancel()
	}
	if err := h.cfg.Node.Ready(ctx); err != nil {
		http.Error(w, "not ready: "+strings.ReplaceAll(err.Error(), "\n", ": "), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// kv is one entry of an ordered JSON object.
type kv struct {
	k string
	v any
}

// object is a JSON object that keeps its keys' order, as ZooKeeper's
// LinkedHashMap responses do.
type object []kv

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func response(cmd, errMsg string) object {
	return object{{"command", cmd}, {"error", errMsg}}
}

// writeJSON writes v indented, as ZooKeeper's JsonOutputter.
func writeJSON(w http.ResponseWriter, status int, v any) {
	raw, err := json.Marshal(v)
	var out bytes.Buffer
	if err == nil {
		err = json.Indent(&out, raw, "", "  ")
	}
	if err != nil {
		out.Reset()
		out.WriteString(`{"error": "Exception writing command response to JSON"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	out.WriteByte('\n')
	_, _ = w.Write(out.Bytes())
}
