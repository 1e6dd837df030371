package recipe_test

import (
	"context"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
	"github.com/coordkit/coord/recipe"
)

// TestElectionFailoverTimes measures, on a 3-node ensemble with one
// candidate per node, how long leadership takes to pass on after a
// graceful Resign and after the leader's node is killed (its session then
// expires after its timeout).
func TestElectionFailoverTimes(t *testing.T) {
	e := coordtest.NewEnsemble(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const timeout = 300 * time.Millisecond
	type won struct {
		node int
		l    *recipe.Leadership
		at   time.Time
	}
	wins := make(chan won, 3)
	for i := 0; i < 3; i++ {
		s, err := e.Node(i).NewSession(ctx, coord.SessionConfig{Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		go func(i int, s *coord.Session) {
			l, err := recipe.NewElection(s, "/failover", recipe.Options{}).Campaign(ctx)
			if err == nil {
				wins <- won{i, l, time.Now()}
			}
		}(i, s)
	}
	first := <-wins

	resigned := time.Now()
	if err := first.l.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	second := <-wins
	afterResign := second.at.Sub(resigned)

	killed := time.Now()
	e.Kill(second.node)
	third := <-wins
	afterKill := third.at.Sub(killed)
	if third.l.Token() <= second.l.Token() || second.l.Token() <= first.l.Token() {
		t.Fatalf("fencing tokens not increasing: %d, %d, %d", first.l.Token(), second.l.Token(), third.l.Token())
	}
	t.Logf("election failover on 3 nodes: %v after a graceful resign, %v after a kill (session timeout %v, tick 50ms, election timeout 50ms)",
		afterResign, afterKill, timeout)
}
