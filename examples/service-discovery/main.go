// Command service-discovery shows a service registry on group membership.
//
// Three instances of an "api" service register under /services/api with
// their address as payload (ephemeral nodes: an instance that dies
// disappears from the registry by itself). A client watches the members
// and spreads requests over them. Then one instance crashes, a new one
// starts, and the client follows.
//
//	go run ./examples/service-discovery
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/recipe"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// instance is what an instance registers.
type instance struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

const registry = "/services/api"

func run(ctx context.Context, out io.Writer) error {
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		return err
	}
	defer node.Close(ctx)

	// start registers an instance from its own session (its own process).
	start := func(name, addr string) (*coord.Session, error) {
		s, err := node.NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			return nil, err
		}
		payload, _ := json.Marshal(instance{name, addr})
		if _, err := recipe.NewGroup(s, registry, nil).Join(ctx, payload); err != nil {
			return nil, err
		}
		return s, nil
	}

	client, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	updates := recipe.NewGroup(client, registry, nil).Watch(wctx)
	// await reads membership updates until there are want instances, and
	// returns them in registration order.
	await := func(want int) ([]instance, error) {
		for ms := range updates {
			if len(ms) != want {
				continue
			}
			var is []instance
			for _, m := range ms {
				var in instance
				if err := json.Unmarshal(m.Payload, &in); err != nil {
					return nil, err
				}
				is = append(is, in)
			}
			return is, nil
		}
		return nil, fmt.Errorf("watch ended: %w", ctx.Err())
	}
	show := func(is []instance) {
		var names []string
		for _, in := range is {
			names = append(names, in.Name+"@"+in.Addr)
		}
		fmt.Fprintf(out, "client sees %d instances: %s\n", len(is), strings.Join(names, " "))
	}
	route := func(is []instance, requests int) {
		for r := 0; r < requests; r++ {
			in := is[r%len(is)]
			fmt.Fprintf(out, "  request %d -> %s\n", r, in.Name)
		}
	}

	sessions := map[string]*coord.Session{}
	var current []instance
	for i, name := range []string{"api-1", "api-2", "api-3"} {
		s, err := start(name, fmt.Sprintf("10.0.0.%d:8080", i+1))
		if err != nil {
			return err
		}
		sessions[name] = s
		if current, err = await(i + 1); err != nil {
			return err
		}
		show(current)
	}
	route(current, 4)

	// api-2 crashes: it stops heartbeating and its session expires.
	if err := node.ExpireSession(ctx, sessions["api-2"].ID()); err != nil {
		return err
	}
	fmt.Fprintln(out, "api-2 crashed")
	if current, err = await(2); err != nil {
		return err
	}
	show(current)
	route(current, 2)

	if _, err := start("api-4", "10.0.0.4:8080"); err != nil {
		return err
	}
	fmt.Fprintln(out, "api-4 started")
	if current, err = await(3); err != nil {
		return err
	}
	show(current)
	return nil
}
