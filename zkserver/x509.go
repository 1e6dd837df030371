package zkserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode/utf16"

	"github.com/coordkit/coord"
)

// TLS client port. A Server whose Config.TLS is set speaks TLS on every
// connection (ZooKeeper's secureClientPort). When the handshake verified a
// client certificate (tls.Config.ClientAuth VerifyClientCertIfGiven or
// RequireAndVerifyClientCert, ZooKeeper's ssl.clientAuth=want and need),
// the session carries the identity x509:<subject DN>, as ZooKeeper's
// X509AuthenticationProvider gives it, and super when the DN is
// Config.X509SuperUser.

// X509ID returns the identity ZooKeeper's X509AuthenticationProvider gives
// a client certificate: its subject DN as Java's
// X500Principal.getName() (RFC 2253) writes it, most specific RDN first,
// e.g. "CN=alice,OU=dev,O=Acme,C=US". Attribute types other than CN, C, L,
// ST, O, OU, STREET, DC and UID are written as dotted OIDs with the
// value's DER encoding in hex ("2.5.4.5=#130131"), as Java does.
func X509ID(cert *x509.Certificate) string {
	rdns, ok := parseRawRDNs(cert.RawSubject)
	if !ok {
		return cert.Subject.String() // not reached for a parsed certificate
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		for j, ava := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAVA(&b, ava)
		}
	}
	return b.String()
}

type rawAVA struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// parseRawRDNs splits a DER Name into its RDNs' attribute type and raw
// value pairs, in encoded order.
func parseRawRDNs(der []byte) ([][]rawAVA, bool) {
	var sets []asn1.RawValue
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return nil, false
	}
	rest := seq.Bytes
	for len(rest) > 0 {
		var set asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &set); err != nil {
			return nil, false
		}
		sets = append(sets, set)
	}
	out := make([][]rawAVA, 0, len(sets))
	for _, set := range sets {
		var rdn []rawAVA
		in := set.Bytes
		for len(in) > 0 {
			var ava rawAVA
			var err error
			if in, err = asn1.Unmarshal(in, &ava); err != nil {
				return nil, false
			}
			rdn = append(rdn, ava)
		}
		out = append(out, rdn)
	}
	return out, true
}

// rfc2253Keywords are the attribute names Java's RFC 2253 output uses.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// writeAVA writes one type=value as sun.security.x509.AVA.toRFC2253String.
func writeAVA(b *strings.Builder, ava rawAVA) {
	oid := ava.Type.String()
	kw, known := rfc2253Keywords[oid]
	str, isString := derString(ava.Value)
	if !known || !isString {
		if known {
			b.WriteString(kw)
		} else {
			b.WriteString(oid)
		}
		b.WriteString("=#")
		b.WriteString(hex.EncodeToString(ava.Value.FullBytes))
		return
	}
	b.WriteString(kw)
	b.WriteByte('=')
	const escapees = ",=+<>#;\"\\"
	var v strings.Builder
	for _, r := range str {
		switch {
		case strings.ContainsRune(escapees, r):
			v.WriteByte('\\')
			v.WriteRune(r)
		case r == 0:
			v.WriteString("\\00")
		default:
			v.WriteRune(r)
		}
	}
	s := []rune(v.String())
	lead := 0
	for lead < len(s) && (s[lead] == ' ' || s[lead] == '\r') {
		lead++
	}
	trail := len(s) - 1
	for trail >= 0 && (s[trail] == ' ' || s[trail] == '\r') {
		trail--
	}
	for i, r := range s {
		if i < lead || i > trail {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
}

// derString decodes the string types Java writes as text
// (DerValue.isDerString, non-canonical).
func derString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagPrintableString, asn1.TagT61String, asn1.TagIA5String, asn1.TagGeneralString, asn1.TagUTF8String:
		return string(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// tlsHandshake runs the TLS handshake of a new connection and returns the
// identities its verified client certificate grants.
func (c *zkConn) tlsHandshake(tc *tls.Conn) ([]coord.ID, error) {
	ctx, cancel := context.WithTimeout(c.ctx, zkHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	cs := tc.ConnectionState()
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		// No certificate, or one the server did not verify
		// (ClientAuth RequestClientCert/RequireAnyClientCert): no
		// identity, as ZooKeeper authenticates only trusted certificates.
		return nil, nil
	}
	id := X509ID(cs.PeerCertificates[0])
	var ids []coord.ID
	if su := c.srv.cfg.X509SuperUser; su != "" && id == su {
		ids = append(ids, coord.ID{Scheme: "super", ID: id})
	}
	ids = append(ids, coord.ID{Scheme: "x509", ID: id})
	c.srv.log.Debug("wire client authenticated", "remote", c.remote, "x509", id)
	return ids, nil
}
