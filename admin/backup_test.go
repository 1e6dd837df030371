package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/admin"
)

// ZooKeeper 3.9's snapshot command (streaming, its default) and restore
// command, authenticated: a backup taken over HTTP restores over HTTP.
func TestSnapshotStreamAndRestore(t *testing.T) {
	ctx := context.Background()
	super := coord.DigestID("super", "secret")
	n, err := coord.Open(ctx, coord.Config{SuperDigest: super})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	s, err := n.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/kept", []byte("v1"), coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.New(admin.Config{Node: n}))
	defer srv.Close()
	do := func(method, path string, body io.Reader, auth string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	if resp := do("GET", "/commands/snapshot", nil, ""); resp.StatusCode != 401 {
		t.Fatalf("snapshot without credentials: %d", resp.StatusCode)
	}
	resp := do("GET", "/commands/snapshot?streaming=true", nil, "digest super:secret")
	backup, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("snapshot: %d %v %v", resp.StatusCode, resp.Header, err)
	}
	info, err := coord.VerifyBackup(bytes.NewReader(backup))
	if err != nil {
		t.Fatalf("the streamed backup does not verify: %v", err)
	}
	if want := "0x" + strconv.FormatInt(info.Zxid, 16); resp.Trailer.Get("last_zxid") != want {
		t.Errorf("last_zxid trailer %q, want %q", resp.Trailer.Get("last_zxid"), want)
	}

	// The tree moves on; the restore brings it back.
	if _, err := s.SetData(ctx, "/kept", []byte("v2"), coord.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if resp := do("GET", "/commands/restore", nil, "digest super:secret"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("restore by GET: %d", resp.StatusCode)
	}
	if resp := do("POST", "/commands/restore", bytes.NewReader(backup), ""); resp.StatusCode != 401 {
		t.Fatalf("restore without credentials: %d", resp.StatusCode)
	}
	resp = do("POST", "/commands/restore", bytes.NewReader(backup), "digest super:secret")
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var answer map[string]any
	if err := json.Unmarshal(out, &answer); err != nil || resp.StatusCode != 200 || answer["command"] != "restore" ||
		answer["error"] != nil || answer["last_zxid"] != float64(info.Zxid) {
		t.Fatalf("restore: %d %s", resp.StatusCode, out)
	}
	s2, err := n.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if data, _, err := s2.GetData(ctx, "/kept"); err != nil || string(data) != "v1" {
		t.Fatalf("after the restore: %q, %v", data, err)
	}
	if resp := do("POST", "/commands/restore", strings.NewReader("not a backup"), "digest super:secret"); resp.StatusCode != 500 {
		t.Fatalf("restore of junk: %d", resp.StatusCode)
	}
}

// The web console is served at /ui/ unless turned off.
func TestConsoleMounted(t *testing.T) {
	ctx := context.Background()
	n, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	for _, off := range []bool{false, true} {
		h := admin.New(admin.Config{Node: n, NoConsole: off})
		srv := httptest.NewServer(h)
		resp, err := http.Get(srv.URL + "/ui/?path=/zookeeper")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		h.Close()
		served := resp.StatusCode == 200 && strings.Contains(string(body), "/zookeeper/quota")
		if served == off {
			t.Errorf("NoConsole=%v: status %d, console served %v", off, resp.StatusCode, served)
		}
	}
}
