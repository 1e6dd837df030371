package coord

import "time"

// Stat is a znode's metadata, field for field ZooKeeper's Stat. Times are
// milliseconds since the Unix epoch, stamped by the leader.
type Stat struct {
	Czxid          int64 // zxid of the change that created the node
	Mzxid          int64 // zxid of the change that last set its data
	Ctime          int64 // ms since the epoch when it was created
	Mtime          int64 // ms since the epoch when its data was last set
	Version        int32 // changes to its data
	Cversion       int32 // changes to its children (creates and deletes)
	Aversion       int32 // changes to its ACL
	EphemeralOwner int64 // owning session of an ephemeral node, else 0
	DataLength     int32 // length of its data
	NumChildren    int32 // number of children
	Pzxid          int64 // zxid of the last change to its children
}

// CreatedAt returns Ctime as a time.Time.
func (s Stat) CreatedAt() time.Time { return time.UnixMilli(s.Ctime) }

// ModifiedAt returns Mtime as a time.Time.
func (s Stat) ModifiedAt() time.Time { return time.UnixMilli(s.Mtime) }

// CreateMode says what kind of znode Create makes.
type CreateMode int32

// Create modes, numbered as on ZooKeeper's wire.
const (
	Persistent              CreateMode = 0
	Ephemeral               CreateMode = 1
	PersistentSequential    CreateMode = 2
	EphemeralSequential     CreateMode = 3
	Container               CreateMode = 4
	PersistentTTL           CreateMode = 5
	PersistentSequentialTTL CreateMode = 6
)

func (m CreateMode) valid() bool { return m >= Persistent && m <= PersistentSequentialTTL }
func (m CreateMode) isSequential() bool {
	return m == PersistentSequential || m == EphemeralSequential || m == PersistentSequentialTTL
}
func (m CreateMode) isEphemeral() bool { return m == Ephemeral || m == EphemeralSequential }
func (m CreateMode) isTTL() bool       { return m == PersistentTTL || m == PersistentSequentialTTL }

func (m CreateMode) String() string {
	switch m {
	case Persistent:
		return "persistent"
	case Ephemeral:
		return "ephemeral"
	case PersistentSequential:
		return "persistent-sequential"
	case EphemeralSequential:
		return "ephemeral-sequential"
	case Container:
		return "container"
	case PersistentTTL:
		return "persistent-ttl"
	case PersistentSequentialTTL:
		return "persistent-sequential-ttl"
	}
	return "invalid"
}

// MaxTTL is the longest TTL a TTL node may have (ZooKeeper's 2^40-1 ms).
const MaxTTL = time.Duration(1<<40-1) * time.Millisecond

// The owner word of a znode encodes its kind as ZooKeeper's EphemeralType
// does: 0 persistent, a session id for ephemerals, one reserved value for
// containers and a high-byte tag plus the ttl for TTL nodes. Session ids are
// always positive with a high byte below 0x7f, so they never collide.
const (
	ownerContainer int64 = -1 << 63
	ownerTTLTag    int64 = -1 << 56 // 0xff00000000000000
	ttlMask        int64 = 1<<40 - 1
)

func ownerIsEphemeral(o int64) bool { return o > 0 }
func ownerIsTTL(o int64) bool       { return o != ownerContainer && o&ownerTTLTag == ownerTTLTag }
func ownerTTL(o int64) int64        { return o & ttlMask }
