package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/coordkit/coord"
)

// runSnapshot is `coordd snapshot inspect FILE` and `coordd snapshot
// restore FILE -data-dir DIR [-id N] [zoo.cfg]`.
func runSnapshot(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "inspect" && args[0] != "restore") {
		fmt.Fprintln(stderr, "usage: coordd snapshot inspect FILE\n       coordd snapshot restore FILE -data-dir DIR [-id N] [-peers ...] [zoo.cfg]")
		return 2
	}
	if args[0] == "inspect" {
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: coordd snapshot inspect FILE")
			return 2
		}
		info, err := coord.VerifyBackupFile(args[1])
		printBackupInfo(stdout, args[1], info, err == nil)
		if err != nil {
			fmt.Fprintf(stderr, "coordd snapshot inspect: %v\n", err)
			return 1
		}
		return 0
	}
	cfg, pos, code := offlineConfig("coordd snapshot restore", "FILE", args[1:], stderr)
	if code >= 0 {
		return code
	}
	info, err := coord.RestoreDataDir(cfg, pos)
	if err != nil {
		fmt.Fprintf(stderr, "coordd snapshot restore: %v\n", err)
		return 1
	}
	printBackupInfo(stdout, pos, info, true)
	fmt.Fprintf(stdout, "restored into %s as node %s\n", cfg.DataDir, cfg.NodeID)
	return 0
}

// runImportZK is `coordd import-zk ZK_DATA_DIR -data-dir DIR [-id N]
// [-zk-log-dir DIR] [zoo.cfg]`.
func runImportZK(args []string, stdout, stderr io.Writer) int {
	var logDir string
	var trustEmpty bool
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&logDir, "zk-log-dir", "", "ZooKeeper's dataLogDir, when it is not its dataDir")
		fs.BoolVar(&trustEmpty, "zk-trust-empty", false, "replay ZooKeeper's logs onto an empty tree when it has no snapshot")
	}
	cfg, zkDir, code := offlineConfig("coordd import-zk", "ZK_DATA_DIR", args, stderr, extra)
	if code >= 0 {
		return code
	}
	info, err := coord.ImportZooKeeper(cfg, zkDir, &coord.ImportOptions{LogDir: logDir, AllowNoSnapshot: trustEmpty})
	for _, w := range info.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "coordd import-zk: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ZooKeeper snapshot: %s\n", info.Snapshot)
	fmt.Fprintf(stdout, "transaction logs:   %d\n", len(info.Logs))
	fmt.Fprintf(stdout, "last zxid:          %#x\n", info.Zxid)
	fmt.Fprintf(stdout, "znodes:             %d\n", info.Znodes)
	fmt.Fprintf(stdout, "sessions:           %d\n", info.Sessions)
	fmt.Fprintf(stdout, "imported into %s as node %s\n", cfg.DataDir, cfg.NodeID)
	return 0
}

// offlineConfig parses coordd's usual flags and zoo.cfg for a command
// that writes a data directory: one positional argument (what to read),
// then an optional zoo.cfg. code is -1 to go on, else the exit status.
func offlineConfig(name, what string, args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (coord.Config, string, int) {
	o := newOptions(name, stderr)
	for _, f := range extra {
		f(o.fs)
	}
	o.fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s -data-dir DIR [-id N] [-peers id=host:port,...] [zoo.cfg]\n\nflags:\n", name, what)
		o.fs.PrintDefaults()
	}
	pos, err := o.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return coord.Config{}, "", 0
	}
	if err != nil {
		return coord.Config{}, "", 2
	}
	if len(pos) < 1 || len(pos) > 2 {
		o.fs.Usage()
		return coord.Config{}, "", 2
	}
	cfgPath := ""
	if len(pos) == 2 {
		cfgPath = pos[1]
	}
	if !o.set["data-dir"] && cfgPath == "" {
		fmt.Fprintf(stderr, "%s: -data-dir (or a zoo.cfg with dataDir) is required\n", name)
		return coord.Config{}, "", 2
	}
	dc, err := o.config(cfgPath, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return coord.Config{}, "", 2
	}
	if dc.DataDir == "" {
		fmt.Fprintf(stderr, "%s: the data dir is empty: nothing to write to\n", name)
		return coord.Config{}, "", 2
	}
	return dc.Config, pos[0], -1
}

func printBackupInfo(w io.Writer, file string, info coord.BackupInfo, verified bool) {
	fmt.Fprintf(w, "file:        %s (%d bytes)\n", file, info.Size)
	fmt.Fprintf(w, "format:      coord backup version %d\n", info.Version)
	if info.Version == 0 {
		return
	}
	fmt.Fprintf(w, "taken:       %s by node %s\n", info.Time.UTC().Format(time.RFC3339Nano), info.NodeID)
	fmt.Fprintf(w, "zxid:        %#x\n", info.Zxid)
	fmt.Fprintf(w, "znodes:      %d\n", info.Znodes)
	fmt.Fprintf(w, "digest:      %016x\n", info.Digest)
	if !verified {
		fmt.Fprintln(w, "verified:    NO")
		return
	}
	fmt.Fprintf(w, "ephemerals:  %d\n", info.Ephemerals)
	fmt.Fprintf(w, "sessions:    %d\n", info.Sessions)
	fmt.Fprintf(w, "data bytes:  %d\n", info.DataBytes)
	fmt.Fprintf(w, "ACLs:        %d distinct\n", info.ACLs)
	fmt.Fprintf(w, "log format:  %d\n", info.LogFormat)
	fmt.Fprintln(w, "verified:    checksum and digest OK")
}
