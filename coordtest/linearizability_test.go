package coordtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/coordkit/coord"
)

// The model: one znode per key, existing or not, with a value.
type znState struct {
	exists bool
	val    string
}

type opKind int

const (
	opCreate opKind = iota
	opDelete
	opSet
	opRead
)

type linInput struct {
	key  string
	kind opKind
	val  string
}

type outcome int

const (
	outOK outcome = iota
	outNodeExists
	outNoNode
	outUnknown  // the call failed without saying whether it took effect
	outNoEffect // the call failed and certainly changed nothing (session expired)
)

type linOutput struct {
	res    outcome
	exists bool // reads
	val    string
}

var znodeModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(linInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{znState{}} },
	Step: func(st, in, out interface{}) []interface{} {
		s, i, o := st.(znState), in.(linInput), out.(linOutput)
		// next is the state after the op succeeds, ok whether it can.
		var next znState
		var can bool
		fail := outNoNode
		switch i.kind {
		case opCreate:
			next, can, fail = znState{true, i.val}, !s.exists, outNodeExists
		case opDelete:
			next, can = znState{}, s.exists
		case opSet:
			next, can = znState{true, i.val}, s.exists
		case opRead:
			if o.res == outOK && o.exists == s.exists && o.val == s.val {
				return []interface{}{s}
			}
			return nil
		}
		switch {
		case o.res == outNoEffect:
			return []interface{}{s}
		case o.res == outUnknown && can:
			return []interface{}{s, next}
		case o.res == outUnknown:
			return []interface{}{s}
		case o.res == outOK && can:
			return []interface{}{next}
		case o.res == fail && !can:
			return []interface{}{s}
		}
		return nil
	},
	Equal: func(a, b interface{}) bool { return a.(znState) == b.(znState) },
	DescribeOperation: func(in, out interface{}) string {
		return fmt.Sprintf("%+v -> %+v", in, out)
	},
}

func classify(err error) outcome {
	switch {
	case err == nil:
		return outOK
	case errors.Is(err, coord.ErrNodeExists):
		return outNodeExists
	case errors.Is(err, coord.ErrNoNode):
		return outNoNode
	case errors.Is(err, coord.ErrSessionExpired):
		// Apply refuses every write of an expired session, and a session
		// that expired cannot come back: the write did nothing.
		return outNoEffect
	}
	return outUnknown
}

// history collects operations from concurrent clients.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(client int, in linInput, call int64, out linOutput) {
	ret := h.now()
	if out.res == outUnknown {
		ret = math.MaxInt64 // it may take effect at any later time
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

// runClient performs ops against random keys through sessions on node
// (client % size), moving to another node when its node goes away.
func runClient(e *Ensemble, h *history, client, nops int, until time.Time, seed int64, keys []string) {
	rng := rand.New(rand.NewSource(seed))
	var s *coord.Session
	for i := 0; i < nops && time.Now().Before(until); i++ {
		if s == nil || s.State() != coord.StateSyncConnected {
			s = nil
			for try := 0; try < e.Size() && s == nil; try++ {
				n := e.Node((client + try) % e.Size())
				if n == nil {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				s, _ = n.NewSession(ctx, coord.SessionConfig{Timeout: 2 * time.Second})
				cancel()
			}
			if s == nil {
				time.Sleep(20 * time.Millisecond) // every node is down or cut off: back off
				continue
			}
		}
		if s.State() == coord.StateDisconnected {
			time.Sleep(10 * time.Millisecond) // its node is cut off: back off
			continue
		}
		in := linInput{key: keys[rng.Intn(len(keys))], kind: opKind(rng.Intn(4)), val: fmt.Sprintf("c%d-%d", client, i)}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		call := h.now()
		var err error
		switch in.kind {
		case opCreate:
			_, err = s.Create(ctx, in.key, []byte(in.val), coord.Persistent, nil)
		case opDelete:
			err = s.Delete(ctx, in.key, coord.AnyVersion)
		case opSet:
			_, err = s.SetData(ctx, in.key, []byte(in.val), coord.AnyVersion)
		case opRead:
			if _, err = s.Sync(ctx, in.key); err == nil {
				var ok bool
				ok, _, err = s.Exists(ctx, in.key)
				var data []byte
				if ok && err == nil {
					data, _, err = s.GetData(ctx, in.key)
					if errors.Is(err, coord.ErrNoNode) {
						err = errors.New("raced with a delete between exists and getData")
					}
				}
				if err == nil {
					h.add(client, in, call, linOutput{res: outOK, exists: ok, val: string(data)})
				}
			}
			cancel()
			continue // a failed read changes nothing: leave it out
		}
		cancel()
		out := linOutput{res: classify(err)}
		h.add(client, in, call, out)
		if out.res == outUnknown {
			// A write of unknown outcome stays open to the end of the
			// history, and each one multiplies the checker's work: a client
			// whose node fails fast must not pile them up. Start over on a
			// fresh session, as a real client reconnects.
			s = nil
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// faults kills, restarts, partitions and heals nodes until stop closes.
func faults(e *Ensemble, seed int64, stop <-chan struct{}) (injected int) {
	rng := rand.New(rand.NewSource(seed))
	killed := -1
	for {
		injected++
		select {
		case <-stop:
			e.Heal()
			if killed >= 0 {
				e.Restart(killed)
			}
			return injected - 1
		case <-time.After(time.Duration(50+rng.Intn(100)) * time.Millisecond):
		}
		switch rng.Intn(4) {
		case 0:
			if killed < 0 {
				killed = rng.Intn(e.Size())
				if rng.Intn(2) == 0 {
					if li, ok := e.currentLeader(); ok {
						killed = li
					}
				}
				e.Kill(killed)
			}
		case 1:
			if killed >= 0 {
				// A restarted node catches up before Restart returns, so it
				// must be able to reach the others.
				e.Heal()
				e.Restart(killed)
				killed = -1
			}
		case 2:
			// Cut off a minority (possibly the leader).
			n := e.Size()
			cut := rng.Intn(n)
			var rest []int
			for i := 0; i < n; i++ {
				if i != cut {
					rest = append(rest, i)
				}
			}
			e.Partition([]int{cut}, rest)
		case 3:
			e.Heal()
		}
	}
}

func TestLinearizableUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("long fault test; run without -short")
	}
	for _, tc := range []struct {
		nodes int
		seed  int64
	}{{3, 1}, {3, 2}, {5, 3}} {
		t.Run(fmt.Sprintf("n%d-seed%d", tc.nodes, tc.seed), func(t *testing.T) {
			e := NewEnsemble(t, tc.nodes)
			h := &history{start: time.Now()}
			// Many keys keep each per-key history small enough for the checker
			// even with operations of unknown outcome.
			keys := []string{"/k0", "/k1", "/k2", "/k3", "/k4", "/k5", "/k6", "/k7"}
			stop := make(chan struct{})
			faultsDone := make(chan struct{})
			var injected int
			go func() { injected = faults(e, tc.seed, stop); close(faultsDone) }()
			var wg sync.WaitGroup
			until := time.Now().Add(2500 * time.Millisecond)
			for c := 0; c < 6; c++ {
				wg.Add(1)
				go func(c int) {
					defer wg.Done()
					runClient(e, h, c, 2000, until, tc.seed*100+int64(c), keys)
				}(c)
			}
			wg.Wait()
			close(stop)
			<-faultsDone
			e.WaitConverged()
			unknown := 0
			for _, op := range h.ops {
				if op.Output.(linOutput).res == outUnknown {
					unknown++
				}
			}
			t.Logf("%d faults injected, %d operations of unknown outcome", injected, unknown)
			if injected < 5 {
				t.Fatalf("only %d faults injected: the run proves little", injected)
			}

			res, info := porcupine.CheckOperationsVerbose(znodeModel.ToModel(), h.ops, 180*time.Second)
			t.Logf("%d operations checked: %s", len(h.ops), res)
			if res == porcupine.Illegal {
				for _, part := range info.PartialLinearizations() {
					t.Logf("longest linearizable prefix: %v", part)
					break
				}
				t.Fatalf("history is not linearizable")
			}
			if res != porcupine.Ok {
				t.Fatalf("checker gave no verdict: %s", res)
			}
		})
	}
}

// TestCheckerCatchesStaleReads proves the check has teeth: a read served by
// a cut-off follower without Sync returns a value older than a write that
// completed before it, and porcupine rejects the history.
func TestCheckerCatchesStaleReads(t *testing.T) {
	e := NewEnsemble(t, 3)
	ctx := context.Background()
	li := e.LeaderIndex()
	f := (li + 1) % 3
	other := (li + 2) % 3
	sl := e.Session(e.Node(li))
	sf := e.Session(e.Node(f))
	h := &history{start: time.Now()}

	in := linInput{key: "/x", kind: opCreate, val: "v1"}
	call := h.now()
	_, err := sl.Create(ctx, "/x", []byte("v1"), coord.Persistent, nil)
	h.add(0, in, call, linOutput{res: classify(err)})
	e.WaitConverged()

	e.Partition([]int{f}, []int{li, other})
	in = linInput{key: "/x", kind: opSet, val: "v2"}
	call = h.now()
	_, err = sl.SetData(ctx, "/x", []byte("v2"), coord.AnyVersion)
	h.add(0, in, call, linOutput{res: classify(err)})
	if err != nil {
		t.Fatalf("write on the majority: %v", err)
	}

	// The broken read path: no Sync on the cut-off follower.
	call = h.now()
	data, _, err := sf.GetData(ctx, "/x")
	if err != nil {
		t.Fatalf("local read: %v", err)
	}
	h.add(1, linInput{key: "/x", kind: opRead}, call, linOutput{res: outOK, exists: true, val: string(data)})
	if string(data) != "v1" {
		t.Fatalf("expected the cut-off follower to serve the stale value, got %q", data)
	}
	if porcupine.CheckOperations(znodeModel.ToModel(), h.ops) {
		t.Fatal("the checker accepted a stale read")
	}

	// The right read path: Sync cannot complete while cut off.
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := sf.Sync(sctx, "/x"); err == nil {
		t.Fatal("Sync on a partitioned follower succeeded")
	}
	e.Heal()
	e.WaitConverged()
}
