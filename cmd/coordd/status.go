package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// runStatus is `coordd status [zoo.cfg]`: like `zkServer.sh status`, it
// finds the client port in the config, asks the server srvr and prints its
// Mode line. Exit status 1 when the server does not answer.
func runStatus(args []string, stdout, stderr io.Writer) int {
	o := newOptions("coordd status", stderr)
	o.helpTo(args, stdout)
	pos, err := o.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "coordd status: want at most one zoo.cfg, got %q\n", pos)
		return 2
	}
	addr := o.clientAddr
	if len(pos) == 1 {
		fmt.Fprintf(stdout, "Using config: %s\n", pos[0])
		if !o.set["client-addr"] {
			zc, err := loadZooConfig(pos[0], o.props)
			if err != nil {
				fmt.Fprintf(stderr, "coordd status: %v\n", err)
				return 2
			}
			if addr, err = zc.statusAddr(); err != nil {
				fmt.Fprintf(stderr, "coordd status: %s: %v\n", pos[0], err)
				return 2
			}
		}
	}
	host, port, _ := net.SplitHostPort(addr)
	fmt.Fprintf(stdout, "Client port found: %s. Client address: %s. Client SSL: false.\n", port, host)
	mode, err := srvrMode(addr, 5*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "Error contacting service. It is probably not running. (%v)\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Mode: %s\n", mode)
	return 0
}

// statusAddr is where a local client reaches the server a zoo.cfg
// describes: clientPortAddress:clientPort (a wildcard address means
// loopback), else the client part of this server's server.N line.
func (zc *zooConfig) statusAddr() (string, error) {
	local := func(h string) string {
		if h == "" || h == "0.0.0.0" || h == "::" {
			return "127.0.0.1"
		}
		return h
	}
	if zc.ClientPort != 0 {
		return net.JoinHostPort(local(zc.ClientPortAddress), strconv.Itoa(zc.ClientPort)), nil
	}
	for _, s := range zc.Servers {
		if s.ID == zc.MyID && s.ClientAddr != "" {
			h, p, _ := net.SplitHostPort(s.ClientAddr)
			return net.JoinHostPort(local(h), p), nil
		}
	}
	return "", fmt.Errorf("clientPort is not set")
}

// srvrMode sends srvr and returns the value of its Mode line.
func srvrMode(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(c, 1<<20))
	if err != nil && len(b) == 0 {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "Mode: "); ok {
			return m, nil
		}
	}
	return "", fmt.Errorf("no Mode in the srvr answer %q", strings.TrimSpace(string(b)))
}
