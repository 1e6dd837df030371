package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord/internal/testcerts"
)

// certFiles writes a CA (ca.crt), a server key store (server.pem) and
// client certificates for alice and bob into dir.
type certFiles struct {
	ca         *testcerts.CA
	alice, bob *testcerts.Cert
	dir        string
}

func writeCerts(t *testing.T) *certFiles {
	t.Helper()
	dir := t.TempDir()
	ca, err := testcerts.NewCA("coordd test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := srv.WriteFiles(dir, "server"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &certFiles{ca: ca, dir: dir}
	if f.alice, err = ca.Client(pkix.Name{CommonName: "alice"}); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = ca.Client(pkix.Name{CommonName: "bob"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestClientPortConfig(t *testing.T) {
	f := writeCerts(t)
	enc := filepath.Join(f.dir, "enc.pem")
	os.WriteFile(enc, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
	base := "tickTime=2000\ndataDir=$DIR\nclientPort=2181\nsecureClientPort=2281\n" +
		"ssl.keyStore.location=$CERTS/server.pem\nssl.trustStore.location=$CERTS/ca.crt\n" +
		"authProvider.x509=" + x509ProviderClass + "\n"
	tests := []struct {
		name    string
		cfg     string
		props   []string
		check   func(t *testing.T, c daemonConfig, zc *zooConfig)
		wantErr string
	}{
		{
			name: "secure port, need by default",
			cfg:  base + "secureClientPortAddress=127.0.0.1\nzookeeper.X509AuthenticationProvider.superUser=CN=root\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.SecureClientAddr != "127.0.0.1:2281" || c.clientPortSettings.TLS == nil ||
					c.clientPortSettings.TLS.ClientAuth != tls.RequireAndVerifyClientCert || c.clientPortSettings.TLS.ClientCAs == nil ||
					c.clientPortSettings.TLS.MinVersion != tls.VersionTLS12 || c.clientPortSettings.TLS.MaxVersion != tls.VersionTLS13 {
					t.Fatalf("got %+v", c.clientPortSettings)
				}
				w := c.secureWire()
				if w.TLS == nil || w.X509SuperUser != "CN=root" || c.wire().TLS != nil {
					t.Fatalf("wire configs: %+v / %+v", w, c.wire())
				}
			},
		},
		{
			name: "want, none, TLSv1.2 with suites",
			cfg: base + "ssl.clientAuth=want\nssl.enabledProtocols=TLSv1.2\n" +
				"ssl.ciphersuites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				tc := c.clientPortSettings.TLS
				if tc.ClientAuth != tls.VerifyClientCertIfGiven || tc.MaxVersion != tls.VersionTLS12 || len(tc.CipherSuites) != 2 {
					t.Fatalf("got %+v", tc)
				}
			},
		},
		{
			name: "secure port only, clientAuth none without the x509 provider",
			cfg: "tickTime=2000\ndataDir=$DIR\nsecureClientPort=2281\nssl.keyStore.location=$CERTS/server.pem\n" +
				"ssl.keyStore.type=PEM\nssl.clientAuth=none\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.ClientAddr != "" || c.SecureClientAddr != ":2281" || c.clientPortSettings.TLS.ClientAuth != tls.NoClientCert {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name:  "limits",
			cfg:   "tickTime=2000\ndataDir=$DIR\nclientPort=2181\nmaxCnxns=0\ncoord.maxQueuedBytes=1048576\ncoord.maxConnQueuedBytes=-1\n",
			props: []string{"jute.maxbuffer=4194304"},
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				w := c.wire()
				if w.MaxConnections != -1 || w.MaxFrameSize != 4194304 || c.MaxDataSize != 4194304 ||
					w.MaxQueuedBytes != 1<<20 || w.MaxConnQueuedBytes != -1 {
					t.Fatalf("got %+v", w)
				}
			},
		},
		{
			name:  "maxCnxns as a system property",
			cfg:   "tickTime=2000\ndataDir=$DIR\nclientPort=2181\n",
			props: []string{"zookeeper.maxCnxns=5"},
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if w := c.wire(); w.MaxConnections != 5 {
					t.Fatalf("got %+v", w)
				}
			},
		},
		{name: "need without the x509 provider", cfg: strings.ReplaceAll(base, "authProvider.x509", "authProvider.1=x\n#"), wantErr: "authProvider.x509"},
		{name: "no key store", cfg: "tickTime=2000\ndataDir=$DIR\nsecureClientPort=2281\n", wantErr: "ssl.keyStore.location"},
		{name: "JKS", cfg: base + "ssl.keyStore.type=JKS\n", wantErr: "PEM stores only"},
		{name: "PKCS12 by name", cfg: base + "ssl.trustStore.location=$CERTS/ca.p12\n", wantErr: "PEM stores only"},
		{name: "encrypted key", cfg: base + "ssl.keyStore.location=" + enc + "\nssl.keyStore.password=pw\n", wantErr: "encrypted"},
		{name: "TLSv1.1", cfg: base + "ssl.enabledProtocols=TLSv1.1,TLSv1.2\n", wantErr: "TLSv1.2 and TLSv1.3 only"},
		{name: "ssl.protocol TLSv1", cfg: base + "ssl.protocol=TLSv1\n", wantErr: "TLSv1.2 and TLSv1.3 only"},
		{name: "unknown suite", cfg: base + "ssl.enabledProtocols=TLSv1.2\nssl.ciphersuites=TLS_RSA_WITH_RC4_128_SHA\n", wantErr: "not a cipher suite"},
		{name: "TLS 1.3 suites", cfg: base + "ssl.ciphersuites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n", wantErr: "TLS 1.3"},
		{name: "crl", cfg: base + "ssl.crl=true\n", wantErr: "revocation"},
		{name: "client hostname verification", cfg: base + "ssl.clientHostnameVerification=true\n", wantErr: "hostnames"},
		{name: "bad clientAuth", cfg: base + "ssl.clientAuth=maybe\n", wantErr: "none, want or need"},
		{name: "secureClientPortAddress alone", cfg: "tickTime=2000\ndataDir=$DIR\nclientPort=1\nsecureClientPortAddress=127.0.0.1\n", wantErr: "secureClientPort is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "zoo.cfg")
			body := strings.ReplaceAll(strings.ReplaceAll(tt.cfg, "$DIR", dir), "$CERTS", f.dir)
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			var props []property
			for _, p := range tt.props {
				k, v, _ := strings.Cut(p, "=")
				props = append(props, property{key: k, value: v, where: "-D"})
			}
			zc, err := loadZooConfig(path, props)
			var c daemonConfig
			if err == nil {
				c, err = zc.coordConfig()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, zc)
		})
	}
}

// TestRunSecureClientPort runs coordd with a zoo.cfg that has a TLS port,
// x509 authentication, maxCnxns and (as -D) jute.maxbuffer=4194304, and
// drives it with go-zookeeper/zk over TLS: x509 ACLs, a 2 MB create, and
// the connection past maxCnxns refused.
func TestRunSecureClientPort(t *testing.T) {
	f := writeCerts(t)
	dir := t.TempDir()
	port, sport := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	body := fmt.Sprintf("tickTime=100\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"secureClientPort=%d\nsecureClientPortAddress=127.0.0.1\nssl.keyStore.location=%s/server.pem\n"+
		"ssl.trustStore.location=%s/ca.crt\nssl.clientAuth=need\nauthProvider.x509=%s\nmaxCnxns=3\n",
		dir, port, sport, f.dir, f.dir, x509ProviderClass)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon("-Djute.maxbuffer=4194304", cfg)
	defer d.stop(t)
	waitStatus(t, d, cfg)

	saddr := fmt.Sprintf("127.0.0.1:%d", sport)
	dial := func(cert *testcerts.Cert) *zk.Conn {
		t.Helper()
		tc := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{cert.TLS()}}
		dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, tc)
		}
		conn, events, err := zk.Connect([]string{saddr}, 4*time.Second, zk.WithDialer(dialer),
			zk.WithMaxBufferSize(8<<20), zk.WithMaxConnBufferSize(8<<20), zk.WithLogger(quietZK{}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(conn.Close)
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.State == zk.StateHasSession {
					return conn
				}
			case <-deadline:
				t.Fatalf("no session over TLS; log:\n%s", d.log.String())
			}
		}
	}
	alice, bob := dial(f.alice), dial(f.bob)
	if _, err := alice.Create("/alice", []byte("a"), 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: "CN=alice"}}); err != nil {
		t.Fatal(err)
	}
	if b, _, err := alice.Get("/alice"); err != nil || string(b) != "a" {
		t.Fatalf("alice: %q %v", b, err)
	}
	if _, _, err := bob.Get("/alice"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("bob: %v, want NoAuth", err)
	}
	big := bytes.Repeat([]byte("z"), 2_000_000)
	if _, err := alice.Create("/big", big, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("2 MB create with jute.maxbuffer=4194304: %v", err)
	}
	if b, _, err := bob.Get("/big"); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("2 MB get: %d bytes, %v", len(b), err)
	}
	// maxCnxns=3 counts this port's connections: a third is let in, a
	// fourth is closed at once.
	dial(f.bob)
	tc := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{f.bob.TLS()}}
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", saddr, tc)
	if err == nil {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		nc.Close()
	}
	if err == nil {
		t.Fatal("the connection past maxCnxns=3 was served")
	}
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}
