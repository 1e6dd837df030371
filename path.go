package coord

import (
	"strings"
	"unicode/utf8"
)

// ValidatePath reports whether p is a valid znode path by ZooKeeper's rules
// (PathUtils.validatePath): it starts with '/', has no trailing '/' (except
// the root), no empty segment, no "." or ".." segment, and none of U+0000,
// U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF, U+FFF0–U+FFFF, nor any
// character outside the Basic Multilingual Plane (Java sees those as
// surrogates) or any invalid UTF-8. The returned error wraps ErrBadArguments
// and says what is wrong.
func ValidatePath(p string) error {
	if reason := pathProblem(p); reason != "" {
		return &OpError{Op: "validatePath", Path: p, Err: ErrBadArguments, Detail: reason}
	}
	return nil
}

// validateCreatePath validates a create's path the way ZooKeeper's client
// does: a sequential prefix with a suffix digit appended, so "/a/" is fine.
func validateCreatePath(p string, sequential bool) error {
	if sequential {
		return ValidatePath(p + "1")
	}
	return ValidatePath(p)
}

func pathProblem(p string) string {
	switch {
	case p == "":
		return "path length must be > 0"
	case p[0] != '/':
		return "path must start with / character"
	case len(p) == 1:
		return ""
	case p[len(p)-1] == '/':
		return "path must not end with / character"
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			seg := p[segStart:i]
			switch seg {
			case "":
				return "empty node name specified"
			case ".", "..":
				return "relative paths not allowed"
			}
			segStart = i + 1
		}
	}
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && size <= 1 {
			return "invalid UTF-8"
		}
		switch {
		case r == 0:
			return "null character not allowed"
		case r > 0 && r <= 0x1f, r >= 0x7f && r <= 0x9f,
			r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0 && r <= 0xffff, r > 0xffff:
			return "invalid character"
		}
		i += size
	}
	return ""
}

// parentOf returns the parent path and the last segment; parentOf("/a") is
// ("/", "a"). It requires a path with at least one '/'.
func parentOf(p string) (parent, name string) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/", p[i+1:]
	}
	return p[:i], p[i+1:]
}

// joinChroot prefixes a client path with a chroot ("" means none).
func joinChroot(chroot, p string) string {
	if chroot == "" {
		return p
	}
	if p == "/" {
		return chroot
	}
	return chroot + p
}

// stripChroot maps a server path back into the chroot; paths outside it are
// returned unchanged.
func stripChroot(chroot, p string) string {
	if chroot == "" {
		return p
	}
	if p == chroot {
		return "/"
	}
	if strings.HasPrefix(p, chroot) && len(p) > len(chroot) && p[len(chroot)] == '/' {
		return p[len(chroot):]
	}
	return p
}
