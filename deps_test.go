package coord_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The module's direct dependencies, each chosen on purpose. A new one must
// be added here, with its reason, in the same change.
var allowedDirect = map[string]string{
	"github.com/hashicorp/raft":         "replication",
	"github.com/hashicorp/memberlist":   "membership by gossip",
	"github.com/dgraph-io/badger/v4":    "the raft log on disk",
	"github.com/hashicorp/go-hclog":     "the logger type hashicorp/raft takes (adapted to slog)",
	"github.com/go-zookeeper/zk":        "tests only: a real ZooKeeper client against the wire server",
	"github.com/anishathalye/porcupine": "tests only: linearizability checking",
	"golang.org/x/term":                 "coordctl's interactive line editing, history and tab completion on a terminal",
	"github.com/creack/pty":             "tests only: a pseudo-terminal to drive coordctl's interactive shell",
}

var testOnly = []string{"github.com/go-zookeeper/zk", "github.com/anishathalye/porcupine", "github.com/creack/pty"}

func TestDirectDependencies(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.Contains(line, "// indirect") || !strings.Contains(f[0], ".") {
			continue
		}
		if _, ok := allowedDirect[f[0]]; !ok {
			t.Errorf("go.mod requires %s directly; add it to allowedDirect with its reason, or drop it", f[0])
		}
	}
}

func TestTestOnlyDependenciesStayInTests(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the import graph")
	}
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, m := range testOnly {
		if i := slices.IndexFunc(deps, func(d string) bool { return strings.HasPrefix(d, m) }); i >= 0 {
			t.Errorf("%s is imported by non-test code (%s)", m, deps[i])
		}
	}
}
