// Command coordctl is a zkCli-style shell that speaks the ZooKeeper client
// wire protocol, so it works against coord's wire server (package zkserver,
// as coordd runs it) and against Apache ZooKeeper alike.
//
//	coordctl [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [cmd args...]
//
// The -server value is a ZooKeeper connect string: with a chroot suffix
// ("h1:2181,h2:2181/app") the paths typed are relative to /app and the
// paths printed (created nodes, errors, watch events) are too, as in
// zkCli. A host without a port means port 2181.
//
// With a command it runs that command and exits with zkCli's exit code (0,
// 1 on a failed command, 127 for an unknown one). Without one it reads
// commands from standard input, printing zkCli's prompt
// "[zk: host:port(CONNECTED) N] " before each and watch events as they
// arrive; on a terminal it offers line editing, history (up and down
// arrows) and tab completion of command names and znode paths. Commands,
// flags and output follow ZooKeeper 3.8's zkCli: ls, get, set, create,
// delete, deleteall, stat, getAcl, setAcl, addauth, sync, addWatch,
// removewatches, getEphemerals, getAllChildrenNumber, whoami, setquota,
// listquota, delquota, config, history, redo, printwatches, close,
// connect, quit, help, plus 3.4's ls2 and rmr. Type help for the list,
// coordctl -h for the flags.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
