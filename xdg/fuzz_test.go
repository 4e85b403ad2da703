package xdg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the desktop-file reader: it never panics, an error is
// always a *ParseError whose line exists in the input, and an accepted Application can be
// expanded into a command.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("/usr/share/applications/*.desktop")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		app("A", "Name[de_DE@euro]=B", "Keywords=a;b\\;c;", "Actions=x;", "[Desktop Action x]", "Name=X", "Exec=x %f"),
		"[Desktop Entry]\nHidden=true\n",
		"[Desktop Entry]\r\nType=Application\r\nName=A\r\nExec=sh -c 'a \"b\"' \"c\\\\\\\\d\" %U\r\n",
		"# only a comment\n",
		"[Desktop Entry]\nType=Application\nName=A\nExec=a\nTerminal=maybe\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse("f.desktop", data, ParseLocale("de_DE@euro"))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if lines := bytes.Count(data, []byte{'\n'}) + 1; pe.Line < 0 || pe.Line > lines {
				t.Fatalf("line %d of %d", pe.Line, lines)
			}
			return
		}
		if e.Type == "Application" && !e.Hidden && e.Command == nil && !e.DBusActivatable {
			t.Fatal("an accepted Application without a command")
		}
		if e.Command != nil {
			for _, argv := range e.Command.Expand(ExpandInfo{Name: e.Name, Icon: e.Icon, Location: e.File}, []string{"a", "b"}) {
				if len(argv) == 0 || argv[0] == "" {
					t.Fatalf("empty command from %q", e.Exec)
				}
			}
		}
		e.Shown(Env{Desktops: []string{"GNOME"}, LookPath: func(string) bool { return true }})
	})
}
