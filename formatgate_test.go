package coord

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coordkit/coord/raftfsm"
)

func TestSetFormatEncoding(t *testing.T) {
	set := entry{origin: 1, seq: 1, cmd: command{kind: opSetFormat, version: logFormat2}}
	// Format 1 cannot carry it: such a batch is corrupt, as old nodes see it.
	v1 := encodeBatch(nil, &batch{format: logFormat1, origin: 1, counter: 1, entries: []entry{set}})
	if _, err := decodeBatch(v1); !errors.Is(err, errCorrupt) {
		t.Fatalf("opSetFormat in a format-1 batch: %v", err)
	}
	v2 := encodeBatch(nil, &batch{format: logFormat2, origin: 1, counter: 1, entries: []entry{set}})
	if v2[0] != batchFormatV2 {
		t.Fatalf("tag %d", v2[0])
	}
	b, err := decodeBatch(v2)
	if err != nil || b.format != logFormat2 || b.entries[0].cmd.kind != opSetFormat || b.entries[0].cmd.version != logFormat2 {
		t.Fatalf("decoded %+v, %v", b, err)
	}
	// A format above this build's: the node must stop, not skip.
	future := encodeBatch(nil, &batch{format: logFormat2, origin: 1, counter: 1,
		entries: []entry{{origin: 1, seq: 1, cmd: command{kind: opSetFormat, version: logFormatMax + 1}}}})
	if _, err := decodeBatch(future); !errors.Is(err, errUnknownFormat) {
		t.Fatalf("a format above this build's: %v", err)
	}
	// Groups of format 2 hold members of either format.
	if err := splitEntry(appendGroupMember(appendGroupMember(appendGroupHeader(nil, logFormat2, 7, 2),
		encodeBatch(nil, &batch{format: logFormat1})), v2), func([]byte, int64, bool) error { return nil }); err != nil {
		t.Fatalf("a format-2 group: %v", err)
	}
}

func TestSnapshotKeepsTheFormat(t *testing.T) {
	tr := newTree(treeLimits{maxData: 1 << 20})
	buf := encodeSnapshot(tr)
	if buf[len(snapMagic)] != snapVersion {
		t.Fatalf("format 1 writes snapshot version %d, want %d (what coord wrote before the gate)", buf[len(snapMagic)], snapVersion)
	}
	tr.applyOne(&command{kind: opSetFormat, version: logFormat2})
	if tr.format != logFormat2 || tr.zxid != 0 {
		t.Fatalf("format %d zxid %d after opSetFormat", tr.format, tr.zxid)
	}
	buf = encodeSnapshot(tr)
	if buf[len(snapMagic)] != snapVersionFormat {
		t.Fatalf("snapshot version %d", buf[len(snapMagic)])
	}
	got, err := decodeSnapshot(buf, tr.limits)
	if err != nil || got.format != logFormat2 || got.digest != tr.digest {
		t.Fatalf("decoded format %d, %v", got.format, err)
	}
	// The format never goes down.
	tr.applyOne(&command{kind: opSetFormat, version: logFormat1})
	if tr.format != logFormat2 {
		t.Fatalf("format went down to %d", tr.format)
	}
}

// TestFormatGate: the leader raises the active format only once every
// member reads it; entries are written in the new format from then on.
func TestFormatGate(t *testing.T) {
	nodes := openTCPCluster(t, 3, "g", func(i int, cfg *Config) {
		cfg.ElectionTimeout = 300 * time.Millisecond
	})
	// Every node but the first plays an older member, until released.
	for _, n := range nodes {
		n.proposer.advertiseFormat.Store(logFormat1)
	}
	var leader *Node
	eventually(t, "a leader", func() bool {
		for _, n := range nodes {
			if n.IsLeader() {
				leader = n
				return true
			}
		}
		return false
	})
	leader.proposer.advertiseFormat.Store(0)
	// Two format checks pass with an older member in the ensemble.
	ctx, cancel := context.WithTimeout(context.Background(), 2*formatCheckInterval+time.Second)
	defer cancel()
	<-ctx.Done()
	for i, n := range nodes {
		if a, _ := n.LogFormat(); a != logFormat1 {
			t.Fatalf("node %d: format %d rose with an older member", i, a)
		}
	}
	s := newSession(t, nodes[0], SessionConfig{})
	mustCreate(t, s, "/before", nil, Persistent, OpenACL)
	for _, n := range nodes {
		n.proposer.advertiseFormat.Store(0)
	}
	eventually(t, "the format rises on every node", func() bool {
		for _, n := range nodes {
			if a, max := n.LogFormat(); a != logFormatMax || max != logFormatMax {
				return false
			}
		}
		return true
	})
	mustCreate(t, s, "/after", nil, Persistent, OpenACL)
	if st := nodes[1].Stats(); st.LogFormatActive != logFormatMax || st.LogFormatMax != logFormatMax {
		t.Fatalf("stats: %+v", st)
	}
	if got := nodes[0].fsm.activeFormat(); got != logFormatMax {
		t.Fatalf("proposer format %d", got)
	}
}

// A single node raises its format by itself; its entries then carry the
// new tags.
func TestEntriesUseTheActiveFormat(t *testing.T) {
	storage := NewMemoryStorage()
	n := openNode(t, Config{Storage: storage})
	eventually(t, "the format rises", func() bool { a, _ := n.LogFormat(); return a == logFormatMax })
	s := newSession(t, n, SessionConfig{})
	mustCreate(t, s, "/x", nil, Persistent, OpenACL)
	var tags []byte
	if err := storage.s.Entries(func(e raftfsm.Entry) {
		if e.Command {
			tags = append(tags, e.Data[0])
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(tags) == 0 || tags[len(tags)-1] != batchFormatV2 || tags[0] != batchFormat {
		t.Fatalf("entry tags %v: want format 1 first, format 2 after the rise", tags)
	}
}

// x509 ACL entries arrived with log format 2: before the ensemble reads
// it, apply refuses them as a node from before them does, so replicas
// agree during a rolling upgrade.
func TestX509ACLsWaitForFormat2(t *testing.T) {
	tr := newTree(treeLimits{maxData: 1 << 20})
	tr.now = 1
	tr.applyOne(&command{kind: opCreateSession, session: 7, ttl: 1000})
	acl := []ACL{{Perms: PermAll, Scheme: "x509", ID: "CN=alice"}}
	if r := tr.applyOne(&command{kind: opCreate, session: 7, path: "/a", acl: acl}); r.err != CodeInvalidACL {
		t.Fatalf("x509 ACL at format 1: %v", r.err)
	}
	auth := []ACL{{Perms: PermAll, Scheme: "auth"}}
	if r := tr.applyOne(&command{kind: opCreate, session: 7, path: "/b", acl: auth, ids: []ID{{Scheme: "x509", ID: "CN=alice"}}}); r.err != CodeInvalidACL {
		t.Fatalf("auth expanding to x509 at format 1: %v", r.err)
	}
	tr.applyOne(&command{kind: opSetFormat, version: logFormat2})
	if r := tr.applyOne(&command{kind: opCreate, session: 7, path: "/a", acl: acl}); r.err != CodeOK {
		t.Fatalf("x509 ACL at format 2: %v", r.err)
	}
}
