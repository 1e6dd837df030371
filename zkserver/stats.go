package zkserver

import (
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord/zkwire"
)

// latencyBuckets are the upper bounds, in microseconds, of the request
// latency histogram: powers of two from 64µs to about 67s.
var latencyBuckets = func() []int64 {
	var b []int64
	for us := int64(64); us <= 1<<26; us *= 2 {
		b = append(b, us)
	}
	return b
}()

// latencyHist is a cumulative latency histogram kept with atomics.
type latencyHist struct {
	count  atomic.Int64
	sumUs  atomic.Int64
	bucket [27]atomic.Int64 // len(latencyBuckets)+1, the last is +Inf
}

func (h *latencyHist) observe(d time.Duration) {
	us := d.Microseconds()
	h.count.Add(1)
	h.sumUs.Add(us)
	i := 0
	for i < len(latencyBuckets) && us > latencyBuckets[i] {
		i++
	}
	h.bucket[i].Add(1)
}

// Latency is a latency distribution: a count, a sum, and cumulative counts
// at bucket upper bounds.
type Latency struct {
	Count int64
	Sum   time.Duration
	// Buckets maps each upper bound to the requests that took at most
	// that long (cumulative, as Prometheus' histograms). The last bound is
	// the largest finite one; Count covers the rest.
	Buckets []LatencyBucket
}

// LatencyBucket is one bucket of a Latency.
type LatencyBucket struct {
	UpperBound time.Duration
	Count      int64
}

// Quantile estimates the q-quantile (0..1) from the buckets, as the upper
// bound of the bucket it falls in; 0 when empty.
func (l Latency) Quantile(q float64) time.Duration {
	if l.Count == 0 {
		return 0
	}
	rank := int64(q*float64(l.Count) + 0.5)
	for _, b := range l.Buckets {
		if b.Count >= rank {
			return b.UpperBound
		}
	}
	if len(l.Buckets) > 0 {
		return l.Buckets[len(l.Buckets)-1].UpperBound
	}
	return 0
}

func (h *latencyHist) snapshot() Latency {
	l := Latency{Count: h.count.Load(), Sum: time.Duration(h.sumUs.Load()) * time.Microsecond}
	var cum int64
	for i, ub := range latencyBuckets {
		cum += h.bucket[i].Load()
		l.Buckets = append(l.Buckets, LatencyBucket{UpperBound: time.Duration(ub) * time.Microsecond, Count: cum})
	}
	return l
}

// isUpdate tells ZooKeeper's update requests (its updatelatency) from its
// reads (readlatency).
func isUpdate(op int32) bool {
	switch op {
	case zkwire.OpCreate, zkwire.OpCreate2, zkwire.OpCreateContainer, zkwire.OpCreateTTL,
		zkwire.OpDelete, zkwire.OpSetData, zkwire.OpSetACL, zkwire.OpMulti, zkwire.OpReconfig:
		return true
	}
	return false
}

// isRead tells the requests ZooKeeper counts as reads.
func isRead(op int32) bool {
	switch op {
	case zkwire.OpExists, zkwire.OpGetData, zkwire.OpGetACL, zkwire.OpGetChildren, zkwire.OpGetChildren2,
		zkwire.OpMultiRead, zkwire.OpGetEphemerals, zkwire.OpGetAllChildrenNumber:
		return true
	}
	return false
}

// Stats are the wire server's figures, for monitoring.
type Stats struct {
	PacketsReceived int64
	PacketsSent     int64
	Outstanding     int64 // requests being executed
	Connections     int   // open connections, four-letter words included
	Uptime          time.Duration

	// MinLatency, AvgLatency and MaxLatency are srvr's figures (since the
	// last srst).
	MinLatency, AvgLatency, MaxLatency time.Duration

	// Read and Update are the latencies of read and update requests since
	// the server started (ZooKeeper's readlatency and updatelatency).
	Read, Update Latency
}

// Stats returns the server's current figures.
func (srv *Server) Stats() Stats {
	st := &srv.stats
	s := Stats{
		PacketsReceived: st.received.Load(),
		PacketsSent:     st.sent.Load(),
		Outstanding:     st.outstanding.Load(),
		Connections:     srv.numConnections(),
		Uptime:          time.Since(srv.started),
		Read:            st.read.snapshot(),
		Update:          st.update.snapshot(),
	}
	if n := st.latCount.Load(); n > 0 {
		minUs := st.latMin.Load()
		if minUs == 1<<63-1 {
			minUs = 0
		}
		s.MinLatency = time.Duration(minUs) * time.Microsecond
		s.AvgLatency = time.Duration(st.latTotal.Load()/n) * time.Microsecond
		s.MaxLatency = time.Duration(st.latMax.Load()) * time.Microsecond
	}
	return s
}

// fdCounts returns the open and maximum file descriptor counts
// (ZooKeeper's open_file_descriptor_count and max_file_descriptor_count),
// -1 when they cannot be read.
func fdCounts() (open, maxFDs int64) {
	open, maxFDs = -1, -1
	dir := "/proc/self/fd"
	if runtime.GOOS != "linux" {
		dir = "/dev/fd"
	}
	if ents, err := os.ReadDir(dir); err == nil {
		open = int64(len(ents)) - 1 // the directory ReadDir itself opened
	}
	maxFDs = maxFileDescriptors()
	return open, maxFDs
}
