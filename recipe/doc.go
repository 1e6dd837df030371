// Package recipe builds ZooKeeper's coordination recipes on the public
// coord.Session API: leader election, locks, semaphores, barriers, queues,
// counters, group membership and caches. Each recipe takes a
// *coord.Session, so it works the same on a single in-process Node and on
// an ensemble, and each is correct under session loss: what a process
// holds is tied to an ephemeral node, and the process is told when it may
// have lost it.
//
//	lease, err := recipe.NewMutex(s, "/locks/db", recipe.Options{}).Lock(ctx)
//	if err != nil { ... }
//	defer lease.Unlock(ctx)
//	for work := range jobs {
//		select {
//		case <-lease.Done(): // the lock may be lost: stop
//			return lease.Err()
//		default:
//		}
//		store.Write(work, lease.Token()) // the store rejects lower tokens
//	}
//
// # Recipes
//
//   - Election: Campaign blocks until this candidate leads and returns a
//     Leadership (Token, Done, Err, Resign); Leader and Observe serve
//     followers.
//   - Mutex (Lock, TryLock; Lease.Unlock), RWMutex (RLock, Lock, and Try
//     variants), Semaphore (n leases).
//   - Barrier (Set, Remove, Wait) and DoubleBarrier (Enter, Leave).
//   - Queue: FIFO, with priorities (PutPriority; lower leaves first).
//   - Counter: an integer changed atomically by versioned setData.
//   - Group: membership with a payload per member, and Watch.
//   - NodeCache and TreeCache: local copies of a node or a subtree kept up
//     to date by persistent and persistent-recursive watches.
//
// # Session loss
//
// A Lease (Mutex, RWMutex, Semaphore), a Leadership (Election) and a
// Membership (Group) each have Done, closed when the thing may no longer
// be held, and Err, which says why:
//
//   - coord.ErrConnectionLoss: the session is disconnected (its node lost
//     touch with the ensemble's leader). The lock or leadership MAY have been
//     lost: the ensemble expires the session after its timeout without
//     hearing from it, and another process may by then hold the lock. Stop
//     acting on it now. Done stays closed even if the session reconnects;
//     Unlock and acquire again.
//   - coord.ErrSessionExpired or coord.ErrClosed: the session ended; its
//     ephemeral nodes are deleted. The lock or leadership IS lost.
//   - coord.ErrNoNode: someone deleted the holder's node. It is lost.
//   - ErrReleased: the holder called Unlock, Resign or Leave.
//
// Done closing is a notification, and notifications can come late: a process
// paused (GC, a stopped VM) for longer than its session timeout learns of
// the loss only when it runs again, possibly after another process took
// over. That is what fencing tokens are for. Token returns the czxid of the
// holder's node; the node of every later holder of a Mutex (every later
// writer of an RWMutex, every later leader of an Election) was created
// later, so its token is higher. A storage service that remembers the
// highest token it has seen and rejects writes carrying a lower one rejects
// the late writes of a deposed holder (see the example of Lease.Token).
//
// A waiting Lock, Campaign or Acquire whose session expires returns an
// error wrapping coord.ErrSessionExpired; the session's nodes are gone with
// it. Open a new session to contend again.
//
// # Cancellation and unknown outcomes
//
// Every call that can block takes a ctx first. When ctx ends while a Lock,
// Campaign, Acquire or Enter waits, the recipe deletes its node and returns
// ctx.Err() (exactly context.Canceled or context.DeadlineExceeded): nothing
// is left behind to block others. A create whose ctx ended may still be
// applied; the recipe then Syncs and looks for its node by a unique random
// prefix ("protected" names, as Curator's protected mode and kazoo do) and
// deletes it. The same prefix lets a recipe find its node after a create
// that failed with connection loss but was applied, so it never leaves a
// second node of its own behind. While the session is disconnected nothing
// can be deleted; the clean-up then finishes in the background once the
// session is back (or ends, taking its ephemeral nodes with it).
//
// Unlock, Resign and Leave do not give up when their ctx ends: an abandoned
// lock node would block every other contender until the session ends, so
// they are bounded by the session timeout instead. Writes of Queue.Put and
// Counter.Add whose ctx ends may still be applied, as with any coord write.
//
// # Herd effect
//
// Mutex, RWMutex and Election contenders each watch only the nearest lower
// node that blocks them (a writer: the next lower node; a reader: the next
// lower writer), so a release wakes one waiter; readers queued behind one
// writer all wake when it leaves, since all may then read. A Semaphore's
// acquirers queue on a Mutex and only its holder watches the lease pool.
// Election.Observe watches the leader's node only. Queue consumers and Group
// watchers watch the children of their path, since every one of them wants
// to know of every change there.
//
// # Interoperability with kazoo and Curator
//
// These recipes use the node layouts of kazoo (Python) and Apache Curator
// (Java) where those are documented by their code, so a Go process and a
// Python or Java process can share a lock through a coord node's ZooKeeper
// wire protocol. Options.Layout selects whose names the Go side writes; the
// Go side recognizes both libraries' contenders whatever its Layout.
//
//   - Mutex, LayoutKazoo: kazoo Lock. Contender "<uuid4 hex>__lock__<seq>",
//     ephemeral-sequential, data = identifier; ordered by the 10-digit
//     sequence suffix (kazoo's regex (?:__lock__)(-?\d{10})$).
//   - Mutex, LayoutCurator: Curator InterProcessMutex. Contender
//     "_c_<uuid>-lock-<seq>" (protected mode: "_c_", a 36-character UUID,
//     "-", then the lock name "lock-"); ordered by the text after the last
//     "lock-" (StandardLockInternalsDriver.fixForSorting).
//   - Election: kazoo Election (a kazoo Lock on the election path; the
//     leader is the lock holder; contenders() reads each node's data) with
//     LayoutKazoo; Curator LeaderSelector (an InterProcessMutex on the
//     leader path, participant id as data) with LayoutCurator. Curator's
//     LeaderLatch ("latch-" nodes) is not supported.
//   - RWMutex, LayoutKazoo: kazoo WriteLock ("__lock__") and ReadLock
//     ("__rlock__"); a writer is blocked by any lower node, a reader by
//     lower "__lock__" nodes. LayoutCurator: Curator
//     InterProcessReadWriteLock ("_c_<uuid>-__WRIT__<seq>",
//     "_c_<uuid>-__READ__<seq>"). A plain Mutex, like kazoo's Lock, ignores
//     readers.
//   - Semaphore: kazoo Semaphore. The path's data is max_leases in decimal
//     (checked: ErrLeasesMismatch), each lease an ephemeral child
//     "<uuid4 hex>" holding the identifier, acquirers serialized by a kazoo
//     Lock at "<path>-__lock__". Curator's InterProcessSemaphoreV2 layout is
//     not supported.
//   - Barrier: kazoo Barrier and Curator DistributedBarrier (the barrier is
//     up while its node exists).
//   - DoubleBarrier: kazoo DoubleBarrier (members ephemeral "<uuid4 hex>"
//     holding the identifier; child "ready" once n entered) and Curator
//     DistributedDoubleBarrier (members "<uuid>", the same "ready"). Like
//     kazoo, Leave deletes "ready" first; Curator deletes it last; both
//     orders are safe with the others.
//   - Queue: kazoo Queue. Items are persistent-sequential
//     "entry-<priority %03d>-<seq>" holding the item; consumers take the
//     name that sorts first. kazoo's LockingQueue and Curator's
//     DistributedQueue are not supported.
//   - Counter: CounterDecimal is kazoo's Counter (ASCII decimal, Python's
//     repr of an int; empty data reads as the default 0). CounterInt32 is
//     Curator's SharedCount and kazoo's Counter(support_curator=True) (a
//     4-byte big-endian int). CounterInt64 is Curator's
//     DistributedAtomicLong in its optimistic mode (8-byte big-endian).
//   - Group: kazoo Party (members ephemeral "<uuid4 hex>__party__", data =
//     identifier). Curator's GroupMember (members named by free-form ids)
//     is not supported: a Group ignores children without "__party__".
//   - NodeCache and TreeCache only read, so they work on any layout; they
//     need ZooKeeper 3.6's persistent watches, which coord has.
//
// The kazoo layouts are checked against kazoo itself: the package's tests
// run Python kazoo (python3-kazoo) against a node's ZooKeeper wire protocol
// and contend with the Go recipes on the same paths (Lock, Election,
// ReadLock, Semaphore, Counter, Queue, Party, DoubleBarrier). The Curator
// layouts are checked against the naming and sorting rules of Curator's
// source (TestLayoutNames), not against a running Curator.
//
// Mixing kazoo and Curator processes on one lock path is not safe, whatever
// the Go side does: Curator sorts a kazoo contender by its whole name (it
// has no "lock-"), and kazoo ignores Curator contenders unless given
// extra_lock_patterns=["-lock-"]. Pick the Layout of the library the other
// processes use.
//
// Sequence numbers are ZooKeeper's: a signed 32-bit counter per parent.
// After 2^31 creates under one lock path they wrap; kazoo and Curator do
// not handle that either. Use a fresh path long before.
//
// # Concurrency properties
//
// Every type here is safe for concurrent use. Each Lock, TryLock, Campaign
// or Acquire call is an independent contender, even on one value: two
// goroutines sharing a Mutex exclude each other as two processes would.
// None of the locks is reentrant.
//
// Observe and Group.Watch deliver the latest state on an unbuffered
// channel: a slow reader misses intermediate states, never the last one,
// and delays nothing but its own channel. They close it when ctx or the
// session ends. NodeCache and TreeCache buffer nothing for readers: Updated
// returns a channel closed at the next change; take it, read the cache,
// then wait on it. A cache applies events in the order the session
// receives them and re-reads each node an event names, so it converges to
// the tree once changes stop.
//
// Each Lease, Leadership and Membership runs one goroutine that watches its
// node and the session until it is released or lost. It also polls the
// session's state a few times per session timeout, because a session may
// go Disconnected without ending and Session.Events has a single reader,
// which belongs to the application.
//
// # Caveats
//
// Closing a NodeCache or TreeCache removes its watch with RemoveWatches,
// which removes all of the session's persistent (or persistent-recursive)
// watches on that path: two caches of one path should use two sessions.
//
// Queue items are removed before Get returns them: an item whose consumer
// dies before handling it is lost (kazoo's Queue has the same contract).
package recipe
