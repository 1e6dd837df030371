package coord

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"time"
)

// A backup file is a point-in-time copy of the replicated state: every
// znode with its data, full stat and ACL, the sessions, and where zxids and
// sequential names continue. Its layout (integers little-endian; varints
// as encoding/binary's):
//
//	magic "COORDBKP", format version (1 byte, backupVersion)
//	header length (uvarint), header:
//	    zxid (varint), znode count (uvarint), tree digest (8 bytes),
//	    time of the backup in ms since the epoch (varint), node id (string)
//	body: coord's snapshot encoding (snapshot.go), with its own CRC-64
//	body length (8 bytes)
//	CRC-64 (ECMA) of everything before it (8 bytes)
//
// The header repeats what the body holds, so a reader can tell what a
// file is before reading the body, and checks both against each other.
const (
	backupMagic   = "COORDBKP"
	backupVersion = 1
	backupTrailer = 16
)

// BackupInfo describes a backup: what its header says, and (from
// VerifyBackup, Restore and the offline restore) what its body holds.
type BackupInfo struct {
	Version int       // the backup format version
	NodeID  string    // the node that took it
	Time    time.Time // when it was taken, by that node's clock
	Zxid    int64     // the last zxid in it: the next write takes Zxid+1
	Znodes  int       // znode count, the root and /zookeeper included
	Digest  uint64    // coord's tree digest (not ZooKeeper's)
	Size    int64     // bytes of the file

	// Filled once the body was read and verified.
	Sessions   int
	Ephemerals int
	DataBytes  int64 // sum of znode data lengths
	ACLs       int   // distinct ACL lists
	LogFormat  int   // the log format the body is encoded in
}

// BackupError is a backup (or snapshot) file that cannot be used: bad
// magic, an unknown version, truncation, a checksum or digest mismatch.
// File is set by the file-based calls; Offset is the byte offset in the
// file where the problem was found.
type BackupError struct {
	File   string
	Offset int64
	Msg    string
}

func (e *BackupError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("coord: backup %s: offset %d: %s", e.File, e.Offset, e.Msg)
	}
	return fmt.Sprintf("coord: backup: offset %d: %s", e.Offset, e.Msg)
}

// ErrBadBackup is wrapped by every BackupError; test with errors.Is.
var ErrBadBackup = errors.New("coord: bad backup")

func (e *BackupError) Unwrap() error { return ErrBadBackup }

// countingWriter counts and checksums what passes through it.
type countingWriter struct {
	w   io.Writer
	ctx context.Context
	n   int64
	sum uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	c.sum = crc64.Update(c.sum, crcTable, p)
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Backup writes a consistent point-in-time backup of this node's state
// to w: the tree as of the last entry the node applied when the call
// began. Writes go on meanwhile (the snapshot streams copy-on-write, as
// raft's own do). While a raft snapshot streams, Backup waits for it to
// end; while a backup streams, raft's snapshot is put off to its next
// interval. To back up everything the ensemble acknowledged before the
// call, call it on the leader, or after a Session.Sync.
//
// The admin command GET /commands/snapshot?streaming=true is this call.
func (n *Node) Backup(ctx context.Context, w io.Writer) (BackupInfo, error) {
	if n.fsm.halted.Load() {
		return BackupInfo{}, errHalted
	}
	var s *cowSnapshot
	for {
		var err error
		if s, err = n.fsm.trySnapshotCOW(); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return BackupInfo{}, ctx.Err()
		case <-n.stop:
			return BackupInfo{}, ErrClosed
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer s.Release()
	info := BackupInfo{
		Version: backupVersion, NodeID: n.cfg.NodeID, Time: time.Now().Truncate(time.Millisecond),
		Zxid: s.zxid, Znodes: s.count, Digest: s.dig,
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := &countingWriter{w: bw, ctx: ctx}
	if _, err := cw.Write(encodeBackupHeader(info)); err != nil {
		return BackupInfo{}, err
	}
	start := cw.n
	if err := s.Persist(cw); err != nil {
		return BackupInfo{}, err
	}
	var tr [backupTrailer]byte
	binary.LittleEndian.PutUint64(tr[:8], uint64(cw.n-start))
	if _, err := cw.Write(tr[:8]); err != nil {
		return BackupInfo{}, err
	}
	binary.LittleEndian.PutUint64(tr[8:], cw.sum)
	if _, err := bw.Write(tr[8:]); err != nil {
		return BackupInfo{}, err
	}
	if err := bw.Flush(); err != nil {
		return BackupInfo{}, err
	}
	info.Size = cw.n + 8
	return info, nil
}

func encodeBackupHeader(info BackupInfo) []byte {
	var h []byte
	h = binary.AppendVarint(h, info.Zxid)
	h = binary.AppendUvarint(h, uint64(info.Znodes))
	h = binary.LittleEndian.AppendUint64(h, info.Digest)
	h = binary.AppendVarint(h, info.Time.UnixMilli())
	h = appendString(h, info.NodeID)
	b := append([]byte(backupMagic), backupVersion)
	b = binary.AppendUvarint(b, uint64(len(h)))
	return append(b, h...)
}

// VerifyBackup reads a whole backup from r and checks it: magic, version,
// checksum, the body's own checksum and structure, and the tree digest
// recomputed from every znode against the body's and the header's. It
// returns the header and the counts of what the body holds.
func VerifyBackup(r io.Reader) (BackupInfo, error) {
	buf, err := io.ReadAll(r)
	if err != nil {
		return BackupInfo{}, err
	}
	info, _, err := decodeBackup(buf, treeLimits{maxData: maxCommandBytes})
	return info, err
}

// VerifyBackupFile is VerifyBackup of a file; its errors name the file.
func VerifyBackupFile(path string) (BackupInfo, error) {
	_, info, err := readBackupFile(path)
	return info, err
}

func readBackupFile(path string) (*tree, BackupInfo, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, BackupInfo{}, err
	}
	info, t, err := decodeBackup(buf, treeLimits{maxData: maxCommandBytes})
	if be, ok := err.(*BackupError); ok {
		be.File = path
	}
	return t, info, err
}

// decodeBackup checks a backup and decodes its tree.
func decodeBackup(buf []byte, limits treeLimits) (BackupInfo, *tree, error) {
	info, body, err := splitBackup(buf)
	if err != nil {
		return info, nil, err
	}
	bodyOff := int64(len(buf) - backupTrailer - len(body))
	t, err := decodeSnapshot(body, limits)
	if err != nil {
		return info, nil, &BackupError{Offset: bodyOff, Msg: "the snapshot in it does not decode: " + err.Error()}
	}
	if t.zxid != info.Zxid || len(t.nodes) != info.Znodes || t.digest != info.Digest {
		return info, nil, &BackupError{Offset: bodyOff, Msg: fmt.Sprintf(
			"header says zxid %#x, %d znodes, digest %016x; the snapshot holds zxid %#x, %d znodes, digest %016x",
			info.Zxid, info.Znodes, info.Digest, t.zxid, len(t.nodes), t.digest)}
	}
	info.fillCounts(t)
	return info, t, nil
}

func (info *BackupInfo) fillCounts(t *tree) {
	info.Sessions = len(t.sessions)
	info.Ephemerals = 0
	for _, s := range t.sessions {
		info.Ephemerals += len(s.ephemerals)
	}
	info.DataBytes = 0
	for _, n := range t.nodes {
		info.DataBytes += int64(len(n.data))
	}
	info.ACLs = len(t.acls.index)
	info.LogFormat = int(t.format)
}

// splitBackup checks a backup's framing and checksum and returns its
// header and body.
func splitBackup(buf []byte) (BackupInfo, []byte, error) {
	var info BackupInfo
	bad := func(off int, format string, args ...any) (BackupInfo, []byte, error) {
		return info, nil, &BackupError{Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
	}
	info.Size = int64(len(buf))
	if len(buf) < len(backupMagic)+1 {
		return bad(len(buf), "truncated: %d bytes, not even a header", len(buf))
	}
	if string(buf[:len(backupMagic)]) != backupMagic {
		if bytes.HasPrefix(buf, []byte(snapMagic)) {
			return bad(0, "this is a coord raft snapshot, not a backup (take one with Node.Backup or coordd's /commands/snapshot)")
		}
		return bad(0, "not a coord backup (magic %q)", buf[:len(backupMagic)])
	}
	info.Version = int(buf[len(backupMagic)])
	if info.Version != backupVersion {
		return bad(len(backupMagic), "backup format version %d; this build reads %d", info.Version, backupVersion)
	}
	d := decoder{b: buf[len(backupMagic)+1:]}
	hlen := d.uvarint()
	hoff := len(buf) - len(d.b)
	if d.err != nil || hlen > uint64(len(d.b)) {
		return bad(len(buf), "truncated in the header")
	}
	h := decoder{b: d.b[:hlen]}
	info.Zxid = h.varint()
	info.Znodes = int(h.uvarint())
	if len(h.b) >= 8 {
		info.Digest = binary.LittleEndian.Uint64(h.b)
		h.b = h.b[8:]
	} else {
		h.fail()
	}
	info.Time = time.UnixMilli(h.varint())
	info.NodeID = h.string()
	if h.err != nil {
		return bad(hoff+int(hlen)-len(h.b), "corrupt header")
	}
	bodyOff := hoff + int(hlen)
	if len(buf) < bodyOff+backupTrailer {
		return bad(len(buf), "truncated: the file ends %d bytes after the header, before the body's end", len(buf)-bodyOff)
	}
	end := len(buf) - backupTrailer
	if sum := binary.LittleEndian.Uint64(buf[end+8:]); crc64.Checksum(buf[:end+8], crcTable) != sum {
		return bad(end+8, "checksum mismatch: the file is truncated or corrupt (%d bytes; body from offset %d)", len(buf), bodyOff)
	}
	if blen := binary.LittleEndian.Uint64(buf[end:]); blen != uint64(end-bodyOff) {
		return bad(end, "body length %d recorded, %d found", blen, end-bodyOff)
	}
	return info, buf[bodyOff:end], nil
}

// Restore replaces the ensemble's whole state with a backup's, as
// ZooKeeper 3.9's restore admin command does, but through the log: every
// member switches at the same index. The backup is verified first. After
// the restore every znode has the backup's data, stat and ACL, and zxids
// and sequential names continue from the backup. Sessions the backup does
// not have end (expired), those in it are back and expire unless their
// clients reconnect; watches fire for the watched paths the restore
// changed (persistent recursive ones end), as after a member installs a
// snapshot.
//
// It needs the ensemble's log format 2 (see LogFormat): older members
// could not apply it. The admin command POST /commands/restore is this
// call.
func (n *Node) Restore(ctx context.Context, r io.Reader) error {
	_, err := n.RestoreInfo(ctx, r)
	return err
}

// restoreChunkBytes is the size of a restore's pieces in the log: well
// under maxCommandBytes, so that a piece is one modest raft entry.
const restoreChunkBytes = 4 << 20

// RestoreInfo is Restore, returning what the backup held.
func (n *Node) RestoreInfo(ctx context.Context, r io.Reader) (BackupInfo, error) {
	if active, _ := n.LogFormat(); active < logFormat2 {
		return BackupInfo{}, fmt.Errorf("coord: restore needs the ensemble's log format %d, it is at %d: upgrade every member first", logFormat2, active)
	}
	buf, err := io.ReadAll(r)
	if err != nil {
		return BackupInfo{}, err
	}
	info, body, err := splitBackup(buf)
	if err != nil {
		return info, err
	}
	t, err := decodeSnapshot(body, treeLimits{maxData: n.cfg.MaxDataSize, enforceQuota: n.cfg.EnforceQuota})
	if err != nil {
		return info, &BackupError{Offset: int64(len(buf) - backupTrailer - len(body)), Msg: "the snapshot in it does not decode: " + err.Error()}
	}
	if t.zxid != info.Zxid || t.digest != info.Digest || len(t.nodes) != info.Znodes {
		return info, &BackupError{Msg: "the header does not match the snapshot in it"}
	}
	info.fillCounts(t)
	t = nil
	id := int64(randUint64() >> 1)
	propose := func(c command) (result, error) {
		r, err := n.proposer.propose(ctx, c)
		if err == nil && r.err != CodeOK {
			err = fmt.Errorf("coord: restore: %w", r.err)
		}
		return r, err
	}
	seq := int32(0)
	for off := 0; off < len(body) || seq == 0; off += restoreChunkBytes {
		end := min(off+restoreChunkBytes, len(body))
		if _, err := propose(command{kind: opRestoreChunk, ttl: id, version: seq, data: body[off:end]}); err != nil {
			n.abortRestore(id)
			return info, err
		}
		seq++
	}
	res, err := propose(command{kind: opRestoreCommit, ttl: id, version: seq})
	if err != nil {
		n.abortRestore(id)
		return info, err
	}
	n.log.Info("restored a backup", "zxid", res.stat.Mzxid, "znodes", res.stat.Czxid, "from", info.NodeID, "taken", info.Time)
	return info, nil
}

// abortRestore drops a staged restore, best effort (the next restore
// drops it anyway).
func (n *Node) abortRestore(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = n.proposer.propose(ctx, command{kind: opRestoreAbort, ttl: id})
}
