package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	want := `3 workers x 5 increments under the lock: counter = 15
slow holds the lock, then pauses
fast took the lock and wrote: counter = 16
slow wakes and writes: rejected, stale fencing token
slow's lease reports: lost (session expired)
counter = 16
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
