// Package proctest runs coord nodes as separate OS processes for tests and
// benchmarks that need real process boundaries: SIGKILL at any instant,
// restart on the same DataDir, loopback TCP between nodes.
//
// The test binary re-executes itself as the node process (the classic
// os/exec helper-process pattern): a test named by HelperTest calls
// MaybeRunNode first thing, which does nothing in the parent and never
// returns in a child.
//
//	func TestHelperNodeProcess(t *testing.T) { proctest.MaybeRunNode() }
//
// Parent and child talk in lines: the parent writes commands on the
// child's stdin, the child answers and reports on its stdout (see node.go
// for the protocol). Every line the child prints is one write(2), so what a
// child printed before it was killed is still read by the parent.
package proctest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proc is one child process speaking the line protocol.
type Proc struct {
	Name string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer
	hook   func(line string) bool
	done   chan struct{} // closed once stdout hit EOF and the process was reaped

	mu      sync.Mutex
	lines   []string      // lines the hook did not consume; guarded by mu
	next    int           // Await's cursor into lines; guarded by mu
	changed chan struct{} // closed and replaced on every new line or EOF; guarded by mu
	eof     bool          // guarded by mu
	waitErr error         // guarded by mu
	sendMu  sync.Mutex
}

// ProcOptions start a Proc.
type ProcOptions struct {
	Name string
	Args []string // arguments after the binary (os.Args[0])
	Env  []string // added to the parent's environment
	// Hook, if set, sees every stdout line first (on the reader goroutine);
	// lines it returns true for are consumed and not kept for Await.
	Hook func(line string) bool
}

// StartProc starts os.Args[0] with opts. The process is killed at t's
// cleanup if still running.
func StartProc(t testing.TB, opts ProcOptions) (*Proc, error) {
	cmd := exec.Command(os.Args[0], opts.Args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	setSysProcAttr(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Proc{
		Name:    opts.Name,
		cmd:     cmd,
		stdin:   stdin,
		stderr:  newTailBuffer(64 << 10),
		hook:    opts.Hook,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go p.readLoop(stdout)
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			if tail := p.StderrTail(); tail != "" {
				t.Logf("%s stderr (tail):\n%s", p.Name, tail)
			}
		}
	})
	return p, nil
}

func (p *Proc) readLoop(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p.hook != nil && p.hook(line) {
			continue
		}
		p.mu.Lock()
		p.lines = append(p.lines, line)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	// Drain whatever is left so the child never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, stdout)
	err := p.cmd.Wait()
	p.mu.Lock()
	p.eof = true
	p.waitErr = err
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	close(p.done)
}

// Send writes one command line to the child.
func (p *Proc) Send(format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	if strings.ContainsAny(line, "\n") {
		return fmt.Errorf("proctest: command %q has a newline", line)
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// Await returns the next line (after the previous Await's match) that
// starts with prefix, skipping others, waiting at most timeout. Lines
// starting with "FAIL " end the wait with an error.
func (p *Proc) Await(prefix string, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for p.next < len(p.lines) {
			l := p.lines[p.next]
			p.next++
			if strings.HasPrefix(l, prefix) {
				p.mu.Unlock()
				return l, nil
			}
			if strings.HasPrefix(l, "FAIL ") {
				p.mu.Unlock()
				return "", fmt.Errorf("%s: %s", p.Name, l)
			}
		}
		if p.eof {
			err := p.waitErr
			p.mu.Unlock()
			return "", fmt.Errorf("%s exited (%v) before %q", p.Name, err, prefix)
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return "", fmt.Errorf("%s: no %q line within %v", p.Name, prefix, timeout)
		}
	}
}

// Call sends a command and awaits the reply line starting with prefix.
func (p *Proc) Call(prefix string, timeout time.Duration, format string, args ...any) (string, error) {
	if err := p.Send(format, args...); err != nil {
		return "", fmt.Errorf("%s: send: %w", p.Name, err)
	}
	return p.Await(prefix, timeout)
}

// Kill sends SIGKILL (if the process still runs) and waits until it has
// been reaped and everything it printed has been read.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		// The reader is stuck: a grandchild holds stdout. Nothing more to do.
	}
}

// Done is closed once the process has exited and its output was read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// StderrTail returns the last 64 KiB the process wrote to stderr.
func (p *Proc) StderrTail() string { return p.stderr.String() }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}
