package zkdata

import (
	"errors"
	"fmt"

	"github.com/coordkit/coord/zkwire"
)

// Transaction opcodes (ZooDefs.OpCode).
const (
	opError           = -1
	opCreate          = 1
	opDelete          = 2
	opSetData         = 5
	opSetACL          = 7
	opCheck           = 13
	opMulti           = 14
	opCreate2         = 15
	opReconfig        = 16
	opCreateContainer = 19
	opDeleteContainer = 20
	opCreateTTL       = 21
	opCreateSession   = -10
	opCloseSession    = -11
)

type txnHeader struct {
	clientID int64
	cxid     int32
	zxid     int64
	time     int64
	typ      int32
}

type createTxn struct {
	path           string
	data           []byte
	acl            []ACL // nil for a null vector
	ephemeral      bool
	parentCVersion int32
	ttl            int64
}

type deleteTxn struct{ path string }

type setDataTxn struct {
	path    string
	data    []byte
	version int32
}

type setACLTxn struct {
	path    string
	acl     []ACL
	version int32
}

type checkTxn struct {
	path    string
	version int32
}

type createSessionTxn struct{ timeout int32 }

type closeSessionTxn struct {
	paths []string
	has   bool // false for the pre-3.6 form without a body
}

type errorTxn struct{ err int32 }

type subTxn struct {
	typ  int32
	data []byte
}

type multiTxn struct{ subs []subTxn }

type txnDigest struct {
	version int32
	digest  int64
}

type txnEntry struct {
	hdr    txnHeader
	body   any // one of the *Txn types above, nil when there is none
	digest *txnDigest
}

// jbool reads a jute boolean as Java does: true only for the byte 1. buf
// is the decoder's input.
func jbool(d *zkwire.Decoder, buf []byte) bool {
	off := d.Offset()
	return d.Bool() && off < len(buf) && buf[off] == 1
}

func readACLs(d *zkwire.Decoder) []ACL {
	n := d.VectorLen(12)
	if n < 0 || d.Err() != nil {
		return nil
	}
	out := make([]ACL, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, ACL{Perms: d.Int32(), Scheme: d.UString(), ID: d.UString()})
	}
	return out
}

func readHeader(d *zkwire.Decoder) txnHeader {
	return txnHeader{clientID: d.Int64(), cxid: d.Int32(), zxid: d.Int64(), time: d.Int64(), typ: d.Int32()}
}

// decodeBody decodes the record of a transaction of type typ.
func decodeBody(d *zkwire.Decoder, buf []byte, typ int32) (any, error) {
	var body any
	switch typ {
	case opCreate, opCreate2:
		c := &createTxn{path: d.UString(), data: d.Buffer(), acl: readACLs(d), ephemeral: jbool(d, buf), parentCVersion: d.Int32()}
		if typ == opCreate && errors.Is(d.Err(), zkwire.ErrShortBuffer) {
			// Maybe the pre-3.3 CreateTxnV0, without parentCVersion.
			return nil, errV0
		}
		body = c
	case opCreateTTL:
		body = &createTxn{path: d.UString(), data: d.Buffer(), acl: readACLs(d), parentCVersion: d.Int32(), ttl: d.Int64()}
	case opCreateContainer:
		body = &createTxn{path: d.UString(), data: d.Buffer(), acl: readACLs(d), parentCVersion: d.Int32()}
	case opDelete, opDeleteContainer:
		body = &deleteTxn{path: d.UString()}
	case opSetData, opReconfig:
		body = &setDataTxn{path: d.UString(), data: d.Buffer(), version: d.Int32()}
	case opSetACL:
		body = &setACLTxn{path: d.UString(), acl: readACLs(d), version: d.Int32()}
	case opCheck:
		body = &checkTxn{path: d.UString(), version: d.Int32()}
	case opCreateSession:
		body = &createSessionTxn{timeout: d.Int32()}
	case opError:
		body = &errorTxn{err: d.Int32()}
	case opMulti:
		n := d.VectorLen(8)
		m := &multiTxn{}
		for i := 0; i < n && d.Err() == nil; i++ {
			m.subs = append(m.subs, subTxn{typ: d.Int32(), data: d.Buffer()})
		}
		body = m
	default:
		return nil, fmt.Errorf("%w: transaction type %d", ErrUnsupported, typ)
	}
	if d.Err() != nil {
		return nil, d.Err()
	}
	return body, nil
}

var errV0 = errors.New("v0 create")

// decodeTxn decodes a log record's transaction bytes: TxnHeader, the
// record of its type, and the TxnDigest 3.6+ may append.
func decodeTxn(b []byte, maxBuf int) (*txnEntry, error) {
	d := zkwire.NewDecoder(b)
	d.SetMaxLength(maxBuf)
	e := &txnEntry{hdr: readHeader(d)}
	if d.Err() != nil {
		return nil, fmt.Errorf("transaction header: %w", d.Err())
	}
	bodyStart := d.Offset()
	switch e.hdr.typ {
	case opCloseSession:
		// 3.6+ writes CloseSessionTxn (the ephemerals to delete); older
		// servers (or closeSessionTxn.enabled=false) write no body.
		n := d.VectorLen(4)
		var paths []string
		for i := 0; i < n && d.Err() == nil; i++ {
			paths = append(paths, d.UString())
		}
		if d.Err() == nil && (d.Remaining() == 0 || d.Remaining() == 12) {
			e.body = &closeSessionTxn{paths: paths, has: true}
		} else {
			d = zkwire.NewDecoder(b)
			d.SetMaxLength(maxBuf)
			readHeader(d)
			e.body = &closeSessionTxn{}
		}
	default:
		body, err := decodeBody(d, b, e.hdr.typ)
		if errors.Is(err, errV0) {
			d = zkwire.NewDecoder(b[bodyStart:])
			d.SetMaxLength(maxBuf)
			c := &createTxn{path: d.UString(), data: d.Buffer(), acl: readACLs(d), ephemeral: jbool(d, b[bodyStart:]), parentCVersion: -1}
			if d.Err() != nil {
				return nil, fmt.Errorf("create transaction: %w", d.Err())
			}
			body, err = c, nil
		}
		if err != nil {
			return nil, fmt.Errorf("type %d transaction body: %w", e.hdr.typ, err)
		}
		e.body = body
	}
	if d.Remaining() >= 12 {
		e.digest = &txnDigest{version: d.Int32(), digest: d.Int64()}
	}
	return e, nil
}
