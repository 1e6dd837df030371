package main

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coordkit/coord/zkwire"
)

// command is one of zkCli's CliCommands: its option string (for usage
// messages) and what it does with its words (args[0] is its name).
type command struct {
	usage string
	run   func(c *command, s *shell, args []string) error
}

// usageErr is the error zkCli raises for missing arguments: the command's
// usage line.
func (c *command) usageErr(name string) error { return cliErr(name + " " + c.usage) }

func parseWith(p *optParser, args []string) (*cmdLine, error) {
	cl, err := p.parse(args)
	if err != nil {
		return nil, cliErr(err.Error())
	}
	return cl, nil
}

// parseArgs parses the command's words with p and requires at least want of
// them (its name, args[0], included): fewer is the usage error.
func (c *command) parseArgs(p *optParser, args []string, want int) (*cmdLine, error) {
	cl, err := parseWith(p, args)
	if err != nil {
		return nil, err
	}
	if len(cl.args) < want {
		return nil, c.usageErr(args[0])
	}
	return cl, nil
}

// parsePath is parseArgs for a command whose first argument is a path: it
// also returns that path, validated.
func (c *command) parsePath(p *optParser, args []string) (*cmdLine, string, error) {
	cl, err := c.parseArgs(p, args, 2)
	if err != nil {
		return nil, "", err
	}
	path := cl.args[1]
	if err := validatePath(path); err != nil {
		return nil, "", err
	}
	return cl, path, nil
}

// parseWatchedPath is parsePath for a command that also takes the 3.4 form
// "cmd path watch" (see retainWatchCompat), with its deprecation notice.
func (c *command) parseWatchedPath(s *shell, p *optParser, args []string, notice string) (*cmdLine, string, error) {
	cl, err := c.parseArgs(p, args, 2)
	if err != nil {
		return nil, "", err
	}
	if cl, err = retainWatchCompat(s, p, args, cl, notice); err != nil {
		return nil, "", err
	}
	path := cl.args[1]
	if err := validatePath(path); err != nil {
		return nil, "", err
	}
	return cl, path, nil
}

// printStatIf prints st when the command line has -s.
func (s *shell) printStatIf(cl *cmdLine, st zkwire.Stat) {
	if cl.has("s") {
		printStat(s.out, st)
	}
}

var commands map[string]*command

func init() {
	commands = map[string]*command{
		"ls":                   {usage: "[-s] [-w] [-R] path", run: cmdLs},
		"ls2":                  {usage: "path [watch]", run: cmdLs2},
		"get":                  {usage: "[-s] [-w] path", run: cmdGet},
		"set":                  {usage: "[-s] [-v version] path data", run: cmdSet},
		"create":               {usage: "[-s] [-e] [-c] [-t ttl] path [data] [acl]", run: cmdCreate},
		"delete":               {usage: "[-v version] path", run: cmdDelete},
		"deleteall":            {usage: "path [-b batch size]", run: cmdDeleteAll},
		"rmr":                  {usage: "path", run: cmdDeleteAll},
		"stat":                 {usage: "[-w] path", run: cmdStat},
		"getAcl":               {usage: "[-s] path", run: cmdGetACL},
		"setAcl":               {usage: "[-s] [-v version] [-R] path acl", run: cmdSetACL},
		"addauth":              {usage: "scheme auth", run: cmdAddAuth},
		"sync":                 {usage: "path", run: cmdSync},
		"addWatch":             {usage: "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", run: cmdAddWatch},
		"removewatches":        {usage: "path [-c|-d|-a] [-l]", run: cmdRemoveWatches},
		"getEphemerals":        {usage: "path", run: cmdGetEphemerals},
		"getAllChildrenNumber": {usage: "path", run: cmdGetAllChildrenNumber},
		"whoami":               {usage: "", run: cmdWhoAmI},
		"setquota":             {usage: "-n|-b|-N|-B val path", run: cmdSetQuota},
		"listquota":            {usage: "path", run: cmdListQuota},
		"delquota":             {usage: "[-n|-b|-N|-B] path", run: cmdDelQuota},
		"close":                {usage: "", run: cmdClose},
		"version":              {usage: "", run: cmdVersion},
		"config":               {usage: "[-c] [-w] [-s]", run: cmdConfig},
	}
}

// retainWatchCompat is zkCli's handling of the 3.4 form "cmd path watch":
// the third word is turned into -w, with a deprecation notice.
func retainWatchCompat(s *shell, p *optParser, args []string, cl *cmdLine, notice string) (*cmdLine, error) {
	if len(cl.args) <= 2 {
		return cl, nil
	}
	args = slices.Clone(args)
	args[2] = "-w"
	fmt.Fprintln(s.errw, notice)
	return parseWith(p, args)
}

func cmdLs(c *command, s *shell, args []string) error {
	p := &optParser{specs: []optSpec{{"?", false, "help"}, {"s", false, "stat"}, {"w", false, "watch"}, {"R", false, "recurse"}}}
	cl, err := parseWith(p, args)
	if err != nil {
		return err
	}
	if cl.has("?") {
		fmt.Fprint(s.out, "usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch\n")
	}
	if cl, err = retainWatchCompat(s, p, args, cl, "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead."); err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return c.usageErr("ls")
	}
	path := cl.args[1]
	watch := cl.has("w")
	if cl.has("R") {
		return wrapErr(s.visitDFS(path, watch, func(p string) error {
			fmt.Fprintln(s.out, p)
			return nil
		}))
	}
	return s.list(path, watch, cl.has("s"))
}

// list prints a node's children sorted, as "[a, b]", and its stat too when
// withStat.
func (s *shell) list(path string, watch, withStat bool) error {
	if err := validatePath(path); err != nil {
		return err
	}
	children, st, err := s.zk.Children(path, watch)
	if err != nil {
		return wrapErr(err)
	}
	sort.Strings(children)
	fmt.Fprintln(s.out, "["+strings.Join(children, ", ")+"]")
	if withStat {
		printStat(s.out, st)
	}
	return nil
}

// cmdLs2 is ZooKeeper 3.4's "ls2 path [watch]": children and stat.
func cmdLs2(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{}, args, 2)
	if err != nil {
		return err
	}
	return s.list(cl.args[1], len(cl.args) > 2, true)
}

// visitDFS is ZKUtil.visitSubTreeDFS: the root (read, so that it must
// exist), then each node's sorted children before their own subtrees. A
// node deleted meanwhile is skipped.
func (s *shell) visitDFS(path string, watch bool, cb func(string) error) error {
	if err := validatePath(path); err != nil {
		return err
	}
	if _, _, err := s.zk.Get(path, watch); err != nil {
		return err
	}
	if err := cb(path); err != nil {
		return err
	}
	return s.visitDFSChildren(path, watch, cb)
}

func (s *shell) visitDFSChildren(path string, watch bool, cb func(string) error) error {
	children, _, err := s.zk.Children(path, watch)
	if zkwire.CodeOf(err) == zkwire.CodeNoNode {
		return nil
	}
	if err != nil {
		return err
	}
	sort.Strings(children)
	for i, ch := range children {
		children[i] = joinPath(path, ch)
		if err := cb(children[i]); err != nil {
			return err
		}
	}
	for _, ch := range children {
		if err := s.visitDFSChildren(ch, watch, cb); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(parent, child string) string {
	if parent == "/" {
		return "/" + child
	}
	return parent + "/" + child
}

func cmdGet(c *command, s *shell, args []string) error {
	cl, path, err := c.parseWatchedPath(s, &optParser{specs: []optSpec{{"s", false, "stats"}, {"w", false, "watch"}}}, args,
		"'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.")
	if err != nil {
		return err
	}
	data, st, err := s.zk.Get(path, cl.has("w"))
	if err != nil {
		return wrapErr(err)
	}
	if data == nil {
		fmt.Fprintln(s.out, "null")
	} else {
		fmt.Fprintln(s.out, javaString(data))
	}
	s.printStatIf(cl, st)
	return nil
}

// parseVersion reads a -v value as Java's Integer.parseInt.
func parseVersion(cl *cmdLine) (int32, error) {
	if !cl.has("v") {
		return -1, nil
	}
	v, err := strconv.ParseInt(cl.value("v"), 10, 32)
	if err != nil {
		return 0, cliErr(`java.lang.NumberFormatException: For input string: "` + cl.value("v") + `"`)
	}
	return int32(v), nil
}

func cmdSet(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: []optSpec{{"s", false, "stats"}, {"v", true, "version"}}}, args, 3)
	if err != nil {
		return err
	}
	path := cl.args[1]
	version, err := parseVersion(cl)
	if err != nil {
		return err
	}
	if err := validatePath(path); err != nil {
		return err
	}
	st, err := s.zk.Set(path, []byte(cl.args[2]), version)
	if err != nil {
		return wrapErr(err)
	}
	s.printStatIf(cl, st)
	return nil
}

// maxTTL is EphemeralType.TTL's largest value, 2^40-1 ms.
const maxTTL = 1<<40 - 1

func cmdCreate(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: []optSpec{{"e", false, "ephemeral"}, {"s", false, "sequential"}, {"c", false, "container"}, {"t", true, "ttl"}}}, args, 2)
	if err != nil {
		return err
	}
	hasE, hasS, hasC, hasT := cl.has("e"), cl.has("s"), cl.has("c"), cl.has("t")
	if hasC && (hasE || hasS) {
		return cliErr("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	var ttl int64
	if hasT {
		if ttl, err = strconv.ParseInt(cl.value("t"), 10, 64); err != nil {
			return cliErr("-t argument must be a long value")
		}
	}
	if hasT && hasE {
		return cliErr("TTLs cannot be used with Ephemeral znodes")
	}
	if hasT && hasC {
		return cliErr("TTLs cannot be used with Container znodes")
	}
	var flags int32
	switch {
	case hasE && hasS:
		flags = zkwire.FlagEphemeralSequential
	case hasE:
		flags = zkwire.FlagEphemeral
	case hasS && hasT:
		flags = zkwire.FlagPersistentSequentialWithTTL
	case hasS:
		flags = zkwire.FlagPersistentSequential
	case hasC:
		flags = zkwire.FlagContainer
	case hasT:
		flags = zkwire.FlagPersistentWithTTL
	default:
		flags = zkwire.FlagPersistent
	}
	if hasT && (ttl <= 0 || ttl > maxTTL) {
		return cliErr("ttl must be positive and cannot be larger than: " + strconv.FormatInt(maxTTL, 10))
	}
	path := cl.args[1]
	var data []byte
	if len(cl.args) > 2 {
		data = []byte(cl.args[2])
	}
	acl := openACL
	if len(cl.args) > 3 {
		acl = parseACL(s.errw, cl.args[3])
	}
	check := path
	if hasS {
		check += "1"
	}
	if err := validatePath(check); err != nil {
		return err
	}
	var created string
	if hasT {
		created, _, err = s.zk.CreateTTL(path, data, acl, flags, time.Duration(ttl)*time.Millisecond)
	} else {
		created, err = s.zk.Create(path, data, acl, flags)
	}
	switch zkwire.CodeOf(err) {
	case zkwire.CodeOK:
		fmt.Fprintln(s.errw, "Created "+created)
		return nil
	case zkwire.CodeEphemeralOnLocalSession:
		fmt.Fprintln(s.errw, "Unable to create ephemeral node on a local session")
	case zkwire.CodeInvalidACL:
		fmt.Fprintln(s.errw, err.Error())
	}
	return wrapErr(err)
}

func cmdDelete(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: []optSpec{{"v", true, "version"}}}, args, 2)
	if err != nil {
		return err
	}
	if len(cl.args) > 2 {
		// zkCli warns about "delete path version" and then ignores the version.
		fmt.Fprintln(s.errw, "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.")
	}
	path := cl.args[1]
	version, err := parseVersion(cl)
	if err != nil {
		return err
	}
	if err := validatePath(path); err != nil {
		return err
	}
	return wrapErr(s.zk.Delete(path, version))
}

// cmdDeleteAll is deleteall (and 3.4's rmr): ZKUtil.deleteRecursive, the
// subtree listed breadth-first and deleted leaves first in multis of at
// most -b ops.
func cmdDeleteAll(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: []optSpec{{"b", true, "batch size"}}}, args, 2)
	if err != nil {
		return err
	}
	batch := 1000
	if cl.has("b") {
		n, err := strconv.ParseInt(cl.value("b"), 10, 32)
		if err != nil {
			return cliErr("-b argument must be an int value")
		}
		batch = int(n)
	}
	path := cl.args[1]
	if err := validatePath(path); err != nil {
		return err
	}
	tree, err := s.listBFS(path)
	if err != nil {
		return wrapErr(err)
	}
	var ops []zkwire.MultiOp
	for i := len(tree) - 1; i >= 0; i-- {
		ops = append(ops, zkwire.MultiOp{Type: zkwire.OpDelete, Req: &zkwire.DeleteRequest{Path: tree[i], Version: -1}})
		if len(ops) == batch || i == 0 {
			if _, err := s.zk.Multi(ops...); err != nil {
				fmt.Fprintln(s.errw, "Failed to delete some node(s) in the subtree!")
				return nil
			}
			ops = nil
		}
	}
	return nil
}

// listBFS is ZKUtil.listSubTreeBFS: root first, then level by level in the
// server's order.
func (s *shell) listBFS(root string) ([]string, error) {
	tree := []string{root}
	for i := 0; i < len(tree); i++ {
		children, _, err := s.zk.Children(tree[i], false)
		if err != nil {
			return nil, err
		}
		for _, ch := range children {
			tree = append(tree, joinPath(tree[i], ch))
		}
	}
	return tree, nil
}

func cmdStat(c *command, s *shell, args []string) error {
	cl, path, err := c.parseWatchedPath(s, &optParser{specs: []optSpec{{"w", false, "watch"}}}, args,
		"'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.")
	if err != nil {
		return err
	}
	st, ok, err := s.zk.Exists(path, cl.has("w"))
	if err != nil {
		return wrapErr(err)
	}
	if !ok {
		return wrapErr(&zkwire.Error{Code: zkwire.CodeNoNode, Path: path})
	}
	printStat(s.out, st)
	return nil
}

func cmdGetACL(c *command, s *shell, args []string) error {
	cl, path, err := c.parsePath(&optParser{specs: []optSpec{{"s", false, "stats"}}}, args)
	if err != nil {
		return err
	}
	acl, st, err := s.zk.GetACL(path)
	if err != nil {
		return wrapErr(err)
	}
	printACL(s.out, acl)
	s.printStatIf(cl, st)
	return nil
}

func cmdSetACL(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: []optSpec{{"s", false, "stats"}, {"v", true, "version"}, {"R", false, "recursive"}}}, args, 3)
	if err != nil {
		return err
	}
	path := cl.args[1]
	acl := parseACL(s.errw, cl.args[2])
	version, err := parseVersion(cl)
	if err != nil {
		return err
	}
	if cl.has("R") {
		// zkCli prints each node's failure (without a newline; one is
		// added here) and goes on.
		return wrapErr(s.visitDFS(path, false, func(p string) error {
			if _, err := s.zk.SetACL(p, acl, version); err != nil {
				fmt.Fprintln(s.out, err.Error())
			}
			return nil
		}))
	}
	if err := validatePath(path); err != nil {
		return err
	}
	st, err := s.zk.SetACL(path, acl, version)
	if err != nil {
		return wrapErr(err)
	}
	s.printStatIf(cl, st)
	return nil
}

func cmdAddAuth(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{}, args, 2)
	if err != nil {
		return err
	}
	var auth []byte
	if len(cl.args) >= 3 {
		auth = []byte(cl.args[2])
	}
	err = s.zk.AddAuth(cl.args[1], auth)
	// zkCli sends credentials without waiting; a refusal shows up only as
	// the AuthFailed event (printed after this command).
	if err != nil && zkwire.CodeOf(err) != zkwire.CodeAuthFailed {
		return wrapErr(err)
	}
	return nil
}

func cmdSync(c *command, s *shell, args []string) error {
	_, path, err := c.parsePath(&optParser{}, args)
	if err != nil {
		return err
	}
	if _, err := s.zk.Sync(path); err != nil {
		var ke *zkwire.Error
		if !errors.As(err, &ke) {
			return wrapErr(err)
		}
		fmt.Fprintf(s.out, "Sync has failed. rc=%d\n", ke.Code)
		return nil
	}
	fmt.Fprintln(s.out, "Sync is OK")
	return nil
}

func cmdAddWatch(c *command, s *shell, args []string) error {
	cl, err := parseWith(&optParser{specs: []optSpec{{"m", true, ""}}}, args)
	if err != nil {
		return err
	}
	if len(cl.args) != 2 {
		return c.usageErr("addWatch")
	}
	mode := zkwire.AddWatchPersistentRecursive
	if cl.has("m") {
		switch strings.ToUpper(cl.value("m")) {
		case "PERSISTENT":
			mode = zkwire.AddWatchPersistent
		case "PERSISTENT_RECURSIVE":
			mode = zkwire.AddWatchPersistentRecursive
		default:
			return c.usageErr("addWatch")
		}
	}
	path := cl.args[1]
	if err := validatePath(path); err != nil {
		return err
	}
	return wrapErr(s.zk.AddWatch(path, mode))
}

func cmdRemoveWatches(c *command, s *shell, args []string) error {
	cl, path, err := c.parsePath(&optParser{specs: []optSpec{
		{"c", false, "child watcher type"}, {"d", false, "data watcher type"},
		{"a", false, "any watcher type"}, {"l", false, "remove locally when there is no server connection"},
	}}, args)
	if err != nil {
		return err
	}
	typ := zkwire.WatcherAny
	switch {
	case cl.has("c"):
		typ = zkwire.WatcherChildren
	case cl.has("d"):
		typ = zkwire.WatcherData
	}
	return wrapErr(s.zk.RemoveWatches(path, typ, cl.has("l")))
}

func cmdGetEphemerals(c *command, s *shell, args []string) error {
	cl, err := parseWith(&optParser{}, args)
	if err != nil {
		return err
	}
	path := "/"
	if len(cl.args) >= 2 {
		path = cl.args[1]
	}
	if err := validatePath(path); err != nil {
		return err
	}
	eph, err := s.zk.GetEphemerals(path)
	if err != nil {
		return wrapErr(err)
	}
	// Sorted (zkCli prints the server's order, which is arbitrary).
	sort.Strings(eph)
	fmt.Fprintln(s.out, javaList(eph))
	return nil
}

func cmdGetAllChildrenNumber(c *command, s *shell, args []string) error {
	_, path, err := c.parsePath(&optParser{}, args)
	if err != nil {
		return err
	}
	n, err := s.zk.GetAllChildrenNumber(path)
	if err != nil {
		return wrapErr(err)
	}
	fmt.Fprintln(s.out, n)
	return nil
}

func cmdWhoAmI(c *command, s *shell, args []string) error {
	infos, err := s.zk.WhoAmI()
	if err != nil {
		return wrapErr(err)
	}
	fmt.Fprintln(s.out, "Auth scheme: User")
	for _, ci := range infos {
		fmt.Fprintf(s.out, "%s: %s\n", ci.AuthScheme, ci.User)
	}
	return nil
}

func cmdClose(c *command, s *shell, args []string) error {
	return wrapErr(s.zk.Close())
}

func cmdVersion(c *command, s *shell, args []string) error {
	if len(args) > 1 {
		return c.usageErr("version")
	}
	fmt.Fprintln(s.out, "coordctl: zkCli-compatible shell for the ZooKeeper 3.8 client protocol")
	return nil
}
