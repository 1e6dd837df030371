package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// KeySize is the size of a cluster key.
const KeySize = 32

// HandshakeTimeout bounds a keyed connection's TLS handshake, on both
// sides. (An accepted connection must also say what it carries within
// routeTimeout of being accepted: the Mux reads the routing byte, which
// drives the handshake, under that deadline.)
const HandshakeTimeout = 5 * time.Second

// Labels for HKDF: each use of the cluster key gets its own, so that no
// derived secret can stand in for another.
const (
	labelTLS    = "coord cluster key v1: ed25519 identity for mutual TLS 1.3"
	labelGossip = "coord cluster key v1: AES-256 key for memberlist gossip"
)

// KeyNetwork wraps a Network so that every connection is mutual TLS 1.3
// authenticated by a shared cluster key.
//
// Design. From each 32-byte cluster key K the wrapper derives, with
// HKDF-SHA256 (no salt, a label of its own), a 32-byte Ed25519 seed, hence a
// key pair that every holder of K computes alike and nobody without K can
// compute (HKDF is a PRF keyed by K; Ed25519's public key does not reveal
// its seed). It wraps the public key in a self-signed certificate. Every
// connection then runs TLS 1.3 from the standard library with
// certificates required on both sides (ClientAuth RequireAnyClientCert); no
// chain or name is checked, instead both sides verify in VerifyConnection
// that the peer's leaf certificate carries exactly the Ed25519 public key
// derived from one of the accepted keys.
//
// Why that is sound: in TLS 1.3 each side proves possession of its
// certificate's private key with a CertificateVerify signature over the
// handshake transcript, which contains both sides' fresh random values and
// ephemeral (EC)DHE shares. A peer therefore passes only if it holds the
// private key derived from an accepted cluster key (authentication, on
// both sides); a recorded handshake cannot be replayed, since the other
// side's randoms and shares differ every time (replay safety); and the
// signatures cover the very key exchange the session keys come from, so
// an attacker in the middle cannot splice an authenticated handshake onto
// keys of its own (binding). Traffic is then encrypted and authenticated
// with AEAD session keys, with forward secrecy. Nothing is hand-rolled but
// the derivation. The identity is shared by all members: the key admits a
// machine into the cluster, it does not tell members apart (as a shared
// Consul or Serf gossip key).
//
// Rotation: Accepted keys are accepted from peers but never presented.
// Roll every node to (Key=old, Accepted=[new]), then to (Key=new,
// Accepted=[old]), then to (Key=new): at every step each pair of nodes
// accepts what the other presents.
type KeyNetwork struct {
	base   Network
	config *tls.Config
}

// NewKeyNetwork returns base wrapped in TLS authenticated by key; accepted
// keys are accepted from peers too.
func NewKeyNetwork(base Network, key []byte, accepted [][]byte) (*KeyNetwork, error) {
	cert, pub, err := keyIdentity(key)
	if err != nil {
		return nil, err
	}
	pubs := []ed25519.PublicKey{pub}
	for _, k := range accepted {
		_, p, err := keyIdentity(k)
		if err != nil {
			return nil, fmt.Errorf("accepted key: %w", err)
		}
		pubs = append(pubs, p)
	}
	verify := func(cs tls.ConnectionState) error {
		if cs.Version != tls.VersionTLS13 {
			return errors.New("cluster: peer did not negotiate TLS 1.3")
		}
		if len(cs.PeerCertificates) != 1 {
			return errors.New("cluster: peer presented no cluster-key certificate")
		}
		got, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
		if !ok {
			return errors.New("cluster: peer's certificate is not from a cluster key")
		}
		for _, p := range pubs {
			if subtle.ConstantTimeCompare(got, p) == 1 {
				return nil
			}
		}
		return errors.New("cluster: peer holds another cluster key")
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		// The chain is not verified by the library (the certificate is
		// self-signed, and shared): VerifyConnection does the check that
		// matters, on both sides.
		InsecureSkipVerify: true,
		VerifyConnection:   verify,
		ServerName:         "coord-cluster",
		// Session tickets would let a resumed session skip the
		// certificate check; the cost of a full handshake is small.
		SessionTicketsDisabled: true,
	}
	return &KeyNetwork{base: base, config: cfg}, nil
}

// keyIdentity derives key's certificate and public key.
func keyIdentity(key []byte) (tls.Certificate, ed25519.PublicKey, error) {
	if len(key) != KeySize {
		return tls.Certificate{}, nil, fmt.Errorf("cluster key must be %d bytes, got %d", KeySize, len(key))
	}
	seed, err := hkdf.Key(sha256.New, key, nil, labelTLS, ed25519.SeedSize)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "coord cluster member"},
		NotBefore:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, pub, nil
}

// GossipKey derives the AES-256 key that encrypts gossip from a cluster
// key (HKDF-SHA256 with a label of its own).
func GossipKey(key []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("cluster key must be %d bytes, got %d", KeySize, len(key))
	}
	return hkdf.Key(sha256.New, key, nil, labelGossip, 32)
}

// Listen implements Network. The handshake runs on the accepted
// connection's first Read (for the Mux: under its routing deadline) or
// explicitly via (*tls.Conn).HandshakeContext.
func (k *KeyNetwork) Listen(addr string) (net.Listener, error) {
	l, err := k.base.Listen(addr)
	if err != nil {
		return nil, err
	}
	return keyListener{l, k.config}, nil
}

type keyListener struct {
	net.Listener
	config *tls.Config
}

func (l keyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(c, l.config), nil
}

// Dial implements Network: it returns once the handshake completed, within
// HandshakeTimeout.
func (k *KeyNetwork) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := k.base.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	tc := tls.Client(c, k.config)
	if err := tc.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("cluster handshake with %s: %w", addr, err)
	}
	return tc, nil
}
