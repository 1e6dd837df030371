package coord

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

// commandCases covers every command kind and the corners of each field's
// encoding (nil versus empty data, negative numbers, extreme values).
var commandCases = []struct {
	name string
	cmd  command
}{
	{"CreateFull", command{kind: opCreate, session: 0x0123456789abcdef, ids: []ID{{"digest", "u:h"}, {"ip", "10.0.0.1"}},
		path: "/a/b", data: []byte("data"), acl: []ACL{{PermAll, "world", "anyone"}, {PermRead, "digest", "u:h"}},
		mode: PersistentSequentialTTL, ttl: 1<<40 - 1}},
	{"CreateNilData", command{kind: opCreate, session: 1, path: "/a", acl: OpenACL}},
	{"CreateEmptyData", command{kind: opCreate, session: 1, path: "/a", data: []byte{}, acl: OpenACL, mode: Ephemeral}},
	{"CreateNegativeModeAndTTL", command{kind: opCreate, path: "/a", mode: -1, ttl: -5}},
	{"CreateExtremeMode", command{kind: opCreate, path: "/a", mode: math.MinInt32, ttl: math.MinInt64}},
	{"Delete", command{kind: opDelete, session: 7, path: "/x", version: -1}},
	{"DeleteMaxVersion", command{kind: opDelete, path: "/x", version: math.MaxInt32}},
	{"Check", command{kind: opCheck, path: "/x", version: math.MinInt32}},
	{"SetData", command{kind: opSetData, session: 2, path: "/x", data: bytes.Repeat([]byte{0xff}, 300), version: 3}},
	{"SetDataNil", command{kind: opSetData, path: "/x", version: -1}},
	{"SetACL", command{kind: opSetACL, path: "/x", acl: []ACL{{PermAdmin, "ip", "10.0.0.0/8"}}, version: 0}},
	{"SetACLEmpty", command{kind: opSetACL, path: "/x", version: 2}},
	{"Multi", command{kind: opMulti, session: 9, ids: []ID{{"super", ""}}, ops: []command{
		{kind: opCreate, path: "/m", data: []byte{1}, acl: OpenACL, mode: Container},
		{kind: opCheck, path: "/m", version: 0},
		{kind: opSetData, path: "/m", data: []byte{}, version: -1},
		{kind: opDelete, path: "/m", version: 1},
	}}},
	{"MultiEmpty", command{kind: opMulti, session: 9, ops: []command{}}},
	{"CreateSession", command{kind: opCreateSession, session: math.MaxInt64, ttl: 30000, passwd: bytes.Repeat([]byte{7}, 16)}},
	{"CloseSession", command{kind: opCloseSession, session: 5}},
	{"ExpireSession", command{kind: opCloseSession, session: 5, expire: true}},
	{"DeleteContainer", command{kind: opDeleteContainer, path: "/c"}},
	{"SetQuota", command{kind: opSetQuota, path: "/q", data: []byte("n=1")}},
	{"DelQuota", command{kind: opDelQuota, path: "/q"}},
	{"Sync", command{kind: opSync, session: 3}},
	{"UnicodePath", command{kind: opDelete, path: "/日本/\u00e9", version: 0}},
}

func testBatch() *batch {
	b := &batch{format: logFormat1, time: 1_700_000_000_123}
	for i, tc := range commandCases {
		b.entries = append(b.entries, entry{origin: uint64(i) * 0x9e3779b97f4a7c15, seq: uint64(i), cmd: tc.cmd})
	}
	return b
}

func TestBatchRoundtrip(t *testing.T) {
	for _, tc := range commandCases {
		t.Run(tc.name, func(t *testing.T) {
			b := &batch{format: logFormat1, time: -1, entries: []entry{{origin: math.MaxUint64, seq: 1, cmd: tc.cmd}}}
			enc := encodeBatch(nil, b)
			got, err := decodeBatch(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(&got, b) {
				t.Fatalf("roundtrip\n got %+v\nwant %+v", got, *b)
			}
			if again := encodeBatch(nil, &got); !bytes.Equal(again, enc) {
				t.Fatal("re-encoding differs")
			}
		})
	}
	t.Run("AllInOne", func(t *testing.T) {
		b := testBatch()
		prefix := []byte("keep")
		enc := encodeBatch(prefix, b) // appends
		if !bytes.HasPrefix(enc, prefix) {
			t.Fatal("encodeBatch lost dst")
		}
		got, err := decodeBatch(enc[len(prefix):])
		if err != nil || !reflect.DeepEqual(&got, b) {
			t.Fatalf("roundtrip: %v", err)
		}
	})
	t.Run("Format2", func(t *testing.T) {
		b := testBatch()
		b.format = logFormat2
		enc := encodeBatch(nil, b)
		got, err := decodeBatch(enc)
		if enc[0] != batchFormatV2 || err != nil || !reflect.DeepEqual(&got, b) {
			t.Fatalf("format 2 roundtrip: tag %d, %v", enc[0], err)
		}
	})
	t.Run("NoEntries", func(t *testing.T) {
		got, err := decodeBatch(encodeBatch(nil, &batch{time: 5}))
		if err != nil || got.time != 5 || len(got.entries) != 0 {
			t.Fatalf("%+v, %v", got, err)
		}
	})
}

func TestDecodeBatchRejects(t *testing.T) {
	valid := encodeBatch(nil, testBatch())
	// Every proper prefix of a valid encoding is corrupt.
	for i := range len(valid) {
		if _, err := decodeBatch(valid[:i]); err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded", i, len(valid))
		}
	}
	one := func(c command) []byte {
		return encodeBatch(nil, &batch{entries: []entry{{cmd: c}}})
	}
	header := func(kind opKind) []byte { // format, time, 1 entry, origin, seq, kind, session, no ids
		return []byte{batchFormat, 0, 1, 0, 0, byte(kind), 0, 0}
	}
	for _, tc := range []struct {
		name string
		buf  []byte
	}{
		{"Empty", nil},
		{"WrongFormat", append([]byte{batchFormat + 1}, valid[1:]...)},
		{"TrailingByte", append(bytes.Clone(valid), 0)},
		{"UnknownKind", header(99)},
		{"KindZero", header(0)},
		{"NestedMulti", one(command{kind: opMulti, ops: []command{{kind: opMulti}}})},
		{"CloseFlagTwo", append(header(opCloseSession), 2)},
		{"EntryCountBeyondData", []byte{batchFormat, 0, 0xff, 0xff, 0x03}},
		{"IDCountBeyondLimit", append([]byte{batchFormat, 0, 1, 0, 0, byte(opSync), 0}, binary.AppendUvarint(nil, maxIDs+1)...)},
		{"StringBeyondData", append(header(opDelete), 0x7f, '/')},
		{"DataBeyondData", append(append(header(opSetData), 1, '/'), 0x10)},
		{"VersionOverflowsInt32", append(append(header(opDelete), 1, '/'), binary.AppendVarint(nil, math.MaxInt32+1)...)},
		{"ModeOverflowsInt32", append(append(header(opCreate), 1, '/', 0, 0), binary.AppendVarint(nil, math.MinInt32-1)...)},
		{"VarintTooLong", append([]byte{batchFormat}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"MultiCountBeyondData", append(header(opMulti), 0x80, 0x80, 0x04)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := decodeBatch(tc.buf)
			if err == nil {
				t.Fatalf("decoded %+v", b)
			}
			if len(b.entries) != 0 {
				t.Fatalf("entries returned with an error")
			}
		})
	}
}

func FuzzDecodeBatch(f *testing.F) {
	for _, tc := range commandCases {
		f.Add(encodeBatch(nil, &batch{time: 1, entries: []entry{{origin: 1, seq: 2, cmd: tc.cmd}}}))
	}
	f.Add(encodeBatch(nil, testBatch()))
	f.Add([]byte{})
	f.Add([]byte{batchFormat, 0, 1, 0, 0, byte(opMulti), 0, 0, 2})
	f.Fuzz(func(t *testing.T, buf []byte) {
		b, err := decodeBatch(buf)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes canonically: that encoding decodes
		// to the same batch and encodes to the same bytes again.
		enc := encodeBatch(nil, &b)
		b2, err := decodeBatch(enc)
		if err != nil {
			t.Fatalf("re-encoding of a decoded batch does not decode: %v", err)
		}
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("decode(encode(x)) != x\n got %+v\nwant %+v", b2, b)
		}
		if enc2 := encodeBatch(nil, &b2); !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
	})
}
