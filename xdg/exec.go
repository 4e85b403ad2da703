package xdg

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Command is a parsed Exec value: the arguments with quoting undone and field codes still in
// them. Build one with ParseExec; run Expand to get argument vectors.
type Command struct {
	args []string
	// files is the one file or URL field code the line has ('f', 'F', 'u' or 'U'), or 0.
	files byte
}

// ParseExec splits an Exec value (string escapes already undone, as Entry.Exec holds it) into
// arguments, and checks its field codes. Arguments are separated by spaces (or tabs); a
// double-quoted argument may hold reserved characters, with \" \` \$ \\ escaping those four.
// Outside double quotes a single-quoted string is literal and a backslash escapes the next
// character (GLib and KDE do the same). No shell is involved: | > ; & $ and the rest are
// ordinary characters.
func ParseExec(s string) (*Command, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case '"':
			inArg = true
			closed := false
			for i++; i < len(s); i++ {
				c := s[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(s) && strings.IndexByte("\"`$\\", s[i+1]) >= 0 {
					i++
					c = s[i]
				}
				cur.WriteByte(c)
			}
			if !closed {
				return nil, errors.New("unterminated double quote")
			}
		case '\'':
			inArg = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '\\':
			inArg = true
			if i+1 < len(s) {
				i++
			}
			cur.WriteByte(s[i])
		default:
			inArg = true
			cur.WriteByte(c)
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	if len(args) == 0 || args[0] == "" {
		return nil, errors.New("no program")
	}
	if strings.ContainsRune(args[0], '=') {
		return nil, fmt.Errorf("the program %q contains '=', which the specification does not allow", args[0])
	}
	cmd := &Command{args: args}
	for i, a := range args {
		for j := 0; j < len(a); j++ {
			if a[j] != '%' {
				continue
			}
			if j+1 == len(a) {
				return nil, fmt.Errorf("argument %q ends in a lone %%", a)
			}
			j++
			code := a[j]
			switch code {
			case '%', 'c', 'k', 'd', 'D', 'n', 'N', 'v', 'm':
			case 'f', 'u', 'F', 'U', 'i':
				if code != 'f' && code != 'u' && a != "%"+string(code) {
					return nil, fmt.Errorf("field code %%%c must be an argument on its own, not part of %q", code, a)
				}
				if code == 'i' {
					break
				}
				if cmd.files != 0 {
					return nil, fmt.Errorf("more than one file or URL field code (%%%c and %%%c)", cmd.files, code)
				}
				cmd.files = code
			default:
				return nil, fmt.Errorf("unknown field code %%%c", code)
			}
			if i == 0 && code != '%' {
				return nil, fmt.Errorf("field code %%%c in the program name", code)
			}
		}
	}
	return cmd, nil
}

// Args returns the arguments as parsed, field codes unexpanded.
func (c *Command) Args() []string { return append([]string(nil), c.args...) }

// TakesFiles reports which file or URL field code the command has: 'f', 'F', 'u', 'U' or 0.
func (c *Command) TakesFiles() byte { return c.files }

// ExpandInfo is what the %i, %c and %k field codes expand to.
type ExpandInfo struct {
	Icon     string // %i: --icon ICON, nothing when empty
	Name     string // %c: the translated name
	Location string // %k: the desktop file's path
}

// Expand returns the argument vectors to run for files (paths or URLs): one, or one per file
// when the line takes a single file (%f or %u) and several are given, as the specification
// asks. %F and %U become one argument per file; %f and %u the file; with no file they are
// removed. A file:// URL given to %f or %F is passed as its path. When the line has no file or
// URL field code, the files are appended after the last argument. The deprecated %d %D %n %N
// %v %m are removed; %% is a '%'.
func (c *Command) Expand(info ExpandInfo, files []string) [][]string {
	if (c.files == 'f' || c.files == 'u') && len(files) > 1 {
		out := make([][]string, 0, len(files))
		for _, f := range files {
			out = append(out, c.expand(info, []string{f}))
		}
		return out
	}
	return [][]string{c.expand(info, files)}
}

func (c *Command) expand(info ExpandInfo, files []string) []string {
	if c.files == 'f' || c.files == 'F' {
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = localPath(f)
		}
		files = paths
	}
	var out []string
	for _, a := range c.args {
		switch a {
		case "%F", "%U":
			out = append(out, files...)
			continue
		case "%i":
			if info.Icon != "" {
				out = append(out, "--icon", info.Icon)
			}
			continue
		case "%f", "%u", "%d", "%D", "%n", "%N", "%v", "%m":
			if a == "%f" || a == "%u" {
				out = append(out, files...) // at most one here
			}
			continue
		}
		if strings.IndexByte(a, '%') < 0 {
			out = append(out, a)
			continue
		}
		var b strings.Builder
		for j := 0; j < len(a); j++ {
			if a[j] != '%' || j+1 == len(a) {
				b.WriteByte(a[j])
				continue
			}
			j++
			switch a[j] {
			case '%':
				b.WriteByte('%')
			case 'c':
				b.WriteString(info.Name)
			case 'k':
				b.WriteString(info.Location)
			case 'f', 'u':
				if len(files) > 0 {
					b.WriteString(files[0])
				}
			}
		}
		out = append(out, b.String())
	}
	if c.files == 0 {
		out = append(out, files...)
	}
	return out
}

// localPath turns a file:// URL into its path; anything else is returned as it is.
func localPath(s string) string {
	if !strings.HasPrefix(s, "file:") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
		return s
	}
	return u.Path
}
