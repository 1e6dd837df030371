package recipe

import "github.com/coordkit/coord"

// Options configures a lock-like recipe. The zero value is ready: kazoo's
// layout, no identifier, OpenACL.
type Options struct {
	// Identifier is stored as the data of this contender's node. kazoo shows
	// it from contenders(); Curator stores the lock data or participant id
	// there. Election.Leader and Contenders return it.
	Identifier []byte

	// Layout selects whose node names to write. Zero is LayoutKazoo.
	Layout Layout

	// ACL is the ACL of the nodes the recipe creates (its path and
	// ancestors included). Nil means coord.OpenACL.
	ACL []coord.ACL
}
