package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	want := `/app = "v1" (version 0)
created /app/worker-0000000000
created /app/worker-0000000001
children of /app: [worker-0000000000 worker-0000000001]
watch fired: NodeDataChanged on /app
after the session closed, children of /app: []
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
