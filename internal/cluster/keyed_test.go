package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

type tcpNet struct{}

func (tcpNet) Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
func (tcpNet) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func keyNet(t *testing.T, key []byte, accepted ...[]byte) *KeyNetwork {
	t.Helper()
	k, err := NewKeyNetwork(tcpNet{}, key, accepted)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// startMux listens with n and echoes what RPC connections send.
func startMux(t *testing.T, n Network) *Mux {
	t.Helper()
	l, err := n.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(l, n)
	t.Cleanup(func() { m.Close() })
	go func() {
		for c := range m.RPCConns() {
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return m
}

func echo(t *testing.T, dialer *Mux, addr string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialer.Dial(ctx, addr, KindRPC)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	var b [4]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if string(b[:]) != "ping" {
		t.Fatalf("echo %q", b)
	}
	return nil
}

func TestKeyNetworkSameKey(t *testing.T) {
	a := startMux(t, keyNet(t, testKey(1)))
	b := startMux(t, keyNet(t, testKey(1)))
	if err := echo(t, b, a.Addr().String()); err != nil {
		t.Fatal(err)
	}
}

func TestKeyNetworkWrongKeyRefused(t *testing.T) {
	a := startMux(t, keyNet(t, testKey(1)))
	b := startMux(t, keyNet(t, testKey(2)))
	if err := echo(t, b, a.Addr().String()); err == nil {
		t.Fatal("a node with another key got through")
	}
	// A wrong key accepted as "accepted" on one side only: the other side
	// still refuses.
	c := startMux(t, keyNet(t, testKey(2), testKey(1)))
	if err := echo(t, c, a.Addr().String()); err == nil {
		t.Fatal("a's peer presented key 2, which a does not accept")
	}
}

// Rotation: (old, accepted new) and (new, accepted old) talk both ways.
func TestKeyNetworkRotation(t *testing.T) {
	oldK, newK := testKey(1), testKey(2)
	a := startMux(t, keyNet(t, oldK, newK))
	b := startMux(t, keyNet(t, newK, oldK))
	if err := echo(t, b, a.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if err := echo(t, a, b.Addr().String()); err != nil {
		t.Fatal(err)
	}
	c := startMux(t, keyNet(t, newK))
	if err := echo(t, c, b.Addr().String()); err != nil {
		t.Fatal(err)
	}
}

// An outsider speaking plaintext, or TLS with a certificate of its own,
// gets nothing routed and its connection closed.
func TestKeyNetworkPlaintextAndForeignTLSRefused(t *testing.T) {
	m := startMux(t, keyNet(t, testKey(1)))
	addr := m.Addr().String()

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte{KindRPC, 'p', 'i', 'n', 'g'})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("plaintext: the node should close the connection, got %v", err)
	}

	// TLS with a key of the outsider's own (no certificate, then a
	// self-made one).
	for _, certs := range [][]tls.Certificate{nil, {mustCert(t, testKey(9))}} {
		tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: certs, MinVersion: tls.VersionTLS13})
		if err == nil {
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = tc.Write([]byte{KindRPC, 'p', 'i', 'n', 'g'})
			var b [1]byte
			_, err = tc.Read(b[:])
			tc.Close()
		}
		if err == nil {
			t.Fatal("foreign TLS client got an answer")
		}
	}
}

func mustCert(t *testing.T, key []byte) tls.Certificate {
	c, _, err := keyIdentity(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A connection that sends nothing (not even a handshake), or only the
// first bytes of one, is closed within the routing deadline.
func TestSilentConnectionClosed(t *testing.T) {
	var wg sync.WaitGroup
	for _, n := range []Network{tcpNet{}, keyNet(t, testKey(1))} {
		m := startMux(t, n)
		for _, prefix := range [][]byte{nil, {0x16, 0x03, 0x01}} {
			c, err := net.Dial("tcp", m.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				start := time.Now()
				if prefix != nil {
					_, _ = c.Write(prefix)
				}
				_ = c.SetReadDeadline(time.Now().Add(3 * routeTimeout))
				_, _ = io.Copy(io.Discard, c)
				if took := time.Since(start); took > routeTimeout+2*time.Second {
					t.Errorf("%T: silent connection open for %v", n, took)
				}
			}()
		}
	}
	// A member that completes the handshake but never says what it
	// carries is closed too.
	kn := keyNet(t, testKey(1))
	m := startMux(t, kn)
	start := time.Now()
	c, err := kn.Dial(context.Background(), m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * routeTimeout))
	_, _ = io.Copy(io.Discard, c)
	if took := time.Since(start); took > routeTimeout+2*time.Second {
		t.Errorf("handshaken silent connection open for %v", took)
	}
	wg.Wait()
}

func TestKeyNetworkBadKeySize(t *testing.T) {
	if _, err := NewKeyNetwork(tcpNet{}, []byte("short"), nil); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := GossipKey(testKey(1)[:16]); err == nil {
		t.Fatal("short key accepted")
	}
	g1, _ := GossipKey(testKey(1))
	c, _, _ := keyIdentity(testKey(1))
	if len(g1) != 32 || bytes.Contains(c.Certificate[0], g1) {
		t.Fatal("gossip key")
	}
}
