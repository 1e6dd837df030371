package zkserver

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/coordkit/coord/internal/testcerts"
)

// tlsFixture is a CA with a server certificate and client certificates
// for alice, bob and root (the x509 super user).
type tlsFixture struct {
	ca                      *testcerts.CA
	server, alice, bob, su  *testcerts.Cert
	aliceID, bobID, superID string
}

func newTLSFixture(t testing.TB) *tlsFixture {
	t.Helper()
	ca, err := testcerts.NewCA("coord test CA")
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFixture{ca: ca}
	must := func(c *testcerts.Cert, err error) *testcerts.Cert {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f.server = must(ca.Server())
	f.alice = must(ca.Client(pkix.Name{CommonName: "alice", Organization: []string{"Acme"}}))
	f.bob = must(ca.Client(pkix.Name{CommonName: "bob", Organization: []string{"Acme"}}))
	f.su = must(ca.Client(pkix.Name{CommonName: "root"}))
	f.aliceID, f.bobID, f.superID = "CN=alice,O=Acme", "CN=bob,O=Acme", "CN=root"
	return f
}

func (f *tlsFixture) serverTLS(auth tls.ClientAuthType) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{f.server.TLS()},
		ClientCAs:    f.ca.Pool(),
		ClientAuth:   auth,
		MinVersion:   tls.VersionTLS12,
	}
}

// dialTLS connects go-zookeeper/zk over TLS with cert (nil: none).
func (f *tlsFixture) dialTLS(t testing.TB, n *wireNode, cert *testcerts.Cert) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	cfg := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS()}
	}
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, cfg)
	}
	conn, events, err := zk.Connect([]string{n.ClientAddr()}, 2*time.Second, zk.WithLogger(wireQuietLogger{}), zk.WithDialer(dialer))
	if err != nil {
		t.Fatal(err)
	}
	return conn, events
}

// session dials with cert and waits for the session.
func (f *tlsFixture) session(t testing.TB, n *wireNode, cert *testcerts.Cert) *zk.Conn {
	t.Helper()
	conn, events := f.dialTLS(t, n, cert)
	return wireWaitSession(t, conn, events)
}

// TestTLSX509ACLs: go-zookeeper/zk over TLS; a node with ACL x509:<alice's
// DN> is alice's: bob and an anonymous TLS client cannot read it, the
// x509 super user can.
func TestTLSX509ACLs(t *testing.T) {
	f := newTLSFixture(t)
	n := startWire(t, func(c *Config) {
		c.TLS = f.serverTLS(tls.VerifyClientCertIfGiven) // ssl.clientAuth=want
		c.X509SuperUser = f.superID
	})
	alice := f.session(t, n, f.alice)
	bob := f.session(t, n, f.bob)
	root := f.session(t, n, f.su)
	anon := f.session(t, n, nil)

	wireCreate(t, alice, "/secret", []byte("s3"), 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: f.aliceID}})
	if b, _, err := alice.Get("/secret"); err != nil || string(b) != "s3" {
		t.Fatalf("alice reads her node: %q, %v", b, err)
	}
	if _, _, err := bob.Get("/secret"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("bob reads alice's node: %v, want NoAuth", err)
	}
	if _, _, err := anon.Get("/secret"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous reads alice's node: %v, want NoAuth", err)
	}
	if b, _, err := root.Get("/secret"); err != nil || string(b) != "s3" {
		t.Fatalf("the x509 super user reads alice's node: %q, %v", b, err)
	}
	// "auth" expands to the certificate's identity.
	wireCreate(t, bob, "/bobs", nil, 0, zk.AuthACL(zk.PermAll))
	acl, _, err := bob.GetACL("/bobs")
	if err != nil || len(acl) != 1 || acl[0] != (zk.ACL{Perms: zk.PermAll, Scheme: "x509", ID: f.bobID}) {
		t.Fatalf("auth ACL of bob's node: %v, %v", acl, err)
	}
	if _, err := anon.Create("/x", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: "not a DN"}}); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("x509 ACL that is no DN: %v, want InvalidACL", err)
	}
}

// TestTLSClientAuthNeed: with ssl.clientAuth=need a client without a
// certificate, or with one from another CA, never gets a session; a
// plaintext client on the TLS port neither.
func TestTLSClientAuthNeed(t *testing.T) {
	f := newTLSFixture(t)
	n := startWire(t, func(c *Config) { c.TLS = f.serverTLS(tls.RequireAndVerifyClientCert) })
	f.session(t, n, f.alice)

	other, err := testcerts.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Client(pkix.Name{CommonName: "alice", Organization: []string{"Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, dial := range map[string]func() (*zk.Conn, <-chan zk.Event){
		"no certificate":        func() (*zk.Conn, <-chan zk.Event) { return f.dialTLS(t, n, nil) },
		"untrusted":             func() (*zk.Conn, <-chan zk.Event) { return f.dialTLS(t, n, stranger) },
		"plaintext on TLS port": func() (*zk.Conn, <-chan zk.Event) { return wireDialZKNoWait(t, n) },
	} {
		conn, events := dial()
		deadline := time.After(1500 * time.Millisecond)
	wait:
		for {
			select {
			case ev := <-events:
				if ev.State == zk.StateHasSession {
					t.Errorf("%s: got a session", name)
					break wait
				}
			case <-deadline:
				break wait
			}
		}
		conn.Close()
	}
}

func wireDialZKNoWait(t testing.TB, n *wireNode) (*zk.Conn, <-chan zk.Event) {
	conn, events, err := zk.Connect([]string{n.ClientAddr()}, 2*time.Second, zk.WithLogger(wireQuietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	return conn, events
}

// TestX509ID checks the DN format against what Java's
// X500Principal.getName() prints for the same subjects (recorded with
// OpenJDK 17's jshell).
func TestX509ID(t *testing.T) {
	ca, err := testcerts.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	oidDC := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	for _, tc := range []struct {
		name pkix.Name
		want string
	}{
		{pkix.Name{CommonName: "alice"}, "CN=alice"},
		{pkix.Name{CommonName: "alice", Organization: []string{"Acme"}, Country: []string{"US"}}, "CN=alice,O=Acme,C=US"},
		{pkix.Name{CommonName: "a,b+c=d#e;f<g>h\"i\\j"}, `CN=a\,b\+c\=d\#e\;f\<g\>h\"i\\j`},
		{pkix.Name{CommonName: " lead trail "}, `CN=\ lead trail\ `},
		{pkix.Name{CommonName: "x", SerialNumber: "42"}, "2.5.4.5=#13023432,CN=x"},
		{pkix.Name{CommonName: "x", ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidDC, Value: "example"}, {Type: oidEmail, Value: "a@b"}}},
			"1.2.840.113549.1.9.1=#0c03614062,DC=example,CN=x"},
		{pkix.Name{CommonName: "x", OrganizationalUnit: []string{"u1", "u2"}, Locality: []string{"L"}, Province: []string{"P"}, StreetAddress: []string{"S"}, PostalCode: []string{"123"}},
			"CN=x,OU=u1+OU=u2,2.5.4.17=#1303313233,STREET=S,L=L,ST=P"},
		{pkix.Name{CommonName: "élan"}, "CN=élan"},
	} {
		c, err := ca.Client(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := X509ID(c.Cert); got != tc.want {
			t.Errorf("X509ID(%v) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
