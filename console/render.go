package console

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coordkit/coord"
)

// maxShownData is how much of a znode's data a page shows.
const maxShownData = 64 << 10

// dataView is a znode's data as a page shows it.
type dataView struct {
	Kind      string // "empty", "text", "json", "binary"
	Text      string // text and json (pretty-printed)
	Hex       []hexLine
	Size      int
	Truncated bool
	// Edit is the data as the edit form shows it, in EditEncoding.
	Edit         string
	EditEncoding string // "text" or "hex"
}

type hexLine struct {
	Offset string
	Hex    string
	ASCII  string
}

func viewData(data []byte) dataView {
	v := dataView{Size: len(data), EditEncoding: "text"}
	if len(data) == 0 {
		v.Kind = "empty"
		return v
	}
	shown := data
	if len(shown) > maxShownData {
		shown, v.Truncated = shown[:maxShownData], true
	}
	if isText(data) {
		v.Edit = string(data)
		t := bytes.TrimSpace(data)
		if len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
			var buf bytes.Buffer
			if json.Indent(&buf, t, "", "  ") == nil && buf.Len() <= maxShownData {
				v.Kind, v.Text = "json", buf.String()
				return v
			}
		}
		v.Kind, v.Text = "text", string(shown)
		if v.Truncated {
			// Don't cut a rune in half.
			for len(v.Text) > 0 && !utf8.ValidString(v.Text) {
				v.Text = v.Text[:len(v.Text)-1]
			}
		}
		return v
	}
	v.Kind = "binary"
	v.Edit, v.EditEncoding = hex.EncodeToString(data), "hex"
	for off := 0; off < len(shown); off += 16 {
		end := min(off+16, len(shown))
		line := shown[off:end]
		var hx strings.Builder
		for i, b := range line {
			if i > 0 {
				hx.WriteByte(' ')
				if i == 8 {
					hx.WriteByte(' ')
				}
			}
			fmt.Fprintf(&hx, "%02x", b)
		}
		var asc strings.Builder
		for _, b := range line {
			if b >= 0x20 && b < 0x7f {
				asc.WriteByte(b)
			} else {
				asc.WriteByte('.')
			}
		}
		v.Hex = append(v.Hex, hexLine{Offset: fmt.Sprintf("%08x", off), Hex: hx.String(), ASCII: asc.String()})
	}
	return v
}

// isText reports whether data is UTF-8 without control characters other
// than tab, newline and carriage return.
func isText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// decodeData turns a form's data field into bytes.
func decodeData(s, encoding string) ([]byte, error) {
	switch encoding {
	case "", "text":
		return []byte(strings.ReplaceAll(s, "\r\n", "\n")), nil
	case "hex":
		s = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, errors.New("the data is not valid hex")
		}
		return b, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, errors.New("the data is not valid base64")
		}
		return b, nil
	}
	return nil, errors.New("unknown data encoding")
}

// ---------------------------------------------------------------------------
// ACLs

// permString renders perms as zkCli does: "cdrwa" letters.
func permString(p coord.Perm) string {
	var b strings.Builder
	for _, x := range []struct {
		p coord.Perm
		c byte
	}{{coord.PermCreate, 'c'}, {coord.PermDelete, 'd'}, {coord.PermRead, 'r'}, {coord.PermWrite, 'w'}, {coord.PermAdmin, 'a'}} {
		if p&x.p != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

func parsePerms(s string) (coord.Perm, error) {
	var p coord.Perm
	for _, c := range s {
		switch c {
		case 'c':
			p |= coord.PermCreate
		case 'd':
			p |= coord.PermDelete
		case 'r':
			p |= coord.PermRead
		case 'w':
			p |= coord.PermWrite
		case 'a':
			p |= coord.PermAdmin
		default:
			return 0, fmt.Errorf("unknown permission %q (use c, d, r, w, a)", c)
		}
	}
	if p == 0 {
		return 0, errors.New("no permissions given")
	}
	return p, nil
}

// formatACL renders an ACL list one entry a line, scheme:id:perms.
func formatACL(acl []coord.ACL) string {
	var lines []string
	for _, a := range acl {
		lines = append(lines, a.Scheme+":"+a.ID+":"+permString(a.Perms))
	}
	return strings.Join(lines, "\n")
}

// parseACL reads entries scheme:id:perms, separated by newlines or commas
// (zkCli's setAcl syntax). The id may itself hold colons (digest ids do).
func parseACL(s string) ([]coord.ACL, error) {
	var acl []coord.ACL
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		scheme, rest, ok := strings.Cut(f, ":")
		i := strings.LastIndexByte(rest, ':')
		if !ok || i < 0 || scheme == "" {
			return nil, fmt.Errorf("ACL entry %q: want scheme:id:perms", f)
		}
		perms, err := parsePerms(rest[i+1:])
		if err != nil {
			return nil, fmt.Errorf("ACL entry %q: %v", f, err)
		}
		acl = append(acl, coord.ACL{Scheme: scheme, ID: rest[:i], Perms: perms})
	}
	if len(acl) == 0 {
		return nil, errors.New("the ACL is empty")
	}
	return acl, nil
}

// ---------------------------------------------------------------------------
// Paths, stats, ids

type crumb struct {
	Name string
	Path string
}

func crumbs(p string) []crumb {
	out := []crumb{{Name: "/", Path: "/"}}
	if p == "/" {
		return out
	}
	acc := ""
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		acc += "/" + part
		out = append(out, crumb{Name: part, Path: acc})
	}
	return out
}

// cleanPath validates a path from a request; it does not resolve "." or
// ".." (ZooKeeper refuses them, and so will the engine).
func cleanPath(p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return "/"
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	return p
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func join(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

func sessionHex(id int64) string { return "0x" + strconv.FormatUint(uint64(id), 16) }

type statRow struct {
	Name  string
	Value string
	Note  string
}

func statRows(st coord.Stat) []statRow {
	ts := func(ms int64) string {
		if ms == 0 {
			return "—"
		}
		return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000 UTC")
	}
	owner := "0"
	note := "persistent"
	switch {
	case st.EphemeralOwner > 0:
		owner, note = sessionHex(st.EphemeralOwner), "ephemeral: the owning session"
	case st.EphemeralOwner < 0:
		owner, note = sessionHex(st.EphemeralOwner), "container or TTL node"
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []statRow{
		{"cZxid", i(st.Czxid), "change that created it"},
		{"ctime", ts(st.Ctime), ""},
		{"mZxid", i(st.Mzxid), "change that last set its data"},
		{"mtime", ts(st.Mtime), ""},
		{"pZxid", i(st.Pzxid), "last change to its children"},
		{"cversion", i(int64(st.Cversion)), "children changes"},
		{"dataVersion", i(int64(st.Version)), "data changes"},
		{"aclVersion", i(int64(st.Aversion)), "ACL changes"},
		{"ephemeralOwner", owner, note},
		{"dataLength", i(int64(st.DataLength)), "bytes"},
		{"numChildren", i(int64(st.NumChildren)), ""},
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
