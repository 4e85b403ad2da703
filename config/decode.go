package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The schema is the Go types of schema.go: a struct is a table whose keys are its fields'
// toml tags; a map is a table of any keys (checked by the field's key tag); a slice is a
// list; a textType is a string with a syntax of its own. decode checks a tree against a
// type and fills a value of it; encode turns a value back into a tree (the defaults layer).

var (
	valueType = reflect.TypeFor[*Value]()
	textIface = reflect.TypeFor[textType]()
)

// checker is implemented by structs with rules across their fields.
type checker interface {
	check() (key, msg, hint string)
}

type decoder struct {
	errs Errors
}

func (d *decoder) fail(pos Pos, path []string, msg, hint string) {
	d.errs = append(d.errs, &Error{Pos: pos, Key: JoinKey(path), Msg: msg, Hint: hint})
}

// decode checks v against rv's type and stores it in rv (which must be settable).
func (d *decoder) decode(v *Value, rv reflect.Value, path []string, tag reflect.StructTag) {
	t := rv.Type()
	if t == valueType {
		rv.Set(reflect.ValueOf(v.Clone()))
		return
	}
	if reflect.PointerTo(t).Implements(textIface) {
		tv := rv.Addr().Interface().(textType)
		if v.Kind != KindString {
			d.typeError(v, path, tv.want(), t)
			return
		}
		if err := tv.UnmarshalText([]byte(v.Scalar.(string))); err != nil {
			var h hintError
			hint := ""
			if errors.As(err, &h) {
				hint = h.hint
			}
			d.fail(v.Pos, path, err.Error(), hint)
			return
		}
		if t == reflect.TypeFor[Duration]() {
			got := time.Duration(rv.Interface().(Duration))
			if min := tag.Get("min"); min != "" {
				m, _ := time.ParseDuration(min)
				if got < m {
					d.fail(v.Pos, path, fmt.Sprintf("%s is shorter than the minimum, %s", FormatDuration(got), FormatDuration(m)), "")
				}
			}
			if max := tag.Get("max"); max != "" {
				m, _ := time.ParseDuration(max)
				if got > m {
					d.fail(v.Pos, path, fmt.Sprintf("%s is longer than the maximum, %s", FormatDuration(got), FormatDuration(m)), "")
				}
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if v.Kind != KindTable {
			d.typeError(v, path, "a table", t)
			return
		}
		fields := structFields(t)
		nerrs := len(d.errs)
		for _, k := range v.Keys() {
			f := v.Fields[k]
			i, ok := fields[k]
			if !ok {
				d.unknownKey(f, path, k, t)
				continue
			}
			sf := t.Field(i)
			d.decode(f, rv.Field(i), append(path[:len(path):len(path)], k), sf.Tag)
		}
		// The rules across fields are checked only when the fields themselves are right
		// (a misspelt key is one error, not also a missing one).
		if c, ok := rv.Addr().Interface().(checker); ok && len(d.errs) == nerrs {
			if key, msg, hint := c.check(); msg != "" {
				pos, p := v.Pos, path
				if f := v.Fields[key]; key != "" && f != nil {
					pos, p = f.Pos, append(path[:len(path):len(path)], key)
				}
				d.fail(pos, p, msg, hint)
			}
		}
	case reflect.Map:
		if v.Kind != KindTable {
			d.typeError(v, path, "a table", t)
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMap(t))
		}
		for _, k := range v.Keys() {
			f := v.Fields[k]
			p := append(path[:len(path):len(path)], k)
			if err := checkMapKey(tag.Get("key"), k); err != nil {
				var h hintError
				hint := ""
				if errors.As(err, &h) {
					hint = h.hint
				}
				d.fail(f.KeyPos, p, err.Error(), hint)
				continue
			}
			ev := reflect.New(t.Elem()).Elem()
			d.decode(f, ev, p, "")
			rv.SetMapIndex(reflect.ValueOf(k), ev)
		}
	case reflect.Slice:
		if v.Kind != KindArray {
			d.typeError(v, path, "a list of "+describe(t.Elem()), t)
			return
		}
		sl := reflect.MakeSlice(t, len(v.Elems), len(v.Elems))
		for i, el := range v.Elems {
			p := append(path[:len(path):len(path)], "["+strconv.Itoa(i)+"]")
			d.decode(el, sl.Index(i), p, tag)
		}
		rv.Set(sl)
	case reflect.String:
		if v.Kind != KindString {
			d.typeError(v, path, "a string", t)
			return
		}
		rv.SetString(v.Scalar.(string))
	case reflect.Bool:
		if v.Kind != KindBool {
			d.typeError(v, path, "a boolean (true or false)", t)
			return
		}
		rv.SetBool(v.Scalar.(bool))
	case reflect.Int, reflect.Int64, reflect.Int32:
		if v.Kind != KindInt {
			d.typeError(v, path, "an integer", t)
			return
		}
		n := v.Scalar.(int64)
		lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
		if s := tag.Get("min"); s != "" {
			lo, _ = strconv.ParseInt(s, 10, 64)
		}
		if s := tag.Get("max"); s != "" {
			hi, _ = strconv.ParseInt(s, 10, 64)
		}
		if n < lo || n > hi {
			d.fail(v.Pos, path, fmt.Sprintf("%d is out of range (%d to %d)", n, lo, hi), "")
			return
		}
		rv.SetInt(n)
	case reflect.Float64:
		switch v.Kind {
		case KindFloat:
			rv.SetFloat(v.Scalar.(float64))
		case KindInt:
			rv.SetFloat(float64(v.Scalar.(int64)))
		default:
			d.typeError(v, path, "a number", t)
		}
	default:
		panic(fmt.Sprintf("config: no decoder for %v", t))
	}
}

// structFields maps each toml key of t to its field index (embedded structs flattened are
// not used by the schema).
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("toml")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("toml"); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func checkMapKey(kind, k string) error {
	switch kind {
	case "profile", "name":
		return ValidProfileName(k)
	case "envvar":
		return validEnvName(k)
	case "hint":
		return validHintKey(k)
	}
	return nil
}

// describe names what a value of type t is written as.
func describe(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(textIface) {
		return reflect.New(t).Interface().(textType).want()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a table"
	case reflect.Slice:
		return "a list of " + describe(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return t.String()
}

// typeError reports a value of the wrong type, with a hint when the fix is plain.
func (d *decoder) typeError(v *Value, path []string, want string, t reflect.Type) {
	got := v.Kind.String()
	if v.Kind != KindTable && v.Kind != KindArray {
		got += " (" + v.TOML() + ")"
	}
	key := "value"
	if len(path) > 0 {
		key = FormatKey(path[len(path)-1])
	}
	hint := ""
	isText := reflect.PointerTo(t).Implements(textIface)
	switch {
	case t == reflect.TypeFor[Duration]() && v.Kind == KindInt:
		hint = fmt.Sprintf("write %s = \"%ds\"", key, v.Scalar.(int64))
	case (t.Kind() == reflect.String || isText) && (v.Kind == KindInt || v.Kind == KindFloat || v.Kind == KindBool):
		hint = fmt.Sprintf("quote it: %s = %s", key, quote(v.TOML()))
	case t.Kind() == reflect.Bool && v.Kind == KindString && (v.Scalar == "true" || v.Scalar == "false"):
		hint = fmt.Sprintf("write %s = %s, without quotes", key, v.Scalar)
	case (t.Kind() == reflect.Int || t.Kind() == reflect.Int64) && v.Kind == KindString:
		if _, err := strconv.ParseInt(v.Scalar.(string), 10, 64); err == nil {
			hint = fmt.Sprintf("write %s = %s, without quotes", key, v.Scalar)
		}
	case t.Kind() == reflect.Slice && !isText && v.Kind != KindArray && v.Kind != KindTable:
		hint = fmt.Sprintf("write %s = [%s]", key, v.TOML())
	case t.Kind() == reflect.Slice && v.Kind == KindTable:
		hint = fmt.Sprintf("write [[%s]], not [%s], for each element", JoinKey(path), JoinKey(path))
	}
	d.fail(v.Pos, path, fmt.Sprintf("want %s, not %s", want, got), hint)
}

// unknownKey reports a key that is not in the schema, with the nearest known one, or the
// place the key belongs when it is known elsewhere.
func (d *decoder) unknownKey(f *Value, path []string, k string, t reflect.Type) {
	names := fieldNames(t)
	msg := fmt.Sprintf("unknown key %q", k)
	if len(path) > 0 {
		msg = fmt.Sprintf("unknown key %q in [%s]", k, JoinKey(path))
	}
	hint := ""
	if s := suggest(k, names); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	} else if where := schemaIndex()[k]; len(where) > 0 {
		hint = fmt.Sprintf("%q belongs in %s", k, strings.Join(where, " or "))
	} else if len(names) > 0 {
		hint = "known keys here: " + strings.Join(names, ", ")
	}
	d.errs = append(d.errs, &Error{Pos: f.KeyPos, Key: JoinKey(append(path[:len(path):len(path)], k)), Msg: msg, Hint: hint})
}

// schemaIndex maps each key name to the tables it is found in ("[profiles.NAME]").
func schemaIndex() map[string][]string {
	idx := map[string][]string{}
	var walk func(t reflect.Type, at string)
	walk = func(t reflect.Type, at string) {
		switch {
		case reflect.PointerTo(t).Implements(textIface) || t == valueType:
			return
		case t.Kind() == reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				sf := t.Field(i)
				name := sf.Tag.Get("toml")
				if name == "" || name == "-" {
					continue
				}
				where := "the top level"
				if at != "" {
					where = "[" + at + "]"
				}
				if !contains(idx[name], where) {
					idx[name] = append(idx[name], where)
				}
				next := name
				if at != "" {
					next = at + "." + name
				}
				ft := sf.Type
				switch ft.Kind() {
				case reflect.Map:
					walk(ft.Elem(), next+"."+strings.ToUpper(sf.Tag.Get("key")))
				case reflect.Slice:
					walk(ft.Elem(), next)
				default:
					walk(ft, next)
				}
			}
		}
	}
	walk(reflect.TypeFor[layer](), "")
	return idx
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// encode turns a Go value of the schema into a tree positioned at pos.
func encode(rv reflect.Value, pos Pos) *Value {
	n := &Value{Pos: pos, KeyPos: pos}
	t := rv.Type()
	if m, ok := rv.Interface().(encoding.TextMarshaler); ok && reflect.PointerTo(t).Implements(textIface) {
		b, _ := m.MarshalText()
		n.Kind, n.Scalar = KindString, string(b)
		return n
	}
	switch t.Kind() {
	case reflect.Struct:
		n.Kind, n.Fields = KindTable, map[string]*Value{}
		for i := 0; i < t.NumField(); i++ {
			name := t.Field(i).Tag.Get("toml")
			if name == "" || name == "-" {
				continue
			}
			n.Fields[name] = encode(rv.Field(i), pos)
		}
	case reflect.Map:
		n.Kind, n.Fields = KindTable, map[string]*Value{}
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			n.Fields[k.String()] = encode(rv.MapIndex(k), pos)
		}
	case reflect.Slice:
		n.Kind, n.Elems = KindArray, []*Value{}
		for i := 0; i < rv.Len(); i++ {
			n.Elems = append(n.Elems, encode(rv.Index(i), pos))
		}
	case reflect.String:
		n.Kind, n.Scalar = KindString, rv.String()
	case reflect.Bool:
		n.Kind, n.Scalar = KindBool, rv.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		n.Kind, n.Scalar = KindInt, rv.Int()
	case reflect.Float64:
		n.Kind, n.Scalar = KindFloat, rv.Float()
	default:
		panic(fmt.Sprintf("config: no encoder for %v", t))
	}
	return n
}

// typeAt returns the schema type at a dotted path of the layer schema ("*" or any name
// for a map key), or an error naming the first segment that is not in the schema.
func typeAt(path []string) (reflect.Type, reflect.StructTag, error) {
	t := reflect.TypeFor[layer]()
	var tag reflect.StructTag
	for i, seg := range path {
		switch {
		case reflect.PointerTo(t).Implements(textIface):
			return nil, "", fmt.Errorf("%s is a value, not a table", JoinKey(path[:i]))
		case t.Kind() == reflect.Struct:
			idx, ok := structFields(t)[seg]
			if !ok || (i == 0 && seg == "policy") {
				msg := fmt.Sprintf("%q is not a key", JoinKey(path[:i+1]))
				if s := suggest(seg, fieldNames(t)); s != "" {
					return nil, "", hintError{msg, fmt.Sprintf("did you mean %q?", s)}
				}
				return nil, "", errors.New(msg)
			}
			sf := t.Field(idx)
			t, tag = sf.Type, sf.Tag
		case t.Kind() == reflect.Map:
			if seg != "*" {
				if err := checkMapKey(tag.Get("key"), seg); err != nil {
					return nil, "", err
				}
			}
			t, tag = t.Elem(), ""
		default:
			return nil, "", fmt.Errorf("%s is a value, not a table: lock it whole", JoinKey(path[:i]))
		}
	}
	return t, tag, nil
}
