package xdg

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxFileSize bounds a desktop file; larger files are refused before they are read whole.
const MaxFileSize = 1 << 20

// ParseError is a malformed desktop file: the file, the 1-based line (0 when the problem is
// not on one line, such as a missing key) and what is wrong.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// value is one key's value as written, with the line it is on.
type value struct {
	raw  string
	line int
}

// group is one [Group] of a key file: plain keys, and localized keys by key then locale.
type group struct {
	name      string
	line      int
	keys      map[string]value
	localized map[string]map[string]value
}

// keyFile is a parsed key file.
type keyFile struct {
	file   string
	groups map[string]*group
}

func (kf *keyFile) errorf(line int, format string, args ...any) *ParseError {
	return &ParseError{File: kf.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// parseKeyFile splits data into groups and keys. It checks the syntax of every line, that
// the text is UTF-8, and that no group or key appears twice.
func parseKeyFile(file string, data []byte) (*keyFile, error) {
	kf := &keyFile{file: file, groups: map[string]*group{}}
	if len(data) > MaxFileSize {
		return nil, kf.errorf(0, "larger than %d bytes", MaxFileSize)
	}
	var cur *group
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if !utf8.Valid(line) {
			return nil, kf.errorf(n, "not UTF-8")
		}
		s := strings.TrimLeft(string(line), " \t")
		switch {
		case s == "" || s[0] == '#':
			continue
		case s[0] == '[':
			name, ok := strings.CutSuffix(strings.TrimRight(s, " \t"), "]")
			name = name[1:]
			if !ok || name == "" || strings.ContainsAny(name, "[]") || hasControl(name) {
				return nil, kf.errorf(n, "malformed group header %q", s)
			}
			if g := kf.groups[name]; g != nil {
				return nil, kf.errorf(n, "group [%s] appears twice (first on line %d)", name, g.line)
			}
			cur = &group{name: name, line: n, keys: map[string]value{}, localized: map[string]map[string]value{}}
			kf.groups[name] = cur
		default:
			eq := strings.IndexByte(s, '=')
			if eq < 0 {
				return nil, kf.errorf(n, "neither a group header, a key=value pair nor a comment")
			}
			if cur == nil {
				return nil, kf.errorf(n, "key before the first group header")
			}
			k := strings.TrimRight(s[:eq], " \t")
			v := strings.TrimLeft(s[eq+1:], " \t")
			key, loc, err := splitKey(k)
			if err != nil {
				return nil, kf.errorf(n, "%v", err)
			}
			if loc == "" {
				if old, dup := cur.keys[key]; dup {
					return nil, kf.errorf(n, "key %s appears twice in [%s] (first on line %d)", key, cur.name, old.line)
				}
				cur.keys[key] = value{raw: v, line: n}
				continue
			}
			m := cur.localized[key]
			if m == nil {
				m = map[string]value{}
				cur.localized[key] = m
			}
			if old, dup := m[loc]; dup {
				return nil, kf.errorf(n, "key %s[%s] appears twice in [%s] (first on line %d)", key, loc, cur.name, old.line)
			}
			m[loc] = value{raw: v, line: n}
		}
	}
	return kf, nil
}

// splitKey splits "Name[de_DE]" into the key and the locale. Keys are ASCII letters, digits
// and '-'; locales are lang[_COUNTRY][.ENCODING][@MODIFIER], and the encoding is dropped.
func splitKey(k string) (key, locale string, err error) {
	key = k
	if i := strings.IndexByte(k, '['); i >= 0 {
		if !strings.HasSuffix(k, "]") || i == len(k)-2 {
			return "", "", fmt.Errorf("malformed key %q", k)
		}
		key, locale = k[:i], k[i+1:len(k)-1]
		for j := 0; j < len(locale); j++ {
			c := locale[j]
			if !(isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '@') {
				return "", "", fmt.Errorf("malformed locale in key %q", k)
			}
		}
		if l, ok := parseLocale(locale); ok {
			locale = l.String()
		} else {
			return "", "", fmt.Errorf("malformed locale in key %q", k)
		}
	}
	if key == "" {
		return "", "", fmt.Errorf("empty key")
	}
	for j := 0; j < len(key); j++ {
		if c := key[j]; !(isAlnum(c) || c == '-') {
			return "", "", fmt.Errorf("malformed key %q (keys are A-Za-z0-9 and '-')", k)
		}
	}
	return key, locale, nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// unescape undoes the string escapes \s \n \t \r \\. Any other escape is kept as written,
// so that Exec's own quoting (\" \$ \` inside double quotes) sees it.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// splitList splits a list value at unescaped ';', undoes \; and the string escapes in each
// element, and drops the empty element after a trailing ';'. Empty elements elsewhere are
// dropped too: they carry nothing.
func splitList(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, unescape(b.String()))
			b.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == ';':
			b.WriteByte(';')
			i++
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case c == ';':
			flush()
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return out
}

// parseBool reads a boolean: true or false, and the older 1 or 0.
func parseBool(v string) (bool, bool) {
	switch v {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}
