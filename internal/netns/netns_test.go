package netns

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func requireLab(t *testing.T, n int) *Lab {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true: network namespaces are expected)", err)
		}
		t.Skipf("skipping: %v (with CI=true this is a failure)", err)
	}
	l, err := New(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// probe connects from node i to a closed port of node j with bash's
// /dev/tcp: "refused" when the path works, "timeout" when packets vanish.
func probe(t *testing.T, l *Lab, i, j int) string {
	t.Helper()
	if _, err := exec.LookPath("timeout"); err != nil {
		t.Skip("no timeout command")
	}
	out, err := l.Command(i, "timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/"+l.Addrs[j]+"/9").CombinedOutput()
	switch {
	case err == nil:
		return "connected"
	case strings.Contains(string(out), "refused"):
		return "refused"
	case strings.Contains(string(out), "Invalid argument"), strings.Contains(string(out), "unreachable"):
		return "dropped"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 124 {
		return "dropped"
	}
	return "error: " + err.Error() + ": " + string(out)
}

func TestLabIsolateAndHeal(t *testing.T) {
	t.Run("default", func(t *testing.T) { testIsolateAndHeal(t, requireLab(t, 3)) })
	t.Run("blackhole", func(t *testing.T) {
		l := requireLab(t, 3)
		l.nft = false
		testIsolateAndHeal(t, l)
	})
}

func testIsolateAndHeal(t *testing.T, l *Lab) {
	t.Logf("cutting with %s", l.CutTool())
	if got := probe(t, l, 0, 1); got != "refused" {
		t.Fatalf("node 0 -> node 1 before the cut: %s, want refused", got)
	}
	if err := l.Isolate(0); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]int{{0, 1}, {1, 0}, {2, 0}} {
		if got := probe(t, l, p[0], p[1]); got != "dropped" {
			t.Errorf("node %d -> node %d while 0 is isolated: %s, want dropped", p[0], p[1], got)
		}
	}
	if got := probe(t, l, 1, 2); got != "refused" {
		t.Errorf("node 1 -> node 2 while 0 is isolated: %s, want refused", got)
	}
	// The hub still reaches the isolated node.
	c, err := l.Dial("tcp", net.JoinHostPort(l.Addrs[0], "9"), time.Second)
	if c != nil {
		c.Close()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("hub -> isolated node 0: %v, want connection refused", err)
	}
	if err := l.Heal(0); err != nil {
		t.Fatal(err)
	}
	if got := probe(t, l, 1, 0); got != "refused" {
		t.Errorf("node 1 -> node 0 after healing: %s, want refused", got)
	}
}
