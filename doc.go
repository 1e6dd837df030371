// Package coord gives a Go program ZooKeeper's coordination primitives
// without a ZooKeeper cluster: a hierarchical namespace of znodes with
// ZooKeeper's exact semantics (stat, versions, sequential, ephemeral,
// container and TTL nodes, multi, watches, sessions, ACLs), replicated with
// raft among the program's own processes.
//
// # Usage
//
// Open a Node, open a Session on it, and call ZooKeeper's operations as Go
// methods:
//
//	n, err := coord.Open(ctx, coord.Config{}) // single node, in memory
//	s, err := n.NewSession(ctx, coord.SessionConfig{Timeout: 10 * time.Second})
//	p, err := s.Create(ctx, "/election/n-", nil, coord.EphemeralSequential, nil)
//	data, stat, ch, err := s.GetDataW(ctx, "/config")
//
// The zero Config is a single-node, in-memory ensemble, ready in a few
// milliseconds. Set DataDir for durability, BindAddr and Peers for a
// replicated ensemble of several processes (Config.Gossip to find each
// other by gossip; Config.ClusterKey to secure the cluster port). A data
// directory remembers the node's id and cluster.
//
// Around the engine, each in its own package: zkserver serves a Node to
// existing ZooKeeper clients and tools (zkCli, go-zookeeper/zk, kazoo,
// Curator); admin serves ZooKeeper's AdminServer commands and health
// endpoints; metrics exports Prometheus collectors; console is a web
// console; recipe holds election, locks, queues and caches; coordtest runs
// whole ensembles inside tests. Node.Backup and Node.Restore back up and
// restore the tree; ImportZooKeeper migrates a ZooKeeper data directory.
//
// Errors are ZooKeeper's: every error returned by a Session method matches
// one of the Err* sentinels with errors.Is (ErrNoNode, ErrNodeExists,
// ErrBadVersion, …) and is an *OpError carrying the operation and path.
//
// # Consistency
//
// Every change — create, delete, setData, setACL, multi, session open,
// close and expiry, container and TTL cleanup — is a command in the raft
// log, applied by one deterministic function on every node. A write returns
// after the node that issued it has applied it, so a session always reads
// its own writes. Reads are served from the local replica (ZooKeeper's
// sequential consistency); Sync first makes a read linearizable.
//
// # Concurrency properties
//
//   - A Node and its Sessions are safe for use by many goroutines.
//   - Writes issued one after another by a goroutine are applied in that
//     order. Writes issued concurrently are applied in some order.
//   - A watch event is delivered (queued on its channel) by the apply that
//     fired it, before that apply's write returns and before any read can
//     observe the change.
//   - One-shot watches (ExistsW, GetDataW, GetChildrenW) use a channel of
//     capacity one that receives one event and is closed. Persistent
//     watches (AddWatch) and Session.Events use unbounded queues: a slow
//     reader never blocks the node, but what it does not read stays in
//     memory.
//   - If ctx ends while a write is in flight, the call returns the ctx
//     error but the write may still be applied.
//
// # Sessions
//
// A session's liveness is tracked by the ensemble's leader. Sessions of a
// running Node stay alive on their own; they expire when their Node dies
// (or, for wire clients, when the client stops pinging) for longer than
// the negotiated timeout. A session whose Node loses contact with the
// leader is Disconnected: reads are served from the possibly stale local
// replica and writes wait for a leader. When a session expires its
// ephemeral nodes are deleted and its watches end with EventNotWatching.
//
// # Locks
//
// Inside a Node, locks are taken in this order and never the other way
// round (a lock further down may be taken while one above is held):
//
//  1. fsm.mu, the tree's read/write lock: apply holds it for writing while
//     it changes the tree and runs the effects apply returned; reads hold
//     it for reading, so a watch is registered atomically with its read.
//  2. Node.mu, the table of local sessions (marking a session as ending
//     is one of apply's effects).
//  3. registry.mu, the local watches (events are fired under 1).
//  4. The sinks' own locks: queueSink.mu, or a wire connection's outgoing
//     queue; a sink never blocks and never calls back.
//
// The proposer's locks (proposer.mu, orphMu, slotMu), fsm.appliedMu, the
// session tracker's lock and internal/cluster's connection locks are
// leaves: nothing else is taken while one is held, except that orphMu is
// held while fsm.appliedMu is read. Apply hands results to the proposer
// only after it has released fsm.mu.
package coord
