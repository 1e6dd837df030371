package recipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

func TestNodeCache(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	w := e.session()
	nc, err := NewNodeCache(ctx, e.session(), "/config/app")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close(ctx)
	if _, _, ok := nc.Get(); ok {
		t.Fatal("cache of a missing node says it exists")
	}
	// until waits for the cache to show want (nil: absent) at version.
	until := func(want []byte, version int32, numChildren int32) {
		t.Helper()
		for {
			ch := nc.Updated()
			data, st, ok := nc.Get()
			if (want == nil && !ok) || (ok && bytes.Equal(data, want) && st.Version == version && st.NumChildren == numChildren) {
				return
			}
			wait(t, ch, fmt.Sprintf("cache to show %q v%d", want, version))
		}
	}
	if err := ensurePath(ctx, w, "/config", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(ctx, "/config/app", []byte("v0"), coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	until([]byte("v0"), 0, 0)
	for i := 1; i <= 5; i++ {
		if _, err := w.SetData(ctx, "/config/app", []byte(fmt.Sprintf("v%d", i)), coord.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	until([]byte("v5"), 5, 0)
	if _, err := w.Create(ctx, "/config/app/child", nil, coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	until([]byte("v5"), 5, 1) // a child change updates the Stat
	if err := w.Delete(ctx, "/config/app/child", coord.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := w.Delete(ctx, "/config/app", coord.AnyVersion); err != nil {
		t.Fatal(err)
	}
	until(nil, 0, 0)
	if err := nc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, nc.Done(), "closed cache done")
	if !errors.Is(nc.Err(), ErrReleased) {
		t.Fatalf("Err after Close = %v", nc.Err())
	}
}

func TestNodeCacheSessionExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	s := e.session()
	nc, err := NewNodeCache(ctx, s, "/x")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := NewTreeCache(ctx, s, "/x")
	if err != nil {
		t.Fatal(err)
	}
	e.expire(s)
	wait(t, nc.Done(), "node cache stops")
	wait(t, tc.Done(), "tree cache stops")
	if !errors.Is(nc.Err(), coord.ErrSessionExpired) || !errors.Is(tc.Err(), coord.ErrSessionExpired) {
		t.Fatalf("Err = %v, %v", nc.Err(), tc.Err())
	}
}

// snapshotTree reads the subtree at root through s: path -> (data, Stat).
func snapshotTree(ctx context.Context, s *coord.Session, root string) (map[string]CachedNode, error) {
	out := map[string]CachedNode{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := s.GetData(ctx, p)
		if errors.Is(err, coord.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		out[p] = CachedNode{Path: p, Data: data, Stat: st}
		children, _, err := s.GetChildren(ctx, p)
		if errors.Is(err, coord.ErrNoNode) {
			return nil
		}
		for _, c := range children {
			if err := walk(join(p, c)); err != nil {
				return err
			}
		}
		return err
	}
	return out, walk(root)
}

// diffCache describes how the cache differs from want ("" if it does not).
func diffCache(tc *TreeCache, want map[string]CachedNode) string {
	paths := tc.Paths()
	var wantPaths []string
	for p := range want {
		wantPaths = append(wantPaths, p)
	}
	slices.Sort(wantPaths)
	if !slices.Equal(paths, wantPaths) {
		return fmt.Sprintf("paths %v, want %v", paths, wantPaths)
	}
	for _, p := range paths {
		got, _ := tc.Get(p)
		w := want[p]
		if !bytes.Equal(got.Data, w.Data) || got.Stat != w.Stat {
			return fmt.Sprintf("%s: %q %+v, want %q %+v", p, got.Data, got.Stat, w.Data, w.Stat)
		}
		children, _ := tc.Children(p)
		if int32(len(children)) != w.Stat.NumChildren {
			return fmt.Sprintf("%s: children %v, want %d", p, children, w.Stat.NumChildren)
		}
	}
	return ""
}

// TestTreeCacheConvergence makes random changes (creates, deletes, data
// changes, the whole subtree removed and rebuilt) under a cached root and
// checks that the cache converges to the tree, Stats included.
func TestTreeCacheConvergence(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			e := newEnv(t)
			ctx := timeout(t)
			w := e.session()
			rng := rand.New(rand.NewPCG(seed, 7))
			names := []string{"a", "b", "c"}
			randPath := func() string {
				p := "/tree"
				for d := rng.IntN(4); d > 0; d-- {
					p += "/" + names[rng.IntN(len(names))]
				}
				return p
			}
			step := func(i int) {
				p := randPath()
				switch rng.IntN(4) {
				case 0, 1:
					_, _ = w.Create(ctx, p, []byte(fmt.Sprint(i)), coord.Persistent, nil)
				case 2:
					_, _ = w.SetData(ctx, p, []byte(fmt.Sprint("set", i)), coord.AnyVersion)
				case 3:
					_ = w.Delete(ctx, p, coord.AnyVersion)
				}
			}
			for i := 0; i < 50; i++ { // some tree before the cache starts
				step(i)
			}
			tc, err := NewTreeCache(ctx, e.session(), "/tree")
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close(ctx)
			converge := func(what string) {
				t.Helper()
				want, err := snapshotTree(ctx, w, "/tree")
				if err != nil {
					t.Fatal(err)
				}
				deadline := time.After(10 * time.Second)
				for {
					ch := tc.Updated()
					d := diffCache(tc, want)
					if d == "" {
						return
					}
					select {
					case <-ch:
					case <-deadline:
						t.Fatalf("%s: cache did not converge: %s", what, d)
					}
				}
			}
			converge("initial load")
			for i := 0; i < 300; i++ {
				step(i)
				if i == 150 { // remove the whole subtree, then go on
					var del func(p string)
					del = func(p string) {
						children, _, _ := w.GetChildren(ctx, p)
						for _, c := range children {
							del(join(p, c))
						}
						_ = w.Delete(ctx, p, coord.AnyVersion)
					}
					del("/tree")
				}
			}
			converge("after random changes")
			if tc.Zxid() == 0 {
				t.Fatal("Zxid not advanced")
			}
		})
	}
}
