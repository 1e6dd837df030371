package main

import (
	"errors"
	"strings"
	"time"

	"github.com/coordkit/coord/zkwire"
)

// defaultPort is the port of a connect-string host given without one, as
// the Java client's ConnectStringParser assumes.
const defaultPort = "2181"

// connectString is a parsed ZooKeeper connect string,
// "h1:p1,h2:p2/chroot": the servers to try and the chroot ("" for none).
type connectString struct {
	hosts  []string
	chroot string
}

// parseConnectString splits a connect string as ConnectStringParser does:
// everything from the first '/' is the chroot ("/" alone meaning none,
// otherwise a valid absolute path), the rest comma-separated hosts, each
// with port 2181 when it names none.
func parseConnectString(s string) (connectString, error) {
	var cs connectString
	if i := strings.IndexByte(s, '/'); i >= 0 {
		chroot := s[i:]
		s = s[:i]
		if chroot != "/" {
			if err := validatePath(chroot); err != nil {
				return cs, err
			}
			cs.chroot = chroot
		}
	}
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		cs.hosts = append(cs.hosts, withPort(h))
	}
	if len(cs.hosts) == 0 {
		return cs, errors.New("no server address given")
	}
	return cs, nil
}

// withPort adds the default port to a host that has none: "h", "h:" and
// "[::1]" become "h:2181" and "[::1]:2181".
func withPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end >= 0 {
			rest := h[end+1:]
			if rest == "" || rest == ":" {
				return h[:end+1] + ":" + defaultPort
			}
			return h
		}
	}
	i := strings.LastIndexByte(h, ':')
	switch {
	case i < 0:
		return h + ":" + defaultPort
	case i == len(h)-1:
		return h + defaultPort
	}
	return h
}

// zkConn is a session seen through a chroot, as the Java client sees it:
// paths given are relative to the chroot (prefixed before sending), paths
// returned (created nodes, errors) are stripped of it. Without a chroot it
// is the client itself. Methods not redefined here take no path.
type zkConn struct {
	*zkwire.Client
	chroot string
}

// serverPath is ZooKeeper.prependChroot.
func (c *zkConn) serverPath(p string) string {
	if c.chroot == "" {
		return p
	}
	if len(p) == 1 {
		return c.chroot
	}
	return c.chroot + p
}

// clientPath strips the chroot from a path the server returned, as the
// Java client does for created paths.
func (c *zkConn) clientPath(p string) string {
	if c.chroot == "" || len(p) < len(c.chroot) {
		return p
	}
	return p[len(c.chroot):]
}

// eventPath is ClientCnxn's conversion of a notification's path: the
// chroot itself is "/", a longer path loses as many leading characters as
// the chroot has (even one outside the chroot, such as /zookeeper/config),
// a shorter one is kept.
func (c *zkConn) eventPath(p string) string {
	switch {
	case c == nil || c.chroot == "" || p == "":
		return p
	case p == c.chroot:
		return "/"
	case len(p) > len(c.chroot):
		return p[len(c.chroot):]
	}
	return p
}

// fix rewrites the path of a request error to the one the caller gave, as
// the Java client's KeeperExceptions carry the client path.
func (c *zkConn) fix(err error, clientPath string) error {
	var ke *zkwire.Error
	if c.chroot == "" || !errors.As(err, &ke) || ke.Path == "" {
		return err
	}
	return &zkwire.Error{Code: ke.Code, Path: clientPath}
}

func (c *zkConn) Create(path string, data []byte, acl []zkwire.ACL, flags int32) (string, error) {
	p, err := c.Client.Create(c.serverPath(path), data, acl, flags)
	if err != nil {
		return "", c.fix(err, path)
	}
	return c.clientPath(p), nil
}

func (c *zkConn) CreateTTL(path string, data []byte, acl []zkwire.ACL, flags int32, ttl time.Duration) (string, zkwire.Stat, error) {
	p, st, err := c.Client.CreateTTL(c.serverPath(path), data, acl, flags, ttl)
	if err != nil {
		return "", st, c.fix(err, path)
	}
	return c.clientPath(p), st, nil
}

func (c *zkConn) Delete(path string, version int32) error {
	return c.fix(c.Client.Delete(c.serverPath(path), version), path)
}

func (c *zkConn) Exists(path string, watch bool) (zkwire.Stat, bool, error) {
	st, ok, err := c.Client.Exists(c.serverPath(path), watch)
	return st, ok, c.fix(err, path)
}

func (c *zkConn) Get(path string, watch bool) ([]byte, zkwire.Stat, error) {
	data, st, err := c.Client.Get(c.serverPath(path), watch)
	return data, st, c.fix(err, path)
}

func (c *zkConn) Set(path string, data []byte, version int32) (zkwire.Stat, error) {
	st, err := c.Client.Set(c.serverPath(path), data, version)
	return st, c.fix(err, path)
}

func (c *zkConn) Children(path string, watch bool) ([]string, zkwire.Stat, error) {
	ch, st, err := c.Client.Children(c.serverPath(path), watch)
	return ch, st, c.fix(err, path)
}

func (c *zkConn) GetACL(path string) ([]zkwire.ACL, zkwire.Stat, error) {
	acl, st, err := c.Client.GetACL(c.serverPath(path))
	return acl, st, c.fix(err, path)
}

func (c *zkConn) SetACL(path string, acl []zkwire.ACL, version int32) (zkwire.Stat, error) {
	st, err := c.Client.SetACL(c.serverPath(path), acl, version)
	return st, c.fix(err, path)
}

func (c *zkConn) Sync(path string) (string, error) {
	p, err := c.Client.Sync(c.serverPath(path))
	return c.clientPath(p), c.fix(err, path)
}

func (c *zkConn) AddWatch(path string, mode int32) error {
	return c.fix(c.Client.AddWatch(c.serverPath(path), mode), path)
}

func (c *zkConn) RemoveWatches(path string, typ int32, local bool) error {
	return c.fix(c.Client.RemoveWatches(c.serverPath(path), typ, local), path)
}

func (c *zkConn) GetAllChildrenNumber(path string) (int, error) {
	n, err := c.Client.GetAllChildrenNumber(c.serverPath(path))
	return n, c.fix(err, path)
}

// GetEphemerals is the client's own: the Java client (3.8) sends the
// prefix as given and returns the server's paths, chroot or not.
func (c *zkConn) GetEphemerals(prefix string) ([]string, error) {
	return c.Client.GetEphemerals(prefix)
}

// Multi sends the ops with their paths under the chroot. As in the Java
// client, a failed multi's error names no path.
func (c *zkConn) Multi(ops ...zkwire.MultiOp) ([]zkwire.MultiResult, error) {
	if c.chroot != "" {
		ops = append([]zkwire.MultiOp(nil), ops...)
		for i, op := range ops {
			switch r := op.Req.(type) {
			case *zkwire.DeleteRequest:
				cp := *r
				cp.Path = c.serverPath(r.Path)
				ops[i].Req = &cp
			case *zkwire.CreateRequest:
				cp := *r
				cp.Path = c.serverPath(r.Path)
				ops[i].Req = &cp
			case *zkwire.SetDataRequest:
				cp := *r
				cp.Path = c.serverPath(r.Path)
				ops[i].Req = &cp
			case *zkwire.CheckVersionRequest:
				cp := *r
				cp.Path = c.serverPath(r.Path)
				ops[i].Req = &cp
			}
		}
	}
	res, err := c.Client.Multi(ops...)
	var ke *zkwire.Error
	if c.chroot != "" && errors.As(err, &ke) {
		err = &zkwire.Error{Code: ke.Code}
	}
	return res, err
}
