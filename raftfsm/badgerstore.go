package raftfsm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/hashicorp/raft"
)

// ErrKeyNotFound is returned by the StableStore methods of BadgerStore when a
// key is absent.
//
// The text must stay exactly "not found": hashicorp/raft (v1.8.0, api.go
// HasExistingState/NewRaft and raft.go requestVote) does not use errors.Is;
// it recognises a missing key only by comparing err.Error() == "not found".
// Any other text makes NewRaft fail on a fresh node.
var ErrKeyNotFound = errors.New("not found")

// ErrStoreClosed is returned by BadgerStore operations after Close.
var ErrStoreClosed = errors.New("raftfsm: badger store is closed")

// ErrCorruptLog is returned (wrapped) when a stored log entry cannot be decoded.
var ErrCorruptLog = errors.New("raftfsm: corrupt log entry")

// ErrSyncFailed is returned (wrapped) by every write once badger has reported
// that syncing its value log failed. badger v4.9.6 only logs that failure
// and lets the write succeed, although the data may not be on disk; after a
// failed fsync the kernel may also have dropped the dirty pages, so retrying
// cannot be trusted. BadgerStore therefore fails the write in progress and
// all later ones (raft will stop acknowledging entries); reads keep working.
// Restart the process to recover.
var ErrSyncFailed = errors.New("raftfsm: badger failed to sync data to disk")

// ErrFlushFailed is the failure of a store whose memtable could not be
// written to disk (disk full, I/O error, directory removed): badger would
// retry forever, so the store is declared failed.
var ErrFlushFailed = errors.New("raftfsm: badger failed to flush its memtable to disk")

// Compile-time interface checks.
var (
	_ raft.LogStore    = (*BadgerStore)(nil)
	_ raft.StableStore = (*BadgerStore)(nil)
)

// Key layout. Each key starts with a one-byte namespace so that logs and
// stable-store keys never collide and a prefix iterator over logs never sees a
// stable key. Neither byte can start badger's reserved "!badger!" prefix.
const (
	prefixLog    byte = 0x01 // prefixLog + 8-byte big-endian index
	prefixStable byte = 0x02 // prefixStable + raw key bytes

	logKeyLen = 1 + 8
)

// Memory-conscious badger tuning. badger.DefaultOptions is sized for a
// database server (64 MiB memtables x 5, a 256 MiB block cache, 1 GiB value
// log files); a raft log is a small, append-at-the-tail / truncate-at-the-head
// workload, so every knob that pins memory is turned down here.
const (
	// MemTableSize bounds the in-memory skiplist that absorbs writes. badger
	// allocates an arena of MemTableSize + 2*maxBatchSize (maxBatchSize is
	// 15% of MemTableSize) per memtable, so 8 MiB costs ~10.4 MiB per
	// memtable instead of ~83 MiB with the default 64 MiB. It also bounds a
	// single transaction to ~1.2 MiB (15% of it); StoreLogs splits larger
	// batches.
	badgerMemTableSize = 8 << 20

	// NumMemtables is the number of memtables (mutable + immutable waiting
	// for flush) before writes stall: at most ~3 arenas (~31 MiB) under a
	// write burst, ~10 MiB when idle.
	badgerNumMemtables = 2

	// Flush L0 into L1 early: each L0 table is ~one memtable and all of them
	// are consulted on every read miss. The stall limit is kept generous so
	// a slow disk throttles raft appends rather than blocking them outright.
	badgerNumLevelZeroTables      = 2
	badgerNumLevelZeroTablesStall = 8

	// Two compactors is the minimum badger accepts (1 is rejected, 0
	// disables compaction). Compaction buffers are the main transient heap
	// cost, so fewer is leaner.
	badgerNumCompactors = 2

	// Value log files are mmapped at twice their size (virtual memory only;
	// resident pages are page cache). Small files also let value-log GC
	// reclaim space at a finer grain after raft truncates its log. A single
	// log entry must be smaller than this.
	badgerValueLogFileSize = 64 << 20

	// Entries whose encoded size is below ValueThreshold live inside the LSM
	// tree (memtable, WAL, SSTs); larger ones are appended to the value log
	// and the LSM keeps a ~20-byte pointer. badger v4 defaults to 1 MiB, i.e.
	// everything in the LSM, which is the wrong trade for a raft log:
	// badger's table builder holds each SST it writes entirely in memory,
	// so every byte in the LSM costs heap during flushes and compactions and
	// is rewritten at every level. Measured with 200k x 1 KiB synced
	// appends: peak anonymous RSS ~182 MiB with values in the LSM vs ~40
	// MiB with values in the value log, at the same write speed. 512 bytes
	// keeps tiny entries (noops, barriers, small commands) inline and sends
	// the rest to the value log, whose space is reclaimed by RunValueLogGC.
	// (badger only logs errors from syncing the value log; BadgerStore
	// watches for that message, see ErrSyncFailed.)
	badgerValueThreshold = 512

	// In InMemory mode badger rejects values above ValueThreshold, so the
	// threshold there is raised to badger's maximum (1 MiB, which is below
	// the 1.2 MiB batch limit for an 8 MiB memtable).
	badgerInMemoryValueThreshold = 1 << 20

	// Caches. BlockCacheSize is 0 because blocks are not compressed (see
	// Compression below): uncompressed, unencrypted SST blocks are read
	// straight out of the mmapped table file, so a cache would only copy
	// page-cache data onto the Go heap (badger's own docs say a cache
	// without compression/encryption is pure overhead). IndexCacheSize is 0
	// because in badger v4 the index cache is only consulted for encrypted
	// tables; unencrypted table indices are likewise read from the mmap.
	badgerBlockCacheSize = 0
	badgerIndexCacheSize = 0

	// deleteChunk bounds how many keys DeleteRange collects per transaction
	// (badger caps a transaction at ~1.2 MiB / ~13k entries with the
	// memtable size above; deletes are tiny, so 4096 keys stays well below
	// it while keeping the number of fsyncs low).
	deleteChunk = 4096

	// DefaultGCDiscardRatio is the discard ratio used by the periodic value
	// log GC when BadgerOptions.GCDiscardRatio is zero. It is badger's
	// recommended value: a file is rewritten once half of it is garbage,
	// bounding value-log write amplification to ~2x.
	DefaultGCDiscardRatio = 0.5

	// DefaultGCInterval is the period of the background value log GC when
	// BadgerOptions.GCInterval is zero.
	DefaultGCInterval = 5 * time.Minute
)

// badgerVlogSyncErrorPrefix is the start of the message badger v4 logs (and
// does not return) when syncing the value log fails after a write.
const badgerVlogSyncErrorPrefix = "Error while curlf sync"

// badgerFlushErrorPrefix starts the message badger (v4.9.6, db.go
// flushMemtable) logs each time it fails to write a memtable to disk
// before it retries.
const badgerFlushErrorPrefix = "error flushing memtable to disk"

// BadgerOptions configures OpenBadgerStore. The zero value is a durable,
// on-disk, memory-lean store that logs nothing.
type BadgerOptions struct {
	// NoSync disables fsync (msync) after each write. The zero value keeps
	// sync on: every StoreLog/StoreLogs/DeleteRange/Set returns only after
	// its data has been synced, which raft's safety argument requires
	// (a node must not forget a vote or an acknowledged entry across a
	// power loss). Only set this for tests and benchmarks.
	NoSync bool

	// InMemory keeps everything in memory (the dir argument is ignored).
	// Data is lost on Close. Intended for tests. Log entries must then be
	// smaller than 1 MiB.
	InMemory bool

	// Logger receives badger's own log output, adapted to slog. Nil
	// discards it.
	Logger *slog.Logger

	// GCInterval is the period of a background goroutine that calls
	// RunValueLogGC until Close. Zero means DefaultGCInterval (5 minutes);
	// a negative value disables it, in which case the node should call
	// RunValueLogGC itself (for example after each raft snapshot) or the
	// value log grows without bound. Never runs for InMemory stores.
	GCInterval time.Duration

	// GCDiscardRatio is the discard ratio for the periodic GC. Zero means
	// DefaultGCDiscardRatio. Must be in (0, 1) otherwise.
	GCDiscardRatio float64

	// tune, if set, post-processes the badger options (tests only).
	tune func(badger.Options) badger.Options
}

// BadgerStore is a raft.LogStore and raft.StableStore backed by badger v4.
//
// It is safe for concurrent use. Writes (StoreLog(s), DeleteRange, Set,
// SetUint64) are serialised by a mutex; reads run concurrently. The first
// and last log indices are cached in memory and kept exact across StoreLogs
// and DeleteRange, so FirstIndex/LastIndex never touch the disk.
type BadgerStore struct {
	db  *badger.DB
	log *slog.Logger

	// life guards against use after Close: operations hold it for reading,
	// Close takes it for writing.
	life   sync.RWMutex
	closed bool

	// writeMu serialises writers so the cached indices stay consistent
	// with what is on disk.
	writeMu sync.Mutex

	// Cached log bounds, updated only while holding writeMu and after the
	// corresponding badger commit succeeded.
	idxMu   sync.RWMutex
	hasLogs bool
	first   uint64
	last    uint64

	// failed holds the sticky ErrSyncFailed error, if any.
	failed atomic.Pointer[error]
	// fatal is closed when the store fails for good (Err says why).
	fatal     chan struct{}
	fatalOnce sync.Once
	fatalErr  atomic.Pointer[error]

	// Value-log GC.
	gcMu      sync.Mutex // one RunValueLogGC at a time
	closing   atomic.Bool
	stopGC    chan struct{}
	gcDone    sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// OpenBadgerStore opens (creating if needed) a badger database in dir and
// returns a store over it. With opts.InMemory dir is ignored.
func OpenBadgerStore(dir string, opts BadgerOptions) (*BadgerStore, error) {
	if opts.GCDiscardRatio == 0 {
		opts.GCDiscardRatio = DefaultGCDiscardRatio
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = DefaultGCInterval
	}
	if opts.GCDiscardRatio <= 0 || opts.GCDiscardRatio >= 1 {
		return nil, fmt.Errorf("raftfsm: GCDiscardRatio %v not in (0, 1)", opts.GCDiscardRatio)
	}
	if !opts.InMemory && dir == "" {
		return nil, errors.New("raftfsm: empty badger directory")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	s := &BadgerStore{
		log:    logger,
		stopGC: make(chan struct{}),
		fatal:  make(chan struct{}),
	}
	bopts := badgerOptions(dir, opts, slogBadgerLogger{
		l:       logger.With("component", "badger"),
		onError: s.noteBadgerError,
	})
	db, err := badger.Open(bopts)
	if err != nil {
		return nil, fmt.Errorf("raftfsm: open badger at %q: %w", dir, err)
	}
	s.db = db
	if err := s.loadBounds(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if opts.GCInterval > 0 && !opts.InMemory {
		s.gcDone.Add(1)
		go s.gcLoop(opts.GCInterval, opts.GCDiscardRatio)
	}
	return s, nil
}

// badgerOptions builds the badger configuration; see the constants above
// for the reasoning behind each value.
func badgerOptions(dir string, opts BadgerOptions, logger badger.Logger) badger.Options {
	var bo badger.Options
	if opts.InMemory {
		bo = badger.DefaultOptions("").WithInMemory(true).
			WithValueThreshold(badgerInMemoryValueThreshold)
	} else {
		bo = badger.DefaultOptions(dir).WithValueThreshold(badgerValueThreshold)
	}
	bo = bo.
		WithSyncWrites(!opts.NoSync && !opts.InMemory).
		WithLogger(logger).
		WithMemTableSize(badgerMemTableSize).
		WithNumMemtables(badgerNumMemtables).
		WithNumLevelZeroTables(badgerNumLevelZeroTables).
		WithNumLevelZeroTablesStall(badgerNumLevelZeroTablesStall).
		WithNumCompactors(badgerNumCompactors).
		WithValueLogFileSize(badgerValueLogFileSize).
		WithBlockCacheSize(badgerBlockCacheSize).
		WithIndexCacheSize(badgerIndexCacheSize).
		// No compression: raft entries are short-lived (deleted after
		// snapshots), and uncompressed blocks can be served zero-copy from
		// the mmap without a block cache (see badgerBlockCacheSize).
		WithCompression(options.None).
		// Writers are serialised by BadgerStore.writeMu, so badger's
		// optimistic conflict detection (which keeps per-transaction key
		// fingerprints in memory) buys nothing.
		WithDetectConflicts(false).
		// Raft keeps exactly one version of each key.
		WithNumVersionsToKeep(1).
		// Stream goroutines are only used by backup/stream APIs.
		WithNumGoroutines(2)
	if opts.tune != nil {
		bo = opts.tune(bo)
	}
	return bo
}

// Close stops the periodic GC (if any) and closes the database. It waits for
// in-flight operations to finish; later calls return ErrStoreClosed.
// Calling Close more than once returns the first result.
func (s *BadgerStore) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		close(s.stopGC)
		s.gcDone.Wait()

		s.life.Lock()
		defer s.life.Unlock()
		s.closed = true
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("raftfsm: close badger: %w", err)
		}
	})
	return s.closeErr
}

// enter marks the start of an operation; it fails once the store is closed.
// The caller must call s.life.RUnlock when done.
func (s *BadgerStore) enter() error {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return ErrStoreClosed
	}
	return nil
}

// enterWrite is enter for writers; it also fails after a sync failure.
func (s *BadgerStore) enterWrite() error {
	if err := s.enter(); err != nil {
		return err
	}
	if err := s.syncFailure(); err != nil {
		s.life.RUnlock()
		return err
	}
	return nil
}

// syncFailure returns the sticky ErrSyncFailed error, if badger reported one.
func (s *BadgerStore) syncFailure() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// noteBadgerError receives every error message badger logs. badger reports
// a failed value log sync only this way (the write still succeeds), and it
// does so on its write goroutine before the affected commit returns, so a
// check of syncFailure after each commit catches it.
func (s *BadgerStore) noteBadgerError(msg string) {
	switch {
	case strings.HasPrefix(msg, badgerVlogSyncErrorPrefix):
		err := fmt.Errorf("%w: %s", ErrSyncFailed, strings.TrimSpace(msg))
		if s.failed.CompareAndSwap(nil, &err) {
			s.log.Error("badger value log sync failed; refusing further writes", "error", err)
		}
		s.fail(err)
	case strings.HasPrefix(msg, badgerFlushErrorPrefix):
		// badger retries a failed memtable flush every second, forever:
		// a full disk, an I/O error or a removed directory would keep the
		// node alive but unable to make progress, and hang Close.
		s.fail(fmt.Errorf("%w: %s", ErrFlushFailed, strings.TrimSpace(msg)))
	}
}

// fail marks the store as failed for good.
func (s *BadgerStore) fail(err error) {
	s.fatalOnce.Do(func() {
		s.fatalErr.Store(&err)
		close(s.fatal)
	})
}

// Failed is closed when the store has failed for good: its data can no
// longer be written safely. Err says why.
func (s *BadgerStore) Failed() <-chan struct{} { return s.fatal }

// Err returns why the store failed, or nil.
func (s *BadgerStore) Err() error {
	if e := s.fatalErr.Load(); e != nil {
		return *e
	}
	return nil
}

// commitTxn commits txn and reports a value log sync failure that badger
// swallowed during the commit.
func (s *BadgerStore) commitTxn(txn *badger.Txn) error {
	if err := txn.Commit(); err != nil {
		return err
	}
	return s.syncFailure()
}

// ---------------------------------------------------------------------------
// raft.LogStore

// FirstIndex returns the lowest stored log index, or 0 if there are no logs.
func (s *BadgerStore) FirstIndex() (uint64, error) {
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	return s.first, nil
}

// LastIndex returns the highest stored log index, or 0 if there are no logs.
func (s *BadgerStore) LastIndex() (uint64, error) {
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	return s.last, nil
}

// GetLog reads the entry at index into log. It returns raft.ErrLogNotFound
// itself (unwrapped: raft compares with ==) if there is no such entry.
func (s *BadgerStore) GetLog(index uint64, log *raft.Log) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.life.RUnlock()

	var key [logKeyLen]byte
	putLogKey(key[:], index)
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key[:])
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftfsm: get log %d: %w", index, err)
	}
	if err := decodeLog(val, log); err != nil {
		return fmt.Errorf("raftfsm: log %d: %w", index, err)
	}
	if log.Index != index {
		return fmt.Errorf("raftfsm: log %d: %w: stored entry has index %d", index, ErrCorruptLog, log.Index)
	}
	return nil
}

// StoreLog stores a single entry (synced unless NoSync).
func (s *BadgerStore) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs stores entries, overwriting any with the same index. All entries
// go into one badger transaction (one fsync) when they fit; a batch larger
// than badger's transaction limit is split into consecutive transactions in
// slice order, each synced before the next starts. When StoreLogs returns nil
// every entry is durable. On error, a prefix of logs may have been stored,
// which raft tolerates (it is as if fewer entries had been received).
func (s *BadgerStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	// One allocation for all keys and one for all values: badger keeps
	// references to both until the transaction is committed.
	keys := make([]byte, logKeyLen*len(logs))
	size := 0
	for _, l := range logs {
		size += encodedLogSize(l)
	}
	vals := make([]byte, 0, size)

	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()

	start := 0 // first entry of logs not yet committed
	commit := func(end int) error {
		if err := s.commitTxn(txn); err != nil {
			return fmt.Errorf("raftfsm: store logs: %w", err)
		}
		s.noteStored(logs[start:end])
		start = end
		return nil
	}

	for i, l := range logs {
		key := keys[i*logKeyLen : (i+1)*logKeyLen : (i+1)*logKeyLen]
		putLogKey(key, l.Index)
		off := len(vals)
		vals = appendLog(vals, l)
		val := vals[off:len(vals):len(vals)]

		err := txn.SetEntry(badger.NewEntry(key, val))
		if errors.Is(err, badger.ErrTxnTooBig) && i > start {
			// Commit what fits and continue in a fresh transaction.
			if err := commit(i); err != nil {
				return err
			}
			txn = s.db.NewTransaction(true)
			err = txn.SetEntry(badger.NewEntry(key, val))
		}
		if err != nil {
			return fmt.Errorf("raftfsm: store log %d: %w", l.Index, err)
		}
	}
	return commit(len(logs))
}

// noteStored updates the cached bounds after logs were committed.
// Caller holds writeMu.
func (s *BadgerStore) noteStored(logs []*raft.Log) {
	if len(logs) == 0 {
		return
	}
	lo, hi := logs[0].Index, logs[0].Index
	for _, l := range logs[1:] {
		lo = min(lo, l.Index)
		hi = max(hi, l.Index)
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if !s.hasLogs {
		s.hasLogs, s.first, s.last = true, lo, hi
		return
	}
	s.first = min(s.first, lo)
	s.last = max(s.last, hi)
}

// DeleteRange deletes all entries with min <= index <= max. It only visits
// keys that exist (a key-only iterator over the range, clamped to the cached
// bounds) and deletes them in chunks of deleteChunk keys per transaction, so
// truncating millions of entries neither builds one huge transaction nor
// writes tombstones for absent indices.
func (s *BadgerStore) DeleteRange(minIdx, maxIdx uint64) error {
	if minIdx > maxIdx {
		return nil
	}
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	s.idxMu.RLock()
	has, first, last := s.hasLogs, s.first, s.last
	s.idxMu.RUnlock()
	if !has {
		return nil
	}
	lo, hi := max(minIdx, first), min(maxIdx, last)
	if lo > hi {
		return nil
	}

	keys := make([][]byte, 0, deleteChunk)
	next := lo
	for {
		keys = keys[:0]
		var lastSeen uint64
		err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixLog}})
			defer it.Close()
			var seek [logKeyLen]byte
			putLogKey(seek[:], next)
			for it.Seek(seek[:]); it.Valid() && len(keys) < deleteChunk; it.Next() {
				k := it.Item().Key()
				idx, ok := parseLogKey(k)
				if !ok {
					continue
				}
				if idx > hi {
					break
				}
				keys = append(keys, it.Item().KeyCopy(nil))
				lastSeen = idx
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("raftfsm: delete range [%d, %d]: scan: %w", minIdx, maxIdx, err)
		}
		if len(keys) == 0 {
			break
		}
		if err := s.deleteKeys(keys); err != nil {
			return fmt.Errorf("raftfsm: delete range [%d, %d]: %w", minIdx, maxIdx, err)
		}
		if len(keys) < deleteChunk || lastSeen >= hi {
			break
		}
		next = lastSeen + 1 // cannot overflow: lastSeen < hi
	}
	return s.noteDeleted(lo, hi, first, last)
}

// deleteKeys deletes keys in as few transactions as badger allows.
func (s *BadgerStore) deleteKeys(keys [][]byte) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for i, k := range keys {
		err := txn.Delete(k)
		if errors.Is(err, badger.ErrTxnTooBig) && i > 0 {
			if err := s.commitTxn(txn); err != nil {
				return err
			}
			txn = s.db.NewTransaction(true)
			err = txn.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	return s.commitTxn(txn)
}

// noteDeleted recomputes the cached bounds after [lo, hi] (already clamped to
// [first, last]) was deleted. Caller holds writeMu.
func (s *BadgerStore) noteDeleted(lo, hi, first, last uint64) error {
	newFirst, newLast, has := first, last, true
	switch {
	case lo == first && hi == last:
		newFirst, newLast, has = 0, 0, false
	case lo == first:
		// Logs may have gaps, so find the next surviving entry rather than
		// assuming hi+1.
		idx, ok, err := s.seekLog(hi+1, false)
		if err != nil {
			return err
		}
		if ok {
			newFirst = idx
		} else {
			newFirst, newLast, has = 0, 0, false
		}
	case hi == last:
		idx, ok, err := s.seekLog(lo-1, true)
		if err != nil {
			return err
		}
		if ok {
			newLast = idx
		} else {
			newFirst, newLast, has = 0, 0, false
		}
	}
	s.idxMu.Lock()
	s.hasLogs, s.first, s.last = has, newFirst, newLast
	s.idxMu.Unlock()
	return nil
}

// loadBounds initialises the cached bounds from disk.
func (s *BadgerStore) loadBounds() error {
	first, ok, err := s.seekLog(0, false)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	last, _, err := s.seekLog(math.MaxUint64, true)
	if err != nil {
		return err
	}
	s.idxMu.Lock()
	s.hasLogs, s.first, s.last = true, first, last
	s.idxMu.Unlock()
	return nil
}

// seekLog returns the smallest stored index >= from (reverse: the largest
// stored index <= from).
func (s *BadgerStore) seekLog(from uint64, reverse bool) (idx uint64, found bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixLog}, Reverse: reverse})
		defer it.Close()
		var seek [logKeyLen]byte
		putLogKey(seek[:], from)
		for it.Seek(seek[:]); it.Valid(); it.Next() {
			if i, ok := parseLogKey(it.Item().Key()); ok {
				idx, found = i, true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("raftfsm: seek log index: %w", err)
	}
	return idx, found, nil
}

func putLogKey(dst []byte, index uint64) {
	dst[0] = prefixLog
	binary.BigEndian.PutUint64(dst[1:], index)
}

func parseLogKey(k []byte) (uint64, bool) {
	if len(k) != logKeyLen || k[0] != prefixLog {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

// ---------------------------------------------------------------------------
// raft.StableStore

func stableKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = prefixStable
	copy(k[1:], key)
	return k
}

// Set stores val under key (synced unless NoSync).
func (s *BadgerStore) Set(key, val []byte) error {
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	v := append([]byte(nil), val...) // badger keeps a reference until commit
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err := txn.Set(stableKey(key), v)
	if err == nil {
		err = s.commitTxn(txn)
	}
	if err != nil {
		return fmt.Errorf("raftfsm: set %q: %w", key, err)
	}
	return nil
}

// Get returns the value stored under key, or ErrKeyNotFound (whose text is
// exactly "not found", as raft requires) if there is none.
func (s *BadgerStore) Get(key []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.life.RUnlock()

	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(stableKey(key))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("raftfsm: get %q: %w", key, err)
	}
	return val, nil
}

// SetUint64 stores val under key as 8 big-endian bytes.
func (s *BadgerStore) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

// GetUint64 returns the value stored by SetUint64, or (0, ErrKeyNotFound) if
// the key is absent.
func (s *BadgerStore) GetUint64(key []byte) (uint64, error) {
	b, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("raftfsm: value of %q is %d bytes, not a uint64", key, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// ---------------------------------------------------------------------------
// Value-log GC

// RunValueLogGC reclaims disk space in badger's value log.
//
// Log entries larger than a few hundred bytes (badgerValueThreshold) are
// stored in value log files, which badger never shrinks by itself: after raft
// deletes old entries (DeleteRange after a snapshot) their space is only
// reclaimed when a value log file is garbage collected, i.e. its live entries
// are rewritten elsewhere and the file is deleted. RunValueLogGC asks badger
// to do this for every file in which at least discardRatio (0 < ratio < 1;
// 0.5 is the usual choice) of the bytes are garbage, repeating until badger
// finds no further candidate. It returns nil when there was nothing to
// collect, when another GC is already running, and for in-memory stores.
//
// By default a background goroutine calls it every 5 minutes (see
// BadgerOptions.GCInterval); a node that disables that should call it itself,
// e.g. after each raft snapshot. GC costs I/O and a burst of LSM writes.
//
// badger learns which value log files hold garbage only from LSM compactions,
// and the tombstones written by DeleteRange first sit in the memtable until
// it fills (8 MiB of keys and value pointers, on the order of 100k raft
// entries) and is flushed and compacted. Space freed by a
// DeleteRange therefore becomes collectable with a delay; the amount of
// uncollectable garbage is bounded by that write volume.
func (s *BadgerStore) RunValueLogGC(discardRatio float64) error {
	if discardRatio <= 0 || discardRatio >= 1 {
		return fmt.Errorf("raftfsm: discard ratio %v not in (0, 1)", discardRatio)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	if !s.gcMu.TryLock() {
		return nil // another GC is running
	}
	defer s.gcMu.Unlock()

	for !s.closing.Load() {
		err := s.db.RunValueLogGC(discardRatio)
		switch {
		case err == nil:
			continue // a file was rewritten; try the next one
		case errors.Is(err, badger.ErrNoRewrite),
			errors.Is(err, badger.ErrRejected),
			errors.Is(err, badger.ErrGCInMemoryMode):
			return nil
		default:
			return fmt.Errorf("raftfsm: value log gc: %w", err)
		}
	}
	return nil
}

func (s *BadgerStore) gcLoop(every time.Duration, ratio float64) {
	defer s.gcDone.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
			if err := s.RunValueLogGC(ratio); err != nil && !errors.Is(err, ErrStoreClosed) {
				s.log.Warn("badger value log gc failed", "error", err)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Log encoding
//
// Version 1 layout:
//
//	byte    version (= 1)
//	byte    flags   (bit 0: AppendedAt present; other bits must be 0)
//	uvarint Index
//	uvarint Term
//	byte    Type
//	varint  AppendedAt as Unix nanoseconds (only if flag bit 0)
//	uvarint len(Data),       Data
//	uvarint len(Extensions), Extensions
//
// A zero AppendedAt is encoded by leaving the flag clear so that it decodes
// back to the zero time.Time. Empty Data/Extensions decode as nil. Trailing
// bytes are rejected.

const (
	logEncodingV1       byte = 1
	flagHasAppendedAt   byte = 1 << 0
	knownLogFlagsMaskV1      = flagHasAppendedAt
)

func encodedLogSize(l *raft.Log) int {
	n := 2 + uvarintLen(l.Index) + uvarintLen(l.Term) + 1 +
		uvarintLen(uint64(len(l.Data))) + len(l.Data) +
		uvarintLen(uint64(len(l.Extensions))) + len(l.Extensions)
	if !l.AppendedAt.IsZero() {
		n += binary.MaxVarintLen64
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendLog appends the version-1 encoding of l to dst.
func appendLog(dst []byte, l *raft.Log) []byte {
	var flags byte
	if !l.AppendedAt.IsZero() {
		flags |= flagHasAppendedAt
	}
	dst = append(dst, logEncodingV1, flags)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	if flags&flagHasAppendedAt != 0 {
		dst = binary.AppendVarint(dst, l.AppendedAt.UnixNano())
	}
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	return dst
}

// decodeLog decodes buf into l, overwriting every field. Data and Extensions
// alias buf (with capacity clipped), so buf must not be reused by the caller.
// It never panics on malformed input.
func decodeLog(buf []byte, l *raft.Log) error {
	d := logDecoder{buf: buf}
	if v := d.byte(); d.err == nil && v != logEncodingV1 {
		return fmt.Errorf("%w: unknown encoding version %d", ErrCorruptLog, v)
	}
	flags := d.byte()
	if d.err == nil && flags&^knownLogFlagsMaskV1 != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrCorruptLog, flags)
	}
	var out raft.Log
	out.Index = d.uvarint()
	out.Term = d.uvarint()
	out.Type = raft.LogType(d.byte())
	if flags&flagHasAppendedAt != 0 {
		if ns := d.varint(); d.err == nil {
			out.AppendedAt = time.Unix(0, ns)
		}
	}
	out.Data = d.bytes()
	out.Extensions = d.bytes()
	if d.err == nil && len(d.buf) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrCorruptLog, len(d.buf))
	}
	if d.err != nil {
		return d.err
	}
	*l = out
	return nil
}

type logDecoder struct {
	buf []byte
	err error
}

func (d *logDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", ErrCorruptLog, what)
	}
	d.buf = nil
}

func (d *logDecoder) byte() byte {
	if d.err != nil || len(d.buf) < 1 {
		d.fail("byte")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *logDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *logDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *logDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail("length")
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// ---------------------------------------------------------------------------
// badger -> slog adapter

// slogBadgerLogger implements badger.Logger on top of slog. badger formats
// printf-style and usually ends messages with a newline, which is trimmed.
// onError, if set, sees every error message whether or not it is logged.
type slogBadgerLogger struct {
	l       *slog.Logger
	onError func(msg string)
}

var _ badger.Logger = slogBadgerLogger{}

func (a slogBadgerLogger) logf(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !a.l.Enabled(ctx, level) {
		return
	}
	msg, detail := oneRecord(fmt.Sprintf(format, args...))
	if detail == "" {
		a.l.Log(ctx, level, msg)
		return
	}
	a.l.Log(ctx, level, msg, "detail", detail)
}

// oneRecord makes one log record of a badger message that spans lines
// (its compaction and level summaries do): the first line is the message,
// the others, trimmed and joined with "; ", its detail.
func oneRecord(s string) (msg, detail string) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	msg = strings.TrimSpace(lines[0])
	var rest []string
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l != "" {
			rest = append(rest, l)
		}
	}
	return msg, strings.Join(rest, "; ")
}

func (a slogBadgerLogger) Errorf(format string, args ...any) {
	if a.onError != nil {
		a.onError(fmt.Sprintf(format, args...))
	}
	a.logf(slog.LevelError, format, args)
}

func (a slogBadgerLogger) Warningf(format string, args ...any) {
	a.logf(slog.LevelWarn, format, args)
}

func (a slogBadgerLogger) Infof(format string, args ...any) {
	a.logf(slog.LevelInfo, format, args)
}

func (a slogBadgerLogger) Debugf(format string, args ...any) {
	a.logf(slog.LevelDebug, format, args)
}
