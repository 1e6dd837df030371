package coord_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// tlsConfig returns a mutual-TLS config for a node whose certificate this
// CA signs, trusting peers signed by trust.
func (ca *testCA) tlsConfig(t *testing.T, trust *testCA) *tls.Config {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      trust.pool, ClientCAs: trust.pool,
		ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS13,
	}
}

func TestMutualTLSCluster(t *testing.T) {
	ca := newCA(t, "coord-test-ca")
	peers := make([]coord.Peer, 3)
	nodes := coord.OpenTCPCluster(t, 3, "t", func(i int, cfg *coord.Config) {
		peers[i] = coord.Peer{ID: cfg.NodeID, Addr: cfg.BindAddr}
		cfg.ElectionTimeout = 150 * time.Millisecond
		cfg.Network = coord.TLSNetwork{Config: ca.tlsConfig(t, ca)}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := nodes[1].NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/over-tls", nil, coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}

	// Outsiders cannot talk to the cluster port: without a certificate,
	// with one from another CA, or in plain TCP.
	rogue := newCA(t, "rogue-ca")
	for _, tc := range []struct {
		name string
		dial func() error
	}{
		{"no client certificate", func() error {
			c, err := tls.Dial("tcp", peers[0].Addr, &tls.Config{RootCAs: ca.pool})
			if err != nil {
				return err
			}
			defer c.Close()
			// TLS 1.3 reports a missing client certificate on first read.
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte{'C'})
			_, err = c.Read(make([]byte, 1))
			return err
		}},
		{"certificate from another CA", func() error {
			c, err := tls.Dial("tcp", peers[0].Addr, rogue.tlsConfig(t, ca))
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte{'C'})
			_, err = c.Read(make([]byte, 1))
			return err
		}},
		{"a node with a rogue certificate", func() error {
			octx, ocancel := context.WithTimeout(context.Background(), time.Second)
			defer ocancel()
			rp := append(append([]coord.Peer(nil), peers...), coord.Peer{ID: "rogue", Addr: freePort(t)})
			n, err := coord.Open(octx, coord.Config{
				NodeID: "rogue", BindAddr: rp[3].Addr, Peers: rp,
				ElectionTimeout: 150 * time.Millisecond,
				Network:         coord.TLSNetwork{Config: rogue.tlsConfig(t, rogue)},
			})
			if err == nil {
				n.Abort()
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.dial(); err == nil {
				t.Fatal("the cluster port accepted an outsider")
			}
		})
	}
	// The ensemble is unaffected.
	if _, err := s.Create(ctx, "/still-fine", nil, coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
}
