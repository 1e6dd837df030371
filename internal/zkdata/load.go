package zkdata

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/coordkit/coord/zkwire"
)

// maxSnapshotsTried is how many snapshots Load tries, newest first, as
// FileSnap does.
const maxSnapshotsTried = 100

type zxidFile struct {
	path string
	zxid int64
}

// versionDir returns dir/version-2, or dir itself when it already is one.
func versionDir(dir string) (string, error) {
	v := filepath.Join(dir, "version-2")
	if st, err := os.Stat(v); err == nil && st.IsDir() {
		return v, nil
	}
	if filepath.Base(filepath.Clean(dir)) == "version-2" {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
	}
	return "", fmt.Errorf("zkdata: %s has no version-2 directory", dir)
}

// zxidFromName is Util.getZxidFromName: the hexadecimal second
// dot-separated part of a name starting with prefix.
func zxidFromName(name, prefix string) (int64, bool) {
	parts := strings.Split(name, ".")
	if len(parts) < 2 || parts[0] != prefix {
		return 0, false
	}
	z, err := strconv.ParseInt(parts[1], 16, 64)
	if err != nil {
		return 0, false
	}
	return z, true
}

func listFiles(dir, prefix string) ([]zxidFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("zkdata: %w", err)
	}
	var out []zxidFile
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if z, ok := zxidFromName(e.Name(), prefix); ok {
			out = append(out, zxidFile{filepath.Join(dir, e.Name()), z})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].zxid < out[j].zxid })
	return out, nil
}

// snapshotMode is SnapStream.getStreamMode: the last extension.
func snapshotMode(name string) string {
	parts := strings.Split(name, ".")
	if len(parts) > 1 {
		switch strings.ToLower(parts[len(parts)-1]) {
		case "gz":
			return "gz"
		case "snappy":
			return "snappy"
		}
	}
	return ""
}

// quickValid is SnapStream.isValidSnapshot: a plain snapshot ends with a
// seal's "/" (int 1, byte '/'), a gzip one starts with the gzip magic.
func quickValid(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	switch snapshotMode(path) {
	case "gz":
		var m [2]byte
		if _, err := f.ReadAt(m[:], 0); err != nil || m[0] != 0x1f || m[1] != 0x8b {
			return &FormatError{File: path, Offset: 0, Msg: "no gzip magic", Err: ErrCorrupt}
		}
	case "snappy":
		return &FormatError{File: path, Offset: 0, Msg: "snappy-compressed snapshots are not supported (restart ZooKeeper with zookeeper.snapshot.compression.method unset or gz and let it write a new snapshot)", Err: ErrUnsupported}
	default:
		if st.Size() < 10 {
			return &FormatError{File: path, Offset: 0, Msg: fmt.Sprintf("only %d bytes long", st.Size()), Err: ErrCorrupt}
		}
		var t [5]byte
		if _, err := f.ReadAt(t[:], st.Size()-5); err != nil {
			return err
		}
		if t != [5]byte{0, 0, 0, 1, '/'} {
			return &FormatError{File: path, Offset: st.Size() - 5, Msg: "does not end with a checksum seal (incomplete snapshot)", Err: ErrCorrupt}
		}
	}
	return nil
}

func loadSnapshotFile(path string, maxBuf int) (*snapshot, error) {
	if err := quickValid(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var r io.Reader = f
	size := st.Size()
	if snapshotMode(path) == "gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, &FormatError{File: path, Offset: 0, Msg: "gzip", Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
		}
		defer zr.Close()
		r, size = zr, -1
	}
	return readSnapshot(path, r, size, maxBuf)
}

// Load reads the ZooKeeper dataDir dir (holding version-2/) and returns
// the data tree ZooKeeper would restore from it: the newest snapshot that
// loads (older ones are tried when the newest fails, as FileSnap does),
// then every logged transaction after it.
func Load(dir string, opts *Options) (*Tree, error) {
	if opts == nil {
		opts = &Options{}
	}
	maxBuf := opts.maxBuffer()
	snapDir, err := versionDir(dir)
	if err != nil {
		return nil, err
	}
	logDir := snapDir
	if opts.LogDir != "" {
		if logDir, err = versionDir(opts.LogDir); err != nil {
			return nil, err
		}
	}
	snaps, err := listFiles(snapDir, "snapshot")
	if err != nil {
		return nil, err
	}
	logs, err := listFiles(logDir, "log")
	if err != nil {
		return nil, err
	}

	out := &Tree{SnapshotZxid: -1}
	var snap *snapshot
	var failures []error
	for i := len(snaps) - 1; i >= 0 && len(snaps)-i <= maxSnapshotsTried; i-- {
		s, err := loadSnapshotFile(snaps[i].path, maxBuf)
		if err != nil {
			if errors.Is(err, ErrUnsupported) {
				return nil, err
			}
			out.SkippedSnapshots = append(out.SkippedSnapshots, SkippedFile{File: snaps[i].path, Err: err})
			failures = append(failures, err)
			continue
		}
		snap = s
		out.Snapshot, out.SnapshotZxid = snaps[i].path, snaps[i].zxid
		break
	}
	l := &loader{out: out, maxBuf: maxBuf}
	switch {
	case snap != nil:
		l.tree = snap.tree
		l.tree.warn = l.warn
		out.Warnings = append(out.Warnings, snap.warnings...)
		out.DBID = snap.dbid
		out.Sessions = snap.sessions
		out.LastZxid = out.SnapshotZxid
		if d := snap.digest; d != nil {
			out.Digest = d
			switch {
			case d.Zxid <= 0:
				d.Skipped = "the snapshot's digest is empty"
			case d.Zxid < out.SnapshotZxid:
				d.Skipped = fmt.Sprintf("the digest's zxid %#x is below the snapshot's %#x", d.Zxid, out.SnapshotZxid)
			default:
				l.pendingDigest = d
			}
		}
		if err := l.checkSnapshotDigest(); err != nil {
			return nil, err
		}
	case len(failures) > 0:
		return nil, fmt.Errorf("zkdata: %w in %s: %w", ErrNoValidSnapshot, snapDir, errors.Join(failures...))
	case len(logs) == 0:
		return nil, fmt.Errorf("zkdata: %w: %s has neither snapshots nor logs", ErrNoSnapshot, snapDir)
	case !opts.AllowNoSnapshot:
		return nil, fmt.Errorf("zkdata: %w: %s has logs but no snapshot (set AllowNoSnapshot to replay them onto an empty tree)", ErrNoSnapshot, snapDir)
	default:
		l.tree = newInitialTree(l.warn)
		out.Sessions = map[int64]int32{}
		out.LastZxid = 0
	}

	// The log that starts at or before the snapshot, and all later ones
	// (FileTxnLog.getLogFiles).
	var start int64
	for _, f := range logs {
		if f.zxid <= out.LastZxid && f.zxid > start {
			start = f.zxid
		}
	}
	for i, f := range logs {
		if f.zxid < start {
			continue
		}
		if err := l.replayFile(f.path, i == len(logs)-1); err != nil {
			return nil, err
		}
	}
	if d := l.pendingDigest; d != nil {
		d.Skipped = fmt.Sprintf("replay never reached the digest's zxid %#x (last zxid %#x)", d.Zxid, out.LastZxid)
	}
	if l.snapMismatch != "" {
		return nil, fmt.Errorf("zkdata: %w: %s, and no later transaction digest matched", ErrDigestMismatch, l.snapMismatch)
	}
	if err := l.finish(); err != nil {
		return nil, err
	}
	return out, nil
}

type loader struct {
	out           *Tree
	tree          *dataTree
	maxBuf        int
	pendingDigest *Digest // the snapshot's digest, until its zxid is reached
	snapMismatch  string  // a snapshot digest mismatch no txn digest has cleared yet
}

func (l *loader) warn(w string) { l.out.Warnings = append(l.out.Warnings, w) }

// checkSnapshotDigest compares the tree with the snapshot's digest once
// the tree is at its zxid (DataTree.compareSnapshotDigests).
func (l *loader) checkSnapshotDigest() error {
	d := l.pendingDigest
	if d == nil || l.out.LastZxid != d.Zxid {
		return nil
	}
	l.pendingDigest = nil
	if d.Version != digestVersion {
		d.Skipped = fmt.Sprintf("unknown digest version %d (only %d is known)", d.Version, digestVersion)
		return nil
	}
	if got := int64(l.tree.digest); got != d.Value {
		// A snapshot is fuzzy: a transaction being applied while it was
		// written can be in its tree though not in its digest (ZooKeeper
		// only logs this mismatch). The mismatch stands unless a later
		// transaction digest matches the replayed tree.
		l.snapMismatch = fmt.Sprintf("snapshot %s: tree digest at zxid %#x is %#x, the snapshot says %#x",
			l.out.Snapshot, d.Zxid, uint64(got), uint64(d.Value))
		d.Skipped = "mismatch at the snapshot's zxid (a fuzzy snapshot); see TxnDigestsVerified"
		return nil
	}
	d.Verified = true
	return nil
}

func (l *loader) replayFile(path string, last bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("zkdata: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("zkdata: %w", err)
	}
	return l.replayLog(path, f, st.Size(), last)
}

// replayLog applies the records of one log, read through r.
func (l *loader) replayLog(path string, r io.ReaderAt, size int64, last bool) error {
	lr := &logReader{name: path, r: r, size: size, max: l.maxBuf}
	if size == 0 && last {
		// ZooKeeper deletes an empty last log (created before its header
		// was written).
		l.warn(fmt.Sprintf("%s: empty log file ignored", path))
		return nil
	}
	version, _, err := lr.header()
	if err != nil {
		return err
	}
	if version != 2 {
		l.warn(fmt.Sprintf("%s: log format version %d (expected 2)", path, version))
	}
	l.out.Logs = append(l.out.Logs, path)
	off := int64(logHeaderSize)
	var lastInFile int64 // zxid of the last record read from this file
	for {
		b, next, status, why, err := lr.record(off)
		if err != nil {
			return &FormatError{File: path, Offset: off, Msg: "reading record", Err: err}
		}
		if status == recEnd {
			return nil
		}
		if status == recBad {
			later, err := lr.laterValidRecord(off, lastInFile)
			if err != nil {
				return &FormatError{File: path, Offset: off, Msg: "reading", Err: err}
			}
			if later >= 0 {
				return &FormatError{File: path, Offset: off, Msg: fmt.Sprintf("corrupt record (%s) followed by a valid record at offset %d", why, later), Err: ErrCorrupt}
			}
			l.warn(fmt.Sprintf("%s: torn tail at offset %d (%s): replay of this log stops there", path, off, why))
			return nil
		}
		e, err := decodeTxn(b, l.maxBuf)
		if err != nil {
			return &FormatError{File: path, Offset: off, Msg: "undecodable transaction", Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
		}
		lastInFile = e.hdr.zxid
		if err := l.applyEntry(e, path, off); err != nil {
			return err
		}
		off = next
	}
}

func (l *loader) applyEntry(e *txnEntry, path string, off int64) error {
	z := e.hdr.zxid
	if z <= l.out.LastZxid {
		l.out.TxnsSkipped++
		return nil
	}
	if prev := l.out.LastZxid; prev > 0 && z>>32 == prev>>32 && z != prev+1 {
		l.warn(fmt.Sprintf("%s: offset %d: zxid %#x follows %#x: transactions %#x..%#x are missing", path, off, z, prev, prev+1, z-1))
	}
	if err := l.apply(&e.hdr, e.body, false); err != nil {
		return &FormatError{File: path, Offset: off, Msg: fmt.Sprintf("transaction zxid %#x", z), Err: err}
	}
	l.out.LastZxid = z
	l.out.TxnsReplayed++
	if l.pendingDigest != nil {
		if err := l.checkSnapshotDigest(); err != nil {
			return err
		}
	} else if e.digest != nil {
		if e.digest.version != digestVersion {
			l.out.TxnDigestsSkipped++
		} else if got := int64(l.tree.digest); got != e.digest.digest {
			return &FormatError{File: path, Offset: off, Msg: fmt.Sprintf("tree digest after zxid %#x is %#x, the log says %#x", z, uint64(got), uint64(e.digest.digest)), Err: ErrDigestMismatch}
		} else {
			l.out.TxnDigestsVerified++
			if l.snapMismatch != "" {
				l.warn(l.snapMismatch + fmt.Sprintf(" (fuzzy snapshot: the tree matched the transaction digest at zxid %#x)", z))
				l.snapMismatch = ""
			}
		}
	}
	return nil
}

// apply is DataTree.processTxn plus the session bookkeeping of
// FileTxnSnapLog.processTransaction. ZooKeeper errors (no node, node
// exists) are ignored as replay ignores them; only undecodable multi
// parts are reported, as warnings.
func (l *loader) apply(h *txnHeader, body any, sub bool) error {
	t := l.tree
	var kerr error
	switch h.typ {
	case opCreate, opCreate2:
		c, ok := body.(*createTxn)
		if !ok {
			return fmt.Errorf("%w: create without a create record", ErrCorrupt)
		}
		owner := int64(0)
		if c.ephemeral {
			owner = h.clientID
		}
		kerr = t.createNode(c.path, c.data, c.acl, owner, c.parentCVersion, h.zxid, h.time)
		if h.typ == opCreate && kerr == errNodeExists {
			parent, _ := parentOf(c.path)
			t.setCversionPzxid(parent, c.parentCVersion, h.zxid)
		}
	case opCreateTTL, opCreateContainer:
		c, ok := body.(*createTxn)
		if !ok {
			return fmt.Errorf("%w: create without a create record", ErrCorrupt)
		}
		owner := ContainerOwner
		if h.typ == opCreateTTL {
			if c.ttl <= 0 || c.ttl > ttlValueMask {
				return fmt.Errorf("%w: TTL %d out of range", ErrCorrupt, c.ttl)
			}
			owner = extendedMask | c.ttl
		}
		kerr = t.createNode(c.path, c.data, c.acl, owner, c.parentCVersion, h.zxid, h.time)
	case opDelete, opDeleteContainer:
		if d, ok := body.(*deleteTxn); ok {
			kerr = t.deleteNode(d.path, h.zxid)
		}
	case opSetData, opReconfig:
		if s, ok := body.(*setDataTxn); ok {
			kerr = t.setData(s.path, s.data, s.version, h.zxid, h.time)
		}
	case opSetACL:
		if s, ok := body.(*setACLTxn); ok {
			kerr = t.setACL(s.path, s.acl, s.version)
		}
	case opCreateSession:
		if s, ok := body.(*createSessionTxn); ok && !sub {
			l.out.Sessions[h.clientID] = s.timeout
		}
	case opCloseSession:
		if !sub {
			delete(l.out.Sessions, h.clientID)
			c, _ := body.(*closeSessionTxn)
			if c == nil {
				c = &closeSessionTxn{}
			}
			t.killSession(h.clientID, h.zxid, c.paths, c.has)
		}
	case opMulti:
		m, ok := body.(*multiTxn)
		if !ok || sub {
			return nil
		}
		failed := false
		for _, s := range m.subs {
			if s.typ == opError {
				failed = true
				break
			}
		}
		for i, s := range m.subs {
			switch s.typ {
			case opCreate, opCreate2, opCreateTTL, opCreateContainer, opDelete, opDeleteContainer, opSetData, opError, opCheck:
			default:
				l.warn(fmt.Sprintf("multi at zxid %#x: part %d has type %d, which a multi cannot hold; the rest of the multi is not applied", h.zxid, i, s.typ))
				return nil
			}
			if failed {
				continue // every part becomes an error transaction
			}
			d := zkwire.NewDecoder(s.data)
			d.SetMaxLength(l.maxBuf)
			rec, err := decodeBody(d, s.data, s.typ)
			if err != nil {
				l.warn(fmt.Sprintf("multi at zxid %#x: part %d (type %d) does not decode (%v); the rest of the multi is not applied", h.zxid, i, s.typ, err))
				return nil
			}
			sh := *h
			sh.typ = s.typ
			if err := l.apply(&sh, rec, true); err != nil {
				return err
			}
		}
	case opError, opCheck:
	}
	_ = kerr // replay ignores NoNode / NodeExists, as ZooKeeper does
	return nil
}

// finish builds the output nodes, dropping nodes no longer reachable from
// the root, and fails on a node whose ACL reference was never resolved.
func (l *loader) finish() error {
	t := l.tree
	out := l.out
	out.Nodes = make(map[string]*Node, len(t.nodes))
	root := t.nodes[""]
	if root == nil {
		return fmt.Errorf("zkdata: %w: the tree has no root", ErrCorrupt)
	}
	type item struct {
		key string
		n   *dnode
	}
	stack := []item{{"", root}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := it.n
		if n.hasMissing {
			return fmt.Errorf("zkdata: %w: node %q refers to ACL %d, which the snapshot's ACL cache lacks", ErrCorrupt, displayPath(it.key), n.aclMissing)
		}
		var kids []string
		for c := range n.children {
			ck := it.key + "/" + c
			if cn := t.nodes[ck]; cn != nil {
				kids = append(kids, c)
				stack = append(stack, item{ck, cn})
			}
		}
		sort.Strings(kids)
		nc := int32(len(n.children))
		owner := n.stat.EphemeralOwner
		if KindOf(owner) != Ephemeral {
			owner = 0
		}
		s := n.stat
		out.Nodes[displayPath(it.key)] = &Node{
			Path: displayPath(it.key), Data: n.data, ACL: n.acl, Persisted: s, Children: kids,
			Stat: Stat{
				Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime,
				Version: s.Version, Cversion: s.Cversion*2 - nc, Aversion: s.Aversion,
				EphemeralOwner: owner, DataLength: int32(len(n.data)), NumChildren: nc, Pzxid: s.Pzxid,
			},
		}
	}
	if len(out.Nodes) != len(t.nodes) {
		var lost []string
		for k := range t.nodes {
			if out.Nodes[displayPath(k)] == nil {
				lost = append(lost, k)
			}
		}
		sort.Strings(lost)
		l.warn(fmt.Sprintf("%d nodes unreachable from the root dropped: %v", len(lost), lost))
	}
	return nil
}

func displayPath(k string) string {
	if k == "" {
		return "/"
	}
	return k
}
