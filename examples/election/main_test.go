package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node ensemble over TCP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s(ran in %v)", out.String(), time.Since(start))
	want := regexp.MustCompile(`^3 nodes up over loopback TCP
(node-\d) leads \(fencing token \d+\)
the other two candidates wait, each watching the one ahead of it
node-\d stopped; its session expires after 600ms without heartbeats
node-\d leads \(fencing token \d+\), failover took [0-9.]+m?s
storage fenced with tokens rejects the old leader's writes: \d+ < \d+
$`)
	if !want.MatchString(out.String()) {
		t.Fatalf("output:\n%s", out.String())
	}
}
