package metrics

import (
	"sync"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

var (
	raftOnce sync.Once
	raftColl prometheus.Collector
)

// RaftMetrics returns the collector of what hashicorp/raft reports through
// go-metrics, as coord_raft_* metrics: raft.commitTime (leader: from
// enqueue to commit), raft.fsm.apply and applyBatch, raft.state.leader /
// follower / candidate (elections), raft.replication.appendEntries.rpc and
// raft.replication.heartbeat by peer (replication to each follower),
// raft.snapshot.*, and the rest. go-metrics is process-wide: the first call
// installs its global sink, and the figures cover every Node in the
// process. Every call returns the same collector.
func RaftMetrics() prometheus.Collector {
	raftOnce.Do(func() {
		sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{
			Expiration: 10 * time.Minute,
			Registerer: prometheus.NewRegistry(), // registered by the caller instead
			Name:       "coord_gometrics_sink",
		})
		if err != nil {
			raftColl = unchecked{}
			return
		}
		cfg := gometrics.DefaultConfig("coord")
		cfg.EnableHostname = false
		cfg.EnableRuntimeMetrics = false // the go_* collector has them
		cfg.EnableServiceLabel = false
		if _, err := gometrics.NewGlobal(cfg, sink); err != nil {
			raftColl = unchecked{}
			return
		}
		raftColl = unchecked{sink}
	})
	return raftColl
}

// unchecked wraps a collector whose metrics cannot be described up front
// (go-metrics creates them as they are first reported) as an unchecked
// collector: it describes nothing.
type unchecked struct{ c prometheus.Collector }

func (unchecked) Describe(chan<- *prometheus.Desc) {}
func (u unchecked) Collect(ch chan<- prometheus.Metric) {
	if u.c != nil {
		u.c.Collect(ch)
	}
}

var (
	badgerOnce sync.Once
	badgerColl prometheus.Collector
)

// BadgerMetrics returns the collector of badger's expvar counters (the raft
// log store of durable nodes), as coord_badger_* metrics. badger keeps
// them per process: they cover every Node in it. Every call returns the
// same collector.
func BadgerMetrics() prometheus.Collector {
	badgerOnce.Do(func() {
		d := func(name, help string, labels ...string) *prometheus.Desc {
			return prometheus.NewDesc("coord_badger_"+name, help, labels, nil)
		}
		badgerColl = collectors.NewExpvarCollector(map[string]*prometheus.Desc{
			"badger_put_num_user":               d("puts_total", "Puts into badger."),
			"badger_get_num_user":               d("gets_total", "Gets from badger."),
			"badger_write_bytes_user":           d("written_bytes_total", "Bytes written to badger by its user."),
			"badger_write_bytes_l0":             d("l0_written_bytes_total", "Bytes written to level 0."),
			"badger_write_bytes_vlog":           d("vlog_written_bytes_total", "Bytes written to the value log."),
			"badger_read_bytes_vlog":            d("vlog_read_bytes_total", "Bytes read from the value log."),
			"badger_read_bytes_lsm":             d("lsm_read_bytes_total", "Bytes read from the LSM tree."),
			"badger_compaction_current_num_lsm": d("compactions_running", "Compactions running."),
			"badger_size_bytes_lsm":             d("lsm_size_bytes", "Size of the LSM tree, by directory.", "dir"),
			"badger_size_bytes_vlog":            d("vlog_size_bytes", "Size of the value log, by directory.", "dir"),
			"badger_write_pending_num_memtable": d("pending_writes", "Writes pending in the memtable, by directory.", "dir"),
			"badger_write_bytes_compaction":     d("compaction_written_bytes_total", "Bytes written by compactions, by level.", "level"),
		})
	})
	return badgerColl
}

// StandardCollectors are Prometheus' go_* and process_* collectors, for a
// registry of the process's own (prometheus.DefaultRegisterer has them).
func StandardCollectors() []prometheus.Collector {
	return []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
}
