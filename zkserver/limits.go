package zkserver

import (
	"errors"
	"fmt"

	"github.com/coordkit/coord/zkwire"
)

var errFrameTooLarge = errors.New("zkserver: frame larger than jute.maxbuffer")

// Resource bounds of the wire server: the frame limit (jute.maxbuffer) and
// the memory budget for queued replies, per connection and in all.
//
// Accounting: a frame's bytes are counted, on its connection (c.queuedBytes)
// and on the Server (srv.queued), from enqueue until the writer has
// written it or the connection has dropped it, so a writer blocked on a
// client that does not read still holds its batch against the budget.

const (
	// zkMinConnQueued is the least MaxConnQueuedBytes' default.
	zkMinConnQueued = 16 << 20
	// zkQueuedFrames is how many MaxFrameSize frames MaxConnQueuedBytes'
	// default holds at least.
	zkQueuedFrames = 4
	// zkMaxQueued is MaxQueuedBytes' default (at least twice the
	// per-connection cap).
	zkMaxQueued = 512 << 20
	// zkBigData is coord's default MaxDataSize: a Node whose data limit is
	// above it gets a frame limit to match.
	zkBigData = 1 << 20
)

// resolveLimits fills in the defaults of the Config's bounds.
func (srv *Server) resolveLimits() {
	cfg := &srv.cfg
	srv.frameLimit = cfg.MaxFrameSize
	if srv.frameLimit <= 0 {
		srv.frameLimit = zkwire.DefaultMaxBuffer
		if d := srv.n.Config().MaxDataSize; d > zkBigData {
			srv.frameLimit = d
		}
	}
	if cfg.MaxConnQueuedBytes == 0 {
		cfg.MaxConnQueuedBytes = max(zkMinConnQueued, zkQueuedFrames*int64(srv.frameLimit))
	}
	if cfg.MaxQueuedBytes == 0 {
		cfg.MaxQueuedBytes = zkMaxQueued
		if cfg.MaxConnQueuedBytes > 0 {
			cfg.MaxQueuedBytes = max(cfg.MaxQueuedBytes, 2*cfg.MaxConnQueuedBytes)
		}
	}
}

// FrameLimit returns the largest frame the server reads or writes
// (Config.MaxFrameSize, resolved).
func (srv *Server) FrameLimit() int { return srv.frameLimit }

// QueuedBytes returns the bytes of replies and notifications queued on all
// connections, not yet written.
func (srv *Server) QueuedBytes() int64 { return srv.queued.Load() }

// DroppedSlowReaders returns how many connections were dropped for letting
// their queued replies exceed MaxConnQueuedBytes or MaxQueuedBytes.
func (srv *Server) DroppedSlowReaders() int64 { return srv.shedCount.Load() }

// RefusedConnections returns how many connections were closed on arrival
// by MaxConnections or MaxClientCnxns.
func (srv *Server) RefusedConnections() int64 { return srv.refusedConn.Load() }

// account adds n (negative: releases) queued bytes to c and the server.
func (c *zkConn) account(n int64) {
	if n == 0 {
		return
	}
	c.queuedBytes.Add(n)
	c.srv.queued.Add(n)
}

// framesLen is the bytes of queued frames.
func framesLen(frames [][]byte) int64 {
	var n int64
	for _, f := range frames {
		n += int64(len(f))
	}
	return n
}

// overBudget drops connections, those holding the most first, until the
// server's queued bytes are within MaxQueuedBytes. It runs outside every
// connection's lock.
func (srv *Server) overBudget() {
	budget := srv.cfg.MaxQueuedBytes
	if budget <= 0 || srv.queued.Load() <= budget {
		return
	}
	if !srv.shedding.TryLock() {
		return // another shed is under way
	}
	defer srv.shedding.Unlock()
	// Bytes of dropped connections are released asynchronously (a blocked
	// writer lets go of its batch once the socket is closed): count them
	// off as they are dropped instead of waiting to see them go.
	excess := srv.queued.Load() - budget
	for excess > 0 {
		var worst *zkConn
		var most int64
		for _, c := range srv.connections() {
			if p := c.queuedBytes.Load(); p > most && !c.dropped.Load() {
				worst, most = c, p
			}
		}
		if worst == nil {
			return
		}
		srv.log.Warn("wire server over its queued-bytes budget: dropping the connection holding the most",
			"remote", worst.remote, "queued", most, "total", srv.queued.Load(), "budget", budget)
		worst.dropSlow()
		excess -= most
	}
}

// dropSlow drops a connection whose client does not read: what is queued
// goes, and the connection closes now.
func (c *zkConn) dropSlow() {
	if c.dropped.Swap(true) {
		return
	}
	c.srv.shedCount.Add(1)
	c.abort()
}

// takeOut removes and returns the queued frames, releasing their bytes
// (for tests that drive a connection without a writer).
func (c *zkConn) takeOut() [][]byte {
	c.outMu.Lock()
	out := c.out
	c.out = nil
	c.outMu.Unlock()
	c.account(-framesLen(out))
	return out
}

// decodeRequest is zkwire.DecodeRequest with the server's frame limit as
// the longest buffer, string or vector a request may hold (the frame
// itself is no longer).
func (srv *Server) decodeRequest(op int32, body []byte) (zkwire.Request, error) {
	r := zkwire.NewRequest(op)
	if r == nil {
		return nil, fmt.Errorf("%w: %d", zkwire.ErrUnknownOpcode, op)
	}
	d := zkwire.NewDecoder(body)
	d.SetMaxLength(max(srv.frameLimit, zkwire.DefaultMaxBuffer))
	r.Decode(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("zkwire: decoding %s request: %w", zkwire.OpName(op), err)
	}
	return r, nil
}
