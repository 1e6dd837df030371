package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf16"
)

// configNode is ZooDefs.CONFIG_NODE, where an ensemble keeps its dynamic
// configuration.
const configNode = "/zookeeper/config"

// cmdConfig is zkCli 3.8's GetConfigCommand: the data of /zookeeper/config
// ("null" when it has none), or with -c its client connection string; -s
// adds the stat, -w leaves a watch. Like ZooKeeper.getConfig it reads the
// node by its absolute path, whatever the chroot.
func cmdConfig(c *command, s *shell, args []string) error {
	cl, err := c.parseArgs(&optParser{specs: []optSpec{{"s", false, "stats"}, {"w", false, "watch"}, {"c", false, "client connection string"}}}, args, 1)
	if err != nil {
		return err
	}
	data, st, err := s.zk.Client.Get(configNode, cl.has("w"))
	if err != nil {
		return wrapErr(err)
	}
	text := "null"
	if data != nil {
		text = javaString(data)
	}
	if cl.has("c") {
		text = clientConfigString(s, text)
	}
	fmt.Fprintln(s.out, text)
	s.printStatIf(cl, st)
	return nil
}

// clientConfigString is ConfigUtils.getClientConfigStr: the config's
// version and, comma-separated, the client address of each server.N
// entry, in the order java.util.Properties iterates its keys. An entry
// that does not parse is reported on stderr and skipped (after its comma,
// as in ZooKeeper). ZooKeeper's multiple-address feature is off by
// default, so an entry naming several addresses is one of those.
func clientConfigString(s *shell, config string) string {
	props := parseProperties(config)
	version := ""
	var sb strings.Builder
	first := true
	for _, key := range javaPropertiesOrder(props.keys) {
		k, v := strings.TrimSpace(key), strings.TrimSpace(props.values[key])
		if k == "version" {
			version = v
		}
		if !strings.HasPrefix(k, "server.") {
			continue
		}
		addr, err := quorumClientAddr(v)
		if err != nil {
			fmt.Fprintln(s.errw, "org.apache.zookeeper.server.quorum.QuorumPeerConfig$ConfigException: "+err.Error())
			continue
		}
		if !first {
			sb.WriteString(",")
		}
		first = false
		sb.WriteString(addr)
	}
	return version + " " + sb.String()
}

// quorumClientAddr is the client address QuorumServer parses from a
// server.N value, "addr[|addr...][;[clientHost:]clientPort]" where each
// addr is host:port:port[:role], as host:port ("" when there is none; the
// host defaults to 0.0.0.0).
func quorumClientAddr(v string) (string, error) {
	wrongFormat := v + " does not have the form server_config or server_config;client_config where server_config is the pipe separated list of host:port:port or host:port:port:type and client_config is port or host:port"
	parts := strings.Split(v, ";")
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1] // String.split drops trailing empties
	}
	if len(parts) > 2 {
		return "", fmt.Errorf("%s", wrongFormat)
	}
	addrs := strings.Split(parts[0], "|")
	if len(addrs) > 1 {
		return "", fmt.Errorf("Multiple address feature is disabled, but multiple addresses were specified for sid -1")
	}
	for _, a := range addrs {
		if n := len(hostAndPort(a)); n < 3 || n > 4 {
			return "", fmt.Errorf("%s", wrongFormat)
		}
	}
	if len(parts) < 2 {
		return "", nil
	}
	cp := hostAndPort(parts[1])
	if len(cp) > 2 {
		return "", fmt.Errorf("%s", wrongFormat)
	}
	host := "0.0.0.0"
	if len(cp) == 2 {
		host = javaHostString(cp[0])
	}
	port, err := strconv.ParseInt(cp[len(cp)-1], 10, 32)
	if err != nil || port < 0 || port > 65535 {
		return "", fmt.Errorf("Address unresolved: %s:%s", host, cp[len(cp)-1])
	}
	return host + ":" + strconv.Itoa(int(port)), nil
}

// javaHostString is InetSocketAddress.getHostString for an address made
// from host: the name as given, except that an IPv6 literal is written out
// as Inet6Address does (eight groups, no "::").
func javaHostString(host string) string {
	ip := net.ParseIP(host)
	if ip == nil || !strings.Contains(host, ":") {
		return host // names, IPv4 and scoped IPv6 literals are kept as given
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	groups := make([]string, 8)
	for i := range groups {
		groups[i] = strconv.FormatUint(uint64(ip[2*i])<<8|uint64(ip[2*i+1]), 16)
	}
	return strings.Join(groups, ":")
}

// hostAndPort is ConfigUtils.getHostAndPort: s split at colons, except
// that a leading "[ipv6]" is one part (without its brackets).
func hostAndPort(s string) []string {
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			rest := s[i+1:]
			parts := []string{s[1:i]}
			if rest != "" {
				parts = append(parts, strings.Split(strings.TrimPrefix(rest, ":"), ":")...)
			}
			return parts
		}
	}
	return javaSplit(s, ":")
}

// properties is what java.util.Properties.load reads: keys in the order
// first seen, and their last values.
type properties struct {
	keys   []string
	values map[string]string
}

// parseProperties reads the .properties format: logical lines (a line
// ending in an odd number of backslashes continues on the next, whose
// leading blanks are dropped), comments (# or !), and key, separator
// ('=', ':' or blanks) and value, with backslash escapes.
func parseProperties(text string) properties {
	p := properties{values: map[string]string{}}
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for trailingBackslashes(line)%2 == 1 && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if trailingBackslashes(line)%2 == 1 {
			line = line[:len(line)-1]
		}
		// The key ends at the first unescaped separator.
		end, valStart := len(line), len(line)
		for j := 0; j < len(line); j++ {
			c := line[j]
			if c == '\\' {
				j++
				continue
			}
			if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
				end = j
				k := j
				for k < len(line) && (line[k] == ' ' || line[k] == '\t' || line[k] == '\f') {
					k++
				}
				if (c == ' ' || c == '\t' || c == '\f') && k < len(line) && (line[k] == '=' || line[k] == ':') {
					k++
				} else if c == '=' || c == ':' {
					k = j + 1
				}
				for k < len(line) && (line[k] == ' ' || line[k] == '\t' || line[k] == '\f') {
					k++
				}
				valStart = k
				break
			}
		}
		key, val := unescapeProperty(line[:end]), unescapeProperty(line[valStart:])
		if _, ok := p.values[key]; !ok {
			p.keys = append(p.keys, key)
		}
		p.values[key] = val
	}
	return p
}

func trailingBackslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

// unescapeProperty undoes .properties escapes: \t \n \r \f, \uXXXX and
// a backslash before any other character.
func unescapeProperty(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			sb.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					sb.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			sb.WriteByte('u')
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}

// javaPropertiesOrder returns keys (distinct, in insertion order) in the
// order a java.util.Properties holding them iterates: that of its
// ConcurrentHashMap, created for 8 entries (16 bins, resized at 3/4 full),
// bin by bin, each bin's list in insertion order, as a single-threaded
// transfer splits it on resizing. (Bins of 8 or more keys, which a tiny
// table would rather grow for, are not modelled.)
func javaPropertiesOrder(keys []string) []string {
	type node struct {
		hash uint32
		key  string
	}
	n := 16
	sizeCtl := n - n>>2
	table := make([][]node, n)
	for count, k := range keys {
		h := spreadHash(k)
		i := int(h) & (n - 1)
		table[i] = append(table[i], node{h, k})
		if count+1 >= sizeCtl {
			next := make([][]node, 2*n)
			for i := n - 1; i >= 0; i-- {
				bin := table[i]
				if len(bin) == 0 {
					continue
				}
				// The run of nodes at the end that go to the same new bin is
				// kept as is; the nodes before it are prepended, one by one.
				last := len(bin) - 1
				for last > 0 && (bin[last-1].hash&uint32(n) == bin[len(bin)-1].hash&uint32(n)) {
					last--
				}
				var lo, hi []node
				if bin[last].hash&uint32(n) == 0 {
					lo = append(lo, bin[last:]...)
				} else {
					hi = append(hi, bin[last:]...)
				}
				for _, nd := range bin[:last] {
					if nd.hash&uint32(n) == 0 {
						lo = append([]node{nd}, lo...)
					} else {
						hi = append([]node{nd}, hi...)
					}
				}
				next[i], next[i+n] = lo, hi
			}
			table, n = next, 2*n
			sizeCtl = n - n>>2
		}
	}
	var out []string
	for _, bin := range table {
		for _, nd := range bin {
			out = append(out, nd.key)
		}
	}
	return out
}

// spreadHash is ConcurrentHashMap.spread of String.hashCode.
func spreadHash(s string) uint32 {
	var h int32
	for _, c := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(c)
	}
	u := uint32(h)
	return (u ^ u>>16) & 0x7fffffff
}
