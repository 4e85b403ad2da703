// Package xkb reads the XKB keymaps a compositor sends (wl_keyboard.keymap, text format v1)
// well enough to turn key codes into keysyms, and writes the small keymaps a virtual
// keyboard needs to type arbitrary text. It is pure Go: no libxkbcommon.
//
// Reading covers what the compositor's serialisation of a keymap contains: the
// xkb_keycodes section (<NAME> = code; and aliases) and, in xkb_symbols, the first group of
// each key (levels 1 and 2, unshifted and shifted). Modifier state comes from
// wl_keyboard.modifiers as real-modifier masks (Shift 1, Lock 2, Control 4, Mod1 8 — Alt —,
// Mod4 64 — Super —), which is how every standard keymap maps them.
package xkb

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keysym is an X keysym.
type Keysym uint32

// Keysyms the desktop roles act on.
const (
	NoSymbol   Keysym = 0
	BackSpace  Keysym = 0xff08
	Tab        Keysym = 0xff09
	Return     Keysym = 0xff0d
	Escape     Keysym = 0xff1b
	Left       Keysym = 0xff51
	Up         Keysym = 0xff52
	Right      Keysym = 0xff53
	Down       Keysym = 0xff54
	KPEnter    Keysym = 0xff8d
	ShiftL     Keysym = 0xffe1
	ShiftR     Keysym = 0xffe2
	ControlL   Keysym = 0xffe3
	ControlR   Keysym = 0xffe4
	MetaL      Keysym = 0xffe7
	MetaR      Keysym = 0xffe8
	AltL       Keysym = 0xffe9
	AltR       Keysym = 0xffea
	SuperL     Keysym = 0xffeb
	SuperR     Keysym = 0xffec
	ISOLeftTab Keysym = 0xfe20
)

// Real modifier masks (wl_keyboard.modifiers).
const (
	ModShift   = 1 << 0
	ModLock    = 1 << 1
	ModControl = 1 << 2
	ModAlt     = 1 << 3 // Mod1
	ModSuper   = 1 << 6 // Mod4
)

var named = map[string]Keysym{
	"BackSpace": BackSpace, "Tab": Tab, "Return": Return, "Escape": Escape,
	"Left": Left, "Up": Up, "Right": Right, "Down": Down, "KP_Enter": KPEnter,
	"Shift_L": ShiftL, "Shift_R": ShiftR, "Control_L": ControlL, "Control_R": ControlR,
	"Meta_L": MetaL, "Meta_R": MetaR, "Alt_L": AltL, "Alt_R": AltR,
	"Super_L": SuperL, "Super_R": SuperR, "ISO_Left_Tab": ISOLeftTab,
	"space": ' ', "exclam": '!', "quotedbl": '"', "numbersign": '#', "dollar": '$',
	"percent": '%', "ampersand": '&', "apostrophe": '\'', "parenleft": '(', "parenright": ')',
	"asterisk": '*', "plus": '+', "comma": ',', "minus": '-', "period": '.', "slash": '/',
	"colon": ':', "semicolon": ';', "less": '<', "equal": '=', "greater": '>', "question": '?',
	"at": '@', "bracketleft": '[', "backslash": '\\', "bracketright": ']', "asciicircum": '^',
	"underscore": '_', "grave": '`', "braceleft": '{', "bar": '|', "braceright": '}',
	"asciitilde": '~',
}

// FromName returns the keysym called name: a name of the table above, a single ASCII
// letter or digit, "UXXXX" (a Unicode code point) or "0x…" (a raw value). NoSymbol otherwise.
func FromName(name string) Keysym {
	if k, ok := named[name]; ok {
		return k
	}
	if len(name) == 1 {
		if c := name[0]; c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return Keysym(c)
		}
	}
	if h, ok := strings.CutPrefix(name, "U"); ok && len(h) >= 4 && len(h) <= 6 {
		if v, err := strconv.ParseUint(h, 16, 32); err == nil {
			return FromRune(rune(v))
		}
	}
	if h, ok := strings.CutPrefix(name, "0x"); ok {
		if v, err := strconv.ParseUint(h, 16, 32); err == nil {
			return Keysym(v)
		}
	}
	return NoSymbol
}

// FromRune is the keysym of a character: Latin-1 characters are their own keysym, the rest
// 0x01000000 + the code point.
func FromRune(r rune) Keysym {
	switch {
	case r < 0x20 || r == 0x7f || r > unicode.MaxRune:
		return NoSymbol
	case r < 0x7f || r >= 0xa0 && r <= 0xff:
		return Keysym(r)
	}
	return Keysym(0x01000000 + r)
}

// Rune is the character a keysym types, or 0.
func (k Keysym) Rune() rune {
	switch {
	case k >= 0x20 && k < 0x7f || k >= 0xa0 && k <= 0xff:
		return rune(k)
	case k >= 0x01000100 && k <= 0x0110ffff:
		return rune(k - 0x01000000)
	case k == KPEnter || k == Return:
		return '\n'
	}
	return 0
}

// Keymap maps key codes (evdev codes, as wl_keyboard.key reports them) to keysyms.
type Keymap struct {
	levels map[uint32][2]Keysym
}

// Keysym returns the keysym of key (an evdev code) with shift held or not.
func (m *Keymap) Keysym(key uint32, shift bool) Keysym {
	l, ok := m.levels[key+8]
	if !ok {
		return NoSymbol
	}
	if shift && l[1] != NoSymbol {
		return l[1]
	}
	if shift && l[0] < 0x100 {
		return Keysym(unicode.ToUpper(rune(l[0])))
	}
	return l[0]
}

// Parse reads a keymap in XKB text format v1. It fails only when the text has no keycodes
// or symbols section at all; keys it cannot read are left out.
func Parse(text []byte) (*Keymap, error) {
	s := strings.TrimRight(string(text), "\x00")
	kc := section(s, "xkb_keycodes")
	sy := section(s, "xkb_symbols")
	if kc == "" || sy == "" {
		return nil, fmt.Errorf("xkb: keymap without keycodes or symbols")
	}
	codes := map[string]uint32{}
	aliases := map[string]string{}
	for _, st := range strings.Split(kc, ";") {
		st = strings.TrimSpace(st)
		if a, ok := strings.CutPrefix(st, "alias"); ok {
			l, r, ok := strings.Cut(a, "=")
			if ok {
				aliases[keyName(l)] = keyName(r)
			}
			continue
		}
		if !strings.HasPrefix(st, "<") {
			continue
		}
		l, r, ok := strings.Cut(st, "=")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimSpace(r), 10, 32); err == nil {
			codes[keyName(l)] = uint32(v)
		}
	}
	m := &Keymap{levels: map[uint32][2]Keysym{}}
	rest := sy
	for {
		i := strings.Index(rest, "key ")
		if i < 0 {
			break
		}
		rest = rest[i+4:]
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		name := keyName(rest[:open])
		body, after := block(rest[open:])
		rest = after
		code, ok := codes[name]
		if !ok {
			if a, isAlias := aliases[name]; isAlias {
				code, ok = codes[a]
			}
		}
		if !ok {
			continue
		}
		syms := firstList(body)
		var l [2]Keysym
		for j := 0; j < len(syms) && j < 2; j++ {
			l[j] = FromName(syms[j])
		}
		if l[0] != NoSymbol {
			m.levels[code] = l
		}
	}
	return m, nil
}

func keyName(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s, _, _ = strings.Cut(s, ">")
	return s
}

// section returns the body of `name "…" { … };`.
func section(s, name string) string {
	i := strings.Index(s, name)
	if i < 0 {
		return ""
	}
	open := strings.IndexByte(s[i:], '{')
	if open < 0 {
		return ""
	}
	body, _ := block(s[i+open:])
	return body
}

// block returns the contents of the brace block s starts with, and what follows it.
func block(s string) (body, rest string) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return s[1:i], s[i+1:]
			}
		}
	}
	return "", ""
}

// firstList returns the entries of the first [ … ] list in a key's body: the symbols of its
// first group (`[ a, A ]` or `symbols[Group1]= [ a, A ]`).
func firstList(body string) []string {
	for {
		i := strings.IndexByte(body, '[')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(body[i:], ']')
		if j < 0 {
			return nil
		}
		inner := body[i+1 : i+j]
		body = body[i+j+1:]
		if strings.HasPrefix(strings.TrimSpace(body), "=") || strings.HasPrefix(inner, "Group") {
			// symbols[Group1]= […]: the bracket was the group index
			continue
		}
		var out []string
		for _, f := range strings.Split(inner, ",") {
			out = append(out, strings.TrimSpace(f))
		}
		return out
	}
}

// Typing keymaps.

// TypingKeymap is a keymap written for a virtual keyboard: one key per distinct character
// needed, plus Return, Tab and BackSpace.
type TypingKeymap struct {
	Text []byte          // the keymap, XKB text format v1, NUL-terminated
	keys map[rune]uint32 // character → evdev code
}

// maxKeys is how many keys fit in one keymap (codes 9…255, evdev 1…247).
const maxKeys = 247

// NewTypingKeymap writes a keymap that can type every character of chars (in order of first
// use; at most 247 distinct ones, see SplitForKeymaps). Control characters other than
// '\n' and '\t' cannot be typed.
func NewTypingKeymap(chars []rune) (*TypingKeymap, error) {
	km := &TypingKeymap{keys: map[rune]uint32{}}
	var kc, sy strings.Builder
	n := uint32(0)
	add := func(r rune, sym string) {
		n++
		fmt.Fprintf(&kc, "\t<K%d> = %d;\n", n, n+8)
		fmt.Fprintf(&sy, "\tkey <K%d> { [ %s ] };\n", n, sym)
		km.keys[r] = n
	}
	for _, r := range chars {
		if _, ok := km.keys[r]; ok {
			continue
		}
		if n == maxKeys {
			return nil, fmt.Errorf("xkb: more than %d distinct characters in one keymap", maxKeys)
		}
		switch {
		case r == '\n':
			add(r, "Return")
		case r == '\t':
			add(r, "Tab")
		case r == '\b':
			add(r, "BackSpace")
		case FromRune(r) == NoSymbol || !utf8.ValidRune(r):
			return nil, fmt.Errorf("xkb: %U cannot be typed", r)
		default:
			add(r, fmt.Sprintf("U%04X", r))
		}
	}
	text := "xkb_keymap {\n" +
		"xkb_keycodes \"sesame\" {\n\tminimum = 8;\n\tmaximum = " + strconv.Itoa(int(max(n+8, 9))) + ";\n" + kc.String() + "};\n" +
		"xkb_types \"sesame\" { include \"complete\" };\n" +
		"xkb_compatibility \"sesame\" { include \"complete\" };\n" +
		"xkb_symbols \"sesame\" {\n" + sy.String() + "};\n" +
		"};\n"
	km.Text = append([]byte(text), 0)
	return km, nil
}

// NewKeysymKeymap writes a keymap whose only key (evdev code 1) is the named keysym, such
// as "Left".
func NewKeysymKeymap(name string) (*TypingKeymap, error) {
	if FromName(name) == NoSymbol {
		return nil, fmt.Errorf("xkb: unknown keysym %q", name)
	}
	text := "xkb_keymap {\n" +
		"xkb_keycodes \"sesame\" {\n\tminimum = 8;\n\tmaximum = 9;\n\t<K1> = 9;\n};\n" +
		"xkb_types \"sesame\" { include \"complete\" };\n" +
		"xkb_compatibility \"sesame\" { include \"complete\" };\n" +
		"xkb_symbols \"sesame\" {\n\tkey <K1> { [ " + name + " ] };\n};\n" +
		"};\n"
	return &TypingKeymap{Text: append([]byte(text), 0), keys: map[rune]uint32{}}, nil
}

// Key returns the evdev code that types r.
func (k *TypingKeymap) Key(r rune) (uint32, bool) {
	c, ok := k.keys[r]
	return c, ok
}

// SplitForKeymaps cuts text into runs that each need at most 247 distinct characters.
func SplitForKeymaps(text []rune) [][]rune {
	var out [][]rune
	start := 0
	seen := map[rune]bool{}
	for i, r := range text {
		if !seen[r] && len(seen) == maxKeys {
			out = append(out, text[start:i])
			start = i
			seen = map[rune]bool{}
		}
		seen[r] = true
	}
	if start < len(text) || len(out) == 0 {
		out = append(out, text[start:])
	}
	return out
}
