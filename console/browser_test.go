package console

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coordkit/coord"
)

// chromium finds a headless-capable Chromium. Without one the browser tests
// skip, except under CI (CI=true), where .ci/run installs it and its
// absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium (/usr/bin/chromium): the browser tests need it under CI; .ci/run installs Debian's chromium")
	}
	t.Skip("no Chromium found (apt-get install chromium): skipping the browser tests")
	return ""
}

// browser starts a headless Chromium and returns a tab's context; each call
// is a fresh browser, with its own cookies.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, without a deadline (the first Run's context
	// owns the browser's lifetime).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// do runs steps with a deadline.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		// Say where the browser was, to tell a wrong page from a slow one.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(sctx, chromedp.Location())
		body, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func TestBrowserAnonymousViewer(t *testing.T) {
	f := newFixture(t, Options{})
	f.create("/app", `{"service":"demo"}`, nil)
	f.create("/app/config", "color=blue", nil)
	f.create("/secret", "s3cret-value", coord.DigestACL(coord.PermAll, "alice", "pw"))
	f.create("/xss", `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`, nil)
	ctx := browser(t, 1280, 900)
	base := f.srv.URL + "/ui/"

	// Navigate the tree by links, breadcrumbs and the path box.
	do(t, ctx, "open the root", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`a[href="./?path=%2Fapp"]`)))
	do(t, ctx, "follow /app", chromedp.Click(chromedp.CSS(`#children a[href="./?path=%2Fapp"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#data-text`)))
	if got := text(t, ctx, "h1.path"); got != "/app" {
		t.Fatalf("heading %q after following /app", got)
	}
	if got := text(t, ctx, "#data-text"); !strings.Contains(got, `"service": "demo"`) {
		t.Errorf("/app's JSON shown as %q", got)
	}
	do(t, ctx, "follow config", chromedp.Click(chromedp.CSS(`#children a[href="./?path=%2Fapp%2Fconfig"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.crumbs a[href="./?path=%2Fapp"]`)))
	if got := text(t, ctx, "#data-text"); got != "color=blue" {
		t.Errorf("/app/config data %q", got)
	}
	do(t, ctx, "breadcrumb to /", chromedp.Click(chromedp.CSS(`.crumbs a[href="./?path=%2F"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#children a[href="./?path=%2Fsecret"]`)))
	do(t, ctx, "path box", chromedp.SetValue(chromedp.CSS("#pathbox"), "/app/config"),
		chromedp.Submit(chromedp.CSS("#pathbox")), chromedp.WaitVisible(chromedp.CSS(`.crumbs a[href="./?path=%2Fapp"]`)))
	if got := text(t, ctx, "h1.path"); got != "/app/config" {
		t.Errorf("the path box led to %q", got)
	}

	// The path box completes from the typed directory's children.
	do(t, ctx, "type in the path box", chromedp.Evaluate[chromedp.Void](`document.getElementById('pathbox').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#pathbox"), "/app/c"))
	deadline := time.Now().Add(5 * time.Second)
	for eval[string](t, ctx, `Array.from(document.querySelectorAll('#completions option')).map(o => o.value).join(',')`) != "/app/config" {
		if time.Now().After(deadline) {
			t.Fatal("no completion /app/config for /app/c")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A denied znode's data is withheld from the anonymous viewer.
	do(t, ctx, "open /secret", chromedp.Navigate(base+"?path=%2Fsecret"), chromedp.WaitVisible(chromedp.CSS("#data-denied")))
	if html := eval[string](t, ctx, `document.body.innerText`); strings.Contains(html, "s3cret-value") {
		t.Error("the anonymous viewer sees /secret's data")
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('form[action="set"], form[action="create"], form[action="delete"]').length`); n != 0 {
		t.Errorf("the anonymous viewer is offered %d edit forms", n)
	}

	// Markup in data is text: nothing runs.
	do(t, ctx, "open /xss", chromedp.Navigate(base+"?path=%2Fxss"), chromedp.WaitVisible(chromedp.CSS("#data-text")))
	time.Sleep(200 * time.Millisecond)
	if pwned := eval[bool](t, ctx, `window.__pwned !== undefined`); pwned {
		t.Fatal("a znode's data ran as script")
	}
	if got := text(t, ctx, "#data-text"); !strings.Contains(got, "<script>window.__pwned=2</script>") {
		t.Errorf("the data is not shown as text: %q", got)
	}

	// A new child appears on an open page without a reload.
	do(t, ctx, "open /app", chromedp.Navigate(base+"?path=%2Fapp"), chromedp.WaitVisible(chromedp.CSS("#children")))
	do(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__samePage = true`))
	f.create("/app/new-child", "hello", nil)
	do(t, ctx, "the new child appears", chromedp.WaitVisible(chromedp.CSS(`#children a[href="./?path=%2Fapp%2Fnew-child"]`)))
	if !eval[bool](t, ctx, `window.__samePage === true`) {
		t.Error("the page reloaded instead of updating")
	}

	// Keyboard: the first Tab reaches the skip link, which shows.
	do(t, ctx, "tab", chromedp.Navigate(base), chromedp.KeyEvent("\t"))
	if got := eval[string](t, ctx, `document.activeElement.className + '|' + getComputedStyle(document.activeElement).left`); !strings.HasPrefix(got, "skip|") || strings.HasSuffix(got, "-999px") {
		t.Errorf("after one Tab the focus is on %q, want the visible skip link", got)
	}
}

func TestBrowserAuthenticatedEdit(t *testing.T) {
	f := newFixture(t, Options{})
	f.create("/app", "", nil)
	f.create("/app/config", "color=blue", coord.DigestACL(coord.PermAll, "alice", "pw"))
	ctx := browser(t, 1280, 900)
	base := f.srv.URL + "/ui/"

	do(t, ctx, "log in", chromedp.Navigate(base+"login?next=%2Fapp%2Fconfig"),
		chromedp.SendKeys(chromedp.CSS("#user"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "pw"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#data-text")))
	if got := text(t, ctx, ".who .user"); got != "alice" {
		t.Errorf("logged in as %q", got)
	}
	if got := text(t, ctx, "#data-text"); got != "color=blue" {
		t.Fatalf("alice reads %q", got)
	}
	do(t, ctx, "edit the data",
		chromedp.Click(chromedp.CSS("#data details.edit summary")),
		chromedp.WaitVisible(chromedp.CSS("#s-data")),
		chromedp.SetValue(chromedp.CSS("#s-data"), "color=green"),
		chromedp.Click(chromedp.CSS(`#data form[action="set"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[data-done="set"]`)))
	if got := text(t, ctx, "#data-text"); got != "color=green" {
		t.Errorf("after saving the page shows %q", got)
	}
	data, st, err := f.s.GetData(context.Background(), "/app/config")
	if err != nil || string(data) != "color=green" || st.Version != 1 {
		t.Fatalf("the engine has %q (version %d), %v", data, st.Version, err)
	}

	// Create a child through the form, then delete it.
	do(t, ctx, "create a child", chromedp.Navigate(base+"?path=%2Fapp"),
		chromedp.Click(chromedp.CSS("#children details.edit summary")),
		chromedp.SendKeys(chromedp.CSS("#c-name"), "made-in-browser"),
		chromedp.SetValue(chromedp.CSS("#c-data"), "<b>bold?</b>"),
		chromedp.Click(chromedp.CSS(`form[action="create"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[data-done="created"]`)))
	if got := text(t, ctx, "h1.path"); got != "/app/made-in-browser" {
		t.Fatalf("after create the page shows %q", got)
	}
	if got := text(t, ctx, "#data-text"); got != "<b>bold?</b>" {
		t.Errorf("the new child's data shows as %q", got)
	}
	do(t, ctx, "delete it",
		chromedp.Click(chromedp.CSS(`form[action="delete"] input[name="confirm"]`)),
		chromedp.Click(chromedp.CSS(`form[action="delete"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[data-done="deleted"]`)))
	if ok, _, _ := f.s.Exists(context.Background(), "/app/made-in-browser"); ok {
		t.Error("the child survived its delete")
	}

	// After logging out, the same browser is anonymous and denied again.
	do(t, ctx, "log out", chromedp.Click(chromedp.CSS(`form[action="logout"] button`)), chromedp.WaitVisible(chromedp.CSS(".who .anon")))
	do(t, ctx, "reopen", chromedp.Navigate(base+"?path=%2Fapp%2Fconfig"), chromedp.WaitVisible(chromedp.CSS("#data-denied")))
}
