package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coordkit/coord/internal/zkreal"
)

// allFlags are the options run accepts; -h must list each.
var allFlags = []string{"-server", "-timeout", "-r", "-waitforconnection", "-client-configuration", "-h", "-help"}

func TestHelpFlag(t *testing.T) {
	for _, h := range []string{"-h", "-help", "--help"} {
		r := runCtl(t, "", h)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s: code %d stderr %q", h, r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "usage: coordctl ") {
			t.Errorf("%s: stdout %q", h, r.stdout)
		}
		for _, f := range allFlags {
			if !strings.Contains(r.stdout, "  "+f) && !strings.Contains(r.stdout, ", "+f) {
				t.Errorf("%s: usage does not list %s:\n%s", h, f, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, "\tls [-s] [-w] [-R] path\n") {
			t.Errorf("%s: usage does not list the commands:\n%s", h, r.stdout)
		}
	}
	// The help command's first line names every flag too.
	for _, f := range allFlags[:5] {
		if !strings.Contains(usageHeader, f) {
			t.Errorf("usageHeader does not name %s", f)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-sever", "x:1"}, "Error: unknown option -sever\n"},
		{[]string{"-server"}, "Error: no argument found for option -server\n"},
		{[]string{"-timeout", "soon"}, "Error: -timeout needs a positive number of milliseconds, got soon\n"},
		{[]string{"-client-configuration"}, "Error: no argument found for option -client-configuration\n"},
	} {
		r := runCtl(t, "", c.args...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, c.msg+"usage: coordctl ") {
			t.Errorf("%q: code %d stdout %q stderr %q", c.args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestFlagsAgainstZooKeeper runs a one-shot command with every connection
// flag against coord and against ZooKeeper: the same output from both.
func TestFlagsAgainstZooKeeper(t *testing.T) {
	coordAddr := startCoord(t)
	zk := zkreal.Start(t, zkreal.Options{DirPrefix: "coordctl-flags-"})
	props := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(props, []byte("zookeeper.sasl.client=false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{coordAddr, zk.Addr} {
		prepareChroot(t, addr)
		r := runCtl(t, "", "-waitforconnection", "-client-configuration", props, "-timeout", "5000", "-r",
			"-server", "127.0.0.1:1,"+addr+"/app", "ls", "/")
		if r.code != 0 || r.stdout != "[]\n" || r.stderr != "coordctl: -client-configuration is ignored\n" {
			t.Errorf("%s: code %d stdout %q stderr %q", addr, r.code, r.stdout, r.stderr)
		}
	}
}
