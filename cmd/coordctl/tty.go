package main

import (
	"errors"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"
)

// ttyInput reads interactive lines from a terminal with golang.org/x/term's
// line editor: cursor movement and editing keys, history recalled with the
// up and down arrows, and tab completion of command names and znode paths
// (as zkCli's JLine completer). The terminal is in raw mode only while a
// line is being read; commands print in its normal mode.
type ttyInput struct {
	fd    int
	term  *term.Terminal
	reqs  chan string // a prompt: read one line with it
	lines chan string // closed at end of input (Ctrl-D, Ctrl-C)
	done  chan struct{}

	prompt string // the current line's; only the reading goroutine uses it
}

// newTTYInput returns a ttyInput when stdin and stdout are both terminals
// (the editor echoes and redraws on stdout), else nil.
func newTTYInput(stdin io.Reader, stdout io.Writer, s *shell) *ttyInput {
	in, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	out, ok := stdout.(*os.File)
	if !ok || !term.IsTerminal(int(out.Fd())) {
		return nil
	}
	t := &ttyInput{
		fd: int(in.Fd()),
		term: term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{in, out}, ""),
		reqs:  make(chan string),
		lines: make(chan string),
		done:  make(chan struct{}),
	}
	if w, h, err := term.GetSize(int(out.Fd())); err == nil && w > 0 && h > 0 {
		t.term.SetSize(w, h)
	}
	t.term.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		if key != '\t' {
			return "", 0, false
		}
		return s.complete(t.term, t.prompt+line, line, pos)
	}
	go t.loop()
	return t
}

// read asks for the next line, to be shown after prompt.
func (t *ttyInput) read(prompt string) { t.reqs <- prompt }

func (t *ttyInput) loop() {
	defer close(t.done)
	defer close(t.lines)
	for prompt := range t.reqs {
		old, err := term.MakeRaw(t.fd)
		if err != nil {
			return
		}
		t.prompt = prompt
		t.term.SetPrompt(prompt)
		line, err := t.term.ReadLine()
		term.Restore(t.fd, old)
		if err != nil && !errors.Is(err, term.ErrPasteIndicator) {
			return // io.EOF: Ctrl-D on an empty line, or Ctrl-C
		}
		t.lines <- line
	}
}

// close ends the reader; it is not reading (the shell only stops between
// lines), so the terminal is in its normal mode.
func (t *ttyInput) close() {
	close(t.reqs)
	<-t.done
}

// complete is the tab key: zkCli's JLineZNodeCompletor chooses the
// candidates for the word before the cursor (znodes when it starts with
// "/": the children of its parent that start with its last part; command
// names otherwise). One candidate replaces the word (a command then gets
// a space); several extend it to their common prefix, or, when that adds
// nothing, are listed under the line as typed (echo), which the editor
// then draws again.
func (s *shell) complete(w io.Writer, echo, line string, pos int) (string, int, bool) {
	buf := line[:pos]
	start := strings.LastIndexByte(buf, ' ') + 1
	token := buf[start:]
	var cands []string
	isPath := strings.HasPrefix(token, "/")
	if isPath {
		slash := strings.LastIndexByte(token, '/')
		dir, prefix := token[:slash], token[slash+1:]
		if dir == "" {
			dir = "/"
		}
		if s.zk == nil || !s.alive() {
			return "", 0, false
		}
		children, _, err := s.zk.Children(dir, false)
		if err != nil {
			return "", 0, false
		}
		for _, c := range children {
			if strings.HasPrefix(c, prefix) {
				cands = append(cands, c)
			}
		}
		start += slash + 1
		token = prefix
	} else {
		for _, c := range commandNames() {
			if strings.HasPrefix(c, token) {
				cands = append(cands, c)
			}
		}
	}
	sort.Strings(cands)
	replace := func(with string) (string, int, bool) {
		nl := line[:start] + with + line[pos:]
		return nl, start + len(with), true
	}
	switch {
	case len(cands) == 0:
		return "", 0, false
	case len(cands) == 1:
		if isPath {
			return replace(cands[0])
		}
		return replace(cands[0] + " ")
	}
	if p := commonPrefix(cands); len(p) > len(token) {
		return replace(p)
	}
	io.WriteString(w, echo+"\n"+strings.Join(cands, "  ")+"\n")
	return "", 0, false
}

func commonPrefix(ss []string) string {
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

// commandNames lists every command, sorted.
func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	for n := range shellCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
