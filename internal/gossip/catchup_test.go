package gossip

import (
	"testing"

	"github.com/coordkit/coord/raftfsm"
)

type fakeReplica struct{ applied uint64 }

func (f *fakeReplica) Servers() ([]raftfsm.Server, error)             { return nil, nil }
func (f *fakeReplica) AddNonvoter(id, addr string) error              { return nil }
func (f *fakeReplica) AddVoter(id, addr string) error                 { return nil }
func (f *fakeReplica) RemoveServer(id string) error                   { return nil }
func (f *fakeReplica) BootstrapCluster(voters []raftfsm.Server) error { return nil }
func (f *fakeReplica) LastIndex() uint64                              { return f.applied }
func (f *fakeReplica) AppliedIndex() uint64                           { return f.applied }

// A non-voter is promoted only once its advertised applied index was
// within CatchUpBound of the leader's when the advertisement arrived; a
// member that does not advertise it (metadata before version 2) never is.
func TestCaughtUp(t *testing.T) {
	m := &Membership{rep: &fakeReplica{applied: 10_000}}
	for _, c := range []struct {
		mm   meta
		want bool
	}{
		{meta{Version: 2, Applied: 10_000, ours: 10_000}, true},
		{meta{Version: 2, Applied: 10_000 - CatchUpBound, ours: 10_000}, true},
		{meta{Version: 2, Applied: 10_000 - CatchUpBound - 1, ours: 10_000}, false},
		{meta{Version: 2, Applied: 0, ours: 10_000}, false},
		{meta{Version: 1, Applied: 10_000, ours: 10_000}, false},
	} {
		if got, _ := m.caughtUp(c.mm); got != c.want {
			t.Errorf("%+v: caught up %v, want %v", c.mm, got, c.want)
		}
	}
}
