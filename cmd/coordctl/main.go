// Command coordctl is a zkCli-style shell that speaks the ZooKeeper client
// wire protocol, so it works against coord's wire server (package zkserver,
// as coordd runs it) and against Apache ZooKeeper alike.
//
//	coordctl [-server host:port[,host:port...]] [-timeout ms] [-r] [cmd args...]
//
// With a command it runs that command and exits with zkCli's exit code (0,
// 1 on a failed command, 127 for an unknown one). Without one it reads
// commands from standard input, printing zkCli's prompt
// "[zk: host:port(CONNECTED) N] " before each and watch events as they
// arrive. Commands, flags and output follow ZooKeeper 3.8's zkCli: ls, get,
// set, create, delete, deleteall, stat, getAcl, setAcl, addauth, sync,
// addWatch, removewatches, getEphemerals, getAllChildrenNumber, whoami,
// setquota, listquota, delquota, history, redo, printwatches, close,
// connect, quit, help, plus 3.4's ls2 and rmr. Type help for the list.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
