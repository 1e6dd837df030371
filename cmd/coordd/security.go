package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coordkit/coord"
)

// Cluster security in zoo.cfg.
//
//   - coord.clusterKeyFile=<file> (or -cluster-key-file): a file holding a
//     base64 cluster key (coordd keygen prints one). It authenticates and
//     encrypts the cluster port (and gossip): see coord.Config.ClusterKey.
//   - sslQuorum=true is honoured: the cluster port runs mutual TLS with
//     ZooKeeper's quorum TLS keys, PEM only:
//     ssl.quorum.keyStore.location (certificate chain and unencrypted
//     private key), ssl.quorum.trustStore.location (CA certificates),
//     ssl.quorum.keyStore.type / ssl.quorum.trustStore.type (PEM, or
//     unset with a .pem file) and ssl.quorum.hostnameVerification.
//   - ZooKeeper's quorum SASL (quorum.auth.enableSasl,
//     quorum.auth.learnerRequireSasl, quorum.auth.serverRequireSasl set to
//     true) is refused: coordd cannot honour it and will not run with a
//     cluster port less protected than the file asks for.

// quorumSecurity is what zoo.cfg says about securing the cluster port.
type quorumSecurity struct {
	ClusterKeyFile string

	SSLQuorum            bool
	KeyStore             string
	KeyStoreType         string
	KeyStorePassword     string
	TrustStore           string
	TrustStoreType       string
	TrustStorePassword   string
	HostnameVerification bool
}

// quorumSASLKeys are ZooKeeper's quorum SASL switches coordd refuses.
var quorumSASLKeys = map[string]bool{
	"quorum.auth.enableSasl":         true,
	"quorum.auth.learnerRequireSasl": true,
	"quorum.auth.serverRequireSasl":  true,
}

// isQuorumSecurityKey reports whether setQuorumSecurity handles k.
func isQuorumSecurityKey(k string) bool {
	return k == "coord.clusterKeyFile" || k == "sslQuorum" || k == "sslQuorumReloadCertFiles" ||
		strings.HasPrefix(k, "quorum.auth.") || strings.HasPrefix(k, "ssl.quorum.")
}

// setQuorumSecurity records one security key; where says where it was set.
func (zc *zooConfig) setQuorumSecurity(k, v, where string) error {
	q := &zc.Quorum
	var err error
	switch {
	case k == "coord.clusterKeyFile":
		q.ClusterKeyFile = v
	case k == "sslQuorum":
		q.SSLQuorum, err = strconv.ParseBool(v)
	case k == "sslQuorumReloadCertFiles":
		zc.Infos = append(zc.Infos, fmt.Sprintf("%s: %s ignored: certificates are read at start", where, k))
	case quorumSASLKeys[k]:
		on, perr := strconv.ParseBool(v)
		if perr != nil {
			return perr
		}
		if on {
			return fmt.Errorf("coordd does not support ZooKeeper's quorum SASL and will not run the cluster port without the authentication it asks for: secure the cluster port with coord.clusterKeyFile (coordd keygen makes a key) or sslQuorum=true, and remove %s", k)
		}
	case strings.HasPrefix(k, "quorum.auth."):
		zc.Infos = append(zc.Infos, fmt.Sprintf("%s: %s ignored: coordd has no quorum SASL", where, k))
	case k == "ssl.quorum.keyStore.location":
		q.KeyStore = v
	case k == "ssl.quorum.keyStore.type":
		q.KeyStoreType = v
	case k == "ssl.quorum.keyStore.password":
		q.KeyStorePassword = v
	case k == "ssl.quorum.trustStore.location":
		q.TrustStore = v
	case k == "ssl.quorum.trustStore.type":
		q.TrustStoreType = v
	case k == "ssl.quorum.trustStore.password":
		q.TrustStorePassword = v
	case k == "ssl.quorum.hostnameVerification":
		q.HostnameVerification, err = strconv.ParseBool(v)
	default:
		zc.Warnings = append(zc.Warnings, fmt.Sprintf("%s: %s ignored: coordd's quorum TLS is TLS 1.2+ with Go's defaults", where, k))
	}
	return err
}

// applyQuorumSecurity sets cfg's cluster key or TLS network.
func (zc *zooConfig) applyQuorumSecurity(cfg *coord.Config) error {
	q := zc.Quorum
	if q.ClusterKeyFile != "" {
		if q.SSLQuorum {
			return errors.New("coord.clusterKeyFile and sslQuorum=true both secure the cluster port: choose one")
		}
		key, warn, err := readClusterKeyFile(q.ClusterKeyFile)
		if err != nil {
			return err
		}
		if warn != "" {
			zc.Warnings = append(zc.Warnings, warn)
		}
		cfg.ClusterKey = key
		return nil
	}
	if !q.SSLQuorum {
		return nil
	}
	tc, err := q.tlsConfig()
	if err != nil {
		return fmt.Errorf("sslQuorum=true: %w", err)
	}
	cfg.Network = coord.TLSNetwork{Config: tc}
	return nil
}

// readClusterKeyFile reads a base64 cluster key; warn is set when others
// may read the file.
func readClusterKeyFile(path string) (key []byte, warn string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("coord.clusterKeyFile: %w", err)
	}
	key, err = coord.ParseClusterKey(string(b))
	if err != nil {
		return nil, "", fmt.Errorf("coord.clusterKeyFile %s: %w (coordd keygen prints a key)", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		warn = fmt.Sprintf("coord.clusterKeyFile %s is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	return key, warn, nil
}

// storeIsPEM reports whether a store of the given type and location is
// PEM: the type says so, or is unset (ZooKeeper then goes by the file
// name) and the file name ends in .pem.
func storeIsPEM(typ, location string) bool {
	if typ != "" {
		return strings.EqualFold(typ, "PEM")
	}
	return strings.EqualFold(filepath.Ext(location), ".pem")
}

func (q quorumSecurity) tlsConfig() (*tls.Config, error) {
	if q.KeyStore == "" || q.TrustStore == "" {
		return nil, errors.New("ssl.quorum.keyStore.location and ssl.quorum.trustStore.location must be set")
	}
	for _, s := range []struct{ name, typ, loc string }{
		{"ssl.quorum.keyStore", q.KeyStoreType, q.KeyStore},
		{"ssl.quorum.trustStore", q.TrustStoreType, q.TrustStore},
	} {
		if !storeIsPEM(s.typ, s.loc) {
			typ := s.typ
			if typ == "" {
				typ = "inferred from " + filepath.Base(s.loc)
			}
			return nil, fmt.Errorf("%s.type (%s): coordd reads PEM stores only; convert the store to PEM (e.g. keytool -importkeystore to PKCS12, then openssl pkcs12 -nodes) and set %s.type=PEM", s.name, typ, s.name)
		}
	}
	if q.KeyStorePassword != "" {
		return nil, errors.New("ssl.quorum.keyStore.password: coordd reads unencrypted PEM private keys only (openssl pkey -in key.pem -out plain.pem)")
	}
	ks, err := os.ReadFile(q.KeyStore)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(ks, ks)
	if err != nil {
		return nil, fmt.Errorf("ssl.quorum.keyStore.location %s: want a PEM certificate chain and private key: %w", q.KeyStore, err)
	}
	ts, err := os.ReadFile(q.TrustStore)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ts) {
		return nil, fmt.Errorf("ssl.quorum.trustStore.location %s: no PEM certificate", q.TrustStore)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	if !q.HostnameVerification {
		// Verify the chain, not the name (ZooKeeper's
		// ssl.quorum.hostnameVerification=false).
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("peer presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			return err
		}
	}
	return tc, nil
}
