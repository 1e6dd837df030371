package coord

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc64"
	"reflect"
	"slices"
	"testing"
)

// snapshotTree builds a tree with every kind of state a snapshot carries:
// sessions with ephemerals, containers, TTL nodes, shared and unshared
// ACLs, freed ACL slots, data, versions and a clock.
func snapshotTree(t testing.TB) *tree {
	tr := newTree(treeLimits{maxData: 1 << 10})
	tr.strict = true
	tr.now = 1_700_000_000_000
	alice := []ID{{"digest", DigestID("alice", "pw")}}
	cmds := []command{
		{kind: opCreateSession, session: 7, ttl: 4000, passwd: []byte("0123456789abcdef")},
		{kind: opCreateSession, session: 0x7e00000000000001, ttl: 40000, passwd: []byte("fedcba9876543210")},
		{kind: opCreateSession, session: 9, ttl: 6000},
		{kind: opCreate, session: 7, path: "/app", data: []byte("config"), acl: OpenACL},
		{kind: opCreate, session: 7, path: "/app/e-", acl: ReadACL, mode: EphemeralSequential},
		{kind: opCreate, session: 0x7e00000000000001, path: "/app/e-", acl: OpenACL, mode: EphemeralSequential},
		{kind: opCreate, session: 7, ids: alice, path: "/app/private", data: []byte{0, 1, 2}, acl: CreatorACL},
		{kind: opCreate, session: 7, path: "/locks", acl: OpenACL, mode: Container},
		{kind: opCreate, session: 7, path: "/locks/l", acl: OpenACL},
		{kind: opCreate, session: 7, path: "/empty", data: []byte{}, acl: OpenACL, mode: Container},
		{kind: opCreate, session: 7, path: "/ttl", acl: OpenACL, mode: PersistentTTL, ttl: 1234},
		{kind: opCreate, session: 7, path: "/ttl/s-", acl: OpenACL, mode: PersistentSequentialTTL, ttl: 1<<40 - 1},
		{kind: opCreate, session: 7, path: "/gone", acl: []ACL{{PermAll, "ip", "10.0.0.0/8"}}},
		{kind: opCreate, session: 7, path: "/gone2", acl: []ACL{{PermRead, "world", "anyone"}, {PermAll, "digest", "x:y"}}},
		{kind: opDelete, session: 7, path: "/gone", version: -1},  // frees an ACL slot
		{kind: opDelete, session: 7, path: "/gone2", version: -1}, // and another
		{kind: opSetData, session: 7, path: "/app", data: []byte("v2"), version: 0},
		{kind: opSetACL, session: 7, path: "/locks", acl: WorldACL(PermAll &^ PermAdmin), version: 0},
		{kind: opCreate, session: 7, path: "/zookeeper/mine", acl: OpenACL},
	}
	for i := range cmds {
		tr.now += 10
		if r := tr.applyOne(&cmds[i]); r.err != CodeOK {
			t.Fatalf("setup command %d: %v", i, r.err)
		}
	}
	if tr.invError != nil {
		t.Fatal(tr.invError)
	}
	if len(tr.acls.free) != 1 { // two freed, one reused by the setACL
		t.Fatalf("setup should leave a free ACL slot, has %v", tr.acls.free)
	}
	return tr
}

func compareTrees(t *testing.T, got, want *tree) {
	t.Helper()
	if got.zxid != want.zxid || got.digest != want.digest || got.now != want.now {
		t.Fatalf("zxid/digest/now %d/%x/%d, want %d/%x/%d", got.zxid, got.digest, got.now, want.zxid, want.digest, want.now)
	}
	if !reflect.DeepEqual(dumpTree(got), dumpTree(want)) {
		t.Fatal("nodes differ")
	}
	for p, n := range want.nodes {
		if got.nodes[p].acl != n.acl || got.nodes[p].owner != n.owner {
			t.Fatalf("%s: ACL slot %d owner %x, want %d %x", p, got.nodes[p].acl, got.nodes[p].owner, n.acl, n.owner)
		}
	}
	if !reflect.DeepEqual(got.sessions, want.sessions) {
		t.Fatalf("sessions\n got %+v\nwant %+v", got.sessions, want.sessions)
	}
	if !reflect.DeepEqual(got.containers, want.containers) || !reflect.DeepEqual(got.ttls, want.ttls) {
		t.Fatal("container/TTL indexes differ")
	}
	if !reflect.DeepEqual(got.acls.lists, want.acls.lists) || !slices.Equal(got.acls.free, want.acls.free) ||
		!reflect.DeepEqual(got.acls.index, want.acls.index) {
		t.Fatalf("ACL tables differ\n got %+v %v\nwant %+v %v", got.acls.lists, got.acls.free, want.acls.lists, want.acls.free)
	}
}

func TestSnapshotRoundtrip(t *testing.T) {
	tr := snapshotTree(t)
	buf := encodeSnapshot(tr)
	got, err := decodeSnapshot(buf, tr.limits)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	compareTrees(t, got, tr)
	if got.limits != tr.limits {
		t.Fatal("limits not taken from the caller")
	}

	// The restored tree goes on exactly like the original: the same
	// commands give the same results, digests and ACL slots (freed slots
	// are reused in the same order).
	got.strict = true
	more := []command{
		{kind: opCreate, session: 9, path: "/n1", acl: []ACL{{PermRead, "world", "anyone"}}},
		{kind: opCreate, session: 9, path: "/n2", acl: []ACL{{PermWrite, "world", "anyone"}}},
		{kind: opCreate, session: 9, path: "/n3", acl: []ACL{{PermCreate, "world", "anyone"}}},
		{kind: opCreate, session: 9, path: "/app/e-", acl: OpenACL, mode: EphemeralSequential},
		{kind: opCloseSession, session: 7},
		{kind: opDeleteContainer, path: "/empty"},
		{kind: opDelete, session: 9, path: "/locks/l", version: -1},
		{kind: opDeleteContainer, path: "/locks"},
	}
	for i := range more {
		tr.now += 5000
		got.now = tr.now
		a, b := tr.applyOne(&more[i]), got.applyOne(&more[i])
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("command %d: original %+v, restored %+v", i, a, b)
		}
	}
	if got.invError != nil {
		t.Fatal(got.invError)
	}
	compareTrees(t, got, tr)
	if _, ok := got.nodes["/locks"]; ok {
		t.Fatal("container not cleaned up after restore")
	}
}

func TestSnapshotOfNode(t *testing.T) {
	n := openNode(t, Config{})
	s := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/a", []byte("x"), Persistent, nil)
	mustCreate(t, s, "/a/e", nil, Ephemeral, nil)
	n.fsm.mu.RLock()
	buf := encodeSnapshot(n.fsm.t)
	n.fsm.mu.RUnlock()
	got, err := decodeSnapshot(buf, treeLimits{maxData: 1})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	digest, zxid := n.Digest()
	if got.digest != digest || got.zxid != zxid || got.sessions[s.ID()] == nil {
		t.Fatalf("restored digest %x zxid %d, node %x %d", got.digest, got.zxid, digest, zxid)
	}
	if _, ok := got.sessions[s.ID()].ephemerals["/a/e"]; !ok {
		t.Fatal("ephemeral not restored")
	}
}

// withCRC replaces a snapshot's checksum with the right one for its body,
// so corruption of the body reaches the decoder.
func withCRC(buf []byte) []byte {
	if len(buf) < 8 {
		return buf
	}
	body := buf[:len(buf)-8]
	return binary.LittleEndian.AppendUint64(bytes.Clone(body), crc64.Checksum(body, crcTable))
}

func TestSnapshotRejectsCorruption(t *testing.T) {
	good := encodeSnapshot(snapshotTree(t))
	limits := treeLimits{maxData: 1 << 10}
	t.Run("EveryFlippedBit", func(t *testing.T) {
		for i := range len(good) * 8 {
			buf := bytes.Clone(good)
			buf[i/8] ^= 1 << (i % 8)
			if _, err := decodeSnapshot(buf, limits); !errors.Is(err, errBadSnapshot) {
				t.Fatalf("bit %d flipped: %v", i, err)
			}
		}
	})
	t.Run("EveryTruncation", func(t *testing.T) {
		for i := range len(good) {
			if _, err := decodeSnapshot(good[:i], limits); err == nil {
				t.Fatalf("truncated to %d bytes: accepted", i)
			}
		}
	})
	t.Run("TrailingBytes", func(t *testing.T) {
		buf := withCRC(append(append([]byte{}, good[:len(good)-8]...), 0, 0, 0, 0, 0, 0, 0, 0, 0))
		if _, err := decodeSnapshot(buf, limits); !errors.Is(err, errBadSnapshot) {
			t.Fatalf("trailing bytes: %v", err)
		}
	})
	t.Run("UnsupportedVersion", func(t *testing.T) {
		buf := bytes.Clone(good)
		buf[len(snapMagic)] = snapVersion + 1
		_, err := decodeSnapshot(withCRC(buf), limits)
		if err == nil || errors.Is(err, errBadSnapshot) {
			t.Fatalf("future version: %v, want an unsupported-version error", err)
		}
	})
	// Structurally broken trees with a valid checksum.
	for _, tc := range []struct {
		name   string
		damage func(tr *tree)
	}{
		{"OrphanNode", func(tr *tree) { delete(tr.nodes, "/app") }},
		{"NoRoot", func(tr *tree) { delete(tr.nodes, "/") }},
		{"EphemeralOfUnknownSession", func(tr *tree) { delete(tr.sessions, 7) }},
		{"DigestMismatch", func(tr *tree) { tr.digest++ }},
		{"DanglingACLSlot", func(tr *tree) { tr.nodes["/app"].acl = 99 }},
		{"FreedACLSlotInUse", func(tr *tree) { tr.nodes["/app"].acl = tr.acls.free[0] }},
		{"ACLRefcountWrong", func(tr *tree) { tr.acls.lists[0].refs++ }},
		{"LiveACLSlotInFreeList", func(tr *tree) { tr.acls.free = append(tr.acls.free, tr.nodes["/app"].acl) }},
		{"FreeSlotListedTwice", func(tr *tree) { tr.acls.free = append(tr.acls.free, tr.acls.free[0]) }},
		{"UnusedSlotNotFree", func(tr *tree) { tr.acls.free = nil }},
		{"SameACLInTwoSlots", func(tr *tree) {
			i := tr.acls.free[0]
			tr.acls.free = nil
			tr.acls.lists[i] = tr.acls.lists[tr.nodes["/app"].acl]
			tr.acls.lists[i].refs = 1
			tr.modify("/locks/l", tr.nodes["/locks/l"], func(n *znode) { n.acl = i }) // it had /app's list too
			tr.acls.lists[tr.nodes["/app"].acl].refs--
		}},
		{"InvalidPath", func(tr *tree) { tr.nodes["/app/bad/"] = &znode{acl: tr.nodes["/app"].acl} }},
		{"ChildOfEphemeral", func(tr *tree) {
			for p, n := range tr.nodes {
				if ownerIsEphemeral(n.owner) {
					tr.nodes[p+"/c"] = &znode{acl: n.acl}
					tr.acls.lists[n.acl].refs++
					tr.digest += nodeHash(p+"/c", tr.nodes[p+"/c"])
					return
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := snapshotTree(t)
			tc.damage(tr)
			if _, err := decodeSnapshot(encodeSnapshot(tr), limits); !errors.Is(err, errBadSnapshot) {
				t.Fatalf("damaged snapshot accepted: %v", err)
			}
		})
	}
}

func FuzzSnapshotRestore(f *testing.F) {
	f.Add(encodeSnapshot(snapshotTree(f)))
	f.Add(encodeSnapshot(newTree(treeLimits{})))
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, buf []byte) {
		limits := treeLimits{maxData: 64}
		decodeSnapshot(buf, limits) // must not panic
		// Most mutations only break the checksum; fix it so the body is
		// decoded too.
		tr, err := decodeSnapshot(withCRC(buf), limits)
		if err != nil {
			return
		}
		// Whatever is accepted is a consistent tree: it survives another
		// roundtrip and keeps its invariants while used.
		again, err := decodeSnapshot(encodeSnapshot(tr), limits)
		if err != nil {
			t.Fatalf("re-encoded snapshot rejected: %v", err)
		}
		if again.digest != tr.digest || !reflect.DeepEqual(dumpTree(again), dumpTree(tr)) {
			t.Fatal("roundtrip of an accepted snapshot changed it")
		}
		tr.strict = true
		for i, c := range []command{
			{kind: opCreate, path: "/fuzz", acl: []ACL{{PermRead, "digest", "f:z"}}},
			{kind: opCreate, path: "/fuzz2", acl: []ACL{{PermWrite, "digest", "f:z"}}},
			{kind: opCreate, path: "/fuzz3", acl: OpenACL, mode: Container},
			{kind: opDelete, path: "/fuzz", version: -1},
		} {
			tr.applyOne(&c)
			if tr.invError != nil {
				t.Fatalf("command %d on a restored tree: %v", i, tr.invError)
			}
		}
	})
}
