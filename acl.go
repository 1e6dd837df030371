package coord

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Perm is a set of ZooKeeper permission bits.
type Perm int32

// Permission bits, as ZooKeeper numbers them.
const (
	PermRead   Perm = 1 << 0
	PermWrite  Perm = 1 << 1
	PermCreate Perm = 1 << 2
	PermDelete Perm = 1 << 3
	PermAdmin  Perm = 1 << 4
	PermAll    Perm = PermRead | PermWrite | PermCreate | PermDelete | PermAdmin
)

// ID is an authenticated identity or an ACL's subject: a scheme and an id
// within it ("world"/"anyone", "digest"/"user:hash", "ip"/"10.0.0.0/8", …).
type ID struct {
	Scheme string
	ID     string
}

// ACL grants Perms to the identities matching Scheme and ID.
type ACL struct {
	Perms  Perm
	Scheme string
	ID     string
}

// Common ACL lists.
var (
	// OpenACL gives everyone every permission (ZooKeeper's OPEN_ACL_UNSAFE).
	// It is the ACL of nodes created with a nil ACL list through the Go API.
	OpenACL = []ACL{{Perms: PermAll, Scheme: "world", ID: "anyone"}}
	// ReadACL lets everyone read (ZooKeeper's READ_ACL_UNSAFE).
	ReadACL = []ACL{{Perms: PermRead, Scheme: "world", ID: "anyone"}}
	// CreatorACL gives every permission to the identities the creator
	// authenticated with (ZooKeeper's CREATOR_ALL_ACL).
	CreatorACL = []ACL{{Perms: PermAll, Scheme: "auth", ID: ""}}
)

// WorldACL returns the ACL list granting perms to everyone.
func WorldACL(perms Perm) []ACL { return []ACL{{Perms: perms, Scheme: "world", ID: "anyone"}} }

// DigestACL returns the ACL list granting perms to user with password, in
// ZooKeeper's digest scheme.
func DigestACL(perms Perm, user, password string) []ACL {
	return []ACL{{Perms: perms, Scheme: "digest", ID: DigestID(user, password)}}
}

// DigestID returns ZooKeeper's digest id for user and password:
// "user:" + base64(sha1("user:password")).
func DigestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

var superID = ID{Scheme: "super", ID: ""}

// authenticate turns an AddAuth call into the identities it grants, the way
// ZooKeeper's server authentication providers do.
func authenticate(scheme string, cred []byte, superDigest string) ([]ID, error) {
	switch scheme {
	case "digest":
		// ZooKeeper digests the whole credential and names it by the part
		// before the first ':' (a credential without ':' is accepted too).
		user, _, _ := strings.Cut(string(cred), ":")
		sum := sha1.Sum(cred)
		return digestIDs(user+":"+base64.StdEncoding.EncodeToString(sum[:]), superDigest), nil
	default:
		return nil, ErrAuthFailed
	}
}

func digestIDs(id, superDigest string) []ID {
	ids := []ID{{Scheme: "digest", ID: id}}
	if superDigest != "" && id == superDigest {
		ids = append([]ID{superID}, ids...)
	}
	return ids
}

// fixupACL validates an ACL list for create/setACL and expands "auth" entries
// into the caller's authenticated ids, removing duplicates (ZooKeeper's
// PrepRequestProcessor.fixupACL).
//
// x509 says whether the ensemble's log format admits x509 ACL entries
// (log format 2): a node from before them refuses them as InvalidACL, so
// accepting them while such a node may still apply the same commands
// would make replicas disagree.
func fixupACL(acl []ACL, ids []ID, x509 bool) ([]ACL, error) {
	if len(acl) == 0 {
		return nil, ErrInvalidACL
	}
	if len(acl) == 1 && acl[0].Scheme == "world" && acl[0].ID == "anyone" {
		return acl, nil // the common case, nothing to expand or dedupe
	}
	out := make([]ACL, 0, len(acl))
	add := func(a ACL) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range acl {
		switch a.Scheme {
		case "world":
			if a.ID != "anyone" {
				return nil, ErrInvalidACL
			}
			add(a)
		case "auth":
			found := false
			for _, id := range ids {
				if id.Scheme == "digest" || id.Scheme == "x509" && x509 { // the authenticated providers
					found = true
					add(ACL{Perms: a.Perms, Scheme: id.Scheme, ID: id.ID})
				}
			}
			if !found {
				return nil, ErrInvalidACL
			}
		case "digest":
			if !validDigestID(a.ID) {
				return nil, ErrInvalidACL
			}
			add(a)
		case "ip":
			if _, ok := parseIPACL(a.ID); !ok {
				return nil, ErrInvalidACL
			}
			add(a)
		case "x509":
			if !x509 || ValidateX509ID(a.ID) != nil {
				return nil, ErrInvalidACL
			}
			add(a)
		default:
			return nil, ErrInvalidACL
		}
	}
	return out, nil
}

// validDigestID mirrors Java's id.split(":").length == 2, which drops
// trailing empty strings.
func validDigestID(id string) bool {
	parts := strings.Split(id, ":")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return len(parts) == 2
}

func parseIPACL(s string) (netip.Prefix, bool) {
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	addr, err := netip.ParseAddr(addrPart)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, false
	}
	bits := addr.BitLen()
	if hasBits {
		n, err := strconv.Atoi(bitsPart)
		if err != nil || n < 0 || n > addr.BitLen() {
			return netip.Prefix{}, false
		}
		bits = n
	}
	p, err := addr.Prefix(bits)
	return p, err == nil
}

// checkPerm is ZooKeeper's checkACL: super bypasses, an empty list allows,
// otherwise some entry with the permission must match one of ids.
func checkPerm(acl []ACL, perm Perm, ids []ID) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range ids {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		switch a.Scheme {
		case "world":
			if a.ID == "anyone" {
				return true
			}
		case "digest", "x509":
			for _, id := range ids {
				if id.Scheme == a.Scheme && id.ID == a.ID {
					return true
				}
			}
		case "ip":
			p, ok := parseIPACL(a.ID)
			if !ok {
				continue
			}
			for _, id := range ids {
				if id.Scheme != "ip" {
					continue
				}
				if addr, err := netip.ParseAddr(id.ID); err == nil && p.Contains(addr.Unmap()) {
					return true
				}
			}
		}
	}
	return false
}

// aclTable interns ACL lists: nodes refer to a list by index, so a million
// znodes sharing one ACL store it once. Reference counts let unused lists be
// freed; freed slots are reused in LIFO order, which keeps the table a
// deterministic function of the apply sequence.
type aclTable struct {
	lists []aclEntry
	index map[string]uint32 // canonical key -> slot
	free  []uint32
	last  uint32 // slot of the list interned last (a cache; any value is safe)
}

type aclEntry struct {
	acl  []ACL
	key  string
	refs int64
}

func newACLTable() *aclTable {
	return &aclTable{index: make(map[string]uint32)}
}

func aclKey(acl []ACL) string {
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(strconv.Itoa(int(a.Perms)))
		b.WriteByte(0)
		b.WriteString(a.Scheme)
		b.WriteByte(0)
		b.WriteString(a.ID)
		b.WriteByte(0)
	}
	return b.String()
}

// ref returns the slot of acl, interning it, and takes a reference.
func (t *aclTable) ref(acl []ACL) uint32 {
	// Most nodes share a few lists: try the last one first, without
	// building a key.
	if i := t.last; int(i) < len(t.lists) && t.lists[i].refs > 0 && slices.Equal(t.lists[i].acl, acl) {
		t.lists[i].refs++
		return i
	}
	k := aclKey(acl)
	if i, ok := t.index[k]; ok {
		t.lists[i].refs++
		t.last = i
		return i
	}
	e := aclEntry{acl: slices.Clone(acl), key: k, refs: 1}
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
		t.lists[i] = e
	} else {
		i = uint32(len(t.lists))
		t.lists = append(t.lists, e)
	}
	t.index[k] = i
	t.last = i
	return i
}

// addRef takes another reference on an existing slot.
func (t *aclTable) addRef(i uint32) { t.lists[i].refs++ }

// unref drops a reference and frees the slot when none remain.
func (t *aclTable) unref(i uint32) {
	e := &t.lists[i]
	e.refs--
	if e.refs == 0 {
		delete(t.index, e.key)
		*e = aclEntry{}
		t.free = append(t.free, i)
	}
}

func (t *aclTable) get(i uint32) []ACL { return t.lists[i].acl }
