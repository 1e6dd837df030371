package coord

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/coordkit/coord/internal/cluster"
)

// Cluster security.
//
// With Config.ClusterKey set, every connection between nodes (raft and the
// cluster RPC, which share one port) is mutual TLS 1.3 that only holders
// of the key can complete, and gossip is encrypted and authenticated with
// memberlist's AES-GCM under a key derived from it:
//
//   - From the key K, HKDF-SHA256 with one label derives an Ed25519 seed;
//     every member computes the same key pair and a self-signed
//     certificate for it. Both sides of every connection present that
//     certificate and check (VerifyConnection) that the peer's carries the
//     public key derived from an accepted key. TLS 1.3's CertificateVerify
//     signs the handshake transcript (both sides' fresh randoms and
//     ephemeral key shares), so passing proves possession of the derived
//     private key now, in this handshake: it is mutual, cannot be replayed
//     and is bound to the session keys. Without K the private key cannot
//     be computed, so nobody without K completes a handshake. Everything
//     but the derivation is the standard library's TLS 1.3.
//   - HKDF-SHA256 with another label derives memberlist's AES-256 key, so
//     without K gossip can neither be read nor joined; AcceptedClusterKeys
//     become memberlist's extra keyring keys.
//   - A connection must finish its handshake and say what it carries
//     within 5 seconds of being accepted, else it is closed.
//
// Rotation, one node at a time each step: (Key=old, Accepted=[new]), then
// (Key=new, Accepted=[old]), then (Key=new).
//
// Without a key or TLSNetwork, a multi-node Node logs at every start that
// its cluster port is unauthenticated: anybody who can reach it can take
// part in raft and forge cluster RPCs.
//
// Among members, raft's RPCs are checked too (package raftfsm): terms that
// could wrap, snapshots without a configuration or larger than
// MaxSnapshotSize are refused before raft sees them.

// ClusterKeySize is the size of a cluster key.
const ClusterKeySize = cluster.KeySize

// NewClusterKey returns a new random cluster key.
func NewClusterKey() []byte {
	k := make([]byte, ClusterKeySize)
	_, _ = rand.Read(k)
	return k
}

// EncodeClusterKey returns key in the text form ParseClusterKey reads
// (standard base64, as Consul's and Serf's gossip keys).
func EncodeClusterKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// ParseClusterKey reads a base64 cluster key (surrounding white space is
// ignored).
func ParseClusterKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("coord: cluster key is not base64: %w", err)
	}
	if len(k) != ClusterKeySize {
		return nil, fmt.Errorf("coord: cluster key must be %d bytes, got %d", ClusterKeySize, len(k))
	}
	return k, nil
}

func (c *Config) validateClusterKey() error {
	if c.MaxSnapshotSize < 0 {
		return fmt.Errorf("coord: negative MaxSnapshotSize")
	}
	if c.ClusterKey == nil {
		if len(c.AcceptedClusterKeys) > 0 {
			return fmt.Errorf("coord: AcceptedClusterKeys needs ClusterKey")
		}
		return nil
	}
	for _, k := range append([][]byte{c.ClusterKey}, c.AcceptedClusterKeys...) {
		if len(k) != ClusterKeySize {
			return fmt.Errorf("coord: cluster keys must be %d bytes, got %d", ClusterKeySize, len(k))
		}
	}
	switch c.Network.(type) {
	case TLSNetwork, *TLSNetwork:
		return fmt.Errorf("coord: ClusterKey and TLSNetwork both secure the cluster port: choose one")
	}
	if len(c.Gossip.Key) > 0 {
		return fmt.Errorf("coord: ClusterKey also keys gossip: leave Gossip.Key empty")
	}
	return nil
}

// secureCluster wraps the cluster network in the cluster key, or warns
// that the cluster port is open to anybody.
func (n *Node) secureCluster() error {
	cfg := &n.cfg
	if cfg.ClusterKey != nil {
		kn, err := cluster.NewKeyNetwork(cfg.Network, cfg.ClusterKey, cfg.AcceptedClusterKeys)
		if err != nil {
			return fmt.Errorf("coord: %w", err)
		}
		cfg.Network = kn
		return nil
	}
	if !cfg.multiNode() {
		return nil
	}
	switch cfg.Network.(type) {
	case TLSNetwork, *TLSNetwork:
	default:
		n.log.Warn("cluster port is UNAUTHENTICATED: anybody who can reach it can take part in raft and forge cluster requests (take over the ensemble, read and write every znode); set Config.ClusterKey (coordd: coord.clusterKeyFile) or use TLSNetwork",
			"addr", cfg.BindAddr)
	}
	if cfg.Gossip.Addr != "" && len(cfg.Gossip.Key) == 0 {
		n.log.Warn("gossip is UNENCRYPTED: anybody who can reach it can join the cluster and be made a member; set Config.ClusterKey",
			"addr", cfg.Gossip.Addr)
	}
	return nil
}

// gossipKeys returns memberlist's primary key and its other accepted keys.
func (n *Node) gossipKeys() ([]byte, [][]byte, error) {
	if n.cfg.ClusterKey == nil {
		return n.cfg.Gossip.Key, nil, nil
	}
	primary, err := cluster.GossipKey(n.cfg.ClusterKey)
	if err != nil {
		return nil, nil, err
	}
	var others [][]byte
	for _, k := range n.cfg.AcceptedClusterKeys {
		g, err := cluster.GossipKey(k)
		if err != nil {
			return nil, nil, err
		}
		others = append(others, g)
	}
	return primary, others, nil
}
