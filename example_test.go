package coord_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/coordkit/coord"
)

// Open starts a node. With a zero Config it is a single-node, in-memory
// ensemble, ready as soon as Open returns.
func ExampleOpen() {
	ctx := context.Background()
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close(ctx)

	s, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Create(ctx, "/config", []byte("replicas=3"), coord.Persistent, nil); err != nil {
		log.Fatal(err)
	}
	data, stat, err := s.GetData(ctx, "/config")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (version %d)\n", data, stat.Version)
	// Output: replicas=3 (version 0)
}

// A session's timeout is negotiated into the node's bounds; a chroot
// confines it to a subtree; credentials given up front act as AddAuth.
func ExampleNode_NewSession() {
	ctx := context.Background()
	node, err := coord.Open(ctx, coord.Config{TickTime: 100 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close(ctx)
	admin, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := admin.Create(ctx, "/app", nil, coord.Persistent, nil); err != nil {
		log.Fatal(err)
	}

	alice, err := node.NewSession(ctx, coord.SessionConfig{
		Timeout: time.Hour, // more than 20 ticks: clamped
		Chroot:  "/app",
		Auth:    []coord.Auth{{Scheme: "digest", Credentials: []byte("alice:secret")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("timeout:", alice.Timeout())

	// CreatorACL gives every permission to alice's identity, and only to it.
	p, err := alice.Create(ctx, "/private", []byte("s3cr3t"), coord.Persistent, coord.CreatorACL)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice created:", p)

	_, _, err = admin.GetData(ctx, "/app/private")
	fmt.Println("admin:", err)
	fmt.Println("is ErrNoAuth:", errors.Is(err, coord.ErrNoAuth))
	// Output:
	// timeout: 2s
	// alice created: /private
	// admin: coord: getData /app/private: zk: not authorized
	// is ErrNoAuth: true
}

// Ephemeral sequential nodes are the basis of leader election: each
// candidate creates one, the lowest sequence number leads, and a candidate
// whose session ends disappears with it.
func ExampleSession_Create() {
	ctx := context.Background()
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close(ctx)

	alice, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	bob, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := alice.Create(ctx, "/election", nil, coord.Persistent, nil); err != nil {
		log.Fatal(err)
	}
	for _, s := range []*coord.Session{alice, bob} {
		p, err := s.Create(ctx, "/election/candidate-", nil, coord.EphemeralSequential, nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("created", p)
	}
	leader := func() string {
		names, _, err := bob.GetChildren(ctx, "/election") // sorted
		if err != nil {
			log.Fatal(err)
		}
		return names[0]
	}
	fmt.Println("leader:", leader())

	if err := alice.Close(ctx); err != nil { // deletes alice's ephemeral node
		log.Fatal(err)
	}
	fmt.Println("leader:", leader())
	// Output:
	// created /election/candidate-0000000000
	// created /election/candidate-0000000001
	// leader: candidate-0000000000
	// leader: candidate-0000000001
}

// GetDataW reads a node and sets a one-shot watch: the channel receives
// the next change, then closes. The event is queued before the write that
// causes it returns.
func ExampleSession_GetDataW() {
	ctx := context.Background()
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close(ctx)
	reader, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	writer, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := writer.Create(ctx, "/feature-flag", []byte("off"), coord.Persistent, nil); err != nil {
		log.Fatal(err)
	}

	data, _, watch, err := reader.GetDataW(ctx, "/feature-flag")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("flag is %s\n", data)

	if _, err := writer.SetData(ctx, "/feature-flag", []byte("on"), -1); err != nil {
		log.Fatal(err)
	}
	ev := <-watch
	fmt.Println("event:", ev.Type, ev.Path)
	_, open := <-watch
	fmt.Println("watch still open:", open)

	data, _, err = reader.GetData(ctx, "/feature-flag")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("flag is %s\n", data)
	// Output:
	// flag is off
	// event: NodeDataChanged /feature-flag
	// watch still open: false
	// flag is on
}

// Multi applies several writes atomically. Here a task moves from a queue
// to a worker: the first attempt fails because the worker does not exist,
// and nothing changes; the second applies every op at one zxid.
func ExampleSession_Multi() {
	ctx := context.Background()
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close(ctx)
	s, err := node.NewSession(ctx, coord.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range []string{"/queue", "/queue/task-1", "/workers"} {
		if _, err := s.Create(ctx, p, nil, coord.Persistent, nil); err != nil {
			log.Fatal(err)
		}
	}

	claim := []coord.Op{
		&coord.DeleteOp{Path: "/queue/task-1", Version: 0},
		&coord.CreateOp{Path: "/workers/w1/task-1", Data: []byte("payload")},
	}
	results, err := s.Multi(ctx, claim...)
	fmt.Println("first attempt:", err)
	for i, r := range results {
		fmt.Printf("  op %d: %v\n", i, r.Err)
	}
	ok, _, _ := s.Exists(ctx, "/queue/task-1")
	fmt.Println("task still queued:", ok)

	if _, err := s.Create(ctx, "/workers/w1", nil, coord.Persistent, nil); err != nil {
		log.Fatal(err)
	}
	results, err = s.Multi(ctx, claim...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second attempt created", results[1].Path)
	ok, _, _ = s.Exists(ctx, "/queue/task-1")
	fmt.Println("task still queued:", ok)
	// Output:
	// first attempt: coord: multi /workers/w1/task-1: zk: node does not exist
	//   op 0: <nil>
	//   op 1: zk: node does not exist
	// task still queued: true
	// second attempt created /workers/w1/task-1
	// task still queued: false
}
