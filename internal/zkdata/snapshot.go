package zkdata

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"strconv"
)

// Snapshot layout (FileSnap, SerializeUtils, DataTree, SnapStream), all
// big-endian jute:
//
//	FileHeader   int magic "ZKSN", int version, long dbid
//	sessions     int count, count × (long id, int timeout)
//	ACL cache    int count, count × (long ref, vector<ACL>)
//	nodes        (ustring path, buffer data, long aclRef, StatPersisted)*
//	             ending with the path "/"; the root's path is ""
//	seal         long Adler32 of every byte before it, ustring "/"
//	[ZxidDigest  long zxid, int version, long digest (a hex ustring when
//	             version < 2), seal]                                3.6+
//	[long lastProcessedZxid, seal]                                  3.9+
//
// For .gz snapshots all of this is the decompressed stream.

const snapMagic = 0x5A4B534E // "ZKSN"

// streamReader decodes jute from a stream, keeping the Adler32 of every
// byte consumed and the offset, and bounding every length by what is left
// of the stream (when its size is known) and by max.
type streamReader struct {
	name string
	r    *bufio.Reader
	off  int64
	size int64 // -1 when unknown (compressed)
	sum  hash.Hash32
	max  int
	err  error
	b8   [8]byte
}

func newStreamReader(name string, r io.Reader, size int64, max int) *streamReader {
	return &streamReader{name: name, r: bufio.NewReaderSize(r, 64<<10), size: size, sum: adler32.New(), max: max}
}

func (s *streamReader) fail(off int64, cause error, format string, args ...any) {
	if s.err == nil {
		if cause == nil {
			cause = ErrCorrupt
		}
		s.err = &FormatError{File: s.name, Offset: off, Msg: fmt.Sprintf(format, args...), Err: cause}
	}
}

func (s *streamReader) full(b []byte, what string) bool {
	if s.err != nil {
		return false
	}
	start := s.off
	n, err := io.ReadFull(s.r, b)
	s.sum.Write(b[:n])
	s.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			s.fail(start, ErrCorrupt, "truncated reading %s (%d of %d bytes)", what, n, len(b))
		} else {
			s.fail(start, fmt.Errorf("%w: %w", ErrCorrupt, err), "reading %s", what)
		}
		return false
	}
	return true
}

func (s *streamReader) int32(what string) int32 {
	if !s.full(s.b8[:4], what) {
		return 0
	}
	return int32(uint32(s.b8[0])<<24 | uint32(s.b8[1])<<16 | uint32(s.b8[2])<<8 | uint32(s.b8[3]))
}

func (s *streamReader) int64(what string) int64 {
	if !s.full(s.b8[:8], what) {
		return 0
	}
	var v uint64
	for _, c := range s.b8[:8] {
		v = v<<8 | uint64(c)
	}
	return int64(v)
}

// length reads a length prefix of elements of at least minSize bytes: -1
// for null, else a length that fits in the rest of the stream and max.
func (s *streamReader) length(what string, minSize int) int {
	start := s.off
	n := s.int32(what + " length")
	if s.err != nil {
		return 0
	}
	switch {
	case n == -1:
		return -1
	case n < -1:
		s.fail(start, nil, "negative %s length %d", what, n)
		return 0
	case int(n) > s.max:
		s.fail(start, nil, "%s length %d exceeds the limit %d", what, n, s.max)
		return 0
	case s.size >= 0 && int64(n)*int64(max(minSize, 1)) > s.size-s.off:
		s.fail(start, nil, "%s length %d exceeds the %d bytes left", what, n, s.size-s.off)
		return 0
	}
	return int(n)
}

// buffer reads a jute buffer (nil for null), allocating as the bytes
// arrive when the stream's size is unknown.
func (s *streamReader) buffer(what string) []byte {
	n := s.length(what, 1)
	if n < 0 || s.err != nil {
		return nil
	}
	const chunk = 1 << 20
	if n <= chunk || s.size >= 0 {
		b := make([]byte, n)
		s.full(b, what)
		return b
	}
	b := make([]byte, 0, chunk)
	for len(b) < n && s.err == nil {
		k := min(n-len(b), chunk)
		b = append(b, make([]byte, k)...)
		s.full(b[len(b)-k:], what)
	}
	return b
}

func (s *streamReader) ustring(what string) string {
	b := s.buffer(what)
	return string(b)
}

// atEOF reports whether the stream has no more bytes.
func (s *streamReader) atEOF() bool {
	if s.err != nil {
		return false
	}
	_, err := s.r.Peek(1)
	if err == io.EOF {
		return true
	}
	if err != nil {
		s.fail(s.off, fmt.Errorf("%w: %w", ErrCorrupt, err), "reading")
		return false
	}
	return false
}

// seal checks a checksum seal: the Adler32 of everything before it, then
// the string "/".
func (s *streamReader) seal(what string) {
	want := int64(s.sum.Sum32())
	start := s.off
	got := s.int64(what + " checksum")
	path := s.ustring(what + " seal path")
	if s.err != nil {
		return
	}
	if got != want {
		s.fail(start, nil, "%s checksum mismatch: stored %#x, computed %#x", what, uint64(got), uint64(want))
		return
	}
	if path != "/" {
		s.fail(start+8, nil, "%s seal path is %q, want \"/\"", what, path)
	}
}

func (s *streamReader) acls(what string) ([]ACL, bool) {
	start := s.off
	n := s.length(what, 12)
	if s.err != nil {
		return nil, false
	}
	if n < 0 {
		s.fail(start, nil, "null %s vector", what)
		return nil, false
	}
	out := []ACL{}
	for i := 0; i < n && s.err == nil; i++ {
		a := ACL{Perms: s.int32("acl perms")}
		a.Scheme = s.ustring("acl scheme")
		a.ID = s.ustring("acl id")
		out = append(out, a)
	}
	return out, s.err == nil
}

// snapshot is what one snapshot file holds.
type snapshot struct {
	version       int32
	dbid          int64
	sessions      map[int64]int32
	tree          *dataTree
	digest        *Digest // nil when there is no digest section
	lastProcessed int64   // from the 3.9 section, -1 when absent
	warnings      []string
}

// readSnapshot decodes a snapshot stream. size is the stream's length, or
// -1 when unknown.
func readSnapshot(name string, r io.Reader, size int64, maxBuf int) (*snapshot, error) {
	s := newStreamReader(name, r, size, maxBuf)
	snap := &snapshot{sessions: map[int64]int32{}, lastProcessed: -1}
	snap.tree = newDataTree(func(w string) { snap.warnings = append(snap.warnings, w) })

	if magic := s.int32("header magic"); s.err == nil && magic != snapMagic {
		return nil, &FormatError{File: name, Offset: 0, Msg: fmt.Sprintf("bad magic %#x, want %#x (\"ZKSN\")", uint32(magic), snapMagic), Err: ErrCorrupt}
	}
	snap.version = s.int32("header version")
	snap.dbid = s.int64("header dbid")

	// Sessions.
	start := s.off
	count := s.int32("session count")
	if s.err == nil && count < 0 {
		s.fail(start, nil, "negative session count %d", count)
	}
	if s.err == nil && s.size >= 0 && int64(count)*12 > s.size-s.off {
		s.fail(start, nil, "session count %d exceeds the %d bytes left", count, s.size-s.off)
	}
	for i := int32(0); i < count && s.err == nil; i++ {
		id := s.int64("session id")
		to := s.int32("session timeout")
		snap.sessions[id] = to
	}

	// ACL cache.
	start = s.off
	count = s.int32("ACL cache size")
	if s.err == nil && count < 0 {
		s.fail(start, nil, "negative ACL cache size %d", count)
	}
	if s.err == nil && s.size >= 0 && int64(count)*12 > s.size-s.off {
		s.fail(start, nil, "ACL cache size %d exceeds the %d bytes left", count, s.size-s.off)
	}
	aclCache := map[int64][]ACL{}
	for i := int32(0); i < count && s.err == nil; i++ {
		ref := s.int64("ACL reference")
		list, ok := s.acls("ACL list")
		if ok {
			aclCache[ref] = list
		}
	}

	// Nodes, parents before children.
	t := snap.tree
	for s.err == nil {
		start = s.off
		p := s.ustring("node path")
		if s.err != nil || p == "/" {
			break
		}
		n := &dnode{children: map[string]struct{}{}}
		n.data = s.buffer("node data")
		ref := s.int64("node ACL reference")
		n.stat = StatPersisted{
			Czxid: s.int64("czxid"), Mzxid: s.int64("mzxid"), Ctime: s.int64("ctime"), Mtime: s.int64("mtime"),
			Version: s.int32("version"), Cversion: s.int32("cversion"), Aversion: s.int32("aversion"),
			EphemeralOwner: s.int64("ephemeralOwner"), Pzxid: s.int64("pzxid"),
		}
		if s.err != nil {
			break
		}
		switch {
		case ref == -1:
			n.acl = OpenACL
		case aclCache[ref] != nil:
			n.acl = aclCache[ref]
		default:
			n.aclMissing, n.hasMissing = ref, true
		}
		if _, dup := t.nodes[p]; dup {
			s.fail(start, nil, "node %q appears twice", p)
			break
		}
		if p != "" {
			parentName, childName := parentOf(p)
			parent := t.nodes[parentName]
			if p[0] != '/' || parent == nil {
				s.fail(start, nil, "node %q has no parent %q before it", p, parentName)
				break
			}
			parent.children[childName] = struct{}{}
			t.trackOwner(p, n.stat.EphemeralOwner)
		}
		t.put(p, n)
	}
	if s.err == nil && t.nodes[""] == nil {
		s.fail(start, nil, "snapshot has no root node")
	}
	s.seal("snapshot")
	if s.err != nil {
		return nil, s.err
	}

	// Optional digest section (3.6+), then the last processed zxid (3.9+).
	if !s.atEOF() && s.err == nil {
		d := &Digest{Zxid: s.int64("digest zxid"), Version: s.int32("digest version")}
		if d.Version < 2 {
			start = s.off
			hex := s.ustring("digest")
			if s.err == nil && hex != "" {
				v, err := strconv.ParseUint(hex, 16, 64)
				if err != nil {
					s.fail(start, nil, "digest %q is not hexadecimal", hex)
				}
				d.Value = int64(v)
			}
		} else {
			d.Value = s.int64("digest")
		}
		s.seal("digest section")
		snap.digest = d
	}
	if !s.atEOF() && s.err == nil {
		snap.lastProcessed = s.int64("last processed zxid")
		s.seal("last processed zxid section")
	}
	if s.err == nil && !s.atEOF() && s.err == nil {
		snap.warnings = append(snap.warnings, fmt.Sprintf("%s: unexpected bytes after offset %d ignored", name, s.off))
	}
	if s.err != nil {
		return nil, s.err
	}
	t.setupQuota()
	return snap, nil
}
