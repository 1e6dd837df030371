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
	want := `client sees 1 instances: api-1@10.0.0.1:8080
client sees 2 instances: api-1@10.0.0.1:8080 api-2@10.0.0.2:8080
client sees 3 instances: api-1@10.0.0.1:8080 api-2@10.0.0.2:8080 api-3@10.0.0.3:8080
  request 0 -> api-1
  request 1 -> api-2
  request 2 -> api-3
  request 3 -> api-1
api-2 crashed
client sees 2 instances: api-1@10.0.0.1:8080 api-3@10.0.0.3:8080
  request 0 -> api-1
  request 1 -> api-3
api-4 started
client sees 3 instances: api-1@10.0.0.1:8080 api-3@10.0.0.3:8080 api-4@10.0.0.4:8080
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
