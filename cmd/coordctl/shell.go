package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coordkit/coord/zkwire"
)

// cliError is zkCli's CliException: a message for stderr and an exit code.
type cliError struct {
	msg  string
	code int
}

func (e *cliError) Error() string { return e.msg }

func cliErr(msg string) error { return &cliError{msg: msg, code: 1} }

// wrapErr is CliWrapperException: the readable message zkCli prints for a
// failed ZooKeeper call.
func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	var ce *cliError
	if errors.As(err, &ce) {
		return ce
	}
	var ke *zkwire.Error
	if !errors.As(err, &ke) {
		return cliErr(err.Error())
	}
	p := ke.Path
	if p == "" {
		p = "null"
	}
	switch ke.Code {
	case zkwire.CodeNoNode:
		return cliErr("Node does not exist: " + p)
	case zkwire.CodeNoChildrenForEphemerals:
		return cliErr("Ephemerals cannot have children: " + p)
	case zkwire.CodeNodeExists:
		return cliErr("Node already exists: " + p)
	case zkwire.CodeNotEmpty:
		return cliErr("Node not empty: " + p)
	case zkwire.CodeNotReadOnly:
		return cliErr("Not a read-only call: " + p)
	case zkwire.CodeInvalidACL:
		return cliErr("Acl is not valid : " + p)
	case zkwire.CodeNoAuth:
		return cliErr("Insufficient permission : " + p)
	case zkwire.CodeBadArguments:
		return cliErr("Arguments are not valid : " + p)
	case zkwire.CodeBadVersion:
		return cliErr("version No is not valid : " + p)
	case zkwire.CodeReconfigInProgress:
		return cliErr("Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)")
	case zkwire.CodeNewConfigNoQuorum:
		return cliErr("No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced")
	case zkwire.CodeQuotaExceeded:
		return cliErr("Quota has exceeded : " + p)
	}
	return cliErr(ke.Error())
}

// shell is the zkCli state: one session, the history, the watch printing
// switch and the exit code of the last command.
type shell struct {
	out, errw io.Writer

	server   string
	timeout  time.Duration
	readOnly bool

	zk     *zkConn
	host   string
	events <-chan zkwire.Event
	seen   uint64 // events taken from the current client's channel

	history      map[int]string
	count        int
	printWatches bool
	exitCode     int
	quit         bool
}

// usageHeader heads the help command's listing, as zkCli's "ZooKeeper
// -server host:port ..." line does; it names every flag.
const usageHeader = "coordctl [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [-waitforconnection] [-client-configuration file] [cmd args]"

// flagUsage describes the flags, for -h and flag errors.
const flagUsage = `flags:
  -server host:port[,host:port...][/chroot]
        the servers to connect to, tried in order; with /chroot the paths
        typed and printed are relative to it (default localhost:2181; a
        host without a port means 2181)
  -timeout ms
        session timeout in milliseconds (default 30000)
  -r
        ask for a read-only session
  -waitforconnection
        wait for the connection before running the command (coordctl
        always does; accepted for zkCli compatibility)
  -client-configuration file
        a ZooKeeper client properties file (accepted for zkCli
        compatibility and ignored)
  -h, -help
        print this help on standard output and exit
With a command, coordctl runs it and exits with its code (0; 1 when it
fails; 127 for an unknown command). Without one it reads commands from
standard input, with line editing, history and tab completion when that
is a terminal.
`

// printFlagUsage writes the synopsis, the flags and the commands.
func (s *shell) printFlagUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: "+usageHeader)
	fmt.Fprint(w, flagUsage)
	fmt.Fprintln(w, "commands:")
	s.listCommands(w)
}

func newShell(stdout, stderr io.Writer) *shell {
	return &shell{
		out:          stdout,
		errw:         stderr,
		server:       "localhost:2181",
		timeout:      30 * time.Second,
		history:      map[int]string{},
		printWatches: true,
	}
}

// run is coordctl's main: options as zkCli's (-server, -timeout, -r,
// -waitforconnection, -client-configuration) and -h, then either a command
// to run once or, with none, an interactive session on stdin. It returns
// the exit code: 2 for a bad option (reported on stderr with the usage).
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := newShell(stdout, stderr)
	var cmd []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		needArg := func() (string, bool) {
			if i+1 >= len(argv) {
				fmt.Fprintln(stderr, "Error: no argument found for option "+a)
				s.printFlagUsage(stderr)
				return "", false
			}
			i++
			return argv[i], true
		}
		switch a {
		case "-server":
			v, ok := needArg()
			if !ok {
				return 2
			}
			s.server = v
		case "-timeout":
			v, ok := needArg()
			if !ok {
				return 2
			}
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				fmt.Fprintln(stderr, "Error: -timeout needs a positive number of milliseconds, got "+v)
				s.printFlagUsage(stderr)
				return 2
			}
			s.timeout = time.Duration(ms) * time.Millisecond
		case "-r":
			s.readOnly = true
		case "-waitforconnection":
			// Connecting always waits here.
		case "-client-configuration":
			if _, ok := needArg(); !ok {
				return 2
			}
			fmt.Fprintln(stderr, "coordctl: -client-configuration is ignored")
		case "-h", "-help", "--help":
			s.printFlagUsage(stdout)
			return 0
		default:
			if strings.HasPrefix(a, "-") {
				fmt.Fprintln(stderr, "Error: unknown option "+a)
				s.printFlagUsage(stderr)
				return 2
			}
			cmd = argv[i:]
			i = len(argv)
		}
	}
	if cmd != nil {
		return s.oneShot(cmd)
	}
	return s.interactive(stdin)
}

// oneShot runs one command and returns its exit code. Unlike zkCli it
// prints neither the "Connecting to" banner nor watch events, so its
// output is the command's alone; a server it cannot reach is an error.
func (s *shell) oneShot(args []string) int {
	s.printWatches = false
	if err := s.connect(s.server); err != nil {
		return 1
	}
	s.processCmd(args)
	if s.zk != nil {
		s.zk.Close()
	}
	return s.exitCode
}

func (s *shell) interactive(stdin io.Reader) int {
	fmt.Fprintln(s.out, "Connecting to "+s.server)
	s.connect(s.server)
	fmt.Fprintln(s.out, "Welcome to ZooKeeper!")

	var lines <-chan string
	var tty *ttyInput
	if t := newTTYInput(stdin, s.out, s); t != nil {
		// A terminal: line editing, history and completion.
		tty = t
		defer tty.close()
		lines = tty.lines
	} else {
		ch := make(chan string)
		stop := make(chan struct{})
		defer close(stop)
		go readLines(stdin, ch, stop)
		lines = ch
	}

	for !s.quit {
		s.flushEvents()
		if tty != nil {
			tty.read(s.promptString())
		} else {
			s.prompt()
		}
		line, ok := s.nextLine(lines, tty)
		if !ok {
			if tty != nil {
				fmt.Fprintln(s.out)
			}
			break
		}
		s.executeLine(line)
	}
	if s.zk != nil && !s.quit {
		// End of input: end the session quietly (zkCli leaves it to expire).
		s.printWatches = false
		s.zk.Close()
	}
	return s.exitCode
}

// nextLine waits for a line of input, printing watch events that arrive
// meanwhile: on a terminal through its line editor (which redraws the
// prompt and the line being typed), else followed by the prompt again.
func (s *shell) nextLine(lines <-chan string, tty *ttyInput) (string, bool) {
	for {
		select {
		case l, ok := <-lines:
			return l, ok
		case ev, ok := <-s.events:
			if !ok {
				s.events = nil
				continue
			}
			s.seen++
			if tty != nil {
				s.printEventTo(tty.term, ev)
			} else if s.printEvent(ev) {
				s.prompt()
			}
		}
	}
}

func readLines(r io.Reader, lines chan<- string, stop <-chan struct{}) {
	defer close(lines)
	br := bufio.NewReader(r)
	for {
		l, err := br.ReadString('\n')
		if l != "" || err == nil {
			l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
			select {
			case lines <- l:
			case <-stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *shell) state() string {
	if s.zk == nil {
		return zkwire.ConnNotConnected.String()
	}
	return s.zk.State().String()
}

func (s *shell) alive() bool { return s.zk != nil && s.zk.State() == zkwire.ConnConnected }

func (s *shell) prompt() { fmt.Fprint(s.out, s.promptString()) }

// promptString is zkCli's prompt: "[zk: host:port(CONNECTED) 3] ".
func (s *shell) promptString() string {
	return fmt.Sprintf("[zk: %s(%s) %d] ", s.host, s.state(), s.count)
}

// printEvent prints a watch event as zkCli's watcher does; it reports
// whether anything was printed.
func (s *shell) printEvent(ev zkwire.Event) bool { return s.printEventTo(s.out, ev) }

func (s *shell) printEventTo(w io.Writer, ev zkwire.Event) bool {
	if !s.printWatches {
		return false
	}
	ev.Path = s.zk.eventPath(ev.Path)
	fmt.Fprintf(w, "\nWATCHER::\n\n%s\n", ev)
	return true
}

// flushEvents prints every event the client has received so far. Servers
// send a notification before the reply of the request that caused it, so
// after a command this prints exactly the events the command triggered
// (and any that arrived on their own before), in order.
func (s *shell) flushEvents() {
	if s.zk == nil {
		return
	}
	for target := s.zk.EventCount(); s.seen < target && s.events != nil; {
		ev, ok := <-s.events
		if !ok {
			s.events = nil
			return
		}
		s.seen++
		s.printEvent(ev)
	}
}

// connect closes the current session, if any, and opens one to host, a
// comma-separated list of host:port tried in order.
func (s *shell) connect(host string) error {
	if s.zk != nil {
		if s.alive() {
			s.zk.Close()
		}
		s.flushEvents()
		s.zk, s.events, s.seen = nil, nil, 0
	}
	s.host = host
	cs, err := parseConnectString(host)
	if err != nil {
		fmt.Fprintf(s.errw, "Unable to connect to %s: %v\n", host, err)
		return err
	}
	for _, h := range cs.hosts {
		var c *zkwire.Client
		c, err = zkwire.DialConfig(context.Background(), h, zkwire.ClientConfig{
			SessionTimeout: s.timeout,
			ReadOnly:       s.readOnly,
			DialTimeout:    min(s.timeout, 10*time.Second),
		})
		if err == nil {
			s.zk, s.events, s.seen = &zkConn{Client: c, chroot: cs.chroot}, c.Events(), 0
			return nil
		}
	}
	fmt.Fprintf(s.errw, "Unable to connect to %s: %v\n", host, err)
	return err
}

// executeLine runs one line of interactive input: it is split into words,
// recorded in the history and run.
func (s *shell) executeLine(line string) {
	args := splitCommand(line)
	if len(args) == 0 {
		return
	}
	s.history[s.count] = line
	s.processCmd(args)
	s.count++
}

// processCmd runs a command and records its exit code; errors go to
// stderr, as in zkCli.
func (s *shell) processCmd(args []string) {
	err := s.processZKCmd(args)
	var ce *cliError
	switch {
	case err == nil:
		if !s.quit {
			s.exitCode = 0
		}
	case errors.As(err, &ce):
		s.exitCode = ce.code
		fmt.Fprintln(s.errw, ce.msg)
	default:
		s.exitCode = 1
		fmt.Fprintln(s.errw, err.Error())
	}
}

func (s *shell) processZKCmd(args []string) error {
	cmd := args[0]
	c := commands[cmd]
	if c == nil && !shellCommands[cmd] {
		s.usage(s.errw)
		return &cliError{msg: "Command not found: Command not found " + cmd, code: 127}
	}
	switch cmd {
	case "quit":
		if s.zk != nil && s.alive() {
			s.zk.Close()
		}
		s.flushEvents()
		s.quit = true
		return nil
	case "help":
		s.usage(s.out)
		return nil
	case "redo":
		if len(args) >= 2 {
			i, err := strconv.ParseInt(args[1], 0, 32)
			if err != nil || int(i) >= s.count || i < 0 {
				return cliErr("Command index out of range")
			}
			redo := splitCommand(s.history[int(i)])
			if len(redo) == 0 || redo[0] == "redo" {
				return cliErr("No redoing redos")
			}
			s.history[s.count] = s.history[int(i)]
			s.processCmd(redo)
		}
	case "history":
		for i := s.count - 10; i <= s.count; i++ {
			if i < 0 {
				continue
			}
			fmt.Fprintf(s.out, "%d - %s\n", i, s.history[i])
		}
	case "printwatches":
		if len(args) == 1 {
			state := "off"
			if s.printWatches {
				state = "on"
			}
			fmt.Fprintln(s.out, "printwatches is "+state)
		} else {
			s.printWatches = args[1] == "on"
		}
	case "connect":
		host := s.host
		if len(args) >= 2 {
			host = args[1]
		}
		s.connect(host)
	}
	// Everything below needs a live session.
	if !s.alive() {
		fmt.Fprintln(s.out, "Not connected")
		return nil
	}
	if c == nil {
		return nil
	}
	return c.run(c, s, args)
}

// usage lists the commands as zkCli's usage() does.
func (s *shell) usage(w io.Writer) {
	fmt.Fprintln(w, usageHeader)
	s.listCommands(w)
}

// listCommands writes a tab-indented line per command, sorted.
func (s *shell) listCommands(w io.Writer) {
	all := map[string]string{}
	for name, c := range commands {
		all[name] = c.usage
	}
	for name := range shellCommands {
		all[name] = shellUsage[name]
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "\t%s %s\n", n, all[n])
	}
}

// shellCommands are handled by the shell itself, as in ZooKeeperMain.
var shellCommands = map[string]bool{
	"connect": true, "history": true, "redo": true, "printwatches": true, "quit": true, "help": true,
}

var shellUsage = map[string]string{
	"connect": "host:port", "history": "", "redo": "cmdno", "printwatches": "on|off", "quit": "", "help": "",
}
