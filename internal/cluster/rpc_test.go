package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

type tcp struct{}

func (tcp) Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
func (tcp) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// serveMux starts a Mux on loopback whose RPC connections are answered by
// handle, until the test ends.
func serveMux(t *testing.T, handle Handler) *Mux {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(l, tcp{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case c := <-m.RPCConns():
				wg.Add(1)
				go func() { defer wg.Done(); Serve(c, stop, handle) }()
			case <-m.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); m.Close(); wg.Wait() })
	return m
}

func TestRPCRoundTrip(t *testing.T) {
	server := serveMux(t, func(typ byte, payload []byte, respond func(byte, []byte)) {
		switch typ {
		case 1: // echo, answered later from another goroutine
			go respond(StatusOK, append([]byte("echo:"), payload...))
		default:
			respond(StatusFailed, []byte("unknown rpc"))
		}
	})
	client := serveMux(t, func(byte, []byte, func(byte, []byte)) {})
	pool := NewPool(client)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pool.Get(ctx, server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := pool.Get(ctx, server.Addr().String()); again != c {
		t.Fatal("the pool dialed a second connection to the same peer")
	}
	// Many requests in flight on one connection, answered in any order.
	const n = 100
	chans := make([]<-chan Result, n)
	for i := range chans {
		chans[i] = c.Send(1, binary.AppendUvarint(nil, uint64(i)))
	}
	for i, ch := range chans {
		r := <-ch
		want := append([]byte("echo:"), binary.AppendUvarint(nil, uint64(i))...)
		if r.Err != nil || r.Status != StatusOK || !bytes.Equal(r.Payload, want) {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	if r := <-c.Send(9, nil); r.Status != StatusFailed || string(r.Payload) != "unknown rpc" {
		t.Fatalf("unknown type: %+v", r)
	}
}

// A connection that fails answers every pending request, and a request on
// a failed client is reported as not sent (safe to send again).
func TestRPCFailure(t *testing.T) {
	hold := make(chan struct{})
	server := serveMux(t, func(typ byte, payload []byte, respond func(byte, []byte)) {
		go func() { <-hold; respond(StatusOK, nil) }()
	})
	defer close(hold)
	client := serveMux(t, func(byte, []byte, func(byte, []byte)) {})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := NewPool(client).Get(ctx, server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pending := c.Send(1, []byte("x"))
	gone := errors.New("gone")
	c.Fail(gone)
	if r := <-pending; !errors.Is(r.Err, gone) || r.NotSent {
		t.Fatalf("pending request after Fail: %+v", r)
	}
	if r := <-c.Send(1, nil); r.Err == nil || !r.NotSent {
		t.Fatalf("request on a failed client: %+v", r)
	}
	if c.Broken() == nil {
		t.Fatal("Broken after Fail: nil")
	}
}

// A frame larger than MaxFrame ends the connection instead of being read.
func TestRPCFrameBound(t *testing.T) {
	server := serveMux(t, func(typ byte, payload []byte, respond func(byte, []byte)) { respond(StatusOK, nil) })
	conn, err := net.Dial("tcp", server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hdr [1 + hdrLen]byte
	hdr[0] = KindRPC
	binary.BigEndian.PutUint32(hdr[1:5], MaxFrame+1)
	if _, err := conn.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := conn.Read(b[:]); err == nil {
		t.Fatal("the server answered an oversized frame")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept the connection open after an oversized frame")
	}
}

// The first byte routes a connection; an unknown one is closed.
func TestMuxRoutes(t *testing.T) {
	m := serveMux(t, func(typ byte, payload []byte, respond func(byte, []byte)) {})
	raft := m.Raft()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := m.Dial(ctx, m.Addr().String(), KindRaft)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		a, err := raft.Accept()
		if err == nil {
			accepted <- a
		}
	}()
	select {
	case a := <-accepted:
		a.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("a raft connection was not routed to raft's stream")
	}
	bad, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Write([]byte{'X'}); err != nil {
		t.Fatal(err)
	}
	_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := bad.Read(b[:]); err == nil {
		t.Fatal("a connection of an unknown kind was answered")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a connection of an unknown kind was kept open")
	}
}
