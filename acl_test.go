package coord

import (
	"errors"
	"slices"
	"testing"
)

func TestDigestID(t *testing.T) {
	// base64(sha1("super:pw")), as ZooKeeper's DigestAuthenticationProvider
	// -generate prints it (computed independently).
	if got, want := DigestID("super", "pw"), "super:0bX78nEegDzJM3ju0iLBEJdWzjg="; got != want {
		t.Fatalf("DigestID = %q, want %q", got, want)
	}
	if acl := DigestACL(PermRead, "u", "p"); len(acl) != 1 || acl[0] != (ACL{PermRead, "digest", DigestID("u", "p")}) {
		t.Fatalf("DigestACL = %v", acl)
	}
	if acl := WorldACL(PermCreate); !slices.Equal(acl, []ACL{{PermCreate, "world", "anyone"}}) {
		t.Fatalf("WorldACL = %v", acl)
	}
	if PermAll != 31 || PermRead != 1 || PermWrite != 2 || PermCreate != 4 || PermDelete != 8 || PermAdmin != 16 {
		t.Fatal("permission bits differ from ZooKeeper's")
	}
}

func TestAuthenticate(t *testing.T) {
	super := DigestID("super", "pw")
	for _, tc := range []struct {
		name   string
		scheme string
		cred   string
		want   []ID
		err    error
	}{
		{"Digest", "digest", "alice:secret", []ID{{"digest", DigestID("alice", "secret")}}, nil},
		{"DigestPasswordWithColon", "digest", "alice:a:b", []ID{{"digest", DigestID("alice", "a:b")}}, nil},
		{"Super", "digest", "super:pw", []ID{superID, {"digest", super}}, nil},
		{"SuperWrongPassword", "digest", "super:nope", []ID{{"digest", DigestID("super", "nope")}}, nil},
		{"UnknownScheme", "sasl", "x", nil, ErrAuthFailed},
		{"IPIsNotAddAuth", "ip", "10.0.0.1", nil, ErrAuthFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := authenticate(tc.scheme, []byte(tc.cred), super)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("ids %v, want %v", ids, tc.want)
			}
		})
	}
}

func TestFixupACL(t *testing.T) {
	alice := ID{"digest", DigestID("alice", "pw")}
	bob := ID{"digest", DigestID("bob", "pw")}
	ip := ID{"ip", "10.0.0.1"}
	for _, tc := range []struct {
		name string
		acl  []ACL
		ids  []ID
		want []ACL // nil: InvalidACL
	}{
		{"World", OpenACL, nil, OpenACL},
		{"Duplicates", []ACL{OpenACL[0], OpenACL[0]}, nil, OpenACL},
		{"SamePermsDifferentIDsKept", []ACL{{PermRead, "world", "anyone"}, {PermAll, "world", "anyone"}}, nil,
			[]ACL{{PermRead, "world", "anyone"}, {PermAll, "world", "anyone"}}},
		{"AuthExpands", CreatorACL, []ID{ip, alice, bob}, []ACL{{PermAll, "digest", alice.ID}, {PermAll, "digest", bob.ID}}},
		{"AuthSkipsSuper", CreatorACL, []ID{superID, alice}, []ACL{{PermAll, "digest", alice.ID}}},
		{"AuthAndExplicitDeduplicated", []ACL{{PermAll, "auth", ""}, {PermAll, "digest", alice.ID}}, []ID{alice}, []ACL{{PermAll, "digest", alice.ID}}},
		{"Digest", []ACL{{PermRead, "digest", "u:hash"}}, nil, []ACL{{PermRead, "digest", "u:hash"}}},
		{"DigestTrailingColonDropped", []ACL{{PermRead, "digest", "u:hash:"}}, nil, []ACL{{PermRead, "digest", "u:hash:"}}},
		{"DigestEmptyUser", []ACL{{PermRead, "digest", ":hash"}}, nil, []ACL{{PermRead, "digest", ":hash"}}},
		{"IP", []ACL{{PermRead, "ip", "10.0.0.1"}}, nil, []ACL{{PermRead, "ip", "10.0.0.1"}}},
		{"IPCIDR", []ACL{{PermRead, "ip", "10.0.0.0/8"}}, nil, []ACL{{PermRead, "ip", "10.0.0.0/8"}}},
		{"IPv6", []ACL{{PermRead, "ip", "2001:db8::/32"}}, nil, []ACL{{PermRead, "ip", "2001:db8::/32"}}},
		{"IPZeroBits", []ACL{{PermRead, "ip", "0.0.0.0/0"}}, nil, []ACL{{PermRead, "ip", "0.0.0.0/0"}}},
		{"Empty", []ACL{}, nil, nil},
		{"Nil", nil, nil, nil},
		{"WorldNotAnyone", []ACL{{PermAll, "world", "everyone"}}, nil, nil},
		{"AuthWithoutIDs", CreatorACL, nil, nil},
		{"AuthWithOnlyIP", CreatorACL, []ID{ip}, nil},
		{"AuthWithOnlySuper", CreatorACL, []ID{superID}, nil},
		{"DigestNoColon", []ACL{{PermAll, "digest", "alice"}}, nil, nil},
		{"DigestTwoColons", []ACL{{PermAll, "digest", "a:b:c"}}, nil, nil},
		{"DigestOnlyColon", []ACL{{PermAll, "digest", "a:"}}, nil, nil},
		{"IPBadOctet", []ACL{{PermAll, "ip", "10.0.0.256"}}, nil, nil},
		{"IPBitsTooMany", []ACL{{PermAll, "ip", "10.0.0.0/33"}}, nil, nil},
		{"IPBitsNegative", []ACL{{PermAll, "ip", "10.0.0.0/-1"}}, nil, nil},
		{"IPBitsNotNumber", []ACL{{PermAll, "ip", "10.0.0.0/x"}}, nil, nil},
		{"IPZone", []ACL{{PermAll, "ip", "fe80::1%eth0"}}, nil, nil},
		{"UnknownScheme", []ACL{{PermAll, "sasl", "bob"}}, nil, nil},
		{"SuperSchemeNotSettable", []ACL{{PermAll, "super", ""}}, nil, nil},
		{"OneBadEntrySpoilsAll", []ACL{OpenACL[0], {PermAll, "x", "y"}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fixupACL(tc.acl, tc.ids, true)
			if tc.want == nil {
				if !errors.Is(err, ErrInvalidACL) || got != nil {
					t.Fatalf("fixupACL = %v, %v; want ErrInvalidACL", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("fixupACL = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCheckPerm(t *testing.T) {
	alice := ID{"digest", DigestID("alice", "pw")}
	for _, tc := range []struct {
		name string
		acl  []ACL
		perm Perm
		ids  []ID
		want bool
	}{
		{"EmptyACLAllows", nil, PermAdmin, nil, true},
		{"World", WorldACL(PermRead), PermRead, nil, true},
		{"WorldLacksPerm", WorldACL(PermRead), PermWrite, nil, false},
		{"AnyOfSeveralBits", WorldACL(PermRead), PermRead | PermAdmin, nil, true},
		{"Digest", []ACL{{PermAll, "digest", alice.ID}}, PermWrite, []ID{alice}, true},
		{"DigestOtherUser", []ACL{{PermAll, "digest", alice.ID}}, PermWrite, []ID{{"digest", DigestID("bob", "pw")}}, false},
		{"DigestNeedsIdentity", []ACL{{PermAll, "digest", alice.ID}}, PermRead, nil, false},
		{"SuperBypasses", []ACL{{PermRead, "digest", alice.ID}}, PermAdmin, []ID{superID}, true},
		{"IPExact", []ACL{{PermAll, "ip", "10.1.2.3"}}, PermRead, []ID{{"ip", "10.1.2.3"}}, true},
		{"IPExactOther", []ACL{{PermAll, "ip", "10.1.2.3"}}, PermRead, []ID{{"ip", "10.1.2.4"}}, false},
		{"IPCIDRInside", []ACL{{PermAll, "ip", "10.0.0.0/8"}}, PermRead, []ID{{"ip", "10.200.0.1"}}, true},
		{"IPCIDRHostBitsIgnored", []ACL{{PermAll, "ip", "10.9.9.9/8"}}, PermRead, []ID{{"ip", "10.200.0.1"}}, true},
		{"IPCIDROutside", []ACL{{PermAll, "ip", "10.0.0.0/8"}}, PermRead, []ID{{"ip", "11.0.0.1"}}, false},
		{"IPv4MappedClient", []ACL{{PermAll, "ip", "10.0.0.0/8"}}, PermRead, []ID{{"ip", "::ffff:10.0.0.1"}}, true},
		{"IPv6CIDR", []ACL{{PermAll, "ip", "2001:db8::/32"}}, PermRead, []ID{{"ip", "2001:db8:1::5"}}, true},
		{"IPv6AgainstV4", []ACL{{PermAll, "ip", "10.0.0.0/8"}}, PermRead, []ID{{"ip", "2001:db8::1"}}, false},
		{"IPIdentityNotADigest", []ACL{{PermAll, "digest", "10.0.0.1"}}, PermRead, []ID{{"ip", "10.0.0.1"}}, false},
		{"SecondEntryMatches", []ACL{{PermRead, "world", "anyone"}, {PermWrite, "digest", alice.ID}}, PermWrite, []ID{alice}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkPerm(tc.acl, tc.perm, tc.ids); got != tc.want {
				t.Fatalf("checkPerm = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestACLTable(t *testing.T) {
	tab := newACLTable()
	a := tab.ref(OpenACL)
	b := tab.ref(ReadACL)
	if a2 := tab.ref(OpenACL); a2 != a {
		t.Fatalf("same list interned twice: %d, %d", a, a2)
	}
	if tab.lists[a].refs != 2 || !slices.Equal(tab.get(a), OpenACL) || !slices.Equal(tab.get(b), ReadACL) {
		t.Fatalf("table %+v", tab.lists)
	}
	// The table keeps its own copy.
	acl := []ACL{{PermRead, "world", "anyone"}, {PermAll, "digest", "u:h"}}
	c := tab.ref(acl)
	acl[0].Perms = PermAll
	if tab.get(c)[0].Perms != PermRead {
		t.Fatal("table aliases the caller's slice")
	}
	tab.unref(a)
	tab.unref(a)
	if len(tab.free) != 1 || tab.free[0] != a {
		t.Fatalf("free list %v after releasing slot %d", tab.free, a)
	}
	if _, ok := tab.index[aclKey(OpenACL)]; ok {
		t.Fatal("freed list still indexed")
	}
	// A freed slot is reused, last freed first.
	tab.unref(b)
	if d := tab.ref([]ACL{{PermCreate, "world", "anyone"}}); d != b {
		t.Fatalf("new list in slot %d, want reused %d", d, b)
	}
	if e := tab.ref(OpenACL); e != a {
		t.Fatalf("new list in slot %d, want reused %d", e, a)
	}
	// Keys separate fields, so lists that concatenate alike differ.
	if aclKey([]ACL{{1, "ab", "c"}}) == aclKey([]ACL{{1, "a", "bc"}}) {
		t.Fatal("ambiguous ACL key")
	}
}
