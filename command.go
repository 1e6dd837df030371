package coord

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// opKind names a state change. Every change to the replicated state is one
// of these, carried in the raft log and applied by tree.apply.
type opKind uint8

const (
	opCreate          opKind = 1
	opDelete          opKind = 2
	opSetData         opKind = 3
	opSetACL          opKind = 4
	opCheck           opKind = 5 // only inside a multi
	opMulti           opKind = 6
	opCreateSession   opKind = 7
	opCloseSession    opKind = 8
	opDeleteContainer opKind = 9 // leader's cleanup of containers and expired TTL nodes
	opSetQuota        opKind = 10
	opDelQuota        opKind = 11
	opSync            opKind = 12 // a place in the log; changes nothing, takes no zxid
	opAttachSession   opKind = 13 // a session moves to the proposing node; takes no zxid
	opSetFormat       opKind = 14 // the ensemble's active log format rises; takes no zxid (log format 2)
	// Online restore (restore_apply.go); take no zxid (log format 2).
	opRestoreChunk  opKind = 15
	opRestoreCommit opKind = 16
	opRestoreAbort  opKind = 17
)

// Log formats: what a node can read of the log and of snapshots. A node
// reads every format up to logFormatMax. The ensemble's active format
// (tree.format) rises, through an opSetFormat entry, only once every member
// supports the next one (formatgate.go); entries and snapshots are written
// in the active format, so a node of an older version never meets one it
// cannot read until the format rose, and then it stops at once (an entry
// tag or snapshot version it does not know) rather than drift.
const (
	// logFormat1: entry tags batchFormat and groupFormat, snapshot
	// version 3. coord before the format gate wrote only this.
	logFormat1 = 1
	// logFormat2: entry tags batchFormatV2 and groupFormatV2, snapshot
	// version 4 (which records the active format), and opSetFormat.
	logFormat2   = 2
	logFormatMax = logFormat2
)

// Entry tags of log format 2: the same layouts as batchFormat and
// groupFormat, under tags that nodes of format 1 do not accept.
const (
	batchFormatV2 = 4
	groupFormatV2 = 5
)

// batchTag and groupTag are the entry tags of a log format.
func batchTag(format uint8) byte {
	if format >= logFormat2 {
		return batchFormatV2
	}
	return batchFormat
}

func groupTag(format uint8) byte {
	if format >= logFormat2 {
		return groupFormatV2
	}
	return groupFormat
}

// tagFormat is the log format of an entry or batch tag; 0 for a tag this
// node does not know.
func tagFormat(tag byte) uint8 {
	switch tag {
	case batchFormat, groupFormat:
		return logFormat1
	case batchFormatV2, groupFormatV2:
		return logFormat2
	}
	return 0
}

// command is one state change. Fields are used according to kind; the
// caller's identities travel with it so that apply can check ACLs
// deterministically on every replica.
type command struct {
	kind    opKind
	session int64
	ids     []ID
	path    string
	data    []byte
	acl     []ACL
	mode    CreateMode
	ttl     int64 // create: ms; createSession: timeout ms
	version int32
	ops     []command // multi
	passwd  []byte    // createSession
	expire  bool      // closeSession: expired rather than closed
}

// batch is the payload of one raft log entry: commands from any number of
// sessions, stamped with the leader's clock when it proposed them.
type batch struct {
	format uint8 // the log format it is encoded in; 0 means logFormat1
	time   int64 // ms since the epoch, leader's clock
	// origin and counter identify the batch: every node numbers the
	// batches it sends, and apply skips a batch whose counter is not above
	// the last one applied from that origin. A stale copy (a forward that
	// sat in a dead connection's buffer while its sender moved on) can
	// then never be applied after the sender resolved its fate.
	origin  uint64
	counter uint64
	entries []entry
}

// entry is a command with the tag of the node that proposed it, so that
// node (and only it) can hand the result back to its waiting caller.
type entry struct {
	origin uint64 // the proposing node's incarnation tag
	seq    uint64 // the proposer's request number
	cmd    command
}

const batchFormat = 2

// groupFormat marks a raft entry that carries several batches: the leader
// packs its own commands and the batches other nodes forwarded to it into
// one entry, so that one raft round (one log append and sync on every node,
// one message to each follower) commits the work of the whole ensemble.
// Each batch keeps its origin and counter, and apply treats it exactly as
// an entry of its own; the group's time, the leader's clock, replaces the
// batches' times.
//
//	groupFormat, time (varint), count (uvarint), count × (len (uvarint), batch)
const groupFormat = 3

// appendGroupHeader starts a group entry of count batches; each batch then
// follows with appendGroupMember.
func appendGroupHeader(dst []byte, format uint8, time int64, count int) []byte {
	dst = append(dst, groupTag(format))
	dst = binary.AppendVarint(dst, time)
	return binary.AppendUvarint(dst, uint64(count))
}

func appendGroupMember(dst, encodedBatch []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(encodedBatch)))
	return append(dst, encodedBatch...)
}

// errUnknownFormat: an entry, or a batch in a group, of a format this
// node does not know (written by a newer version).
var errUnknownFormat = errors.New("coord: raft entry of an unknown format")

// splitEntry calls f for every batch in a raft entry's data, in order:
// the entry itself when it is one batch, or each member of a group with
// the group's time. A malformed group, or one with a member of an unknown
// format, is an error before f sees any of its members; otherwise
// splitEntry stops at the first error from f.
func splitEntry(data []byte, f func(batch []byte, time int64, grouped bool) error) error {
	switch {
	case len(data) > 0 && (data[0] == batchFormat || data[0] == batchFormatV2):
		return f(data, 0, false)
	case len(data) == 0 || (data[0] != groupFormat && data[0] != groupFormatV2):
		return errUnknownFormat
	}
	if err := walkGroup(data, checkMemberFormat); err != nil {
		return err
	}
	return walkGroup(data, f)
}

func checkMemberFormat(b []byte, _ int64, _ bool) error {
	if len(b) == 0 || (b[0] != batchFormat && b[0] != batchFormatV2) {
		return errUnknownFormat
	}
	return nil
}

// walkGroup reads a group's framing, calling f per member.
func walkGroup(data []byte, f func(batch []byte, time int64, grouped bool) error) error {
	d := decoder{b: data[1:]}
	time := d.varint()
	n := d.count(len(data))
	for i := 0; i < n && d.err == nil; i++ {
		m := d.uvarint()
		if d.err != nil || m > uint64(len(d.b)) {
			d.fail()
			break
		}
		member := d.b[:m:m]
		d.b = d.b[m:]
		if err := f(member, time, true); err != nil {
			return err
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}

// batchHeader reads the origin and counter of an encoded batch without
// decoding its commands.
func batchHeader(buf []byte) (origin, counter uint64, err error) {
	d := decoder{b: buf}
	if tag := d.byte(); tag != batchFormat && tag != batchFormatV2 {
		return 0, 0, errCorrupt
	}
	d.varint()
	origin = d.uvarint()
	counter = d.uvarint()
	return origin, counter, d.err
}

// commandLimits reports (as an error detail) how c exceeds what one
// command may carry, or "". Every replica must be able to decode what is
// proposed, so the decoder's limits below are checked before proposing.
func commandLimits(c *command) string {
	switch {
	case len(c.ids) > maxIDs:
		return "the session has " + strconv.Itoa(len(c.ids)) + " identities, the limit is " + strconv.Itoa(maxIDs)
	case len(c.ops) > maxMultiOps:
		return strconv.Itoa(len(c.ops)) + " ops, the limit is " + strconv.Itoa(maxMultiOps)
	case len(c.acl) > maxACLs:
		return strconv.Itoa(len(c.acl)) + " ACL entries, the limit is " + strconv.Itoa(maxACLs)
	}
	for i := range c.ops {
		if len(c.ops[i].acl) > maxACLs {
			return strconv.Itoa(len(c.ops[i].acl)) + " ACL entries, the limit is " + strconv.Itoa(maxACLs)
		}
	}
	if size := commandSize(c); size > maxCommandBytes {
		return "the command carries " + strconv.Itoa(size) + " bytes, the limit is " + strconv.Itoa(maxCommandBytes)
	}
	return ""
}

// Limits applied while decoding, so a corrupt or hostile entry cannot make
// the decoder allocate without bound.
const (
	maxMultiOps = 1 << 16
	maxIDs      = 1 << 10
	maxACLs     = 1 << 10
)

func encodeBatch(dst []byte, b *batch) []byte {
	dst = append(dst, batchTag(b.format))
	dst = binary.AppendVarint(dst, b.time)
	dst = binary.AppendUvarint(dst, b.origin)
	dst = binary.AppendUvarint(dst, b.counter)
	dst = binary.AppendUvarint(dst, uint64(len(b.entries)))
	for i := range b.entries {
		e := &b.entries[i]
		dst = binary.AppendUvarint(dst, e.origin)
		dst = binary.AppendUvarint(dst, e.seq)
		dst = encodeCommand(dst, &e.cmd)
	}
	return dst
}

func encodeCommand(dst []byte, c *command) []byte {
	dst = append(dst, byte(c.kind))
	dst = binary.AppendVarint(dst, c.session)
	dst = binary.AppendUvarint(dst, uint64(len(c.ids)))
	for _, id := range c.ids {
		dst = appendString(dst, id.Scheme)
		dst = appendString(dst, id.ID)
	}
	switch c.kind {
	case opCreate:
		dst = appendString(dst, c.path)
		dst = appendBytes(dst, c.data)
		dst = appendACL(dst, c.acl)
		dst = binary.AppendVarint(dst, int64(c.mode))
		dst = binary.AppendVarint(dst, c.ttl)
	case opDelete, opCheck:
		dst = appendString(dst, c.path)
		dst = binary.AppendVarint(dst, int64(c.version))
	case opSetData:
		dst = appendString(dst, c.path)
		dst = appendBytes(dst, c.data)
		dst = binary.AppendVarint(dst, int64(c.version))
	case opSetACL:
		dst = appendString(dst, c.path)
		dst = appendACL(dst, c.acl)
		dst = binary.AppendVarint(dst, int64(c.version))
	case opMulti:
		dst = binary.AppendUvarint(dst, uint64(len(c.ops)))
		for i := range c.ops {
			dst = encodeCommand(dst, &c.ops[i])
		}
	case opCreateSession:
		dst = binary.AppendVarint(dst, c.ttl)
		dst = appendBytes(dst, c.passwd)
	case opAttachSession:
		dst = appendBytes(dst, c.passwd)
	case opCloseSession:
		if c.expire {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	case opDeleteContainer, opDelQuota:
		dst = appendString(dst, c.path)
	case opSetQuota:
		dst = appendString(dst, c.path)
		dst = appendBytes(dst, c.data)
	case opSetFormat:
		dst = binary.AppendVarint(dst, int64(c.version))
	case opRestoreChunk:
		dst = binary.AppendVarint(dst, c.ttl)
		dst = binary.AppendVarint(dst, int64(c.version))
		dst = appendBytes(dst, c.data)
	case opRestoreCommit:
		dst = binary.AppendVarint(dst, c.ttl)
		dst = binary.AppendVarint(dst, int64(c.version))
	case opRestoreAbort:
		dst = binary.AppendVarint(dst, c.ttl)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return binary.AppendUvarint(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

func appendACL(dst []byte, acl []ACL) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(acl)))
	for _, a := range acl {
		dst = binary.AppendVarint(dst, int64(a.Perms))
		dst = appendString(dst, a.Scheme)
		dst = appendString(dst, a.ID)
	}
	return dst
}

var errCorrupt = errors.New("coord: corrupt command encoding")

// decoder reads the encoding above. It never panics: every length is
// checked against what remains before anything is allocated, and the first
// problem sticks.
type decoder struct {
	b      []byte
	err    error
	format uint8 // of the batch being decoded: which commands it may hold
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int32(v)
}

// count reads a length that must not exceed limit nor the bytes left (each
// item takes at least one byte).
func (d *decoder) count(limit int) int {
	n := d.uvarint()
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := make([]byte, n)
	copy(v, d.b)
	d.b = d.b[n:]
	return v
}

func (d *decoder) acl() []ACL {
	n := d.count(maxACLs)
	if n == 0 {
		return nil
	}
	acl := make([]ACL, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		acl = append(acl, ACL{Perms: Perm(d.int32()), Scheme: d.string(), ID: d.string()})
	}
	return acl
}

func decodeBatch(buf []byte) (batch, error) { return decodeBatchInto(buf, nil) }

// decodeBatchInto decodes into ents' storage when it is large enough, so
// the apply loop can reuse one slice of entries.
func decodeBatchInto(buf []byte, ents []entry) (batch, error) {
	d := decoder{b: buf}
	var b batch
	switch tag := d.byte(); tag {
	case batchFormat, batchFormatV2:
		d.format = tagFormat(tag)
	default:
		return batch{}, errCorrupt
	}
	b.format = d.format
	b.time = d.varint()
	b.origin = d.uvarint()
	b.counter = d.uvarint()
	n := d.count(len(buf))
	if d.err != nil {
		return batch{}, d.err
	}
	if cap(ents) >= n {
		b.entries = ents[:0]
	} else {
		b.entries = make([]entry, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		var e entry
		e.origin = d.uvarint()
		e.seq = d.uvarint()
		d.command(&e.cmd, 0)
		b.entries = append(b.entries, e)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return batch{}, d.err
	}
	return b, nil
}

func (d *decoder) command(c *command, depth int) {
	c.kind = opKind(d.byte())
	c.session = d.varint()
	if n := d.count(maxIDs); n > 0 {
		c.ids = make([]ID, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			c.ids = append(c.ids, ID{Scheme: d.string(), ID: d.string()})
		}
	}
	switch c.kind {
	case opCreate:
		c.path = d.string()
		c.data = d.bytes()
		c.acl = d.acl()
		c.mode = CreateMode(d.int32())
		c.ttl = d.varint()
	case opDelete, opCheck:
		c.path = d.string()
		c.version = d.int32()
	case opSetData:
		c.path = d.string()
		c.data = d.bytes()
		c.version = d.int32()
	case opSetACL:
		c.path = d.string()
		c.acl = d.acl()
		c.version = d.int32()
	case opMulti:
		if depth > 0 {
			d.fail()
			return
		}
		n := d.count(maxMultiOps)
		c.ops = make([]command, n)
		for i := 0; i < n && d.err == nil; i++ {
			d.command(&c.ops[i], depth+1)
		}
	case opCreateSession:
		c.ttl = d.varint()
		c.passwd = d.bytes()
	case opAttachSession:
		c.passwd = d.bytes()
	case opCloseSession:
		switch d.byte() {
		case 0:
		case 1:
			c.expire = true
		default:
			d.fail()
		}
	case opDeleteContainer, opDelQuota:
		c.path = d.string()
	case opSetQuota:
		c.path = d.string()
		c.data = d.bytes()
	case opSetFormat:
		c.version = d.int32()
		switch {
		case d.format < logFormat2 || depth > 0:
			d.fail() // not a command of format 1: the batch is corrupt
		case d.err == nil && c.version > logFormatMax:
			// A format this node cannot read: it must stop here, not skip.
			d.err = errUnknownFormat
			d.b = nil
		}
	case opRestoreChunk, opRestoreCommit, opRestoreAbort:
		if d.format < logFormat2 || depth > 0 {
			d.fail() // not a command of format 1: the batch is corrupt
			return
		}
		c.ttl = d.varint()
		if c.kind != opRestoreAbort {
			c.version = d.int32()
		}
		if c.kind == opRestoreChunk {
			c.data = d.bytes()
		}
	case opSync:
	default:
		d.fail()
	}
}
