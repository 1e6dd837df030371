package zkdata

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coordkit/coord/zkwire"
)

// Encoders for synthetic snapshots and logs, written from the layouts
// documented in snapshot.go and txnlog.go.

type snapNode struct {
	path   string
	data   []byte
	aclRef int64
	stat   StatPersisted
}

type snapSpec struct {
	sessions map[int64]int32
	acls     map[int64][]ACL
	nodes    []snapNode
	digest   *Digest // written when non-nil
	// digestAuto computes the digest section from the nodes at zxid.
	digestAuto int64
}

func encACLs(e *zkwire.Encoder, acls []ACL) {
	if acls == nil {
		e.Int32(-1)
		return
	}
	e.Int32(int32(len(acls)))
	for _, a := range acls {
		e.Int32(a.Perms)
		e.UString(a.Scheme)
		e.UString(a.ID)
	}
}

func sealTo(e *zkwire.Encoder) {
	e.Int64(int64(adler32.Checksum(e.Bytes())))
	e.UString("/")
}

func encSnapshot(s snapSpec) []byte {
	e := zkwire.NewEncoder(nil)
	e.Int32(snapMagic)
	e.Int32(2)
	e.Int64(-1)
	e.Int32(int32(len(s.sessions)))
	for id, to := range s.sessions {
		e.Int64(id)
		e.Int32(to)
	}
	e.Int32(int32(len(s.acls)))
	for ref, l := range s.acls {
		e.Int64(ref)
		encACLs(e, l)
	}
	t := newDataTree(func(string) {})
	for _, n := range s.nodes {
		e.UString(n.path)
		e.Buffer(n.data)
		e.Int64(n.aclRef)
		st := n.stat
		e.Int64(st.Czxid)
		e.Int64(st.Mzxid)
		e.Int64(st.Ctime)
		e.Int64(st.Mtime)
		e.Int32(st.Version)
		e.Int32(st.Cversion)
		e.Int32(st.Aversion)
		e.Int64(st.EphemeralOwner)
		e.Int64(st.Pzxid)
		t.put(n.path, &dnode{data: n.data, stat: n.stat})
	}
	e.UString("/")
	sealTo(e)
	d := s.digest
	if d == nil && s.digestAuto != 0 {
		d = &Digest{Zxid: s.digestAuto, Version: 2, Value: int64(t.digest)}
	}
	if d != nil {
		e.Int64(d.Zxid)
		e.Int32(d.Version)
		e.Int64(d.Value)
		sealTo(e)
	}
	return e.Bytes()
}

// baseNodes is the tree of a fresh server: /, /zookeeper, its quota and
// config children.
func baseNodes() []snapNode {
	return []snapNode{
		{path: "", data: []byte{}, aclRef: -1, stat: StatPersisted{Cversion: 1}},
		{path: "/zookeeper", data: []byte{}, aclRef: -1, stat: StatPersisted{Cversion: 2}},
		{path: "/zookeeper/quota", data: []byte{}, aclRef: -1},
		{path: "/zookeeper/config", data: []byte{}, aclRef: 1},
	}
}

var readOnlyWorld = []ACL{{Perms: PermRead, Scheme: "world", ID: "anyone"}}

type txnSpec struct {
	hdr    txnHeader
	body   func(e *zkwire.Encoder)
	digest *txnDigest
}

func encTxn(s txnSpec) []byte {
	e := zkwire.NewEncoder(nil)
	h := s.hdr
	e.Int64(h.clientID)
	e.Int32(h.cxid)
	e.Int64(h.zxid)
	e.Int64(h.time)
	e.Int32(h.typ)
	if s.body != nil {
		s.body(e)
	}
	if s.digest != nil {
		e.Int32(s.digest.version)
		e.Int64(s.digest.digest)
	}
	return e.Bytes()
}

func encRecord(txn []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(adler32.Checksum(txn)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(txn)))
	b = append(b, txn...)
	return append(b, eor)
}

func encLog(pad int, txns ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, logMagic)
	b = binary.BigEndian.AppendUint32(b, 2)
	b = binary.BigEndian.AppendUint64(b, 0)
	for _, t := range txns {
		b = append(b, encRecord(t)...)
	}
	return append(b, make([]byte, pad)...)
}

func createBody(path string, data []byte, acl []ACL, eph bool, pcv int32) func(*zkwire.Encoder) {
	return func(e *zkwire.Encoder) {
		e.UString(path)
		e.Buffer(data)
		encACLs(e, acl)
		e.Bool(eph)
		e.Int32(pcv)
	}
}

const sess = int64(0x0100000734ba0000)

// syntheticTxns is a session's life: create session, a persistent and an
// ephemeral node, set data, setACL, a multi, a container, a TTL node, an
// error txn, a delete and the close of the session.
func syntheticTxns() [][]byte {
	h := func(z int64, typ int32) txnHeader {
		return txnHeader{clientID: sess, cxid: int32(z), zxid: z, time: 1000 + z, typ: typ}
	}
	digestACL := []ACL{{Perms: PermAll, Scheme: "digest", ID: "alice:x"}}
	multi := func(e *zkwire.Encoder) {
		sub := func(typ int32, f func(*zkwire.Encoder)) {
			se := zkwire.NewEncoder(nil)
			f(se)
			e.Int32(typ)
			e.Buffer(se.Bytes())
		}
		e.Int32(3)
		sub(opCreate, createBody("/a/m", []byte("m"), nil, false, 2))
		sub(opSetData, func(e *zkwire.Encoder) { e.UString("/a"); e.Buffer([]byte("a2")); e.Int32(2) })
		sub(opCheck, func(e *zkwire.Encoder) { e.UString("/a"); e.Int32(2) })
	}
	return [][]byte{
		encTxn(txnSpec{hdr: h(1, opCreateSession), body: func(e *zkwire.Encoder) { e.Int32(4000) }}),
		encTxn(txnSpec{hdr: h(2, opCreate), body: createBody("/a", []byte("a0"), nil, false, 2)}),
		encTxn(txnSpec{hdr: h(3, opCreate2), body: createBody("/a/e", nil, digestACL, true, 1)}),
		encTxn(txnSpec{hdr: h(4, opSetData), body: func(e *zkwire.Encoder) { e.UString("/a"); e.Buffer([]byte("a1")); e.Int32(1) }}),
		encTxn(txnSpec{hdr: h(5, opSetACL), body: func(e *zkwire.Encoder) { e.UString("/a"); encACLs(e, digestACL); e.Int32(1) }}),
		encTxn(txnSpec{hdr: h(6, opMulti), body: multi}),
		encTxn(txnSpec{hdr: h(7, opCreateContainer), body: func(e *zkwire.Encoder) {
			e.UString("/c")
			e.Buffer(nil)
			encACLs(e, nil)
			e.Int32(3)
		}}),
		encTxn(txnSpec{hdr: h(8, opCreateTTL), body: func(e *zkwire.Encoder) {
			e.UString("/t")
			e.Buffer([]byte("t"))
			encACLs(e, nil)
			e.Int32(4)
			e.Int64(60000)
		}}),
		encTxn(txnSpec{hdr: h(9, opError), body: func(e *zkwire.Encoder) { e.Int32(-110) }}),
		encTxn(txnSpec{hdr: h(10, opDelete), body: func(e *zkwire.Encoder) { e.UString("/a/m") }}),
		encTxn(txnSpec{hdr: h(11, opCloseSession), body: func(e *zkwire.Encoder) { e.Int32(1); e.UString("/a/e") }}),
	}
}

func writeDataDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	v := filepath.Join(dir, "version-2")
	if err := os.MkdirAll(v, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(v, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSyntheticReplay(t *testing.T) {
	snap := encSnapshot(snapSpec{acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes()})
	dir := writeDataDir(t, map[string][]byte{"snapshot.0": snap, "log.1": encLog(1000, syntheticTxns()...)})
	tree, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tree.LastZxid != 11 || tree.TxnsReplayed != 11 || len(tree.Warnings) != 0 {
		t.Fatalf("last zxid %d, replayed %d, warnings %v", tree.LastZxid, tree.TxnsReplayed, tree.Warnings)
	}
	if len(tree.Sessions) != 0 {
		t.Errorf("sessions %v after closeSession", tree.Sessions)
	}
	want := map[string]Stat{
		// Root: created /zookeeper (1), /a (2), /c (3), /t (4).
		"/": {Cversion: 4*2 - 4, NumChildren: 4, Pzxid: 8},
		// /a: set twice (versions from the txns), ACL set once, children
		// e (deleted by closeSession) and m (deleted): 2 creates, 2 deletes.
		"/a":         {Czxid: 2, Mzxid: 6, Ctime: 1002, Mtime: 1006, Version: 2, Cversion: 2 * 2, Aversion: 1, DataLength: 2, Pzxid: 11},
		"/c":         {Czxid: 7, Mzxid: 7, Ctime: 1007, Mtime: 1007, Pzxid: 7},
		"/t":         {Czxid: 8, Mzxid: 8, Ctime: 1008, Mtime: 1008, DataLength: 1, Pzxid: 8},
		"/zookeeper": {Cversion: 2*2 - 2, NumChildren: 2},
	}
	for p, st := range want {
		n := tree.Nodes[p]
		if n == nil {
			t.Fatalf("%s missing", p)
		}
		if n.Stat != st {
			t.Errorf("%s: stat\n got  %+v\n want %+v", p, n.Stat, st)
		}
	}
	if got := tree.Paths(); !reflect.DeepEqual(got, []string{"/", "/a", "/c", "/t", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}) {
		t.Errorf("paths %v", got)
	}
	if k := tree.Nodes["/c"].Kind(); k != Container || tree.Nodes["/c"].Persisted.EphemeralOwner != ContainerOwner {
		t.Errorf("/c kind %v", k)
	}
	if n := tree.Nodes["/t"]; n.Kind() != TTL || n.TTL() != 60000 {
		t.Errorf("/t kind %v ttl %d", n.Kind(), n.TTL())
	}
	if acl := tree.Nodes["/a"].ACL; len(acl) != 1 || acl[0].Scheme != "digest" {
		t.Errorf("/a ACL %v", acl)
	}
	if acl := tree.Nodes["/zookeeper/config"].ACL; !reflect.DeepEqual(acl, readOnlyWorld) {
		t.Errorf("config ACL %v", acl)
	}
	if !reflect.DeepEqual(tree.Nodes["/"].Children, []string{"a", "c", "t", "zookeeper"}) {
		t.Errorf("root children %v", tree.Nodes["/"].Children)
	}
}

// TestSyntheticDigests checks the snapshot digest and transaction digests
// with values computed independently (a full recomputation).
func TestSyntheticDigests(t *testing.T) {
	snap := encSnapshot(snapSpec{acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes(), digestAuto: 0})
	// Build the expected digest after each txn by replaying on a fresh
	// loader and recomputing from scratch.
	txns := syntheticTxns()
	s0, err := readSnapshot("s", bytes.NewReader(snap), int64(len(snap)), DefaultMaxBuffer)
	if err != nil {
		t.Fatal(err)
	}
	l := &loader{out: &Tree{Sessions: map[int64]int32{}}, tree: s0.tree, maxBuf: DefaultMaxBuffer}
	var withDigests [][]byte
	for _, b := range txns {
		e, err := decodeTxn(b, DefaultMaxBuffer)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.apply(&e.hdr, e.body, false); err != nil {
			t.Fatal(err)
		}
		full := l.tree.recomputeDigest()
		if full != l.tree.digest {
			t.Fatalf("zxid %d: incremental digest %#x, recomputed %#x", e.hdr.zxid, l.tree.digest, full)
		}
		withDigests = append(withDigests, append(append([]byte(nil), b...), binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 2), full)...))
	}
	dir := writeDataDir(t, map[string][]byte{"snapshot.0": snap, "log.1": encLog(64, withDigests...)})
	tree, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tree.TxnDigestsVerified != len(txns) {
		t.Fatalf("verified %d txn digests, want %d", tree.TxnDigestsVerified, len(txns))
	}
	// A wrong digest on the 5th txn is an error naming the file and offset.
	bad := append([][]byte(nil), withDigests...)
	bad[4] = append([]byte(nil), bad[4]...)
	bad[4][len(bad[4])-1] ^= 1
	dir = writeDataDir(t, map[string][]byte{"snapshot.0": snap, "log.1": encLog(64, bad...)})
	_, err = Load(dir, nil)
	var fe *FormatError
	if !errors.Is(err, ErrDigestMismatch) || !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "log.1") || fe.Offset <= logHeaderSize {
		t.Fatalf("err %v", err)
	}
	// A snapshot whose digest is wrong, with no later txn digest: error.
	snapBad := encSnapshot(snapSpec{acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes(), digest: &Digest{Zxid: 5, Version: 2, Value: 12345}})
	dir = writeDataDir(t, map[string][]byte{"snapshot.5": snapBad})
	if _, err := Load(dir, nil); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("wrong snapshot digest: %v", err)
	}
	// The right one verifies; an unknown version is skipped.
	snapOK := encSnapshot(snapSpec{acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes(), digestAuto: 5})
	dir = writeDataDir(t, map[string][]byte{"snapshot.5": snapOK})
	if tr, err := Load(dir, nil); err != nil || !tr.Digest.Verified {
		t.Fatalf("right snapshot digest: %v %+v", err, tr)
	}
	snapV9 := encSnapshot(snapSpec{acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes(), digest: &Digest{Zxid: 5, Version: 9, Value: 1}})
	dir = writeDataDir(t, map[string][]byte{"snapshot.5": snapV9})
	if tr, err := Load(dir, nil); err != nil || tr.Digest.Verified || !strings.Contains(tr.Digest.Skipped, "unknown digest version 9") {
		t.Fatalf("unknown version: %v %+v", err, tr.Digest)
	}
}

func TestSyntheticLogDamage(t *testing.T) {
	snap := encSnapshot(snapSpec{acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes()})
	txns := syntheticTxns()
	good := encLog(500, txns...)
	// Record offsets.
	offs := []int64{logHeaderSize}
	for _, b := range txns {
		offs = append(offs, offs[len(offs)-1]+int64(len(b))+13)
	}

	t.Run("TornTail", func(t *testing.T) {
		for _, cut := range []int64{offs[10] + 3, offs[10] + 12, offs[10] + 30, offs[11] - 1} {
			log := append([]byte(nil), good[:cut]...)
			tree, err := Load(writeDataDir(t, map[string][]byte{"snapshot.0": snap, "log.1": log}), nil)
			if err != nil {
				t.Fatalf("cut at %d: %v", cut, err)
			}
			if tree.LastZxid != 10 {
				t.Fatalf("cut at %d: last zxid %d", cut, tree.LastZxid)
			}
		}
		// A torn last record followed by zero padding.
		log := append([]byte(nil), good...)
		copy(log[offs[10]+20:offs[11]], make([]byte, offs[11]-offs[10]-20))
		tree, err := Load(writeDataDir(t, map[string][]byte{"snapshot.0": snap, "log.1": log}), nil)
		if err != nil || tree.LastZxid != 10 || !strings.Contains(strings.Join(tree.Warnings, " "), "torn tail") {
			t.Fatalf("%v %v", err, tree)
		}
	})
	t.Run("MidLog", func(t *testing.T) {
		log := append([]byte(nil), good...)
		log[offs[3]+12+20] ^= 0xff
		_, err := Load(writeDataDir(t, map[string][]byte{"snapshot.0": snap, "log.1": log}), nil)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "log.1") || fe.Offset != offs[3] || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err %v, want corruption at offset %d", err, offs[3])
		}
	})
	t.Run("OverlapAndSecondLog", func(t *testing.T) {
		// Snapshot at 4 with the first log overlapping it; a second log.
		files := map[string][]byte{
			"snapshot.0": snap,
			"log.1":      encLog(10, txns[:6]...),
			"log.7":      encLog(10, txns[6:]...),
		}
		tree, err := Load(writeDataDir(t, files), nil)
		if err != nil || tree.LastZxid != 11 || len(tree.Logs) != 2 {
			t.Fatalf("%v %+v", err, tree)
		}
		files["log.7"] = encLog(10, txns[7:]...) // zxid 7 missing
		tree, err = Load(writeDataDir(t, files), nil)
		if err != nil || !strings.Contains(strings.Join(tree.Warnings, " "), "missing") {
			t.Fatalf("gap: %v %v", err, tree.Warnings)
		}
	})
	t.Run("HugeLength", func(t *testing.T) {
		log := append([]byte(nil), good...)
		binary.BigEndian.PutUint32(log[offs[2]+8:], 0x7fffffff)
		_, err := Load(writeDataDir(t, map[string][]byte{"snapshot.0": snap, "log.1": log}), nil)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Offset != offs[2] {
			t.Fatalf("err %v", err)
		}
	})
}

func TestSyntheticSnapshots(t *testing.T) {
	snap := encSnapshot(snapSpec{sessions: map[int64]int32{sess: 3000}, acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes()})
	t.Run("Gzip", func(t *testing.T) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(snap)
		zw.Close()
		tree, err := Load(writeDataDir(t, map[string][]byte{"snapshot.3.gz": buf.Bytes()}), nil)
		if err != nil || tree.SnapshotZxid != 3 || tree.Sessions[sess] != 3000 || len(tree.Nodes) != 4 {
			t.Fatalf("%v %+v", err, tree)
		}
	})
	t.Run("Snappy", func(t *testing.T) {
		_, err := Load(writeDataDir(t, map[string][]byte{"snapshot.0": snap, "snapshot.3.snappy": []byte("snappy")}), nil)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "snappy") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		for _, cut := range []int{5, 30, len(snap) / 2, len(snap) - 1} {
			_, err := Load(writeDataDir(t, map[string][]byte{"snapshot.0": snap[:cut]}), nil)
			var fe *FormatError
			if !errors.Is(err, ErrNoValidSnapshot) || !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "snapshot.0") {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
	})
	t.Run("FallbackToOlder", func(t *testing.T) {
		bad := append([]byte(nil), snap...)
		bad[len(bad)/2] ^= 1
		tree, err := Load(writeDataDir(t, map[string][]byte{"snapshot.0": snap, "snapshot.9": bad}), nil)
		if err != nil || tree.SnapshotZxid != 0 || len(tree.SkippedSnapshots) != 1 {
			t.Fatalf("%v %+v", err, tree)
		}
	})
	t.Run("NoSnapshot", func(t *testing.T) {
		dir := writeDataDir(t, map[string][]byte{"log.1": encLog(10, syntheticTxns()...)})
		if _, err := Load(dir, nil); !errors.Is(err, ErrNoSnapshot) {
			t.Fatalf("err %v", err)
		}
		tree, err := Load(dir, &Options{AllowNoSnapshot: true})
		if err != nil || tree.LastZxid != 11 || tree.Nodes["/a"] == nil {
			t.Fatalf("%v %+v", err, tree)
		}
	})
	t.Run("SeparateLogDir", func(t *testing.T) {
		data := writeDataDir(t, map[string][]byte{"snapshot.0": snap})
		logs := writeDataDir(t, map[string][]byte{"log.1": encLog(10, syntheticTxns()...)})
		tree, err := Load(data, &Options{LogDir: logs})
		if err != nil || tree.LastZxid != 11 {
			t.Fatalf("%v %+v", err, tree)
		}
	})
}

func TestStatsTrack(t *testing.T) {
	for in, want := range map[string]string{
		"count=0,bytes=0":    "count=0,bytes=0",
		"count=100,bytes=-1": "count=100,bytes=-1",
		"count=1,bytes=2=;byteHardLimit=5;countHardLimit=7": "count=1,bytes=2=;byteHardLimit=5;countHardLimit=7",
		"": "count=-1,bytes=-1",
	} {
		m, ok := parseStatsTrack(in)
		if !ok || formatStatsTrack(m) != want {
			t.Errorf("%q: %v %q", in, ok, formatStatsTrack(m))
		}
	}
	for _, bad := range []string{"count", ",count=1", "count=x"} {
		if _, ok := parseStatsTrack(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Fuzz targets: any input must give a result or an error, never a panic,
// and a loaded tree's incremental digest must equal a full recomputation.

func FuzzSnapshot(f *testing.F) {
	f.Add(encSnapshot(snapSpec{sessions: map[int64]int32{sess: 3000}, acls: map[int64][]ACL{1: readOnlyWorld}, nodes: baseNodes(), digestAuto: 4}))
	f.Add(encSnapshot(snapSpec{nodes: baseNodes()[:1]}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := readSnapshot("fuzz", bytes.NewReader(b), int64(len(b)), 1<<16)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		if d := s.tree.recomputeDigest(); d != s.tree.digest {
			t.Fatalf("digest %#x, recomputed %#x", s.tree.digest, d)
		}
	})
}

func FuzzLog(f *testing.F) {
	f.Add(encLog(40, syntheticTxns()...))
	f.Add(encLog(0, syntheticTxns()[:3]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := &loader{out: &Tree{Sessions: map[int64]int32{}}, tree: newInitialTree(func(string) {}), maxBuf: 1 << 16}
		l.tree.warn = l.warn
		err := l.replayLog("fuzz", bytes.NewReader(b), int64(len(b)), true)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		if d := l.tree.recomputeDigest(); d != l.tree.digest {
			t.Fatalf("digest %#x, recomputed %#x", l.tree.digest, d)
		}
		if err := l.finish(); err != nil {
			t.Fatal(err)
		}
	})
}
