// Package interop holds differential tests that run the same ZooKeeper
// client scenarios against a real Apache ZooKeeper server and against
// coord's ZooKeeper wire server, and compare the normalized outcomes.
//
// The package has no non-test code beyond this comment. Run
//
//	go test ./interop/ -run TestDifferential -v
//	go test ./interop/ -run TestDumpRealZooKeeper -v
//
// Real ZooKeeper is found through ZOOKEEPER_HOME (or the Debian layout,
// /usr/share/zookeeper); without it the tests skip, unless CI=true.
package interop
