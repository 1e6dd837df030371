package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// A zoo.cfg is a Java properties file. ZooKeeper's QuorumPeerConfig reads
// the keys it knows and turns every other key K into the system property
// "zookeeper.K"; settings that ZooKeeper only takes as system properties
// (-Dzookeeper.extendedTypesEnabled, -Djute.maxbuffer, ...) are therefore
// accepted here as keys of the same file, with or without the "zookeeper."
// prefix, and from the command line as -Dkey=value.

// property is one key=value of a properties file, with where it came from.
type property struct {
	key, value string
	where      string // "file:line" or "-D"
}

// parseProperties reads Java properties syntax: '#' and '!' comments, key
// and value separated by the first unescaped '=', ':' or whitespace,
// backslash line continuation and the usual escapes.
func parseProperties(r io.Reader, name string) ([]property, error) {
	var out []property
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Continuation: an odd number of trailing backslashes joins the next
		// line, whose leading whitespace is dropped.
		for trailingBackslashes(line)%2 == 1 {
			line = line[:len(line)-1]
			if !sc.Scan() {
				break
			}
			lineNo++
			line += strings.TrimLeft(sc.Text(), " \t\f")
		}
		key, value := splitProperty(line)
		out = append(out, property{key: key, value: value, where: fmt.Sprintf("%s:%d", name, start)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func trailingBackslashes(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n
}

func splitProperty(line string) (key, value string) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	key = line[:i]
	rest := strings.TrimLeft(line[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') && (i >= len(line) || line[i] == ' ' || line[i] == '\t' || line[i] == '\f' || line[i] == rest[0]) {
		rest = rest[1:]
	}
	rest = strings.TrimLeft(rest, " \t\f")
	return unescapeProperty(key), unescapeProperty(rest)
}

func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					b.WriteRune(rune(v))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// zooServer is one server.N= line: server.N=host:peerPort:electionPort
// [:participant|:observer][;[clientHost:]clientPort].
type zooServer struct {
	ID           string
	Host         string
	PeerPort     int
	ElectionPort int
	Observer     bool
	ClientAddr   string // "" when the line names no client address
}

// PeerAddr is the address coord's single cluster port uses: host:peerPort.
func (s zooServer) PeerAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.PeerPort)) }

// zooConfig is a parsed zoo.cfg, still in ZooKeeper's terms.
type zooConfig struct {
	TickTime          time.Duration
	DataDir           string
	DataLogDir        string
	ClientPort        int    // 0: unset
	ClientPortAddress string // "": all interfaces
	InitLimit         int
	SyncLimit         int
	Servers           []zooServer
	StandaloneEnabled bool
	ReconfigEnabled   bool
	QuorumListenOnAll bool
	PeerType          string // "participant" or "observer"
	MyID              string // from dataDir/myid (or a flag); "" when absent

	MaxClientCnxns    int // ZooKeeper's meaning: 0 = no limit
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	FourLetterWords   []string // nil: ZooKeeper's default (srvr)

	ContainerCheckInterval time.Duration // 0: coord's default
	MaxDataSize            int           // 0: coord's default
	SuperDigest            string
	SnapCount              uint64         // 0: coord's default
	ElectionTimeout        time.Duration  // coord.electionTimeoutMs; 0: derived
	Quorum                 quorumSecurity // see security.go

	client clientPortConfig // TLS port, x509, connection and queue limits (clientport.go)

	EnforceQuota bool // zookeeper.enforceQuota

	// metricsProvider.* and admin.* (the Prometheus endpoint and the
	// AdminServer). A port of -1 means unset.
	MetricsClass    string
	MetricsHost     string
	MetricsPort     int
	AdminEnable     *bool // nil: unset
	AdminAddress    string
	AdminPort       int
	AdminCommandURL string

	// coord.* keys: membership by gossip, and this node's addresses.
	NodeID          string   // coord.nodeId (overrides myid)
	ClusterAddr     string   // coord.clusterAddress
	AdvertiseAddr   string   // coord.advertiseAddress
	GossipAddr      string   // coord.gossipAddress
	Join            []string // coord.join
	BootstrapExpect int      // coord.bootstrapExpect
	Voters          int      // coord.voters
	ClusterName     string   // coord.clusterName

	// Set by coordd's flags, not by zoo.cfg keys.
	clientAddr      string // overrides clientPortAddress:clientPort
	dataDirOptional bool   // an empty DataDir means in memory

	// Warnings are messages about keys that are accepted but do nothing
	// here, or unknown; the daemon logs them. Infos are the same for keys
	// whose being ignored is expected and harmless.
	Warnings []string
	Infos    []string
}

// Defaults ZooKeeper applies when a key is absent.
const (
	defaultMaxClientCnxns = 60
	defaultSyncLimit      = 5
	// Election timeout bounds for the syncLimit×tickTime mapping (see
	// electionTimeout).
	minElectionTimeout = 50 * time.Millisecond
	maxElectionTimeout = time.Second
)

// ignoredKeys are ZooKeeper settings that coordd accepts and ignores, with
// the reason logged once at startup.
var ignoredKeys = map[string]string{
	"autopurge.snapRetainCount":             "coord compacts its raft log itself (snapCount/SnapshotThreshold); no purge task",
	"autopurge.purgeInterval":               "coord compacts its raft log itself (snapCount/SnapshotThreshold); no purge task",
	"extendedTypesEnabled":                  "TTL nodes are always enabled in coord",
	"emulate353TTLNodes":                    "TTL nodes are always enabled in coord (both create modes are accepted)",
	"admin.idleTimeout":                     "coordd's AdminServer uses Go's HTTP server timeouts",
	"electionAlg":                           "raft elects the leader",
	"electionPortBindRetry":                 "raft elects the leader on the peer port",
	"connectToLearnerMasterLimit":           "raft replicates to every member",
	"forceSync":                             "coord fsyncs every raft append",
	"preAllocSize":                          "coord's raft log is a badger database",
	"txnLogSizeLimitInKb":                   "coord's raft log is a badger database",
	"snapSizeLimitInKb":                     "coord snapshots every snapCount entries",
	"commitLogCount":                        "coord's raft log is a badger database",
	"globalOutstandingLimit":                "coord has no global request throttle",
	"znode.container.maxPerMinute":          "coord removes every eligible container at each check",
	"localSessionsEnabled":                  "every coord session is global",
	"localSessionsUpgradingEnabled":         "every coord session is global",
	"syncEnabled":                           "coord's observers always keep the log on disk",
	"leaderServes":                          "every coord node serves clients",
	"cnxTimeout":                            "raft elects the leader",
	"clientPortListenBacklog":               "the OS default backlog is used",
	"serverCnxnFactory":                     "coord has its own network layer",
	"metricsProvider.exportJvmInfo":         "no JVM: /metrics has Go's go_* and process_* metrics instead",
	"jmx.log4j.disable":                     "no JMX",
	"audit.enable":                          "coord has no audit log",
	"digest.enabled":                        "coord keeps its own tree digest",
	"initLimit":                             "", // handled, see electionTimeout
	"skipACL":                               "coord always checks ACLs (skipACL is not supported)",
	"portUnification":                       "coord serves TLS on secureClientPort only (no port unification)",
	"serverCnxnFactory.secure":              "coord has its own network layer (secureClientPort serves TLS)",
	"multiAddress.enabled":                  "coord uses one cluster address per server",
	"multiAddress.reachabilityCheckEnabled": "coord uses one cluster address per server",
}

// loadZooConfig reads a zoo.cfg, its dynamicConfigFile if it names one, and
// the myid file in its dataDir. props are -D settings; they override the
// file's keys.
func loadZooConfig(path string, props []property) (*zooConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	file, err := parseProperties(f, path)
	if err != nil {
		return nil, err
	}
	all := append(file, props...)
	// A dynamic config file (3.5+) holds the server.N lines.
	for _, p := range all {
		if normKey(p.key) == "dynamicConfigFile" {
			dp := p.value
			if !filepath.IsAbs(dp) {
				if _, err := os.Stat(dp); err != nil {
					dp = filepath.Join(filepath.Dir(path), dp)
				}
			}
			df, err := os.Open(dp)
			if err != nil {
				return nil, fmt.Errorf("dynamicConfigFile: %w", err)
			}
			dyn, err := parseProperties(df, dp)
			df.Close()
			if err != nil {
				return nil, err
			}
			all = append(all, dyn...)
		}
	}
	zc, err := parseZooConfig(all)
	if err != nil {
		return nil, err
	}
	if zc.MyID == "" && zc.DataDir != "" {
		b, err := os.ReadFile(filepath.Join(zc.DataDir, "myid"))
		switch {
		case err == nil:
			zc.MyID = strings.TrimSpace(string(b))
			if _, perr := strconv.ParseInt(zc.MyID, 10, 64); perr != nil {
				return nil, fmt.Errorf("%s: serverid %q is not a number", filepath.Join(zc.DataDir, "myid"), zc.MyID)
			}
		case !os.IsNotExist(err):
			return nil, err
		}
	}
	return zc, nil
}

// normKey strips the "zookeeper." prefix that ZooKeeper puts on the system
// properties it derives from unknown zoo.cfg keys.
func normKey(k string) string {
	return strings.TrimPrefix(k, "zookeeper.")
}

// parseZooConfig interprets properties in order; a later key overrides an
// earlier one, as in ZooKeeper.
func parseZooConfig(props []property) (*zooConfig, error) {
	zc := &zooConfig{StandaloneEnabled: true, MaxClientCnxns: defaultMaxClientCnxns, PeerType: "participant", MetricsPort: -1, AdminPort: -1}
	zc.Quorum.HostnameVerification = true
	servers := map[string]zooServer{}
	warned := map[string]bool{}
	note := func(list *[]string, key, msg string) {
		if !warned[key] {
			warned[key] = true
			*list = append(*list, msg)
		}
	}
	for _, p := range props {
		k, v := normKey(p.key), strings.TrimSpace(p.value)
		bad := func(err error) error {
			return fmt.Errorf("%s: %s=%q: %v", p.where, p.key, v, err)
		}
		if ok, err := zc.clientPortKey(k, v, p.where); ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		var err error
		switch {
		case k == "tickTime":
			zc.TickTime, err = parseMillis(v, false)
		case k == "dataDir":
			zc.DataDir = v
		case k == "dataLogDir":
			zc.DataLogDir = v
		case k == "clientPort":
			zc.ClientPort, err = parsePort(v)
		case k == "clientPortAddress":
			zc.ClientPortAddress = v
		case k == "initLimit":
			zc.InitLimit, err = strconv.Atoi(v)
		case k == "syncLimit":
			zc.SyncLimit, err = strconv.Atoi(v)
		case k == "standaloneEnabled":
			zc.StandaloneEnabled, err = strconv.ParseBool(v)
		case k == "reconfigEnabled":
			zc.ReconfigEnabled, err = strconv.ParseBool(v)
			if err == nil && zc.ReconfigEnabled {
				note(&zc.Warnings, k, fmt.Sprintf("%s: reconfigEnabled=true: coordd does not support dynamic reconfiguration; reconfig requests are answered ReconfigDisabled", p.where))
			}
		case k == "quorumListenOnAllIPs":
			zc.QuorumListenOnAll, err = strconv.ParseBool(v)
		case k == "peerType":
			if v != "participant" && v != "observer" {
				err = fmt.Errorf("want participant or observer")
			}
			zc.PeerType = v
		case k == "dynamicConfigFile", k == "version":
			// dynamicConfigFile is read by loadZooConfig; version is the
			// dynamic file's config version.
		case k == "maxClientCnxns":
			zc.MaxClientCnxns, err = strconv.Atoi(v)
		case k == "minSessionTimeout":
			zc.MinSessionTimeout, err = parseMillis(v, true)
		case k == "maxSessionTimeout":
			zc.MaxSessionTimeout, err = parseMillis(v, true)
		case k == "4lw.commands.whitelist":
			zc.FourLetterWords = []string{}
			for _, w := range strings.Split(v, ",") {
				if w = strings.TrimSpace(w); w != "" {
					zc.FourLetterWords = append(zc.FourLetterWords, w)
				}
			}
		case k == "znode.container.checkIntervalMs":
			zc.ContainerCheckInterval, err = parseMillis(v, false)
		case k == "jute.maxbuffer":
			zc.MaxDataSize, err = parseSize(v)
		case k == "DigestAuthenticationProvider.superDigest":
			zc.SuperDigest = v
		case k == "snapCount":
			zc.SnapCount, err = strconv.ParseUint(v, 10, 64)
		case k == "coord.electionTimeoutMs":
			zc.ElectionTimeout, err = parseMillis(v, false)
		case isQuorumSecurityKey(k):
			err = zc.setQuorumSecurity(k, v, p.where)
		case k == "enforceQuota":
			zc.EnforceQuota, err = strconv.ParseBool(v)
		case k == "metricsProvider.className":
			zc.MetricsClass = v
		case k == "metricsProvider.httpHost":
			zc.MetricsHost = v
		case k == "metricsProvider.httpPort":
			zc.MetricsPort, err = parsePort(v)
		case k == "admin.enableServer":
			var b bool
			b, err = strconv.ParseBool(v)
			zc.AdminEnable = &b
		case k == "admin.serverAddress":
			zc.AdminAddress = v
		case k == "admin.serverPort":
			zc.AdminPort, err = parsePort(v)
		case k == "admin.commandURL":
			zc.AdminCommandURL = v
		case k == "coord.nodeId":
			zc.NodeID = v
		case k == "coord.clusterAddress":
			zc.ClusterAddr, err = checkHostPort(v)
		case k == "coord.advertiseAddress":
			zc.AdvertiseAddr, err = checkHostPort(v)
		case k == "coord.gossipAddress":
			zc.GossipAddr, err = checkHostPort(v)
		case k == "coord.join":
			zc.Join = splitList(v)
			for _, a := range zc.Join {
				if _, err = checkHostPort(a); err != nil {
					break
				}
			}
		case k == "coord.bootstrapExpect":
			zc.BootstrapExpect, err = strconv.Atoi(v)
		case k == "coord.voters":
			zc.Voters, err = strconv.Atoi(v)
		case k == "coord.clusterName":
			zc.ClusterName = v
		case strings.HasPrefix(k, "server."):
			var s zooServer
			s, err = parseServerLine(strings.TrimPrefix(k, "server."), v)
			if err == nil {
				if strings.Contains(v, "|") {
					note(&zc.Warnings, k, fmt.Sprintf("%s: %s lists several addresses; coordd uses the first", p.where, p.key))
				}
				servers[s.ID] = s
			}
		case k == "skipACL":
			if v == "yes" || v == "true" {
				note(&zc.Warnings, k, fmt.Sprintf("%s: %s=%s ignored: coordd always checks ACLs", p.where, p.key, v))
			}
		case strings.HasPrefix(k, "group."), strings.HasPrefix(k, "weight."):
			note(&zc.Warnings, "hierarchy", fmt.Sprintf("%s: %s ignored: coordd uses a simple majority of all servers (no hierarchical quorums)", p.where, p.key))
		case strings.HasPrefix(k, "ssl."), strings.HasPrefix(k, "authProvider."):
			note(&zc.Warnings, k, fmt.Sprintf("%s: %s ignored: not supported by coordd (custom auth providers; digest, ip, world, auth and x509 are built in)", p.where, p.key))
		default:
			if why, ok := ignoredKeys[k]; ok {
				if why != "" {
					note(&zc.Infos, k, fmt.Sprintf("%s: %s ignored: %s", p.where, p.key, why))
				}
				continue
			}
			note(&zc.Warnings, k, fmt.Sprintf("%s: unknown key %s ignored", p.where, p.key))
		}
		if err != nil {
			return nil, bad(err)
		}
	}
	ids := make([]string, 0, len(servers))
	for id := range servers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.ParseInt(ids[i], 10, 64)
		b, _ := strconv.ParseInt(ids[j], 10, 64)
		return a < b
	})
	for _, id := range ids {
		zc.Servers = append(zc.Servers, servers[id])
	}
	return zc, nil
}

func parseMillis(v string, allowNeg bool) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if allowNeg {
			return 0, nil // -1: the default
		}
		return 0, fmt.Errorf("negative")
	}
	return time.Duration(n) * time.Millisecond, nil
}

func parsePort(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port out of range")
	}
	return n, nil
}

// parseSize reads jute.maxbuffer: a byte count, decimal or 0x hex.
func parseSize(v string) (int, error) {
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		return 0, err
	}
	if n <= 0 || n > 1<<30 {
		return 0, fmt.Errorf("out of range (1..1GiB)")
	}
	return int(n), nil
}

// parseServerLine parses the value of server.N:
// host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort].
// IPv6 hosts are bracketed. With several '|'-separated addresses the first
// is used.
func parseServerLine(id, v string) (zooServer, error) {
	s := zooServer{ID: id}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		return s, fmt.Errorf("server id %q is not a non-negative number", id)
	}
	s.ID = strconv.FormatInt(n, 10)
	addrs, client, hasClient := strings.Cut(v, ";")
	first, _, _ := strings.Cut(addrs, "|")
	// Split host off, honouring [ipv6] brackets.
	var host, rest string
	if strings.HasPrefix(first, "[") {
		end := strings.Index(first, "]")
		if end < 0 {
			return s, fmt.Errorf("unterminated [ in %q", first)
		}
		host, rest = first[1:end], strings.TrimPrefix(first[end+1:], ":")
	} else {
		var ok bool
		host, rest, ok = strings.Cut(first, ":")
		if !ok {
			return s, fmt.Errorf("want host:peerPort:electionPort, got %q", first)
		}
	}
	parts := strings.Split(rest, ":")
	if host == "" || len(parts) < 2 || len(parts) > 3 {
		return s, fmt.Errorf("want host:peerPort:electionPort[:role], got %q", first)
	}
	s.Host = host
	if s.PeerPort, err = parsePort(parts[0]); err != nil || s.PeerPort == 0 {
		return s, fmt.Errorf("bad peer port %q", parts[0])
	}
	if s.ElectionPort, err = parsePort(parts[1]); err != nil {
		return s, fmt.Errorf("bad election port %q", parts[1])
	}
	if len(parts) == 3 {
		switch strings.ToLower(parts[2]) {
		case "participant":
		case "observer":
			s.Observer = true
		default:
			return s, fmt.Errorf("role %q: want participant or observer", parts[2])
		}
	}
	if hasClient {
		client = strings.TrimSpace(client)
		chost, cport := "", client
		if i := strings.LastIndex(client, ":"); i >= 0 {
			chost, cport = strings.Trim(client[:i], "[]"), client[i+1:]
		}
		p, err := parsePort(cport)
		if err != nil || p == 0 {
			return s, fmt.Errorf("bad client port in %q", client)
		}
		s.ClientAddr = net.JoinHostPort(chost, strconv.Itoa(p))
	}
	return s, nil
}

// electionTimeout maps ZooKeeper's syncLimit×tickTime (how long a follower
// may lag before it is dropped, so roughly how long a dead leader goes
// unnoticed) onto raft's heartbeat/election timeout, clamped to
// [50ms, 1s]. The cap is there because raft notices a dead leader only by
// missing heartbeats, whereas ZooKeeper's followers see the leader's TCP
// connections close at once when its process dies: with ZooKeeper's
// defaults (2000ms × 5 = 10s) an unclamped mapping would make failover after
// a crash ten times slower than ZooKeeper's. coord.electionTimeoutMs sets it
// exactly.
func (zc *zooConfig) electionTimeout() time.Duration {
	if zc.ElectionTimeout > 0 {
		return zc.ElectionTimeout
	}
	sync := zc.SyncLimit
	if sync <= 0 {
		sync = defaultSyncLimit
	}
	d := time.Duration(sync) * zc.TickTime
	return min(max(d, minElectionTimeout), maxElectionTimeout)
}

// daemonConfig is what coordd runs: a node, its ZooKeeper wire server,
// and its monitoring endpoints.
type daemonConfig struct {
	coord.Config
	ClientAddr      string   // where the wire server listens
	MaxClientCnxns  int      // zkserver.Config's meaning: negative = no limit
	FourLetterWords []string // nil: ZooKeeper's default (srvr)
	clientPortSettings

	MetricsAddr     string // where /metrics is served; "": nowhere
	AdminAddr       string // where the AdminServer listens; "": off
	AdminCommandURL string // "": /commands
}

// The Prometheus metrics provider coordd serves /metrics for, and
// ZooKeeper's defaults for it and for the AdminServer.
const (
	prometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
	defaultMetricsHost = "0.0.0.0"
	defaultMetricsPort = 7000
	defaultAdminPort   = 8080
)

// checkHostPort checks a host:port value.
func checkHostPort(v string) (string, error) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return "", err
	}
	return v, nil
}

// wire is the wire server's configuration.
func (c *daemonConfig) wire() zkserver.Config {
	return c.clientPortSettings.apply(zkserver.Config{MaxClientCnxns: c.MaxClientCnxns, FourLetterWords: c.FourLetterWords, Logger: c.Logger})
}

// coordConfig turns the parsed file into a daemonConfig. It checks what
// ZooKeeper checks at startup (tickTime, dataDir, clientPort, myid) and
// adds what it cannot honour to zc.Warnings and zc.Infos for the caller to
// log.
func (zc *zooConfig) coordConfig() (daemonConfig, error) {
	var cfg daemonConfig
	if zc.TickTime <= 0 {
		return cfg, fmt.Errorf("tickTime is not set")
	}
	if zc.DataDir == "" && !zc.dataDirOptional {
		return cfg, fmt.Errorf("dataDir is not set")
	}
	cfg.TickTime = zc.TickTime
	cfg.DataDir = zc.DataDir
	cfg.MinSessionTimeout = zc.MinSessionTimeout
	cfg.MaxSessionTimeout = zc.MaxSessionTimeout
	minS, maxS := zc.MinSessionTimeout, zc.MaxSessionTimeout
	if minS == 0 {
		minS = 2 * zc.TickTime
	}
	if maxS == 0 {
		maxS = 20 * zc.TickTime
	}
	if minS > maxS {
		return cfg, fmt.Errorf("minSessionTimeout (%v) must not be larger than maxSessionTimeout (%v)", minS, maxS)
	}
	switch {
	case zc.MaxClientCnxns == 0:
		cfg.MaxClientCnxns = -1 // ZooKeeper: 0 means no limit
	case zc.MaxClientCnxns > 0:
		cfg.MaxClientCnxns = zc.MaxClientCnxns
	default:
		return cfg, fmt.Errorf("maxClientCnxns must not be negative")
	}
	cfg.FourLetterWords = zc.FourLetterWords
	cfg.ContainerCheckInterval = zc.ContainerCheckInterval
	cfg.MaxDataSize = zc.MaxDataSize
	cfg.SuperDigest = zc.SuperDigest
	if zc.SuperDigest != "" {
		user, _, ok := strings.Cut(zc.SuperDigest, ":")
		if !ok || user == "" {
			return cfg, fmt.Errorf("superDigest %q is not user:base64(sha1(user:password))", zc.SuperDigest)
		}
	}
	cfg.SnapshotThreshold = zc.SnapCount
	cfg.ElectionTimeout = zc.electionTimeout()
	cfg.EnforceQuota = zc.EnforceQuota
	if err := zc.monitoring(&cfg); err != nil {
		return cfg, err
	}

	// Who am I, who are the others.
	var self *zooServer
	distributed := len(zc.Servers) > 1 || (len(zc.Servers) == 1 && !zc.StandaloneEnabled)
	if len(zc.Servers) > 0 {
		if zc.MyID == "" {
			if distributed {
				return cfg, fmt.Errorf("%s is missing (it must hold this server's id, one of the server.N lines)", filepath.Join(zc.DataDir, "myid"))
			}
			zc.MyID = zc.Servers[0].ID
		}
		for i := range zc.Servers {
			if zc.Servers[i].ID == zc.MyID {
				self = &zc.Servers[i]
			}
		}
		if self == nil {
			return cfg, fmt.Errorf("myid %s has no server.%s line", zc.MyID, zc.MyID)
		}
	}
	cfg.NodeID = zc.MyID
	if zc.NodeID != "" {
		if self != nil && zc.NodeID != zc.MyID {
			return cfg, fmt.Errorf("coord.nodeId %s differs from myid %s of the server.N lines", zc.NodeID, zc.MyID)
		}
		cfg.NodeID = zc.NodeID
	}
	if zc.GossipAddr != "" {
		if err := zc.gossip(&cfg, self != nil); err != nil {
			return cfg, err
		}
	} else if zc.ClusterAddr != "" && self == nil {
		return cfg, fmt.Errorf("coord.clusterAddress needs coord.gossipAddress or server.N lines")
	}
	if cfg.NodeID == "" && cfg.Gossip.Addr == "" {
		cfg.NodeID = "1"
	}
	if distributed {
		for _, s := range zc.Servers {
			cfg.Peers = append(cfg.Peers, coord.Peer{ID: s.ID, Addr: s.PeerAddr(), Observer: s.Observer})
		}
		// As ZooKeeper: the server list decides when peerType disagrees.
		if zc.PeerType != "" && (zc.PeerType == "observer") != self.Observer {
			role := "participant"
			if self.Observer {
				role = "observer"
			}
			zc.Warnings = append(zc.Warnings, fmt.Sprintf("peer type from the servers list (%s) does not match peerType (%s): using the servers list", role, zc.PeerType))
		}
		cfg.BindAddr = self.PeerAddr()
		if zc.QuorumListenOnAll {
			cfg.BindAddr = net.JoinHostPort("", strconv.Itoa(self.PeerPort))
		}
		if zc.ClusterAddr != "" {
			cfg.BindAddr = zc.ClusterAddr
		}
	}

	// The client address: clientPortAddress:clientPort, or the client part of
	// this server's server.N line.
	switch {
	case zc.clientAddr != "":
		cfg.ClientAddr = zc.clientAddr
	case zc.ClientPort != 0:
		cfg.ClientAddr = net.JoinHostPort(zc.ClientPortAddress, strconv.Itoa(zc.ClientPort))
		if self != nil && self.ClientAddr != "" && !sameClientAddr(self.ClientAddr, cfg.ClientAddr) {
			return cfg, fmt.Errorf("client address %s in server.%s differs from clientPortAddress:clientPort %s", self.ClientAddr, self.ID, cfg.ClientAddr)
		}
	case self != nil && self.ClientAddr != "":
		cfg.ClientAddr = self.ClientAddr
	case zc.ClientPortAddress != "":
		return cfg, fmt.Errorf("clientPortAddress is set but clientPort is not set")
	case zc.client.SecurePort != 0:
		// A TLS port only.
	default:
		return cfg, fmt.Errorf("clientPort is not set")
	}
	if err := zc.applyQuorumSecurity(&cfg.Config); err != nil {
		return cfg, err
	}
	if err := zc.resolveClientPort(&cfg.clientPortSettings); err != nil {
		return cfg, err
	}
	if zc.DataLogDir != "" && filepath.Clean(zc.DataLogDir) != filepath.Clean(zc.DataDir) {
		zc.Infos = append(zc.Infos, fmt.Sprintf("dataLogDir=%s ignored: coord keeps its raft log and snapshots together in dataDir (%s)", zc.DataLogDir, zc.DataDir))
	}
	return cfg, nil
}

func sameClientAddr(a, b string) bool {
	ah, ap, _ := net.SplitHostPort(a)
	bh, bp, _ := net.SplitHostPort(b)
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ap == bp && (ah == bh || wild(ah) || wild(bh))
}

// gossip sets up membership by gossip from the coord.* keys.
func (zc *zooConfig) gossip(cfg *daemonConfig, static bool) error {
	if zc.ClusterAddr == "" && !static {
		return fmt.Errorf("coord.gossipAddress needs coord.clusterAddress (this node's raft and RPC address)")
	}
	if zc.ClusterAddr != "" {
		cfg.BindAddr = zc.ClusterAddr
	}
	if !static && zc.BootstrapExpect <= 0 && len(zc.Join) == 0 {
		return fmt.Errorf("coord.gossipAddress: give coord.bootstrapExpect (a new cluster) or coord.join (an existing one)")
	}
	if zc.BootstrapExpect < 0 || zc.Voters < 0 {
		return fmt.Errorf("coord.bootstrapExpect and coord.voters must not be negative")
	}
	cfg.Gossip = coord.GossipConfig{
		Addr:            zc.GossipAddr,
		Join:            zc.Join,
		BootstrapExpect: zc.BootstrapExpect,
		Voters:          zc.Voters,
		ClusterName:     zc.ClusterName,
		AdvertiseAddr:   zc.AdvertiseAddr,
	}
	return nil
}

// monitoring maps metricsProvider.* and admin.* onto where coordd serves
// /metrics and the AdminServer. /metrics is served when the Prometheus
// provider is named or metricsProvider.httpPort is set; the AdminServer
// when admin.enableServer=true or admin.serverPort is set (and
// admin.enableServer is not false), on 127.0.0.1 unless
// admin.serverAddress says otherwise.
func (zc *zooConfig) monitoring(cfg *daemonConfig) error {
	switch zc.MetricsClass {
	case "", prometheusProvider:
	default:
		return fmt.Errorf("metricsProvider.className=%s: coordd serves only %s", zc.MetricsClass, prometheusProvider)
	}
	if zc.MetricsClass != "" || zc.MetricsPort >= 0 {
		host, port := zc.MetricsHost, zc.MetricsPort
		if host == "" {
			host = defaultMetricsHost
		}
		if port < 0 {
			port = defaultMetricsPort
		}
		cfg.MetricsAddr = net.JoinHostPort(host, strconv.Itoa(port))
	} else if zc.MetricsHost != "" {
		zc.Warnings = append(zc.Warnings, "metricsProvider.httpHost ignored: no metrics provider (set metricsProvider.className or metricsProvider.httpPort)")
	}
	enabled := zc.AdminPort >= 0
	if zc.AdminEnable != nil {
		enabled = *zc.AdminEnable
	}
	if enabled {
		host, port := zc.AdminAddress, zc.AdminPort
		if host == "" {
			host = "127.0.0.1"
		}
		if port < 0 {
			port = defaultAdminPort
		}
		cfg.AdminAddr = net.JoinHostPort(host, strconv.Itoa(port))
		cfg.AdminCommandURL = zc.AdminCommandURL
	}
	return nil
}
