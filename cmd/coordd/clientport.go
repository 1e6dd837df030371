package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/zkserver"
)

// The client port's security and resource settings, as ZooKeeper names
// them (zoo.cfg keys or -D properties, with or without "zookeeper."):
//
//	secureClientPort, secureClientPortAddress   the TLS client port
//	ssl.keyStore.location/.type/.password(Path) PEM: certificate chain and private key
//	ssl.trustStore.location/.type               PEM CA certificates that verify client certificates
//	ssl.clientAuth                              none / want / need (default need)
//	ssl.protocol, ssl.enabledProtocols, ssl.ciphersuites
//	authProvider.N=org.apache.zookeeper.server.auth.X509AuthenticationProvider
//	X509AuthenticationProvider.superUser        a subject DN that bypasses ACLs
//	maxCnxns                                    connections per port, 0 = no limit
//	jute.maxbuffer                              also the wire frame limit
//	coord.maxQueuedBytes, coord.maxConnQueuedBytes   the queued-reply budget
//
// What coordd cannot honour it refuses at startup (fail closed) rather than
// serve with less protection than the file asks for: key and trust stores
// other than PEM, encrypted private keys, TLS versions below 1.2, unknown
// cipher suites, revocation checks (ssl.crl, ssl.ocsp), client hostname
// verification and custom SSL context suppliers.

const x509ProviderClass = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"

// clientPortConfig is the client port part of a zoo.cfg, still in
// ZooKeeper's terms.
type clientPortConfig struct {
	SecurePort        int
	SecurePortAddress string
	ssl               map[string]string // ssl.* settings (key without "ssl."), for the secure port
	sslWhere          map[string]string // where each came from
	X509Provider      bool              // authProvider.N names X509AuthenticationProvider
	X509SuperUser     string
	MaxCnxns          int // ZooKeeper's meaning: 0 = no limit
	MaxCnxnsSet       bool
	MaxQueued         int64 // coord.maxQueuedBytes; 0: default, <0: none
	MaxConnQueued     int64 // coord.maxConnQueuedBytes; 0: default, <0: none
}

// clientPortKey handles k=v if it is a client-port key; it reports whether
// it was one.
func (zc *zooConfig) clientPortKey(k, v, where string) (bool, error) {
	cp := &zc.client
	var err error
	switch {
	case k == "secureClientPort":
		cp.SecurePort, err = parsePort(v)
	case k == "secureClientPortAddress":
		cp.SecurePortAddress = v
	case strings.HasPrefix(k, "ssl.") && !strings.HasPrefix(k, "ssl.quorum."):
		if cp.ssl == nil {
			cp.ssl, cp.sslWhere = map[string]string{}, map[string]string{}
		}
		name := strings.TrimPrefix(k, "ssl.")
		cp.ssl[name], cp.sslWhere[name] = v, where
	case strings.HasPrefix(k, "authProvider."):
		switch v {
		case x509ProviderClass:
			cp.X509Provider = true
		case "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
			"org.apache.zookeeper.server.auth.IPAuthenticationProvider":
			// Built in.
		default:
			return false, nil // the generic warning
		}
	case k == "X509AuthenticationProvider.superUser":
		cp.X509SuperUser = v
	case k == "maxCnxns":
		cp.MaxCnxns, err = strconv.Atoi(v)
		cp.MaxCnxnsSet = true
		if err == nil && cp.MaxCnxns < 0 {
			// ZooKeeper: "maxCnxns should be greater than or equal to 0,
			// using default value" (0, no limit).
			zc.Warnings = append(zc.Warnings, fmt.Sprintf("%s: maxCnxns=%s is negative: no limit, as ZooKeeper", where, v))
			cp.MaxCnxns = 0
		}
	case k == "coord.maxQueuedBytes":
		cp.MaxQueued, err = strconv.ParseInt(v, 0, 64)
	case k == "coord.maxConnQueuedBytes":
		cp.MaxConnQueued, err = strconv.ParseInt(v, 0, 64)
	case k == "portUnification":
		if b, _ := strconv.ParseBool(v); b {
			zc.Warnings = append(zc.Warnings, fmt.Sprintf("%s: portUnification=true ignored: coordd serves TLS on secureClientPort only; clientPort stays plaintext", where))
		}
	default:
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("%s: %s=%q: %v", where, k, v, err)
	}
	return true, nil
}

// clientPortSettings are the resolved client port settings a daemonConfig
// carries.
type clientPortSettings struct {
	SecureClientAddr   string      // "" : no TLS port
	TLS                *tls.Config // for SecureClientAddr
	X509SuperUser      string
	MaxConnections     int   // zkserver's meaning: 0 default, <0 none
	MaxFrameSize       int   // jute.maxbuffer; 0: zkserver's default
	MaxQueuedBytes     int64 // zkserver's meaning
	MaxConnQueuedBytes int64 // zkserver's meaning
}

// apply adds the settings to a wire server's Config.
func (s *clientPortSettings) apply(c zkserver.Config) zkserver.Config {
	c.MaxConnections = s.MaxConnections
	c.MaxFrameSize = s.MaxFrameSize
	c.MaxQueuedBytes = s.MaxQueuedBytes
	c.MaxConnQueuedBytes = s.MaxConnQueuedBytes
	return c
}

// secureWire is the TLS port's Config.
func (c *daemonConfig) secureWire() zkserver.Config {
	w := c.wire()
	w.TLS = c.clientPortSettings.TLS
	w.X509SuperUser = c.clientPortSettings.X509SuperUser
	return w
}

// listenClients starts the wire servers: the plaintext port (unless only
// a secure port is configured) and the TLS port.
func listenClients(cfg *daemonConfig, n *coord.Node) (plain, secure *zkserver.Server, err error) {
	if cfg.ClientAddr != "" {
		if plain, err = zkserver.Listen(cfg.ClientAddr, n, cfg.wire()); err != nil {
			return nil, nil, fmt.Errorf("client listener: %w", err)
		}
	}
	if cfg.SecureClientAddr != "" {
		if secure, err = zkserver.Listen(cfg.SecureClientAddr, n, cfg.secureWire()); err != nil {
			if plain != nil {
				plain.Close()
			}
			return nil, nil, fmt.Errorf("secure client listener: %w", err)
		}
	}
	return plain, secure, nil
}

// resolveClientPort checks the client port settings and loads the key and
// trust stores.
func (zc *zooConfig) resolveClientPort(s *clientPortSettings) error {
	cp := &zc.client
	switch {
	case !cp.MaxCnxnsSet:
		// coordd keeps zkserver's cap of 10,000 when maxCnxns is absent
		// (ZooKeeper has none).
	case cp.MaxCnxns == 0:
		s.MaxConnections = -1
	default:
		s.MaxConnections = cp.MaxCnxns
	}
	s.MaxFrameSize = zc.MaxDataSize
	s.MaxQueuedBytes, s.MaxConnQueuedBytes = cp.MaxQueued, cp.MaxConnQueued
	if cp.SecurePort == 0 {
		if cp.SecurePortAddress != "" {
			return fmt.Errorf("secureClientPortAddress is set but secureClientPort is not set")
		}
		for _, k := range slices.Sorted(maps.Keys(cp.ssl)) {
			zc.Warnings = append(zc.Warnings, fmt.Sprintf("%s: ssl.%s ignored: no secureClientPort (the ssl.* settings configure the TLS client port)", cp.sslWhere[k], k))
		}
		return nil
	}
	s.SecureClientAddr = net.JoinHostPort(cp.SecurePortAddress, strconv.Itoa(cp.SecurePort))
	cfg, err := cp.tlsConfig(zc)
	if err != nil {
		return err
	}
	s.TLS = cfg
	s.X509SuperUser = cp.X509SuperUser
	if cfg.ClientAuth != tls.NoClientCert && !cp.X509Provider {
		return fmt.Errorf("secureClientPort with ssl.clientAuth=%s needs authProvider.x509=%s (without it ZooKeeper drops every client that presents a certificate); or set ssl.clientAuth=none",
			orDefault(cp.ssl["clientAuth"], "need"), x509ProviderClass)
	}
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// tlsConfig builds the secure port's tls.Config from the ssl.* settings.
func (cp *clientPortConfig) tlsConfig(zc *zooConfig) (*tls.Config, error) {
	get := func(k string) string { return strings.TrimSpace(cp.ssl[k]) }
	refuse := func(k, why string) error {
		return fmt.Errorf("%s: ssl.%s=%q: %s", cp.sslWhere[k], k, cp.ssl[k], why)
	}
	cfg := &tls.Config{}
	known := map[string]bool{}
	use := func(ks ...string) {
		for _, k := range ks {
			known[k] = true
		}
	}

	// Key store: certificate chain and key.
	use("keyStore.location", "keyStore.type", "keyStore.password", "keyStore.passwordPath")
	loc := get("keyStore.location")
	if loc == "" {
		return nil, fmt.Errorf("secureClientPort needs ssl.keyStore.location (a PEM file holding the server's certificate chain and private key)")
	}
	if err := pemType(get("keyStore.type"), loc); err != nil {
		return nil, fmt.Errorf("ssl.keyStore: %w", err)
	}
	b, err := os.ReadFile(loc)
	if err != nil {
		return nil, fmt.Errorf("ssl.keyStore.location: %w", err)
	}
	if bytes := string(b); strings.Contains(bytes, "ENCRYPTED PRIVATE KEY") || strings.Contains(bytes, "Proc-Type: 4,ENCRYPTED") {
		return nil, fmt.Errorf("ssl.keyStore.location %s: the private key is encrypted; coordd reads unencrypted PEM keys only (decrypt it: openssl pkcs8 -in key.pem -nocrypt -out plain.pem, and protect the file's permissions instead)", loc)
	}
	if get("keyStore.password") != "" || get("keyStore.passwordPath") != "" {
		zc.Infos = append(zc.Infos, "ssl.keyStore.password ignored: the PEM private key is not encrypted")
	}
	cert, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, fmt.Errorf("ssl.keyStore.location %s: %v", loc, err)
	}
	cfg.Certificates = []tls.Certificate{cert}

	// Trust store: the CAs client certificates must chain to.
	use("trustStore.location", "trustStore.type", "trustStore.password", "trustStore.passwordPath")
	if tl := get("trustStore.location"); tl != "" {
		if err := pemType(get("trustStore.type"), tl); err != nil {
			return nil, fmt.Errorf("ssl.trustStore: %w", err)
		}
		b, err := os.ReadFile(tl)
		if err != nil {
			return nil, fmt.Errorf("ssl.trustStore.location: %w", err)
		}
		pool := x509.NewCertPool()
		n := 0
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("ssl.trustStore.location %s: %v", tl, err)
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("ssl.trustStore.location %s: no PEM certificate", tl)
		}
		cfg.ClientCAs = pool
	} else {
		zc.Infos = append(zc.Infos, "no ssl.trustStore.location: client certificates are verified against the system's CAs (Java's default trust store, for ZooKeeper)")
	}

	// ssl.clientAuth: ZooKeeper's default is need.
	use("clientAuth")
	switch strings.ToLower(get("clientAuth")) {
	case "", "need":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "want":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "none":
		cfg.ClientAuth = tls.NoClientCert
	default:
		return nil, refuse("clientAuth", "want none, want or need")
	}

	// Protocols.
	use("protocol", "enabledProtocols")
	versions := map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}
	var enabled []uint16
	if ep := get("enabledProtocols"); ep != "" {
		for _, p := range strings.Split(ep, ",") {
			p = strings.TrimSpace(p)
			v, ok := versions[p]
			if !ok {
				return nil, refuse("enabledProtocols", fmt.Sprintf("%s: coordd serves TLSv1.2 and TLSv1.3 only", p))
			}
			enabled = append(enabled, v)
		}
	} else {
		switch p := get("protocol"); p {
		case "", "TLS", "TLSv1.3":
			enabled = []uint16{tls.VersionTLS12, tls.VersionTLS13}
		case "TLSv1.2":
			enabled = []uint16{tls.VersionTLS12}
		default:
			return nil, refuse("protocol", "coordd serves TLSv1.2 and TLSv1.3 only")
		}
	}
	cfg.MinVersion, cfg.MaxVersion = slices.Min(enabled), slices.Max(enabled)

	// Cipher suites: IANA names, as Java's. Go fixes TLS 1.3's suites, so
	// a list that leaves one out is refused unless TLS 1.3 is off.
	use("ciphersuites")
	if cs := get("ciphersuites"); cs != "" {
		byName := map[string]uint16{}
		for _, s := range tls.CipherSuites() {
			byName[s.Name] = s.ID
		}
		tls13 := map[string]bool{"TLS_AES_128_GCM_SHA256": false, "TLS_AES_256_GCM_SHA384": false, "TLS_CHACHA20_POLY1305_SHA256": false}
		for _, name := range strings.Split(cs, ",") {
			name = strings.TrimSpace(name)
			if _, ok := tls13[name]; ok {
				tls13[name] = true
				continue
			}
			id, ok := byName[name]
			if !ok {
				return nil, refuse("ciphersuites", name+" is not a cipher suite coordd offers (Go's secure TLS 1.2 suites, IANA names)")
			}
			cfg.CipherSuites = append(cfg.CipherSuites, id)
		}
		if cfg.MaxVersion == tls.VersionTLS13 {
			for name, listed := range tls13 {
				if !listed {
					return nil, refuse("ciphersuites", "TLS 1.3 is enabled and its suites cannot be restricted here: list "+name+" (and the other TLS 1.3 suites) or set ssl.enabledProtocols=TLSv1.2")
				}
			}
		}
		if len(cfg.CipherSuites) == 0 && cfg.MinVersion < tls.VersionTLS13 {
			cfg.MinVersion = tls.VersionTLS13
		}
	}

	// What cannot be honoured.
	use("hostnameVerification", "sslProvider", "handshakeDetectionTimeoutMillis", "authProvider",
		"clientHostnameVerification", "crl", "ocsp", "context.supplier.class")
	if v := get("clientHostnameVerification"); v != "" {
		if b, _ := strconv.ParseBool(v); b && !strings.EqualFold(get("hostnameVerification"), "false") {
			return nil, refuse("clientHostnameVerification", "coordd does not verify client hostnames (ZooKeeper's default for the client port is not to)")
		}
	}
	for _, k := range []string{"crl", "ocsp"} {
		if b, _ := strconv.ParseBool(get(k)); b {
			return nil, refuse(k, "coordd does not check certificate revocation")
		}
	}
	if get("context.supplier.class") != "" {
		return nil, refuse("context.supplier.class", "coordd cannot load Java classes")
	}
	if ap := get("authProvider"); ap != "" && ap != "x509" {
		return nil, refuse("authProvider", "coordd authenticates TLS clients with the x509 provider only")
	}
	for k := range cp.ssl {
		if !known[k] {
			zc.Warnings = append(zc.Warnings, fmt.Sprintf("%s: unknown key ssl.%s ignored", cp.sslWhere[k], k))
		}
	}
	return cfg, nil
}

// pemType checks a key or trust store type: PEM, given or implied by the
// file name as ZooKeeper infers it.
func pemType(typ, path string) error {
	if typ == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".pem", ".crt", ".key", ".cer":
			return nil
		case ".jks", ".p12", ".pfx", ".bcfks":
			typ = strings.TrimPrefix(filepath.Ext(path), ".")
		default:
			return fmt.Errorf("cannot tell the type of %s: set its type to PEM", path)
		}
	}
	if !strings.EqualFold(typ, "PEM") {
		return fmt.Errorf("type %s: coordd reads PEM stores only (convert, e.g. openssl pkcs12 -in store.p12 -nodes -out store.pem)", typ)
	}
	return nil
}
