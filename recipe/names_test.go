package recipe

import (
	"regexp"
	"strings"
	"testing"
)

func TestParseContender(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ok    bool
		seq   int64
		token string
	}{
		{"0123456789abcdef0123456789abcdef__lock__0000000007", true, 7, tokKazooLock},
		{"0123456789abcdef0123456789abcdef__rlock__0000000012", true, 12, tokKazooRead},
		{"_c_0a1b2c3d-0000-4000-8000-0123456789ab-lock-0000000003", true, 3, tokCuratorLock},
		{"lock-0000000004", true, 4, tokCuratorLock}, // Curator without protection
		{"_c_0a1b2c3d-0000-4000-8000-0123456789ab-__WRIT__0000000005", true, 5, tokCuratorWrite},
		{"_c_0a1b2c3d-0000-4000-8000-0123456789ab-__READ__0000000006", true, 6, tokCuratorRead},
		{"_c_0a1b2c3d-0000-4000-8000-0123456789ab-latch-0000000001", false, 0, ""}, // LeaderLatch: not a lock
		{"xlock-0000000004", false, 0, ""},
		{"0123__lock__000000007", false, 0, ""}, // 9 digits
		{"0123__lock__00000000x7", false, 0, ""},
		{"ready", false, 0, ""},
		{"entry-100-0000000001", false, 0, ""},
		{"", false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := parseContender(tc.name)
			if ok != tc.ok || (ok && (c.seq != tc.seq || c.token != tc.token)) {
				t.Fatalf("parseContender(%q) = %+v, %v; want seq %d token %q ok %v", tc.name, c, ok, tc.seq, tc.token, tc.ok)
			}
		})
	}
}

func FuzzParseContender(f *testing.F) {
	for _, s := range []string{"abc__lock__0000000001", "_c_x-lock-0000000002", "lock-", "__READ__0000000000", "-lock-1234567890"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, ok := parseContender(name)
		if ok && (c.name != name || c.seq < 0 || !strings.HasSuffix(name[:len(name)-seqLen], c.token)) {
			t.Fatalf("parseContender(%q) = %+v", name, c)
		}
	})
}

// TestLayoutNames checks the names this package writes against the rules
// the other libraries read them with (facts from their sources):
//   - kazoo Lock: prefix uuid.uuid4().hex + "__lock__", contender regex
//     (?:__lock__)(-?\d{10})$ (kazoo/recipe/lock.py); ReadLock "__rlock__".
//   - Curator protected mode: "_c_" + 36-character UUID + "-" (ProtectedUtils:
//     PROTECTED_PREFIX "_c_", separator at index 39, UUID.fromString), then
//     the lock name: "lock-" (InterProcessMutex.LOCK_NAME), "__READ__" /
//     "__WRIT__" (InterProcessReadWriteLock); sorting uses the text after the
//     last lock name (StandardLockInternalsDriver.standardFixForSorting).
func TestLayoutNames(t *testing.T) {
	kazooLock := regexp.MustCompile(`^[0-9a-f]{32}__lock__$`)
	kazooRead := regexp.MustCompile(`^[0-9a-f]{32}__rlock__$`)
	uuid := `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
	curator := func(tok string) *regexp.Regexp {
		return regexp.MustCompile(`^_c_` + uuid + `-` + regexp.QuoteMeta(tok) + `$`)
	}
	for _, tc := range []struct {
		layout Layout
		tok    string
		re     *regexp.Regexp
	}{
		{LayoutKazoo, tokKazooLock, kazooLock},
		{LayoutKazoo, tokKazooRead, kazooRead},
		{LayoutCurator, tokCuratorLock, curator("lock-")},
		{LayoutCurator, tokCuratorWrite, curator("__WRIT__")},
		{LayoutCurator, tokCuratorRead, curator("__READ__")},
	} {
		p := uniquePrefix(tc.layout, tc.tok)
		if !tc.re.MatchString(p) {
			t.Errorf("%v %s prefix %q does not match %v", tc.layout, tc.tok, p, tc.re)
		}
		name := p + "0000000042"
		c, ok := parseContender(name)
		if !ok || c.seq != 42 || c.token != tc.tok {
			t.Errorf("own name %q parses as %+v %v", name, c, ok)
		}
		if tc.layout == LayoutCurator {
			// Curator's isProtectedZNode and fixForSorting.
			if len(name) <= 40 || name[39] != '-' {
				t.Errorf("%q is not a Curator protected name", name)
			}
			if i := strings.LastIndex(name, tc.tok); name[i+len(tc.tok):] != "0000000042" {
				t.Errorf("Curator would sort %q by %q", name, name[i+len(tc.tok):])
			}
		} else {
			m := regexp.MustCompile(`(?:` + tc.tok + `)(-?\d{10})$`).FindStringSubmatch(name)
			if m == nil || m[1] != "0000000042" {
				t.Errorf("kazoo's regex reads %q as %v", name, m)
			}
		}
	}
}
