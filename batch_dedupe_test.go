package coord

import "testing"

// TestStaleBatchIsSkipped: a node numbers its batches; once a later batch
// of that node is applied, an earlier one (a stale copy that surfaced late
// from a dead connection) changes nothing, so a write whose fate its
// sender settled cannot be applied a second time.
func TestStaleBatchIsSkipped(t *testing.T) {
	tr := newTree(treeLimits{maxData: 1 << 20})
	tr.strict = true
	create := func(p string) entry {
		return entry{origin: 9, seq: 1, cmd: command{kind: opCreate, path: p, acl: OpenACL, mode: PersistentSequential}}
	}
	mk := func(counter uint64, paths ...string) *batch {
		b := &batch{time: 1, origin: 9, counter: counter}
		for _, p := range paths {
			b.entries = append(b.entries, create(p))
		}
		return b
	}
	if res := tr.applyBatch(mk(1, "/a-")); len(res) != 1 || res[0].err != CodeOK {
		t.Fatalf("first batch: %+v", res)
	}
	if res := tr.applyBatch(mk(3, "/b-")); len(res) != 1 || res[0].err != CodeOK {
		t.Fatalf("third batch: %+v", res)
	}
	zxid, digest := tr.zxid, tr.digest
	if res := tr.applyBatch(mk(2, "/a-")); len(res) != 0 {
		t.Fatalf("stale batch gave results: %+v", res)
	}
	if tr.zxid != zxid || tr.digest != digest {
		t.Fatal("a stale batch changed the tree")
	}
	// Other origins are numbered on their own.
	other := mk(1, "/c-")
	other.origin = 10
	if res := tr.applyBatch(other); len(res) != 1 || res[0].err != CodeOK {
		t.Fatalf("other origin: %+v", res)
	}
	// The numbering survives a snapshot.
	restored, err := decodeSnapshot(encodeSnapshot(tr), tr.limits)
	if err != nil {
		t.Fatal(err)
	}
	if res := restored.applyBatch(mk(3, "/d-")); len(res) != 0 {
		t.Fatal("after restore, a stale batch was applied")
	}
	if tr.invError != nil {
		t.Fatal(tr.invError)
	}
}
