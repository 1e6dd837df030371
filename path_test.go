package coord

import (
	"errors"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// zkValidPath is an independent transcription of ZooKeeper's
// PathUtils.validatePath, run like Java over UTF-16 code units (so a
// character outside the BMP is two surrogates, which are invalid). Go
// strings may hold bytes that are not UTF-8, which Java strings cannot;
// those are invalid paths here.
func zkValidPath(path string) bool {
	if !utf8.ValidString(path) {
		return false
	}
	chars := utf16.Encode([]rune(path))
	n := len(chars)
	if n == 0 || chars[0] != '/' {
		return false
	}
	if n == 1 {
		return true
	}
	if chars[n-1] == '/' {
		return false
	}
	last := uint16('/')
	for i := 1; i < n; last, i = chars[i], i+1 {
		c := chars[i]
		switch {
		case c == 0:
			return false
		case c == '/' && last == '/':
			return false
		case c == '.' && last == '.':
			if chars[i-2] == '/' && (i+1 == n || chars[i+1] == '/') {
				return false
			}
		case c == '.':
			if chars[i-1] == '/' && (i+1 == n || chars[i+1] == '/') {
				return false
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			return false
		}
	}
	return true
}

var pathCases = []struct {
	path  string
	valid bool
}{
	{"/", true},
	{"/a", true},
	{"/a/b/c", true},
	{"/a.b", true},
	{"/.a", true},
	{"/a.", true},
	{"/...", true},
	{"/a/..b", true},
	{"/a/b..", true},
	{"/zookeeper", true},
	{"/ spaces are fine ", true},
	{"/\u00a0", true},        // first character after the C1 controls
	{"/\ud7ff", true},        // last character before the surrogates
	{"/\uf900", true},        // first character after the private use area
	{"/\uffef", true},        // last character before the specials
	{"/日本語/ünïcödé", true},   // the rest of the BMP
	{"/a-0000000001", true},  // a sequential name
	{"", false},              // empty
	{"a", false},             // relative
	{"a/b", false},           //
	{"/a/", false},           // trailing slash
	{"//", false},            //
	{"//a", false},           // empty segment
	{"/a//b", false},         //
	{"/.", false},            // relative segments
	{"/..", false},           //
	{"/a/.", false},          //
	{"/a/..", false},         //
	{"/./a", false},          //
	{"/a/../b", false},       //
	{"/\x00", false},         // null
	{"/a\x00b", false},       //
	{"/\x01", false},         // C0 controls
	{"/\x1f", false},         //
	{"/\x7f", false},         // DEL and the C1 controls
	{"/\u0080", false},       //
	{"/\u009f", false},       //
	{"/\ue000", false},       // private use
	{"/\uf8ff", false},       //
	{"/\ufff0", false},       // specials
	{"/\ufffd", false},       //
	{"/\uffff", false},       //
	{"/\U0001F600", false},   // outside the BMP: surrogates in Java
	{"/\U00010000", false},   //
	{"/\xff", false},         // not UTF-8
	{"/\xed\xa0\x80", false}, // an encoded surrogate is not UTF-8 either
	{"/a\xc3", false},        // truncated sequence
	{"/\xc0\xaf", false},     // overlong '/'
	{"/a/\t/b", false},       // tab
}

func TestValidatePath(t *testing.T) {
	for _, tc := range pathCases {
		t.Run(tc.path, func(t *testing.T) {
			err := ValidatePath(tc.path)
			if (err == nil) != tc.valid {
				t.Fatalf("ValidatePath(%q) = %v, want valid=%v", tc.path, err, tc.valid)
			}
			if zkValidPath(tc.path) != tc.valid {
				t.Fatalf("reference disagrees with the table on %q", tc.path)
			}
			if err == nil {
				return
			}
			var oe *OpError
			if !errors.Is(err, ErrBadArguments) || !errors.As(err, &oe) || oe.Path != tc.path || oe.Detail == "" {
				t.Fatalf("error %#v: want an OpError wrapping ErrBadArguments with path and detail", err)
			}
		})
	}
}

func TestValidateCreatePath(t *testing.T) {
	for _, tc := range []struct {
		path       string
		sequential bool
		valid      bool
	}{
		{"/a/", true, true}, // the suffix makes it a full name
		{"/", true, true},
		{"/a/", false, false},
		{"/a//", true, false},
		{"/a/.", true, true}, // becomes "/a/.1"
		{"/a/.", false, false},
	} {
		if err := validateCreatePath(tc.path, tc.sequential); (err == nil) != tc.valid {
			t.Errorf("validateCreatePath(%q, %v) = %v, want valid=%v", tc.path, tc.sequential, err, tc.valid)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	for _, tc := range []struct{ path, parent, name string }{
		{"/a", "/", "a"},
		{"/a/b", "/a", "b"},
		{"/a/b/c", "/a/b", "c"},
	} {
		if p, n := parentOf(tc.path); p != tc.parent || n != tc.name {
			t.Errorf("parentOf(%q) = %q, %q", tc.path, p, n)
		}
	}
	for _, tc := range []struct{ chroot, path, full string }{
		{"", "/a", "/a"},
		{"", "/", "/"},
		{"/app", "/", "/app"},
		{"/app", "/a", "/app/a"},
		{"/app/x", "/a/b", "/app/x/a/b"},
	} {
		if got := joinChroot(tc.chroot, tc.path); got != tc.full {
			t.Errorf("joinChroot(%q, %q) = %q, want %q", tc.chroot, tc.path, got, tc.full)
		}
		if got := stripChroot(tc.chroot, tc.full); got != tc.path {
			t.Errorf("stripChroot(%q, %q) = %q, want %q", tc.chroot, tc.full, got, tc.path)
		}
	}
	// Paths outside the chroot come back unchanged, a shared prefix included.
	for _, p := range []string{"/apple", "/ap", "/other/app"} {
		if got := stripChroot("/app", p); got != p {
			t.Errorf("stripChroot(/app, %q) = %q", p, got)
		}
	}
}

func FuzzValidatePath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidatePath(p)
		if want := zkValidPath(p); (err == nil) != want {
			t.Fatalf("ValidatePath(%q) = %v; ZooKeeper's rules say valid=%v", p, err, want)
		}
		if err != nil && !errors.Is(err, ErrBadArguments) {
			t.Fatalf("ValidatePath(%q) error %v does not wrap ErrBadArguments", p, err)
		}
	})
}
