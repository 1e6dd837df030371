package coord

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/raft"
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

	futures chan inflight
	slots   chan struct{} // one token per entry in flight: group commit
	done    chan struct{}
}

// proposal is one command waiting for its result.
type proposal struct {
	seq  uint64
	cmd  command
	sync bool // a sync marker: no command, just a place in the log
	done chan result
}

// inflight is a proposed entry: wait reports whether it was committed
// (nil), certainly not proposed (errNotLeader), or of unknown fate.
type inflight struct {
	wait func() error
	seqs []uint64
}

// maxInflight is how many entries a node has on their way to commit at
// once. One gives the best batching (measured: ~30 commands per entry under
// 64 writers, against ~1 with no limit); raft pipelines within an entry's
// round anyway.
const maxInflight = 1

// forwardWait, in election timeouts, is how long a follower waits for
// the leader to answer a forwarded batch before it settles the batch's fate
// another way.
const forwardWait = 5

// codeRetry is an internal result code: the command was certainly not
// proposed (no leader, or the node asked was not leader), so propose may
// submit it again without risking a duplicate.
const codeRetry Code = 1

// errResult builds a result carrying only an error code.
func errResult(c Code) result { return result{err: c} }

func newProposer(n *Node) *proposer {
	return &proposer{
		n:       n,
		queue:   make(chan *proposal, 4096),
		pending: make(map[uint64]*proposal),
		futures: make(chan inflight, 1024),
		slots:   make(chan struct{}, maxInflight),
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
			if r.err != codeRetry {
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
	for attempt := 0; ; attempt++ {
		pr := &proposal{sync: true, done: make(chan result, 1)}
		if err := p.submit(ctx, pr); err != nil {
			return err
		}
		select {
		case r := <-pr.done:
			switch r.err {
			case CodeOK:
				return nil
			case codeRetry, CodeConnectionLoss:
				// A sync marker changes nothing: always safe to retry.
				if err := p.backoff(ctx, attempt); err != nil {
					return err
				}
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

func (p *proposer) fail(seqs []uint64, c Code) {
	for _, s := range seqs {
		p.deliver(s, errResult(c))
	}
}

// run is the batching loop: it drains the queue into one entry at a time
// and hands it to raft without waiting for the previous one to commit.
func (p *proposer) run() {
	defer p.n.wg.Done()
	go p.awaitFutures()
	max := p.n.cfg.MaxBatch
	batchBuf := make([]*proposal, 0, max)
	var enc []byte
	var entries []entry
	var counter uint64
	for {
		// Group commit: while maxInflight entries are on their way,
		// commands pile up in the queue and the next entry carries them all.
		select {
		case p.slots <- struct{}{}:
		case <-p.n.stop:
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
	drain:
		for len(props) < max {
			select {
			case pr := <-p.queue:
				props = append(props, pr)
			default:
				break drain
			}
		}
		// The batch is only encoded, so its entries can be reused.
		counter++
		b := batch{time: time.Now().UnixMilli(), origin: p.n.tag, counter: counter, entries: entries[:0]}
		seqs := make([]uint64, 0, len(props))
		for _, pr := range props {
			seqs = append(seqs, pr.seq)
			e := entry{origin: p.n.tag, seq: pr.seq, cmd: pr.cmd}
			if pr.sync {
				e.cmd = command{kind: opSync}
			}
			b.entries = append(b.entries, e)
		}
		enc = encodeBatch(enc[:0], &b)
		entries = b.entries
		clear(entries) // drop references to the commands' data
		data := make([]byte, len(enc))
		copy(data, enc)
		in := inflight{seqs: seqs, wait: p.dispatch(data)}
		select {
		case p.futures <- in:
		case <-p.n.stop:
			p.fail(seqs, CodeConnectionLoss)
			close(p.futures)
			return
		}
	}
}

// dispatch hands an encoded batch to raft when this node leads, or
// forwards it to the leader, and returns how to learn its fate.
func (p *proposer) dispatch(data []byte) func() error {
	n := p.n
	if n.isLeader.Load() || n.mux == nil {
		f := n.raft.Apply(data, 0)
		return func() error {
			err := f.Error()
			if errors.Is(err, raft.ErrNotLeader) {
				return errNotLeader
			}
			return err
		}
	}
	addr, ok := n.leaderAddr(2 * n.cfg.ElectionTimeout)
	if !ok {
		return func() error { return errNotLeader }
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ElectionTimeout)
	c, err := n.rpcClientFor(ctx, addr)
	cancel()
	if err != nil {
		return func() error { return errNotLeader }
	}
	ch := c.send(rpcForward, data)
	return func() error {
		var r rpcResult
		select {
		case r = <-ch:
		case <-time.After(forwardWait * n.cfg.ElectionTimeout):
			// The leader may be gone without the connection saying so.
			// Giving up is safe: resolve settles the batch's fate, and a
			// late copy of it is skipped by apply (batch counters).
			c.fail(errors.New("coord: forward timed out"))
			return errors.New("coord: forward timed out")
		case <-n.stop:
			return ErrClosed
		}
		switch {
		case r.err != nil && r.notSent:
			return errNotLeader
		case r.err != nil:
			return r.err
		case r.status == rpcNotLeader:
			return errNotLeader
		case r.status != rpcOK:
			return errors.New(string(r.payload))
		}
		return nil
	}
}

// awaitFutures settles entries whose proposal failed. Results of committed
// entries arrive through the FSM instead.
func (p *proposer) awaitFutures() {
	for in := range p.futures {
		err := in.wait()
		<-p.slots
		if err != nil {
			p.n.log.Debug("proposal failed", "err", err)
			if errors.Is(err, errNotLeader) {
				p.fail(in.seqs, codeRetry)
			} else {
				go p.resolve(in.seqs)
			}
		}
	}
	close(p.done)
}

// resolve settles entries of unknown fate (the leader died or was cut off
// after they were sent). It puts a sync marker in the log through whoever
// leads now and waits until this node has applied it: an entry committed
// before the marker has been applied by then, and delivered its result;
// one that was not is gone for good, because a leader that commits an
// entry of its own term has dropped every uncommitted entry it does not
// hold. What is still waiting can therefore be proposed again safely: a
// forwarded write is applied exactly once, however leaders change.
func (p *proposer) resolve(seqs []uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := codeRetry
	if err := p.syncMarker(ctx); err != nil {
		code = CodeConnectionLoss
	}
	p.fail(seqs, code)
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
