package xdg

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Entry is one desktop entry, with localized values already chosen for a Locale.
type Entry struct {
	ID   string // desktop-file ID ("org.gnome.Terminal.desktop"); set by the Scanner
	File string // the file it was read from

	Type            string // Application, Link or Directory (others are kept as written)
	Name            string // localized
	DefaultName     string // Name as written, untranslated
	GenericName     string // localized
	Comment         string // localized
	Keywords        []string
	Categories      []string
	Icon            string
	Exec            string   // the Exec value, string escapes undone (see ParseExec)
	Command         *Command // Exec parsed; nil when there is no Exec
	TryExec         string
	Path            string // working directory to run in
	Terminal        bool
	NoDisplay       bool
	Hidden          bool
	OnlyShowIn      []string
	NotShowIn       []string
	DBusActivatable bool
	StartupWMClass  string
	Actions         []Action
}

// Action is a [Desktop Action ID] group named in the Actions key.
type Action struct {
	ID      string
	Name    string // localized
	Icon    string
	Exec    string
	Command *Command // nil when the action has no Exec
}

const mainGroup = "Desktop Entry"

// Parse reads a desktop file. file names it in errors. A file that does not follow the format
// returns a *ParseError with the line at fault.
func Parse(file string, data []byte, loc Locale) (*Entry, error) {
	kf, err := parseKeyFile(file, data)
	if err != nil {
		return nil, err
	}
	g := kf.groups[mainGroup]
	if g == nil {
		return nil, kf.errorf(0, "no [%s] group", mainGroup)
	}
	p := &entryParser{kf: kf, g: g, loc: loc}
	e := &Entry{File: file}
	e.Type = p.str("Type")
	e.Name = p.localized("Name")
	e.DefaultName = p.str("Name")
	e.GenericName = p.localized("GenericName")
	e.Comment = p.localized("Comment")
	e.Keywords = p.localizedList("Keywords")
	e.Categories = p.list("Categories")
	e.Icon = p.localized("Icon")
	e.Exec = p.str("Exec")
	e.TryExec = p.str("TryExec")
	e.Path = p.str("Path")
	e.Terminal = p.boolean("Terminal")
	e.NoDisplay = p.boolean("NoDisplay")
	e.Hidden = p.boolean("Hidden")
	e.OnlyShowIn = p.list("OnlyShowIn")
	e.NotShowIn = p.list("NotShowIn")
	e.DBusActivatable = p.boolean("DBusActivatable")
	e.StartupWMClass = p.str("StartupWMClass")
	if p.err != nil {
		return nil, p.err
	}
	if e.Hidden {
		// Hidden means deleted: nothing else about the entry matters, and it need not be
		// complete (a user's override is often just Hidden=true).
		return e, nil
	}
	if _, ok := g.keys["Type"]; !ok {
		return nil, kf.errorf(g.line, "[%s] has no Type key", mainGroup)
	}
	if _, ok := g.keys["Name"]; !ok {
		return nil, kf.errorf(g.line, "[%s] has no Name key", mainGroup)
	}
	if e.Type == "Application" {
		if e.Exec == "" && !e.DBusActivatable {
			return nil, kf.errorf(g.line, "an Application needs an Exec key (or DBusActivatable=true)")
		}
		if e.Exec != "" {
			if e.Command, err = ParseExec(e.Exec); err != nil {
				return nil, kf.errorf(g.keys["Exec"].line, "Exec: %v", err)
			}
		}
		for _, id := range p.list("Actions") {
			ag := kf.groups["Desktop Action "+id]
			if ag == nil {
				continue // the specification says to ignore an action without its group
			}
			ap := &entryParser{kf: kf, g: ag, loc: loc}
			a := Action{ID: id, Name: ap.localized("Name"), Icon: ap.localized("Icon"), Exec: ap.str("Exec")}
			if _, ok := ag.keys["Name"]; !ok {
				return nil, kf.errorf(ag.line, "[%s] has no Name key", ag.name)
			}
			if a.Exec != "" {
				if a.Command, err = ParseExec(a.Exec); err != nil {
					return nil, kf.errorf(ag.keys["Exec"].line, "Exec: %v", err)
				}
			}
			e.Actions = append(e.Actions, a)
		}
	}
	return e, nil
}

// ReadFile reads and parses a desktop file.
func ReadFile(file string, loc Locale) (*Entry, error) {
	data, err := readBounded(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data, loc)
}

func readBounded(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, &ParseError{File: file, Msg: "larger than 1 MiB"}
	}
	buf := make([]byte, fi.Size()+1)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	if n > MaxFileSize {
		return nil, &ParseError{File: file, Msg: "larger than 1 MiB"}
	}
	return buf[:n], nil
}

type entryParser struct {
	kf  *keyFile
	g   *group
	loc Locale
	err error
}

func (p *entryParser) str(key string) string { return unescape(p.g.keys[key].raw) }

func (p *entryParser) rawLocalized(key string) (string, bool) {
	if m := p.g.localized[key]; m != nil {
		for _, c := range p.loc.candidates() {
			if v, ok := m[c]; ok {
				return v.raw, true
			}
		}
	}
	v, ok := p.g.keys[key]
	return v.raw, ok
}

func (p *entryParser) localized(key string) string {
	v, _ := p.rawLocalized(key)
	return unescape(v)
}

func (p *entryParser) localizedList(key string) []string {
	v, _ := p.rawLocalized(key)
	return splitList(v)
}

func (p *entryParser) list(key string) []string { return splitList(p.g.keys[key].raw) }

func (p *entryParser) boolean(key string) bool {
	v, ok := p.g.keys[key]
	if !ok {
		return false
	}
	b, ok := parseBool(v.raw)
	if !ok && p.err == nil {
		p.err = p.kf.errorf(v.line, "%s=%q is not a boolean (true or false)", key, v.raw)
	}
	return b
}

// Env is what decides whether an entry is shown: the running desktops and a PATH lookup.
type Env struct {
	// Desktops is $XDG_CURRENT_DESKTOP split at ':'.
	Desktops []string
	// LookPath reports whether a TryExec program is installed; nil skips the check.
	LookPath func(string) bool
}

// ShowEnv builds an Env from an environment: XDG_CURRENT_DESKTOP and PATH.
func ShowEnv(getenv func(string) string) Env {
	var desktops []string
	for _, d := range strings.Split(getenv("XDG_CURRENT_DESKTOP"), ":") {
		if d != "" {
			desktops = append(desktops, d)
		}
	}
	path := filepath.SplitList(getenv("PATH"))
	return Env{Desktops: desktops, LookPath: func(prog string) bool { return lookPath(prog, path) }}
}

// lookPath reports whether prog is an executable file: prog itself when it is absolute,
// else in one of the dirs.
func lookPath(prog string, dirs []string) bool {
	if filepath.IsAbs(prog) {
		return isExecutable(prog)
	}
	if strings.ContainsRune(prog, '/') {
		return false
	}
	for _, d := range dirs {
		if d != "" && filepath.IsAbs(d) && isExecutable(filepath.Join(d, prog)) {
			return true
		}
	}
	return false
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Shown reports whether the entry belongs in a launcher's list: an Application that is not
// Hidden or NoDisplay, allowed on the current desktop by OnlyShowIn and NotShowIn, whose
// TryExec (when set) is an executable, and that has an Exec to run. The reason is "" when it
// is shown.
func (e *Entry) Shown(env Env) (bool, string) {
	switch {
	case e.Type != "Application":
		return false, "Type=" + e.Type
	case e.Hidden:
		return false, "Hidden"
	case e.NoDisplay:
		return false, "NoDisplay"
	case e.Command == nil:
		return false, "no Exec"
	}
	if len(e.OnlyShowIn) > 0 && !slices.ContainsFunc(env.Desktops, func(d string) bool { return slices.Contains(e.OnlyShowIn, d) }) {
		return false, "OnlyShowIn"
	}
	if slices.ContainsFunc(env.Desktops, func(d string) bool { return slices.Contains(e.NotShowIn, d) }) {
		return false, "NotShowIn"
	}
	if e.TryExec != "" && env.LookPath != nil && !env.LookPath(e.TryExec) {
		return false, "TryExec"
	}
	return true, ""
}
