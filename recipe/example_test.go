package recipe_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/coordkit/coord"
	"github.com/coordkit/coord/recipe"
)

// open starts an in-process node and n sessions on it: each session stands
// for a process of a distributed program.
func open(n int) (*coord.Node, []*coord.Session) {
	ctx := context.Background()
	node, err := coord.Open(ctx, coord.Config{})
	if err != nil {
		log.Fatal(err)
	}
	var ss []*coord.Session
	for i := 0; i < n; i++ {
		s, err := node.NewSession(ctx, coord.SessionConfig{})
		if err != nil {
			log.Fatal(err)
		}
		ss = append(ss, s)
	}
	return node, ss
}

func ExampleMutex() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)

	a := recipe.NewMutex(s[0], "/locks/db", recipe.Options{Identifier: []byte("worker-a")})
	b := recipe.NewMutex(s[1], "/locks/db", recipe.Options{Identifier: []byte("worker-b")})

	lease, err := a.Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("a holds the lock")
	if _, err := b.TryLock(ctx); errors.Is(err, recipe.ErrWouldBlock) {
		fmt.Println("b would block")
	}
	// Pass lease.Token() with every write to storage that rejects lower
	// tokens; stop writing when lease.Done() closes.
	tokenA := lease.Token()
	if err := lease.Unlock(ctx); err != nil {
		log.Fatal(err)
	}
	lb, err := b.Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("b holds the lock; its token is higher:", lb.Token() > tokenA)
	_ = lb.Unlock(ctx)
	// Output:
	// a holds the lock
	// b would block
	// b holds the lock; its token is higher: true
}

func ExampleLease_Done() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)

	lease, err := recipe.NewMutex(s[0], "/locks/job", recipe.Options{}).Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// The holder's session expires (in production: it stopped heartbeating
	// for longer than its timeout).
	if err := node.ExpireSession(ctx, s[0].ID()); err != nil {
		log.Fatal(err)
	}
	<-lease.Done()
	fmt.Println("lock lost, session expired:", errors.Is(lease.Err(), coord.ErrSessionExpired))
	if _, err := recipe.NewMutex(s[1], "/locks/job", recipe.Options{}).Lock(ctx); err == nil {
		fmt.Println("another process took the lock")
	}
	// Output:
	// lock lost, session expired: true
	// another process took the lock
}

// fencedStore stands for a storage service outside coord that takes
// fencing tokens: it remembers the highest token it has seen and rejects
// writes carrying a lower one.
type fencedStore struct {
	mu      sync.Mutex
	highest int64
	value   string
}

func (st *fencedStore) Write(token int64, value string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if token < st.highest {
		return fmt.Errorf("token %d rejected: it has seen a higher one", token)
	}
	st.highest, st.value = token, value
	return nil
}

// A holder paused (GC, a stopped VM) past its session timeout loses the
// lock without running, and when it wakes it may not yet have seen Done
// close. Its fencing token keeps its late write out of the storage.
func ExampleLease_Token() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)
	var store fencedStore

	a, err := recipe.NewMutex(s[0], "/locks/db", recipe.Options{}).Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("a writes:", store.Write(a.Token(), "from a"))

	// a pauses; its session expires meanwhile, deleting its lock node.
	if err := node.ExpireSession(ctx, s[0].ID()); err != nil {
		log.Fatal(err)
	}
	b, err := recipe.NewMutex(s[1], "/locks/db", recipe.Options{}).Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("b writes:", store.Write(b.Token(), "from b"))

	// a wakes up and writes before checking Done.
	fmt.Println("a writes late:", store.Write(a.Token(), "late, from a") != nil)
	fmt.Println("stored:", store.value)
	<-a.Done()
	fmt.Println("a's lease lost, session expired:", errors.Is(a.Err(), coord.ErrSessionExpired))
	_ = b.Unlock(ctx)
	// Output:
	// a writes: <nil>
	// b writes: <nil>
	// a writes late: true
	// stored: from b
	// a's lease lost, session expired: true
}

func ExampleElection() {
	ctx := context.Background()
	node, s := open(3)
	defer node.Close(ctx)

	octx, stop := context.WithCancel(ctx)
	defer stop()
	observed := recipe.NewElection(s[2], "/election/app", recipe.Options{}).Observe(octx)
	fmt.Printf("leader: %q\n", (<-observed).Identifier) // nobody yet
	// next skips moments with no leader (between a resignation and the
	// successor's turn).
	next := func() []byte {
		for l := range observed {
			if l.Path != "" {
				return l.Identifier
			}
		}
		return nil
	}

	alice := recipe.NewElection(s[0], "/election/app", recipe.Options{Identifier: []byte("alice")})
	bob := recipe.NewElection(s[1], "/election/app", recipe.Options{Identifier: []byte("bob")})
	la, err := alice.Campaign(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("leader: %q\n", next())

	won := make(chan *recipe.Leadership)
	go func() {
		l, err := bob.Campaign(ctx) // blocks while alice leads
		if err != nil {
			log.Fatal(err)
		}
		won <- l
	}()
	_ = la.Resign(ctx)
	lb := <-won
	fmt.Printf("leader: %q\n", next())
	leader, _ := alice.Leader(ctx)
	fmt.Printf("Leader() says %q; token increased: %v\n", leader.Identifier, lb.Token() > la.Token())
	// Output:
	// leader: ""
	// leader: "alice"
	// leader: "bob"
	// Leader() says "bob"; token increased: true
}

func ExampleRWMutex() {
	ctx := context.Background()
	node, s := open(3)
	defer node.Close(ctx)

	r1, _ := recipe.NewRWMutex(s[0], "/rw/cfg", recipe.Options{}).RLock(ctx)
	r2, err := recipe.NewRWMutex(s[1], "/rw/cfg", recipe.Options{}).TryRLock(ctx)
	fmt.Println("two readers at once:", err == nil)
	w := recipe.NewRWMutex(s[2], "/rw/cfg", recipe.Options{})
	_, err = w.TryLock(ctx)
	fmt.Println("writer while reading:", err)
	_ = r1.Unlock(ctx)
	_ = r2.Unlock(ctx)
	wl, err := w.Lock(ctx)
	fmt.Println("writer after readers:", err == nil)
	_ = wl.Unlock(ctx)
	// Output:
	// two readers at once: true
	// writer while reading: recipe: would block
	// writer after readers: true
}

func ExampleSemaphore() {
	ctx := context.Background()
	node, s := open(3)
	defer node.Close(ctx)

	var leases []*recipe.Lease
	for i := 0; i < 3; i++ {
		sem := recipe.NewSemaphore(s[i], "/sem/slots", 2, recipe.Options{Identifier: []byte(fmt.Sprint("w", i))})
		l, err := sem.TryAcquire(ctx)
		fmt.Printf("w%d: %v\n", i, err)
		if err == nil {
			leases = append(leases, l)
		}
	}
	_ = leases[0].Unlock(ctx)
	l, err := recipe.NewSemaphore(s[2], "/sem/slots", 2, recipe.Options{}).Acquire(ctx)
	fmt.Println("w2 after a release:", err)
	_ = l.Unlock(ctx)
	// Output:
	// w0: <nil>
	// w1: <nil>
	// w2: recipe: would block
	// w2 after a release: <nil>
}

func ExampleBarrier() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)

	gate := recipe.NewBarrier(s[0], "/barriers/start", nil)
	_ = gate.Set(ctx)
	released := make(chan struct{})
	go func() {
		_ = recipe.NewBarrier(s[1], "/barriers/start", nil).Wait(ctx)
		close(released)
	}()
	fmt.Println("workers wait at the barrier")
	_, _ = gate.Remove(ctx)
	<-released
	fmt.Println("released")
	// Output:
	// workers wait at the barrier
	// released
}

func ExampleDoubleBarrier() {
	ctx := context.Background()
	node, s := open(3)
	defer node.Close(ctx)

	done := make(chan string)
	for i := range s {
		b := recipe.NewDoubleBarrier(s[i], "/barriers/job", len(s), recipe.Options{})
		go func() {
			_ = b.Enter(ctx) // returns once all three entered
			done <- "entered"
			_ = b.Leave(ctx) // returns once all three left
			done <- "left"
		}()
	}
	for range 2 * len(s) {
		fmt.Println(<-done)
	}
	// Output:
	// entered
	// entered
	// entered
	// left
	// left
	// left
}

func ExampleQueue() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)

	producer := recipe.NewQueue(s[0], "/queues/jobs", nil)
	_ = producer.Put(ctx, []byte("first"))
	_ = producer.Put(ctx, []byte("second"))
	_ = producer.PutPriority(ctx, []byte("urgent"), 1)

	consumer := recipe.NewQueue(s[1], "/queues/jobs", nil)
	for range 3 {
		item, _ := consumer.Get(ctx)
		fmt.Println(string(item))
	}
	// Output:
	// urgent
	// first
	// second
}

func ExampleCounter() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)

	hits := recipe.NewCounter(s[0], "/counters/hits", recipe.CounterDecimal, nil)
	done := make(chan struct{})
	for i := range s {
		c := recipe.NewCounter(s[i], "/counters/hits", recipe.CounterDecimal, nil)
		go func() {
			for range 10 {
				_, _ = c.Add(ctx, 1)
			}
			done <- struct{}{}
		}()
	}
	<-done
	<-done
	v, _ := hits.Value(ctx)
	data, _, _ := s[0].GetData(ctx, "/counters/hits")
	fmt.Printf("%d (stored as %q, as kazoo stores it)\n", v, data)
	// Output:
	// 20 (stored as "20", as kazoo stores it)
}

func ExampleGroup() {
	ctx := context.Background()
	node, s := open(3)
	defer node.Close(ctx)

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	members := recipe.NewGroup(s[0], "/services/api", nil).Watch(wctx)
	show := func(want int) {
		for ms := range members {
			if len(ms) != want {
				continue
			}
			var addrs []string
			for _, m := range ms {
				addrs = append(addrs, string(m.Payload))
			}
			fmt.Println(addrs)
			return
		}
	}
	show(0)
	m1, _ := recipe.NewGroup(s[1], "/services/api", nil).Join(ctx, []byte("10.0.0.1:80"))
	show(1)
	_, _ = recipe.NewGroup(s[2], "/services/api", nil).Join(ctx, []byte("10.0.0.2:80"))
	show(2)
	_ = m1.Leave(ctx)
	show(1)
	// Output:
	// []
	// [10.0.0.1:80]
	// [10.0.0.1:80 10.0.0.2:80]
	// [10.0.0.2:80]
}

func ExampleNodeCache() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)

	cfg, err := recipe.NewNodeCache(ctx, s[0], "/config")
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close(ctx)
	// until waits for the cache to show want.
	until := func(want string) {
		for {
			ch := cfg.Updated()
			if data, _, ok := cfg.Get(); ok && string(data) == want {
				fmt.Println("config:", want)
				return
			}
			<-ch
		}
	}
	_, _ = s[1].Create(ctx, "/config", []byte("debug=false"), coord.Persistent, nil)
	until("debug=false")
	_, _ = s[1].SetData(ctx, "/config", []byte("debug=true"), coord.AnyVersion)
	until("debug=true")
	// Output:
	// config: debug=false
	// config: debug=true
}

func ExampleTreeCache() {
	ctx := context.Background()
	node, s := open(2)
	defer node.Close(ctx)

	tc, err := recipe.NewTreeCache(ctx, s[0], "/app")
	if err != nil {
		log.Fatal(err)
	}
	defer tc.Close(ctx)
	_, _ = s[1].Create(ctx, "/app", nil, coord.Persistent, nil)
	_, _ = s[1].Create(ctx, "/app/db", []byte("pg://db:5432"), coord.Persistent, nil)
	_, _ = s[1].Create(ctx, "/app/cache", []byte("redis://cache:6379"), coord.Persistent, nil)
	deadline := time.After(5 * time.Second)
	for {
		ch := tc.Updated()
		if children, _ := tc.Children("/app"); len(children) == 2 {
			for _, c := range children {
				n, _ := tc.Get("/app/" + c)
				fmt.Printf("%s = %s\n", c, n.Data)
			}
			break
		}
		select {
		case <-ch:
		case <-deadline:
			log.Fatal("cache did not catch up")
		}
	}
	// Output:
	// cache = redis://cache:6379
	// db = pg://db:5432
}
