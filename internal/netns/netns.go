// Package netns builds throwaway network labs for multi-process tests: a
// hub network namespace holding a bridge, and one namespace per node
// joined to that bridge by a veth pair, with addresses in 10.231.0.0/24
// that exist only inside these namespaces. Nothing is added to the
// caller's own namespace and nothing is routed anywhere else: the lab is a
// closed L2 segment. Programs run inside a node's namespace through
// "ip netns exec" (Command); the test itself reaches them through Dial,
// whose sockets live in the hub namespace (the test's other sockets stay
// where they were).
//
// Isolate drops every packet between one node and the other nodes (with
// nftables when nft is installed, else with blackhole routes) while the
// hub, where the clients are, still reaches it; Heal undoes that.
//
// It needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root) and the ip command
// (iproute2); Available says whether they are there.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Prefix starts the name of every namespace a Lab creates:
// Prefix-<pid>-<lab>-<role>. New deletes those whose process is gone.
const Prefix = "coordpart"

// HubAddr is the hub's address (the bridge's), the source of Dial's
// connections.
const HubAddr = "10.231.0.1"

// NodeAddr is node i's address (i from 0).
func NodeAddr(i int) string { return fmt.Sprintf("10.231.0.%d", 11+i) }

// Lab is a set of namespaces; see the package comment.
type Lab struct {
	Hub   string   // the hub namespace's name
	Nodes []string // node i's namespace name
	Addrs []string // node i's address

	nft   bool // cut with nftables, else blackhole routes
	hubFD *os.File

	mu       sync.Mutex
	isolated map[int]bool
	closed   bool
}

var labSeq struct {
	sync.Mutex
	n int
}

// Available reports why labs cannot be built here (nil when they can):
// no ip command, an architecture without a known setns number, or no
// privilege to create a namespace (it tries one).
func Available() error {
	if runtime.GOOS != "linux" {
		return errors.New("network namespaces need Linux")
	}
	if _, ok := setnsTrap[runtime.GOARCH]; !ok {
		return fmt.Errorf("no setns system call number known for %s", runtime.GOARCH)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("no ip command (Debian package iproute2): %v", err)
	}
	name := fmt.Sprintf("%s-%d-probe", Prefix, os.Getpid())
	if err := ip("netns", "add", name); err != nil {
		return fmt.Errorf("cannot create a network namespace (needs root: CAP_SYS_ADMIN, CAP_NET_ADMIN): %v", err)
	}
	if err := ip("netns", "del", name); err != nil {
		return err
	}
	return nil
}

// HaveNft reports whether Isolate uses nftables (else blackhole routes).
func HaveNft() bool {
	_, err := exec.LookPath("nft")
	return err == nil
}

// New builds a lab of n nodes (n ≤ 50). Close it when done; it is also
// safe to Close a lab New failed half-way through building (New does).
func New(n int) (*Lab, error) {
	if n < 1 || n > 50 {
		return nil, fmt.Errorf("netns.New: %d nodes", n)
	}
	sweepStale()
	labSeq.Lock()
	labSeq.n++
	seq := labSeq.n
	labSeq.Unlock()
	base := fmt.Sprintf("%s-%d-%d", Prefix, os.Getpid(), seq)
	l := &Lab{Hub: base + "-hub", nft: HaveNft(), isolated: map[int]bool{}}
	for i := range n {
		l.Nodes = append(l.Nodes, fmt.Sprintf("%s-n%d", base, i+1))
		l.Addrs = append(l.Addrs, NodeAddr(i))
	}
	if err := l.build(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lab) build() error {
	steps := [][]string{
		{"netns", "add", l.Hub},
		{"-n", l.Hub, "link", "set", "lo", "up"},
		{"-n", l.Hub, "link", "add", "br0", "type", "bridge"},
		{"-n", l.Hub, "addr", "add", HubAddr + "/24", "dev", "br0"},
		{"-n", l.Hub, "link", "set", "br0", "up"},
	}
	for i, ns := range l.Nodes {
		v := fmt.Sprintf("v%d", i+1)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", l.Hub, "link", "add", v, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"-n", l.Hub, "link", "set", v, "master", "br0", "up"},
			[]string{"-n", ns, "addr", "add", l.Addrs[i] + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
		)
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	fd, err := os.Open(filepath.Join("/run/netns", l.Hub))
	if err != nil {
		return err
	}
	l.hubFD = fd
	// The links come up asynchronously: wait until the hub reaches a
	// closed port on every node (a refusal means the path works).
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range l.Addrs {
		for {
			c, err := l.Dial("tcp", net.JoinHostPort(a, "9"), 200*time.Millisecond)
			if c != nil {
				c.Close()
			}
			if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("lab: %s unreachable from the hub: %v", a, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// CutTool names what Isolate uses: "nftables" or "blackhole routes".
func (l *Lab) CutTool() string {
	if l.nft {
		return "nftables"
	}
	return "blackhole routes"
}

// Command returns a command that runs name with args in node i's
// namespace (through ip netns exec, which execs it: the process is name's).
func (l *Lab) Command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.Nodes[i], name}, args...)...)
}

// Dial connects from the hub namespace. Its signature is go-zookeeper's
// zk.Dialer (and net.DialTimeout's).
func (l *Lab) Dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	l.mu.Lock()
	fd := l.hubFD
	closed := l.closed
	l.mu.Unlock()
	if closed || fd == nil {
		return nil, errors.New("netns: lab closed")
	}
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The socket takes the namespace of the thread that creates it and
		// keeps it. This goroutine owns its thread until the thread is back
		// in its own namespace; if that fails the thread is not reused (the
		// goroutine exits locked, which ends the thread).
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer self.Close()
		if err := setns(int(fd.Fd())); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("setns %s: %w", l.Hub, err)}
			return
		}
		c, err := net.DialTimeout(network, addr, timeout)
		if rerr := setns(int(self.Fd())); rerr != nil {
			ch <- result{c, err}
			return // stay locked: the thread dies with the goroutine
		}
		runtime.UnlockOSThread()
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// Isolate drops all traffic between node i and the other nodes, both
// ways; the hub still reaches node i. Heal(i) undoes it.
func (l *Lab) Isolate(i int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isolated[i] {
		return nil
	}
	var peers []string
	for j, a := range l.Addrs {
		if j != i {
			peers = append(peers, a)
		}
	}
	if l.nft {
		set := strings.Join(peers, ", ")
		rules := fmt.Sprintf("table inet coordcut {\n"+
			"\tchain in { type filter hook input priority 0; policy accept; ip saddr { %s } drop; }\n"+
			"\tchain out { type filter hook output priority 0; policy accept; ip daddr { %s } drop; }\n}\n", set, set)
		cmd := exec.Command("ip", "netns", "exec", l.Nodes[i], "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft in %s: %v: %s", l.Nodes[i], err, out)
		}
	} else {
		for j, a := range l.Addrs {
			if j == i {
				continue
			}
			if err := ip("-n", l.Nodes[i], "route", "add", "blackhole", a+"/32"); err != nil {
				return err
			}
			if err := ip("-n", l.Nodes[j], "route", "add", "blackhole", l.Addrs[i]+"/32"); err != nil {
				return err
			}
		}
	}
	l.isolated[i] = true
	return nil
}

// Heal undoes Isolate(i).
func (l *Lab) Heal(i int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.isolated[i] {
		return nil
	}
	if l.nft {
		if err := ipNetnsExec(l.Nodes[i], "nft", "delete", "table", "inet", "coordcut"); err != nil {
			return err
		}
	} else {
		for j, a := range l.Addrs {
			if j == i {
				continue
			}
			if err := ip("-n", l.Nodes[i], "route", "del", "blackhole", a+"/32"); err != nil {
				return err
			}
			if err := ip("-n", l.Nodes[j], "route", "del", "blackhole", l.Addrs[i]+"/32"); err != nil {
				return err
			}
		}
	}
	delete(l.isolated, i)
	return nil
}

// Close deletes the lab's namespaces (with their links and rules). Stop
// the processes running in them first: a namespace with processes in it
// outlives its name. It may be called more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	if l.hubFD != nil {
		l.hubFD.Close()
		l.hubFD = nil
	}
	l.mu.Unlock()
	var errs []error
	for _, ns := range append(append([]string(nil), l.Nodes...), l.Hub) {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		if err := ip("netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sweepStale deletes namespaces left by labs of processes that are gone
// (a test binary killed before its cleanup ran).
func sweepStale() {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), Prefix+"-")
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // its owner still runs
		}
		_ = ip("netns", "del", e.Name())
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func ipNetnsExec(ns string, args ...string) error {
	return ip(append([]string{"netns", "exec", ns}, args...)...)
}

// setnsTrap is setns(2)'s number per GOARCH (the syscall package has no
// constant for it).
var setnsTrap = map[string]uintptr{
	"amd64":   308,
	"arm64":   268,
	"riscv64": 268,
	"loong64": 268,
	"386":     346,
	"arm":     375,
	"ppc64le": 350,
	"s390x":   339,
}

func setns(fd int) error {
	trap, ok := setnsTrap[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: unknown on %s", runtime.GOARCH)
	}
	if _, _, e := syscall.RawSyscall(trap, uintptr(fd), syscall.CLONE_NEWNET, 0); e != 0 {
		return e
	}
	return nil
}
