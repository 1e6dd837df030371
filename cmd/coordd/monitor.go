package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/admin"
	"github.com/coordkit/coord/metrics"
	"github.com/coordkit/coord/zkserver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// monitor serves coordd's HTTP endpoints: /metrics (metricsProvider.*),
// the AdminServer with /healthz and /readyz (admin.*), and -debug-addr's
// pprof, which carries all of them too. The listeners open before the
// node does, so that a bad address fails at once and liveness probes are
// answered while the node waits for its quorum: until the node serves,
// /healthz answers 200 ("starting"), /readyz and the rest 503.
type monitor struct {
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics late // /metrics
	admin   late // the AdminServer, /healthz, /readyz, the console at /ui/
	servers []*http.Server
	handler *admin.Handler // once the node is up
}

// late is a handler set once the node is up.
type late struct{ h atomic.Pointer[http.Handler] }

func (l *late) set(h http.Handler) { l.h.Store(&h) }

func (l *late) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/healthz" {
		fmt.Fprintln(w, "starting")
		return
	}
	http.Error(w, "coordd is starting", http.StatusServiceUnavailable)
}

func newMonitor(log *slog.Logger) *monitor {
	m := &monitor{log: log, reg: prometheus.NewRegistry()}
	m.reg.MustRegister(metrics.StandardCollectors()...)
	return m
}

// listen starts the endpoints cfg and debugAddr ask for.
func (m *monitor) listen(cfg daemonConfig, debugAddr string) error {
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", &m.metrics)
		if err := m.serve("metrics", cfg.MetricsAddr, mux); err != nil {
			return err
		}
	}
	if cfg.AdminAddr != "" {
		if err := m.serve("admin server", cfg.AdminAddr, &m.admin); err != nil {
			return err
		}
	}
	if debugAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/metrics", &m.metrics)
		mux.Handle("/", &m.admin)
		if err := m.serve("debug endpoints", debugAddr, mux); err != nil {
			return err
		}
	}
	return nil
}

func (m *monitor) serve(what, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", what, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	m.servers = append(m.servers, srv)
	m.log.Info(what, "addr", ln.Addr().String())
	return nil
}

// start points the endpoints at the running node.
func (m *monitor) start(n *coord.Node, wire *zkserver.Server, cfg daemonConfig) error {
	if err := metrics.Register(m.reg, n, metrics.Options{Wire: wire}); err != nil {
		return err
	}
	m.metrics.set(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	m.handler = admin.New(admin.Config{Node: n, Wire: wire, CommandURL: cfg.AdminCommandURL})
	m.admin.set(m.handler)
	return nil
}

func (m *monitor) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, s := range m.servers {
		_ = s.Shutdown(ctx)
	}
	if m.handler != nil {
		m.handler.Close()
	}
}
