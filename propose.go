package coord

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coordkit/coord/internal/cluster"
	"github.com/coordkit/coord/raftfsm"
)

// proposer turns commands into raft entries. Commands from every session
// queue on one channel (so each session's writes keep their order), and the
// leader packs whatever is waiting into one entry: under load one raft round
// carries hundreds of commands.
type proposer struct {
	n     *Node
	queue chan *proposal

	mu      sync.Mutex
	pending map[uint64]*proposal // guarded by mu
	nextSeq uint64               // guarded by mu
	closed  bool                 // guarded by mu

	m proposerMetrics // counters for monitoring (metrics.go)

	forwardTimeouts atomic.Int64 // forwards given up on after forwardWait
	leaderChanges   atomic.Int64 // forwards settled because the leader changed
	staleForwards   atomic.Int64 // forwards dropped: received in an earlier term
	// holdForward, when set (tests only), runs before a received forward
	// is queued.
	holdForward atomic.Pointer[func()]
	// advertiseFormat, when set (tests only), is the log format this node
	// tells the leader it reads, as an older member would.
	advertiseFormat atomic.Int32

	orphMu   sync.Mutex
	orphans  []orphanCheck // guarded by orphMu; see settleAfter
	restores int64         // snapshots restored; guarded by orphMu

	futures  chan inflight
	slotMu   sync.Mutex
	inFlight [2]int        // entries on their way, by slot kind (see acquire); guarded by slotMu
	freed    chan struct{} // a token was returned
	done     chan struct{}
}

// proposal is one command waiting for its result, or, on the leader, a
// batch another node forwarded.
type proposal struct {
	seq  uint64
	cmd  command
	sync bool // a sync marker: no command, just a place in the log
	done chan result

	fwd []byte // an encoded batch forwarded by another node
	// term is the raft term in which this node, as leader, received fwd.
	// fwd is proposed only in that same term: a batch whose sender has
	// since settled its fate through a newer leader must never be proposed
	// by this node after it wins leadership again (see forwarded).
	term uint64
	// settle answers the forwarding node once the entry carrying fwd is
	// applied here (rpcOK, with the entry's index), certainly not proposed
	// (rpcNotLeader), or of unknown fate (rpcFailed, with a message).
	settle func(status byte, payload []byte)
}

// size estimates the bytes pr adds to an entry.
func (pr *proposal) size() int {
	if pr.fwd != nil {
		return len(pr.fwd)
	}
	return commandSize(&pr.cmd)
}

func commandSize(c *command) int {
	n := 16 + len(c.path) + len(c.data) + len(c.passwd)
	for _, a := range c.acl {
		n += 8 + len(a.Scheme) + len(a.ID)
	}
	for _, id := range c.ids {
		n += 4 + len(id.Scheme) + len(id.ID)
	}
	for i := range c.ops {
		n += commandSize(&c.ops[i])
	}
	return n
}

// inflight is a proposed entry: wait reports whether it was committed
// (nil), certainly not proposed (errNotLeader), or of unknown fate.
type inflight struct {
	wait  func() (uint64, error) // the entry's index when it was applied
	seqs  []uint64
	fwds  []*proposal
	slot  int   // the kind of slot it holds
	epoch int64 // proposer.epoch when it was sent
}

// maxInflight is how many entries a node has on their way to commit at
// once. One gives the best batching (measured: ~30 commands per entry under
// 64 writers, against ~1 with no limit); raft pipelines within an entry's
// round anyway.
const maxInflight = 1

// maxFollowerInflight is the same for a follower, whose entries are
// forwards that the leader merges into its own: a second forward in flight
// spares its writers a wait of a whole round for the previous one to come
// back. Both go in order over one connection and the leader queues them in
// order, so a session's writes keep their order. They could swap only if
// the session had two writes in flight at once (the wire server serves a
// connection's requests one at a time) and the leader refused the first
// and took the second, which takes it losing and winning an election in
// between. A batch skipped as stale is proposed again (see settleAfter).
const maxFollowerInflight = 2

// maxEntryBytes bounds the commands' payload (data and paths) that one
// entry takes: an entry is closed once it reaches this much, so it stays
// far below the cluster RPC frame and the log store's limits however many
// large writes wait at once (one command or forwarded batch over it still
// goes, alone).
const maxEntryBytes = 4 << 20

// maxCommandBytes bounds one command's payload (a multi's ops together):
// one entry, alone, must stay well below the cluster RPC frame (64 MiB)
// and the log store's value-log file (64 MiB).
const maxCommandBytes = 32 << 20

// forwardWait, in election timeouts, is how long a follower waits for
// the leader to answer a forwarded batch before it settles the batch's fate
// another way.
const forwardWait = 5

// retryResult says that the command was certainly not applied (no leader,
// or the node asked was not leader, or its entry was applied without it),
// so propose may submit it again without risking a duplicate. It is no
// ZooKeeper code and never leaves the proposer.
var retryResult = result{retry: true}

// errResult builds a result carrying only an error code.
func errResult(c Code) result { return result{err: c} }

func newProposer(n *Node) *proposer {
	return &proposer{
		n:       n,
		queue:   make(chan *proposal, 4096),
		pending: make(map[uint64]*proposal),
		futures: make(chan inflight, 1024),
		freed:   make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// propose submits cmd and waits for this node to apply it. If ctx ends
// first the command may still be applied later.
func (p *proposer) propose(ctx context.Context, cmd command) (result, error) {
	for attempt := 0; ; attempt++ {
		pr := proposalPool.Get().(*proposal)
		pr.cmd = cmd
		if err := p.submit(ctx, pr); err != nil {
			return result{}, err
		}
		select {
		case r := <-pr.done:
			// Delivered: nothing else holds pr now (deliver removed it from
			// pending before sending), so it can be reused.
			*pr = proposal{done: pr.done}
			proposalPool.Put(pr)
			if !r.retry {
				return r, nil
			}
			if err := p.backoff(ctx, attempt); err != nil {
				return result{}, err
			}
		case <-ctx.Done():
			p.forget(pr.seq)
			return result{}, ctx.Err()
		}
	}
}

// proposalPool recycles delivered proposals and their channels; the write
// path allocates a few hundred bytes less per command.
var proposalPool = sync.Pool{New: func() any { return &proposal{done: make(chan result, 1)} }}

// backoff waits before proposing again after a leader change.
func (p *proposer) backoff(ctx context.Context, attempt int) error {
	d := time.Duration(attempt+1) * 5 * time.Millisecond
	if d > 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.n.stop:
		return ErrClosed
	}
}

// syncMarker places an empty entry in the log and waits until this node has
// applied it: every write committed before the call is then visible here.
func (p *proposer) syncMarker(ctx context.Context) error {
	p.m.pendingSyncs.Add(1)
	defer p.m.pendingSyncs.Add(-1)
	for attempt := 0; ; attempt++ {
		pr := &proposal{sync: true, done: make(chan result, 1)}
		if err := p.submit(ctx, pr); err != nil {
			return err
		}
		select {
		case r := <-pr.done:
			switch {
			case r.retry || r.err == CodeConnectionLoss:
				// A sync marker changes nothing: always safe to retry.
				if err := p.backoff(ctx, attempt); err != nil {
					return err
				}
			case r.err == CodeOK:
				return nil
			default:
				return r.err
			}
		case <-ctx.Done():
			p.forget(pr.seq)
			return ctx.Err()
		}
	}
}

func (p *proposer) submit(ctx context.Context, pr *proposal) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.nextSeq++
	pr.seq = p.nextSeq
	p.pending[pr.seq] = pr
	p.mu.Unlock()
	select {
	case p.queue <- pr:
		return nil
	case <-ctx.Done():
		p.forget(pr.seq)
		return ctx.Err()
	case <-p.done:
		p.forget(pr.seq)
		return ErrClosed
	}
}

func (p *proposer) forget(seq uint64) {
	p.mu.Lock()
	delete(p.pending, seq)
	p.mu.Unlock()
}

// deliver hands an applied command's result to its waiter, if still there.
func (p *proposer) deliver(seq uint64, r result) {
	p.mu.Lock()
	pr := p.pending[seq]
	delete(p.pending, seq)
	p.mu.Unlock()
	if pr != nil {
		pr.done <- r
	}
}

func (p *proposer) fail(seqs []uint64, r result) {
	for _, s := range seqs {
		p.deliver(s, r)
	}
}

// run is the batching loop: it drains the queue into one entry at a time
// and hands it to raft (on the leader) or forwards it to the leader. On the
// leader the entry also carries the batches other nodes forwarded, so one
// raft round commits the whole ensemble's waiting writes.
func (p *proposer) run() {
	defer p.n.wg.Done()
	go p.awaitFutures()
	maxBatch := p.n.cfg.MaxBatch
	batchBuf := make([]*proposal, 0, maxBatch)
	var enc, group []byte
	var entries []entry
	var counter uint64
	stop := func(in inflight) {
		p.fail(in.seqs, errResult(CodeConnectionLoss))
		settleAll(in.fwds, rpcFailed, []byte("coord: node closing"))
		close(p.futures)
	}
	for {
		// Group commit: while maxInflight entries are on their way,
		// commands pile up in the queue and the next entry carries them all.
		slot, ok := p.acquire()
		if !ok {
			close(p.futures)
			return
		}
		var first *proposal
		select {
		case first = <-p.queue:
		case <-p.n.stop:
			close(p.futures)
			return
		}
		props := append(batchBuf[:0], first)
		size := first.size()
	drain:
		for len(props) < maxBatch && size < maxEntryBytes {
			select {
			case pr := <-p.queue:
				props = append(props, pr)
				size += pr.size()
			default:
				break drain
			}
		}
		leader := p.n.leads()
		term := p.n.replica.Term()
		in := inflight{slot: slot}
		now := time.Now().UnixMilli()
		// Entries are written in the ensemble's active log format; the
		// command that raises it is the first of the new one.
		format := p.n.fsm.activeFormat()
		b := batch{format: format, time: now, origin: p.n.tag, entries: entries[:0]}
		for _, pr := range props {
			switch {
			case pr.fwd != nil && leader && pr.term == term:
				in.fwds = append(in.fwds, pr)
			case pr.fwd != nil:
				if leader {
					p.staleForwards.Add(1)
				}
				pr.settle(rpcNotLeader, nil)
			case pr.sync:
				in.seqs = append(in.seqs, pr.seq)
				b.entries = append(b.entries, entry{origin: p.n.tag, seq: pr.seq, cmd: command{kind: opSync}})
			default:
				in.seqs = append(in.seqs, pr.seq)
				b.entries = append(b.entries, entry{origin: p.n.tag, seq: pr.seq, cmd: pr.cmd})
				if pr.cmd.kind == opSetFormat {
					b.format = max(b.format, uint8(pr.cmd.version))
				}
			}
		}
		clear(props) // the queue's proposals are referenced elsewhere now
		own := len(b.entries) > 0
		if !own && len(in.fwds) == 0 {
			p.release(slot)
			continue
		}
		if own {
			// The batch is only encoded, so its entries can be reused.
			counter++
			b.counter = counter
			p.m.noteBatch(len(b.entries))
			enc = encodeBatch(enc[:0], &b)
		}
		entries = b.entries
		clear(entries) // drop references to the commands' data
		var data []byte
		if len(in.fwds) == 0 {
			data = bytes.Clone(enc)
		} else {
			members := len(in.fwds)
			if own {
				members++
			}
			gf := b.format
			for _, f := range in.fwds {
				gf = max(gf, tagFormat(f.fwd[0]))
			}
			group = appendGroupHeader(group[:0], gf, now, members)
			if own {
				group = appendGroupMember(group, enc)
			}
			for _, f := range in.fwds {
				group = appendGroupMember(group, f.fwd)
			}
			data = bytes.Clone(group)
		}
		in.epoch = p.epoch()
		in.wait = p.dispatch(data, len(in.fwds) > 0)
		select {
		case p.futures <- in:
		case <-p.n.stop:
			stop(in)
			return
		}
	}
}

// Slot kinds: an entry this node proposes to raft itself, and a batch it
// forwards to the leader. They are counted apart, so that forwards a new
// leader sent as a follower (to a leader that may be gone) do not hold up
// its own entries.
const (
	slotPropose = 0
	slotForward = 1
)

// acquire takes a slot for one more entry in flight: one on the leader,
// whose entries carry everyone's batches, so that each raft round takes
// all that waits; a few on a follower, whose forwards the leader merges
// anyway, so that its writers do not wait a whole round for the previous
// forward to come back before theirs can leave. It reports false when the
// node stops.
func (p *proposer) acquire() (kind int, ok bool) {
	for {
		kind, limit := slotForward, maxFollowerInflight
		if p.n.leads() {
			kind, limit = slotPropose, maxInflight
		}
		p.slotMu.Lock()
		if p.inFlight[kind] < limit {
			p.inFlight[kind]++
			p.slotMu.Unlock()
			p.m.inFlight.Add(1)
			return kind, true
		}
		p.slotMu.Unlock()
		select {
		case <-p.freed:
		case <-p.n.stop:
			return 0, false
		}
	}
}

func (p *proposer) release(kind int) {
	p.slotMu.Lock()
	p.inFlight[kind]--
	p.slotMu.Unlock()
	p.m.inFlight.Add(-1)
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// forwarded queues a batch another node forwarded, to be proposed in this
// node's next entry; settle is called with its fate, unless the node stops
// first (the connection then closes, and the sender settles the fate
// itself).
//
// The batch is proposed only in the raft term in which it arrived. Its
// sender settles a forward of unknown fate by pushing a marker through the
// leader of a later term and then proposes the batch again: an entry of
// the earlier term that is not in that leader's log can never commit after
// the marker, and this rule makes sure that this node does not propose a
// stale copy afresh once it leads again, where it could commit after the
// marker and before the sender's retry.
func (p *proposer) forwarded(data []byte, term uint64, settle func(status byte, payload []byte)) {
	if hold := p.holdForward.Load(); hold != nil {
		(*hold)()
	}
	pr := &proposal{fwd: data, term: term, settle: settle}
	select {
	case p.queue <- pr:
	case <-p.n.stop:
		settle(rpcNotLeader, nil)
	}
}

func settleAll(fwds []*proposal, status byte, payload []byte) {
	for _, f := range fwds {
		f.settle(status, payload)
	}
}

// dispatch hands an encoded batch to raft when this node leads, or
// forwards it to the leader, and returns how to learn its fate.
func (p *proposer) dispatch(data []byte, mustLead bool) func() (uint64, error) {
	n := p.n
	if mustLead || n.leads() {
		f := n.replica.Apply(data)
		return func() (uint64, error) {
			err := f.Error()
			if errors.Is(err, raftfsm.ErrNotLeader) {
				return 0, errNotLeader
			}
			if err != nil {
				return 0, err
			}
			return f.Index(), nil
		}
	}
	notLeader := func() (uint64, error) { return 0, errNotLeader }
	// Watch for a change of leader from before the leader is looked up, so
	// that no change between the two goes unseen.
	changed := n.replica.LeaderChanged()
	addr, ok := n.leaderAddr(2 * n.cfg.ElectionTimeout)
	if !ok {
		return notLeader
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ElectionTimeout)
	c, err := n.rpc.Get(ctx, addr)
	cancel()
	if err != nil {
		return notLeader
	}
	ch := c.Send(rpcForward, data)
	return func() (uint64, error) {
		timeout := time.NewTimer(forwardWait * n.cfg.ElectionTimeout)
		defer timeout.Stop()
		var r cluster.Result
		for received := false; !received; {
			select {
			case r = <-ch:
				received = true
			case <-changed:
				// Another node leads now: the batch either was committed
				// before it took over, or never will be. Settle its fate
				// through the new leader at once (resolve) rather than
				// wait for a leader that may be cut off. The connection
				// goes too, so the forwards behind this one are settled
				// alike.
				changed = n.replica.LeaderChanged()
				if now, _ := n.replica.Leader(); now == "" || now == addr {
					continue // an election under way, or the same leader
				}
				p.leaderChanges.Add(1)
				c.Fail(errLeaderChanged)
				return 0, errLeaderChanged
			case <-timeout.C:
				// The leader may be gone without the connection saying so
				// and without a new leader in sight. Giving up is safe:
				// resolve settles the batch's fate.
				p.forwardTimeouts.Add(1)
				c.Fail(errors.New("coord: forward timed out"))
				return 0, errors.New("coord: forward timed out")
			case <-n.stop:
				return 0, ErrClosed
			}
		}
		switch {
		case r.Err != nil && r.NotSent:
			return 0, errNotLeader
		case r.Err != nil:
			return 0, r.Err
		case r.Status == rpcNotLeader:
			return 0, errNotLeader
		case r.Status == rpcRejected:
			return 0, errRejected
		case r.Status != rpcOK:
			return 0, errors.New(string(r.Payload))
		}
		var index uint64
		if len(r.Payload) == 8 {
			index = binary.BigEndian.Uint64(r.Payload)
		}
		return index, nil
	}
}

// errLeaderChanged: a forward's leader was replaced before it answered.
var errLeaderChanged = errors.New("coord: the leader changed while a forward was in flight")

// errRejected: the leader could not decode a forwarded batch, so it was
// not proposed; proposing it again would fail the same way.
var errRejected = errors.New("coord: forwarded batch rejected by the leader")

// awaitFutures settles entries whose proposal failed. Results of committed
// entries arrive through the FSM instead.
func (p *proposer) awaitFutures() {
	for in := range p.futures {
		index, err := in.wait()
		p.release(in.slot)
		switch {
		case err == nil:
			if len(in.fwds) > 0 {
				settleAll(in.fwds, rpcOK, binary.BigEndian.AppendUint64(nil, index))
			}
			p.settleAfter(index, in.seqs, in.epoch)
		case errors.Is(err, errNotLeader):
			p.n.log.Debug("proposal failed", "err", err)
			settleAll(in.fwds, rpcNotLeader, nil)
			p.fail(in.seqs, retryResult)
		case errors.Is(err, errRejected):
			p.n.log.Error("proposal failed", "err", err)
			p.fail(in.seqs, errResult(CodeMarshallingError))
		default:
			p.n.log.Debug("proposal failed", "err", err)
			settleAll(in.fwds, rpcFailed, []byte(err.Error()))
			go p.resolve(in.seqs, in.epoch)
		}
	}
	close(p.done)
}

// settleAfter watches a batch of this node's that the entry at index
// carried (sent while p.restores was epoch): once this node has applied
// index, every result of the batch has been delivered, unless apply skipped
// it (a stale copy, or one that did not decode). What still waits then was
// not applied and never will be, so it may be proposed again. If a
// snapshot replaced the state since the batch was sent, its results may
// have gone with the entries the snapshot covers: the outcome is unknown.
func (p *proposer) settleAfter(index uint64, seqs []uint64, epoch int64) {
	if index == 0 || len(seqs) == 0 {
		return
	}
	p.orphMu.Lock()
	if p.n.fsm.appliedIndex() < index {
		p.orphans = append(p.orphans, orphanCheck{index: index, seqs: seqs, epoch: epoch})
		p.orphMu.Unlock()
		return
	}
	r := p.leftover(epoch)
	p.orphMu.Unlock()
	p.fail(seqs, r)
}

// leftover is the answer for a batch sent in epoch whose entry was
// applied without delivering its results. Called with orphMu held.
func (p *proposer) leftover(epoch int64) result {
	if p.restores != epoch {
		return errResult(CodeConnectionLoss)
	}
	return retryResult
}

// orphanCheck is a batch waiting for this node to apply its entry.
type orphanCheck struct {
	index uint64
	seqs  []uint64
	epoch int64
}

// applied is called by the FSM once it has applied (and delivered the
// results of) every entry up to index.
func (p *proposer) applied(index uint64) {
	p.orphMu.Lock()
	if len(p.orphans) == 0 {
		p.orphMu.Unlock()
		return
	}
	type settled struct {
		seqs []uint64
		res  result
	}
	var due []settled
	keep := p.orphans[:0]
	for _, o := range p.orphans {
		if o.index <= index {
			due = append(due, settled{o.seqs, p.leftover(o.epoch)})
		} else {
			keep = append(keep, o)
		}
	}
	p.orphans = keep
	p.orphMu.Unlock()
	for _, d := range due {
		p.fail(d.seqs, d.res)
	}
}

// restored is called when a snapshot replaced the state: the results of
// the entries it covers will never be delivered, so batches watched by
// settleAfter, and those still on their way, end with an unknown outcome.
func (p *proposer) restored() {
	p.orphMu.Lock()
	p.restores++
	due := p.orphans
	p.orphans = nil
	p.orphMu.Unlock()
	for _, o := range due {
		p.fail(o.seqs, errResult(CodeConnectionLoss))
	}
}

// epoch is the number of snapshots restored so far.
func (p *proposer) epoch() int64 {
	p.orphMu.Lock()
	defer p.orphMu.Unlock()
	return p.restores
}

// resolve settles entries of unknown fate (the leader died or was cut off
// after they were sent). It puts a sync marker in the log through whoever
// leads now and waits until this node has applied it: an entry committed
// before the marker has been applied by then, and delivered its result;
// one that was not is gone for good, because a leader that commits an
// entry of its own term has dropped every uncommitted entry it does not
// hold. What is still waiting can therefore be proposed again safely: a
// forwarded write is applied exactly once, however leaders change.
//
// A snapshot installed since the entries were sent may have covered them,
// results and all: then their outcome is unknown (ConnectionLoss).
func (p *proposer) resolve(seqs []uint64, epoch int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.syncMarker(ctx); err != nil {
		p.fail(seqs, errResult(CodeConnectionLoss))
		return
	}
	p.orphMu.Lock()
	r := p.leftover(epoch)
	p.orphMu.Unlock()
	p.fail(seqs, r)
}

// shutdown fails everything still waiting.
func (p *proposer) shutdown() {
	p.mu.Lock()
	p.closed = true
	pend := p.pending
	p.pending = make(map[uint64]*proposal)
	p.mu.Unlock()
	for _, pr := range pend {
		pr.done <- errResult(CodeConnectionLoss)
	}
}
