package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Pos is where a value was written: a file, a line and a column (both from 1, the column
// counted in characters). The zero Pos is sesame's built-in default.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	switch {
	case p.File == "":
		return "built-in default"
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Short is p without the column: "file:line".
func (p Pos) Short() string {
	if p.File == "" || p.Line == 0 {
		return p.String()
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Kind is the TOML type of a Value.
type Kind uint8

const (
	KindTable Kind = iota
	KindArray
	KindString
	KindInt
	KindFloat
	KindBool
	KindDatetime
)

func (k Kind) String() string {
	return [...]string{"a table", "a list", "a string", "an integer", "a float", "a boolean", "a date-time"}[k]
}

// Value is one node of a parsed TOML document, with the position it was written at. Merging
// moves whole nodes between trees, so a merged tree still knows, for every value, the file
// and line it came from.
type Value struct {
	Kind   Kind
	Scalar any               // string, int64, float64, bool, or a TOML date-time
	Fields map[string]*Value // KindTable
	Elems  []*Value          // KindArray
	Pos    Pos               // where the value starts
	KeyPos Pos               // where the key naming it is (the value's own Pos for array elements)
}

// NewTable returns an empty table at pos.
func NewTable(pos Pos) *Value {
	return &Value{Kind: KindTable, Fields: map[string]*Value{}, Pos: pos, KeyPos: pos}
}

// Keys returns the table's keys, sorted.
func (v *Value) Keys() []string {
	ks := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Clone returns a deep copy of v.
func (v *Value) Clone() *Value {
	if v == nil {
		return nil
	}
	c := *v
	if v.Fields != nil {
		c.Fields = make(map[string]*Value, len(v.Fields))
		for k, f := range v.Fields {
			c.Fields[k] = f.Clone()
		}
	}
	if v.Elems != nil {
		c.Elems = make([]*Value, len(v.Elems))
		for i, e := range v.Elems {
			c.Elems[i] = e.Clone()
		}
	}
	return &c
}

// Get returns the node at path, or nil.
func (v *Value) Get(path ...string) *Value {
	for _, k := range path {
		if v == nil || v.Kind != KindTable {
			return nil
		}
		v = v.Fields[k]
	}
	return v
}

// Equal reports whether a and b hold the same data, wherever it was written.
func Equal(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case KindTable:
		if len(a.Fields) != len(b.Fields) {
			return false
		}
		for k, f := range a.Fields {
			if !Equal(f, b.Fields[k]) {
				return false
			}
		}
		return true
	case KindArray:
		if len(a.Elems) != len(b.Elems) {
			return false
		}
		for i := range a.Elems {
			if !Equal(a.Elems[i], b.Elems[i]) {
				return false
			}
		}
		return true
	case KindFloat:
		x, y := a.Scalar.(float64), b.Scalar.(float64)
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	}
	return a.Scalar == b.Scalar
}

// Interface returns v as plain Go values: map[string]any, []any, string, int64, float64,
// bool; a date-time as its TOML text.
func (v *Value) Interface() any {
	switch v.Kind {
	case KindTable:
		m := make(map[string]any, len(v.Fields))
		for k, f := range v.Fields {
			m[k] = f.Interface()
		}
		return m
	case KindArray:
		a := make([]any, len(v.Elems))
		for i, e := range v.Elems {
			a[i] = e.Interface()
		}
		return a
	case KindDatetime:
		return fmt.Sprint(v.Scalar)
	case KindFloat:
		if f := v.Scalar.(float64); math.IsNaN(f) || math.IsInf(f, 0) {
			return v.TOML() // JSON has no NaN or infinities
		}
	}
	return v.Scalar
}

// TOML formats v as a TOML value on one line (tables inline, keys sorted).
func (v *Value) TOML() string {
	var b strings.Builder
	v.writeTOML(&b)
	return b.String()
}

func (v *Value) writeTOML(b *strings.Builder) {
	switch v.Kind {
	case KindTable:
		b.WriteString("{")
		for i, k := range v.Keys() {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(FormatKey(k))
			b.WriteString(" = ")
			v.Fields[k].writeTOML(b)
		}
		b.WriteString("}")
	case KindArray:
		b.WriteString("[")
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.writeTOML(b)
		}
		b.WriteString("]")
	case KindString:
		b.WriteString(quote(v.Scalar.(string)))
	case KindInt:
		b.WriteString(strconv.FormatInt(v.Scalar.(int64), 10))
	case KindFloat:
		f := v.Scalar.(float64)
		switch {
		case math.IsNaN(f):
			b.WriteString("nan")
		case math.IsInf(f, 1):
			b.WriteString("inf")
		case math.IsInf(f, -1):
			b.WriteString("-inf")
		default:
			s := strconv.FormatFloat(f, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eEn") {
				s += ".0"
			}
			b.WriteString(s)
		}
	case KindBool:
		b.WriteString(strconv.FormatBool(v.Scalar.(bool)))
	case KindDatetime:
		fmt.Fprint(b, v.Scalar)
	}
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FormatKey writes one key segment as TOML: bare when it can be, quoted otherwise.
func FormatKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return quote(k)
		}
	}
	return k
}

// JoinKey writes a dotted path as TOML. A segment "[N]" is a list index and is written
// without a dot: profiles.work.context[0].ssid.
func JoinKey(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if isIndex(p) {
			b.WriteString(p)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if p == "*" {
			b.WriteString(p) // a policy's wildcard
			continue
		}
		b.WriteString(FormatKey(p))
	}
	return b.String()
}

func isIndex(seg string) bool {
	if len(seg) < 3 || seg[0] != '[' || seg[len(seg)-1] != ']' {
		return false
	}
	for i := 1; i < len(seg)-1; i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return false
		}
	}
	return true
}

// Parse reads one TOML document into a tree of positioned values. Syntax errors, duplicate
// keys and the other things TOML forbids are returned as an Errors with the position the
// TOML decoder reports.
func Parse(file string, data []byte) (*Value, error) {
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		e := &Error{Pos: Pos{File: file}, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			e.Pos.Line, e.Pos.Col = de.Position()
		}
		e.Msg = "invalid TOML: " + e.Msg
		return nil, Errors{e}
	}
	idx := newPosIndex(file, data)
	idx.walk()
	root := idx.build(m, "")
	root.Pos = Pos{File: file, Line: 1, Col: 1}
	root.KeyPos = root.Pos
	return root, nil
}

// posIndex maps the path of every key in a document to where its key and its value are.
// Paths are segments joined by '.': keys quoted (strconv.Quote), array indexes as [i].
type posIndex struct {
	file  string
	data  []byte
	lines []int // byte offset of the start of each line
	key   map[string]Pos
	val   map[string]Pos
}

func newPosIndex(file string, data []byte) *posIndex {
	x := &posIndex{file: file, data: data, key: map[string]Pos{}, val: map[string]Pos{}, lines: []int{0}}
	for i, c := range data {
		if c == '\n' {
			x.lines = append(x.lines, i+1)
		}
	}
	return x
}

func (x *posIndex) pos(off int) Pos {
	if off < 0 || off > len(x.data) {
		return Pos{File: x.file}
	}
	l := sort.Search(len(x.lines), func(i int) bool { return x.lines[i] > off }) - 1
	return Pos{File: x.file, Line: l + 1, Col: utf8.RuneCount(x.data[x.lines[l]:off]) + 1}
}

func keySeg(k string) string { return strconv.Quote(k) }
func idxSeg(i int) string    { return "[" + strconv.Itoa(i) + "]" }

func join(path, seg string) string {
	if path == "" {
		return seg
	}
	return path + "." + seg
}

func (x *posIndex) setKey(path string, off int) {
	if _, ok := x.key[path]; !ok {
		x.key[path] = x.pos(off)
	}
}

func (x *posIndex) setVal(path string, off int) {
	if _, ok := x.val[path]; !ok {
		x.val[path] = x.pos(off)
	}
}

// walk records positions from the document's syntax tree. The document already decoded
// without error, so its structure is valid TOML.
func (x *posIndex) walk() {
	var p unstable.Parser
	p.Reset(x.data)
	cur := ""
	arrays := map[string]int{} // path of an array of tables → elements so far
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			x.keyValue(cur, e)
		case unstable.Table, unstable.ArrayTable:
			path := ""
			it := e.Key()
			for it.Next() {
				k := it.Node()
				path = join(path, keySeg(string(k.Data)))
				x.setKey(path, int(k.Raw.Offset))
				x.setVal(path, int(k.Raw.Offset))
				if n, ok := arrays[path]; ok && !it.IsLast() {
					path = join(path, idxSeg(n-1))
				}
			}
			if e.Kind == unstable.ArrayTable {
				n := arrays[path]
				arrays[path] = n + 1
				first := e.Child()
				path = join(path, idxSeg(n))
				x.setKey(path, int(first.Raw.Offset))
				x.setVal(path, int(first.Raw.Offset))
			}
			cur = path
		}
	}
}

// keyValue records `a.b.c = value` under the table at base.
func (x *posIndex) keyValue(base string, e *unstable.Node) {
	path := base
	var last *unstable.Node
	it := e.Key()
	for it.Next() {
		k := it.Node()
		path = join(path, keySeg(string(k.Data)))
		x.setKey(path, int(k.Raw.Offset))
		last = k
	}
	// The value starts after '=' (arrays carry no position of their own).
	off := int(last.Raw.Offset + last.Raw.Length)
	if i := bytes.IndexByte(x.data[off:], '='); i >= 0 {
		off += i + 1
		for off < len(x.data) && (x.data[off] == ' ' || x.data[off] == '\t') {
			off++
		}
	}
	x.value(path, e.Value(), off)
}

func (x *posIndex) value(path string, n *unstable.Node, off int) {
	if n.Kind != unstable.Array && n.Raw.Length > 0 {
		off = int(n.Raw.Offset)
	}
	x.setVal(path, off)
	switch n.Kind {
	case unstable.InlineTable:
		it := n.Children()
		for it.Next() {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				x.keyValue(path, kv)
			}
		}
	case unstable.Array:
		i := 0
		it := n.Children()
		for it.Next() {
			el := it.Node()
			if el.Kind == unstable.Comment {
				continue
			}
			ep := join(path, idxSeg(i))
			eoff := off
			if el.Raw.Length > 0 {
				eoff = int(el.Raw.Offset)
			}
			x.setKey(ep, eoff)
			x.value(ep, el, eoff)
			i++
		}
	}
}

// build turns a decoded document into positioned values.
func (x *posIndex) build(v any, path string) *Value {
	n := &Value{Pos: x.val[path], KeyPos: x.key[path]}
	if n.Pos.File == "" {
		n.Pos = n.KeyPos
	}
	if n.Pos.File == "" {
		n.Pos = Pos{File: x.file}
	}
	if n.KeyPos.File == "" {
		n.KeyPos = n.Pos
	}
	switch t := v.(type) {
	case map[string]any:
		n.Kind = KindTable
		n.Fields = make(map[string]*Value, len(t))
		for k, f := range t {
			n.Fields[k] = x.build(f, join(path, keySeg(k)))
		}
	case []any:
		n.Kind = KindArray
		n.Elems = make([]*Value, len(t))
		for i, el := range t {
			n.Elems[i] = x.build(el, join(path, idxSeg(i)))
		}
	case string:
		n.Kind, n.Scalar = KindString, t
	case int64:
		n.Kind, n.Scalar = KindInt, t
	case float64:
		n.Kind, n.Scalar = KindFloat, t
	case bool:
		n.Kind, n.Scalar = KindBool, t
	case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
		n.Kind, n.Scalar = KindDatetime, t
	default:
		n.Kind, n.Scalar = KindString, fmt.Sprint(t)
	}
	return n
}
