package coord

import (
	"errors"
	"fmt"
	"strings"
)

// ZooKeeper's x509 scheme (X509AuthenticationProvider): a client that
// presented a trusted TLS certificate is the identity
// {Scheme: "x509", ID: <subject DN>}, the DN as Java's
// X500Principal.getName() writes it (RFC 2253: "CN=alice,O=Acme"). An ACL
// entry x509:<DN> matches that identity exactly. Front ends authenticate
// the certificate and pass the identity in ServerSessionConfig.Identities;
// the ZooKeeper wire server (package zkserver) does.

// ValidateX509ID reports whether id is a distinguished name an "x509" ACL
// entry may hold, the check ZooKeeper makes by parsing it as an
// X500Principal: comma (or semicolon) separated RDNs, each one or more
// '+'-joined type=value pairs; backslash escapes and quoted values are
// understood. The empty DN is valid, as in Java.
func ValidateX509ID(id string) error {
	if strings.TrimSpace(id) == "" {
		return nil
	}
	var part strings.Builder
	inQuote, escaped := false, false
	check := func() error {
		p := strings.TrimSpace(part.String())
		part.Reset()
		typ, _, ok := strings.Cut(p, "=")
		typ = strings.TrimSpace(typ)
		if !ok || typ == "" {
			return fmt.Errorf("x509 id: %q is not type=value", p)
		}
		for _, r := range typ {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
				return fmt.Errorf("x509 id: bad attribute type %q", typ)
			}
		}
		return nil
	}
	for _, r := range id {
		switch {
		case escaped:
			escaped = false
			// An escaped '=' must not split type from value.
			if r == '=' {
				r = 0
			}
		case r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ',' || r == ';' || r == '+'):
			if err := check(); err != nil {
				return err
			}
			continue
		}
		if r == '=' && inQuote {
			r = 0
		}
		part.WriteRune(r)
	}
	if escaped || inQuote {
		return errors.New("x509 id: unterminated escape or quote")
	}
	return check()
}

// checkIdentities validates SessionConfig.Identities.
func checkIdentities(ids []ID) error {
	for _, id := range ids {
		if id.Scheme == "" {
			return &OpError{Op: "connect", Err: ErrBadArguments, Detail: "an identity without a scheme"}
		}
	}
	return nil
}
