package coord_test

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The module's direct dependencies, each chosen on purpose. A new one must
// be added here, with its reason, in the same change.
var allowedDirect = map[string]string{
	"github.com/hashicorp/raft":           "replication",
	"github.com/hashicorp/memberlist":     "membership by gossip",
	"github.com/dgraph-io/badger/v4":      "the raft log on disk",
	"github.com/hashicorp/go-hclog":       "the logger type hashicorp/raft takes (adapted to slog)",
	"github.com/go-zookeeper/zk":          "tests only: a real ZooKeeper client against the wire server",
	"github.com/anishathalye/porcupine":   "tests only: linearizability checking",
	"golang.org/x/term":                   "coordctl's interactive line editing, history and tab completion on a terminal",
	"github.com/creack/pty":               "tests only: a pseudo-terminal to drive coordctl's interactive shell",
	"github.com/prometheus/client_golang": "package metrics: Prometheus collectors for a Node, and coordd's /metrics",
	"github.com/hashicorp/go-metrics":     "package metrics: the sink that turns hashicorp/raft's go-metrics into Prometheus metrics (already raft's own dependency)",
	"github.com/chromedp/chromedp":        "tests only: drives headless Chromium through the web console",
}

var testOnly = []string{"github.com/go-zookeeper/zk", "github.com/anishathalye/porcupine", "github.com/creack/pty", "github.com/chromedp/"}

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

// The house's import rules (README, "Layout"): package coord is the API and
// the deterministic core; everything hashicorp/raft, memberlist, badger and
// the wire protocol see lives in its own package.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the import graph")
	}
	imports := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	forbidden := map[string][]string{
		// The core shows none of its machinery's types and imports none.
		// (A path ending in "/" stands for every package under it.)
		".": {"github.com/hashicorp/raft", "github.com/hashicorp/memberlist", "github.com/dgraph-io/badger/",
			"github.com/hashicorp/go-hclog", "github.com/coordkit/coord/zkwire", "github.com/coordkit/coord/zkserver",
			"github.com/prometheus/", "github.com/hashicorp/go-metrics"},
		// The machinery does not know the engine.
		"./raftfsm":          {"github.com/coordkit/coord"},
		"./internal/cluster": {"github.com/coordkit/coord", "github.com/hashicorp/raft"},
		"./internal/gossip":  {"github.com/coordkit/coord"},
		"./zkwire":           {"github.com/coordkit/coord"},
		// The wire server is a client of coord's exported API.
		"./zkserver": {"github.com/coordkit/coord/raftfsm", "github.com/coordkit/coord/internal/cluster",
			"github.com/coordkit/coord/internal/gossip", "github.com/hashicorp/raft"},
		// Monitoring reads the exported API too.
		"./metrics": {"github.com/coordkit/coord/raftfsm", "github.com/coordkit/coord/internal/cluster", "github.com/hashicorp/raft"},
		"./admin":   {"github.com/coordkit/coord/raftfsm", "github.com/coordkit/coord/internal/cluster", "github.com/hashicorp/raft", "github.com/prometheus/"},
	}
	for pkg, bad := range forbidden {
		for _, imp := range imports(pkg) {
			for _, b := range bad {
				if imp == b || strings.HasSuffix(b, "/") && strings.HasPrefix(imp, b) {
					t.Errorf("%s imports %s", pkg, imp)
				}
			}
		}
	}
}

// coreFiles hold apply: the tree, its commands and snapshots. They take no
// locks, read no clock and touch no socket, file or stream: time comes in
// the batch, and the caller (fsm.go) locks and runs the effects.
var coreFiles = []string{"tree.go", "quota.go", "acl.go", "command.go", "path.go", "snapshot.go", "restore_apply.go"}

func TestCoreFilesStayPure(t *testing.T) {
	banned := []string{"sync", "sync/atomic", "time", "net", "os", "os/exec", "io", "io/fs", "math/rand", "math/rand/v2", "crypto/rand", "log", "log/slog", "context"}
	fset := token.NewFileSet()
	for _, name := range coreFiles {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if slices.Contains(banned, p) {
				t.Errorf("%s imports %s: apply code takes no locks, clocks, randomness or I/O", name, p)
			}
		}
	}
}
