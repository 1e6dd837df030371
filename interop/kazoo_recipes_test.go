package interop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Python kazoo's Lock and Election recipes (Debian package python3-kazoo)
// against a 3-node coordd ensemble whose leader process is SIGKILLed while
// two contenders, each a Python process with its own session, take turns.
// Every holder appends "enter" and "exit" lines to one shared file; the
// file must show strictly alternating enter/exit pairs of one holder at a
// time (mutual exclusion), and both contenders must finish all their rounds
// across the kill.

const kazooScript = `
import os, sys, time, logging
logging.basicConfig(level=logging.ERROR)
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

hosts, mode, ident, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rounds, hold, budget = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
deadline = time.time() + budget
retry = dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5)
c = KazooClient(hosts=hosts, timeout=10.0, randomize_hosts=False,
                connection_retry=KazooRetry(**retry),
                command_retry=KazooRetry(deadline=30, **retry))
states = []
c.add_listener(lambda st: states.append(str(st)))
c.start(timeout=15)
sid = c.client_id[0]

def note(tag, i):
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, ("%s %s %d %x %.3f\n" % (tag, ident, i, sid, time.time())).encode())
    finally:
        os.close(fd)

def critical(i):
    note("enter", i)
    time.sleep(hold)
    note("exit", i)

for i in range(rounds):
    if time.time() > deadline:
        sys.exit("%s: out of time after %d rounds" % (ident, i))
    if mode == "lock":
        lock = c.Lock("/kazoo/lock", ident)
        if not lock.acquire(timeout=max(1.0, deadline - time.time())):
            sys.exit("%s: lock not acquired in time" % ident)
        try:
            critical(i)
        finally:
            lock.release()
    else:
        c.Election("/kazoo/election", ident).run(critical, i)
if c.client_id[0] != sid:
    sys.exit("%s: the session changed (expired?)" % ident)
seen = " ".join(states)  # before stop(), which reports LOST
c.stop()
c.close()
print("%s done, connection states: %s" % (ident, seen))
`

// kazooPython finds a python3 that imports kazoo: Debian's /usr/bin/python3
// first (python3-kazoo installs there), then python3 on PATH.
func kazooPython() (string, error) {
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if !fileExists(p) {
			continue
		}
		if err := exec.Command(p, "-c", "import kazoo.client, kazoo.recipe.lock, kazoo.recipe.election").Run(); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no python3 with kazoo (install the Debian package python3-kazoo)")
}

type kazooProc struct {
	ident string
	cmd   *exec.Cmd
	out   bytes.Buffer
	done  chan error
}

func TestKazooRecipesSurviveLeaderKill(t *testing.T) {
	py, err := kazooPython()
	needTool(t, "kazoo", err)
	e := startCoorddEnsemble(t, 3, coorddOptions{})
	script := filepath.Join(t.TempDir(), "contend.py")
	if err := os.WriteFile(script, []byte(kazooScript), 0o644); err != nil {
		t.Fatal(err)
	}
	const rounds = 15
	for phase, mode := range []string{"lock", "election"} {
		if phase > 0 {
			// Bring the node killed in the previous phase back, so that
			// this phase again kills the leader of a full ensemble.
			for i := range e.nodes {
				if !e.running(i) {
					e.start(i)
					e.waitServing(i, 30*time.Second)
				}
			}
		}
		ok := t.Run(mode, func(t *testing.T) {
			runKazooContention(t, e, py, script, mode, rounds)
		})
		if !ok {
			return
		}
	}
}

func runKazooContention(t *testing.T, e *coorddEnsemble, py, script, mode string, rounds int) {
	li := e.leader(15 * time.Second)
	addrs := e.addrs()
	// Contender A starts on the leader, B on the others.
	var others []string
	for i, a := range addrs {
		if i != li {
			others = append(others, a)
		}
	}
	hostsA := strings.Join(append([]string{addrs[li]}, others...), ",")
	hostsB := strings.Join(append(others, addrs[li]), ",")
	out := filepath.Join(t.TempDir(), mode+".log")

	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	procs := []*kazooProc{{ident: "A"}, {ident: "B"}}
	for _, p := range procs {
		hosts := hostsA
		if p.ident == "B" {
			hosts = hostsB
		}
		p.cmd = exec.CommandContext(ctx, py, script, hosts, mode, p.ident, out, strconv.Itoa(rounds), "0.05", "45")
		p.cmd.Stdout = &p.out
		p.cmd.Stderr = &p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p.done = make(chan error, 1)
		go func() { p.done <- p.cmd.Wait() }()
	}

	// Kill the leader once both contenders have held it a few times.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Count(string(b), "enter A") >= 2 && strings.Count(string(b), "enter B") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range procs {
				p.cmd.Process.Kill()
				<-p.done
				t.Logf("%s output:\n%s", p.ident, p.out.String())
			}
			t.Fatalf("contenders made no progress in 30s; file:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	killedAt := time.Now()
	e.kill(li)
	t.Logf("%s: killed leader coordd %d at %.3f", mode, li+1, float64(killedAt.UnixMilli())/1000)

	for _, p := range procs {
		err := <-p.done
		if err != nil {
			t.Errorf("contender %s: %v\n%s", p.ident, err, p.out.String())
		}
		t.Logf("contender %s: %s", p.ident, strings.TrimSpace(p.out.String()))
	}
	// A was connected to the killed leader: it must have lost the
	// connection and found the session again elsewhere.
	if a := procs[0].out.String(); !strings.Contains(a, "SUSPENDED") || strings.Contains(a, "LOST") {
		t.Errorf("contender A's connection states do not show a failover with the session kept: %s", a)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checkExclusive(t, string(b), rounds, killedAt)
}

// checkExclusive verifies the shared file: enter/exit pairs of one holder
// never interleave, each contender ran every round, and holders kept
// changing hands after the kill.
func checkExclusive(t *testing.T, log string, rounds int, killedAt time.Time) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	done := map[string]int{}
	after := 0
	holder := ""
	for n, line := range lines {
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("line %d malformed: %q", n+1, line)
		}
		tag, who, round := f[0], f[1], f[2]
		switch tag {
		case "enter":
			if holder != "" {
				t.Fatalf("line %d: %s entered while %s held it (mutual exclusion broken)\n%s", n+1, who, holder, log)
			}
			holder = who + " " + round
		case "exit":
			if holder != who+" "+round {
				t.Fatalf("line %d: %s %s exited but the holder is %q\n%s", n+1, who, round, holder, log)
			}
			holder = ""
			done[who]++
		}
		if ts, err := strconv.ParseFloat(f[4], 64); err == nil && ts*1000 > float64(killedAt.UnixMilli()) && tag == "enter" {
			after++
		}
	}
	if holder != "" {
		t.Fatalf("%s never exited", holder)
	}
	if done["A"] != rounds || done["B"] != rounds {
		t.Fatalf("rounds completed: %v, want %d each", done, rounds)
	}
	if after < 2 {
		t.Fatalf("only %d entries after the leader was killed", after)
	}
	t.Logf("%d critical sections, %d after the kill, none overlapping", len(lines)/2, after)
}
