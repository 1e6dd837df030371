package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/coordkit/coord/zkwire"
)

// Quotas as zkCli manages them (SetQuotaCommand, ListQuotaCommand,
// DelQuotaCommand): the limits of a path P live in the node
// /zookeeper/quota/P/zookeeper_limits and the server's usage counters in
// /zookeeper/quota/P/zookeeper_stats, both in StatsTrack's text form.

var quotaOpts = []optSpec{
	{"n", true, "num soft quota"}, {"b", true, "bytes soft quota"},
	{"N", true, "num hard quota"}, {"B", true, "bytes hard quota"},
}

func cmdSetQuota(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: quotaOpts, group: []string{"n", "b", "N", "B"}, groupRequired: true}, args, 2)
	if err != nil {
		return err
	}
	path := cl.args[1]
	if strings.HasPrefix(path, quotaZookeeper) {
		fmt.Fprintln(s.errw, "cannot set a quota under the path: "+quotaZookeeper)
		return nil
	}
	quota := statsTrack{"count": -1, "bytes": -1, "countHardLimit": -1, "byteHardLimit": -1}
	for _, o := range []struct {
		opt, key string
		count    bool
	}{{"n", "count", true}, {"b", "bytes", false}, {"N", "countHardLimit", true}, {"B", "byteHardLimit", false}} {
		if !cl.has(o.opt) {
			continue
		}
		bits := 64
		if o.count {
			bits = 32
		}
		v, err := strconv.ParseInt(cl.value(o.opt), 10, bits)
		if err != nil {
			fmt.Fprintln(s.errw, "NumberFormatException happens when parsing the option value")
			return nil
		}
		if o.count && v <= 0 {
			fmt.Fprintln(s.errw, "the num quota must be greater than zero")
			return nil
		}
		if !o.count && v < 0 {
			fmt.Fprintln(s.errw, "the bytes quota must be greater than or equal to zero")
			return nil
		}
		quota[o.key] = v
	}
	return wrapErr(s.createQuota(path, quota))
}

// createQuota is SetQuotaCommand.createQuota.
func (s *shell) createQuota(path string, quota statsTrack) error {
	if err := validatePath(path); err != nil {
		return err
	}
	_, ok, err := s.zk.Exists(path, false)
	if err != nil {
		return err
	}
	if !ok {
		return cliErr(path + " does not exist.")
	}
	if err := s.checkIfChildQuota(path); err != nil {
		return err
	}
	if err := s.checkIfParentQuota(path); err != nil {
		return err
	}
	if _, ok, err := s.zk.Exists(quotaZookeeper, false); err != nil {
		return err
	} else if !ok {
		for _, p := range []string{procZookeeper, quotaZookeeper} {
			if _, err := s.zk.Create(p, nil, openACL, zkwire.FlagPersistent); err != nil {
				if zkwire.CodeOf(err) == zkwire.CodeNodeExists {
					break
				}
				return err
			}
		}
	}
	qpath := quotaZookeeper
	for _, part := range strings.Split(path, "/")[1:] {
		qpath += "/" + part
		_, ok, err := s.zk.Exists(qpath, false)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := s.zk.Create(qpath, nil, openACL, zkwire.FlagPersistent); err != nil && zkwire.CodeOf(err) != zkwire.CodeNodeExists {
				return err
			}
		}
	}
	spath, lpath := qpath+"/"+statNode, qpath+"/"+limitNode
	_, ok, err = s.zk.Exists(lpath, false)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := s.zk.Create(lpath, []byte(quota.String()), openACL, zkwire.FlagPersistent); err != nil {
			return err
		}
		stats := statsTrack{"count": 0, "bytes": 0}
		if _, err := s.zk.Create(spath, []byte(stats.String()), openACL, zkwire.FlagPersistent); err != nil {
			return err
		}
		limits, err := s.readStats(lpath)
		if err != nil {
			return err
		}
		stats, err = s.readStats(spath)
		if err != nil {
			return err
		}
		s.checkQuota(limits, stats)
		return nil
	}
	limits, err := s.readStats(lpath)
	if err != nil {
		return err
	}
	for _, k := range []string{"count", "bytes", "countHardLimit", "byteHardLimit"} {
		if quota.get(k) > -1 {
			limits[k] = quota[k]
		}
	}
	stats, err := s.readStats(spath)
	if err != nil {
		return err
	}
	s.checkQuota(limits, stats)
	_, err = s.zk.Set(lpath, []byte(limits.String()), -1)
	return err
}

func (s *shell) readStats(path string) (statsTrack, error) {
	data, _, err := s.zk.Get(path, false)
	if err != nil {
		return nil, err
	}
	return parseStatsTrack(data), nil
}

func (s *shell) checkQuota(limits, stats statsTrack) {
	count, bytes := stats.get("count"), stats.get("bytes")
	if (limits.get("count") > -1 && limits.get("count") < count) || (limits.get("countHardLimit") > -1 && limits.get("countHardLimit") < count) {
		fmt.Fprintf(s.out, "[Warning]: the count quota you create is less than the existing count:%d\n", count)
	}
	if (limits.get("bytes") > -1 && limits.get("bytes") < bytes) || (limits.get("byteHardLimit") > -1 && limits.get("byteHardLimit") < bytes) {
		fmt.Fprintf(s.out, "[Warning]: the bytes quota you create is less than the existing bytes:%d\n", bytes)
	}
}

// checkIfChildQuota refuses a quota on a path below which one is already
// set.
func (s *shell) checkIfChildQuota(path string) error {
	realPath := quotaPath(path)
	err := s.visitDFS(realPath, false, func(qp string) error {
		children, _, err := s.zk.Children(qp, false)
		if zkwire.CodeOf(err) == zkwire.CodeNoNode {
			return nil
		}
		if err != nil {
			return err
		}
		for _, ch := range children {
			if qp != realPath && ch == limitNode {
				return cliErr(path + " has a child " + strings.TrimPrefix(qp, quotaZookeeper) + " which has a quota")
			}
		}
		return nil
	})
	if zkwire.CodeOf(err) == zkwire.CodeNoNode {
		return nil
	}
	return err
}

// checkIfParentQuota refuses a quota on a path above which one is already
// set.
func (s *shell) checkIfParentQuota(path string) error {
	splits := strings.Split(path, "/")
	qpath := quotaZookeeper
	for i := 1; i < len(splits)-1; i++ {
		qpath += "/" + splits[i]
		children, _, err := s.zk.Children(qpath, false)
		if zkwire.CodeOf(err) == zkwire.CodeNoNode {
			return nil
		}
		if err != nil {
			return err
		}
		if len(children) == 0 {
			return nil
		}
		for _, ch := range children {
			if qpath != quotaPath(path) && ch == limitNode {
				return cliErr(path + " has a parent " + strings.TrimPrefix(qpath, quotaZookeeper) + " which has a quota")
			}
		}
	}
	return nil
}

func cmdListQuota(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{}, args, 2)
	if err != nil {
		return err
	}
	path := cl.args[1]
	fmt.Fprintln(s.errw, "absolute path is "+limitPath(path))
	if err := validatePath(limitPath(path)); err != nil {
		return err
	}
	limits, err := s.readStats(limitPath(path))
	var stats statsTrack
	if err == nil {
		stats, err = s.readStats(statPath(path))
	}
	if zkwire.CodeOf(err) == zkwire.CodeNoNode {
		fmt.Fprintln(s.errw, "quota for "+path+" does not exist.")
		return nil
	}
	if err != nil {
		return wrapErr(err)
	}
	fmt.Fprintln(s.out, "Output quota for "+path+" "+limits.String())
	fmt.Fprintln(s.out, "Output stat for "+path+" "+stats.String())
	return nil
}

func cmdDelQuota(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: []optSpec{
		{"n", false, "num soft quota"}, {"b", false, "bytes soft quota"},
		{"N", false, "num hard quota"}, {"B", false, "bytes hard quota"},
	}, group: []string{"n", "b", "N", "B"}}, args, 2)
	if err != nil {
		return err
	}
	path := cl.args[1]
	var clear []string
	for _, o := range []struct{ opt, key string }{{"n", "count"}, {"b", "bytes"}, {"N", "countHardLimit"}, {"B", "byteHardLimit"}} {
		if cl.has(o.opt) {
			clear = append(clear, o.key)
		}
	}
	err = s.delQuota(path, clear)
	if zkwire.CodeOf(err) == zkwire.CodeNoNode {
		fmt.Fprintln(s.errw, "quota for "+path+" does not exist.")
		return nil
	}
	return wrapErr(err)
}

// delQuota is DelQuotaCommand.delQuota: with no keys, the quota's nodes go
// (and the emptied directories above them, up to /zookeeper/quota); with
// keys, those limits are reset to -1.
func (s *shell) delQuota(path string, clear []string) error {
	parent, lpath := quotaPath(path), limitPath(path)
	if err := validatePath(lpath); err != nil {
		return err
	}
	_, ok, err := s.zk.Exists(lpath, false)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(s.out, "Quota does not exist for "+path)
		return nil
	}
	limits, err := s.readStats(lpath)
	if err != nil {
		return err
	}
	if len(clear) > 0 {
		for _, k := range clear {
			limits[k] = -1
		}
		_, err := s.zk.Set(lpath, []byte(limits.String()), -1)
		return err
	}
	children, _, err := s.zk.Children(parent, false)
	if err != nil {
		return err
	}
	for _, ch := range children {
		if err := s.zk.Delete(parent+"/"+ch, -1); err != nil {
			return err
		}
	}
	// trimProcQuotas: remove empty directories up to /zookeeper/quota.
	for p := parent; p != quotaZookeeper; p = p[:strings.LastIndexByte(p, '/')] {
		children, _, err := s.zk.Children(p, false)
		if err != nil {
			return err
		}
		if len(children) > 0 {
			return nil
		}
		if err := s.zk.Delete(p, -1); err != nil {
			return err
		}
	}
	return nil
}
