// Package interop tests coord against the programs its users already run.
//
//   - TestDifferential runs the same ZooKeeper client scenarios against a
//     real Apache ZooKeeper 3.8 server and against coord's wire server and
//     compares the normalized outcomes (TestDumpRealZooKeeper and
//     TestDumpCoord print the transcripts).
//   - TestGoZKCoorddEnsemble drives a three-process coordd ensemble with
//     go-zookeeper/zk, killing the leader with SIGKILL.
//   - TestZkCliCoordd drives Apache ZooKeeper's own zkCli.sh against coordd
//     and checks its output against transcripts recorded from ZooKeeper.
//   - TestKazooRecipesSurviveLeaderKill runs Python kazoo's Lock and
//     Election recipes from two processes against a three-process coordd
//     ensemble while its leader is killed.
//   - BenchmarkZKServers compares coordd with ZooKeeper 3.8, standalone and
//     three nodes, with the same go-zookeeper client program.
//   - TestPartitionLeaderFaults runs three coordd (and three ZooKeeper)
//     processes, each in its own network namespace (internal/netns), cuts
//     the leader off from its peers with packet drops and kills it, under
//     writers and linearizability clients on every node; it checks that
//     every acknowledged write is present once and that the history is
//     linearizable (porcupine). BenchmarkLeaderCutRecovery and
//     BenchmarkLeaderKillRecovery report the time from the fault to the
//     first write acknowledged through the majority, for both.
//
// The package has no non-test code beyond this comment. It needs Java and
// the Debian packages zookeeper (ZOOKEEPER_HOME, or /usr/share/zookeeper),
// python3-kazoo and, for the partition tests, root, iproute2 and nftables; tests that need a missing program skip with a message,
// and fail instead when CI=true. .ci/run installs them.
package interop
