package coord

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"slices"
)

// Snapshot format, version 3: magic, version, then the state, then a CRC-64
// of everything before it.
//
//	zxid, digest, now
//	ACL table: slot count, per slot (refs, list or nothing), free list
//	sessions (sorted by id): id, timeout, password, owner node tag
//	last batch counter per origin (sorted by origin)
//	nodes: count, per node path, data, stat words, owner, acl slot
//	(version 4 only, optional) a staged online restore (restore.go)
//
// Ephemeral sets and the container/TTL indexes are derived on restore.
const (
	snapMagic = "COORDSNP"
	// snapVersion is written while the active log format is 1, exactly as
	// coord wrote it before the format gate; snapVersionFormat once it
	// rose: the active format follows the version byte.
	snapVersion       = 3
	snapVersionFormat = 4
)

var errBadSnapshot = errors.New("coord: corrupt snapshot")

func encodeSnapshot(t *tree) []byte {
	b := encodeSnapshotHead(make([]byte, 0, 64+len(t.nodes)*64), t)
	for p, n := range t.nodes {
		b = appendNodeRecord(b, p, n)
	}
	b = appendRestoreStage(b, t.restore)
	return binary.LittleEndian.AppendUint64(b, crc64.Checksum(b, crcTable))
}

// encodeSnapshotHead encodes everything but the node records and the
// checksum, ending with the node count.
func encodeSnapshotHead(b []byte, t *tree) []byte {
	b = append(b, snapMagic...)
	if t.format <= logFormat1 {
		b = append(b, snapVersion)
	} else {
		b = append(b, snapVersionFormat)
		b = binary.AppendUvarint(b, uint64(t.format))
	}
	b = binary.AppendVarint(b, t.zxid)
	b = binary.AppendUvarint(b, t.digest)
	b = binary.AppendVarint(b, t.now)

	b = binary.AppendUvarint(b, uint64(len(t.acls.lists)))
	for _, e := range t.acls.lists {
		b = binary.AppendVarint(b, e.refs)
		if e.refs > 0 {
			b = appendACL(b, e.acl)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(t.acls.free)))
	for _, f := range t.acls.free {
		b = binary.AppendUvarint(b, uint64(f))
	}

	ids := make([]int64, 0, len(t.sessions))
	for id := range t.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		s := t.sessions[id]
		b = binary.AppendVarint(b, id)
		b = binary.AppendVarint(b, int64(s.timeout))
		b = appendBytes(b, s.passwd)
		b = binary.AppendUvarint(b, s.owner)
	}
	origins := make([]uint64, 0, len(t.lastBatch))
	for o := range t.lastBatch {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		b = binary.AppendUvarint(b, o)
		b = binary.AppendUvarint(b, t.lastBatch[o])
	}
	return binary.AppendUvarint(b, uint64(len(t.nodes)))
}

func appendNodeRecord(b []byte, p string, n *znode) []byte {
	b = appendString(b, p)
	b = appendBytes(b, n.data)
	for _, v := range [...]int64{n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime, n.owner,
		int64(n.version), int64(n.cseq), int64(n.aversion), int64(n.acl)} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func decodeSnapshot(buf []byte, limits treeLimits) (*tree, error) {
	if len(buf) < len(snapMagic)+1+8 || string(buf[:len(snapMagic)]) != snapMagic {
		return nil, errBadSnapshot
	}
	body, sum := buf[:len(buf)-8], binary.LittleEndian.Uint64(buf[len(buf)-8:])
	if crc64.Checksum(body, crcTable) != sum {
		return nil, errBadSnapshot
	}
	version := body[len(snapMagic)]
	if version != snapVersion && version != snapVersionFormat {
		return nil, fmt.Errorf("coord: unsupported snapshot version %d (this build reads %d and %d)", version, snapVersion, snapVersionFormat)
	}
	d := decoder{b: body[len(snapMagic)+1:]}
	format := uint64(logFormat1)
	if version == snapVersionFormat {
		format = d.uvarint()
		if d.err == nil && format > logFormatMax {
			return nil, fmt.Errorf("coord: the snapshot is of log format %d; this build reads up to %d: upgrade it", format, logFormatMax)
		}
	}
	t := &tree{
		nodes:      make(map[string]*znode),
		acls:       newACLTable(),
		sessions:   make(map[int64]*sessionEntry),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		lastBatch:  make(map[uint64]uint64),
		format:     uint8(format),
		limits:     limits,
	}
	t.zxid = d.varint()
	t.digest = d.uvarint()
	t.now = d.varint()

	nslots := d.count(len(d.b))
	t.acls.lists = make([]aclEntry, nslots)
	for i := 0; i < nslots && d.err == nil; i++ {
		refs := d.varint()
		if refs < 0 {
			d.fail()
			break
		}
		if refs > 0 {
			acl := d.acl()
			k := aclKey(acl)
			t.acls.lists[i] = aclEntry{acl: acl, key: k, refs: refs}
			t.acls.index[k] = uint32(i)
		}
	}
	nfree := d.count(len(d.b))
	for i := 0; i < nfree && d.err == nil; i++ {
		f := d.uvarint()
		if f >= uint64(nslots) {
			d.fail()
			break
		}
		t.acls.free = append(t.acls.free, uint32(f))
	}

	nsess := d.count(len(d.b))
	for i := 0; i < nsess && d.err == nil; i++ {
		id := d.varint()
		timeout := d.int32()
		passwd := d.bytes()
		owner := d.uvarint()
		t.sessions[id] = &sessionEntry{owner: owner, timeout: timeout, passwd: passwd, ephemerals: make(map[string]struct{})}
	}

	norigins := d.count(len(d.b))
	for i := 0; i < norigins && d.err == nil; i++ {
		o := d.uvarint()
		t.lastBatch[o] = d.uvarint()
	}

	nnodes := d.count(len(d.b))
	t.nodes = make(map[string]*znode, nnodes) // no rehashing while a million nodes go in
	for i := 0; i < nnodes && d.err == nil; i++ {
		p := d.string()
		n := &znode{data: d.bytes()}
		n.czxid, n.mzxid, n.pzxid = d.varint(), d.varint(), d.varint()
		n.ctime, n.mtime, n.owner = d.varint(), d.varint(), d.varint()
		n.version, n.cseq, n.aversion = d.int32(), d.int32(), d.int32()
		slot := d.varint()
		if slot < 0 || slot >= int64(nslots) || pathProblem(p) != "" {
			d.fail()
			break
		}
		n.acl = uint32(slot)
		t.nodes[p] = n
		t.dataSize += nodeSize(p, n)
	}
	if d.err == nil && len(d.b) != 0 && version == snapVersionFormat {
		t.restore = d.restoreStage()
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errBadSnapshot
	}
	if _, ok := t.nodes["/"]; !ok {
		return nil, errBadSnapshot
	}
	// Link children and rebuild the indexes.
	for p, n := range t.nodes {
		if p == "/" {
			continue
		}
		pp, name := parentOf(p)
		parent, ok := t.nodes[pp]
		if !ok {
			return nil, errBadSnapshot
		}
		if parent.children == nil {
			parent.children = make(map[string]struct{})
		}
		parent.children[name] = struct{}{}
		switch {
		case ownerIsEphemeral(n.owner):
			s, ok := t.sessions[n.owner]
			if !ok {
				return nil, errBadSnapshot
			}
			s.ephemerals[p] = struct{}{}
		case n.owner == ownerContainer:
			t.containers[p] = struct{}{}
		case ownerIsTTL(n.owner):
			t.ttls[p] = struct{}{}
		}
	}
	t.rebuildQuotaIndex()
	if err := t.checkInvariants(); err != nil {
		return nil, errors.Join(errBadSnapshot, err)
	}
	return t, nil
}
