package recipe

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coordkit/coord"
)

func payloads(ms []Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Payload))
	}
	return strings.Join(out, ",")
}

func TestGroup(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	watcher := NewGroup(e.session(), "/groups/api", nil)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	updates := watcher.Watch(wctx)
	if ms := wait(t, updates, "first membership"); len(ms) != 0 {
		t.Fatalf("first membership %v", payloads(ms))
	}
	sessions := map[string]*coord.Session{}
	members := map[string]*Membership{}
	for _, name := range []string{"a:1", "b:2", "c:3"} {
		s := e.session()
		m, err := NewGroup(s, "/groups/api", nil).Join(ctx, []byte(name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(m.Name(), "__party__") || len(m.Name()) != 32+len("__party__") {
			t.Fatalf("member name %q is not kazoo's Party layout", m.Name())
		}
		sessions[name], members[name] = s, m
	}
	waitMembers := func(want string) {
		t.Helper()
		for {
			ms := wait(t, updates, "membership "+want)
			if payloads(ms) == want {
				return
			}
		}
	}
	waitMembers("a:1,b:2,c:3")
	if ms, err := watcher.Members(ctx); err != nil || payloads(ms) != "a:1,b:2,c:3" {
		t.Fatalf("Members = %v, %v", payloads(ms), err)
	}
	if err := members["b:2"].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	waitMembers("a:1,c:3")
	e.expire(sessions["a:1"])
	wait(t, members["a:1"].Done(), "expired member told")
	if !errors.Is(members["a:1"].Err(), coord.ErrSessionExpired) {
		t.Fatalf("Err = %v", members["a:1"].Err())
	}
	waitMembers("c:3")
	wcancel()
	for range updates { // closes after ctx ends
	}
}
