package zkserver

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coordkit/coord"
)

// What srvr, stat, mntr and envi report as the server version. Tools parse
// it (go-zookeeper/zk's FLWSrvr wants "[A-Za-z0-9.-]+, built on
// MM/DD/YYYY HH:MM ZONE"), so it keeps ZooKeeper's shape: the protocol
// level served, then this engine's name.
const (
	zkServerVersion = "3.9.5-coord"
	zkBuildDate     = "01/01/2026 00:00 GMT"
	zkFullVersion   = zkServerVersion + ", built on " + zkBuildDate
)

// fourLetterWords are the four-letter words answered (ZooKeeper's
// FourLetterCommands, less gtmk/stmk trace masks, dirs and hash).
var fourLetterWords = map[string]bool{
	"ruok": true, "srvr": true, "stat": true, "mntr": true, "conf": true,
	"cons": true, "envi": true, "wchs": true, "wchc": true, "wchp": true,
	"dump": true, "isro": true, "crst": true, "srst": true,
}

// fourLetterEnabled applies Config.FourLetterWords as ZooKeeper applies
// zookeeper.4lw.commands.whitelist: "*" enables all, and srvr is always
// enabled (zkServer.sh depends on it).
func (srv *Server) fourLetterEnabled(cmd string) bool {
	if cmd == "srvr" {
		return true
	}
	for _, w := range srv.cfg.FourLetterWords {
		if w = strings.TrimSpace(w); w == "*" || w == cmd {
			return true
		}
	}
	return false
}

// serveFourLetter answers a four-letter word and closes the connection.
func (c *zkConn) serveFourLetter(cmd string, r io.Reader) {
	defer lingerClose(c.nc, r)
	var out string
	if !c.srv.fourLetterEnabled(cmd) {
		out = cmd + " is not executed because it is not in the whitelist.\n"
	} else {
		out = c.srv.fourLetter(cmd, c)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(zkHandshakeTimeout))
	if _, err := c.nc.Write([]byte(out)); err == nil {
		c.srv.stats.sent.Add(1)
	}
}

func (srv *Server) fourLetter(cmd string, self *zkConn) string {
	var b strings.Builder
	switch cmd {
	case "srvr", "stat", "mntr", "cons":
		if !srv.serving() {
			return notServing
		}
	}
	switch cmd {
	case "ruok":
		b.WriteString("imok")
	case "isro":
		b.WriteString("rw")
	case "srvr", "stat":
		b.WriteString("Zookeeper version: " + zkFullVersion + "\n")
		if cmd == "stat" {
			b.WriteString("Clients:\n")
			for _, c := range srv.clientConns(self) {
				c.dumpInfo(&b, true)
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
		minL, avgL, maxL := srv.stats.latencies()
		fmt.Fprintf(&b, "Latency min/avg/max: %d/%s/%d\n", minL, javaDouble(avgL), maxL)
		fmt.Fprintf(&b, "Received: %d\n", srv.stats.received.Load())
		fmt.Fprintf(&b, "Sent: %d\n", srv.stats.sent.Load())
		fmt.Fprintf(&b, "Connections: %d\n", srv.numConnections())
		fmt.Fprintf(&b, "Outstanding: %d\n", srv.stats.outstanding.Load())
		fmt.Fprintf(&b, "Zxid: 0x%x\n", srv.n.LastZxid())
		fmt.Fprintf(&b, "Mode: %s\n", srv.mode())
		fmt.Fprintf(&b, "Node count: %d\n", nodeCount(srv.n.Stats()))
	case "mntr":
		srv.monitor(&b)
	case "conf":
		srv.conf(&b)
	case "cons":
		for _, c := range srv.clientConns(self) {
			c.dumpInfo(&b, false)
			b.WriteString("\n")
		}
		b.WriteString("\n")
	case "envi":
		b.WriteString("Environment:\n")
		host, _ := os.Hostname()
		wd, _ := os.Getwd()
		for _, kv := range [][2]string{
			{"zookeeper.version", zkFullVersion},
			{"host.name", host},
			{"go.version", runtime.Version()},
			{"os.name", runtime.GOOS},
			{"os.arch", runtime.GOARCH},
			{"user.dir", wd},
			{"process.id", strconv.Itoa(os.Getpid())},
		} {
			b.WriteString(kv[0] + "=" + kv[1] + "\n")
		}
	case "wchs", "wchc", "wchp":
		watchReport(&b, cmd, srv.n.Stats())
	case "dump":
		srv.dump(&b)
	case "crst":
		for _, c := range srv.connections() {
			c.cstats.reset()
		}
		b.WriteString("Connection stats reset.\n")
	case "srst":
		srv.stats.reset()
		b.WriteString("Server stats reset.\n")
	}
	return b.String()
}

// mode is ZooKeeper's server state: the node's raft role (Node.Role),
// whatever formed the ensemble (static peers, gossip, or one node).
func (srv *Server) mode() string { return srv.n.Role() }

// notServing is what ZooKeeper answers srvr, stat, mntr and cons with while
// it is not serving requests (ZK_NOT_SERVING).
const notServing = "This ZooKeeper instance is not currently serving requests\n"

// serving reports whether the node serves requests: it is part of a quorum
// (Node.HasQuorum). A node that lost its quorum answers srvr, stat, mntr and
// cons with notServing, as a ZooKeeper server out of its quorum does.
func (srv *Server) serving() bool { return srv.n.HasQuorum() && srv.n.Healthy() == nil }

// nodeCount is ZooKeeper's DataTree.getNodeCount: its node map holds the
// root twice ("" and "/"), so a fresh tree counts 5.
func nodeCount(st coord.NodeStats) int { return st.Znodes + 1 }

// javaDouble formats f as Java's Double.toString would for the values
// ZooKeeper prints (rounded to 4 places): always with a fraction.
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	return s
}

// clientConns are the connections of clients (not four-letter words),
// oldest first.
func (srv *Server) clientConns(self *zkConn) []*zkConn {
	conns := srv.connections()
	conns = slices.DeleteFunc(conns, func(c *zkConn) bool { return c == self || c.fourLetter.Load() })
	slices.SortFunc(conns, func(a, b *zkConn) int { return a.established.Compare(b.established) })
	return conns
}

// connFigures are a connection's session and latency figures at one
// moment, as cons and the connections command report them.
type connFigures struct {
	sid                int64
	timeout            time.Duration
	lastOp             string
	lastCxid, lastZxid int64
	lastResp           int64 // ms since the epoch; 0 before the first reply
	lastLat, minLat    int64
	avgLat, maxLat     int64
}

// figures reads the connection's figures consistently.
func (c *zkConn) figures() connFigures {
	var f connFigures
	if ss := c.sess.Load(); ss != nil {
		f.sid, f.timeout = ss.Session().ID(), ss.Session().Timeout()
	}
	st := &c.cstats
	st.mu.Lock()
	defer st.mu.Unlock()
	f.lastOp, f.lastCxid, f.lastZxid = st.lastOp, int64(st.lastCxid), int64(st.lastZxid)
	f.lastLat, f.minLat, f.maxLat = st.lastLat, st.minLat, st.maxLat
	if st.count > 0 {
		f.avgLat = st.totalLat / st.count
	} else {
		f.minLat = 0
	}
	if !st.lastResp.IsZero() {
		f.lastResp = st.lastResp.UnixMilli()
	}
	return f
}

// dumpInfo writes a connection as ZooKeeper's ServerCnxn.dumpConnectionInfo
// does. The full form always carries lcxid (ZooKeeper omits it before the
// first request), so go-zookeeper/zk's FLWCons parses every line.
func (c *zkConn) dumpInfo(b *strings.Builder, brief bool) {
	st := &c.cstats
	fmt.Fprintf(b, " %s[1](queued=%d,recved=%d,sent=%d", c.remote, st.queued.Load(), st.received.Load(), st.sent.Load())
	if !brief {
		f := c.figures()
		fmt.Fprintf(b, ",sid=0x%x,lop=%s,est=%d,to=%d,lcxid=0x%x,lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			f.sid, f.lastOp, c.established.UnixMilli(), f.timeout.Milliseconds(), uint64(f.lastCxid),
			uint64(f.lastZxid), f.lastResp, f.lastLat, f.minLat, f.avgLat, f.maxLat)
	}
	b.WriteString(")")
}

// monitor writes mntr's "zk_<key>\t<value>" lines.
func (srv *Server) monitor(b *strings.Builder) {
	minL, avgL, maxL := srv.stats.latencies()
	st := srv.n.Stats()
	kv := func(k string, v any) { fmt.Fprintf(b, "zk_%s\t%v\n", k, v) }
	kv("version", zkFullVersion)
	kv("server_state", srv.mode())
	kv("avg_latency", javaDouble(avgL))
	kv("max_latency", maxL)
	kv("min_latency", minL)
	kv("packets_received", srv.stats.received.Load())
	kv("packets_sent", srv.stats.sent.Load())
	kv("num_alive_connections", srv.numConnections())
	kv("outstanding_requests", srv.stats.outstanding.Load())
	kv("uptime", time.Since(srv.started).Milliseconds())
	kv("znode_count", nodeCount(st))
	kv("watch_count", st.Watches)
	kv("ephemerals_count", st.Ephemerals)
	// DataTree.approximateDataSize: path length plus data length.
	kv("approximate_data_size", st.DataSize)
	kv("global_sessions", st.GlobalSessions)
	kv("local_sessions", len(st.Sessions))
	openFDs, maxFDs := fdCounts()
	if openFDs >= 0 {
		kv("open_file_descriptor_count", openFDs)
	}
	if maxFDs >= 0 {
		kv("max_file_descriptor_count", maxFDs)
	}
	if st.Role != "standalone" {
		kv("peer_state", peerState(st.Role))
	}
	if st.Role == "leader" {
		// LeaderZooKeeperServer's gauges, and zk_followers as ZooKeeper
		// before 3.6 and the tools written for it name the voting ones.
		var followers, synced, syncedNonVoting int
		learners := srv.n.Followers()
		for _, f := range learners {
			if f.Voter {
				followers++
			}
			if f.Synced && f.Voter {
				synced++
			} else if f.Synced {
				syncedNonVoting++
			}
		}
		kv("learners", len(learners))
		kv("followers", followers)
		kv("synced_followers", synced)
		kv("synced_non_voting_followers", 0) // coord's non-voters are its observers
		kv("synced_observers", syncedNonVoting)
		kv("pending_syncs", srv.n.ProposerStats().PendingSyncs)
	}
	// coord's own keys; mntr prefixes every key with zk_, as ZooKeeper's
	// MonitorCommand does (the AdminServer's JSON has them bare).
	kv("coord_log_format_active", st.LogFormatActive)
	kv("coord_log_format_max", st.LogFormatMax)
}

// peerState is ZooKeeper's QuorumPeer.getDetailedPeerState for a peer in
// its broadcast phase (a node that is not is answered notServing).
func peerState(role string) string {
	switch role {
	case "leader":
		return "leading - broadcast"
	case "observer":
		return "observing - broadcast"
	}
	return "following - broadcast"
}

// conf writes ZooKeeper's dumpConf lines.
func (srv *Server) conf(b *strings.Builder) {
	cfg := srv.n.Config()
	port := "0"
	if srv.ln != nil {
		if i := strings.LastIndexByte(srv.ln.Addr().String(), ':'); i >= 0 {
			port = srv.ln.Addr().String()[i+1:]
		}
	}
	maxCnxns := srv.cfg.MaxClientCnxns
	if maxCnxns < 0 {
		maxCnxns = 0 // ZooKeeper's "no limit"
	}
	dataSize, logSize := srv.n.DiskUsage()
	for _, kv := range [][2]string{
		{"clientPort", port},
		{"secureClientPort", "-1"},
		{"dataDir", cfg.DataDir},
		{"dataDirSize", strconv.FormatInt(dataSize, 10)},
		{"dataLogDir", cfg.DataDir},
		{"dataLogSize", strconv.FormatInt(logSize, 10)},
		{"tickTime", strconv.FormatInt(cfg.TickTime.Milliseconds(), 10)},
		{"maxClientCnxns", strconv.Itoa(maxCnxns)},
		{"minSessionTimeout", strconv.FormatInt(cfg.MinSessionTimeout.Milliseconds(), 10)},
		{"maxSessionTimeout", strconv.FormatInt(cfg.MaxSessionTimeout.Milliseconds(), 10)},
		{"clientPortListenBacklog", "-1"},
		{"serverId", cfg.NodeID},
	} {
		b.WriteString(kv[0] + "=" + kv[1] + "\n")
	}
}

// watchReport writes wchs (summary), wchc (by session) or wchp (by path)
// in ZooKeeper's formats. Watches of in-process sessions are included.
func watchReport(b *strings.Builder, cmd string, st coord.NodeStats) {
	bySession := make(map[int64]map[string]struct{})
	byPath := make(map[string]map[int64]struct{})
	for _, s := range st.Sessions {
		for _, p := range s.Watches {
			if bySession[s.ID] == nil {
				bySession[s.ID] = make(map[string]struct{})
			}
			bySession[s.ID][p] = struct{}{}
			if byPath[p] == nil {
				byPath[p] = make(map[int64]struct{})
			}
			byPath[p][s.ID] = struct{}{}
		}
	}

	switch cmd {
	case "wchs":
		total := 0
		for _, paths := range bySession {
			total += len(paths)
		}
		fmt.Fprintf(b, "%d connections watching %d paths\nTotal watches:%d\n", len(bySession), len(byPath), total)
	case "wchc":
		for _, id := range sortedKeys(bySession) {
			fmt.Fprintf(b, "0x%x\n", id)
			for _, p := range sortedKeys(bySession[id]) {
				b.WriteString("\t" + p + "\n")
			}
		}
		b.WriteString("\n")
	case "wchp":
		for _, p := range sortedKeys(byPath) {
			b.WriteString(p + "\n")
			for _, id := range sortedKeys(byPath[p]) {
				fmt.Fprintf(b, "\t0x%x\n", id)
			}
		}
		b.WriteString("\n")
	}
}

func sortedKeys[K int64 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// dump writes sessions, ephemerals and connections, after ZooKeeper's dump.
func (srv *Server) dump(b *strings.Builder) {
	st := srv.n.Stats() // sessions sorted by id
	byTimeout := make(map[int64][]int64)
	for _, s := range st.Sessions {
		byTimeout[s.Timeout.Milliseconds()] = append(byTimeout[s.Timeout.Milliseconds()], s.ID)
	}
	b.WriteString("SessionTracker dump:\n")
	fmt.Fprintf(b, "Session Sets (%d)/(%d):\n", len(byTimeout), len(st.Sessions))
	now := time.Now()
	for _, ms := range sortedKeys(byTimeout) {
		ids := byTimeout[ms]
		at := now.Add(time.Duration(ms) * time.Millisecond).Format("Mon Jan 02 15:04:05 MST 2006")
		fmt.Fprintf(b, "%d expire at %s:\n", len(ids), at)
		for _, id := range ids {
			fmt.Fprintf(b, "\t0x%x\n", id)
		}
	}

	b.WriteString("ephemeral nodes dump:\n")
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(st.EphemeralsBySession))
	for _, id := range sortedKeys(st.EphemeralsBySession) {
		fmt.Fprintf(b, "0x%x:\n", id)
		for _, p := range st.EphemeralsBySession[id] {
			b.WriteString("\t" + p + "\n")
		}
	}

	b.WriteString("Connections dump:\n")
	conns := srv.clientConns(nil)
	fmt.Fprintf(b, "Connections Sets (%d)/(%d)\n", min(len(conns), 1), len(conns))
	if len(conns) > 0 {
		fmt.Fprintf(b, "%d expire in 0 ms:\n", len(conns))
		for _, c := range conns {
			var sid int64
			if ss := c.sess.Load(); ss != nil {
				sid = ss.Session().ID()
			}
			fmt.Fprintf(b, "\tip: %s sessionId: 0x%x\n", c.remote, sid)
		}
	}
}
