package zkdata

import (
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"io"
)

// Transaction log layout (FileTxnLog, Util): a FileHeader (int magic
// "ZKLG", int version 2, long dbid), then records
//
//	long   Adler32 of the transaction bytes
//	int    length of the transaction bytes (0 ends the log: logs are
//	       preallocated and zero-padded)
//	bytes  TxnHeader, the transaction's record, maybe a TxnDigest
//	byte   'B' (end of record)

const (
	logMagic      = 0x5A4B4C47 // "ZKLG"
	logHeaderSize = 16
	txnHeaderSize = 32 // TxnHeader: long, int, long, long, int
	eor           = 'B'
)

// logReader walks the records of one log file.
type logReader struct {
	name string
	r    io.ReaderAt
	size int64
	max  int
}

type recStatus int

const (
	recOK  recStatus = iota
	recEnd           // a zero length, or the exact end of the file
	recBad           // torn, truncated or failing its checksum
)

// header checks the file header and returns the version and dbid.
func (l *logReader) header() (version int32, dbid int64, err error) {
	var b [logHeaderSize]byte
	if l.size < logHeaderSize {
		return 0, 0, &FormatError{File: l.name, Offset: 0, Msg: fmt.Sprintf("log file of %d bytes is shorter than its header", l.size), Err: ErrCorrupt}
	}
	if _, err := l.r.ReadAt(b[:], 0); err != nil {
		return 0, 0, &FormatError{File: l.name, Offset: 0, Msg: "reading header", Err: err}
	}
	if m := binary.BigEndian.Uint32(b[0:]); m != logMagic {
		return 0, 0, &FormatError{File: l.name, Offset: 0, Msg: fmt.Sprintf("bad magic %#x, want %#x (\"ZKLG\")", m, logMagic), Err: ErrCorrupt}
	}
	return int32(binary.BigEndian.Uint32(b[4:])), int64(binary.BigEndian.Uint64(b[8:])), nil
}

// record reads the record at off. For recOK it returns the transaction
// bytes and the offset of the next record; for recBad a reason.
func (l *logReader) record(off int64) (txn []byte, next int64, st recStatus, why string, err error) {
	left := l.size - off
	if left <= 0 {
		return nil, off, recEnd, "", nil
	}
	var h [12]byte
	if left < 12 {
		b := make([]byte, left)
		if _, err := l.r.ReadAt(b, off); err != nil {
			return nil, off, recBad, "", err
		}
		if allZero(b) {
			return nil, off, recEnd, "", nil
		}
		return nil, off, recBad, fmt.Sprintf("record header truncated (%d bytes left)", left), nil
	}
	if _, err := l.r.ReadAt(h[:], off); err != nil {
		return nil, off, recBad, "", err
	}
	crc := int64(binary.BigEndian.Uint64(h[0:]))
	n := int32(binary.BigEndian.Uint32(h[8:]))
	switch {
	case n == 0:
		return nil, off, recEnd, "", nil
	case n < 0:
		return nil, off, recBad, fmt.Sprintf("negative record length %d", n), nil
	case int(n) > l.max:
		return nil, off, recBad, fmt.Sprintf("record length %d exceeds the limit %d", n, l.max), nil
	case int64(n)+13 > left:
		return nil, off, recBad, fmt.Sprintf("record of %d bytes truncated (%d bytes left)", n, left-12), nil
	}
	b := make([]byte, int(n)+1)
	if _, err := l.r.ReadAt(b, off+12); err != nil {
		return nil, off, recBad, "", err
	}
	if b[n] != eor {
		return nil, off, recBad, fmt.Sprintf("end-of-record byte is %#x, want 'B'", b[n]), nil
	}
	if sum := int64(adler32.Checksum(b[:n])); sum != crc {
		return nil, off, recBad, fmt.Sprintf("checksum mismatch: stored %#x, computed %#x", uint64(crc), uint64(sum)), nil
	}
	return b[:n], off + 12 + int64(n) + 1, recOK, "", nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// laterValidRecord looks for a well-formed record (length, end byte and
// checksum all right) starting after off, and returns its offset or -1.
// It tells a corrupted record in the middle of a log from a torn tail.
// Only records whose TxnHeader has a known type and a zxid above minZxid
// count, which also keeps the number of checksums computed small.
func (l *logReader) laterValidRecord(off, minZxid int64) (int64, error) {
	const win = 1 << 20
	buf := make([]byte, 0, win+12)
	var base int64 = -1 // file offset of buf[0]
	for p := off + 1; p+12+txnHeaderSize+1 <= l.size; p++ {
		if base < 0 || p+12 > base+int64(len(buf)) {
			base = p
			k := min(int64(win+12), l.size-p)
			buf = buf[:k]
			if _, err := l.r.ReadAt(buf, p); err != nil && err != io.EOF {
				return -1, err
			}
		}
		// A record's length (at p+8) is at least 32, so it has a nonzero
		// byte: skip zero runs (preallocated padding) quickly.
		if z := zeroRun(buf[p-base+8:]); z >= 4 {
			p += int64(z) - 4
			continue
		}
		h := buf[p-base : p-base+12]
		n := int64(int32(binary.BigEndian.Uint32(h[8:])))
		if n < txnHeaderSize || n > int64(l.max) || p+12+n+1 > l.size {
			continue
		}
		var end [1]byte
		if _, err := l.r.ReadAt(end[:], p+12+n); err != nil {
			return -1, err
		}
		if end[0] != eor {
			continue
		}
		var th [txnHeaderSize]byte
		if _, err := l.r.ReadAt(th[:], p+12); err != nil {
			return -1, err
		}
		if z := int64(binary.BigEndian.Uint64(th[12:])); z <= minZxid || !knownTxnType(int32(binary.BigEndian.Uint32(th[28:]))) {
			continue
		}
		body := make([]byte, n)
		if _, err := l.r.ReadAt(body, p+12); err != nil {
			return -1, err
		}
		if int64(adler32.Checksum(body)) == int64(binary.BigEndian.Uint64(h[0:])) {
			return p, nil
		}
	}
	return -1, nil
}

// zeroRun returns how many leading bytes of b are zero.
func zeroRun(b []byte) int {
	i := 0
	for i+8 <= len(b) && binary.LittleEndian.Uint64(b[i:]) == 0 {
		i += 8
	}
	for i < len(b) && b[i] == 0 {
		i++
	}
	return i
}

func knownTxnType(t int32) bool {
	switch t {
	case opError, opCreate, opDelete, opSetData, opSetACL, opCheck, opMulti, opCreate2, opReconfig,
		opCreateContainer, opDeleteContainer, opCreateTTL, opCreateSession, opCloseSession:
		return true
	}
	return false
}
