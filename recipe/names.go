package recipe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/coordkit/coord"
)

// Layout selects whose node names a lock-like recipe writes, so that it can
// contend with processes using that library on the same path. Whatever the
// Layout, a recipe recognizes the contenders of both libraries; see the
// package documentation for which mixes are safe.
type Layout int

const (
	// LayoutKazoo names contender nodes as kazoo (Python) does:
	// "<32 hex>__lock__<seq>" for locks and elections, "<32 hex>__rlock__<seq>"
	// for read locks.
	LayoutKazoo Layout = iota
	// LayoutCurator names contender nodes as Apache Curator (Java) does in its
	// protected mode: "_c_<uuid>-lock-<seq>" for InterProcessMutex and
	// LeaderSelector, "_c_<uuid>-__WRIT__<seq>" and "_c_<uuid>-__READ__<seq>"
	// for InterProcessReadWriteLock.
	LayoutCurator
)

func (l Layout) String() string {
	switch l {
	case LayoutKazoo:
		return "kazoo"
	case LayoutCurator:
		return "curator"
	}
	return "Layout(" + strconv.Itoa(int(l)) + ")"
}

// Lock name tokens: the part of a contender's name between its unique
// prefix and its 10-digit sequence suffix.
const (
	tokKazooLock    = "__lock__"  // kazoo Lock, WriteLock, Election
	tokKazooRead    = "__rlock__" // kazoo ReadLock
	tokCuratorLock  = "lock-"     // Curator InterProcessMutex, LeaderSelector
	tokCuratorWrite = "__WRIT__"  // Curator InterProcessReadWriteLock, write side
	tokCuratorRead  = "__READ__"  // Curator InterProcessReadWriteLock, read side

	partySuffix = "__party__" // kazoo Party member: "<32 hex>__party__"
)

// seqLen is the length of ZooKeeper's sequential suffix (%010d).
const seqLen = 10

// contenderName is a parsed lock contender: its sequence number and token.
type contenderName struct {
	name  string
	seq   int64
	token string
}

// exclusive reports whether a contender with this token holds a lock alone
// (a writer), as opposed to a reader.
func exclusive(tok string) bool { return tok != tokKazooRead && tok != tokCuratorRead }

// parseContender parses a child of a lock path. It accepts the names kazoo
// and Curator write: a 10-digit sequence suffix preceded by one of the
// tokens, the way kazoo's contender regex "(?:__lock__)(-?\d{10})$" and
// Curator's fixForSorting (text after the last lock name) read them.
func parseContender(name string) (contenderName, bool) {
	if len(name) < seqLen {
		return contenderName{}, false
	}
	digits := name[len(name)-seqLen:]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return contenderName{}, false
		}
	}
	seq, _ := strconv.ParseInt(digits, 10, 64)
	rest := name[:len(name)-seqLen]
	for _, tok := range []string{tokKazooLock, tokKazooRead, tokCuratorWrite, tokCuratorRead} {
		if strings.HasSuffix(rest, tok) {
			return contenderName{name: name, seq: seq, token: tok}, true
		}
	}
	// Curator's "lock-" comes right after the protected prefix "_c_<uuid>-"
	// or, without protection, starts the name.
	if rest == tokCuratorLock || strings.HasSuffix(rest, "-"+tokCuratorLock) {
		return contenderName{name: name, seq: seq, token: tokCuratorLock}, true
	}
	return contenderName{}, false
}

// sortedContenders parses children, keeps those whose token passes keep,
// and sorts them by sequence number.
func sortedContenders(children []string, keep func(tok string) bool) []contenderName {
	var out []contenderName
	for _, ch := range children {
		if c, ok := parseContender(ch); ok && keep(c.token) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b contenderName) int {
		if a.seq != b.seq {
			if a.seq < b.seq {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}

// uniquePrefix returns a fresh name prefix for a contender with token tok:
// "<32 hex>" + tok for kazoo, "_c_<uuid>-" + tok for Curator. The random
// part lets a contender find its own node after a create whose outcome it
// did not learn (Curator's protected mode; kazoo does the same).
func uniquePrefix(l Layout, tok string) string {
	if l == LayoutCurator {
		return "_c_" + newUUID() + "-" + tok
	}
	return newHex32() + tok
}

// newUUID returns a random (version 4) UUID in its canonical 36-character
// form, as Java's UUID.randomUUID().toString().
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newHex32 returns a random UUID as 32 hex digits, as Python's
// uuid.uuid4().hex.
func newHex32() string { return strings.ReplaceAll(newUUID(), "-", "") }

// Contender is one participant of a lock or an election, in queue order.
type Contender struct {
	// Name is the node's name under the recipe's path.
	Name string
	// Identifier is the node's data: kazoo's identifier, Curator's lock data
	// or participant id.
	Identifier []byte
	// Token is the node's czxid, the fencing token it holds or will hold.
	Token int64
}

// readContenders returns the contenders of dir whose token passes keep, in
// queue order, with their data. Nodes that vanish meanwhile are skipped.
func readContenders(ctx context.Context, c conn, dir string, keep func(string) bool) ([]Contender, error) {
	children, _, err := c.GetChildren(ctx, dir)
	if isNoNode(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Contender
	for _, cn := range sortedContenders(children, keep) {
		data, st, err := c.GetData(ctx, join(dir, cn.name))
		if isNoNode(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Contender{Name: cn.name, Identifier: data, Token: st.Czxid})
	}
	return out, nil
}

func isNoNode(err error) bool { return err != nil && errors.Is(err, coord.ErrNoNode) }
