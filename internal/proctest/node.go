package proctest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// The node process. It opens a coord node from the JSON NodeConfig in
// $COORD_HELPER_CONFIG, prints "READY <id> <zxid>", then reads commands on
// stdin, one per line, until EOF (the parent died: it aborts) or "close".
//
// Lines it prints at any time:
//
//	ROLE <role>              whenever Node.Role changes (polled every 10ms)
//	TRY <path>               a writer is about to create path
//	ACK <path>               ... and the create was acknowledged
//	ERR <path> <error>       ... or failed (its fate may be unknown)
//	FAIL <reason>            a command failed; the parent's Await errors
//
// Commands and their replies:
//
//	write <prefix> <n>       n writers creating /w/<prefix>.<g>-<counter>,
//	                         data = path, sequentially each  -> WRITING
//	stopwrite                stop and close them              -> STOPPED <acks>
//	digest                                                    -> DIGEST <hex> <zxid>
//	dump <file>              Sync, list /w (checking each data = path) into
//	                         file -> DUMP <digest> <zxid> <digest> <zxid> <count> <bad>
//	                         (digest and zxid before and after the listing)
//	snapshot                 Node.Snapshot                    -> SNAPSHOT <ok|error>
//	eph <path> <timeout-ms>  a new session creates an ephemeral
//	                                                          -> EPH <path> <session timeout ms>
//	watch <path>             Sync, ExistsW on path            -> WATCHING <path> <exists>
//	                         and later EVENT <type> <path> <unix-ns>
//	benchprep <k> <tag>      k sessions, each with a 100-byte /bench/<tag>-<j>
//	                                                          -> PREPPED
//	bench <op> <n> <file>    n ops (setdata|getdata) over the k sessions, one
//	                         goroutine each; latencies (int64 ns, LE) to file
//	                                                          -> BENCHDONE <ns> <ops> <errors>
//	role                                                      -> ROLE <role>
//	close                    Node.Close, exit 0               -> CLOSED

// EnvHelper is set to "1" in the environment of node processes.
const EnvHelper = "COORD_HELPER_NODE"

const envConfig = "COORD_HELPER_CONFIG"

// NodeConfig is what the parent tells a node process.
type NodeConfig struct {
	ID                string
	BindAddr          string
	Peers             []coord.Peer
	DataDir           string
	ClientAddr        string
	TickTime          time.Duration
	ElectionTimeout   time.Duration
	MaxSessionTimeout time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	LogLevel          slog.Level
	// Gossip membership instead of (or besides) Peers.
	GossipAddr      string
	Join            []string
	BootstrapExpect int
}

// MaybeRunNode runs the node process and exits if this process is one
// (EnvHelper is set); otherwise it returns at once.
func MaybeRunNode() {
	if os.Getenv(EnvHelper) != "1" {
		return
	}
	os.Exit(runNode())
}

var outMu sync.Mutex

// out prints one line with one write(2).
func out(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	outMu.Lock()
	_, _ = os.Stdout.WriteString(line)
	outMu.Unlock()
}

type nodeProc struct {
	cfg NodeConfig
	n   *coord.Node
	ctl *coord.Session // syncs and reads; never writes after startup

	writers *writerSet
	ephs    []*coord.Session // kept alive until the process dies
	bench   []benchSession
}

type benchSession struct {
	s    *coord.Session
	path string
}

// nodeLifetime bounds a node process's life should its parent neither
// kill it nor close its stdin.
const nodeLifetime = 30 * time.Minute

// maxWritesPerWriter bounds each writer goroutine.
const maxWritesPerWriter = 10_000_000

func runNode() int {
	time.AfterFunc(nodeLifetime, func() {
		out("FAIL lifetime: exiting after %v", nodeLifetime)
		os.Exit(3)
	})
	var cfg NodeConfig
	if err := json.Unmarshal([]byte(os.Getenv(envConfig)), &cfg); err != nil {
		out("FAIL config: %v", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("node", cfg.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := coord.Open(ctx, coord.Config{
		NodeID:            cfg.ID,
		BindAddr:          cfg.BindAddr,
		Peers:             cfg.Peers,
		DataDir:           cfg.DataDir,
		TickTime:          cfg.TickTime,
		ElectionTimeout:   cfg.ElectionTimeout,
		MaxSessionTimeout: cfg.MaxSessionTimeout,
		SnapshotThreshold: cfg.SnapshotThreshold,
		TrailingLogs:      cfg.TrailingLogs,
		Logger:            logger,
		Gossip: coord.GossipConfig{
			Addr:            cfg.GossipAddr,
			Join:            cfg.Join,
			BootstrapExpect: cfg.BootstrapExpect,
		},
	})
	if err != nil {
		out("FAIL open: %v", err)
		return 1
	}
	var wire *zkserver.Server
	if cfg.ClientAddr != "" {
		wire, err = zkserver.Listen(cfg.ClientAddr, n, zkserver.Config{MaxClientCnxns: -1})
		if err != nil {
			out("FAIL client listener: %v", err)
			_ = n.Abort()
			return 1
		}
	}
	closeWire := func() {
		if wire != nil {
			wire.Close()
		}
	}
	ctl, err := n.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		out("FAIL session: %v", err)
		closeWire()
		_ = n.Abort()
		return 1
	}
	p := &nodeProc{cfg: cfg, n: n, ctl: ctl}
	_, zxid := n.Digest()
	out("READY %s %d", cfg.ID, zxid)

	stopRoles := make(chan struct{})
	go p.reportRoles(stopRoles)

	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "close" {
			close(stopRoles)
			p.stopWriters()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			closeWire()
			err := n.Close(ctx)
			cancel()
			out("CLOSED %v", err)
			return 0
		}
		if err := p.command(fields); err != nil {
			out("FAIL %s: %v", fields[0], err)
		}
	}
	// stdin closed: the parent is gone. Die as a crash would.
	closeWire()
	_ = n.Abort()
	return 0
}

func (p *nodeProc) reportRoles(stop <-chan struct{}) {
	last := ""
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if r := p.n.Role(); r != last {
			last = r
			out("ROLE %s", r)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func atoi(s string) (int, error) { return strconv.Atoi(s) }

func (p *nodeProc) command(f []string) error {
	args := f[1:]
	need := func(k int) error {
		if len(args) != k {
			return fmt.Errorf("want %d arguments, have %d", k, len(args))
		}
		return nil
	}
	switch f[0] {
	case "role":
		out("ROLE %s", p.n.Role())
	case "digest":
		d, z := p.n.Digest()
		out("DIGEST %x %d", d, z)
	case "write":
		if err := need(2); err != nil {
			return err
		}
		k, err := atoi(args[1])
		if err != nil || k < 1 || k > 64 {
			return fmt.Errorf("bad writer count %q", args[1])
		}
		if p.writers != nil {
			return errors.New("writers already running")
		}
		p.writers = startWriters(p, args[0], k)
		out("WRITING %s %d", args[0], k)
	case "stopwrite":
		acks := p.stopWriters()
		out("STOPPED %d", acks)
	case "dump":
		if err := need(1); err != nil {
			return err
		}
		return p.dump(args[0])
	case "snapshot":
		if err := p.n.Snapshot(); err != nil {
			out("SNAPSHOT %v", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			out("SNAPSHOT ok")
		}
	case "eph":
		if err := need(2); err != nil {
			return err
		}
		ms, err := atoi(args[1])
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := p.n.NewSession(ctx, coord.SessionConfig{Timeout: time.Duration(ms) * time.Millisecond})
		if err != nil {
			return err
		}
		if _, err := s.Create(ctx, args[0], nil, coord.Ephemeral, nil); err != nil {
			return err
		}
		p.ephs = append(p.ephs, s)
		out("EPH %s %d", args[0], s.Timeout().Milliseconds())
	case "watch":
		if err := need(1); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := p.ctl.Sync(ctx, "/"); err != nil {
			return err
		}
		ok, _, ch, err := p.ctl.ExistsW(ctx, args[0])
		if err != nil {
			return err
		}
		go func() {
			for ev := range ch {
				out("EVENT %s %s %d", ev.Type, ev.Path, time.Now().UnixNano())
			}
		}()
		out("WATCHING %s %v", args[0], ok)
	case "benchprep":
		if err := need(2); err != nil {
			return err
		}
		k, err := atoi(args[0])
		if err != nil || k < 1 || k > 1024 {
			return fmt.Errorf("bad session count %q", args[0])
		}
		return p.benchPrep(k, args[1])
	case "bench":
		if err := need(3); err != nil {
			return err
		}
		n, err := atoi(args[1])
		if err != nil || n < 0 {
			return fmt.Errorf("bad op count %q", args[1])
		}
		return p.runBench(args[0], n, args[2])
	default:
		return errors.New("unknown command")
	}
	return nil
}

// dump writes the children of /w to file, one name a line, sorted, after
// a Sync, and checks that each holds its own path as data.
func (p *nodeProc) dump(file string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := p.ctl.Sync(ctx, "/"); err != nil {
		return err
	}
	d1, z1 := p.n.Digest()
	names, _, err := p.ctl.GetChildren(ctx, "/w")
	if err != nil && !errors.Is(err, coord.ErrNoNode) {
		return err
	}
	bad := 0
	for _, name := range names {
		full := "/w/" + name
		data, _, err := p.ctl.GetData(ctx, full)
		if err != nil || string(data) != full {
			bad++
		}
	}
	d2, z2 := p.n.Digest()
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return err
	}
	out("DUMP %x %d %x %d %d %d", d1, z1, d2, z2, len(names), bad)
	return nil
}

// writerSet is the running writers of a process.
type writerSet struct {
	stop chan struct{}
	wg   sync.WaitGroup
	acks atomic.Int64
}

func startWriters(p *nodeProc, prefix string, k int) *writerSet {
	w := &writerSet{stop: make(chan struct{})}
	for g := 0; g < k; g++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(p, fmt.Sprintf("%s.%d", prefix, g))
		}()
	}
	return w
}

func (p *nodeProc) stopWriters() int64 {
	w := p.writers
	if w == nil {
		return 0
	}
	p.writers = nil
	close(w.stop)
	w.wg.Wait()
	return w.acks.Load()
}

func (w *writerSet) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// pause sleeps d unless the writers are stopped; it reports whether to go on.
func (w *writerSet) pause(d time.Duration) bool {
	select {
	case <-w.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// run creates /w/<name>-<counter> one after the other until stopped,
// printing TRY before each attempt and ACK after each success. A failed
// create is not retried under the same name: its fate may be unknown.
func (w *writerSet) run(p *nodeProc, name string) {
	var s *coord.Session
	defer func() {
		if s != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Close(ctx)
			cancel()
		}
	}()
	i := 0 // next counter
	for iter := 0; iter < maxWritesPerWriter && !w.stopped(); iter++ {
		if s == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var err error
			s, err = p.n.NewSession(ctx, coord.SessionConfig{})
			if err == nil {
				_, err = s.Create(ctx, "/w", nil, coord.Persistent, nil)
				if errors.Is(err, coord.ErrNodeExists) {
					err = nil
				}
			}
			cancel()
			if err != nil {
				out("ERR session %v", oneLine(err))
				s = nil
				if !w.pause(20 * time.Millisecond) {
					return
				}
				continue
			}
		}
		path := fmt.Sprintf("/w/%s-%06d", name, i)
		i++
		out("TRY %s", path)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.Create(ctx, path, []byte(path), coord.Persistent, nil)
		cancel()
		if err == nil {
			w.acks.Add(1)
			out("ACK %s", path)
			continue
		}
		out("ERR %s %v", path, oneLine(err))
		if errors.Is(err, coord.ErrSessionExpired) || errors.Is(err, coord.ErrSessionMoved) || errors.Is(err, coord.ErrClosed) {
			s = nil
		}
		if !w.pause(10 * time.Millisecond) {
			return
		}
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " | ") }

// benchPrep opens k sessions, each with a znode of 100 bytes of its own.
func (p *nodeProc) benchPrep(k int, tag string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.ctl.Create(ctx, "/bench", nil, coord.Persistent, nil); err != nil && !errors.Is(err, coord.ErrNodeExists) {
		return err
	}
	for j := 0; j < k; j++ {
		s, err := p.n.NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			return err
		}
		path := fmt.Sprintf("/bench/%s-%d", tag, j)
		if _, err := s.Create(ctx, path, make([]byte, 100), coord.Persistent, nil); err != nil {
			return err
		}
		p.bench = append(p.bench, benchSession{s, path})
	}
	out("PREPPED %d", len(p.bench))
	return nil
}

// runBench runs n operations spread over the prepared sessions, each
// session on its own goroutine issuing requests back to back.
func (p *nodeProc) runBench(op string, n int, file string) error {
	if len(p.bench) == 0 {
		return errors.New("benchprep first")
	}
	payload := make([]byte, 100)
	var do func(ctx context.Context, s *coord.Session, path string) error
	switch op {
	case "setdata":
		do = func(ctx context.Context, s *coord.Session, path string) error {
			_, err := s.SetData(ctx, path, payload, -1)
			return err
		}
	case "getdata":
		do = func(ctx context.Context, s *coord.Session, path string) error {
			_, _, err := s.GetData(ctx, path)
			return err
		}
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	k := len(p.bench)
	lats := make([][]time.Duration, k)
	var errs atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	for j := 0; j < k; j++ {
		count := n / k
		if j < n%k {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			bs := p.bench[j]
			l := make([]time.Duration, 0, count)
			for range count {
				t0 := time.Now()
				if err := do(ctx, bs.s, bs.path); err != nil {
					errs.Add(1)
					continue
				}
				l = append(l, time.Since(t0))
			}
			lats[j] = l
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var buf []byte
	total := 0
	for _, l := range lats {
		for _, d := range l {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
			total++
		}
	}
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		return err
	}
	out("BENCHDONE %d %d %d", elapsed.Nanoseconds(), total, errs.Load())
	return nil
}
