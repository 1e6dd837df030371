package coordtest_test

import (
	"context"
	"fmt"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
)

// exampleT stands in for the *testing.T a real test passes.
type exampleT struct{ cleanups []func() }

func (t *exampleT) Helper()                           {}
func (t *exampleT) Log(args ...any)                   {}
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// A three-node ensemble in one process: write through a follower, lose
// the leader, keep going, bring it back and check every replica agrees.
func Example() {
	t := &exampleT{} // in a test: the *testing.T
	defer t.done()
	ctx := context.Background()

	e := coordtest.NewEnsemble(t, 3)
	leader := e.LeaderIndex()
	follower := (leader + 1) % 3
	s := e.Session(e.Node(follower))

	if _, err := s.Create(ctx, "/config", []byte("v1"), coord.Persistent, nil); err != nil {
		panic(err)
	}
	e.Kill(leader) // a crash: no goodbye
	if _, err := s.SetData(ctx, "/config", []byte("v2"), coord.AnyVersion); err != nil {
		panic(err)
	}
	e.Restart(leader) // back from its stores, caught up
	e.WaitConverged() // same zxid and digest everywhere

	data, _, _ := e.Session(e.Node(leader)).GetData(ctx, "/config")
	fmt.Printf("%s\n", data)
	// Output: v2
}

// Partition a node away: the majority goes on, the cut-off node's sessions
// are told they are disconnected, and after healing all replicas agree.
func ExampleEnsemble_Partition() {
	t := &exampleT{}
	defer t.done()
	ctx := context.Background()

	e := coordtest.NewEnsemble(t, 3)
	leader := e.LeaderIndex()
	cut := (leader + 1) % 3
	other := (leader + 2) % 3
	s := e.Session(e.Node(cut))
	for ev := range s.Events() {
		if ev.State == coord.StateSyncConnected {
			break
		}
	}

	e.Partition([]int{cut}, []int{leader, other})
	for ev := range s.Events() {
		if ev.State == coord.StateDisconnected {
			fmt.Println("cut-off session:", ev.State)
			break
		}
	}
	if _, err := e.Session(e.Node(other)).Create(ctx, "/while-cut", nil, coord.Persistent, nil); err != nil {
		panic(err)
	}
	e.Heal()
	e.WaitConverged()
	ok, _, _ := s.Exists(ctx, "/while-cut")
	fmt.Println("after healing, the cut-off node has it:", ok)
	// Output:
	// cut-off session: Disconnected
	// after healing, the cut-off node has it: true
}
