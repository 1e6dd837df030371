// Package metrics exposes a coord Node, its ZooKeeper wire server, raft
// and the raft log store as Prometheus metrics.
//
// One call registers a node's collectors into a registry of the
// embedder's:
//
//	reg := prometheus.NewRegistry()
//	if err := metrics.Register(reg, node, metrics.Options{Wire: wire}); err != nil { ... }
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Names follow ZooKeeper's Prometheus metrics provider where ZooKeeper has
// the figure (znode_count, watch_count, ephemerals_count,
// approximate_data_size, num_alive_connections, outstanding_requests,
// readlatency, updatelatency, ...), and coord_* for the rest. hashicorp/raft
// reports its own timings through go-metrics; RaftMetrics turns those into
// coord_raft_* metrics, for the whole process (every Node in it).
package metrics

import (
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures NewCollector.
type Options struct {
	// Wire, when set, adds the wire server's figures (connections,
	// packets, latencies).
	Wire *zkserver.Server
	// ConstLabels are added to every metric, e.g. {"node": id} when one
	// registry holds several nodes.
	ConstLabels prometheus.Labels
}

// Register registers into reg the collector of n (NewCollector) and the
// process-wide collectors of raft (RaftMetrics) and the log store
// (BadgerMetrics). The process-wide ones may already be registered (by an
// earlier call for another node): that is not an error.
func Register(reg prometheus.Registerer, n *coord.Node, o Options) error {
	if err := reg.Register(NewCollector(n, o)); err != nil {
		return err
	}
	for _, c := range []prometheus.Collector{RaftMetrics(), BadgerMetrics()} {
		if err := reg.Register(c); err != nil {
			if _, ok := err.(prometheus.AlreadyRegisteredError); !ok {
				return err
			}
		}
	}
	return nil
}

type desc struct {
	d   *prometheus.Desc
	typ prometheus.ValueType
}

// collector reads a Node (and its wire server) at each scrape.
type collector struct {
	n    *coord.Node
	wire *zkserver.Server
	d    map[string]desc
	lat  map[string]*prometheus.Desc // summaries
}

// NewCollector returns a collector of n's figures (and o.Wire's). It reads
// them at each scrape.
func NewCollector(n *coord.Node, o Options) prometheus.Collector {
	c := &collector{n: n, wire: o.Wire, d: map[string]desc{}, lat: map[string]*prometheus.Desc{}}
	g, k := prometheus.GaugeValue, prometheus.CounterValue
	add := func(name string, typ prometheus.ValueType, help string, labels ...string) {
		c.d[name] = desc{prometheus.NewDesc(name, help, labels, o.ConstLabels), typ}
	}
	// ZooKeeper's names.
	add("znode_count", g, "Nodes in the tree, counted as ZooKeeper's DataTree.getNodeCount (the root twice).")
	add("watch_count", g, "Watches of the sessions attached to this server.")
	add("ephemerals_count", g, "Ephemeral nodes of all sessions.")
	add("approximate_data_size", g, "Sum of every node's path and data lengths, in bytes.")
	add("global_sessions", g, "Sessions of the ensemble.")
	add("local_sessions", g, "Sessions attached to this server.")
	add("learners", g, "Other members of the ensemble, on the leader.")
	add("synced_followers", g, "Voting followers the leader reaches, on the leader.")
	add("synced_observers", g, "Observers the leader reaches, on the leader.")
	add("pending_syncs", g, "Syncs waiting for their place in the log to apply.")
	// coord's.
	add("coord_up", g, "1 while the node runs (Node.Healthy).")
	add("coord_has_quorum", g, "1 while the node is part of a quorum with a leader (Node.HasQuorum).")
	add("coord_role", g, "1 for the node's role (standalone, leader, follower, observer).", "role")
	add("coord_zxid", g, "The last zxid applied.")
	add("coord_log_format_active", g, "The raft log format this node writes.")
	add("coord_log_format_max", g, "The newest raft log format this node reads.")
	add("coord_data_dir_bytes", g, "Bytes in the data directory (ZooKeeper's dataDirSize).")
	add("coord_data_log_bytes", g, "Bytes of the raft log on disk (ZooKeeper's dataLogSize).")
	add("coord_raft_term", g, "The raft term.")
	add("coord_raft_is_leader", g, "1 while this node's raft leads.")
	add("coord_raft_commit_index", g, "The raft commit index as this node knows it.")
	add("coord_raft_applied_index", g, "The last raft index applied here.")
	add("coord_raft_last_log_index", g, "The last raft index in the log.")
	add("coord_raft_apply_lag_entries", g, "Committed entries not yet applied here (commit index - applied index).")
	add("coord_raft_log_entries", g, "Entries in the raft log past the latest snapshot.")
	add("coord_raft_last_snapshot_index", g, "The index of the latest snapshot.")
	add("coord_raft_last_contact_seconds", g, "Seconds since this follower last heard from the leader (0 on the leader).")
	add("coord_raft_num_peers", g, "Other voters in the raft configuration.")
	add("coord_raft_log_store_bytes", g, "Bytes badger reports for the raft log store.", "part")
	add("coord_raft_snapshot_bytes", g, "Bytes of snapshots on disk.")
	add("coord_raft_follower_synced", g, "On the leader, 1 for each follower raft reaches, 0 while its heartbeats fail.", "follower", "voter")
	add("coord_raft_follower_unreachable_seconds", g, "On the leader, seconds since a follower whose heartbeats fail last answered.", "follower")
	add("coord_proposer_batches_total", k, "Raft entries this node proposed or forwarded with commands of its own.")
	add("coord_proposer_commands_total", k, "Commands in those entries (commands/batches is the mean batch size).")
	add("coord_proposer_last_batch_size", g, "Commands in the latest entry.")
	add("coord_proposer_entries_in_flight", g, "Entries on their way to raft, not yet settled.")
	add("coord_proposer_forward_timeouts_total", k, "Forwards to the leader given up on.")
	add("coord_proposer_leader_changes_total", k, "Forwards settled because the leader changed.")
	add("coord_proposer_stale_forwards_total", k, "Forwards dropped as received in an earlier term.")
	if o.Wire != nil {
		add("num_alive_connections", g, "Open client connections.")
		add("outstanding_requests", g, "Requests being executed.")
		add("packets_received", k, "Packets received from clients.")
		add("packets_sent", k, "Packets sent to clients.")
		add("uptime", g, "Milliseconds since the wire server started.")
		add("min_latency", g, "Smallest request latency since the last srst, ms.")
		add("avg_latency", g, "Mean request latency since the last srst, ms.")
		add("max_latency", g, "Largest request latency since the last srst, ms.")
		add("open_file_descriptor_count", g, "Open file descriptors of the process.")
		add("max_file_descriptor_count", g, "The process's file descriptor limit.")
		c.lat["readlatency"] = prometheus.NewDesc("readlatency", "Latency of read requests, ms.", nil, o.ConstLabels)
		c.lat["updatelatency"] = prometheus.NewDesc("updatelatency", "Latency of update requests, ms.", nil, o.ConstLabels)
	}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d {
		ch <- d.d
	}
	for _, d := range c.lat {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	put := func(name string, v float64, labels ...string) {
		d := c.d[name]
		ch <- prometheus.MustNewConstMetric(d.d, d.typ, v, labels...)
	}
	n := c.n
	put("coord_up", b2f(n.Healthy() == nil))
	put("coord_has_quorum", b2f(n.HasQuorum()))
	st := n.Stats()
	put("znode_count", float64(st.Znodes+1))
	put("watch_count", float64(st.Watches))
	put("ephemerals_count", float64(st.Ephemerals))
	put("approximate_data_size", float64(st.DataSize))
	put("global_sessions", float64(st.GlobalSessions))
	put("local_sessions", float64(len(st.Sessions)))
	for _, r := range []string{"standalone", "leader", "follower", "observer"} {
		put("coord_role", b2f(st.Role == r), r)
	}
	put("coord_zxid", float64(st.Zxid))
	put("coord_log_format_active", float64(st.LogFormatActive))
	put("coord_log_format_max", float64(st.LogFormatMax))
	dataDir, dataLog := n.DiskUsage()
	put("coord_data_dir_bytes", float64(dataDir))
	put("coord_data_log_bytes", float64(dataLog))

	rs := n.RaftStats()
	put("coord_raft_term", float64(rs.Term))
	put("coord_raft_is_leader", b2f(rs.State == "Leader"))
	put("coord_raft_commit_index", float64(rs.CommitIndex))
	put("coord_raft_applied_index", float64(rs.AppliedIndex))
	put("coord_raft_last_log_index", float64(rs.LastLogIndex))
	var lag uint64
	if rs.CommitIndex > rs.AppliedIndex {
		lag = rs.CommitIndex - rs.AppliedIndex
	}
	put("coord_raft_apply_lag_entries", float64(lag))
	put("coord_raft_log_entries", float64(rs.LogEntries))
	put("coord_raft_last_snapshot_index", float64(rs.LastSnapshot))
	put("coord_raft_last_contact_seconds", rs.LastContact.Seconds())
	put("coord_raft_num_peers", float64(rs.NumPeers))
	put("coord_raft_log_store_bytes", float64(rs.LogStoreLSM), "lsm")
	put("coord_raft_log_store_bytes", float64(rs.LogStoreVLog), "vlog")
	put("coord_raft_snapshot_bytes", float64(rs.SnapshotBytes))

	leader := st.Role == "leader"
	var learners, syncedF, syncedO int
	if leader {
		now := time.Now()
		for _, f := range n.Followers() {
			learners++
			switch {
			case f.Synced && f.Voter:
				syncedF++
			case f.Synced:
				syncedO++
			}
			voter := "false"
			if f.Voter {
				voter = "true"
			}
			put("coord_raft_follower_synced", b2f(f.Synced), f.ID, voter)
			if !f.Synced && !f.LastContact.IsZero() {
				put("coord_raft_follower_unreachable_seconds", now.Sub(f.LastContact).Seconds(), f.ID)
			}
		}
	}
	put("learners", float64(learners))
	put("synced_followers", float64(syncedF))
	put("synced_observers", float64(syncedO))

	ps := n.ProposerStats()
	put("pending_syncs", float64(ps.PendingSyncs))
	put("coord_proposer_batches_total", float64(ps.Batches))
	put("coord_proposer_commands_total", float64(ps.Commands))
	put("coord_proposer_last_batch_size", float64(ps.LastBatch))
	put("coord_proposer_entries_in_flight", float64(ps.InFlight))
	put("coord_proposer_forward_timeouts_total", float64(ps.ForwardTimeouts))
	put("coord_proposer_leader_changes_total", float64(ps.LeaderChanges))
	put("coord_proposer_stale_forwards_total", float64(ps.StaleForwards))

	if c.wire == nil {
		return
	}
	ws := c.wire.Stats()
	put("num_alive_connections", float64(ws.Connections))
	put("outstanding_requests", float64(ws.Outstanding))
	put("packets_received", float64(ws.PacketsReceived))
	put("packets_sent", float64(ws.PacketsSent))
	put("uptime", float64(ws.Uptime.Milliseconds()))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	put("min_latency", ms(ws.MinLatency))
	put("avg_latency", ms(ws.AvgLatency))
	put("max_latency", ms(ws.MaxLatency))
	if open, maxFDs := zkserver.FileDescriptors(); open >= 0 {
		put("open_file_descriptor_count", float64(open))
		put("max_file_descriptor_count", float64(maxFDs))
	}
	for name, l := range map[string]zkserver.Latency{"readlatency": ws.Read, "updatelatency": ws.Update} {
		q := map[float64]float64{}
		for _, p := range []float64{0.5, 0.9, 0.99} {
			q[p] = ms(l.Quantile(p))
		}
		ch <- prometheus.MustNewConstSummary(c.lat[name], uint64(l.Count), ms(l.Sum), q)
	}
}
