package coord

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkBackupRestore1M measures, for a tree of 1M znodes (1000
// parents of 1000 children, 32 bytes of data each): the backup's time and
// size, verifying it, the offline restore (a data dir) and opening a node
// on it, and the online restore through the log.
//
//	go test -run '^$' -bench BackupRestore1M -benchtime 1x .
func BenchmarkBackupRestore1M(b *testing.B) {
	const parents, children = 1000, 1000
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		src := openNode(b, Config{})
		tr := newTree(treeLimits{maxData: 1 << 20})
		tr.now = time.Now().UnixMilli()
		data := make([]byte, 32)
		for p := 0; p < parents; p++ {
			c := command{kind: opCreate, path: fmt.Sprintf("/p%04d", p), acl: OpenACL}
			tr.applyOne(&c)
			for k := 0; k < children; k++ {
				c := command{kind: opCreate, path: fmt.Sprintf("/p%04d/c-", p), data: data, acl: OpenACL, mode: PersistentSequential}
				tr.applyOne(&c)
			}
		}
		src.fsm.mu.Lock()
		tr.keepEffects = true
		tr.format = src.fsm.t.format
		src.fsm.t = tr
		src.fsm.mu.Unlock()

		dir := b.TempDir()
		path := filepath.Join(dir, "b.coordbak")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		info, err := src.Backup(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		backup := time.Since(start)

		start = time.Now()
		if _, err := VerifyBackupFile(path); err != nil {
			b.Fatal(err)
		}
		verify := time.Since(start)

		start = time.Now()
		dataDir := filepath.Join(dir, "data")
		if _, err := RestoreDataDir(Config{NodeID: "r", DataDir: dataDir}, path); err != nil {
			b.Fatal(err)
		}
		offline := time.Since(start)
		start = time.Now()
		restored := openNode(b, Config{DataDir: dataDir})
		open := time.Since(start)
		if restored.LastZxid() != info.Zxid {
			b.Fatalf("restored at %#x, want %#x", restored.LastZxid(), info.Zxid)
		}

		dst := openNode(b, Config{})
		waitFormat2(b, dst)
		rf, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := dst.Restore(ctx, rf); err != nil {
			b.Fatal(err)
		}
		online := time.Since(start)
		rf.Close()
		b.StopTimer()
		if dst.LastZxid() != info.Zxid {
			b.Fatalf("online restore at %#x, want %#x", dst.LastZxid(), info.Zxid)
		}
		b.ReportMetric(float64(info.Znodes), "znodes")
		b.ReportMetric(float64(info.Size)/1e6, "backup-MB")
		b.ReportMetric(backup.Seconds(), "backup-s")
		b.ReportMetric(verify.Seconds(), "verify-s")
		b.ReportMetric(offline.Seconds(), "offline-restore-s")
		b.ReportMetric(open.Seconds(), "open-restored-s")
		b.ReportMetric(online.Seconds(), "online-restore-s")
	}
}
