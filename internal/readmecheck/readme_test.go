package readmecheck

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// snippet is one ```go block of README.md.
type snippet struct {
	line int // README line of the opening fence
	code string
}

// readmeSnippets returns the ```go blocks of the README at path.
func readmeSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []snippet
		cur  *snippet
		body []string
		n    int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur, body = &snippet{line: n}, nil
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.code = strings.Join(body, "\n") + "\n"
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated ```go block", path, cur.line)
	}
	return out
}

// imports are the packages a snippet may use without importing them: the
// standard ones a README reaches for, and coord's.
var imports = map[string]string{
	"context":    "context",
	"errors":     "errors",
	"fmt":        "fmt",
	"hex":        "encoding/hex",
	"log":        "log",
	"os":         "os",
	"slog":       "log/slog",
	"strings":    "strings",
	"sync":       "sync",
	"testing":    "testing",
	"time":       "time",
	"coord":      "github.com/coordkit/coord",
	"coordtest":  "github.com/coordkit/coord/coordtest",
	"recipe":     "github.com/coordkit/coord/recipe",
	"zkserver":   "github.com/coordkit/coord/zkserver",
	"metrics":    "github.com/coordkit/coord/metrics",
	"http":       "net/http",
	"prometheus": "github.com/prometheus/client_golang/prometheus",
	"promhttp":   "github.com/prometheus/client_golang/prometheus/promhttp",
	"zk":         "github.com/go-zookeeper/zk",
	"console":    "github.com/coordkit/coord/console",
	"bytes":      "bytes",
	"io":         "io",
}

var (
	topLevel = regexp.MustCompile(`(?m)^(func|type|var|const) `)
	testFunc = regexp.MustCompile(`(?m)^func Test`)
)

// source turns a snippet into a Go file: a block that starts with a package
// clause stays as is; one with top-level declarations gets a package clause
// and imports; any other block is the body of func main. It returns the
// file's name and contents.
func source(sn snippet) (name, src string) {
	if strings.HasPrefix(strings.TrimSpace(sn.code), "package ") {
		return "main.go", sn.code
	}
	var used []string
	for name, path := range imports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(sn.code) {
			used = append(used, fmt.Sprintf("\t%s %q\n", name, path))
		}
	}
	sort.Strings(used)
	head := "import (\n" + strings.Join(used, "") + ")\n\n"
	if len(used) == 0 {
		head = ""
	}
	if topLevel.MatchString(sn.code) {
		name = "snippet.go"
		if testFunc.MatchString(sn.code) {
			name = "snippet_test.go"
		}
		return name, "package snippet\n\n" + head + sn.code
	}
	return "main.go", "package main\n\n" + head + "func main() {\n" + sn.code + "}\n"
}

// TestReadmeSnippetsCompile writes every ```go block of README.md to a
// package of a scratch module that requires this repository (through a
// replace directive) and runs go vet on them: a snippet that stops
// compiling, or that vet objects to (unkeyed fields of coord's structs,
// say), fails the test with its README line.
func TestReadmeSnippetsCompile(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	snippets := readmeSnippets(t, filepath.Join(root, "README.md"))
	if len(snippets) < 5 {
		t.Fatalf("found %d ```go blocks in README.md, want at least 5: is the extraction broken?", len(snippets))
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go vet needs the go command: %v", err)
	}

	dir := t.TempDir()
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	// The scratch module takes the repository's requirements and go.sum, so
	// it resolves exactly the versions the repository builds with.
	modText := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(mod), "module readmesnippets")
	modText += fmt.Sprintf("\nrequire github.com/coordkit/coord v0.0.0\n\nreplace github.com/coordkit/coord => %s\n", root)
	write(t, filepath.Join(dir, "go.mod"), modText)
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		write(t, filepath.Join(dir, "go.sum"), string(sum))
	}
	pkgLine := map[string]int{}
	for _, sn := range snippets {
		pkg := fmt.Sprintf("line%d", sn.line)
		pkgLine[pkg] = sn.line
		name, src := source(sn)
		write(t, filepath.Join(dir, pkg, name), src)
	}

	cmd := exec.Command(goTool, "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go vet of README.md's Go snippets: %v", err)
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			t.Log(line)
		}
		// Name the README line of each failing snippet.
		failing := map[int]bool{}
		for pkg, line := range pkgLine {
			if strings.Contains(string(out), pkg+"/") || strings.Contains(string(out), "readmesnippets/"+pkg) {
				failing[line] = true
			}
		}
		var lines []int
		for l := range failing {
			lines = append(lines, l)
		}
		sort.Ints(lines)
		for _, l := range lines {
			t.Errorf("README.md:%d: this ```go block does not compile or fails vet (it is the body of func main, or declarations, with imports added)", l)
		}
	}
}

func write(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
}
