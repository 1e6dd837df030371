// Package zkserver serves a coord.Node over Apache ZooKeeper's client wire
// protocol, so existing ZooKeeper clients and tools — the Java client and
// Curator, go-zookeeper/zk, kazoo, zkCli.sh, coordctl — use the node as
// they would a ZooKeeper server.
//
// # Use
//
// Open the node, then serve it, as one would serve a handler with
// net/http; the caller owns both and closes the server first:
//
//	n, err := coord.Open(ctx, coord.Config{DataDir: dir})
//	...
//	srv, err := zkserver.Listen("127.0.0.1:2181", n, zkserver.Config{})
//	...
//	srv.Close()
//	n.Close(ctx)
//
// Serve takes a net.Listener instead of an address. One Node may be served
// on several listeners; each Server keeps its own limits and statistics.
//
// # What it serves
//
// Every request of ZooKeeper clients 3.5 to 3.9: sessions (create,
// re-attach with id and password, close, pings), create, create2,
// createContainer, createTTL, delete, exists, getData, setData, getACL,
// setACL, getChildren, getChildren2, getAllChildrenNumber, getEphemerals,
// sync, multi and multiRead, check (inside multi), watches (one-shot,
// setWatches and setWatches2 on reconnect with ZooKeeper's catch-up,
// addWatch persistent and recursive, checkWatches, removeWatches), auth
// (digest; ip comes with the connection), whoAmI and SASL (answered as a
// ZooKeeper without SASL does). reconfig is answered ReconfigDisabled, as
// by a ZooKeeper with reconfigEnabled=false. Error codes, replies and their
// zxids follow ZooKeeper's, down to the corner cases its clients rely on.
//
// Each request runs in order on its connection (ZooKeeper's per-session
// FIFO); a watch notification is queued before the reply of any later
// request that reflects its change. A session outlives its connection: a
// client that reconnects within the session timeout, to this server or to
// another member of the ensemble, keeps its session, its ephemeral nodes
// and (by re-sending them) its watches. A session moved elsewhere fails
// further requests here with SessionMoved; one whose Node is gone or lost
// its quorum has its connection closed so the client tries another server.
// When the Node closes, its sessions close and their connections with
// them.
//
// # Limits
//
// Config.MaxClientCnxns caps connections per client IP address (60 unless
// set, as ZooKeeper's maxClientCnxns); Config.MaxConnections caps them all
// (10,000 unless set). Connections over a limit are closed at once, as
// ZooKeeper does. Besides:
//
//   - A request frame may carry up to 1 MiB (jute.maxbuffer); a larger one
//     closes the connection. Data sizes are the Node's (coord.Config.MaxDataSize).
//   - A connection must send its ConnectRequest within 10 s.
//   - A connection is dropped when it sends nothing (not even a ping) for
//     its session timeout.
//   - A client that does not read its replies and notifications is dropped
//     once 64 MiB wait for it; its session lives on until it expires.
//
// # Four-letter words
//
// A connection that starts with a four-letter word instead of a frame gets
// its answer and is closed: ruok, srvr, stat, mntr, conf, cons, envi, wchs,
// wchc, wchp, dump, isro, crst, srst, in ZooKeeper's formats (tools parse
// them: go-zookeeper/zk's FLW functions, zkServer.sh status, monitoring
// agents). Config.FourLetterWords is the whitelist, ZooKeeper's
// 4lw.commands.whitelist: nil allows srvr only, []string{"*"} allows all,
// and srvr is always allowed. The version reported is "3.9.5-coord": the
// protocol level served, then this engine's name.
package zkserver
