// Command election runs three coord nodes of one program in this process,
// talking raft over loopback TCP. Each node hosts a candidate that
// campaigns for leadership of /election/demo. The leader's node is then
// stopped as a crash would stop it; the demo prints who leads before and
// after and the measured failover time, and exits.
//
// Failover takes about one session timeout (plus a raft election when the
// crashed node also led the raft group): the ensemble must decide that the
// crashed leader's session is dead before its ephemeral node goes, and
// deciding faster would depose leaders that are merely slow.
//
//	go run ./examples/election
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/recipe"
)

const (
	tick           = 100 * time.Millisecond
	sessionTimeout = 600 * time.Millisecond
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// freeAddrs returns n loopback addresses with free ports.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, l.Addr().String())
		defer l.Close()
	}
	return addrs, nil
}

// openEnsemble starts the nodes together: each waits for a raft leader,
// which needs a majority of them up.
func openEnsemble(ctx context.Context, n int) ([]*coord.Node, error) {
	addrs, err := freeAddrs(n)
	if err != nil {
		return nil, err
	}
	var peers []coord.Peer
	for i, a := range addrs {
		peers = append(peers, coord.Peer{ID: fmt.Sprintf("node-%d", i+1), Addr: a})
	}
	nodes := make([]*coord.Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = coord.Open(ctx, coord.Config{
				NodeID:          peers[i].ID,
				BindAddr:        peers[i].Addr,
				Peers:           peers,
				TickTime:        tick,
				ElectionTimeout: 3 * tick,
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, n := range nodes {
				if n != nil {
					_ = n.Abort()
				}
			}
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
	}
	return nodes, nil
}

// awaitCandidates waits until the election has n candidates.
func awaitCandidates(ctx context.Context, s *coord.Session, n int) error {
	// Reads are served by the session's own node, which may lag the
	// leader by a moment; Sync catches it up.
	if _, err := s.Sync(ctx, "/"); err != nil {
		return err
	}
	for {
		children, _, changed, err := s.GetChildrenW(ctx, "/election/demo")
		if err != nil {
			return err
		}
		if len(children) >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type win struct {
	node int
	l    *recipe.Leadership
	at   time.Time
}

func run(ctx context.Context, out io.Writer) error {
	nodes, err := openEnsemble(ctx, 3)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "3 nodes up over loopback TCP\n")
	alive := map[int]bool{0: true, 1: true, 2: true}
	var sessions []*coord.Session
	defer func() {
		// Close the survivors' sessions while the ensemble still has a
		// majority to delete their nodes, then the nodes together.
		for i, s := range sessions {
			if alive[i] {
				_ = s.Close(ctx)
			}
		}
		var wg sync.WaitGroup
		for i, n := range nodes {
			if alive[i] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = n.Close(cctx)
				}()
			}
		}
		wg.Wait()
	}()

	cctx, stop := context.WithCancel(ctx)
	defer stop()
	wins := make(chan win)
	for i, n := range nodes {
		s, err := n.NewSession(ctx, coord.SessionConfig{Timeout: sessionTimeout})
		if err != nil {
			return err
		}
		sessions = append(sessions, s)
		el := recipe.NewElection(s, "/election/demo", recipe.Options{Identifier: []byte(n.ID())})
		go func() {
			l, err := el.Campaign(cctx)
			if err != nil {
				return // the demo is over, or this node was stopped
			}
			select {
			case wins <- win{i, l, time.Now()}:
			case <-cctx.Done():
			}
		}()
	}

	var first win
	select {
	case first = <-wins:
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(out, "%s leads (fencing token %d)\n", nodes[first.node].ID(), first.l.Token())
	// Wait until the other two candidates are queued behind the leader.
	if err := awaitCandidates(ctx, sessions[(first.node+1)%len(nodes)], 3); err != nil {
		return err
	}
	fmt.Fprintf(out, "the other two candidates wait, each watching the one ahead of it\n")

	// Crash the leader's node: no goodbye, its session just stops
	// heartbeating.
	crashed := time.Now()
	alive[first.node] = false
	_ = nodes[first.node].Abort()
	fmt.Fprintf(out, "%s stopped; its session expires after %v without heartbeats\n", nodes[first.node].ID(), sessionTimeout)

	var next win
	select {
	case next = <-wins:
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(out, "%s leads (fencing token %d), failover took %v\n",
		nodes[next.node].ID(), next.l.Token(), next.at.Sub(crashed).Round(time.Millisecond))
	if next.l.Token() <= first.l.Token() {
		return fmt.Errorf("new token %d is not above %d", next.l.Token(), first.l.Token())
	}
	fmt.Fprintf(out, "storage fenced with tokens rejects the old leader's writes: %d < %d\n", first.l.Token(), next.l.Token())
	return next.l.Resign(ctx)
}
