package coord

// Authorize checks credentials as ZooKeeper's AdminServer checks the
// Authorization header of a command that needs it: the credentials of
// scheme ("digest", with "user:password", as AddAuth takes them; or "ip",
// with no credentials) and the client's address (scheme "ip") must be granted every bit of perm by the
// ACL of the node at path, or be the super digest. It returns nil,
// ErrAuthFailed (credentials not understood), ErrNoNode (no node at path)
// or ErrNoAuth (not granted).
func (n *Node) Authorize(scheme string, cred []byte, clientIP, path string, perm Perm) error {
	var ids []ID
	switch scheme {
	case "ip": // ZooKeeper's IPAuthenticationProvider: the address is the credential
		if clientIP == "" {
			return ErrAuthFailed
		}
	default:
		var err error
		if ids, err = authenticate(scheme, cred, n.cfg.SuperDigest); err != nil || len(ids) == 0 {
			return ErrAuthFailed
		}
	}
	if clientIP != "" {
		ids = append(ids, ID{Scheme: "ip", ID: clientIP})
	}
	f := n.fsm
	f.mu.RLock()
	defer f.mu.RUnlock()
	z, ok := f.t.nodes[path]
	if !ok {
		return ErrNoNode
	}
	// Each bit on its own, as ZooKeeper's handleAuthorization.
	for b := Perm(1); b != 0 && b <= perm; b <<= 1 {
		if perm&b != 0 && !f.t.perm(z, b, ids) {
			return ErrNoAuth
		}
	}
	return nil
}
