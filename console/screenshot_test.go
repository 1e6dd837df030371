package console

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/coordtest"
)

// TestScreenshots renders the tree and ensemble pages of a small demo
// ensemble to PNGs, for the README. It runs only when asked:
//
//	COORD_CONSOLE_SCREENSHOTS=../docs go test -run Screenshots ./console/
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("COORD_CONSOLE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set COORD_CONSOLE_SCREENSHOTS=DIR to write the console's screenshots there")
	}
	chromium(t)
	e := coordtest.NewEnsembleWith(t, 3, coordtest.Options{TickTime: 200 * time.Millisecond, ElectionTimeout: time.Second})
	leader := e.Leader()
	c := New(leader, Options{})
	t.Cleanup(func() { _ = c.Close() })
	mux := http.NewServeMux()
	mux.Handle("/ui/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx := context.Background()
	admin := e.Session(leader)
	mk := func(s *coord.Session, p, data string, mode coord.CreateMode, acl []coord.ACL) {
		t.Helper()
		if _, err := s.Create(ctx, p, []byte(data), mode, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	mk(admin, "/services", "", coord.Persistent, nil)
	mk(admin, "/services/api", `{"protocol":"http","port":8080,"healthCheck":"/healthz","owners":["platform"],"rollout":{"strategy":"canary","percent":10}}`, coord.Persistent, nil)
	mk(admin, "/services/billing", `{"protocol":"grpc","port":9090}`, coord.Persistent, nil)
	mk(admin, "/config", "", coord.Persistent, nil)
	mk(admin, "/config/feature-flags", `{"newCheckout":true,"darkMode":false}`, coord.Persistent, nil)
	mk(admin, "/config/secrets", "db-password=hunter2", coord.Persistent, coord.DigestACL(coord.PermAll, "ops", "ops"))
	mk(admin, "/locks", "", coord.Persistent, nil)
	mk(admin, "/jobs", "", coord.Persistent, nil)
	for i := range 3 {
		s := e.Session(e.Node(i))
		mk(s, fmt.Sprintf("/services/api/instance-%d", i+1), fmt.Sprintf(`{"host":"10.0.1.%d","port":8080}`, 11+i), coord.Ephemeral, nil)
		if _, _, _, err := s.GetDataW(ctx, "/config/feature-flags"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.GetChildrenW(ctx, "/services/api"); err != nil {
			t.Fatal(err)
		}
	}
	mk(admin, "/services/api/canary", "", coord.Persistent, nil)
	mk(admin, "/locks/leader-election", "", coord.Persistent, nil)
	lock := e.Session(leader)
	mk(lock, "/locks/leader-election/lock-0000000000", "worker-a", coord.Ephemeral, nil)

	// A varying write load for the charts.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := e.Session(e.Node(1))
		start := time.Now()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			el := time.Since(start).Seconds()
			rate := 60 + 45*math.Sin(el/3) + 20*math.Sin(el*1.7)
			if i%4 == 0 {
				_, _ = w.Create(ctx, fmt.Sprintf("/jobs/job-%05d", i), []byte("queued"), coord.Persistent, nil)
			} else {
				_, _ = w.SetData(ctx, "/config/feature-flags", []byte(fmt.Sprintf(`{"newCheckout":true,"darkMode":false,"rev":%d}`, i)), -1)
			}
			time.Sleep(time.Duration(float64(time.Second) / math.Max(rate, 5)))
		}
	}()
	defer func() { close(stop); <-done }()

	b := browser(t, 1280, 860)
	base := srv.URL + "/ui/"
	do(t, b, "log in", chromedp.Navigate(base+"login"),
		chromedp.SendKeys(chromedp.CSS("#user"), "ops"),
		chromedp.SendKeys(chromedp.CSS("#password"), "ops"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	shoot := func(name string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(b, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", filepath.Join(dir, name))
	}
	do(t, b, "tree page", chromedp.Navigate(base+"?path=%2Fservices%2Fapi"), chromedp.WaitVisible(chromedp.CSS("#data-text")))
	shoot("console-tree.png")

	do(t, b, "ensemble page", chromedp.Navigate(base+"ensemble"), chromedp.WaitVisible(chromedp.CSS("figure.chart")))
	time.Sleep(62 * time.Second) // let the charts fill
	shoot("console-ensemble.png")
}
