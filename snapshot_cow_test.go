package coord

import (
	"bytes"
	"fmt"
	"math/rand"
	"sync"
	"testing"
)

// TestSnapshotStreamsStateAtMark takes a snapshot of a tree and streams it
// while creates, deletes, data and ACL changes keep being applied between
// (and during) its chunks. The stream must decode to exactly the state at
// the mark: decodeSnapshot recomputes the digest from the records and
// compares it with the digest recorded at the mark.
func TestSnapshotStreamsStateAtMark(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			f := &fsm{t: newTree(treeLimits{maxData: 1 << 20})}
			tr := f.t
			tr.now = 1
			apply := func(c command) result {
				f.mu.Lock()
				defer f.mu.Unlock()
				return tr.applyOne(&c)
			}
			apply(command{kind: opCreateSession, session: 7, ttl: 1000})
			const n = 5000
			for i := 0; i < n; i++ {
				mode := Persistent
				if i%7 == 0 {
					mode = Ephemeral
				}
				apply(command{kind: opCreate, session: 7, path: fmt.Sprintf("/n%04d", i), data: []byte("x"), acl: OpenACL, mode: mode})
			}
			f.mu.RLock()
			atMark := encodeSnapshot(tr)
			f.mu.RUnlock()
			snap := f.snapshotCOW()

			// Writes land between chunks by construction: the hook applies
			// a few at every chunk boundary, where a concurrent apply may
			// run. A concurrent writer adds writes at arbitrary points for
			// the race detector; the test does not depend on it running.
			write := func(rng *rand.Rand, k int) {
				p := fmt.Sprintf("/n%04d", rng.Intn(n+200))
				switch rng.Intn(4) {
				case 0:
					apply(command{kind: opCreate, session: 7, path: p, data: []byte("new"), acl: OpenACL})
				case 1:
					apply(command{kind: opDelete, session: 7, path: p, version: -1})
				case 2:
					apply(command{kind: opSetData, session: 7, path: p, data: []byte(fmt.Sprint(k)), version: -1})
				case 3:
					apply(command{kind: opSetACL, session: 7, path: p, acl: ReadACL, version: -1})
				}
			}
			hookRng := rand.New(rand.NewSource(seed + 100))
			chunks := 0
			snap.betweenChunks = func() {
				chunks++
				for k := 0; k < 50; k++ {
					write(hookRng, k)
				}
			}
			var wg sync.WaitGroup
			wg.Add(1)
			stop := make(chan struct{})
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					write(rng, k)
				}
			}()
			var out bytes.Buffer
			err := snap.Persist(&out)
			close(stop)
			wg.Wait()
			snap.Release()
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeSnapshot(out.Bytes(), tr.limits)
			if err != nil {
				t.Fatalf("streamed snapshot: %v", err)
			}
			want, err := decodeSnapshot(atMark, tr.limits)
			if err != nil {
				t.Fatal(err)
			}
			if got.digest != want.digest || got.zxid != want.zxid || len(got.nodes) != len(want.nodes) {
				t.Fatalf("streamed: digest %x zxid %d nodes %d; at mark: %x %d %d",
					got.digest, got.zxid, len(got.nodes), want.digest, want.zxid, len(want.nodes))
			}
			f.mu.RLock()
			changed := tr.digest != want.digest
			f.mu.RUnlock()
			if chunks < n/snapChunk || !changed {
				t.Fatalf("%d chunk boundaries, tree changed %v: writes must land during the stream", chunks, changed)
			}
			if tr.cow != nil {
				t.Fatal("Release left the overlay on")
			}
		})
	}
}
