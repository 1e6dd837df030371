package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// startCoord runs a coord node with its wire server on a free loopback
// port and returns the address.
func startCoord(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := coord.Open(ctx, coord.Config{
		TickTime:               100 * time.Millisecond,
		ContainerCheckInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := zkserver.Listen("127.0.0.1:0", n, zkserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Close()
		n.Close(ctx)
	})
	return srv.Addr().String()
}

// lockedBuffer lets stdout and stderr share one buffer, so a test sees
// them interleaved as a terminal would.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tee writes to the combined buffer and to its own.
type tee struct {
	all *lockedBuffer
	own bytes.Buffer
}

func (w *tee) Write(p []byte) (int, error) {
	w.own.Write(p)
	return w.all.Write(p)
}

type result struct {
	stdout, stderr, all string
	code                int
}

// runCtl runs coordctl in-process with the given arguments and input.
func runCtl(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	all := &lockedBuffer{}
	out, errw := &tee{all: all}, &tee{all: all}
	done := make(chan int, 1)
	go func() { done <- run(args, strings.NewReader(stdin), out, errw) }()
	select {
	case code := <-done:
		return result{stdout: out.own.String(), stderr: errw.own.String(), all: all.String(), code: code}
	case <-time.After(30 * time.Second):
		t.Fatalf("coordctl %q did not finish; output so far:\n%s", args, all.String())
	}
	return result{}
}

var (
	reTime  = regexp.MustCompile(`(?m)\b([cm]time) = .*$`)
	reZxid  = regexp.MustCompile(`(?m)\b([cmp]Zxid) = 0x[0-9a-f]+$`)
	reOwner = regexp.MustCompile(`(?m)\bephemeralOwner = 0x[0-9a-f]{5,}$`)
)

// normalize hides what differs from run to run: times, zxids, session ids
// and the server address.
func normalize(s, addr string) string {
	s = strings.ReplaceAll(s, addr, "ADDR")
	s = reTime.ReplaceAllString(s, "$1 = T")
	s = reZxid.ReplaceAllString(s, "$1 = 0xZ")
	s = reOwner.ReplaceAllString(s, "ephemeralOwner = 0xSESSION")
	return s
}
