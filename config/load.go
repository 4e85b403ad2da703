package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// SystemDirEnv overrides the system configuration directory (/etc/sesame). It is meant for
// tests and for packagers that install elsewhere.
const SystemDirEnv = "SESAME_SYSTEM_CONFIG_DIR"

// DefaultSystemDir is where the system configuration and its policy live.
const DefaultSystemDir = "/etc/sesame"

// maxFileSize bounds one configuration file.
const maxFileSize = 1 << 20

// Paths are the files of the configuration layers, lowest first after the built-in
// defaults.
type Paths struct {
	System string // /etc/sesame/config.toml: settings and [[policy]]
	User   string // $XDG_CONFIG_HOME/sesame/config.toml
	DropIn string // $XDG_CONFIG_HOME/sesame/config.d: *.toml, in lexical order
}

// PathsFor returns the layer paths for a system directory ("" means DefaultSystemDir) and
// the user's configuration home ($XDG_CONFIG_HOME, default ~/.config).
func PathsFor(systemDir, configHome string) Paths {
	if systemDir == "" {
		systemDir = DefaultSystemDir
	}
	return Paths{
		System: filepath.Join(systemDir, "config.toml"),
		User:   filepath.Join(configHome, "sesame", "config.toml"),
		DropIn: filepath.Join(configHome, "sesame", "config.d"),
	}
}

// Dirs returns the directories whose contents make up the configuration (for watching).
func (p Paths) Dirs() []string {
	return []string{filepath.Dir(p.System), filepath.Dir(p.User), p.DropIn}
}

// File is one configuration file's content.
type File struct {
	Name   string
	Data   []byte
	System bool // the system layer: the only one that may hold [[policy]]
}

// Read reads the layers that exist, in order. A file that does not exist is no layer; one
// that cannot be read is an error.
func (p Paths) Read() ([]File, error) {
	var files []File
	var errs Errors
	add := func(name string, system bool) {
		data, err := readFile(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			errs = append(errs, &Error{Pos: Pos{File: name}, Msg: err.Error()})
		default:
			files = append(files, File{Name: name, Data: data, System: system})
		}
	}
	add(p.System, true)
	add(p.User, false)
	ents, err := os.ReadDir(p.DropIn)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, &Error{Pos: Pos{File: p.DropIn}, Msg: err.Error()})
	}
	for _, de := range ents { // sorted by name
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".toml") {
			continue
		}
		full := filepath.Join(p.DropIn, name)
		if fi, err := os.Stat(full); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		add(full, false)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return files, nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return data, nil
}

// Lock is one key that policy locks.
type Lock struct {
	Path   []string // "*" matches any one name
	Value  *Value   // the value imposed; nil when the system layer's (or the default) stands
	Reason string
	Pos    Pos // of the [[policy]] entry
}

// covers reports whether the lock applies to path: its path is a prefix of path.
func (l *Lock) covers(path []string) bool {
	if len(l.Path) > len(path) {
		return false
	}
	for i, s := range l.Path {
		if s != "*" && s != path[i] {
			return false
		}
	}
	return true
}

func (l *Lock) describe() string {
	s := "locked by policy (" + l.Pos.Short() + ")"
	if l.Reason != "" {
		s += ": " + l.Reason
	}
	return s
}

// Loaded is one successful load: the effective configuration, and what it came from.
type Loaded struct {
	Config   *Config
	Files    []string // the files read, lowest layer first
	Warnings Errors   // user settings ignored because policy locks them
	Locks    []*Lock
	Digest   [32]byte // of the files' names and contents

	eff *Value // the effective tree (what Config was decoded from)
}

// Load reads and merges the layers at p. A legacy wm.toml beside the user file adds a
// warning (see LegacyWMFile).
func Load(p Paths) (*Loaded, error) {
	files, err := p.Read()
	if err != nil {
		return nil, err
	}
	ld, err := LoadFiles(files)
	if err != nil {
		return nil, err
	}
	if w := p.legacyWarning(); w != nil {
		ld.Warnings = append(ld.Warnings, w)
		// A load that differs only by the warning is still another load: the hub applies
		// it, so its status drops the warning once the file is gone.
		ld.Digest = sha256.Sum256(append(ld.Digest[:], LegacyWMFile...))
	}
	return ld, nil
}

// LegacyWMFile is the wm role's settings file before they moved to [wm]:
// $XDG_CONFIG_HOME/sesame/wm.toml. Nothing reads it any more; while it exists, every load
// (sesame config check and show, the hub's log and sesame status) warns that it is ignored
// and how to move it.
const LegacyWMFile = "wm.toml"

func (p Paths) legacyWarning() *Warning {
	if p.User == "" {
		return nil
	}
	name := filepath.Join(filepath.Dir(p.User), LegacyWMFile)
	if _, err := os.Lstat(name); err != nil {
		return nil
	}
	return &Warning{Pos: Pos{File: name}, Msg: "no longer read: the wm's settings are the [wm] table of " +
		p.User + " now; move them there (each key under [wm], [colors] as [wm.colors], [keys.X] as " +
		"[wm.keys.x]), check with sesame config check, and delete this file"}
}

// LoadFiles merges layers given in order (the system layer, if any, first). The error is
// an Errors listing every problem in every file.
func LoadFiles(files []File) (*Loaded, error) {
	var errs Errors
	type parsed struct {
		f    File
		tree *Value
	}
	var layers []parsed
	var locks []*Lock
	h := sha256.New()
	for _, f := range files {
		binary.Write(h, binary.BigEndian, uint64(len(f.Name)))
		h.Write([]byte(f.Name))
		binary.Write(h, binary.BigEndian, uint64(len(f.Data)))
		h.Write(f.Data)
		tree, err := Parse(f.Name, f.Data)
		if err != nil {
			errs = append(errs, err.(Errors)...)
			continue
		}
		var d decoder
		var l layer
		d.decode(tree, reflect.ValueOf(&l).Elem(), nil, "")
		errs = append(errs, d.errs...)
		if n := tree.Get("profile_defaults", "context"); n != nil && n.Kind == KindArray && len(n.Elems) > 0 {
			errs = append(errs, &Error{Pos: n.KeyPos, Key: "profile_defaults.context", Msg: "context rules belong to one profile, not to every profile", Hint: "move them to [[profiles.NAME.context]]"})
		}
		if pol := tree.Fields["policy"]; pol != nil {
			if !f.System {
				errs = append(errs, &Error{Pos: pol.KeyPos, Key: "policy", Msg: "[[policy]] is read only from the system configuration", Hint: "ask your administrator to set it in " + DefaultSystemDir + "/config.toml"})
			} else if len(d.errs) == 0 {
				ls, perrs := policyLocks(l.Policy, pol)
				errs = append(errs, perrs...)
				locks = append(locks, ls...)
			}
			delete(tree.Fields, "policy")
		}
		layers = append(layers, parsed{f, tree})
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if len(errs) > 0 {
		errs.sort(names...)
		return nil, errs
	}
	ld := &Loaded{Locks: locks}
	h.Sum(ld.Digest[:0])
	base := encode(reflect.ValueOf(*Default()), Pos{})
	for _, l := range layers {
		if l.f.System {
			overlay(base, l.tree, nil, nil, nil)
		}
	}
	full := base.Clone()
	for _, l := range layers {
		ld.Files = append(ld.Files, l.f.Name)
		if l.f.System {
			continue
		}
		overlay(full, l.tree, nil, ld.locked, func(w *Warning) { ld.Warnings = append(ld.Warnings, w) })
	}
	for _, l := range locks {
		if l.Value != nil {
			impose(base, l.Path, l.Value)
			impose(full, l.Path, l.Value)
		}
	}
	// The effective tree: every profile resolved.
	eff := NewTable(Pos{})
	for _, k := range []string{"default_profile", "context", "profile_defaults", "wm"} {
		eff.Fields[k] = full.Fields[k]
	}
	profiles := full.Fields["profiles"]
	effProfiles := &Value{Kind: KindTable, Fields: map[string]*Value{}, Pos: profiles.Pos, KeyPos: profiles.KeyPos}
	for name := range profiles.Fields {
		effProfiles.Fields[name] = resolveProfile(full, base, locks, name)
	}
	eff.Fields["profiles"] = effProfiles
	fillDefaults(eff, reflect.TypeFor[layer]())
	ld.eff = eff
	ld.Warnings.sort(names...)
	cfg, err := decodeConfig(eff)
	if err != nil {
		return nil, err
	}
	var d decoder
	d.decode(resolveProfile(full, base, locks, "*"), reflect.ValueOf(&cfg.Other).Elem(), []string{"profiles", "*"}, "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	ld.Config = cfg
	return ld, nil
}

func decodeConfig(eff *Value) (*Config, error) {
	var d decoder
	var l layer
	d.decode(eff, reflect.ValueOf(&l).Elem(), nil, "")
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return &Config{DefaultProfile: l.DefaultProfile, Context: l.Context, ProfileDefaults: l.ProfileDefaults, Profiles: l.Profiles, WM: l.WM}, nil
}

// fillDefaults adds, to each table of a struct type, the fields it lacks, at their zero
// value (entries of maps such as [profiles.NAME.launch.NAME] start from zero, not from a
// defaults layer), so that every setting shows in Entries.
func fillDefaults(v *Value, t reflect.Type) {
	if v == nil || v.Kind != KindTable || reflect.PointerTo(t).Implements(textIface) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		for _, name := range fieldNames(t) {
			ft := t.Field(structFields(t)[name]).Type
			if v.Fields[name] == nil {
				if ft == reflect.TypeFor[[]PolicyEntry]() {
					continue
				}
				v.Fields[name] = encode(reflect.New(ft).Elem(), Pos{})
			}
			fillDefaults(v.Fields[name], ft)
		}
	case reflect.Map:
		for _, f := range v.Fields {
			fillDefaults(f, t.Elem())
		}
	}
}

// locked returns the lock covering path, if any.
func (ld *Loaded) locked(path []string) *Lock {
	for _, l := range ld.Locks {
		if l.covers(path) {
			return l
		}
	}
	return nil
}

// overlay merges src into dst: tables key by key, recursively; anything else (scalars and
// lists, lists of tables included) replaces what dst had. A key that locked reports is
// skipped with a warning.
func overlay(dst, src *Value, path []string, locked func([]string) *Lock, warn func(*Warning)) {
	for _, k := range src.Keys() {
		s := src.Fields[k]
		p := append(path[:len(path):len(path)], k)
		if locked != nil {
			if l := locked(p); l != nil {
				warn(&Warning{Pos: s.KeyPos, Key: JoinKey(p), Msg: l.describe() + "; this setting is ignored"})
				continue
			}
		}
		if s.Kind == KindTable {
			d := dst.Fields[k]
			if d == nil || d.Kind != KindTable {
				d = &Value{Kind: KindTable, Fields: map[string]*Value{}, Pos: s.Pos, KeyPos: s.KeyPos}
				dst.Fields[k] = d
			}
			overlay(d, s, p, locked, warn)
			continue
		}
		dst.Fields[k] = s.Clone()
	}
}

// impose sets path (with "*" over the names present) to v in tree, creating tables on the
// way for plain names.
func impose(tree *Value, path []string, v *Value) {
	if len(path) == 0 || tree == nil || tree.Kind != KindTable {
		return
	}
	seg, rest := path[0], path[1:]
	keys := []string{seg}
	if seg == "*" {
		keys = tree.Keys()
	}
	for _, k := range keys {
		if len(rest) == 0 {
			tree.Fields[k] = v.Clone()
			continue
		}
		c := tree.Fields[k]
		if c == nil {
			c = NewTable(v.Pos)
			tree.Fields[k] = c
		}
		impose(c, rest, v)
	}
}

// restore makes path in r what it is in b (absent if b lacks it), with "*" over r's names.
func restore(r, b *Value, path []string) {
	if r == nil || r.Kind != KindTable {
		return
	}
	seg, rest := path[0], path[1:]
	keys := []string{seg}
	if seg == "*" {
		keys = r.Keys()
	}
	for _, k := range keys {
		var bk *Value
		if b != nil && b.Kind == KindTable {
			bk = b.Fields[k]
		}
		if len(rest) == 0 {
			if bk == nil {
				delete(r.Fields, k)
			} else {
				r.Fields[k] = bk.Clone()
			}
			continue
		}
		restore(r.Fields[k], bk, rest)
	}
}

// resolveProfile returns the settings of profile name: [profile_defaults] overlaid with
// [profiles.NAME], then the locks on profiles.NAME (or profiles.*) applied: a lock with a
// value imposes it, one without makes the value what the defaults and the system layer
// alone give.
func resolveProfile(full, base *Value, locks []*Lock, name string) *Value {
	r := full.Get("profile_defaults").Clone()
	if p := full.Get("profiles", name); p != nil && name != "*" {
		overlay(r, p, nil, nil, nil)
	}
	var b *Value
	for _, l := range locks {
		if len(l.Path) < 2 || l.Path[0] != "profiles" || l.Path[1] != "*" && l.Path[1] != name {
			continue
		}
		rest := l.Path[2:]
		if l.Value != nil {
			if len(rest) == 0 {
				overlay(r, l.Value, nil, nil, nil)
			} else {
				impose(r, rest, l.Value)
			}
			continue
		}
		if b == nil {
			b = base.Get("profile_defaults").Clone()
			if p := base.Get("profiles", name); p != nil && name != "*" {
				overlay(b, p, nil, nil, nil)
			}
		}
		if len(rest) == 0 {
			r = b.Clone()
		} else {
			restore(r, b, rest)
		}
	}
	return r
}

// policyLocks checks the [[policy]] entries of the system layer and returns their locks.
// [profile_defaults] feeds every profile, so a lock on profile_defaults.K also locks
// profiles.*.K, and the other way round.
func policyLocks(entries []PolicyEntry, node *Value) ([]*Lock, Errors) {
	var locks []*Lock
	var errs Errors
	for i, pe := range entries {
		el := node.Elems[i]
		keyNode := el.Fields["key"]
		if keyNode == nil {
			errs = append(errs, &Error{Pos: el.Pos, Key: fmt.Sprintf("policy[%d]", i), Msg: "a policy entry needs a key", Hint: `write key = "profiles.*.idle_lock"`})
			continue
		}
		path, err := splitKey(pe.Key)
		if err == nil {
			if path[0] == "policy" {
				err = errors.New("policy cannot lock itself")
			}
		}
		var t reflect.Type
		var tag reflect.StructTag
		if err == nil {
			t, tag, err = typeAt(path)
		}
		if err != nil {
			hint := ""
			var he hintError
			if errors.As(err, &he) {
				hint = he.hint
			}
			errs = append(errs, &Error{Pos: keyNode.Pos, Key: fmt.Sprintf("policy[%d].key", i), Msg: err.Error(), Hint: hint})
			continue
		}
		l := &Lock{Path: path, Reason: pe.Reason, Pos: el.Pos}
		if pe.Value != nil {
			var d decoder
			d.decode(pe.Value, reflect.New(t).Elem(), path, tag)
			if len(d.errs) > 0 {
				errs = append(errs, d.errs...)
				continue
			}
			l.Value = pe.Value
		}
		locks = append(locks, l)
		switch {
		case path[0] == "profile_defaults":
			locks = append(locks, &Lock{Path: append([]string{"profiles", "*"}, path[1:]...), Value: l.Value, Reason: l.Reason, Pos: l.Pos})
		case path[0] == "profiles" && len(path) == 1:
			locks = append(locks, &Lock{Path: []string{"profile_defaults"}, Value: nil, Reason: l.Reason, Pos: l.Pos},
				&Lock{Path: []string{"profiles", "*"}, Value: nil, Reason: l.Reason, Pos: l.Pos})
		case path[0] == "profiles" && path[1] == "*":
			locks = append(locks, &Lock{Path: append([]string{"profile_defaults"}, path[2:]...), Value: l.Value, Reason: l.Reason, Pos: l.Pos})
		}
	}
	return locks, errs
}

// splitKey splits a dotted key of a policy entry. Segments are bare keys or "*"; a quoted
// segment ("a.b") is not needed by the schema and not accepted.
func splitKey(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("the key is empty")
	}
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%q is not a dotted key", s)
		}
	}
	return parts, nil
}

// Entry is one effective setting, for `sesame config show`.
type Entry struct {
	Key    string // dotted, TOML
	Value  *Value
	Origin Pos   // where the value was written (the zero Pos: built-in default)
	Lock   *Lock // the policy that locks it, or nil
}

// Entries lists every effective setting, in schema order, profiles by name; a list (even
// of tables) is one entry.
func (ld *Loaded) Entries() []Entry {
	var out []Entry
	var walk func(v *Value, t reflect.Type, path []string)
	walk = func(v *Value, t reflect.Type, path []string) {
		leaf := func() {
			out = append(out, Entry{Key: JoinKey(path), Value: v, Origin: v.Pos, Lock: ld.locked(path)})
		}
		switch {
		case v == nil:
		case reflect.PointerTo(t).Implements(textIface) || v.Kind != KindTable:
			leaf()
		case t.Kind() == reflect.Struct:
			for _, name := range fieldNames(t) {
				sf := t.Field(structFields(t)[name])
				walk(v.Fields[name], sf.Type, append(path[:len(path):len(path)], name))
			}
		case t.Kind() == reflect.Map:
			if len(v.Fields) == 0 {
				leaf()
			}
			for _, k := range v.Keys() {
				walk(v.Fields[k], t.Elem(), append(path[:len(path):len(path)], k))
			}
		default:
			leaf()
		}
	}
	walk(ld.eff, reflect.TypeFor[layer](), nil)
	return out
}

// Origin returns where the effective value at path was written (the zero Pos for a
// built-in default or a path that is not set) and the lock on it, if any.
func (ld *Loaded) Origin(path ...string) (Pos, *Lock) {
	var pos Pos
	if v := ld.eff.Get(path...); v != nil {
		pos = v.Pos
	}
	return pos, ld.locked(path)
}

// JSON returns the effective configuration as JSON (what the hub pushes to the roles).
func (c *Config) JSON() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // every type of the schema marshals
	}
	return b
}
