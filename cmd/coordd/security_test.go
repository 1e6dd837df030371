package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

// securityConfig loads a zoo.cfg of a 3-server ensemble plus extra lines.
func securityConfig(t *testing.T, extra string) (coord.Config, *zooConfig, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := "tickTime=2000\ndataDir=" + dir + "\nclientPort=2181\n" +
		"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n" +
		strings.ReplaceAll(extra, "$DIR", dir)
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	zc, err := loadZooConfig(path, nil)
	if err != nil {
		return coord.Config{}, nil, err
	}
	cfg, err := zc.coordConfig()
	return cfg.Config, zc, err
}

func TestQuorumSASLRefused(t *testing.T) {
	for _, k := range []string{"quorum.auth.enableSasl", "quorum.auth.learnerRequireSasl", "quorum.auth.serverRequireSasl"} {
		_, _, err := securityConfig(t, k+"=true\n")
		if err == nil || !strings.Contains(err.Error(), "quorum SASL") {
			t.Errorf("%s=true: %v", k, err)
		}
		if _, _, err := securityConfig(t, k+"=false\n"); err != nil {
			t.Errorf("%s=false: %v", k, err)
		}
	}
}

func TestClusterKeyFile(t *testing.T) {
	dir := t.TempDir()
	key := coord.NewClusterKey()
	kf := filepath.Join(dir, "cluster.key")
	if err := os.WriteFile(kf, []byte(coord.EncodeClusterKey(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, zc, err := securityConfig(t, "coord.clusterKeyFile="+kf+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cfg.ClusterKey, key) || len(zc.Warnings) != 0 {
		t.Fatalf("key %x, warnings %q", cfg.ClusterKey, zc.Warnings)
	}
	// Readable by others: a warning.
	_ = os.Chmod(kf, 0o644)
	if _, zc, _ := securityConfig(t, "coord.clusterKeyFile="+kf+"\n"); len(zc.Warnings) != 1 || !strings.Contains(zc.Warnings[0], "chmod 600") {
		t.Fatalf("warnings %q", zc.Warnings)
	}
	// Not a key.
	bad := filepath.Join(dir, "bad.key")
	_ = os.WriteFile(bad, []byte("c2hvcnQ=\n"), 0o600)
	if _, _, err := securityConfig(t, "coord.clusterKeyFile="+bad+"\n"); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Fatalf("short key: %v", err)
	}
	if _, _, err := securityConfig(t, "coord.clusterKeyFile="+kf+"\nsslQuorum=true\n"); err == nil {
		t.Fatal("key and sslQuorum both accepted")
	}
	// The flag overrides the file.
	o := newOptions("coordd", os.Stderr)
	if _, err := o.parse([]string{"-cluster-key-file", kf, "-peers", "1=127.0.0.1:7001,2=127.0.0.1:7002", "-id", "1", "-data-dir="}); err != nil {
		t.Fatal(err)
	}
	c, err := o.config("", discardLogger())
	if err != nil || !bytes.Equal(c.ClusterKey, key) {
		t.Fatalf("flag: %v %x", err, c.ClusterKey)
	}
}

func TestKeygen(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run(context.Background(), []string{"keygen"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	k, err := coord.ParseClusterKey(out.String())
	if err != nil || len(k) != 32 {
		t.Fatalf("%q: %v", out.String(), err)
	}
}

// writePEMs writes a CA (trust store) and a node certificate with its key
// (key store) as PEM files.
func writePEMs(t *testing.T, dir string) (keyStore, trustStore string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames:    []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafT, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	ks := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...)
	keyStore, trustStore = filepath.Join(dir, "node.pem"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(keyStore, ks, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trustStore, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyStore, trustStore
}

func TestSSLQuorum(t *testing.T) {
	dir := t.TempDir()
	ks, ts := writePEMs(t, dir)
	good := "sslQuorum=true\nssl.quorum.keyStore.location=" + ks + "\nssl.quorum.trustStore.location=" + ts + "\n"
	cfg, _, err := securityConfig(t, good+"ssl.quorum.keyStore.type=PEM\nssl.quorum.trustStore.type=PEM\n")
	if err != nil {
		t.Fatal(err)
	}
	tn, ok := cfg.Network.(coord.TLSNetwork)
	if !ok || len(tn.Config.Certificates) != 1 || tn.Config.ClientCAs == nil || tn.Config.InsecureSkipVerify {
		t.Fatalf("network %#v", cfg.Network)
	}
	// Types inferred from .pem; hostname verification off verifies the
	// chain only.
	cfg, _, err = securityConfig(t, good+"ssl.quorum.hostnameVerification=false\n")
	if err != nil {
		t.Fatal(err)
	}
	if tn := cfg.Network.(coord.TLSNetwork); !tn.Config.InsecureSkipVerify || tn.Config.VerifyConnection == nil {
		t.Fatal("hostnameVerification=false not honoured")
	}
	for name, extra := range map[string]string{
		"JKS":       good + "ssl.quorum.keyStore.type=JKS\n",
		"PKCS12":    good + "ssl.quorum.trustStore.type=PKCS12\n",
		"jks file":  "sslQuorum=true\nssl.quorum.keyStore.location=/x/keystore.jks\nssl.quorum.trustStore.location=" + ts + "\n",
		"password":  good + "ssl.quorum.keyStore.password=secret\n",
		"no stores": "sslQuorum=true\n",
		"bad pem":   "sslQuorum=true\nssl.quorum.keyStore.location=" + ts + "\nssl.quorum.trustStore.location=" + ts + "\n",
	} {
		if _, _, err := securityConfig(t, extra); err == nil || !strings.Contains(err.Error(), "sslQuorum") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// sslQuorum=false leaves the port as it was (the library warns).
	if cfg, _, err := securityConfig(t, "sslQuorum=false\n"); err != nil || cfg.Network != nil {
		t.Fatalf("%v %v", cfg.Network, err)
	}
}
