package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/admin"
	"github.com/coordkit/coord/zkserver"
	"github.com/go-zookeeper/zk"
)

func get(t *testing.T, url string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if len(hdr) == 2 {
		req.Header.Set(hdr[0], hdr[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v\n%s", url, err, body)
		}
	}
	return resp.StatusCode, m, resp.Header
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestAdminCommandShapes(t *testing.T) {
	ctx := context.Background()
	super := coord.DigestID("super", "secret")
	n, err := coord.Open(ctx, coord.Config{DataDir: t.TempDir(), SuperDigest: super})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	wire, err := zkserver.Listen("127.0.0.1:0", n, zkserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer wire.Close()
	c, _, err := zk.Connect([]string{wire.Addr().String()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.GetW("/e"); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(admin.New(admin.Config{Node: n, Wire: wire}))
	defer srv.Close()

	want := map[string][]string{
		"mntr":        {"version", "server_state", "znode_count", "watch_count", "ephemerals_count", "approximate_data_size", "num_alive_connections", "outstanding_requests", "open_file_descriptor_count", "max_file_descriptor_count", "coord_log_format_active", "coord_log_format_max"},
		"ruok":        {},
		"srvr":        {"version", "read_only", "server_stats", "client_response", "node_count"},
		"stat":        {"version", "read_only", "server_stats", "client_response", "node_count", "connections", "secure_connections"},
		"conf":        {"client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns", "min_session_timeout", "max_session_timeout", "server_id", "client_port_listen_backlog"},
		"cons":        {"connections", "secure_connections"},
		"envi":        {"zookeeper.version", "host.name", "os.name", "user.dir"},
		"wchs":        {"num_connections", "num_paths", "num_total_watches"},
		"wchc":        {"session_id_to_watched_paths"},
		"wchp":        {"path_to_session_ids"},
		"dump":        {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths"},
		"isro":        {"read_only"},
		"leader":      {},
		"voting_view": {"current_config"},
		"dirs":        {"datadir_size", "logdir_size"},
	}
	primary := map[string]string{"mntr": "monitor", "srvr": "server_stats", "stat": "stats", "conf": "configuration",
		"cons": "connections", "envi": "environment", "wchs": "watch_summary", "wchc": "watches", "wchp": "watches_by_path",
		"isro": "is_read_only"}
	for cmd, ks := range want {
		status, m, _ := get(t, srv.URL+"/commands/"+cmd)
		if status != 200 {
			t.Errorf("%s: status %d", cmd, status)
		}
		p := primary[cmd]
		if p == "" {
			p = cmd
		}
		if m["command"] != p {
			t.Errorf("%s: command %v, want %s", cmd, m["command"], p)
		}
		if cmd == "leader" {
			if m["error"] != "server is not initialized" {
				t.Errorf("leader on a standalone node: %v", m)
			}
			continue
		}
		if m["error"] != nil {
			t.Errorf("%s: error %v", cmd, m["error"])
		}
		for _, k := range ks {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q: has %v", cmd, k, keys(m))
			}
		}
	}
	_, m, _ := get(t, srv.URL+"/commands/mntr")
	if m["server_state"] != "standalone" || m["ephemerals_count"] != float64(1) || m["znode_count"] != float64(n.Stats().Znodes+1) {
		t.Errorf("mntr %v", m)
	}
	_, m, _ = get(t, srv.URL+"/commands/srvr")
	ss, _ := m["server_stats"].(map[string]any)
	if ss["server_state"] != "standalone" || ss["num_alive_client_connections"] == nil || ss["data_dir_size"].(float64) <= 0 {
		t.Errorf("server_stats %v", ss)
	}
	_, m, _ = get(t, srv.URL+"/commands/cons")
	conns, _ := m["connections"].([]any)
	if len(conns) != 1 {
		t.Fatalf("cons %v", m)
	}
	for _, k := range []string{"remote_socket_address", "interest_ops", "outstanding_requests", "packets_received", "packets_sent",
		"session_id", "last_operation", "established", "session_timeout", "last_cxid", "last_zxid", "last_response_time",
		"last_latency", "min_latency", "avg_latency", "max_latency"} {
		if _, ok := conns[0].(map[string]any)[k]; !ok {
			t.Errorf("connection lacks %s: %v", k, conns[0])
		}
	}
	_, m, _ = get(t, srv.URL+"/commands/wchp")
	if pm, _ := m["path_to_session_ids"].(map[string]any); len(pm["/e"].([]any)) != 1 {
		t.Errorf("wchp %v", m)
	}
	_, m, _ = get(t, srv.URL+"/commands/dump")
	if eph, _ := m["session_id_to_ephemeral_paths"].(map[string]any); len(eph) != 1 {
		t.Errorf("dump %v", m)
	}
	if _, m, _ = get(t, srv.URL+"/commands/nosuch"); m["error"] != "Unknown command: nosuch" {
		t.Errorf("unknown command: %v", m)
	}

	// The listing links every command.
	resp, err := http.Get(srv.URL + "/commands")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"monitor", "server_stats", "voting_view", "snapshot"} {
		if !strings.Contains(string(body), `<a href="/commands/`+name+`">`) {
			t.Errorf("listing lacks %s:\n%s", name, body)
		}
	}

	// snapshot needs authentication, as in ZooKeeper 3.9.
	if status, m, _ := get(t, srv.URL+"/commands/snapshot?streaming=false"); status != 401 || m["error"] != "Auth info is missing for the command" {
		t.Errorf("snapshot without auth: %d %v", status, m)
	}
	if status, m, _ := get(t, srv.URL+"/commands/snapshot?streaming=false", "Authorization", "nosuch x"); status != 401 || m["error"] != "Not authenticated" {
		t.Errorf("snapshot with a bad scheme: %d %v", status, m)
	}
	// Lock "/" down to the super user: another digest is not authorized.
	if _, err := c.SetACL("/", zk.DigestACL(zk.PermAll, "admin", "pw"), -1); err != nil {
		t.Fatal(err)
	}
	if status, m, _ := get(t, srv.URL+"/commands/snapshot?streaming=false", "Authorization", "digest bob:pw"); status != 403 || m["error"] != "Not authorized" {
		t.Errorf("snapshot as bob: %d %v", status, m)
	}
	for _, who := range []string{"super:secret", "admin:pw"} {
		status, m, h := get(t, srv.URL+"/commands/snapshot?streaming=false", "Authorization", "digest "+who)
		if status != 200 || m["error"] != nil || !strings.HasPrefix(h.Get("last_zxid"), "0x") {
			t.Errorf("snapshot as %s: %d %v %v", who, status, m, h)
		}
	}

	// Health.
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, _, _ := get(t, srv.URL+p); status != 200 {
			t.Errorf("%s: %d", p, status)
		}
	}
	n.Close(ctx)
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, _, _ := get(t, srv.URL+p); status != 503 {
			t.Errorf("%s after Close: %d", p, status)
		}
	}
}
