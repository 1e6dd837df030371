package metrics_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/metrics"
	"github.com/coordkit/coord/zkserver"
	"github.com/prometheus/client_golang/prometheus"
)

// Every metric the Grafana dashboard (dashboards/coord.json) queries is
// one the collectors export, except raft's go-metrics, which appear once
// raft reports them (elections and replication need several nodes).
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../dashboards/coord.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
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
	reg.MustRegister(metrics.StandardCollectors()...)
	have := gather(t, reg)

	ident := regexp.MustCompile(`[a-zA-Z_][a-zA-Z0-9_]*`)
	notMetrics := map[string]bool{"rate": true, "increase": true, "max": true, "job": true, "instance": true, "quantile": true,
		"on": true, "follower": true, "role": true, "dir": true, "peer_id": true}
	// raft's go-metrics, and the per-follower series a leader alone has none of.
	goMetrics := []string{"coord_raft_commitTime", "coord_raft_fsm_apply", "coord_raft_state_", "coord_raft_replication_", "coord_raft_follower_"}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			expr := regexp.MustCompile(`\{[^}]*\}|\[[^]]*\]|"[^"]*"`).ReplaceAllString(tg.Expr, "")
			for _, name := range ident.FindAllString(expr, -1) {
				if notMetrics[name] || strings.HasPrefix(name, "$") {
					continue
				}
				skip := false
				for _, g := range goMetrics {
					skip = skip || strings.HasPrefix(name, g)
				}
				base := strings.TrimSuffix(name, "_count")
				if skip || have[name] != nil || have[base] != nil {
					continue
				}
				t.Errorf("panel %q queries %s, which is not exported", p.Title, name)
			}
		}
	}
}
