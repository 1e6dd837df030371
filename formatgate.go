package coord

import (
	"context"
	"encoding/binary"
	"time"
)

// The format gate: the leader raises the ensemble's active log format
// (command.go) once every member of the configuration, voters and
// non-voters, says it reads the next one. Members answer rpcInfo with the
// highest format they read; a node from before the gate answers "unknown
// rpc", which means format 1. An unreachable member holds the format
// where it is: raising it would stop that member when it catches up.

// formatCheckInterval is how often the leader looks for a format to raise.
const formatCheckInterval = 2 * time.Second

// maybeRaiseFormat runs on the leader's tick.
func (n *Node) maybeRaiseFormat() {
	active := n.fsm.activeFormat()
	if active >= logFormatMax || !n.leads() {
		return
	}
	next := active + 1
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ElectionTimeout)
	defer cancel()
	if n.mux != nil {
		servers, err := n.replica.Servers()
		if err != nil {
			return
		}
		for _, s := range servers {
			if s.ID == n.cfg.NodeID {
				continue
			}
			f, err := n.memberFormat(ctx, s.Addr)
			if err != nil {
				n.log.Debug("log format: member not reachable", "id", s.ID, "err", err)
				return
			}
			if f < next {
				return
			}
		}
	}
	if _, err := n.proposer.propose(ctx, command{kind: opSetFormat, version: int32(next)}); err != nil {
		n.log.Debug("raising the log format", "to", next, "err", err)
		return
	}
	n.log.Info("the ensemble's log format rose", "from", active, "to", next)
}

// memberFormat asks the member at addr for the highest log format it reads.
func (n *Node) memberFormat(ctx context.Context, addr string) (uint8, error) {
	c, err := n.rpc.Get(ctx, addr)
	if err != nil {
		return 0, err
	}
	select {
	case r := <-c.Send(rpcInfo, nil):
		switch {
		case r.Err != nil:
			return 0, r.Err
		case r.Status == rpcOK:
			v, k := binary.Uvarint(r.Payload)
			if k <= 0 || v > 255 {
				return 0, errCorrupt
			}
			return uint8(v), nil
		default:
			return logFormat1, nil // a node from before the format gate
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// LogFormat returns the ensemble's active log format, as this node has
// applied it, and the highest format this build reads.
func (n *Node) LogFormat() (active, max int) {
	return int(n.fsm.activeFormat()), logFormatMax
}
