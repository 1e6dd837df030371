// Package zkdata reads the on-disk state of a stopped Apache ZooKeeper
// (3.5 to 3.9): it loads the newest valid snapshot of a dataDir's
// version-2 directory, replays the transaction logs written after it with
// ZooKeeper's DataTree semantics, and returns the resulting data tree,
// sessions and digest information in memory.
//
// Transactions are applied as ZooKeeper 3.9's DataTree.processTxn does,
// including its replay tolerances for fuzzy snapshots (errors such as "no
// node" and "node exists" are ignored; a create that finds its node fixes
// the parent's cversion and pzxid), reconfig applied as a setData of
// /zookeeper/config, and the quota statistics (zookeeper_stats) the
// server maintains itself. When the snapshot and the log carry tree
// digests (3.6+), the replayed tree is checked against them.
//
// Not supported: snappy-compressed snapshots (an ErrUnsupported error),
// the zookeeper.emulate353TTLNodes encoding of TTLs, and servers run with
// extended types disabled and a server id of 255 (whose session ids look
// like TTL owners).
//
// Load never panics on bad input. Every length read from a file is checked
// against what is left of the file (when that is known) and against
// Options.MaxBuffer before anything is allocated. Structural problems are
// reported as *FormatError values naming the file and the byte offset.
package zkdata

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/coordkit/coord/zkwire"
)

// ACL is one access control entry of a znode.
type ACL struct {
	Perms  int32
	Scheme string
	ID     string
}

// Permission bits of ACL.Perms, as in ZooKeeper.
const (
	PermRead   = 1 << 0
	PermWrite  = 1 << 1
	PermCreate = 1 << 2
	PermDelete = 1 << 3
	PermAdmin  = 1 << 4
	PermAll    = PermRead | PermWrite | PermCreate | PermDelete | PermAdmin
)

// OpenACL is ZooKeeper's OPEN_ACL_UNSAFE, which the ACL reference -1 of a
// snapshot and a null ACL list of a transaction stand for.
var OpenACL = []ACL{{Perms: PermAll, Scheme: "world", ID: "anyone"}}

// Stat is a znode's metadata as ZooKeeper's client API returns it (the
// jute record org.apache.zookeeper.data.Stat, zkwire's): Cversion counts
// creates and deletes of children, and EphemeralOwner is 0 for containers
// and TTL nodes.
type Stat = zkwire.Stat

// StatPersisted is a znode's metadata as ZooKeeper stores it (the jute
// record StatPersisted): Cversion counts child creations only, and
// EphemeralOwner carries the container and TTL markers.
type StatPersisted struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	Pzxid          int64
}

// ContainerOwner is the EphemeralOwner ZooKeeper stores for containers.
const ContainerOwner int64 = -1 << 63

const (
	extendedMask     = -1 << 56 // 0xff00000000000000
	reservedBitsMask = 0x00ffff0000000000
	ttlValueMask     = ^(extendedMask | reservedBitsMask)
)

// Kind is the type of a znode.
type Kind int

// Kinds of znodes.
const (
	Persistent Kind = iota
	Ephemeral
	Container
	TTL
)

func (k Kind) String() string {
	switch k {
	case Persistent:
		return "persistent"
	case Ephemeral:
		return "ephemeral"
	case Container:
		return "container"
	case TTL:
		return "ttl"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// KindOf classifies a stored EphemeralOwner the way ZooKeeper does with
// extended types enabled (zookeeper.extendedTypesEnabled, which TTL nodes
// require): the container marker, a TTL (high byte 0xff, reserved bits
// zero), a session id, or 0.
func KindOf(ephemeralOwner int64) Kind {
	switch {
	case ephemeralOwner == 0:
		return Persistent
	case ephemeralOwner == ContainerOwner:
		return Container
	case ephemeralOwner&extendedMask == extendedMask && ephemeralOwner&reservedBitsMask == 0:
		return TTL
	}
	return Ephemeral
}

// Node is one znode of the loaded tree.
type Node struct {
	Path      string // "/" for the root
	Data      []byte // nil when ZooKeeper stored a null buffer
	ACL       []ACL
	Stat      Stat          // as a client reads it
	Persisted StatPersisted // as stored
	Children  []string      // child names, sorted
}

// Kind says whether the node is persistent, ephemeral, a container or a
// TTL node.
func (n *Node) Kind() Kind { return KindOf(n.Persisted.EphemeralOwner) }

// TTL returns the time to live in milliseconds of a TTL node, else 0.
func (n *Node) TTL() int64 {
	if n.Kind() != TTL {
		return 0
	}
	return n.Persisted.EphemeralOwner & ttlValueMask
}

// Digest describes ZooKeeper's tree digest (3.6+) found in the snapshot
// and what Load made of it.
type Digest struct {
	// From the snapshot's ZxidDigest section.
	Zxid    int64
	Version int32
	Value   int64
	// Verified reports that the tree digest, recomputed, matched the
	// snapshot's once the tree was at Zxid.
	Verified bool
	// Skipped says why the digest was not verified (unknown algorithm
	// version, a zxid Load never reached, an empty digest), when it was
	// not.
	Skipped string
}

// SkippedFile is a snapshot Load could not use, and why.
type SkippedFile struct {
	File string
	Err  error
}

// Tree is the state Load reconstructed.
type Tree struct {
	LastZxid     int64            // zxid of the last transaction applied (the snapshot's when none)
	SnapshotZxid int64            // zxid in the name of the snapshot used (-1 when none)
	DBID         int64            // from the snapshot header
	Nodes        map[string]*Node // by path; the root is "/"
	Sessions     map[int64]int32  // session id → timeout (ms)
	Digest       *Digest          // nil when the snapshot has no digest section

	Snapshot         string        // path of the snapshot used, "" when none
	SkippedSnapshots []SkippedFile // newer snapshots that failed to load
	Logs             []string      // transaction logs read, in order
	TxnsReplayed     int           // transactions applied on top of the snapshot
	TxnsSkipped      int           // transactions at or below the snapshot's zxid
	// TxnDigestsVerified counts the transactions whose TxnDigest (3.6+)
	// matched the replayed tree; TxnDigestsSkipped those with an unknown
	// digest version. Transactions replayed before the tree reaches the
	// snapshot digest's zxid (a fuzzy snapshot) are not compared, as in
	// ZooKeeper.
	TxnDigestsVerified int
	TxnDigestsSkipped  int
	Warnings           []string // recoverable oddities (torn log tails, gaps)
}

// Paths returns every path of the tree, sorted.
func (t *Tree) Paths() []string {
	ps := make([]string, 0, len(t.Nodes))
	for p := range t.Nodes {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// FormatError reports bad content in a ZooKeeper file.
type FormatError struct {
	File   string
	Offset int64 // byte offset in the file (in the decompressed stream for .gz)
	Msg    string
	Err    error // an underlying cause, if any
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("zkdata: %s: offset %d: %s", e.File, e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

// Sentinel errors, wrapped by what Load returns; test with errors.Is.
var (
	ErrNoSnapshot      = errors.New("no snapshot in the data directory")
	ErrNoValidSnapshot = errors.New("no valid snapshot in the data directory")
	ErrUnsupported     = errors.New("unsupported format")
	ErrCorrupt         = errors.New("corrupt data")
	ErrDigestMismatch  = errors.New("tree digest mismatch")
)

// DefaultMaxBuffer is the default Options.MaxBuffer: far above ZooKeeper's
// default jute.maxbuffer (0xfffff), since a server may have raised it.
const DefaultMaxBuffer = 64 << 20

// Options tune Load.
type Options struct {
	// LogDir is ZooKeeper's dataLogDir when it differs from the dataDir
	// (the directory holding version-2/log.*). Empty means the dataDir.
	LogDir string
	// MaxBuffer bounds any single length-prefixed field and any log
	// record; 0 means DefaultMaxBuffer.
	MaxBuffer int
	// AllowNoSnapshot replays the logs onto ZooKeeper's initial empty tree
	// when no snapshot exists (as zookeeper.snapshot.trust.empty does).
	// Without it a dataDir with logs but no snapshot is an error.
	AllowNoSnapshot bool
}

func (o *Options) maxBuffer() int {
	if o == nil || o.MaxBuffer <= 0 {
		return DefaultMaxBuffer
	}
	return o.MaxBuffer
}

// parentOf splits a ZooKeeper-internal path ("" is the root) into parent
// and child name, as DataTree does with lastIndexOf('/').
func parentOf(p string) (parent, child string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}
