package admin

import (
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// command is one of ZooKeeper's admin commands.
type command struct {
	names   []string // primary name first
	serving bool     // needs a serving node (ZooKeeper's isServerRequired)
	auth    coord.Perm
	post    bool // takes POST (a body) instead of GET
	run     func(h *Handler, kwargs map[string]string, res *result)
	// raw, when set, may answer the request itself (a stream rather than
	// JSON); it reports whether it did.
	raw func(h *Handler, w http.ResponseWriter, req *http.Request, kwargs map[string]string) bool
}

func (c *command) method() string {
	if c.post {
		return http.MethodPost
	}
	return http.MethodGet
}

// result is what a command answers: its data in order, an error, the HTTP
// status and headers.
type result struct {
	data    object
	err     string
	status  int
	headers map[string][]string
}

func (r *result) put(k string, v any) { r.data = append(r.data, kv{k, v}) }

func (r *result) errValue() any {
	if r.err == "" {
		return nil
	}
	return r.err
}

// commands are the commands served, ZooKeeper 3.9's set less those about
// Java, trace masks and observers' learner handlers.
func commands() []*command {
	return []*command{
		{names: []string{"connection_stat_reset", "crst"}, serving: true, run: func(h *Handler, _ map[string]string, _ *result) {
			if h.cfg.Wire != nil {
				h.cfg.Wire.ResetConnectionStats()
			}
		}},
		{names: []string{"configuration", "conf", "config"}, serving: true, run: conf},
		{names: []string{"connections", "cons"}, serving: true, run: func(h *Handler, _ map[string]string, r *result) {
			r.put("connections", connections(h, false))
			r.put("secure_connections", []any{})
		}},
		{names: []string{"dirs"}, serving: true, run: func(h *Handler, _ map[string]string, r *result) {
			data, log := h.cfg.Node.DiskUsage()
			r.put("datadir_size", data)
			r.put("logdir_size", log)
		}},
		{names: []string{"dump"}, serving: true, run: dump},
		{names: []string{"environment", "env", "envi"}, run: env},
		{names: []string{"is_read_only", "isro"}, serving: true, run: func(_ *Handler, _ map[string]string, r *result) {
			r.put("read_only", false)
		}},
		{names: []string{"leader", "lead"}, serving: true, run: leader},
		{names: []string{"monitor", "mntr"}, serving: true, run: monitor},
		{names: []string{"ruok"}, run: func(*Handler, map[string]string, *result) {}},
		{names: []string{"server_stats", "srvr"}, serving: true, run: srvr},
		{names: []string{"snapshot", "snap"}, serving: true, auth: coord.PermAll, run: snapshot, raw: streamSnapshot},
		{names: []string{"restore", "rest"}, serving: true, auth: coord.PermAll, post: true, raw: restore},
		{names: []string{"stats", "stat"}, serving: true, run: func(h *Handler, kw map[string]string, r *result) {
			srvr(h, kw, r)
			r.put("connections", connections(h, true))
			r.put("secure_connections", []any{})
		}},
		{names: []string{"stat_reset", "srst"}, serving: true, run: func(h *Handler, _ map[string]string, _ *result) {
			if h.cfg.Wire != nil {
				h.cfg.Wire.ResetStats()
			}
		}},
		{names: []string{"voting_view"}, serving: true, run: votingView},
		{names: []string{"watches", "wchc"}, serving: true, run: func(h *Handler, _ map[string]string, r *result) {
			bySession, _ := watches(h.cfg.Node.Stats())
			m := object{}
			for _, id := range sortedKeys(bySession) {
				m = append(m, kv{strconv.FormatInt(id, 10), bySession[id]})
			}
			r.put("session_id_to_watched_paths", m)
		}},
		{names: []string{"watches_by_path", "wchp"}, serving: true, run: func(h *Handler, _ map[string]string, r *result) {
			_, byPath := watches(h.cfg.Node.Stats())
			m := object{}
			for _, p := range sortedKeys(byPath) {
				m = append(m, kv{p, byPath[p]})
			}
			r.put("path_to_session_ids", m)
		}},
		{names: []string{"watch_summary", "wchs"}, serving: true, run: func(h *Handler, _ map[string]string, r *result) {
			bySession, byPath := watches(h.cfg.Node.Stats())
			total := 0
			for _, ps := range bySession {
				total += len(ps)
			}
			r.put("num_connections", len(bySession))
			r.put("num_paths", len(byPath))
			r.put("num_total_watches", total)
		}},
	}
}

func conf(h *Handler, _ map[string]string, r *result) {
	cfg := h.cfg.Node.Config()
	port := 0
	maxCnxns := 0
	if w := h.cfg.Wire; w != nil {
		if a, ok := w.Addr().(*net.TCPAddr); ok {
			port = a.Port
		}
		if m := w.Config().MaxClientCnxns; m > 0 {
			maxCnxns = m
		}
	}
	r.put("client_port", port)
	r.put("data_dir", cfg.DataDir)
	r.put("data_log_dir", cfg.DataDir)
	r.put("tick_time", cfg.TickTime.Milliseconds())
	r.put("max_client_cnxns", maxCnxns)
	r.put("min_session_timeout", cfg.MinSessionTimeout.Milliseconds())
	r.put("max_session_timeout", cfg.MaxSessionTimeout.Milliseconds())
	r.put("server_id", cfg.NodeID)
	r.put("client_port_listen_backlog", -1)
}

func connections(h *Handler, brief bool) []map[string]any {
	if h.cfg.Wire == nil {
		return []map[string]any{}
	}
	return h.cfg.Wire.ConnectionInfo(brief)
}

func dump(h *Handler, _ map[string]string, r *result) {
	st := h.cfg.Node.Stats()
	expiry := map[int64][]int64{}
	now := time.Now()
	for _, s := range st.Sessions {
		at := now.Add(s.Timeout).UnixMilli()
		expiry[at] = append(expiry[at], s.ID)
	}
	e := object{}
	for _, at := range sortedKeys(expiry) {
		e = append(e, kv{strconv.FormatInt(at, 10), expiry[at]})
	}
	r.put("expiry_time_to_session_ids", e)
	eph := object{}
	for _, id := range sortedKeys(st.EphemeralsBySession) {
		eph = append(eph, kv{strconv.FormatInt(id, 10), st.EphemeralsBySession[id]})
	}
	r.put("session_id_to_ephemeral_paths", eph)
}

func env(_ *Handler, _ map[string]string, r *result) {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	user := os.Getenv("USER")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, e := range [][2]string{
		{"zookeeper.version", zkserver.Version},
		{"host.name", host},
		{"go.version", runtime.Version()},
		{"os.name", runtime.GOOS},
		{"os.arch", runtime.GOARCH},
		{"user.name", user},
		{"user.home", home},
		{"user.dir", wd},
		{"process.id", strconv.Itoa(os.Getpid())},
		{"os.memory.total", strconv.FormatUint(ms.Sys>>20, 10) + "MB"},
	} {
		r.put(e[0], e[1])
	}
}

func leader(h *Handler, _ map[string]string, r *result) {
	n := h.cfg.Node
	if n.Role() == "standalone" {
		r.err = "server is not initialized"
		return
	}
	rs := n.RaftStats()
	r.put("is_leader", n.IsLeader())
	r.put("leader_id", rs.LeaderID)
	host := rs.LeaderAddr
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	r.put("leader_ip", host)
}

func monitor(h *Handler, _ map[string]string, r *result) {
	if h.cfg.Wire != nil {
		for _, m := range h.cfg.Wire.Monitor() {
			r.put(m.Key, m.Value)
		}
		return
	}
	st := h.cfg.Node.Stats()
	r.put("version", zkserver.Version)
	r.put("server_state", st.Role)
	r.put("znode_count", st.Znodes+1)
	r.put("watch_count", st.Watches)
	r.put("ephemerals_count", st.Ephemerals)
	r.put("approximate_data_size", st.DataSize)
	r.put("global_sessions", st.GlobalSessions)
	r.put("local_sessions", len(st.Sessions))
	r.put("coord_log_format_active", st.LogFormatActive)
	r.put("coord_log_format_max", st.LogFormatMax)
}

func srvr(h *Handler, _ map[string]string, r *result) {
	n := h.cfg.Node
	st := n.Stats()
	data, log := n.DiskUsage()
	var ws zkserver.Stats
	if h.cfg.Wire != nil {
		ws = h.cfg.Wire.Stats()
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	bufs := object{{"last_buffer_size", -1}, {"min_buffer_size", -1}, {"max_buffer_size", -1}}
	r.put("version", zkserver.Version)
	r.put("read_only", false)
	r.put("server_stats", object{
		{"packets_sent", ws.PacketsSent},
		{"packets_received", ws.PacketsReceived},
		{"fsync_threshold_exceed_count", 0},
		{"client_response_stats", bufs},
		{"data_dir_size", data},
		{"log_dir_size", log},
		{"last_processed_zxid", st.Zxid},
		{"outstanding_requests", ws.Outstanding},
		{"server_state", st.Role},
		{"avg_latency", float64(ws.AvgLatency) / float64(time.Millisecond)},
		{"max_latency", ms(ws.MaxLatency)},
		{"min_latency", ms(ws.MinLatency)},
		{"num_alive_client_connections", ws.Connections},
		{"auth_failed_count", 0},
		{"non_mtlsremote_conn_count", 0},
		{"non_mtlslocal_conn_count", 0},
		{"provider_null", false},
		{"uptime", ms(ws.Uptime)},
	})
	r.put("client_response", bufs)
	r.put("node_count", st.Znodes+1)
}

// streamSnapshot is ZooKeeper 3.9's snapshot command with streaming=true
// (its default): the node's backup (Node.Backup: coord's own versioned
// format, which coordd snapshot inspect/restore and the restore command
// read) streams as the response body, copy-on-write while writes go on.
// The backup's zxid is known once the stream is written, so last_zxid is an
// HTTP trailer (the file's header carries it too).
func streamSnapshot(h *Handler, w http.ResponseWriter, req *http.Request, kwargs map[string]string) bool {
	if kwargs["streaming"] == "false" {
		return false // take a snapshot, answer JSON (snapshot below)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="coord-backup"`)
	w.Header().Set("Trailer", "last_zxid")
	w.WriteHeader(http.StatusOK)
	info, err := h.cfg.Node.Backup(req.Context(), w)
	if err != nil {
		// Too late for a status: end the stream short; the file's
		// checksum makes the truncation evident.
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("last_zxid", "0x"+strconv.FormatInt(info.Zxid, 16))
	return true
}

// maxRestoreBytes bounds the body the restore command reads.
const maxRestoreBytes = 4 << 30

// restore is ZooKeeper 3.9's restore command: POST a backup (what the
// snapshot command streamed) and the ensemble replaces its state with it,
// every member at the same log index (Node.RestoreInfo).
func restore(h *Handler, w http.ResponseWriter, req *http.Request, _ map[string]string) bool {
	body := http.MaxBytesReader(w, req.Body, maxRestoreBytes)
	info, err := h.cfg.Node.RestoreInfo(req.Context(), body)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, response("restore", err.Error()))
		return true
	}
	writeJSON(w, http.StatusOK, object{{"last_zxid", info.Zxid}, {"command", "restore"}, {"error", nil}})
	return true
}

func snapshot(h *Handler, kwargs map[string]string, r *result) {
	// streaming=false: take a raft snapshot now and say at which zxid.
	if err := h.cfg.Node.Snapshot(); err != nil && !strings.Contains(err.Error(), "nothing new") {
		r.err = err.Error()
		r.status = 500
		return
	}
	r.headers["last_zxid"] = []string{"0x" + strconv.FormatInt(h.cfg.Node.LastZxid(), 16)}
}

func votingView(h *Handler, _ map[string]string, r *result) {
	cur := object{}
	if h.cfg.Node.Role() != "standalone" {
		servers, _ := h.cfg.Node.Servers()
		for _, s := range servers {
			if !s.Voter {
				continue // ZooKeeper's voting view holds participants only
			}
			cur = append(cur, kv{s.ID, object{
				{"server_addresses", []string{s.Addr}},
				{"election_addresses", []string{}},
				{"client_address", ""},
				{"learner_type", "participant"},
			}})
		}
	}
	r.put("current_config", cur)
}

// watches indexes the watches of the node's sessions by session and path.
func watches(st coord.NodeStats) (map[int64][]string, map[string][]int64) {
	bySession := map[int64][]string{}
	byPath := map[string][]int64{}
	for _, s := range st.Sessions {
		for _, p := range s.Watches {
			bySession[s.ID] = append(bySession[s.ID], p)
			byPath[p] = append(byPath[p], s.ID)
		}
	}
	for p := range byPath {
		slices.Sort(byPath[p])
	}
	return bySession, byPath
}

func sortedKeys[K int64 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
