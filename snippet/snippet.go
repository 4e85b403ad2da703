// Package snippet parses and expands snippet templates.
//
// # Syntax
//
// A template is text with variables:
//
//	${date}          today, as %Y-%m-%d
//	${date:FORMAT}   the local time formatted by FORMAT (strftime conversions; see below)
//	${env:NAME}      the environment variable NAME of the process expanding (an error if unset)
//	${clipboard}     the clipboard's text (only while the clipboard role runs)
//	${secret:NAME}   the secret NAME of the snippet's profile, fetched from the vault when the
//	                 snippet is expanded; the stored template keeps only the reference
//	${cursor}        where the cursor goes after the snippet is typed (at most one; it expands
//	                 to nothing)
//	$$               a literal '$' (so $${date} is the text ${date})
//
// A '$' not followed by '{' or '$' is itself ("costs $5" needs no escape). Inside a
// variable's argument, $$ is '$' and $} is '}'. Anything else in ${…} is an error that says
// where and what: an unknown variable, an unterminated ${, a missing or extra argument, a
// name that cannot be a variable or secret, an unknown date conversion.
//
// # Date formats
//
// FORMAT uses strftime conversions (C locale): %Y year, %y two-digit year, %m month 01-12,
// %d day 01-31, %e day space-padded, %H hour 00-23, %I hour 01-12, %k hour space-padded, %l
// 12-hour space-padded, %M minute, %S second, %p AM/PM, %j day of year, %a %A weekday
// (Mon, Monday), %b %h %B month (Jan, January), %u weekday 1-7 (Monday 1), %w weekday 0-6
// (Sunday 0), %V ISO week, %G ISO year, %s Unix seconds, %z +hhmm, %Z zone name, %F =
// %Y-%m-%d, %T = %H:%M:%S, %R = %H:%M, %D = %m/%d/%y, %c = %a %b %e %H:%M:%S %Y, %n newline,
// %t tab, %% '%'. Any other conversion is an error when the template is parsed.
package snippet

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/open-sesame/sesame/secmem"
	"github.com/open-sesame/sesame/vault"
	"github.com/rivo/uniseg"
)

// MaxTemplate bounds a template, in bytes.
const MaxTemplate = 64 << 10

// Variable names.
const (
	VarDate      = "date"
	VarEnv       = "env"
	VarClipboard = "clipboard"
	VarSecret    = "secret"
	VarCursor    = "cursor"
)

var known = []string{VarClipboard, VarCursor, VarDate, VarEnv, VarSecret}

// part is literal text (name == "") or one variable.
type part struct {
	text string // the literal, or the variable's argument
	name string
	off  int // byte offset of the part in the template
}

// Template is a parsed template.
type Template struct {
	parts []part
}

// SyntaxError is a template that does not parse: Offset is the byte offset of the problem.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("template: at byte %d: %s", e.Offset, e.Msg) }

// Parse parses a template and checks every variable.
func Parse(s string) (*Template, error) {
	if len(s) > MaxTemplate {
		return nil, &SyntaxError{0, fmt.Sprintf("longer than %d bytes", MaxTemplate)}
	}
	if !utf8.ValidString(s) {
		return nil, &SyntaxError{firstInvalid(s), "not UTF-8"}
	}
	t := &Template{}
	var lit strings.Builder
	litOff := 0
	flush := func(next int) {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{text: lit.String(), off: litOff})
			lit.Reset()
		}
		litOff = next
	}
	cursors := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			lit.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '$' {
			lit.WriteByte('$')
			i += 2
			continue
		}
		start := i
		i += 2
		j := i
		for j < len(s) && s[j] != '}' && s[j] != ':' {
			j++
		}
		if j == len(s) {
			return nil, &SyntaxError{start, "unterminated ${ (add a closing }, or write $${ for a literal ${)"}
		}
		name := s[i:j]
		p := part{name: name, off: start}
		hasArg := s[j] == ':'
		i = j + 1
		if hasArg {
			var arg strings.Builder
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '}') {
					arg.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '}' {
					closed = true
					break
				}
				arg.WriteByte(c)
			}
			if !closed {
				return nil, &SyntaxError{start, fmt.Sprintf("unterminated ${%s: (add a closing })", name)}
			}
			p.text = arg.String()
		}
		if err := check(p, hasArg); err != nil {
			return nil, &SyntaxError{start, err.Error()}
		}
		if name == VarCursor {
			if cursors++; cursors > 1 {
				return nil, &SyntaxError{start, "more than one ${cursor}"}
			}
		}
		flush(start)
		t.parts = append(t.parts, p)
		litOff = i
	}
	flush(len(s))
	return t, nil
}

func firstInvalid(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return 0
}

// check validates one variable.
func check(p part, hasArg bool) error {
	switch p.name {
	case VarDate:
		if hasArg {
			if p.text == "" {
				return errors.New("${date:} needs a format, or write ${date}")
			}
			if _, err := strftime(p.text, time.Time{}, nil); err != nil {
				return err
			}
		}
	case VarEnv:
		if !hasArg || !isEnvName(p.text) {
			return fmt.Errorf("${env:NAME} needs a variable name ([A-Za-z_][A-Za-z0-9_]*), got %q", p.text)
		}
	case VarSecret:
		if !hasArg {
			return errors.New("${secret:NAME} needs a secret name")
		}
		if err := vault.ValidateName(p.text); err != nil {
			return fmt.Errorf("${secret:%s}: %v", p.text, err)
		}
	case VarClipboard, VarCursor:
		if hasArg {
			return fmt.Errorf("${%s} takes no argument", p.name)
		}
	case "":
		return errors.New("empty variable name in ${}")
	default:
		return fmt.Errorf("unknown variable ${%s} (known: %s; $${ is a literal ${)", p.name, strings.Join(known, ", "))
	}
	return nil
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Secrets returns the secrets the template references, in order of first use.
func (t *Template) Secrets() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range t.parts {
		if p.name == VarSecret && !seen[p.text] {
			seen[p.text] = true
			out = append(out, p.text)
		}
	}
	return out
}

// Uses reports whether the template has the variable.
func (t *Template) Uses(name string) bool {
	for _, p := range t.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

// Values is what a template expands with.
type Values struct {
	Now time.Time
	// Getenv looks a variable up; ok is false when it is unset.
	Getenv func(name string) (value string, ok bool)
	// Clipboard returns the clipboard's text; nil when there is no clipboard to read.
	Clipboard func() ([]byte, error)
	// Secrets holds the values of Template.Secrets (views into secure memory).
	Secrets map[string][]byte
}

// Expand expands the template into secure memory (a secret may be in it). Cursor is the byte
// offset of ${cursor} in the result, or -1. The caller destroys the buffer.
func (t *Template) Expand(v *Values) (out *secmem.Buf, cursor int, err error) {
	// Resolve every part first (dates and environment values are not secret; clipboard text
	// and secret values are used in place), then copy into one buffer of the exact size.
	vals := make([][]byte, len(t.parts))
	size := 0
	for i, p := range t.parts {
		var b []byte
		switch p.name {
		case "":
			b = []byte(p.text)
		case VarDate:
			f := p.text
			if f == "" {
				f = "%Y-%m-%d"
			}
			s, err := strftime(f, v.Now, nil)
			if err != nil {
				return nil, -1, err
			}
			b = []byte(s)
		case VarEnv:
			var val string
			ok := false
			if v.Getenv != nil {
				val, ok = v.Getenv(p.text)
			}
			if !ok {
				return nil, -1, fmt.Errorf("${env:%s}: %s is not set", p.text, p.text)
			}
			b = []byte(val)
		case VarClipboard:
			if v.Clipboard == nil {
				return nil, -1, errors.New("${clipboard}: no clipboard is available")
			}
			if b, err = v.Clipboard(); err != nil {
				return nil, -1, fmt.Errorf("${clipboard}: %w", err)
			}
		case VarSecret:
			val, ok := v.Secrets[p.text]
			if !ok {
				return nil, -1, fmt.Errorf("${secret:%s}: not fetched", p.text)
			}
			b = val
		case VarCursor:
		}
		vals[i] = b
		size += len(b)
	}
	buf, err := secmem.New(size)
	if err != nil {
		return nil, -1, err
	}
	dst := buf.Bytes()[:0]
	cursor = -1
	for i, p := range t.parts {
		if p.name == VarCursor {
			cursor = len(dst)
		}
		dst = append(dst, vals[i]...)
	}
	return buf, cursor, nil
}

// Preview returns s on one line in at most width terminal columns: newlines shown as ␤, tabs
// as a space, other control characters as �, and "…" at the end when it is cut. It cuts only
// between grapheme clusters, so neither a UTF-8 sequence nor a character built of several
// code points (an accented letter, a flag, a family emoji) is split, and wide characters
// count two columns.
func Preview(s string, width int) string {
	var b strings.Builder
	used := 0
	state := -1
	for s != "" {
		var cl string
		var w int
		cl, s, w, state = uniseg.FirstGraphemeClusterInString(s, state)
		switch {
		case cl == "\n" || cl == "\r\n":
			cl, w = "␤", 1
		case cl == "\t":
			cl, w = " ", 1
		case hasControl(cl):
			cl, w = "�", 1
		}
		if used+w > width-1 && s != "" || used+w > width {
			return strings.TrimRight(b.String(), " ") + "…"
		}
		b.WriteString(cl)
		used += w
	}
	return b.String()
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return true
		}
	}
	return false
}
