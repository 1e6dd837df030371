package zkserver

import (
	"strconv"
	"strings"

	"github.com/coordkit/coord"
)

// This file exports what ZooKeeper's AdminServer commands report about the
// wire server (package admin serves them as JSON): the same figures the
// four-letter words print.

// NotServing is ZooKeeper's answer to srvr, stat, mntr and cons while the
// server is not serving requests (it has no quorum).
const NotServing = "This ZooKeeper instance is not currently serving requests"

// Version is the server version srvr, mntr and envi report.
const Version = zkFullVersion

// Serving reports whether the node serves requests: it is part of a
// quorum with a leader. srvr, stat, mntr and cons answer NotServing when it
// does not.
func (srv *Server) Serving() bool { return srv.serving() }

// Node returns the node the server serves.
func (srv *Server) Node() *coord.Node { return srv.n }

// Config returns the server's configuration, with defaults filled in.
func (srv *Server) Config() Config { return srv.cfg }

// KeyValue is one mntr figure: ZooKeeper's key (without mntr's "zk_"
// prefix) and its value.
type KeyValue struct {
	Key   string
	Value any
}

// Monitor returns mntr's figures, in mntr's order (ZooKeeper's
// dumpMonitorValues and its gauges).
func (srv *Server) Monitor() []KeyValue {
	var b strings.Builder
	srv.monitor(&b)
	var out []KeyValue
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		k = strings.TrimPrefix(k, "zk_")
		var val any = v
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			val = i
		} else if f, err := strconv.ParseFloat(v, 64); err == nil && k != "version" {
			val = f
		}
		out = append(out, KeyValue{k, val})
	}
	return out
}

// ConnectionInfo describes the client connections (not four-letter words),
// oldest first, as ZooKeeper's ServerCnxn.getConnectionInfo: brief gives
// the address and counters only.
func (srv *Server) ConnectionInfo(brief bool) []map[string]any {
	conns := srv.clientConns(nil)
	out := make([]map[string]any, 0, len(conns))
	for _, c := range conns {
		st := &c.cstats
		m := map[string]any{
			"remote_socket_address": strings.TrimPrefix(c.remote, "/"),
			"interest_ops":          1, // OP_READ
			"outstanding_requests":  st.queued.Load(),
			"packets_received":      st.received.Load(),
			"packets_sent":          st.sent.Load(),
		}
		if !brief {
			f := c.figures()
			m["session_id"] = f.sid
			m["last_operation"] = f.lastOp
			m["established"] = c.established.Format("Mon Jan 02 15:04:05 MST 2006")
			m["session_timeout"] = f.timeout.Milliseconds()
			m["last_cxid"] = f.lastCxid
			m["last_zxid"] = f.lastZxid
			m["last_response_time"] = f.lastResp
			m["last_latency"] = f.lastLat
			m["min_latency"] = f.minLat
			m["avg_latency"] = f.avgLat
			m["max_latency"] = f.maxLat
		}
		out = append(out, m)
	}
	return out
}

// ResetStats resets the server's counters (srst).
func (srv *Server) ResetStats() { srv.stats.reset() }

// ResetConnectionStats resets every connection's counters (crst).
func (srv *Server) ResetConnectionStats() {
	for _, c := range srv.connections() {
		c.cstats.reset()
	}
}

// FileDescriptors returns the process's open file descriptors and its
// limit (ZooKeeper's open_file_descriptor_count and
// max_file_descriptor_count); -1 where they cannot be read.
func FileDescriptors() (open, max int64) { return fdCounts() }
