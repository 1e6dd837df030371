package recipe

import (
	"context"
	"errors"
	"strings"

	"github.com/coordkit/coord"
)

// ensurePath creates p and its missing ancestors as persistent nodes with
// empty data, as kazoo's ensure_path does. Nodes that exist are left alone.
func ensurePath(ctx context.Context, c conn, p string, acl []coord.ACL) error {
	if p == "/" {
		return nil
	}
	if ok, _, err := c.Exists(ctx, p); err != nil || ok {
		return err
	}
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		_, _, err := c.CreateStat(ctx, p[:i], nil, coord.Persistent, acl, 0)
		if err != nil && !errors.Is(err, coord.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// join returns dir + "/" + name.
func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// base returns the last segment of p.
func base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }
