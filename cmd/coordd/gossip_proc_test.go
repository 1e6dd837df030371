package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary runs as coordd when COORDD_TEST_DAEMON is set: the
// process tests start real coordd processes without building one.
func TestMain(m *testing.M) {
	if os.Getenv("COORDD_TEST_DAEMON") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		var args []string
		_ = json.Unmarshal([]byte(os.Getenv("COORDD_TEST_ARGS")), &args)
		os.Exit(run(ctx, args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// coorddProc is a coordd process whose stderr (its log) is kept.
type coorddProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  []string
	done chan struct{}
}

func startCoordd(t *testing.T, args ...string) *coorddProc {
	t.Helper()
	enc, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "COORDD_TEST_DAEMON=1", "COORDD_TEST_ARGS="+string(enc))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &coorddProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *coorddProc) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Three coordd processes form an ensemble by gossip (coord.* keys in a
// zoo.cfg for one, flags for the others): one leader and two followers,
// as srvr, /metrics, the AdminServer and /readyz tell; their JSON logs
// are one record a line, with no ERROR in a healthy ensemble.
func TestGossipFormedCoorddProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addrs := freeAddrs(t, 15) // per node: client, cluster, gossip, admin, metrics
	client := func(i int) string { return addrs[5*i] }
	cluster := func(i int) string { return addrs[5*i+1] }
	gossip := func(i int) string { return addrs[5*i+2] }
	adminA := func(i int) string { return addrs[5*i+3] }
	metricsA := func(i int) string { return addrs[5*i+4] }

	var procs []*coorddProc
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		common := []string{"-log-format", "json", "-tick-time", "200ms", "-election-timeout", "300ms", "-4lw", "*"}
		var args []string
		if i == 0 {
			// The seed takes its settings from a zoo.cfg, ZooKeeper-style.
			ah, ap, _ := net.SplitHostPort(adminA(i))
			mh, mp, _ := net.SplitHostPort(metricsA(i))
			ch, cp, _ := net.SplitHostPort(client(i))
			cfg := fmt.Sprintf(`tickTime=200
dataDir=%s
clientPortAddress=%s
clientPort=%s
4lw.commands.whitelist=*
coord.electionTimeoutMs=300
coord.nodeId=c0
coord.clusterAddress=%s
coord.gossipAddress=%s
coord.bootstrapExpect=3
coord.clusterName=proc-test
admin.enableServer=true
admin.serverAddress=%s
admin.serverPort=%s
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=%s
metricsProvider.httpPort=%s
zookeeper.enforceQuota=true
`, dir, ch, cp, cluster(i), gossip(i), ah, ap, mh, mp)
			path := filepath.Join(t.TempDir(), "zoo.cfg")
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			args = []string{"-log-format", "json", path}
		} else {
			args = append(common, "-data-dir", dir, "-client-addr", client(i), "-id", fmt.Sprintf("c%d", i),
				"-cluster-addr", cluster(i), "-gossip-addr", gossip(i), "-join", gossip(0),
				"-bootstrap-expect", "3", "-cluster-name", "proc-test",
				"-admin-addr", adminA(i), "-metrics-addr", metricsA(i))
		}
		procs = append(procs, startCoordd(t, args...))
	}

	deadline := time.Now().Add(60 * time.Second)
	var modes map[string]int
	for {
		modes = map[string]int{}
		for i := 0; i < 3; i++ {
			m, _ := srvrMode(client(i), 3*time.Second)
			modes[m]++
		}
		if modes["leader"] == 1 && modes["follower"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			for i, p := range procs {
				t.Logf("coordd %d log:\n%s", i, strings.Join(p.lines(), "\n"))
			}
			t.Fatalf("srvr modes %v, want one leader and two followers", modes)
		}
		time.Sleep(100 * time.Millisecond)
	}

	leaders := 0
	for i := 0; i < 3; i++ {
		deadline := time.Now().Add(20 * time.Second)
		for {
			if s, _ := httpGet("http://" + adminA(i) + "/readyz"); s == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("coordd %d: /readyz not 200", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if s, _ := httpGet("http://" + adminA(i) + "/healthz"); s != 200 {
			t.Errorf("coordd %d: /healthz %d", i, s)
		}
		s, body := httpGet("http://" + adminA(i) + "/commands/leader")
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); s != 200 || err != nil {
			t.Fatalf("coordd %d: leader %d %v %s", i, s, err, body)
		}
		if m["is_leader"] == true {
			leaders++
		}
		s, body = httpGet("http://" + metricsA(i) + "/metrics")
		if s != 200 || !strings.Contains(body, "\nznode_count ") || !strings.Contains(body, "go_goroutines") {
			t.Errorf("coordd %d: /metrics %d:\n%.1500s", i, s, body)
		}
		if !strings.Contains(body, `coord_role{role="leader"} 1`) && !strings.Contains(body, `coord_role{role="follower"} 1`) {
			t.Errorf("coordd %d: /metrics lacks its role", i)
		}
	}
	if leaders != 1 {
		t.Errorf("%d nodes say is_leader in /commands/leader", leaders)
	}
	if s, body := httpGet("http://" + adminA(0) + "/commands/voting_view"); s != 200 || strings.Count(body, "participant") != 3 {
		t.Errorf("voting_view %d %s", s, body)
	}

	// Logs: one JSON record a line; no ERROR from a healthy ensemble.
	for i, p := range procs {
		for _, line := range p.lines() {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("coordd %d: log line is not JSON: %q", i, line)
				continue
			}
			if rec["level"] == "ERROR" {
				t.Errorf("coordd %d: ERROR in a healthy ensemble: %s", i, line)
			}
		}
	}
	joined := strings.Join(procs[0].lines(), "\n")
	if !strings.Contains(joined, "forming the ensemble by gossip") {
		t.Errorf("coordd 0 did not log its gossip settings:\n%s", joined)
	}
}
