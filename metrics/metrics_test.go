package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/metrics"
	"github.com/coordkit/coord/zkserver"
	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil || len(mf.Metric) == 0 {
		t.Fatalf("no metric %s", name)
	}
	m := mf.Metric[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	t.Fatalf("metric %s has no value", name)
	return 0
}

func TestMetricsAfterOperations(t *testing.T) {
	ctx := context.Background()
	n, err := coord.Open(ctx, coord.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	wire, err := zkserver.Listen("127.0.0.1:0", n, zkserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer wire.Close()

	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, n, metrics.Options{Wire: wire}); err != nil {
		t.Fatal(err)
	}
	// A second node's process-wide collectors are already there: fine.
	if err := metrics.Register(prometheus.NewRegistry(), n, metrics.Options{}); err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(metrics.StandardCollectors()...)

	before := gather(t, reg)
	if got, want := value(t, before, "znode_count"), float64(n.Stats().Znodes+1); got != want {
		t.Errorf("znode_count %v, want %v", got, want)
	}
	upd0, read0 := value(t, before, "updatelatency"), value(t, before, "readlatency")

	c, _, err := zk.Connect([]string{wire.Addr().String()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []string{"/a", "/b", "/c"} {
		if _, err := c.Create(p, []byte("data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/a"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.GetW("/b"); err != nil {
		t.Fatal(err)
	}

	after := gather(t, reg)
	st := n.Stats()
	for name, want := range map[string]float64{
		"znode_count":             float64(st.Znodes + 1),
		"ephemerals_count":        1,
		"watch_count":             1,
		"approximate_data_size":   float64(st.DataSize),
		"global_sessions":         1,
		"coord_up":                1,
		"coord_has_quorum":        1,
		"coord_zxid":              float64(st.Zxid),
		"coord_log_format_active": float64(st.LogFormatActive),
	} {
		if got := value(t, after, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := value(t, after, "znode_count"); got != value(t, before, "znode_count")+4 {
		t.Errorf("znode_count %v after 4 creates (before %v)", got, value(t, before, "znode_count"))
	}
	if got := value(t, after, "updatelatency"); got < upd0+4 {
		t.Errorf("updatelatency count %v, want at least %v", got, upd0+4)
	}
	if got := value(t, after, "readlatency"); got < read0+2 {
		t.Errorf("readlatency count %v, want at least %v", got, read0+2)
	}
	if value(t, after, "num_alive_connections") < 1 || value(t, after, "coord_proposer_batches_total") < 4 {
		t.Errorf("connections %v batches %v", value(t, after, "num_alive_connections"), value(t, after, "coord_proposer_batches_total"))
	}
	if value(t, after, "coord_data_dir_bytes") <= 0 {
		t.Errorf("coord_data_dir_bytes is 0 for a durable node")
	}
	for _, name := range []string{"go_goroutines", "process_open_fds", "coord_raft_term", "coord_raft_commit_index"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	// raft's go-metrics reach the registry (a single node commits too).
	var raftSeen bool
	for name := range after {
		if strings.HasPrefix(name, "coord_raft_fsm_apply") || strings.HasPrefix(name, "coord_raft_commitTime") {
			raftSeen = true
		}
	}
	if !raftSeen {
		t.Errorf("no go-metrics from raft among %d families", len(after))
	}

	// The text exposition, as coordd serves it.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nznode_count ") || !strings.Contains(string(body), "updatelatency_count ") {
		t.Errorf("exposition lacks znode_count or updatelatency:\n%.2000s", body)
	}
}
