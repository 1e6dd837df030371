package admin_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/admin"
	"github.com/coordkit/coord/coordtest"
	"github.com/coordkit/coord/zkserver"
)

// fourLetter sends a four-letter word and returns the answer.
func fourLetter(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(bufio.NewReader(c))
	return string(out)
}

func srvrMode(t *testing.T, wire *zkserver.Server) string {
	t.Helper()
	out := fourLetter(t, wire.Addr().String(), "srvr")
	for _, line := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return m
		}
	}
	return out
}

func serveWire(t *testing.T, n *coord.Node) *zkserver.Server {
	t.Helper()
	w, err := zkserver.Listen("127.0.0.1:0", n, zkserver.Config{FourLetterWords: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// checkModes waits until srvr's Mode on each node is its raft role, and
// the roles are one leader and want[role] of the others.
func checkModes(t *testing.T, nodes []*coord.Node, wires []*zkserver.Server, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := map[string]int{}
		agree := true
		for i, n := range nodes {
			mode := srvrMode(t, wires[i])
			if mode != n.Role() {
				agree = false
			}
			got[mode]++
		}
		if agree && fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("srvr modes %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSrvrModeStandaloneStaticObserver(t *testing.T) {
	ctx := context.Background()
	n, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	checkModes(t, []*coord.Node{n}, []*zkserver.Server{serveWire(t, n)}, map[string]int{"standalone": 1})

	// A static ensemble of three voters and an observer.
	e := coordtest.NewEnsembleWith(t, 4, coordtest.Options{Configure: func(i int, cfg *coord.Config) {
		cfg.Peers = append([]coord.Peer(nil), cfg.Peers...)
		cfg.Peers[3].Observer = true
	}})
	var nodes []*coord.Node
	var wires []*zkserver.Server
	for i := 0; i < e.Size(); i++ {
		nodes = append(nodes, e.Node(i))
		wires = append(wires, serveWire(t, e.Node(i)))
	}
	checkModes(t, nodes, wires, map[string]int{"leader": 1, "follower": 2, "observer": 1})
}

func TestSrvrModeGossip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seed := freeAddr(t)
	nodes := make([]*coord.Node, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		cfg := coord.Config{
			NodeID: fmt.Sprintf("g%d", i), BindAddr: "127.0.0.1:0",
			ElectionTimeout: 150 * time.Millisecond, TickTime: 100 * time.Millisecond,
			Gossip: coord.GossipConfig{Addr: "127.0.0.1:0", Join: []string{seed}, BootstrapExpect: 3,
				StabilizationTime: 200 * time.Millisecond, ReconcileInterval: 50 * time.Millisecond,
				Timing: coord.GossipTiming{ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
					GossipInterval: 20 * time.Millisecond, SuspicionMult: 2, PushPullInterval: 500 * time.Millisecond, TCPTimeout: time.Second}},
		}
		if i == 0 {
			cfg.Gossip.Addr, cfg.Gossip.Join = seed, nil
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nodes[i], errs[i] = coord.Open(ctx, cfg)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Abort()
		}
	})
	wires := []*zkserver.Server{serveWire(t, nodes[0]), serveWire(t, nodes[1]), serveWire(t, nodes[2])}
	checkModes(t, nodes, wires, map[string]int{"leader": 1, "follower": 2})
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// After quorum loss /readyz turns 503 within two election timeouts (plus
// the probe's own bound), srvr/stat/mntr/cons answer ZooKeeper's
// not-serving message and ruok stays imok; once the quorum is back,
// /readyz is 200 again.
func TestReadyzFollowsQuorum(t *testing.T) {
	for _, who := range []string{"follower", "leader"} {
		t.Run(who+" survives", func(t *testing.T) { testReadyz(t, who == "leader") })
	}
}

func testReadyz(t *testing.T, leaderSurvives bool) {
	const et = 100 * time.Millisecond
	e := coordtest.NewEnsembleWith(t, 3, coordtest.Options{ElectionTimeout: et})
	e.WaitConverged()
	survivor := (e.LeaderIndex() + 1) % 3
	if leaderSurvives {
		survivor = e.LeaderIndex()
	}
	n := e.Node(survivor)
	wire := serveWire(t, n)
	srv := httptest.NewServer(admin.New(admin.Config{Node: n, Wire: wire}))
	defer srv.Close()
	status := func() int {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(); s != 200 {
		t.Fatalf("/readyz %d in a healthy ensemble", s)
	}
	var others []int
	for i := 0; i < 3; i++ {
		if i != survivor {
			others = append(others, i)
			e.Kill(i)
		}
	}
	lost := time.Now()
	for status() != 503 {
		if time.Since(lost) > 10*et {
			t.Fatalf("/readyz still 200 %v after quorum loss", time.Since(lost))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A probe either finds no leader in touch (the node heard nothing for
	// two election timeouts) or its catch-up gives up after two election
	// timeouts: 503 within two election timeouts, plus scheduling slack.
	d := time.Since(lost)
	t.Logf("/readyz 503 %v after quorum loss (election timeout %v)", d, et)
	if d > 2*et+150*time.Millisecond {
		t.Errorf("/readyz took %v to turn 503 (election timeout %v)", d, et)
	}
	for !strings.HasPrefix(fourLetter(t, wire.Addr().String(), "srvr"), "This ZooKeeper") {
		if time.Since(lost) > 10*et {
			t.Fatalf("srvr still serving without a quorum")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, cmd := range []string{"srvr", "stat", "mntr", "cons"} {
		if got := fourLetter(t, wire.Addr().String(), cmd); got != zkserver.NotServing+"\n" {
			t.Errorf("%s without a quorum: %q", cmd, got)
		}
	}
	if got := fourLetter(t, wire.Addr().String(), "ruok"); got != "imok" {
		t.Errorf("ruok without a quorum: %q", got)
	}
	resp, err := http.Get(srv.URL + "/commands/mntr")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), zkserver.NotServing) {
		t.Errorf("admin mntr without a quorum: %s", body)
	}

	e.Restart(others[0])
	back := time.Now()
	for status() != 200 {
		if time.Since(back) > 20*time.Second {
			t.Fatalf("/readyz not 200 %v after the quorum returned", time.Since(back))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
