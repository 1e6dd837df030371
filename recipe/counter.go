package recipe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/coordkit/coord"
)

// CounterFormat is how a Counter stores its value in the node's data.
type CounterFormat int

const (
	// CounterDecimal stores the value as ASCII decimal, as kazoo's Counter
	// does for ints (Python's repr); empty data reads as 0.
	CounterDecimal CounterFormat = iota
	// CounterInt32 stores a 4-byte big-endian int32, as Curator's
	// SharedCount (and kazoo's Counter with support_curator=True); empty
	// data reads as 0.
	CounterInt32
	// CounterInt64 stores an 8-byte big-endian int64, as Curator's
	// DistributedAtomicLong; empty data reads as 0.
	CounterInt64
)

// Counter is a shared integer changed atomically: read the value and its
// version, write the new value conditioned on that version, and retry if
// another writer came first (kazoo's Counter, Curator's SharedCount).
type Counter struct {
	c      conn
	path   string
	format CounterFormat
	acl    []coord.ACL
}

// NewCounter returns a Counter on path for session s. The node is created,
// holding 0, on first use, with acl (nil means coord.OpenACL).
func NewCounter(s *coord.Session, path string, format CounterFormat, acl []coord.ACL) *Counter {
	return &Counter{c: s, path: path, format: format, acl: acl}
}

func (k *Counter) decode(data []byte) (int64, error) {
	if len(data) == 0 {
		return 0, nil
	}
	switch k.format {
	case CounterDecimal:
		v, err := strconv.ParseInt(string(data), 10, 64)
		if err != nil {
			return 0, k.bad("data %q is not a decimal integer", data)
		}
		return v, nil
	case CounterInt32:
		if len(data) != 4 {
			return 0, k.bad("data has %d bytes, want 4", len(data))
		}
		return int64(int32(binary.BigEndian.Uint32(data))), nil
	case CounterInt64:
		if len(data) != 8 {
			return 0, k.bad("data has %d bytes, want 8", len(data))
		}
		return int64(binary.BigEndian.Uint64(data)), nil
	}
	return 0, k.bad("unknown format %d", k.format)
}

func (k *Counter) encode(v int64) ([]byte, error) {
	switch k.format {
	case CounterDecimal:
		return strconv.AppendInt(nil, v, 10), nil
	case CounterInt32:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, k.bad("%d overflows int32", v)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(int32(v))), nil
	case CounterInt64:
		return binary.BigEndian.AppendUint64(nil, uint64(v)), nil
	}
	return nil, k.bad("unknown format %d", k.format)
}

func (k *Counter) bad(format string, args ...any) error {
	return &coord.OpError{Op: "counter", Path: k.path, Err: ErrBadValue, Detail: fmt.Sprintf(format, args...)}
}

// read returns the value and the node's version, creating the node if need be.
func (k *Counter) read(ctx context.Context) (int64, int32, error) {
	for {
		data, st, err := k.c.GetData(ctx, k.path)
		if errors.Is(err, coord.ErrNoNode) {
			if err := k.create(ctx); err != nil {
				return 0, 0, err
			}
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		v, err := k.decode(data)
		return v, st.Version, err
	}
}

// create creates the counter node holding 0 in the Counter's format
// (Curator's SharedCount cannot read empty data, so a binary counter is
// seeded as Curator seeds it).
func (k *Counter) create(ctx context.Context) error {
	zero, err := k.encode(0)
	if err != nil {
		return err
	}
	for {
		_, _, err := k.c.CreateStat(ctx, k.path, zero, coord.Persistent, k.acl, 0)
		switch {
		case err == nil, errors.Is(err, coord.ErrNodeExists):
			return nil
		case errors.Is(err, coord.ErrNoNode):
			if err := ensurePath(ctx, k.c, parentPath(k.path), k.acl); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// Value returns the counter's value.
func (k *Counter) Value(ctx context.Context) (int64, error) {
	v, _, err := k.read(ctx)
	return v, err
}

// Add adds delta and returns the new value. It retries until its write is
// the one applied on top of the value it read. If ctx ends during the call
// the addition may still be applied.
func (k *Counter) Add(ctx context.Context, delta int64) (int64, error) {
	for {
		v, version, err := k.read(ctx)
		if err != nil {
			return 0, err
		}
		nv := v + delta
		if (delta > 0 && nv < v) || (delta < 0 && nv > v) {
			return 0, k.bad("%d + %d overflows int64", v, delta)
		}
		data, err := k.encode(nv)
		if err != nil {
			return 0, err
		}
		_, err = k.c.SetData(ctx, k.path, data, version)
		if errors.Is(err, coord.ErrBadVersion) {
			continue
		}
		if err != nil {
			return 0, err
		}
		return nv, nil
	}
}
