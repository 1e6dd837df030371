package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/coordkit/coord/zkwire"
)

// printStat writes a stat as zkCli's StatPrinter does.
func printStat(w io.Writer, st zkwire.Stat) {
	fmt.Fprintf(w, "cZxid = 0x%x\n", uint64(st.Czxid))
	fmt.Fprintf(w, "ctime = %s\n", javaDate(st.Ctime))
	fmt.Fprintf(w, "mZxid = 0x%x\n", uint64(st.Mzxid))
	fmt.Fprintf(w, "mtime = %s\n", javaDate(st.Mtime))
	fmt.Fprintf(w, "pZxid = 0x%x\n", uint64(st.Pzxid))
	fmt.Fprintf(w, "cversion = %d\n", st.Cversion)
	fmt.Fprintf(w, "dataVersion = %d\n", st.Version)
	fmt.Fprintf(w, "aclVersion = %d\n", st.Aversion)
	fmt.Fprintf(w, "ephemeralOwner = 0x%x\n", uint64(st.EphemeralOwner))
	fmt.Fprintf(w, "dataLength = %d\n", st.DataLength)
	fmt.Fprintf(w, "numChildren = %d\n", st.NumChildren)
}

// javaDate formats milliseconds since the epoch as java.util.Date.toString
// does, in the local zone: "Sat Nov 21 23:58:23 UTC 2026".
func javaDate(ms int64) string {
	return time.UnixMilli(ms).Format("Mon Jan 02 15:04:05 MST 2006")
}

// javaString decodes bytes as Java's new String(b, UTF_8): each byte of a
// malformed sequence becomes U+FFFD.
func javaString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			sb.WriteRune(utf8.RuneError)
			b = b[1:]
			continue
		}
		sb.WriteRune(r)
		b = b[n:]
	}
	return sb.String()
}

// permString is ZKUtil.getPermString: the letters of perms in the order
// c d r w a.
func permString(perms int32) string {
	var sb strings.Builder
	for _, p := range []struct {
		bit int32
		c   byte
	}{{zkwire.PermCreate, 'c'}, {zkwire.PermDelete, 'd'}, {zkwire.PermRead, 'r'}, {zkwire.PermWrite, 'w'}, {zkwire.PermAdmin, 'a'}} {
		if perms&p.bit != 0 {
			sb.WriteByte(p.c)
		}
	}
	return sb.String()
}

// juteString is how jute's ToStringOutputArchive writes a string: a
// leading quote and %-escapes for NUL, LF, CR, comma, '}' and '%'.
func juteString(s string) string {
	var sb strings.Builder
	sb.WriteByte('\'')
	for _, r := range s {
		switch r {
		case 0:
			sb.WriteString("%00")
		case '\n':
			sb.WriteString("%0A")
		case '\r':
			sb.WriteString("%0D")
		case ',':
			sb.WriteString("%2C")
		case '}':
			sb.WriteString("%7D")
		case '%':
			sb.WriteString("%25")
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// printACL writes an ACL as getAcl does: the Id record's toString
// ("'world,'anyone" and a newline), then ": " and the permission letters.
func printACL(w io.Writer, acl []zkwire.ACL) {
	for _, a := range acl {
		fmt.Fprintf(w, "%s,%s\n: %s\n", juteString(a.ID.Scheme), juteString(a.ID.ID), permString(a.Perms))
	}
}

// parseACL is zkCli's AclParser: comma-separated scheme:id:perms, the id
// being everything between the first and the last colon. Malformed entries
// and unknown permission letters are reported on errw and skipped.
func parseACL(errw io.Writer, s string) []zkwire.ACL {
	acl := []zkwire.ACL{}
	for _, a := range javaSplit(s, ",") {
		first, last := strings.IndexByte(a, ':'), strings.LastIndexByte(a, ':')
		if first == -1 || first == last {
			fmt.Fprintf(errw, "%s does not have the form scheme:id:perm\n", a)
			continue
		}
		var perms int32
		for _, c := range a[last+1:] {
			switch c {
			case 'r':
				perms |= zkwire.PermRead
			case 'w':
				perms |= zkwire.PermWrite
			case 'c':
				perms |= zkwire.PermCreate
			case 'd':
				perms |= zkwire.PermDelete
			case 'a':
				perms |= zkwire.PermAdmin
			default:
				fmt.Fprintf(errw, "Unknown perm type: %c\n", c)
			}
		}
		acl = append(acl, zkwire.ACL{Perms: perms, ID: zkwire.ID{Scheme: a[:first], ID: a[first+1 : last]}})
	}
	return acl
}

// javaSplit is String.split for a literal separator: trailing empty
// strings are dropped (but "" splits to [""]).
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	if s == "" {
		return parts
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

var openACL = []zkwire.ACL{{Perms: zkwire.PermAll, ID: zkwire.ID{Scheme: "world", ID: "anyone"}}}

// validatePath is the Java client's PathUtils.validatePath, with its
// messages; positions count UTF-16 units as Java does.
func validatePath(path string) error {
	if path == "" {
		return cliErr("Path length must be > 0")
	}
	if path[0] != '/' {
		return cliErr("Path must start with / character")
	}
	if len(path) == 1 {
		return nil
	}
	if path[len(path)-1] == '/' {
		return cliErr("Path must not end with / character")
	}
	chars := utf16.Encode([]rune(path))
	reason := ""
	lastc := uint16('/')
	for i := 1; i < len(chars); lastc, i = chars[i], i+1 {
		c := chars[i]
		switch {
		case c == 0:
			reason = "null character not allowed @" + strconv.Itoa(i)
		case c == '/' && lastc == '/':
			reason = "empty node name specified @" + strconv.Itoa(i)
		case c == '.' && lastc == '.':
			if chars[i-2] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				reason = "relative paths not allowed @" + strconv.Itoa(i)
			}
		case c == '.':
			if chars[i-1] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				reason = "relative paths not allowed @" + strconv.Itoa(i)
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			reason = "invalid character @" + strconv.Itoa(i)
		}
		if reason != "" {
			return cliErr(`Invalid path string "` + path + `" caused by ` + reason)
		}
	}
	return nil
}

// javaList formats a list as Java's List.toString: "[a, b]".
func javaList(items []string) string {
	return "[" + strings.Join(items, ", ") + "]"
}

// ---------------------------------------------------------------------------
// Quotas, as ZooKeeper's StatsTrack and Quotas store them.

const (
	procZookeeper  = "/zookeeper"
	quotaZookeeper = "/zookeeper/quota"
	limitNode      = "zookeeper_limits"
	statNode       = "zookeeper_stats"
)

func quotaPath(path string) string { return quotaZookeeper + path }
func limitPath(path string) string { return quotaZookeeper + path + "/" + limitNode }
func statPath(path string) string  { return quotaZookeeper + path + "/" + statNode }

// statsTrack is ZooKeeper's StatsTrack: "count=N,bytes=M", followed, when
// other keys are set, by "=" and ";key=value" pairs in key order, e.g.
// "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=5".
type statsTrack map[string]int64

var pairsSeparator = regexp.MustCompile(`[,;]+`)

func parseStatsTrack(b []byte) statsTrack {
	st := statsTrack{}
	s := string(b)
	if s == "" {
		return st
	}
	for _, pair := range pairsSeparator.Split(s, -1) {
		if pair == "" {
			continue
		}
		kv := javaSplit(pair, "=")
		v := int64(-1)
		if len(kv) > 1 && kv[1] != "" {
			n, err := strconv.ParseInt(kv[1], 10, 64)
			if err != nil {
				continue
			}
			v = n
		}
		st[kv[0]] = v
	}
	return st
}

func (st statsTrack) get(k string) int64 {
	if v, ok := st[k]; ok {
		return v
	}
	return -1
}

func (st statsTrack) String() string {
	s := fmt.Sprintf("count=%d,bytes=%d", st.get("count"), st.get("bytes"))
	var keys []string
	for k := range st {
		if k != "count" && k != "bytes" {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		sort.Strings(keys)
		s += "="
		for _, k := range keys {
			s += ";" + k + "=" + strconv.FormatInt(st[k], 10)
		}
	}
	return s
}
