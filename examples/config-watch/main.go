// Command config-watch shows services following a configuration node.
//
// An operator session writes /config/app a few times and finally deletes
// it; two service sessions each keep a NodeCache of it (a persistent watch
// underneath). After each change the demo waits until both services' caches
// show it, and prints what each one sees.
//
//	go run ./examples/config-watch
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
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

const path = "/config/app"

func run(ctx context.Context, out io.Writer) error {
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		return err
	}
	defer node.Close(ctx)

	operator, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		return err
	}
	if _, err := operator.Create(ctx, "/config", nil, coord.Persistent, nil); err != nil {
		return err
	}

	printf := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	type service struct {
		name  string
		cache *recipe.NodeCache
	}
	var services []service
	for _, name := range []string{"billing", "search"} {
		s, err := node.NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			return err
		}
		c, err := recipe.NewNodeCache(ctx, s, path)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		services = append(services, service{name, c})
	}
	// await waits until every service's cache shows want (nil: no node) and
	// prints what each saw. An absent node is "removed" only once the config
	// has existed; before that there is no config yet.
	existed := false
	await := func(want []byte) error {
		for _, svc := range services {
			for {
				ch := svc.cache.Updated()
				data, st, ok := svc.cache.Get()
				if want == nil && !ok {
					if existed {
						printf("%-8s config removed\n", svc.name)
					} else {
						printf("%-8s no config yet\n", svc.name)
					}
					break
				}
				if ok && string(data) == string(want) {
					printf("%-8s config v%d: %s\n", svc.name, st.Version, data)
					break
				}
				select {
				case <-ch:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}

	if err := await(nil); err != nil {
		return err
	}
	versions := []string{`{"timeout":"1s"}`, `{"timeout":"2s"}`, `{"timeout":"2s","retries":3}`}
	for i, v := range versions {
		if i == 0 {
			_, err = operator.Create(ctx, path, []byte(v), coord.Persistent, nil)
		} else {
			_, err = operator.SetData(ctx, path, []byte(v), coord.AnyVersion)
		}
		if err != nil {
			return err
		}
		existed = true
		printf("operator wrote %s\n", v)
		if err := await([]byte(v)); err != nil {
			return err
		}
	}
	if err := operator.Delete(ctx, path, coord.AnyVersion); err != nil {
		return err
	}
	printf("operator deleted %s\n", path)
	return await(nil)
}
