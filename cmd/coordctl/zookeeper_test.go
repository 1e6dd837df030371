package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/coordkit/coord/internal/zkreal"
)

// Apache ZooKeeper, when installed (the Debian package puts it in
// /usr/share/zookeeper; $ZOOKEEPER_HOME overrides), runs the same scripted
// session as coord: coordctl's transcript against it must match its
// transcript against coord, and ZooKeeper's own zkCli must print what
// coordctl prints. internal/zkreal finds and starts it.

// reQuotaStats hides the usage counters of a quota: ZooKeeper's server
// maintains zookeeper_stats, coord does not (yet), so listquota's second
// line is the one known difference between the two servers.
var reQuotaStats = regexp.MustCompile(`(?m)^Output stat for (\S+) count=-?\d+,bytes=-?\d+$`)

// TestAgainstZooKeeper runs the scripted session against coord and against
// ZooKeeper with coordctl and compares the transcripts.
func TestAgainstZooKeeper(t *testing.T) {
	inst := zkreal.Require(t) // zkCli runs with the same install
	zks := zkreal.StartN(t, 2, zkreal.Options{Install: inst, DirPrefix: "coordctl-zk-"})
	coordAddr := startCoord(t)

	norm := func(r result, addr string) string {
		return reQuotaStats.ReplaceAllString(normalize(r.all, addr), "Output stat for $1 STATS")
	}
	fromCoord := norm(runCtl(t, script(sessionScript, coordAddr), "-server", coordAddr), coordAddr)
	zkRun := runCtl(t, script(sessionScript, zks[0].Addr), "-server", zks[0].Addr)
	fromZK := norm(zkRun, zks[0].Addr)
	if fromCoord != fromZK {
		t.Errorf("coordctl prints different things against coord and ZooKeeper (-coord +zookeeper):\n%s", lineDiff(fromCoord, fromZK))
	}
	if !strings.Contains(fromZK, "Output stat for /a STATS") {
		t.Errorf("quota stats normalization did not apply:\n%s", fromZK)
	}

	t.Run("zkCli", func(t *testing.T) {
		zOut, zEvents := compareWithZkCli(t, inst, zks[1].Addr, zks[1].Addr, script(sessionScript, zks[1].Addr), zkRun, zks[0].Addr)
		if strings.Count(zEvents, "\n") < 10 || !strings.Contains(zOut, "cZxid = 0xZ") {
			t.Errorf("zkCli's output looks wrong; stdout:\n%s\nevents:\n%s", zOut, zEvents)
		}
	})
}

// compareWithZkCli runs ZooKeeper's zkCli (ZooKeeperMain, without JLine,
// so with no prompts) on input with "-server server" against a fresh
// server at addr and compares it with coordctl's run ctl of the same input
// against another fresh server at ctlAddr: stdout and stderr line by line
// with the watch events set apart (zkCli prints them from another thread,
// so only their order is deterministic), prompts removed and the usage
// listing (whose command set differs) dropped. It returns zkCli's
// normalized stdout and events.
func compareWithZkCli(t *testing.T, inst *zkreal.Install, addr, server, input string, ctl result, ctlAddr string) (string, string) {
	t.Helper()
	var cp []string
	for _, e := range strings.Split(inst.Classpath, ":") {
		if !strings.Contains(strings.ToLower(e), "jline") {
			cp = append(cp, e)
		}
	}
	cmd := exec.Command(inst.Java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", strings.Join(cp, ":"), "org.apache.zookeeper.ZooKeeperMain", "-server", server)
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zkCli: %v\nstderr:\n%s", err, stderr.String())
	}
	zOut, zEvents := splitEvents(normalize(stdout.String(), addr))
	cOut, cEvents := splitEvents(rePrompt.ReplaceAllString(normalize(ctl.stdout, ctlAddr), ""))
	if zOut != cOut {
		t.Errorf("stdout differs (-zkCli +coordctl):\n%s", lineDiff(zOut, cOut))
	}
	if zEvents != cEvents {
		t.Errorf("watch events differ (-zkCli +coordctl):\n%s", lineDiff(zEvents, cEvents))
	}
	zErr, _ := splitEvents(normalize(stderr.String(), addr))
	cErr, _ := splitEvents(normalize(ctl.stderr, ctlAddr))
	if zErr != cErr {
		t.Errorf("stderr differs (-zkCli +coordctl):\n%s", lineDiff(zErr, cErr))
	}
	return zOut, zEvents
}

var rePrompt = regexp.MustCompile(`\[zk: [^\]]*\] `)

// splitEvents separates the "WATCHER::" event lines from the rest,
// dropping blank lines, zkCli's banners and logging, and the usage
// listing.
func splitEvents(s string) (rest, events string) {
	var r, e strings.Builder
	for _, l := range strings.Split(s, "\n") {
		switch {
		case l == "" || l == "WATCHER::" || strings.HasPrefix(l, "\t"):
		case strings.HasPrefix(l, "WatchedEvent "):
			e.WriteString(l + "\n")
		case strings.HasPrefix(l, "JLine support"), strings.HasPrefix(l, "SLF4J"),
			strings.HasPrefix(l, "ZooKeeper -server"), strings.HasPrefix(l, usageHeader),
			strings.Contains(l, " INFO "), strings.Contains(l, " WARN "):
		default:
			r.WriteString(l + "\n")
		}
	}
	return r.String(), e.String()
}
