package coord

import (
	"context"
	"testing"
)

func TestValidateX509ID(t *testing.T) {
	for _, ok := range []string{"", "CN=alice", "CN=alice,O=Acme,C=US", "CN=a\\,b,O=x", "CN=\"a,b\",O=x", "CN=a+UID=7,DC=example", "2.5.4.5=#130131"} {
		if err := ValidateX509ID(ok); err != nil {
			t.Errorf("ValidateX509ID(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"alice", "CN=alice,", "=alice", "CN=a\\", "CN=\"a", "C N=x"} {
		if ValidateX509ID(bad) == nil {
			t.Errorf("ValidateX509ID(%q) = nil, want an error", bad)
		}
	}
}

// TestX509Identities: identities a front end authenticated (a TLS client
// certificate's x509 id) are matched exactly by x509 ACLs, expand "auth"
// entries, and a super identity bypasses ACLs.
func TestX509Identities(t *testing.T) {
	ctx := context.Background()
	n := openNode(t, Config{})
	alice := newSession(t, n, SessionConfig{Identities: []ID{{Scheme: "x509", ID: "CN=alice"}}})
	bob := newSession(t, n, SessionConfig{Identities: []ID{{Scheme: "x509", ID: "CN=bob"}}})
	root := newSession(t, n, SessionConfig{Identities: []ID{{Scheme: "super", ID: "CN=root"}, {Scheme: "x509", ID: "CN=root"}}})
	anon := newSession(t, n, SessionConfig{})

	mustCreate(t, alice, "/a", []byte("x"), Persistent, []ACL{{Perms: PermAll, Scheme: "x509", ID: "CN=alice"}})
	if _, _, err := alice.GetData(ctx, "/a"); err != nil {
		t.Fatalf("alice reads her node: %v", err)
	}
	if _, _, err := bob.GetData(ctx, "/a"); CodeOf(err) != CodeNoAuth {
		t.Fatalf("bob reads alice's node: %v, want NoAuth", err)
	}
	if _, _, err := root.GetData(ctx, "/a"); err != nil {
		t.Fatalf("super reads alice's node: %v", err)
	}
	// "auth" expands to the x509 identity.
	mustCreate(t, bob, "/b", nil, Persistent, CreatorACL)
	acl, _, err := bob.GetACL(ctx, "/b")
	if err != nil || len(acl) != 1 || acl[0] != (ACL{Perms: PermAll, Scheme: "x509", ID: "CN=bob"}) {
		t.Fatalf("auth ACL of an x509 session: %v, %v", acl, err)
	}
	// An invalid DN is InvalidACL; without identities "auth" is too.
	if _, err := alice.Create(ctx, "/bad", nil, Persistent, []ACL{{Perms: PermAll, Scheme: "x509", ID: "alice"}}); CodeOf(err) != CodeInvalidACL {
		t.Fatalf("x509:alice: %v, want InvalidACL", err)
	}
	if _, err := anon.Create(ctx, "/c", nil, Persistent, CreatorACL); CodeOf(err) != CodeInvalidACL {
		t.Fatalf("auth ACL without identities: %v, want InvalidACL", err)
	}
	if _, err := n.NewSession(ctx, SessionConfig{Identities: []ID{{ID: "x"}}}); CodeOf(err) != CodeBadArguments {
		t.Fatalf("identity without scheme: %v", err)
	}
}
