// Package zkwire is a codec for the ZooKeeper client protocol: the jute
// binary serialization, the request/response records of the client API and
// the length-prefixed framing used on the TCP stream.
//
// It depends only on the standard library. Decoding never panics: every read
// is bounds-checked and every length prefix is validated against both the
// remaining input and a maximum (jute.maxbuffer, DefaultMaxBuffer unless
// changed) before anything is allocated.
//
// # Null values
//
// jute encodes strings, buffers and vectors as an int32 length followed by
// the payload, with -1 meaning null. This package:
//
//   - decodes a -1 string as "", a -1 vector as nil and a -1 buffer as nil;
//     any other negative length is an error (ErrNegativeLength);
//   - encodes strings and vectors with their length, so "" and nil vectors go
//     out as length 0, never -1 (go-zookeeper/zk cannot decode a -1 string or
//     vector length);
//   - encodes a nil []byte buffer as -1 and a non-nil empty buffer as 0, and
//     decodes a 0-length buffer as a non-nil empty slice. That is exactly what
//     ZooKeeper's BinaryOutputArchive/BinaryInputArchive do (writeBuffer writes
//     -1 for null; a node created with null data is returned with -1 in
//     GetDataResponse), and what go-zookeeper/zk does (its encoder writes
//     0xffffffff for a nil []byte, its decoder maps a negative buffer length
//     to nil). A decode/encode round trip therefore preserves the null/empty
//     distinction of node data. Use Encoder.NullBuffer to write -1 explicitly
//     and Encoder.Buffer([]byte{}) to force an empty, non-null buffer.
package zkwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer (0xfffff bytes): the
// largest frame and the largest single length-prefixed field accepted.
const DefaultMaxBuffer = 0xfffff

// Decoding and framing errors. Errors returned by this package wrap one of
// these; test with errors.Is.
var (
	// ErrShortBuffer: the input ended before the value being decoded.
	ErrShortBuffer = errors.New("zkwire: short buffer")
	// ErrNegativeLength: a length or count below -1.
	ErrNegativeLength = errors.New("zkwire: negative length")
	// ErrTooLarge: a length or count above the configured maximum.
	ErrTooLarge = errors.New("zkwire: length exceeds maximum")
	// ErrUnknownOpcode: an opcode that has no record layout here.
	ErrUnknownOpcode = errors.New("zkwire: unknown opcode")
	// ErrInvalidMulti: a malformed multi request or response (unknown op
	// type inside it, mixed read and write ops, mismatched record type).
	ErrInvalidMulti = errors.New("zkwire: invalid multi operation")
)

// Record is a jute record: something that can write itself to an Encoder and
// read itself from a Decoder.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// ---------------------------------------------------------------------------
// Encoder

// Encoder appends jute-encoded values to a byte slice. Encoding cannot fail
// except for misuse (for example a multi op whose record does not match its
// opcode, or a value longer than 2^31-1 bytes); such failures are sticky and
// reported by Err.
type Encoder struct {
	buf []byte
	err error
}

// NewEncoder returns an Encoder that appends to buf (which may be nil).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Reset discards the encoder state and makes it append to buf.
func (e *Encoder) Reset(buf []byte) { e.buf, e.err = buf, nil }

// Bytes returns the encoded bytes (including whatever buf held initially).
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns len(e.Bytes()).
func (e *Encoder) Len() int { return len(e.buf) }

// Err returns the first encoding failure, if any.
func (e *Encoder) Err() error { return e.err }

// Fail records err as the encoder's error unless one is already recorded.
func (e *Encoder) Fail(err error) {
	if e.err == nil && err != nil {
		e.err = err
	}
}

// Int32 appends a big-endian int32.
func (e *Encoder) Int32(v int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }

// Int64 appends a big-endian int64.
func (e *Encoder) Int64(v int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }

// Bool appends one byte, 1 for true and 0 for false.
func (e *Encoder) Bool(v bool) {
	var b byte
	if v {
		b = 1
	}
	e.buf = append(e.buf, b)
}

// Buffer appends a jute buffer: int32 length then the bytes. A nil slice is
// written as a null buffer (length -1), as ZooKeeper does; a non-nil empty
// slice as length 0.
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.NullBuffer()
		return
	}
	if !e.length(len(b)) {
		return
	}
	e.buf = append(e.buf, b...)
}

// NullBuffer appends a null buffer (length -1).
func (e *Encoder) NullBuffer() { e.Int32(-1) }

// UString appends a jute ustring: int32 length then the bytes. The empty
// string is written with length 0 (never -1).
func (e *Encoder) UString(s string) {
	if !e.length(len(s)) {
		return
	}
	e.buf = append(e.buf, s...)
}

// UStrings appends a vector<ustring>. A nil slice is written as an empty
// vector (count 0), never -1.
func (e *Encoder) UStrings(v []string) {
	if !e.VectorLen(len(v)) {
		return
	}
	for _, s := range v {
		e.UString(s)
	}
}

// VectorLen appends a vector count. It reports false (and fails the encoder)
// when n does not fit in an int32.
func (e *Encoder) VectorLen(n int) bool { return e.length(n) }

// Raw appends b with no length prefix.
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

func (e *Encoder) length(n int) bool {
	if n > math.MaxInt32 {
		e.Fail(fmt.Errorf("%w: %d does not fit in an int32 length", ErrTooLarge, n))
		e.Int32(0)
		return false
	}
	e.Int32(int32(n))
	return true
}

// BeginFrame reserves a 4-byte frame length and returns its offset, to be
// passed to EndFrame once the frame body has been encoded.
func (e *Encoder) BeginFrame() int {
	start := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	return start
}

// EndFrame patches the length reserved by BeginFrame at start with the
// number of bytes encoded since.
func (e *Encoder) EndFrame(start int) {
	if start < 0 || start+4 > len(e.buf) {
		e.Fail(fmt.Errorf("zkwire: EndFrame: bad frame offset %d", start))
		return
	}
	n := len(e.buf) - start - 4
	if n > math.MaxInt32 {
		e.Fail(fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, n))
		return
	}
	binary.BigEndian.PutUint32(e.buf[start:], uint32(n))
}

// ---------------------------------------------------------------------------
// Decoder

// Decoder reads jute-encoded values from a byte slice. It never panics. The
// first failure is sticky: it is kept in Err and every later read returns a
// zero value without consuming input.
//
// Buffers are copied out of the input, so the input may be reused once
// decoding is done.
type Decoder struct {
	buf []byte
	off int
	max int
	err error
}

// NewDecoder returns a Decoder over b with the maximum length set to
// DefaultMaxBuffer.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b, max: DefaultMaxBuffer} }

// Reset makes d decode b from the start and clears any error. The maximum
// length is kept.
func (d *Decoder) Reset(b []byte) { d.buf, d.off, d.err = b, 0, nil }

// SetMaxLength sets the largest string/buffer length and vector count
// accepted. n <= 0 restores DefaultMaxBuffer.
func (d *Decoder) SetMaxLength(n int) { d.max = n }

// MaxLength returns the largest length accepted.
func (d *Decoder) MaxLength() int {
	if d.max <= 0 {
		return DefaultMaxBuffer
	}
	return d.max
}

// Err returns the first decoding failure, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records err as the decoder's error unless one is already recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil && err != nil {
		d.err = err
	}
}

// Offset returns the number of bytes consumed.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns the number of bytes not yet consumed.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Rest consumes and returns all remaining bytes (aliasing the input). It
// returns nil once the decoder has failed.
func (d *Decoder) Rest() []byte {
	if d.err != nil {
		return nil
	}
	b := d.buf[d.off:]
	d.off = len(d.buf)
	return b
}

// need reports whether n more bytes are available, failing d if not.
func (d *Decoder) need(n int, what string) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || n > len(d.buf)-d.off {
		d.err = fmt.Errorf("%w: %s needs %d bytes at offset %d, %d left",
			ErrShortBuffer, what, n, d.off, len(d.buf)-d.off)
		return false
	}
	return true
}

// Int32 reads a big-endian int32.
func (d *Decoder) Int32() int32 {
	if !d.need(4, "int32") {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.buf[d.off:]))
	d.off += 4
	return v
}

// Int64 reads a big-endian int64.
func (d *Decoder) Int64() int64 {
	if !d.need(8, "int64") {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(d.buf[d.off:]))
	d.off += 8
	return v
}

// Bool reads one byte; any non-zero value is true (as Java's
// DataInput.readBoolean).
func (d *Decoder) Bool() bool {
	if !d.need(1, "bool") {
		return false
	}
	v := d.buf[d.off] != 0
	d.off++
	return v
}

// length reads a length prefix for a field whose elements take at least
// minSize bytes each. It returns -1 for null, the length otherwise, and 0
// after a failure. The length is checked against the maximum and against the
// remaining input, so callers may allocate n*elemSize bytes safely.
func (d *Decoder) length(minSize int, what string) int {
	start := d.off
	n := d.Int32()
	if d.err != nil {
		return 0
	}
	switch {
	case n == -1:
		return -1
	case n < -1:
		d.err = fmt.Errorf("%w: %s length %d at offset %d", ErrNegativeLength, what, n, start)
		return 0
	case int(n) > d.MaxLength():
		d.err = fmt.Errorf("%w: %s length %d at offset %d (max %d)", ErrTooLarge, what, n, start, d.MaxLength())
		return 0
	}
	if minSize > 0 && int(n) > (len(d.buf)-d.off)/minSize {
		d.err = fmt.Errorf("%w: %s length %d at offset %d, only %d bytes left",
			ErrShortBuffer, what, n, start, len(d.buf)-d.off)
		return 0
	}
	return int(n)
}

// Buffer reads a jute buffer. A null buffer (-1) decodes as nil, an empty
// one as a non-nil empty slice. The bytes are copied.
func (d *Decoder) Buffer() []byte {
	n := d.length(1, "buffer")
	if n < 0 || d.err != nil {
		return nil
	}
	b := make([]byte, n)
	copy(b, d.buf[d.off:])
	d.off += n
	return b
}

// UString reads a jute ustring. A null string (-1) decodes as "".
func (d *Decoder) UString() string {
	n := d.length(1, "string")
	if n <= 0 || d.err != nil {
		return ""
	}
	s := string(d.buf[d.off : d.off+n])
	d.off += n
	return s
}

// UStrings reads a vector<ustring>. Null (-1) and empty vectors both decode
// as nil.
func (d *Decoder) UStrings() []string {
	n := d.VectorLen(4)
	if n <= 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.UString()
		if d.err != nil {
			return nil
		}
	}
	return v
}

// VectorLen reads a vector count whose elements each occupy at least
// minElemSize bytes on the wire (minElemSize >= 1 is enforced). It returns -1
// for a null vector, the count otherwise, and 0 after a failure. The count is
// checked against the maximum and against the remaining input, so a slice of
// that many elements can be allocated safely.
func (d *Decoder) VectorLen(minElemSize int) int {
	return d.length(max(minElemSize, 1), "vector")
}

// ---------------------------------------------------------------------------
// Framing

// ReadFrame reads one frame from r: a 4-byte big-endian length, then that
// many bytes. The body is read into buf when it fits (buf's contents are
// overwritten) and the returned slice aliases it; otherwise a new slice is
// allocated, growing with the bytes actually received so that a peer
// announcing a large frame and then stalling cannot make it allocate the full
// length up front. Lengths that are negative or above maxLen are rejected
// before anything is allocated; maxLen <= 0 means DefaultMaxBuffer.
//
// A clean end of stream before the length yields io.EOF; a stream ending
// inside a frame yields io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, buf []byte, maxLen int) ([]byte, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxBuffer
	}
	var hdr []byte
	if cap(buf) >= 4 {
		hdr = buf[:4]
	} else {
		hdr = make([]byte, 4)
	}
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n32 := int32(binary.BigEndian.Uint32(hdr))
	if n32 < 0 {
		return nil, fmt.Errorf("%w: frame length %d", ErrNegativeLength, n32)
	}
	n := int(n32)
	if n > maxLen {
		return nil, fmt.Errorf("%w: frame length %d (max %d)", ErrTooLarge, n, maxLen)
	}
	if n <= cap(buf) {
		body := buf[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, unexpected(err)
		}
		return body, nil
	}
	const chunk = 64 << 10
	body := make([]byte, 0, min(n, chunk))
	for len(body) < n {
		want := min(n-len(body), max(chunk, len(body)))
		if cap(body)-len(body) < want {
			grown := make([]byte, len(body), len(body)+want)
			copy(grown, body)
			body = grown
		}
		got, err := io.ReadFull(r, body[len(body):len(body)+want])
		body = body[:len(body)+got]
		if err != nil {
			return nil, unexpected(err)
		}
	}
	return body, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendFrame appends one frame holding recs, encoded back to back, to dst:
// a 4-byte big-endian length, then the records. A typical server reply is
// AppendFrame(dst, &ReplyHeader{...}, resp). It fails only on encoder misuse
// (see Encoder). The frame size is not limited here; compare the result's
// growth with the peer's jute.maxbuffer if needed.
func AppendFrame(dst []byte, recs ...Record) ([]byte, error) {
	e := Encoder{buf: dst}
	start := e.BeginFrame()
	for _, r := range recs {
		if r != nil {
			r.Encode(&e)
		}
	}
	e.EndFrame(start)
	if e.err != nil {
		return dst, e.err
	}
	return e.buf, nil
}

// Marshal appends the encodings of recs to dst with no frame length.
func Marshal(dst []byte, recs ...Record) ([]byte, error) {
	e := Encoder{buf: dst}
	for _, r := range recs {
		if r != nil {
			r.Encode(&e)
		}
	}
	if e.err != nil {
		return dst, e.err
	}
	return e.buf, nil
}

// Unmarshal decodes r from b with the default maximum length. Bytes left
// over after r are ignored, as ZooKeeper does.
func Unmarshal(b []byte, r Record) error {
	d := Decoder{buf: b, max: DefaultMaxBuffer}
	r.Decode(&d)
	return d.err
}
