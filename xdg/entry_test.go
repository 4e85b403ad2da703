package xdg

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string, loc Locale) *Entry {
	t.Helper()
	e, err := Parse("t.desktop", []byte(text), loc)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return e
}

func TestParseKeys(t *testing.T) {
	e := mustParse(t, `# a comment before the group
[Desktop Entry]
Type=Application
Name=Web\sBrowser
GenericName = Browser
Comment=Line one\nline two\ttab\rcr \\ back
Keywords=web;internet;semi\;colon;
Categories=Network;WebBrowser
Icon=firefox
Exec=firefox %u
TryExec=firefox
Path=/tmp/work
Terminal=false
NoDisplay=0
OnlyShowIn=GNOME;KDE;
NotShowIn=XFCE;
DBusActivatable=true
StartupWMClass=Navigator
X-Unknown-Key=ignored

[X-Vendor Group]
Anything=goes
`, Locale{})
	want := Entry{
		File: "t.desktop", Type: "Application", Name: "Web Browser", DefaultName: "Web Browser",
		GenericName: "Browser", Comment: "Line one\nline two\ttab\rcr \\ back",
		Keywords: []string{"web", "internet", "semi;colon"}, Categories: []string{"Network", "WebBrowser"},
		Icon: "firefox", Exec: "firefox %u", TryExec: "firefox", Path: "/tmp/work",
		OnlyShowIn: []string{"GNOME", "KDE"}, NotShowIn: []string{"XFCE"}, DBusActivatable: true,
		StartupWMClass: "Navigator",
	}
	e.Command = nil
	if !equalEntry(*e, want) {
		t.Errorf("got  %+v\nwant %+v", *e, want)
	}
}

func equalEntry(a, b Entry) bool {
	a.Command, b.Command = nil, nil
	aa, ba := a.Actions, b.Actions
	a.Actions, b.Actions = nil, nil
	if len(aa) != len(ba) {
		return false
	}
	for i := range aa {
		aa[i].Command, ba[i].Command = nil, nil
		if aa[i] != ba[i] {
			return false
		}
	}
	return slices.Equal(a.Keywords, b.Keywords) && slices.Equal(a.Categories, b.Categories) &&
		slices.Equal(a.OnlyShowIn, b.OnlyShowIn) && slices.Equal(a.NotShowIn, b.NotShowIn) &&
		a.ID == b.ID && a.File == b.File && a.Type == b.Type && a.Name == b.Name &&
		a.DefaultName == b.DefaultName && a.GenericName == b.GenericName && a.Comment == b.Comment &&
		a.Icon == b.Icon && a.Exec == b.Exec && a.TryExec == b.TryExec && a.Path == b.Path &&
		a.Terminal == b.Terminal && a.NoDisplay == b.NoDisplay && a.Hidden == b.Hidden &&
		a.DBusActivatable == b.DBusActivatable && a.StartupWMClass == b.StartupWMClass
}

// The specification's own example: with LC_MESSAGES=sr_YU@Latn, Name[sr_YU@Latn] wins, then
// Name[sr_YU], Name[sr@Latn], Name[sr], Name; a key for a more specific locale than the
// user's never matches.
func TestLocalizedKeys(t *testing.T) {
	all := []string{"sr_YU@Latn", "sr_YU", "sr@Latn", "sr", ""}
	file := func(present []string) string {
		var b strings.Builder
		b.WriteString("[Desktop Entry]\nType=Application\nExec=x\n")
		for _, l := range present {
			if l == "" {
				b.WriteString("Name=default\n")
			} else {
				b.WriteString("Name[" + l + "]=" + l + "\n")
			}
		}
		return b.String()
	}
	for i := range all {
		present := all[i:]
		want := present[0]
		if want == "" {
			want = "default"
		}
		e := mustParse(t, file(present), ParseLocale("sr_YU.UTF-8@Latn"))
		if e.Name != want {
			t.Errorf("keys %q: got %q, want %q", present, e.Name, want)
		}
	}
	cases := []struct {
		locale string
		keys   []string
		want   string
	}{
		{"sr_YU", []string{"sr_YU@Latn", "sr@Latn", ""}, "default"},    // modifier keys need the modifier
		{"sr@Latn", []string{"sr_YU@Latn", "sr_YU", "sr", ""}, "sr"},   // country keys need the country
		{"sr@Latn", []string{"sr_YU", "sr@Latn", "sr", ""}, "sr@Latn"}, // lang@MODIFIER before lang
		{"de", []string{"de_DE", "de_AT", ""}, "default"},              // a more specific key never matches
		{"de_AT.UTF-8", []string{"de_DE", "de", ""}, "de"},             // another country falls back to lang
		{"C.UTF-8", []string{"de", "C", ""}, "default"},                // C means untranslated
		{"POSIX", []string{"en", ""}, "default"},                       //
		{"pt_BR.UTF-8", []string{"pt", "pt_BR", ""}, "pt_BR"},          //
		{"zh_TW", []string{"zh_CN", "zh", ""}, "zh"},                   //
		{"", []string{"en", ""}, "default"},                            //
		{"de_DE.ISO-8859-15@euro", []string{"de_DE@euro", "de", ""}, "de_DE@euro"},
	}
	for _, c := range cases {
		e := mustParse(t, file(c.keys), ParseLocale(c.locale))
		if e.Name != c.want {
			t.Errorf("LC_MESSAGES=%q keys %q: got %q, want %q", c.locale, c.keys, e.Name, c.want)
		}
		if e.DefaultName != "default" {
			t.Errorf("DefaultName = %q", e.DefaultName)
		}
	}
}

func TestLocaleFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		get  func(string) string
		want string
	}{
		{env("LANG", "fr_FR.UTF-8"), "fr_FR"},
		{env("LANG", "fr_FR.UTF-8", "LC_MESSAGES", "de_DE.UTF-8"), "de_DE"},
		{env("LANG", "fr_FR.UTF-8", "LC_MESSAGES", "de_DE", "LC_ALL", "sr_RS@latin"), "sr_RS@latin"},
		{env("LANG", "C.UTF-8"), ""},
		{env(), ""},
	}
	for _, c := range cases {
		if got := LocaleFromEnv(c.get).String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestLocalizedListsAndActions(t *testing.T) {
	e := mustParse(t, `[Desktop Entry]
Type=Application
Name=Files
Name[de]=Dateien
Keywords=folder;manager;
Keywords[de]=Ordner;Verwaltung;
Exec=nautilus --new-window %U
Actions=new-window;missing-group;private;

[Desktop Action new-window]
Name=New Window
Name[de]=Neues Fenster
Exec=nautilus --new-window

[Desktop Action private]
Name=Private
Icon=priv
`, ParseLocale("de_CH.UTF-8"))
	if e.Name != "Dateien" || e.DefaultName != "Files" || !slices.Equal(e.Keywords, []string{"Ordner", "Verwaltung"}) {
		t.Errorf("localized: %q %q %q", e.Name, e.DefaultName, e.Keywords)
	}
	if len(e.Actions) != 2 {
		t.Fatalf("actions: %+v", e.Actions)
	}
	if a := e.Actions[0]; a.ID != "new-window" || a.Name != "Neues Fenster" || a.Command == nil || !slices.Equal(a.Command.Args(), []string{"nautilus", "--new-window"}) {
		t.Errorf("action 0: %+v", a)
	}
	if a := e.Actions[1]; a.ID != "private" || a.Icon != "priv" || a.Command != nil {
		t.Errorf("action 1: %+v", a)
	}
}

// Every malformed input is an error naming the file and the line at fault.
func TestParseErrors(t *testing.T) {
	const head = "[Desktop Entry]\nType=Application\nName=X\n"
	cases := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"garbage line", head + "Exec=x\nthis is not a key\n", 5, "neither a group header"},
		{"key before group", "Name=X\n[Desktop Entry]\n", 1, "before the first group"},
		{"bad header", "[Desktop Entry\nType=Application\n", 1, "malformed group header"},
		{"empty header", "[]\n", 1, "malformed group header"},
		{"duplicate group", head + "Exec=x\n[Desktop Entry]\n", 5, "appears twice"},
		{"duplicate key", head + "Exec=x\nName=Y\n", 5, "key Name appears twice"},
		{"duplicate localized key", head + "Exec=x\nName[de]=a\nName[de]=b\n", 6, "Name[de] appears twice"},
		{"bad key chars", head + "Exec=x\nNa_me=Y\n", 5, "malformed key"},
		{"bad locale", head + "Exec=x\nName[d e]=Y\n", 5, "malformed locale"},
		{"unclosed locale", head + "Exec=x\nName[de=Y\n", 5, "malformed key"},
		{"bad boolean", head + "Exec=x\nTerminal=yes\n", 5, "not a boolean"},
		{"not utf-8", head + "Exec=x\nComment=\xff\xfe\n", 5, "not UTF-8"},
		{"no type", "[Desktop Entry]\nName=X\nExec=x\n", 1, "no Type"},
		{"no name", "# c\n[Desktop Entry]\nType=Application\nExec=x\n", 2, "no Name"},
		{"no exec", head, 1, "needs an Exec"},
		{"unterminated quote", head + "Exec=prog \"unterminated\n", 4, "unterminated double quote"},
		{"unknown field code", head + "Exec=prog %z\n", 4, "unknown field code %z"},
		{"two file codes", head + "Exec=prog %f %U\n", 4, "more than one file"},
		{"embedded %F", head + "Exec=prog --files=%F\n", 4, "must be an argument on its own"},
		{"lone percent", head + "Exec=prog 100%\n", 4, "lone %"},
		{"= in program", head + "Exec=FOO=1 prog\n", 4, "contains '='"},
		{"action without name", head + "Exec=x\nActions=a;\n[Desktop Action a]\nExec=y\n", 6, "no Name"},
		{"action bad exec", head + "Exec=x\nActions=a;\n[Desktop Action a]\nName=A\nExec=\"y\n", 8, "unterminated"},
		{"no main group", "[Other]\nA=b\n", 0, "no [Desktop Entry] group"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("/apps/x.desktop", []byte(c.text), Locale{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a ParseError", err)
			}
			if pe.File != "/apps/x.desktop" || pe.Line != c.line || !strings.Contains(pe.Msg, c.msg) {
				t.Errorf("got %q (line %d), want line %d and %q", err, pe.Line, c.line, c.msg)
			}
			if c.line > 0 && !strings.HasPrefix(err.Error(), "/apps/x.desktop:") {
				t.Errorf("message %q does not start with file:line", err)
			}
		})
	}
}

// Lenient where real files are sloppy: CR LF line ends, spaces around '=', a Hidden entry
// that has nothing else, [Desktop Entry] after another group.
func TestParseLenient(t *testing.T) {
	e := mustParse(t, "[Desktop Entry]\r\nType = Application\r\nName=X\r\nExec=x\r\n", Locale{})
	if e.Name != "X" || e.Type != "Application" {
		t.Errorf("CRLF: %+v", e)
	}
	e = mustParse(t, "[Desktop Entry]\nHidden=true\n", Locale{})
	if !e.Hidden {
		t.Error("Hidden")
	}
	e = mustParse(t, "[X-Other]\nA=b\n[Desktop Entry]\nType=Link\nName=L\nURL=http://x\n", Locale{})
	if e.Type != "Link" {
		t.Error("Link")
	}
}

func TestShown(t *testing.T) {
	installed := func(p string) bool { return p == "present" || p == "/abs/present" }
	base := "[Desktop Entry]\nType=Application\nName=X\nExec=x\n"
	cases := []struct {
		extra    string
		desktops []string
		shown    bool
		why      string
	}{
		{"", nil, true, ""},
		{"NoDisplay=true\n", nil, false, "NoDisplay"},
		{"Hidden=true\n", nil, false, "Hidden"},
		{"OnlyShowIn=GNOME;\n", []string{"KDE"}, false, "OnlyShowIn"},
		{"OnlyShowIn=GNOME;\n", nil, false, "OnlyShowIn"},
		{"OnlyShowIn=GNOME;KDE;\n", []string{"ubuntu", "GNOME"}, true, ""},
		{"NotShowIn=GNOME;\n", []string{"ubuntu", "GNOME"}, false, "NotShowIn"},
		{"NotShowIn=GNOME;\n", nil, true, ""},
		{"NotShowIn=GNOME;\n", []string{"sway"}, true, ""},
		{"TryExec=missing\n", nil, false, "TryExec"},
		{"TryExec=present\n", nil, true, ""},
		{"TryExec=/abs/present\n", nil, true, ""},
	}
	for _, c := range cases {
		e := mustParse(t, base+c.extra, Locale{})
		shown, why := e.Shown(Env{Desktops: c.desktops, LookPath: installed})
		if shown != c.shown || why != c.why {
			t.Errorf("%q on %q: got %v %q, want %v %q", c.extra, c.desktops, shown, why, c.shown, c.why)
		}
	}
	e := mustParse(t, "[Desktop Entry]\nType=Link\nName=L\nURL=x\n", Locale{})
	if ok, _ := e.Shown(Env{}); ok {
		t.Error("a Link is not an application")
	}
}
