package main

import (
	"regexp"
	"strings"
)

// argsPattern is zkCli's MyCommandOptions.ARGS_PATTERN: a word, or a
// "double-quoted" or 'single-quoted' string. Quotes are stripped from a
// token that starts and ends with the same quote.
var argsPattern = regexp.MustCompile(`\s*([^"']\S*|"[^"]*"|'[^']*')\s*`)

// splitCommand breaks a command line into words as zkCli does.
func splitCommand(line string) []string {
	var args []string
	for _, m := range argsPattern.FindAllStringSubmatch(line, -1) {
		v := m[1]
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		args = append(args, v)
	}
	return args
}

// optSpec is one command option, as commons-cli's Option.
type optSpec struct {
	name   string
	hasArg bool
	desc   string
}

// cmdLine is a parsed command: the options seen (with their first value)
// and the remaining arguments, the command name first.
type cmdLine struct {
	opts map[string]string
	args []string
}

func (c *cmdLine) has(o string) bool { _, ok := c.opts[o]; return ok }
func (c *cmdLine) value(o string) string {
	return c.opts[o]
}

// parseError is a commons-cli ParseException; zkCli prints its toString,
// "org.apache.commons.cli.<Class>: <message>".
type parseError struct{ class, msg string }

func (e *parseError) Error() string { return "org.apache.commons.cli." + e.class + ": " + e.msg }

// optParser emulates commons-cli's DefaultParser (the parser every zkCli
// command uses) for short options: options may come anywhere, "-v5" and
// "-v 5" both give v a value, "-sw" sets s and w, "--" ends the options,
// and a lone "-" is an argument. group, if set, is an option group: at
// most one of its options may be given, and one is required when
// groupRequired.
type optParser struct {
	specs         []optSpec
	group         []string
	groupRequired bool
}

func (p *optParser) spec(name string) *optSpec {
	for i := range p.specs {
		if p.specs[i].name == name {
			return &p.specs[i]
		}
	}
	return nil
}

func (p *optParser) inGroup(name string) bool {
	for _, g := range p.group {
		if g == name {
			return true
		}
	}
	return false
}

// isOption is DefaultParser.isShortOption: a token naming a known option,
// or whose first letter does.
func (p *optParser) isOption(tok string) bool {
	if len(tok) < 2 || tok[0] != '-' {
		return false
	}
	name := tok[1:]
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	return p.spec(name) != nil || (name != "" && p.spec(name[:1]) != nil)
}

func isNegativeNumber(tok string) bool {
	if len(tok) < 2 || tok[0] != '-' {
		return false
	}
	dot := false
	for _, r := range tok[1:] {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return true
}

func (p *optParser) parse(tokens []string) (*cmdLine, error) {
	cl := &cmdLine{opts: map[string]string{}}
	var current *optSpec // an option still waiting for its value
	selected := ""
	set := func(o *optSpec) error {
		if p.inGroup(o.name) {
			if selected != "" && selected != o.name {
				return &parseError{"AlreadySelectedException", "The option '" + o.name +
					"' was specified but an option from this group has already been selected: '" + selected + "'"}
			}
			selected = o.name
		}
		if _, ok := cl.opts[o.name]; !ok {
			cl.opts[o.name] = ""
		}
		if o.hasArg {
			current = o
		}
		return nil
	}
	value := func(v string) {
		if cl.opts[current.name] == "" {
			cl.opts[current.name] = v
		}
		current = nil
	}
	missingArg := func() error {
		return &parseError{"MissingArgumentException", "Missing argument for option: " + current.name}
	}
	skip := false
	for _, tok := range tokens {
		switch {
		case skip:
			cl.args = append(cl.args, tok)
			continue
		case tok == "--":
			skip = true
			continue
		case current != nil && (!p.isOption(tok) || isNegativeNumber(tok)):
			value(tok)
			continue
		case current != nil:
			return nil, missingArg()
		}
		if !strings.HasPrefix(tok, "-") || tok == "-" {
			cl.args = append(cl.args, tok)
			continue
		}
		unknown := &parseError{"UnrecognizedOptionException", "Unrecognized option: " + tok}
		if strings.HasPrefix(tok, "--") {
			return nil, unknown
		}
		t := tok[1:]
		if i := strings.IndexByte(t, '='); i > 0 {
			if o := p.spec(t[:i]); o != nil && o.hasArg {
				if err := set(o); err != nil {
					return nil, err
				}
				value(t[i+1:])
				continue
			}
		}
		if o := p.spec(t); o != nil {
			if err := set(o); err != nil {
				return nil, err
			}
			continue
		}
		if o := p.spec(t[:1]); o != nil && o.hasArg {
			if err := set(o); err != nil {
				return nil, err
			}
			value(t[1:])
			continue
		}
		// Concatenated flags: -sw.
		for i := 0; i < len(t); i++ {
			o := p.spec(t[i : i+1])
			if o == nil {
				return nil, unknown
			}
			if err := set(o); err != nil {
				return nil, err
			}
			if current != nil && i+1 < len(t) {
				value(t[i+1:])
				break
			}
		}
	}
	if current != nil {
		return nil, missingArg()
	}
	if p.groupRequired && selected == "" {
		var names []string
		for _, g := range p.group {
			o := p.spec(g)
			names = append(names, "-"+o.name+" "+o.desc)
		}
		return nil, &parseError{"MissingOptionException", "Missing required option: [" + strings.Join(names, ", ") + "]"}
	}
	return cl, nil
}
