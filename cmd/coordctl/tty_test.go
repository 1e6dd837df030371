package main

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord/zkwire"
	"github.com/creack/pty"
	"golang.org/x/term"
)

// ptyOutput collects what the shell writes to the terminal, and lets a
// test wait, with a deadline, for a condition on it.
type ptyOutput struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{} // closed and replaced at each write
}

func (o *ptyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// text is the output so far, without carriage returns.
func (o *ptyOutput) text() (string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.ReplaceAll(o.buf.String(), "\r", ""), o.changed
}

// await waits until cond holds for the output, failing t at the deadline.
func (o *ptyOutput) await(t *testing.T, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s, changed := o.text()
		if cond(s) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; terminal output:\n%q", what, s)
		}
	}
}

// TestTerminal drives the interactive shell through a pseudo-terminal:
// line editing, history recall with the up arrow, tab completion of
// command names and of znode paths (the children of the typed parent),
// and end of input with Ctrl-D.
func TestTerminal(t *testing.T) {
	addr := startCoord(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	out := &ptyOutput{changed: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				out.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	before, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- run([]string{"-server", addr}, tty, tty, tty) }()

	n := 0
	prompt := func(i int) string { return fmt.Sprintf("[zk: %s(CONNECTED) %d] ", addr, i) }
	// typeKeys waits for the next prompt (the editor is reading, in raw
	// mode), then types keys.
	typeKeys := func(keys string) {
		t.Helper()
		out.await(t, "prompt "+prompt(n), func(s string) bool { return strings.Contains(s, prompt(n)) })
		if _, err := ptmx.WriteString(keys); err != nil {
			t.Fatal(err)
		}
	}
	enter := func(keys string) { typeKeys(keys + "\r"); n++ }

	enter("create /alpha 1")
	enter("create /alpine 2")
	enter("create /beta 3")
	enter("create /alpha/child c")
	enter("get /beta")
	out.await(t, "get's output", func(s string) bool { return strings.Contains(s, "\n3\n") })

	// The up arrow twice recalls "create /alpha/child c", run as is.
	enter("\x1b[A\x1b[A")
	out.await(t, "the recalled command's error", func(s string) bool { return strings.Contains(s, "Node already exists: /alpha/child") })

	// Command completion: a unique prefix completes, with a space.
	enter("getAllCh\t/alpha")
	// Path completion: the children of the typed parent.
	enter("get /be\t")
	enter("get /alpha/ch\t")
	// Several candidates: completed to their common prefix, listed when
	// that adds nothing; then typed on.
	typeKeys("get /al\t")
	out.await(t, "the common prefix", func(s string) bool { return strings.HasSuffix(s, "get /alp") })
	if _, err := ptmx.WriteString("\t"); err != nil {
		t.Fatal(err)
	}
	out.await(t, "the candidates", func(s string) bool {
		return strings.Contains(s, prompt(n)+"get /alp\nalpha  alpine\n"+prompt(n)+"get /alp")
	})
	if _, err := ptmx.WriteString("ine\r"); err != nil {
		t.Fatal(err)
	}
	n++
	typeKeys("del\t")
	out.await(t, "the command candidates", func(s string) bool {
		return strings.Contains(s, prompt(n)+"del\ndelete  deleteall  delquota\n"+prompt(n)+"del")
	})
	if _, err := ptmx.WriteString("ete /alpine\r"); err != nil {
		t.Fatal(err)
	}
	n++
	// A watch event while a line is half typed: printed above it, the
	// prompt and the line drawn again.
	enter("get -w /beta")
	typeKeys("ls /al")
	out.await(t, "the half-typed line", func(s string) bool { return strings.HasSuffix(s, prompt(n)+"ls /al") })
	c, err := zkwire.Dial(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Set("/beta", []byte("4"), -1); err != nil {
		t.Fatal(err)
	}
	out.await(t, "the event", func(s string) bool {
		return strings.HasSuffix(s, "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/beta\n"+prompt(n)+"ls /al")
	})
	if _, err := ptmx.WriteString("pha\r"); err != nil {
		t.Fatal(err)
	}
	n++
	out.await(t, "ls's output", func(s string) bool { return strings.Contains(s, "\n[child]\n") })

	enter("history")
	want := strings.Join([]string{
		"3 - create /alpha/child c",
		"4 - get /beta",
		"5 - create /alpha/child c",
		"6 - getAllChildrenNumber /alpha",
		"7 - get /beta",
		"8 - get /alpha/child",
		"9 - get /alpine",
		"10 - delete /alpine",
		"11 - get -w /beta",
		"12 - ls /alpha",
		"13 - history",
	}, "\n") + "\n"
	out.await(t, "the history", func(s string) bool { return strings.Contains(s, want) })
	s, _ := out.text()
	for _, w := range []string{"\n1\n", "\n3\n", "\nc\n", "\n2\n"} { // getAllChildrenNumber /alpha prints 1
		if !strings.Contains(s, w) {
			t.Errorf("output lacks %q:\n%s", w, s)
		}
	}

	// Ctrl-D on an empty line ends the session; the terminal is restored.
	typeKeys("\x04")
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not exit on Ctrl-D")
	}
	if after, err := term.GetState(int(tty.Fd())); err != nil || !reflect.DeepEqual(before, after) {
		t.Errorf("the terminal's mode was not restored (%v)", err)
	}
	tty.Close()
	ptmx.Close()
	<-copied
}
