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
	// "config removed" only after the config existed and was deleted.
	want := `billing  no config yet
search   no config yet
operator wrote {"timeout":"1s"}
billing  config v0: {"timeout":"1s"}
search   config v0: {"timeout":"1s"}
operator wrote {"timeout":"2s"}
billing  config v1: {"timeout":"2s"}
search   config v1: {"timeout":"2s"}
operator wrote {"timeout":"2s","retries":3}
billing  config v2: {"timeout":"2s","retries":3}
search   config v2: {"timeout":"2s","retries":3}
operator deleted /config/app
billing  config removed
search   config removed
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
