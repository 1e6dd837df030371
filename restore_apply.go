package coord

import (
	"encoding/binary"
	"slices"
)

// Online restore, as applied. A restore travels through the log like any
// other change, so that every member switches to the restored tree at the
// same index, whatever it applies before or after:
//
//	opRestoreChunk  (id, seq, bytes)  stages the next piece of a snapshot
//	opRestoreCommit (id, chunks)      replaces the tree with the staged one
//	opRestoreAbort  (id)              drops the stage
//
// A snapshot may be larger than one command may carry (maxCommandBytes),
// hence the chunks. The stage is replicated state: it is part of snapshots
// (a member that installs a snapshot between two chunks still commits the
// same restore), and a chunk out of order, or a commit that does not match
// the stage, fails alike everywhere. All three take no zxid: after the
// commit the zxid is the snapshot's, as is everything else but the log
// format (the ensemble's, which only the format gate raises) and the
// batch counters (the live proposers' duplicate filter).

// Fields of a restore command: command.ttl carries the restore id and
// command.version the chunk's sequence number (opRestoreChunk) or the
// number of chunks (opRestoreCommit); command.data the chunk's bytes.

// restoreStage is a restore being staged.
type restoreStage struct {
	id     int64
	chunks [][]byte // never modified once staged
	size   int
}

func (t *tree) restoreChunk(c *command) result {
	switch {
	case c.version == 0:
		t.restore = &restoreStage{id: c.ttl}
	case t.restore == nil || t.restore.id != c.ttl || int(c.version) != len(t.restore.chunks):
		t.restore = nil // out of order: the restore fails at its commit
		return result{err: CodeBadArguments}
	}
	t.restore.chunks = append(t.restore.chunks, c.data)
	t.restore.size += len(c.data)
	return result{}
}

func (t *tree) restoreAbort(c *command) result {
	if t.restore != nil && t.restore.id == c.ttl {
		t.restore = nil
	}
	return result{}
}

// restoreCommit replaces the tree with the staged snapshot. The result's
// stat carries the restored zxid (Mzxid) and node count (Czxid).
func (t *tree) restoreCommit(c *command) result {
	st := t.restore
	if st == nil || st.id != c.ttl || int(c.version) != len(st.chunks) {
		return result{err: CodeBadArguments}
	}
	t.restore = nil
	buf := make([]byte, 0, st.size)
	for _, ch := range st.chunks {
		buf = append(buf, ch...)
	}
	nt, err := decodeSnapshot(buf, t.limits)
	if err != nil {
		return result{err: CodeBadArguments}
	}
	t.restoreFrom(nt)
	return result{stat: Stat{Mzxid: t.zxid, Czxid: int64(len(t.nodes))}}
}

// restoreFrom makes nt's state this tree's, in place (apply's receiver
// stays the same tree). Sessions the restored tree does not have end
// (expired); the restored ones start, so the leader tracks them as after
// a restart; watches catch up on what changed (the restored effect).
func (t *tree) restoreFrom(nt *tree) {
	old := &tree{nodes: t.nodes, acls: t.acls, sessions: t.sessions, zxid: t.zxid}
	if t.cow != nil {
		// A snapshot is streaming: keep every node as at its mark. The
		// overlay's content does not depend on the order of these walks.
		for p, n := range t.nodes {
			t.preserve(p, n)
		}
		for p := range nt.nodes {
			if _, ok := t.nodes[p]; !ok {
				t.preserve(p, nil)
			}
		}
	}
	oldIDs := make([]int64, 0, len(t.sessions))
	for id := range t.sessions {
		oldIDs = append(oldIDs, id)
	}
	slices.Sort(oldIDs)
	for _, id := range oldIDs {
		ns, ok := nt.sessions[id]
		if !ok {
			if t.keepEffects {
				t.effects = append(t.effects, effect{session: id, expired: true})
			}
			t.closed = append(t.closed, closedSession{id: id, expired: true})
			continue
		}
		if from := t.sessions[id].owner; from != 0 && ns.owner != from {
			t.moved = append(t.moved, movedSession{id: id, from: from})
		}
	}
	newIDs := make([]int64, 0, len(nt.sessions))
	for id := range nt.sessions {
		newIDs = append(newIDs, id)
	}
	slices.Sort(newIDs)
	t.opened = append(t.opened, newIDs...)

	t.nodes, t.acls, t.sessions = nt.nodes, nt.acls, nt.sessions
	t.containers, t.ttls = nt.containers, nt.ttls
	t.digest, t.dataSize, t.zxid = nt.digest, nt.dataSize, nt.zxid
	t.quota.index, t.quota.drifted = nt.quota.index, nt.quota.drifted
	if t.keepEffects {
		t.effects = append(t.effects, effect{restored: old})
	}
}

// appendRestoreStage encodes a staged restore at the end of a snapshot
// (nothing when there is none, so snapshots without one are unchanged).
func appendRestoreStage(b []byte, st *restoreStage) []byte {
	if st == nil {
		return b
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, st.id)
	b = binary.AppendUvarint(b, uint64(len(st.chunks)))
	for _, c := range st.chunks {
		b = appendBytes(b, c)
	}
	return b
}

func (d *decoder) restoreStage() *restoreStage {
	if d.byte() != 1 {
		d.fail()
		return nil
	}
	st := &restoreStage{id: d.varint()}
	n := d.count(len(d.b))
	for i := 0; i < n && d.err == nil; i++ {
		c := d.bytes()
		st.chunks = append(st.chunks, c)
		st.size += len(c)
	}
	if d.err != nil {
		return nil
	}
	return st
}
