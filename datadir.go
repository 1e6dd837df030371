package coord

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/coordkit/coord/internal/zkdata"
	"github.com/coordkit/coord/raftfsm"
)

// Offline restore and import: both build a data directory from which a
// node starts with a given tree (Open with Config.DataDir). The directory
// holds a raft snapshot of the tree at index 1 with the configuration the
// Config describes (its Peers, or the node alone), so every member of a
// new ensemble is restored from the same file with its own Config, and
// they start as one ensemble with the same state; and the node's identity
// file. Nothing is written to DataDir unless everything succeeded: the
// directory is built beside it and renamed into place.

// RestoreDataDir builds cfg.DataDir from the backup file at path, for the
// node cfg describes (NodeID, and Peers for an ensemble; every member is
// restored from the same file). DataDir must not exist or be empty. A
// file whose checksum or digest fails is refused.
func RestoreDataDir(cfg Config, path string) (BackupInfo, error) {
	t, info, err := readBackupFile(path)
	if err != nil {
		return info, err
	}
	return info, seedDataDir(cfg, t)
}

// ImportOptions tune ImportZooKeeper.
type ImportOptions struct {
	// LogDir is ZooKeeper's dataLogDir when it differs from its dataDir.
	LogDir string
	// AllowNoSnapshot replays logs onto an empty tree when the dataDir has
	// no snapshot (zookeeper.snapshot.trust.empty).
	AllowNoSnapshot bool
}

// ImportInfo describes an import.
type ImportInfo struct {
	Snapshot string   // the ZooKeeper snapshot read
	Logs     []string // the transaction logs replayed
	Zxid     int64    // ZooKeeper's last zxid: the next write takes Zxid+1
	Znodes   int
	Sessions int
	Warnings []string // what ZooKeeper's loader and the conversion noted
}

// ImportZooKeeper reads the data directory of a stopped Apache ZooKeeper
// (3.5 to 3.9) and builds cfg.DataDir, as RestoreDataDir does, with the
// same tree: every znode's data, full stat and ACL, zxids going on from
// ZooKeeper's last, sequential names from each parent's cversion,
// containers and TTL nodes as such, quotas. ZooKeeper's open sessions
// keep their ids, timeouts and passwords: as after a ZooKeeper restart,
// their clients may reconnect within the timeout, else they expire.
func ImportZooKeeper(cfg Config, zkDataDir string, opts *ImportOptions) (ImportInfo, error) {
	if opts == nil {
		opts = &ImportOptions{}
	}
	z, err := zkdata.Load(zkDataDir, &zkdata.Options{LogDir: opts.LogDir, AllowNoSnapshot: opts.AllowNoSnapshot})
	if err != nil {
		return ImportInfo{}, err
	}
	info := ImportInfo{Snapshot: z.Snapshot, Logs: z.Logs, Zxid: z.LastZxid, Znodes: len(z.Nodes), Sessions: len(z.Sessions),
		Warnings: slices.Clone(z.Warnings)}
	t, warns, err := treeFromZK(z, treeLimits{maxData: maxCommandBytes})
	info.Warnings = append(info.Warnings, warns...)
	if err != nil {
		return info, err
	}
	return info, seedDataDir(cfg, t)
}

// seedDataDir writes t as the starting state of the node cfg describes.
func seedDataDir(cfg Config, t *tree) error {
	if cfg.DataDir == "" {
		return errors.New("coord: the restore needs Config.DataDir")
	}
	if cfg.NodeID == "" {
		cfg.NodeID = fmt.Sprintf("node-%x", randUint64()&0xffffffffff)
	}
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.Gossip.Addr != "" && len(cfg.Peers) == 0 {
		return errors.New("coord: a restored ensemble needs its members listed (Peers): gossip alone cannot say who they are")
	}
	dir := filepath.Clean(cfg.DataDir)
	switch ents, err := os.ReadDir(dir); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("coord: data dir: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("coord: data dir %s is not empty: restore into a new directory", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("coord: data dir: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".restore-")
	if err != nil {
		return fmt.Errorf("coord: data dir: %w", err)
	}
	defer os.RemoveAll(tmp) // after the rename, nothing is left there
	t.restore = nil         // a restore that was being staged when the backup was taken
	snap := encodeSnapshot(t)
	err = raftfsm.SeedDataDir(tmp, cfg.bootstrapServers(), cfg.raftSelf(), func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(snap))
		return err
	}, cfg.Logger)
	if err != nil {
		return fmt.Errorf("coord: %w", err)
	}
	if err := writeIdentity(tmp, identity{Version: identityVersion, NodeID: cfg.NodeID, Cluster: cfg.Gossip.ClusterName}); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	_ = os.Remove(dir) // empty, if it exists
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("coord: data dir: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// treeFromZK converts ZooKeeper's tree into coord's. Stat fields map one
// to one (ZooKeeper stores cversion as coord does, a count of creates);
// ephemeral owners, containers and TTLs keep ZooKeeper's encoding, which
// is coord's.
func treeFromZK(z *zkdata.Tree, limits treeLimits) (*tree, []string, error) {
	var warns []string
	t := &tree{
		nodes:      make(map[string]*znode, len(z.Nodes)),
		acls:       newACLTable(),
		sessions:   make(map[int64]*sessionEntry, len(z.Sessions)),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		lastBatch:  make(map[uint64]uint64),
		format:     logFormat1, // the format gate raises it once the ensemble runs
		limits:     limits,
		zxid:       z.LastZxid,
	}
	ids := make([]int64, 0, len(z.Sessions))
	for id := range z.Sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id <= 0 {
			return nil, warns, fmt.Errorf("coord: ZooKeeper session %#x: coord's session ids are positive (a ZooKeeper server id above 127?)", id)
		}
		t.sessions[id] = &sessionEntry{timeout: z.Sessions[id], passwd: zkSessionPassword(id), ephemerals: make(map[string]struct{})}
	}
	paths := z.Paths() // sorted: ACL slots are handed out in path order
	if _, ok := z.Nodes["/"]; !ok {
		return nil, warns, errors.New("coord: the ZooKeeper tree has no root")
	}
	for _, p := range paths {
		zn := z.Nodes[p]
		if p != "/" && pathProblem(p) != "" {
			return nil, warns, fmt.Errorf("coord: ZooKeeper znode %q: %s", p, pathProblem(p))
		}
		s := zn.Persisted
		n := &znode{
			data:  zn.Data,
			czxid: s.Czxid, mzxid: s.Mzxid, pzxid: s.Pzxid,
			ctime: s.Ctime, mtime: s.Mtime,
			version: s.Version, cseq: s.Cversion, aversion: s.Aversion,
		}
		acl := make([]ACL, len(zn.ACL))
		for i, a := range zn.ACL {
			acl[i] = ACL{Perms: Perm(a.Perms), Scheme: a.Scheme, ID: a.ID}
		}
		n.acl = t.acls.ref(acl)
		switch zn.Kind() {
		case zkdata.Ephemeral:
			n.owner = s.EphemeralOwner
			se, ok := t.sessions[n.owner]
			if !ok {
				if n.owner <= 0 {
					return nil, warns, fmt.Errorf("coord: ZooKeeper ephemeral %s has owner %#x, not a session id coord can hold", p, n.owner)
				}
				// ZooKeeper would keep it until its owner's session is
				// closed, which can no longer happen; here it expires
				// after the default timeout like any session nobody
				// reconnects.
				warns = append(warns, fmt.Sprintf("ephemeral %s belongs to session %#x, which is not open: it will expire", p, n.owner))
				se = &sessionEntry{timeout: 4000, passwd: zkSessionPassword(n.owner), ephemerals: make(map[string]struct{})}
				t.sessions[n.owner] = se
			}
			se.ephemerals[p] = struct{}{}
		case zkdata.Container:
			n.owner = ownerContainer
			t.containers[p] = struct{}{}
		case zkdata.TTL:
			n.owner = ownerTTLTag | zn.TTL()
			t.ttls[p] = struct{}{}
		}
		t.nodes[p] = n
		t.digest += nodeHash(p, n)
		t.dataSize += nodeSize(p, n)
		t.now = max(t.now, n.mtime)
	}
	for _, p := range paths {
		if p == "/" {
			continue
		}
		pp, name := parentOf(p)
		parent := t.nodes[pp]
		if parent == nil {
			return nil, warns, fmt.Errorf("coord: ZooKeeper znode %s has no parent", p)
		}
		if parent.children == nil {
			parent.children = make(map[string]struct{})
		}
		parent.children[name] = struct{}{}
	}
	t.rebuildQuotaIndex()
	if err := t.checkInvariants(); err != nil {
		return nil, warns, fmt.Errorf("coord: the ZooKeeper tree does not convert: %w", err)
	}
	return t, warns, nil
}

// zkSessionPassword is the password ZooKeeper gives session id
// (ZooKeeperServer.generatePasswd): 16 bytes of java.util.Random seeded
// with id ^ superSecret. Clients of an imported session reconnect with it.
func zkSessionPassword(id int64) []byte {
	const superSecret = 0xB3415C00
	const mult, mask = 0x5DEECE66D, 1<<48 - 1
	seed := (uint64(id^superSecret) ^ mult) & mask
	p := make([]byte, 16)
	for i := 0; i < len(p); {
		seed = (seed*mult + 0xB) & mask
		rnd := int32(seed >> 16)
		for n := min(len(p)-i, 4); n > 0; n-- {
			p[i] = byte(rnd)
			rnd >>= 8
			i++
		}
	}
	return p
}
