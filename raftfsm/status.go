package raftfsm

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// heartbeats keeps, on a leader, which followers raft currently fails to
// heartbeat (raft's FailedHeartbeatObservation and
// ResumedHeartbeatObservation), for monitoring.
type heartbeats struct {
	mu      sync.Mutex
	failing map[string]time.Time // follower id -> last contact raft reported
}

// watchHeartbeats registers the observer that feeds rep.beats.
func (rep *Replica) watchHeartbeats() {
	ch := make(chan raft.Observation, 64)
	rep.beats.failing = make(map[string]time.Time)
	rep.r.RegisterObserver(raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
			return true
		}
		return false
	}))
	go func() {
		for {
			select {
			case o := <-ch:
				rep.beats.mu.Lock()
				switch d := o.Data.(type) {
				case raft.FailedHeartbeatObservation:
					rep.beats.failing[string(d.PeerID)] = d.LastContact
				case raft.ResumedHeartbeatObservation:
					delete(rep.beats.failing, string(d.PeerID))
				case raft.LeaderObservation:
					clear(rep.beats.failing) // a new term: the new leader reports afresh
				}
				rep.beats.mu.Unlock()
			case <-rep.done:
				return
			}
		}
	}()
}

// FollowerStatus is how a leader's raft sees one follower.
type FollowerStatus struct {
	Server
	// Failing is set while the leader's heartbeats to it fail; LastContact
	// is then when it last answered.
	Failing     bool
	LastContact time.Time
}

// Followers returns the other members of the configuration and, on the
// leader, whether raft reaches them. On a follower every entry has
// Failing false: only the leader knows.
func (rep *Replica) Followers() ([]FollowerStatus, error) {
	servers, err := rep.Servers()
	if err != nil {
		return nil, err
	}
	rep.beats.mu.Lock()
	defer rep.beats.mu.Unlock()
	out := make([]FollowerStatus, 0, len(servers))
	for _, s := range servers {
		if s.ID == rep.id {
			continue
		}
		fs := FollowerStatus{Server: s}
		if lc, ok := rep.beats.failing[s.ID]; ok {
			fs.Failing, fs.LastContact = true, lc
		}
		out = append(out, fs)
	}
	return out, nil
}

// StoreSizes returns the sizes badger reports for the log store's LSM tree
// and value log, in bytes; zeros for an in-memory replica.
func (rep *Replica) StoreSizes() (lsm, vlog int64) {
	if rep.store == nil || rep.store.db == nil {
		return 0, 0
	}
	return rep.store.db.Size()
}
