package coord

import (
	"context"
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
	ready chan struct{} // closed once this node has led and applied its own entry

	mu      sync.Mutex
	pending map[uint64]*proposal // guarded by mu
	nextSeq uint64               // guarded by mu
	closed  bool                 // guarded by mu

	readyOnce sync.Once
	futures   chan inflight
	done      chan struct{}
}

// proposal is one command waiting for its result.
type proposal struct {
	seq  uint64
	cmd  command
	sync bool // a sync marker: no command, just a place in the log
	done chan result
}

type inflight struct {
	f    raft.ApplyFuture
	seqs []uint64
}

// errResult builds a result carrying only an error code.
func errResult(c Code) result { return result{err: c} }

func newProposer(n *Node) *proposer {
	return &proposer{
		n:       n,
		queue:   make(chan *proposal, 4096),
		ready:   make(chan struct{}),
		pending: make(map[uint64]*proposal),
		futures: make(chan inflight, 1024),
		done:    make(chan struct{}),
	}
}

// propose submits cmd and waits for this node to apply it. If ctx ends
// first the command may still be applied later.
func (p *proposer) propose(ctx context.Context, cmd command) (result, error) {
	pr := &proposal{cmd: cmd, done: make(chan result, 1)}
	if err := p.submit(ctx, pr); err != nil {
		return result{}, err
	}
	select {
	case r := <-pr.done:
		return r, nil
	case <-ctx.Done():
		p.forget(pr.seq)
		return result{}, ctx.Err()
	}
}

// syncMarker places an empty entry in the log and waits until this node has
// applied it: every write committed before the call is then visible here.
func (p *proposer) syncMarker(ctx context.Context) error {
	pr := &proposal{sync: true, done: make(chan result, 1)}
	if err := p.submit(ctx, pr); err != nil {
		return err
	}
	select {
	case r := <-pr.done:
		if r.err != CodeOK {
			return r.err
		}
		return nil
	case <-ctx.Done():
		p.forget(pr.seq)
		return ctx.Err()
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

// leaderElected proposes an empty entry: once applied, this node has caught
// up with everything earlier leaders committed, and it is ready.
func (p *proposer) leaderElected() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.syncMarker(ctx); err == nil {
			p.readyOnce.Do(func() { close(p.ready) })
		}
	}()
}

// run is the batching loop: it drains the queue into one entry at a time
// and hands it to raft without waiting for the previous one to commit.
func (p *proposer) run() {
	defer p.n.wg.Done()
	go p.awaitFutures()
	max := p.n.cfg.MaxBatch
	batchBuf := make([]*proposal, 0, max)
	var enc []byte
	for {
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
		b := batch{time: time.Now().UnixMilli(), entries: make([]entry, 0, len(props))}
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
		data := make([]byte, len(enc))
		copy(data, enc)
		f := p.n.raft.Apply(data, 0)
		select {
		case p.futures <- inflight{f: f, seqs: seqs}:
		case <-p.n.stop:
			p.fail(seqs, CodeConnectionLoss)
			close(p.futures)
			return
		}
	}
}

// awaitFutures fails the waiters of entries raft could not commit. Results
// of committed entries arrive through the FSM instead.
func (p *proposer) awaitFutures() {
	for in := range p.futures {
		if err := in.f.Error(); err != nil {
			p.n.log.Debug("raft apply failed", "err", err)
			p.fail(in.seqs, CodeConnectionLoss)
		}
	}
	close(p.done)
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
