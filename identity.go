package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A data directory keeps the identity of the node it belongs to, so that a
// node restarted on it is the same member of the same cluster whatever the
// Config says, and a Config that names another node or cluster is refused
// at once instead of waiting forever as a stranger to its own log.
const identityFile = "coord-identity.json"

// identityVersion is the version of identityFile's format.
const identityVersion = 1

type identity struct {
	Version int    `json:"version"`
	NodeID  string `json:"nodeId"`
	Cluster string `json:"cluster"`
}

// resolveIdentity reads DataDir's identity and fills in c.NodeID when it
// is empty. For a data directory without one it returns the function that
// records it, to be called once the Config is known to be valid.
func (c *Config) resolveIdentity() (record func() error, err error) {
	if c.DataDir == "" {
		return func() error { return nil }, nil
	}
	path := filepath.Join(c.DataDir, identityFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var id identity
		if err := json.Unmarshal(b, &id); err != nil {
			return nil, fmt.Errorf("coord: %s: %w", path, err)
		}
		if id.Version > identityVersion {
			return nil, fmt.Errorf("coord: %s has format version %d; this build reads up to %d: upgrade coord", path, id.Version, identityVersion)
		}
		if c.NodeID == "" {
			c.NodeID = id.NodeID
		}
		if c.NodeID != id.NodeID {
			return nil, fmt.Errorf("coord: data dir %s belongs to node %q, but Config.NodeID is %q", c.DataDir, id.NodeID, c.NodeID)
		}
		if id.Cluster != c.Gossip.ClusterName {
			return nil, fmt.Errorf("coord: data dir %s belongs to cluster %q, but this node is configured for cluster %q", c.DataDir, id.Cluster, c.Gossip.ClusterName)
		}
		return func() error { return nil }, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("coord: read %s: %w", path, err)
	}
	// No identity yet: a new data directory, or one written before coord
	// kept identities.
	if _, err := os.Stat(filepath.Join(c.DataDir, "raft")); err == nil && c.NodeID == "" {
		return nil, fmt.Errorf("coord: data dir %s holds raft state written before coord kept node identities: set Config.NodeID to the id it was created with (once; it is remembered from then on)", c.DataDir)
	}
	if c.NodeID == "" {
		c.NodeID = fmt.Sprintf("node-%x", randUint64()&0xffffffffff)
	}
	id := identity{Version: identityVersion, NodeID: c.NodeID, Cluster: c.Gossip.ClusterName}
	return func() error { return writeIdentity(c.DataDir, id) }, nil
}

// writeIdentity writes the identity file durably: a temporary file, synced,
// renamed into place, and the directory synced.
func writeIdentity(dir string, id identity) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("coord: data dir: %w", err)
	}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, identityFile+".tmp*")
	if err != nil {
		return fmt.Errorf("coord: write identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, identityFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("coord: write identity: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// waitingReportEvery is how often Open says what it waits for.
const waitingReportEvery = 5 * time.Second

// reportWaiting logs, until ctx ends, what the node waits for while it
// joins its ensemble, so that Open never waits without a word.
func (n *Node) reportWaiting(ctx context.Context) {
	t := time.NewTicker(waitingReportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.stop:
			return
		case <-t.C:
			n.log.Warn("waiting for the ensemble", "status", n.waitingFor(ctx))
		}
	}
}

// waitingFor describes why this node cannot serve yet: the leader, the
// voters it can reach, and the gossip members it has seen.
func (n *Node) waitingFor(ctx context.Context) string {
	var b strings.Builder
	if addr, id := n.replica.Leader(); id != "" {
		fmt.Fprintf(&b, "leader %s (%s) known, catching up; ", id, addr)
	} else {
		b.WriteString("no leader yet; ")
	}
	servers, err := n.replica.Servers()
	switch {
	case err != nil:
		fmt.Fprintf(&b, "configuration unknown: %v", err)
	case len(servers) == 0 && n.members != nil:
		fmt.Fprintf(&b, "not bootstrapped: %d of %d expected members seen by gossip (%s)",
			len(n.members.Members()), n.cfg.Gossip.BootstrapExpect, strings.Join(n.members.Members(), ", "))
	case len(servers) == 0:
		b.WriteString("no configuration: waiting to be added by a leader")
	default:
		voters, reachable := 0, 0
		var detail []string
		for _, s := range servers {
			if !s.Voter {
				continue
			}
			voters++
			if s.ID == n.cfg.NodeID {
				reachable++
				detail = append(detail, s.ID+" (this node)")
				continue
			}
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			c, err := n.cfg.Network.Dial(dctx, s.Addr)
			cancel()
			if err != nil {
				detail = append(detail, fmt.Sprintf("%s %s unreachable: %v", s.ID, s.Addr, err))
				continue
			}
			c.Close()
			reachable++
			detail = append(detail, fmt.Sprintf("%s %s reachable", s.ID, s.Addr))
		}
		fmt.Fprintf(&b, "%d of %d voters reachable, %d needed for a quorum: %s", reachable, voters, voters/2+1, strings.Join(detail, "; "))
	}
	return b.String()
}
