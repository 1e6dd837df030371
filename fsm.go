package coord

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord/raftfsm"
)

// fsm is raft's state machine over the tree. raft calls Apply, ApplyBatch,
// Snapshot and Restore from its one FSM goroutine, never concurrently with
// each other; readers on other goroutines take mu for reading.
type fsm struct {
	halted atomic.Bool  // see halt
	format atomic.Int32 // the tree's active log format, for the proposer

	node *Node

	mu        sync.RWMutex
	t         *tree  // guarded by mu
	snapEpoch uint32 // guarded by mu: epoch of the last snapshot stream

	// Scratch space of ApplyBatch, reused from batch to batch (raft calls
	// it from one goroutine).
	entBuf []entry
	resBuf []result
	outBuf []delivery

	appliedMu   sync.Mutex
	applied     uint64        // raft index of the last applied entry; guarded by appliedMu
	appliedCond chan struct{} // closed and replaced when applied moves; guarded by appliedMu
}

func newFSM(n *Node, limits treeLimits) *fsm {
	f := &fsm{node: n, t: newTree(limits), appliedCond: make(chan struct{})}
	f.t.keepEffects = true
	f.format.Store(int32(f.t.format))
	return f
}

var _ raftfsm.StateMachine = (*fsm)(nil)

// ApplyBatch implements raftfsm.StateMachine: one lock for many entries.
func (f *fsm) ApplyBatch(logs []raftfsm.Entry) {
	out := f.outBuf[:0]
	var closed []closedSession
	var opened []int64
	var moved []movedSession
	var timeouts []int32
	var last uint64
	f.mu.Lock()
	for _, l := range logs {
		last = l.Index
		if !l.Command {
			continue
		}
		if f.halted.Load() {
			continue
		}
		err := splitEntry(l.Data, func(data []byte, time int64, grouped bool) error {
			b, err := decodeBatchInto(data, f.entBuf)
			if errors.Is(err, errUnknownFormat) {
				return err // a format this node cannot read: halt below
			}
			if err != nil {
				// Every replica decodes the same bytes the same way, so
				// skipping keeps them in step; the batch's proposer learns
				// that it was not applied (see proposer.settleAfter). It can
				// only mean a bug or corruption.
				f.node.log.Error("skipping undecodable batch", "index", l.Index, "err", err)
				return nil
			}
			if grouped {
				b.time = time
			}
			res := f.t.applyBatchInto(&b, f.resBuf)
			for i := range res {
				if b.entries[i].origin == f.node.tag {
					out = append(out, delivery{b.entries[i].seq, res[i]})
				}
			}
			// Keep the storage, not what it points to.
			clear(b.entries)
			clear(res)
			f.entBuf, f.resBuf = b.entries, res
			return nil
		})
		switch {
		case errors.Is(err, errUnknownFormat):
			f.halt(l.Index, l.Data)
		case err != nil:
			// A malformed group: skipped whole, by every replica alike.
			f.node.log.Error("skipping undecodable raft entry", "index", l.Index, "err", err)
		}
		o, c, mv := f.t.takeSessionChanges()
		moved = append(moved, mv...)
		for _, id := range o {
			if e, ok := f.t.sessions[id]; ok { // it may have ended in the same entry
				opened = append(opened, id)
				timeouts = append(timeouts, e.timeout)
			}
		}
		closed = append(closed, c...)
	}
	// Still under the write lock: no read sees this state before its
	// watch events are queued (doc.go's ordering guarantee).
	f.runEffects(f.t.takeEffects())
	f.format.Store(int32(f.t.format))
	f.mu.Unlock()

	if len(opened) > 0 {
		now := time.Now()
		for i, id := range opened {
			f.node.tracker.touch(id, time.Duration(timeouts[i])*time.Millisecond, now)
		}
	}
	for _, c := range closed {
		f.node.sessionEnded(c.id, c.expired)
	}
	for _, m := range moved {
		if m.from == f.node.tag {
			f.node.sessionMoved(m.id)
		}
	}
	for _, d := range out {
		f.node.proposer.deliver(d.seq, d.res)
	}
	clear(out)
	f.outBuf = out
	f.setApplied(last)
	f.node.proposer.applied(last)
}

// activeFormat is the ensemble's active log format as this node applied
// it.
func (f *fsm) activeFormat() uint8 { return uint8(f.format.Load()) }

// runEffects does, in order, what apply asked for. Called with mu held
// for writing; it must not block (the registry queues events without
// waiting on their consumers).
func (f *fsm) runEffects(effects []effect) {
	for i := range effects {
		e := &effects[i]
		switch {
		case e.session != 0:
			f.node.markSessionEnding(e.session, e.expired)
		case e.restored != nil:
			f.catchUpWatchesLocked(e.restored, f.t)
		default:
			f.node.watches.trigger(e.fire.typ, e.fire.path, e.zxid, e.fire.acl)
		}
		*e = effect{} // drop references to paths and ACLs
	}
}

// appliedIndex is the raft index of the last entry applied.
func (f *fsm) appliedIndex() uint64 {
	f.appliedMu.Lock()
	defer f.appliedMu.Unlock()
	return f.applied
}

func (f *fsm) setApplied(idx uint64) {
	f.appliedMu.Lock()
	if idx > f.applied {
		f.applied = idx
		close(f.appliedCond)
		f.appliedCond = make(chan struct{})
	}
	f.appliedMu.Unlock()
}

// sessionTimeouts returns every replicated session's timeout in ms.
func (f *fsm) sessionTimeouts() map[int64]int32 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m := make(map[int64]int32, len(f.t.sessions))
	for id, s := range f.t.sessions {
		m[id] = s.timeout
	}
	return m
}

// Snapshot implements raftfsm.StateMachine: it marks the tree and returns
// a snapshot that streams while apply continues (snapshot_cow.go).
func (f *fsm) Snapshot() (raftfsm.Snapshot, error) {
	if f.halted.Load() {
		return nil, errHalted
	}
	// A backup may be streaming (backup.go): raft tries again at its next
	// snapshot interval.
	s, err := f.trySnapshotCOW()
	if err != nil {
		return nil, err
	}
	return s, nil
}

var errHalted = errors.New("coord: apply halted at an entry of an unknown format")

// halt stops this node's apply for good at an entry it cannot read (it
// comes from a newer version): it applies nothing more, takes no
// snapshot, and closes the node, so that it fails where an operator sees
// it instead of drifting apart from the ensemble. A restart after an
// upgrade replays the log from there.
func (f *fsm) halt(index uint64, data []byte) {
	if f.halted.Swap(true) {
		return
	}
	format := -1
	if len(data) > 0 {
		format = int(data[0])
	}
	f.node.fail(fmt.Errorf("%w: index %d, format %d: this node stops; upgrade it", errHalted, index, format))
}

// Restore implements raftfsm.StateMachine.
func (f *fsm) Restore(r io.Reader) error {
	buf, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	t, err := decodeSnapshot(buf, f.t.limits)
	if err != nil {
		return err
	}
	f.mu.Lock()
	t.keepEffects = true
	old := f.t
	f.t = t
	f.format.Store(int32(t.format))
	f.catchUpWatchesLocked(old, t)
	f.mu.Unlock()
	f.catchUpSessions(t)
	f.node.proposer.restored()
	return nil
}

// catchUpWatchesLocked fires, after a snapshot replaced the tree, the
// events the skipped log range would have fired for the paths this node
// watches (ZooKeeper's SetWatches rules). Persistent-recursive watches
// cannot be caught up path by path; they end with EventNotWatching so
// their owners re-read and watch again.
func (f *fsm) catchUpWatchesLocked(old, t *tree) {
	r := f.node.watches
	for _, p := range r.watchedPaths() {
		o, n := old.nodes[p], t.nodes[p]
		switch {
		case o != nil && n == nil:
			r.trigger(EventNodeDeleted, p, t.zxid, old.acls.get(o.acl))
		case o == nil && n != nil:
			r.trigger(EventNodeCreated, p, t.zxid, t.acls.get(n.acl))
		case o != nil && n != nil:
			if o.mzxid != n.mzxid {
				r.trigger(EventNodeDataChanged, p, t.zxid, t.acls.get(n.acl))
			}
			if o.pzxid != n.pzxid {
				r.trigger(EventNodeChildrenChanged, p, t.zxid, t.acls.get(n.acl))
			}
		}
	}
	r.endKind(watchRecursive, ErrConnectionLoss)
}

// catchUpSessions ends local sessions that the snapshot shows closed,
// expired or attached elsewhere.
func (f *fsm) catchUpSessions(t *tree) {
	n := f.node
	n.mu.Lock()
	local := make([]int64, 0, len(n.sessions))
	for id := range n.sessions {
		local = append(local, id)
	}
	n.mu.Unlock()
	for _, id := range local {
		f.mu.RLock()
		e, ok := t.sessions[id]
		moved := ok && e.owner != 0 && e.owner != n.tag
		f.mu.RUnlock()
		switch {
		case !ok:
			n.sessionEnded(id, true)
		case moved:
			n.sessionMoved(id)
		}
	}
}

// delivery is a result for a command this node proposed.
type delivery struct {
	seq uint64
	res result
}
