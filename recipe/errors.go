package recipe

import "errors"

var (
	// ErrWouldBlock is returned by TryLock, TryRLock and TryAcquire when
	// taking the lock or lease would mean waiting.
	ErrWouldBlock = errors.New("recipe: would block")

	// ErrReleased is a Lease's, Leadership's or Membership's Err after the
	// holder released it (Unlock, Resign, Leave).
	ErrReleased = errors.New("recipe: released")

	// ErrNoLeader is returned by Election.Leader when nobody campaigns.
	ErrNoLeader = errors.New("recipe: no leader")

	// ErrLeasesMismatch is returned by Semaphore.Acquire when the semaphore
	// node records a different number of leases than this Semaphore's (as
	// kazoo's Semaphore raises ValueError).
	ErrLeasesMismatch = errors.New("recipe: semaphore max leases mismatch")

	// ErrBadValue is returned by Counter when the node's data is not a
	// number in the Counter's format, or a result overflows it.
	ErrBadValue = errors.New("recipe: bad counter value")
)
