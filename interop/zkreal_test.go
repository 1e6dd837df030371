package interop

import (
	"os"

	"github.com/coordkit/coord/internal/zkreal"
)

// The real Apache ZooKeeper the interop tests compare coord with runs as a
// child process of the test binary; internal/zkreal starts it.

// findZooKeeper locates the ZooKeeper install (see zkreal.Find), with
// slf4j-simple on its classpath so the server logs kept in the temp
// directories are readable.
func findZooKeeper() (*zkreal.Install, error) {
	inst, err := zkreal.Find()
	if err != nil {
		return nil, err
	}
	return inst.WithSlf4jSimple(), nil
}

// startRealZooKeeper starts a standalone ZooKeeper on a free loopback port
// with its own dataDir and waits until it serves. Stop it when done.
func startRealZooKeeper() (*zkreal.Server, error) {
	inst, err := findZooKeeper()
	if err != nil {
		return nil, err
	}
	return zkreal.Launch(zkreal.Options{
		Install:   inst,
		DirPrefix: "interop-zk-",
		// Containers are reaped as quickly as coord's
		// ContainerCheckInterval (100ms) reaps them.
		JVMFlags: []string{"-Dznode.container.checkIntervalMs=100"},
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
