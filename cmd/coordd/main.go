// Command coordd runs a coord node as a standalone daemon that speaks
// ZooKeeper's client protocol, configured like Apache ZooKeeper.
//
// Usage:
//
//	coordd [flags] [zoo.cfg]          run a node (like QuorumPeerMain zoo.cfg)
//	coordd status [flags] [zoo.cfg]   print "Mode: ..." like zkServer.sh status
//	coordd keygen                     print a new cluster key (base64)
//	coordd -version
//
// With no zoo.cfg and no flags, coordd serves a single durable node on
// 127.0.0.1:2181 with its data in ./coord-data.
//
// A zoo.cfg is read as ZooKeeper reads it: tickTime, dataDir, clientPort,
// clientPortAddress, initLimit/syncLimit, server.N= lines with the myid file
// in dataDir, maxClientCnxns, min/maxSessionTimeout, 4lw.commands.whitelist,
// and the settings ZooKeeper takes as Java system properties
// (zookeeper.DigestAuthenticationProvider.superDigest, jute.maxbuffer,
// znode.container.checkIntervalMs, zookeeper.extendedTypesEnabled, ...)
// either as keys of the file or as -Dkey=value arguments. What differs:
//
//   - coord uses one cluster port per server: server.N=host:peerPort:electionPort
//     makes host:peerPort the node's raft and RPC address; the election port
//     is ignored.
//   - dataLogDir is accepted but ignored: the raft log (badger) and the
//     snapshots live in dataDir.
//   - The raft election timeout is syncLimit×tickTime clamped to [50ms, 1s]
//     (coord.electionTimeoutMs sets it exactly); initLimit is accepted and
//     ignored.
//   - Observers (server.N=…:observer) are raft non-voters; reconfig is answered
//     ReconfigDisabled. TTL and container nodes are always on.
//   - secureClientPort serves TLS with PEM key and trust stores only
//     (clientport.go lists the ssl.* keys and what is refused).
//   - The cluster port is secured by coord.clusterKeyFile (a base64 key from
//     coordd keygen; -cluster-key-file) or by sslQuorum=true with PEM
//     ssl.quorum.keyStore/trustStore files; quorum SASL is refused. Without
//     either, an ensemble logs that its cluster port is unauthenticated.
//   - metricsProvider.* serves Prometheus /metrics (coord's metrics, with
//     ZooKeeper's names where it has them); admin.* serves ZooKeeper's
//     AdminServer commands with /healthz and /readyz, on 127.0.0.1 unless
//     admin.serverAddress is set, and only when configured.
//   - coord.gossipAddress, coord.clusterAddress, coord.join,
//     coord.bootstrapExpect, coord.voters, coord.clusterName,
//     coord.advertiseAddress and coord.nodeId form the ensemble by gossip
//     instead of server.N lines (flags -gossip-addr, -cluster-addr, -join,
//     -bootstrap-expect, -voters, -cluster-name, -advertise-addr, -id).
//
// Unknown keys are logged as warnings. SIGTERM or SIGINT closes the node
// cleanly (its sessions are closed and leadership is handed over); a second
// signal aborts at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coordkit/coord"
)

// Defaults when coordd runs without a zoo.cfg.
const (
	defaultClientAddr = "127.0.0.1:2181"
	defaultDataDir    = "coord-data"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are coordd's command-line settings.
type options struct {
	fs *flag.FlagSet

	clientAddr      string
	dataDir         string
	id              string
	bind            string
	peers           string
	tickTime        time.Duration
	electionTimeout time.Duration
	maxClientCnxns  int
	fourLetter      string
	superDigest     string
	logLevel        string
	version         bool
	closeTimeout    time.Duration
	debugAddr       string
	clusterKeyFile  string
	logFormat       string
	metricsAddr     string
	adminAddr       string

	// Membership by gossip (coord.* keys).
	clusterAddr     string
	advertiseAddr   string
	gossipAddr      string
	join            string
	bootstrapExpect int
	voters          int
	clusterName     string

	props []property // -Dkey=value
	set   map[string]bool
}

func newOptions(name string, stderr io.Writer) *options {
	o := &options{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := o.fs
	fs.SetOutput(stderr)
	fs.StringVar(&o.clientAddr, "client-addr", defaultClientAddr, "`host:port` for ZooKeeper clients (overrides clientPortAddress/clientPort)")
	fs.StringVar(&o.dataDir, "data-dir", defaultDataDir, "data `directory` (overrides dataDir); empty: in memory")
	fs.StringVar(&o.id, "id", "", "this server's `id` (overrides the myid file)")
	fs.StringVar(&o.bind, "bind", "", "cluster `host:port` of this server (raft and RPC); default: its entry in -peers")
	fs.StringVar(&o.peers, "peers", "", "ensemble members `id=host:port,...`, this server included (overrides server.N lines)")
	fs.DurationVar(&o.tickTime, "tick-time", 2*time.Second, "ZooKeeper tick (overrides tickTime)")
	fs.DurationVar(&o.electionTimeout, "election-timeout", 0, "raft election timeout (default: syncLimit×tickTime clamped to [50ms, 1s])")
	fs.IntVar(&o.maxClientCnxns, "max-client-cnxns", defaultMaxClientCnxns, "connections per client IP, 0 = unlimited (overrides maxClientCnxns)")
	fs.StringVar(&o.fourLetter, "4lw", "", "four-letter word whitelist, comma-separated, * for all (overrides 4lw.commands.whitelist)")
	fs.StringVar(&o.superDigest, "super-digest", "", "super user digest `super:base64(sha1)`")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.DurationVar(&o.closeTimeout, "close-timeout", 10*time.Second, "how long a clean shutdown may take")
	fs.StringVar(&o.clusterKeyFile, "cluster-key-file", "", "`file` holding the base64 cluster key that authenticates and encrypts the cluster port (overrides coord.clusterKeyFile; coordd keygen prints one)")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "serve Go's /debug/pprof, /metrics, /healthz, /readyz and the admin commands on this `host:port` (e.g. 127.0.0.1:6060)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this `host:port` (overrides metricsProvider.httpHost/httpPort)")
	fs.StringVar(&o.adminAddr, "admin-addr", "", "serve the AdminServer, /healthz and /readyz on this `host:port` (overrides admin.serverAddress/serverPort)")
	fs.StringVar(&o.clusterAddr, "cluster-addr", "", "this node's cluster `host:port` with gossip (coord.clusterAddress)")
	fs.StringVar(&o.advertiseAddr, "advertise-addr", "", "cluster `host:port` gossiped to others when -cluster-addr is not dialable (coord.advertiseAddress)")
	fs.StringVar(&o.gossipAddr, "gossip-addr", "", "form the ensemble by gossip on this `host:port` (coord.gossipAddress)")
	fs.StringVar(&o.join, "join", "", "gossip `addresses` of members to join, comma-separated (coord.join)")
	fs.IntVar(&o.bootstrapExpect, "bootstrap-expect", 0, "members a new gossip cluster waits for before it bootstraps (coord.bootstrapExpect)")
	fs.IntVar(&o.voters, "voters", 0, "voting members of a gossip cluster, odd; the rest are observers; 0 = 3 (coord.voters)")
	fs.StringVar(&o.clusterName, "cluster-name", "", "gossip cluster name (coord.clusterName)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: coordd [flags] [zoo.cfg]
       coordd status [flags] [zoo.cfg]
       coordd keygen                 print a new cluster key
       coordd snapshot inspect FILE
       coordd snapshot restore FILE -data-dir DIR [-id N] [flags] [zoo.cfg]
       coordd import-zk ZK_DATA_DIR -data-dir DIR [-id N] [flags] [zoo.cfg]
       coordd -version

Java-style -Dkey=value arguments set ZooKeeper system properties
(e.g. -Dzookeeper.DigestAuthenticationProvider.superDigest=super:...).

flags:
`)
		fs.PrintDefaults()
	}
	return o
}

// helpTo sends the usage to w when args ask for it (-h, -help, --help):
// asked-for help goes to standard output with exit status 0, as coordctl
// does; a flag error prints it to standard error with status 2.
func (o *options) helpTo(args []string, w io.Writer) {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			o.fs.SetOutput(w)
			return
		}
	}
}

// parse separates -Dkey=value properties from the flags, then parses the
// flags and returns the positional arguments.
func (o *options) parse(args []string) ([]string, error) {
	var rest []string
	for _, a := range args {
		if strings.HasPrefix(a, "-D") && strings.Contains(a, "=") {
			k, v, _ := strings.Cut(a[2:], "=")
			o.props = append(o.props, property{key: k, value: v, where: "-D"})
			continue
		}
		rest = append(rest, a)
	}
	// Let flags follow the zoo.cfg path too (flag stops at the first
	// positional argument).
	var positional []string
	for {
		if err := o.fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = o.fs.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	o.set = map[string]bool{}
	o.fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	return positional, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return runStatus(args[1:], stdout, stderr)
		case "snapshot":
			return runSnapshot(args[1:], stdout, stderr)
		case "import-zk":
			return runImportZK(args[1:], stdout, stderr)
		}
	}
	if len(args) > 0 && args[0] == "keygen" {
		// A new cluster key, for coord.clusterKeyFile.
		fmt.Fprintln(stdout, coord.EncodeClusterKey(coord.NewClusterKey()))
		return 0
	}
	o := newOptions("coordd", stderr)
	o.helpTo(args, stdout)
	pos, err := o.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "coordd: want at most one zoo.cfg, got %q\n", pos)
		return 2
	}
	level, err := parseLevel(o.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "coordd: %v\n", err)
		return 2
	}
	logger, err := newLogger(stderr, o.logFormat, level)
	if err != nil {
		fmt.Fprintf(stderr, "coordd: %v\n", err)
		return 2
	}

	cfgPath := ""
	if len(pos) == 1 {
		cfgPath = pos[0]
	}
	cfg, err := o.config(cfgPath, logger)
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		return 2
	}
	mon := newMonitor(logger)
	defer mon.close()
	if err := mon.listen(cfg, o.debugAddr); err != nil {
		logger.Error("cannot start", "err", err)
		return 2
	}
	return serve(ctx, cfg, o.closeTimeout, logger, mon)
}

// config builds the node's Config from the zoo.cfg (if any), the -D
// properties and the flags, in rising order of precedence. Everything goes
// through zooConfig so that both ways of configuring get the same checks.
func (o *options) config(cfgPath string, logger *slog.Logger) (daemonConfig, error) {
	var zc *zooConfig
	var err error
	if cfgPath != "" {
		zc, err = loadZooConfig(cfgPath, o.props)
		if err != nil {
			return daemonConfig{}, err
		}
	} else {
		// No file: coordd's defaults, then any -D properties.
		if zc, err = parseZooConfig(o.props); err != nil {
			return daemonConfig{}, err
		}
		if zc.TickTime == 0 {
			zc.TickTime = o.tickTime
		}
		if zc.DataDir == "" {
			zc.DataDir = o.dataDir
		}
		zc.clientAddr = o.clientAddr
		zc.dataDirOptional = true
	}
	if o.set["id"] {
		zc.MyID = o.id
	}
	if o.set["data-dir"] {
		zc.DataDir = o.dataDir
		zc.dataDirOptional = true
	}
	if o.set["tick-time"] {
		zc.TickTime = o.tickTime
	}
	if o.set["client-addr"] {
		zc.clientAddr = o.clientAddr
	}
	if o.set["election-timeout"] {
		zc.ElectionTimeout = o.electionTimeout
	}
	if o.set["max-client-cnxns"] {
		zc.MaxClientCnxns = o.maxClientCnxns
	}
	if o.set["4lw"] {
		zc.FourLetterWords = splitList(o.fourLetter)
	}
	if o.set["super-digest"] {
		zc.SuperDigest = o.superDigest
	}
	if o.set["cluster-key-file"] {
		zc.Quorum.ClusterKeyFile = o.clusterKeyFile
	}
	if o.set["peers"] {
		if zc.Servers, err = parsePeers(o.peers); err != nil {
			return daemonConfig{}, err
		}
	}
	if o.set["cluster-addr"] {
		zc.ClusterAddr = o.clusterAddr
	}
	if o.set["advertise-addr"] {
		zc.AdvertiseAddr = o.advertiseAddr
	}
	if o.set["gossip-addr"] {
		zc.GossipAddr = o.gossipAddr
	}
	if o.set["join"] {
		zc.Join = splitList(o.join)
	}
	if o.set["bootstrap-expect"] {
		zc.BootstrapExpect = o.bootstrapExpect
	}
	if o.set["voters"] {
		zc.Voters = o.voters
	}
	if o.set["cluster-name"] {
		zc.ClusterName = o.clusterName
	}
	cfg, err := zc.coordConfig()
	if err != nil {
		return cfg, err
	}
	if o.set["bind"] {
		if len(cfg.Peers) == 0 {
			return cfg, fmt.Errorf("-bind needs an ensemble (-peers or server.N lines)")
		}
		cfg.BindAddr = o.bind
	}
	if o.set["metrics-addr"] {
		cfg.MetricsAddr = o.metricsAddr
	}
	if o.set["admin-addr"] {
		cfg.AdminAddr = o.adminAddr
	}
	for _, m := range zc.Infos {
		logger.Info(m)
	}
	for _, m := range zc.Warnings {
		logger.Warn(m)
	}
	cfg.Logger = logger
	return cfg, nil
}

// parsePeers reads "1=host:port,2=host:port" into server lines.
func parsePeers(s string) ([]zooServer, error) {
	var out []zooServer
	for _, item := range splitList(s) {
		id, addr, ok := strings.Cut(item, "=")
		host, port, err := net.SplitHostPort(addr)
		if !ok || err != nil || host == "" {
			return nil, fmt.Errorf("-peers: %q is not id=host:port", item)
		}
		p, err := parsePort(port)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("-peers: %q: bad port", item)
		}
		zs := zooServer{ID: id, Host: host, PeerPort: p}
		out = append(out, zs)
	}
	return out, nil
}

func splitList(s string) []string {
	out := []string{}
	for _, w := range strings.Split(s, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// serve opens the node, waits for ctx (a signal), and closes it.
func serve(ctx context.Context, cfg daemonConfig, closeTimeout time.Duration, logger *slog.Logger, mon *monitor) int {
	peers := make([]string, 0, len(cfg.Peers))
	for _, p := range cfg.Peers {
		peers = append(peers, p.ID+"="+p.Addr)
	}
	dataDir := cfg.DataDir
	if dataDir == "" {
		dataDir = "(in memory)"
	}
	logger.Info("starting coordd", "version", versionString(), "id", cfg.NodeID, "client", cfg.ClientAddr,
		"cluster", cfg.BindAddr, "peers", strings.Join(peers, ","), "dataDir", dataDir,
		"tickTime", cfg.TickTime, "electionTimeout", cfg.ElectionTimeout)
	if len(cfg.Peers) > 1 {
		logger.Info("waiting for a quorum of the ensemble", "voters", len(cfg.Peers))
	}
	if g := cfg.Gossip; g.Addr != "" {
		logger.Info("forming the ensemble by gossip", "gossip", g.Addr, "join", strings.Join(g.Join, ","),
			"bootstrapExpect", g.BootstrapExpect, "voters", g.Voters, "clusterName", g.ClusterName)
	}
	start := time.Now()
	n, err := coord.Open(ctx, cfg.Config)
	if err != nil {
		if ctx.Err() != nil {
			logger.Info("stopped before joining the ensemble")
			return 0
		}
		logger.Error("cannot start", "err", err)
		return 1
	}
	wire, secure, err := listenClients(&cfg, n)
	if err != nil {
		logger.Error("cannot start", "err", err)
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		n.Close(cctx)
		cancel()
		return 1
	}
	served := wire // the wire server whose figures the metrics report
	if served == nil {
		served = secure
	}
	if err := mon.start(n, served, cfg); err != nil {
		logger.Error("metrics", "err", err)
	}
	var addrs []any
	if wire != nil {
		addrs = append(addrs, "client", wire.Addr().String())
	}
	if secure != nil {
		addrs = append(addrs, "secureClient", secure.Addr().String())
	}
	logger.Info("serving", append(addrs, "id", n.ID(), "role", n.Role(), "after", time.Since(start).Round(time.Millisecond))...)

	select {
	case <-ctx.Done():
	case <-n.Done():
		// The node stopped on its own: its log store failed, or it met a
		// log entry of a newer format.
		logger.Error("the node stopped", "err", n.Err())
		if wire != nil {
			wire.Close()
		}
		if secure != nil {
			secure.Close()
		}
		return 1
	}
	logger.Info("shutting down", "role", n.Role())
	cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	// A second signal aborts the clean close.
	again := make(chan os.Signal, 1)
	signal.Notify(again, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(again)
	// The wire server goes first: it serves the node, not the other way
	// round.
	if wire != nil {
		wire.Close()
	}
	if secure != nil {
		secure.Close()
	}
	done := make(chan error, 1)
	go func() { done <- n.Close(cctx) }()
	select {
	case err = <-done:
	case <-again:
		// At once: the process ends, and with it whatever the clean
		// close was waiting for; the ensemble sees a crash.
		logger.Warn("second signal: exiting without a clean close")
		return 1
	}
	if err != nil {
		logger.Error("close", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func versionString() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty, _ = strconv.ParseBool(s.Value)
			}
		}
	}
	out := "coordd " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " " + rev
		if dirty {
			out += "+dirty"
		}
	}
	return out + " (ZooKeeper client protocol 3.9)"
}
