package coord

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc64"
	"io"
)

// Snapshots stream without stalling writes. Snapshot (on raft's FSM
// goroutine, between applies) encodes the small parts of the state and
// marks the tree; Persist then walks the live node map in chunks, holding
// the read lock only for one chunk at a time, while apply goes on. Apply
// keeps the state as of the snapshot through copy-on-write: the first time
// a node that existed at the mark is changed or deleted, its pre-image is
// kept in an overlay; a node created after the mark is recorded as absent.
// Persist writes the overlay's version wherever there is one, so the
// stream is exactly the state at the mark.

// cowSnap is the overlay of a snapshot in progress.
type cowSnap struct {
	epoch   uint32
	overlay map[string]*znode // path -> state at the mark; nil: did not exist; streamedMark: already written
}

// streamedMark in the overlay means the stream already wrote the node as
// it was at the mark, so its later changes need no pre-image.
var streamedMark = &znode{}

// preserve records path's state at the mark before its first change. n is
// nil when the path is about to be created.
func (t *tree) preserve(path string, n *znode) {
	if t.cow == nil {
		return
	}
	if _, ok := t.cow.overlay[path]; ok {
		return
	}
	if n == nil {
		t.cow.overlay[path] = nil
		return
	}
	if n.streamed == t.cow.epoch {
		t.cow.overlay[path] = streamedMark
		return
	}
	c := *n
	c.children = nil // not part of a snapshot record
	t.cow.overlay[path] = &c
}

const snapChunk = 1024 // nodes encoded per read-lock hold

type cowSnapshot struct {
	f     *fsm
	t     *tree
	head  []byte
	tail  []byte // a staged restore, as at the mark
	cow   *cowSnap
	count int
	zxid  int64  // as at the mark
	dig   uint64 // the tree digest at the mark
	// betweenChunks, when set (tests only), runs each time the stream has
	// dropped the read lock between two chunks, so a test can apply writes
	// exactly where a concurrent apply may land.
	betweenChunks func()
}

// snapshotCOW marks the tree and returns the streaming snapshot. Called
// with no apply running.
func (f *fsm) snapshotCOW() *cowSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.markLocked()
}

// errSnapshotBusy: a snapshot stream (raft's, or a backup) is running; a
// tree keeps one overlay at a time.
var errSnapshotBusy = errors.New("coord: a snapshot is already streaming")

// trySnapshotCOW is snapshotCOW unless a stream is running already.
func (f *fsm) trySnapshotCOW() (*cowSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.t.cow != nil {
		return nil, errSnapshotBusy
	}
	return f.markLocked(), nil
}

func (f *fsm) markLocked() *cowSnapshot {
	t := f.t
	f.snapEpoch++
	t.cow = &cowSnap{epoch: f.snapEpoch, overlay: make(map[string]*znode)}
	return &cowSnapshot{f: f, t: t, cow: t.cow, head: encodeSnapshotHead(nil, t), tail: appendRestoreStage(nil, t.restore),
		count: len(t.nodes), zxid: t.zxid, dig: t.digest}
}

type crcWriter struct {
	w io.Writer
	h hash.Hash64
}

func (c crcWriter) Write(p []byte) (int, error) {
	c.h.Write(p)
	return c.w.Write(p)
}

// Persist implements raftfsm.Snapshot: it streams the tree as of the mark.
func (s *cowSnapshot) Persist(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := crcWriter{w: bw, h: crc64.New(crcTable)}
	if _, err := cw.Write(s.head); err != nil {
		return err
	}
	written := 0
	seen := make(map[string]bool) // overlay paths already written or skipped
	var buf []byte
	cow := s.cow
	emit := func(p string, live *znode) {
		if pre, ok := cow.overlay[p]; ok {
			if seen[p] {
				return
			}
			seen[p] = true
			if pre == nil || pre == streamedMark {
				return
			}
			buf = appendNodeRecord(buf, p, pre)
			written++
			return
		}
		// Unchanged since the mark. Only this stream writes streamed, and
		// apply reads it under the write lock, so the read lock suffices.
		live.streamed = cow.epoch
		buf = appendNodeRecord(buf, p, live)
		written++
	}
	mu := &s.f.mu
	// flush ends a chunk: it drops the read lock, writes the chunk and
	// takes the lock again, letting apply run in between.
	flush := func() error {
		mu.RUnlock()
		if _, err := cw.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		if s.betweenChunks != nil {
			s.betweenChunks()
		}
		mu.RLock()
		return nil
	}
	mu.RLock()
	i := 0
	for p, n := range s.t.nodes {
		emit(p, n)
		if i++; i%snapChunk == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	mu.RUnlock()
	if _, err := cw.Write(buf); err != nil {
		return err
	}
	buf = buf[:0]
	// Nodes deleted since the mark are only in the overlay. Whatever apply
	// adds to it from now on is a node created after the mark or one
	// already written, so this walk too may drop the lock between chunks.
	mu.RLock()
	i = 0
	for p, pre := range cow.overlay {
		if pre != nil && pre != streamedMark && !seen[p] {
			seen[p] = true
			buf = appendNodeRecord(buf, p, pre)
			written++
		}
		if i++; i%snapChunk == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	mu.RUnlock()
	if _, err := cw.Write(buf); err != nil {
		return err
	}
	if _, err := cw.Write(s.tail); err != nil {
		return err
	}
	if written != s.count {
		return errors.New("coord: snapshot wrote a different number of nodes than it marked")
	}
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], cw.h.Sum64())
	if _, err := bw.Write(sum[:]); err != nil {
		return err
	}
	return bw.Flush()
}

// Release implements raftfsm.Snapshot: apply stops keeping pre-images.
func (s *cowSnapshot) Release() {
	s.f.mu.Lock()
	if s.t.cow != nil && s.t.cow == s.cow {
		s.t.cow = nil
	}
	s.f.mu.Unlock()
}
