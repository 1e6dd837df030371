package zkwire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
)

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestEncoderPrimitives(t *testing.T) {
	e := NewEncoder([]byte{0xAA})
	e.Int32(-2)
	e.Int64(0x0102030405060708)
	e.Bool(true)
	e.Bool(false)
	e.Buffer(nil)
	e.Buffer([]byte{})
	e.Buffer([]byte{9})
	e.NullBuffer()
	e.UString("")
	e.UString("hi")
	e.UStrings(nil)
	e.UStrings([]string{})
	e.UStrings([]string{"a"})
	want := mustHex(t, `aa fffffffe 0102030405060708 01 00
		ffffffff 00000000 00000001 09 ffffffff
		00000000 00000002 6869
		00000000 00000000 00000001 00000001 61`)
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got  %x\nwant %x", e.Bytes(), want)
	}
	if e.Err() != nil || e.Len() != len(want) {
		t.Fatalf("err %v len %d", e.Err(), e.Len())
	}
}

func TestDecoderPrimitives(t *testing.T) {
	in := mustHex(t, `fffffffe 0102030405060708 01 02 00
		ffffffff 00000000 00000001 09
		ffffffff 00000000 00000002 6869
		ffffffff 00000000 00000001 00000001 61`)
	d := NewDecoder(in)
	if v := d.Int32(); v != -2 {
		t.Errorf("Int32 = %d", v)
	}
	if v := d.Int64(); v != 0x0102030405060708 {
		t.Errorf("Int64 = %x", v)
	}
	if !d.Bool() || !d.Bool() || d.Bool() {
		t.Errorf("Bool sequence wrong")
	}
	if b := d.Buffer(); b != nil {
		t.Errorf("null buffer = %#v, want nil", b)
	}
	if b := d.Buffer(); b == nil || len(b) != 0 {
		t.Errorf("empty buffer = %#v, want non-nil empty", b)
	}
	if b := d.Buffer(); !bytes.Equal(b, []byte{9}) {
		t.Errorf("buffer = %#v", b)
	}
	if s := d.UString(); s != "" {
		t.Errorf("null string = %q", s)
	}
	if s := d.UString(); s != "" {
		t.Errorf("empty string = %q", s)
	}
	if s := d.UString(); s != "hi" {
		t.Errorf("string = %q", s)
	}
	if v := d.UStrings(); v != nil {
		t.Errorf("null vector = %#v", v)
	}
	if v := d.UStrings(); v != nil {
		t.Errorf("empty vector = %#v", v)
	}
	if v := d.UStrings(); len(v) != 1 || v[0] != "a" {
		t.Errorf("vector = %#v", v)
	}
	if d.Err() != nil || d.Remaining() != 0 || d.Offset() != len(in) {
		t.Fatalf("err %v remaining %d offset %d", d.Err(), d.Remaining(), d.Offset())
	}
}

func TestDecoderBufferIsCopied(t *testing.T) {
	in := mustHex(t, "00000002 6162")
	b := NewDecoder(in).Buffer()
	in[4] = 'z'
	if string(b) != "ab" {
		t.Fatalf("decoded buffer aliases input: %q", b)
	}
}

func TestDecoderSticky(t *testing.T) {
	d := NewDecoder(mustHex(t, "000000 01020304"))
	if d.Int64() != 0 || !errors.Is(d.Err(), ErrShortBuffer) {
		t.Fatalf("want short buffer, got %v", d.Err())
	}
	first := d.Err()
	off := d.Offset()
	if d.Int32() != 0 || d.Bool() || d.Buffer() != nil || d.UString() != "" || d.UStrings() != nil || d.Rest() != nil {
		t.Fatal("reads after failure returned non-zero values")
	}
	if d.Err() != first || d.Offset() != off {
		t.Fatal("error or offset changed after failure")
	}
	d.Fail(errors.New("other"))
	if d.Err() != first {
		t.Fatal("Fail replaced the first error")
	}
	d.Reset([]byte{1, 2, 3, 4})
	if d.Err() != nil || d.Int32() != 0x01020304 {
		t.Fatal("Reset did not clear the error")
	}
}

func TestDecoderLengthErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		read func(d *Decoder)
		want error
	}{
		{"string -2", be32(-2), func(d *Decoder) { d.UString() }, ErrNegativeLength},
		{"buffer -2", be32(-2), func(d *Decoder) { d.Buffer() }, ErrNegativeLength},
		{"vector -2", be32(-2), func(d *Decoder) { d.UStrings() }, ErrNegativeLength},
		{"string min int32", be32(math.MinInt32), func(d *Decoder) { d.UString() }, ErrNegativeLength},
		{"string max int32", be32(math.MaxInt32), func(d *Decoder) { d.UString() }, ErrTooLarge},
		{"buffer max int32", be32(math.MaxInt32), func(d *Decoder) { d.Buffer() }, ErrTooLarge},
		{"vector max int32", be32(math.MaxInt32), func(d *Decoder) { d.UStrings() }, ErrTooLarge},
		{"buffer over jute.maxbuffer", be32(DefaultMaxBuffer + 1), func(d *Decoder) { d.Buffer() }, ErrTooLarge},
		{"buffer at maxbuffer, short", cat(be32(DefaultMaxBuffer), []byte("abc")), func(d *Decoder) { d.Buffer() }, ErrShortBuffer},
		{"string one past end", cat(be32(4), []byte("abc")), func(d *Decoder) { d.UString() }, ErrShortBuffer},
		{"vector count beyond input", cat(be32(3), be32(0), be32(0)), func(d *Decoder) { d.UStrings() }, ErrShortBuffer},
		{"huge vector within max", cat(be32(0xffff0), be32(0)), func(d *Decoder) { d.UStrings() }, ErrShortBuffer},
		{"acl vector beyond input", cat(be32(2), make([]byte, 12)), func(d *Decoder) { decodeACLs(d) }, ErrShortBuffer},
		{"clientinfo vector beyond input", cat(be32(2), make([]byte, 8)), func(d *Decoder) { (&WhoAmIResponse{}).Decode(d) }, ErrShortBuffer},
		{"truncated length", []byte{0, 0, 1}, func(d *Decoder) { d.UString() }, ErrShortBuffer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(c.in)
			c.read(d)
			if !errors.Is(d.Err(), c.want) {
				t.Fatalf("err = %v, want %v", d.Err(), c.want)
			}
		})
	}
}

func TestDecoderMaxLength(t *testing.T) {
	in := cat(be32(5), []byte("hello"))
	d := NewDecoder(in)
	d.SetMaxLength(4)
	if d.UString(); !errors.Is(d.Err(), ErrTooLarge) {
		t.Fatalf("err = %v", d.Err())
	}
	d = NewDecoder(in)
	d.SetMaxLength(5)
	if s := d.UString(); s != "hello" || d.Err() != nil {
		t.Fatalf("got %q, %v", s, d.Err())
	}
	var zero Decoder // zero value uses the default maximum
	zero.Reset(cat(be32(DefaultMaxBuffer+1), make([]byte, 8)))
	if zero.Buffer(); !errors.Is(zero.Err(), ErrTooLarge) {
		t.Fatalf("zero Decoder: err = %v", zero.Err())
	}
}

// allocBytes returns the bytes allocated while running f n times.
func allocBytes(n int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestHugeLengthsDoNotAllocate(t *testing.T) {
	inputs := map[string][]byte{
		"buffer":         cat(be32(DefaultMaxBuffer), make([]byte, 16)),
		"string vector":  cat(be32(DefaultMaxBuffer), make([]byte, 16)),
		"create acl vec": cat(mustHex(t, "00000002 2f61 00000000"), be32(DefaultMaxBuffer), make([]byte, 16)),
		"setwatches":     cat(make([]byte, 8), be32(0x3ffff), make([]byte, 16)),
		"multi":          cat(mustHex(t, "00000001 00 ffffffff 00000002 2f61"), be32(DefaultMaxBuffer), make([]byte, 8)),
	}
	decoders := map[string]func([]byte) error{
		"buffer":         func(b []byte) error { d := NewDecoder(b); d.Buffer(); return d.Err() },
		"string vector":  func(b []byte) error { d := NewDecoder(b); d.UStrings(); return d.Err() },
		"create acl vec": func(b []byte) error { _, err := DecodeRequest(OpCreate, b); return err },
		"setwatches":     func(b []byte) error { _, err := DecodeRequest(OpSetWatches, b); return err },
		"multi":          func(b []byte) error { _, err := DecodeRequest(OpMulti, b); return err },
	}
	for name, in := range inputs {
		dec := decoders[name]
		if err := dec(in); !errors.Is(err, ErrShortBuffer) {
			t.Fatalf("%s: err = %v, want ErrShortBuffer", name, err)
		}
		const n = 50
		if got := allocBytes(n, func() { _ = dec(in) }); got > n*2048 {
			t.Errorf("%s: %d bytes allocated over %d rejected decodes", name, got, n)
		}
	}
}

func TestReadFrame(t *testing.T) {
	stream := cat(be32(3), []byte("abc"), be32(0), be32(5), []byte("hello"))
	r := bytes.NewReader(stream)
	buf := make([]byte, 0, 4)
	for _, want := range []string{"abc", "", "hello"} {
		got, err := ReadFrame(r, buf, 16)
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadFrame(r, buf, 16); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}

	// The body lands in buf when it fits.
	buf = make([]byte, 64)
	got, err := ReadFrame(bytes.NewReader(cat(be32(3), []byte("xyz"))), buf, 0)
	if err != nil || string(got) != "xyz" || &got[0] != &buf[0] {
		t.Fatalf("got %q, %v, aliased=%v", got, err, err == nil && &got[0] == &buf[0])
	}

	// A large body that does not fit in buf is read in growing chunks.
	big := bytes.Repeat([]byte("0123456789"), 50000)
	got, err = ReadFrame(bytes.NewReader(cat(be32(int32(len(big))), big)), nil, DefaultMaxBuffer)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big frame: len %d, %v", len(got), err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty", nil, 0, io.EOF},
		{"partial length", []byte{0, 0}, 0, io.ErrUnexpectedEOF},
		{"negative", be32(-1), 0, ErrNegativeLength},
		{"min int32", be32(math.MinInt32), 0, ErrNegativeLength},
		{"above max", be32(17), 16, ErrTooLarge},
		{"above default max", be32(DefaultMaxBuffer + 1), 0, ErrTooLarge},
		{"max int32", be32(math.MaxInt32), 0, ErrTooLarge},
		{"no body", be32(4), 0, io.ErrUnexpectedEOF},
		{"short body", cat(be32(4), []byte("ab")), 0, io.ErrUnexpectedEOF},
		{"short big body", cat(be32(DefaultMaxBuffer), []byte("ab")), 0, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(c.in), nil, c.max)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestReadFrameDoesNotPreallocate(t *testing.T) {
	huge := be32(math.MaxInt32)
	if got := allocBytes(20, func() { _, _ = ReadFrame(bytes.NewReader(huge), nil, 0) }); got > 20*1024 {
		t.Errorf("rejected huge frames allocated %d bytes", got)
	}
	// A frame within the limit whose peer stops early costs at most one
	// chunk, not the announced length.
	stalled := cat(be32(DefaultMaxBuffer), []byte("x"))
	if got := allocBytes(5, func() { _, _ = ReadFrame(bytes.NewReader(stalled), nil, 0) }); got > 5*(80<<10) {
		t.Errorf("stalled frames allocated %d bytes", got)
	}
}

func TestAppendFrame(t *testing.T) {
	out, err := AppendFrame([]byte("pre"), &ReplyHeader{Xid: 1, Zxid: 2, Err: CodeOK}, &SyncResponse{Path: "/a"})
	if err != nil {
		t.Fatal(err)
	}
	want := cat([]byte("pre"), mustHex(t, "00000016 00000001 0000000000000002 00000000 00000002 2f61"))
	if !bytes.Equal(out, want) {
		t.Fatalf("got  %x\nwant %x", out, want)
	}
	body, err := ReadFrame(bytes.NewReader(out[3:]), nil, 0)
	if err != nil || !bytes.Equal(body, out[7:]) {
		t.Fatalf("ReadFrame(AppendFrame) = %x, %v", body, err)
	}

	// Encoder misuse surfaces as an error and leaves dst unchanged.
	bad := &MultiRequest{Ops: []MultiOp{{Type: OpDelete, Req: &SetDataRequest{}}}}
	out, err = AppendFrame([]byte("pre"), bad)
	if !errors.Is(err, ErrInvalidMulti) || string(out) != "pre" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestEncoderFrameHelpers(t *testing.T) {
	e := NewEncoder(nil)
	s := e.BeginFrame()
	e.Int32(7)
	e.EndFrame(s)
	if !bytes.Equal(e.Bytes(), mustHex(t, "00000004 00000007")) || e.Err() != nil {
		t.Fatalf("%x %v", e.Bytes(), e.Err())
	}
	e.EndFrame(100)
	if e.Err() == nil {
		t.Fatal("EndFrame with a bad offset did not fail")
	}
	e.Reset(nil)
	if e.Err() != nil || e.Len() != 0 {
		t.Fatal("Reset did not clear")
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hexDecode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hexDecode decodes hex digits, ignoring white space.
func hexDecode(s string) ([]byte, error) {
	return hex.DecodeString(strings.Join(strings.Fields(s), ""))
}
