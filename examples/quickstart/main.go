// Command quickstart opens an in-process coord node and shows the basics:
// znodes with data, a sequential ephemeral node, and a watch firing.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/coordkit/coord"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// A Node with no peers is a one-node ensemble in memory.
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		return err
	}
	defer node.Close(ctx)

	// A session is what a ZooKeeper client has: ephemeral nodes and
	// watches belong to it.
	s, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		return err
	}
	defer s.Close(ctx)

	if _, err := s.Create(ctx, "/app", []byte("v1"), coord.Persistent, nil); err != nil {
		return err
	}
	data, st, err := s.GetData(ctx, "/app")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "/app = %q (version %d)\n", data, st.Version)

	// Sequential ephemeral nodes: the building block of locks and
	// elections. The node gets a 10-digit suffix and lives as long as the
	// session.
	for i := 0; i < 2; i++ {
		p, err := s.Create(ctx, "/app/worker-", nil, coord.EphemeralSequential, nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "created", p)
	}
	children, _, err := s.GetChildren(ctx, "/app")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "children of /app:", children)

	// A one-shot watch: set by a read, fired by the next change.
	_, _, changed, err := s.GetDataW(ctx, "/app")
	if err != nil {
		return err
	}
	other, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		return err
	}
	if _, err := other.SetData(ctx, "/app", []byte("v2"), 0); err != nil {
		return err
	}
	select {
	case ev := <-changed:
		fmt.Fprintf(out, "watch fired: %v on %s\n", ev.Type, ev.Path)
	case <-ctx.Done():
		return ctx.Err()
	}

	// Closing a session deletes its ephemeral nodes.
	if err := s.Close(ctx); err != nil {
		return err
	}
	children, _, err = other.GetChildren(ctx, "/app")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "after the session closed, children of /app:", children)
	return other.Close(ctx)
}
