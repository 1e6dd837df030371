package coord

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/coordkit/coord/internal/cluster"
)

// The cluster RPC's requests (internal/cluster frames them): followers
// forward write batches to the leader and heartbeat their sessions. The
// leader proposes forwarded batches in the order it reads them, so each
// session's writes keep their order.
const (
	rpcForward byte = 1
	rpcTouch   byte = 2
	rpcInfo    byte = 3 // the highest log format the member reads (formatgate.go)

	rpcOK        = cluster.StatusOK
	rpcNotLeader = cluster.StatusNotLeader
	rpcFailed    = cluster.StatusFailed
	rpcRejected  = cluster.StatusRejected // a forwarded batch that does not decode: not proposed
)

var errNotLeader = errors.New("coord: not the leader")

// handleRPC answers one request of a peer.
func (n *Node) handleRPC(typ byte, payload []byte, respond func(status byte, payload []byte)) {
	switch typ {
	case rpcForward:
		term := n.replica.Term()
		if !n.isLeader.Load() || !n.replica.Leads() || n.stopping() {
			respond(rpcNotLeader, nil)
			return
		}
		// Every replica must be able to decode what is proposed.
		if _, err := decodeBatch(payload); err != nil {
			respond(rpcRejected, []byte(err.Error()))
			return
		}
		// The batch rides in this node's next entry, with whatever else is
		// waiting; its fate comes back through settle.
		n.proposer.forwarded(payload, term, respond)
	case rpcTouch:
		now := time.Now()
		for p := payload; len(p) > 0; {
			v, k := binary.Varint(p)
			if k <= 0 {
				break
			}
			p = p[k:]
			n.tracker.touch(v, 0, now)
		}
		respond(rpcOK, nil)
	case rpcInfo:
		max := uint64(logFormatMax)
		if v := n.proposer.advertiseFormat.Load(); v > 0 { // tests: an older member
			max = uint64(v)
		}
		respond(rpcOK, binary.AppendUvarint(nil, max))
	default:
		respond(rpcFailed, []byte("unknown rpc"))
	}
}

func (n *Node) rpcAcceptLoop() {
	defer n.wg.Done()
	for {
		select {
		case c := <-n.mux.RPCConns():
			go cluster.Serve(c, n.stop, n.handleRPC)
		case <-n.mux.Done():
			return
		case <-n.stop:
			return
		}
	}
}

func (n *Node) stopping() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// leaderAddr returns the current leader's cluster address, waiting up to
// wait for one to be known. It reports false at once when the leader is
// this node: raft names it before watchLeadership has marked it leader,
// and a forward to itself would wait in its own queue behind itself.
func (n *Node) leaderAddr(wait time.Duration) (string, bool) {
	deadline := time.Now().Add(wait)
	for {
		addr, id := n.replica.Leader()
		if id == n.cfg.NodeID {
			return "", false
		}
		if addr != "" {
			return addr, true
		}
		if time.Now().After(deadline) {
			return "", false
		}
		select {
		case <-n.stop:
			return "", false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sendTouches heartbeats the local sessions to the leader.
func (n *Node) sendTouches(ids []int64) {
	if len(ids) == 0 || n.leads() {
		return
	}
	addr, ok := n.leaderAddr(0)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := n.rpc.Get(ctx, addr)
	if err != nil {
		return
	}
	var buf []byte
	for _, id := range ids {
		buf = binary.AppendVarint(buf, id)
	}
	c.Send(rpcTouch, buf)
}
