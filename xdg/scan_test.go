package xdg

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func write(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func app(name string, extra ...string) string {
	return "[Desktop Entry]\nType=Application\nName=" + name + "\nExec=" + strings.ToLower(strings.ReplaceAll(name, " ", "-")) + "\n" + strings.Join(extra, "\n") + "\n"
}

func ids(r *Result) []string {
	var out []string
	for _, e := range r.Entries {
		out = append(out, e.ID+"="+e.Name)
	}
	return out
}

func TestDataDirs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	got := DataDirs(env(map[string]string{"HOME": "/h"}))
	if want := []string{"/h/.local/share", "/usr/local/share", "/usr/share"}; !slices.Equal(got, want) {
		t.Errorf("defaults: %q", got)
	}
	got = DataDirs(env(map[string]string{"HOME": "/h", "XDG_DATA_HOME": "/d/", "XDG_DATA_DIRS": "/a:relative:/b/:/a::/d"}))
	if want := []string{"/d", "/a", "/b"}; !slices.Equal(got, want) {
		t.Errorf("set: %q", got)
	}
	got = DataDirs(env(map[string]string{"HOME": "/h", "XDG_DATA_HOME": "rel"}))
	if got[0] != "/h/.local/share" {
		t.Errorf("relative XDG_DATA_HOME: %q", got)
	}
}

// Precedence and IDs: the first directory with an ID wins; subdirectories join with '-';
// Hidden=true deletes the ID for every later directory; a broken file does not hide a good
// one below it, and is reported with its line.
func TestScanPrecedence(t *testing.T) {
	root := t.TempDir()
	home, local, usr := filepath.Join(root, "home"), filepath.Join(root, "local"), filepath.Join(root, "usr")
	write(t, filepath.Join(usr, "applications", "firefox.desktop"), app("Firefox System"))
	write(t, filepath.Join(local, "applications", "firefox.desktop"), app("Firefox Local"))
	write(t, filepath.Join(home, "applications", "firefox.desktop"), app("Firefox Mine"))
	write(t, filepath.Join(usr, "applications", "kde", "konsole.desktop"), app("Konsole"))
	write(t, filepath.Join(usr, "applications", "a", "b", "deep.desktop"), app("Deep"))
	write(t, filepath.Join(usr, "applications", "gone.desktop"), app("Gone"))
	write(t, filepath.Join(home, "applications", "gone.desktop"), "[Desktop Entry]\nHidden=true\n")
	write(t, filepath.Join(usr, "applications", "fixed.desktop"), app("Fixed"))
	write(t, filepath.Join(home, "applications", "fixed.desktop"), "[Desktop Entry]\nType=Application\nName=Broken\nExec=\"x\n")
	write(t, filepath.Join(usr, "applications", "notes.txt"), "not a desktop file")
	write(t, filepath.Join(usr, "applications", ".desktop"), app("No Name"))
	write(t, filepath.Join(usr, "applications", "link.desktop"), "[Desktop Entry]\nType=Link\nName=Link\nURL=https://x\n")
	if err := os.Symlink(filepath.Join(usr, "applications", "kde"), filepath.Join(usr, "applications", "kde-again")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(usr, "applications"), filepath.Join(usr, "applications", "a", "loop")); err != nil {
		t.Fatal(err)
	}
	s := NewScanner([]string{home, local, usr}, Locale{})
	r := s.Scan()
	want := []string{"a-b-deep.desktop=Deep", "firefox.desktop=Firefox Mine", "fixed.desktop=Fixed", "kde-again-konsole.desktop=Konsole", "kde-konsole.desktop=Konsole", "link.desktop=Link"}
	if got := ids(r); !slices.Equal(got, want) {
		t.Errorf("entries:\n got  %q\n want %q", got, want)
	}
	if len(r.Warnings) != 1 {
		t.Fatalf("warnings: %v", r.Warnings)
	}
	var pe *ParseError
	if !errors.As(r.Warnings[0], &pe) || pe.Line != 4 || !strings.HasSuffix(pe.File, "home/applications/fixed.desktop") {
		t.Errorf("warning: %v", r.Warnings[0])
	}
	// A rescan after a change reads the change.
	write(t, filepath.Join(home, "applications", "fixed.desktop"), app("Fixed Mine"))
	os.Remove(filepath.Join(home, "applications", "firefox.desktop"))
	r = s.Scan()
	want = []string{"a-b-deep.desktop=Deep", "firefox.desktop=Firefox Local", "fixed.desktop=Fixed Mine", "kde-again-konsole.desktop=Konsole", "kde-konsole.desktop=Konsole", "link.desktop=Link"}
	if got := ids(r); !slices.Equal(got, want) || len(r.Warnings) != 0 {
		t.Errorf("after change:\n got  %q %v\n want %q", got, r.Warnings, want)
	}
}

// corpus copies the desktop files installed on this machine (make test installs a few
// packages that ship some) into a fixture directory.
func corpus(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "share")
	n := 0
	for _, d := range []string{"/usr/share/applications", "/usr/local/share/applications"} {
		files, _ := filepath.Glob(filepath.Join(d, "*.desktop"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			write(t, filepath.Join(dir, "applications", filepath.Base(f)), string(data))
			n++
		}
	}
	if n == 0 {
		t.Skip("no desktop files installed here (make test installs some)")
	}
	return dir
}

// The real files on this machine parse, and desktop-file-validate agrees with us where it is
// installed: every file it accepts, we accept.
func TestRealCorpus(t *testing.T) {
	dir := corpus(t)
	r := NewScanner([]string{dir}, ParseLocale("de_DE.UTF-8")).Scan()
	for _, w := range r.Warnings {
		t.Errorf("real file refused: %v", w)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "applications", "*.desktop"))
	if len(r.Entries) != len(files) {
		t.Errorf("%d files, %d entries", len(files), len(r.Entries))
	}
	for _, e := range r.Entries {
		if e.Type == "Application" && !e.Hidden && e.Command == nil && !e.DBusActivatable {
			t.Errorf("%s: no command", e.ID)
		}
	}
	byID := map[string]*Entry{}
	for _, e := range r.Entries {
		byID[e.ID] = e
	}
	if e := byID["htop.desktop"]; e != nil {
		if !e.Terminal || e.GenericName != "Prozessanzeige" || e.Name != "Htop" || !slices.Contains(e.Keywords, "process") {
			t.Errorf("htop: %+v", e)
		}
	}
	if e := byID["vim.desktop"]; e != nil {
		if e.TryExec != "vim" || e.Command.TakesFiles() != 'F' {
			t.Errorf("vim: %+v", e)
		}
	}
	if _, err := exec.LookPath("desktop-file-validate"); err == nil {
		for _, f := range files {
			out, err := exec.Command("desktop-file-validate", f).CombinedOutput()
			if err == nil {
				if _, perr := ReadFile(f, Locale{}); perr != nil {
					t.Errorf("desktop-file-validate accepts %s, we refuse it: %v", f, perr)
				}
			} else {
				t.Logf("desktop-file-validate %s: %s", filepath.Base(f), out)
			}
		}
	}
}

// Edge cases desktop-file-validate refuses are refused by us too.
func TestAgreesWithValidator(t *testing.T) {
	if _, err := exec.LookPath("desktop-file-validate"); err != nil {
		t.Skip("desktop-file-validate is not installed (make test installs it)")
	}
	dir := t.TempDir()
	bad := map[string]string{
		"garbage":   app("A") + "garbage line\n",
		"dupkey":    app("A") + "Name=B\n",
		"nogroup":   "Name=A\n",
		"nobool":    app("A") + "Terminal=yes\n",
		"unquoted":  "[Desktop Entry]\nType=Application\nName=A\nExec=\"a\n",
		"dupgroup":  app("A") + "[Desktop Entry]\n",
		"badheader": "[Desktop Entry\nType=Application\n",
	}
	for name, text := range bad {
		f := filepath.Join(dir, name+".desktop")
		write(t, f, text)
		vErr := exec.Command("desktop-file-validate", f).Run()
		_, ourErr := ReadFile(f, Locale{})
		if vErr == nil {
			t.Logf("%s: desktop-file-validate accepts it", name)
		}
		if ourErr == nil && vErr != nil {
			t.Errorf("%s: desktop-file-validate refuses it, we accept it", name)
		}
	}
}

func TestWatcher(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home") // applications/ does not exist yet
	usr := filepath.Join(root, "usr")
	write(t, filepath.Join(usr, "applications", "a.desktop"), app("A"))
	s := NewScanner([]string{home, usr}, Locale{})
	w, err := NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	rescan := func() *Result {
		for {
			r := s.Scan()
			n, err := w.Set(s.Targets())
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return r
			}
		}
	}
	wait := func(what string, ok func(*Result) bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case <-w.C:
				if r := rescan(); ok(r) {
					return
				}
			case <-deadline:
				t.Fatalf("%s: no change seen", what)
			}
		}
	}
	has := func(id string) func(*Result) bool {
		return func(r *Result) bool {
			return slices.ContainsFunc(r.Entries, func(e *Entry) bool { return e.ID == id })
		}
	}
	rescan()
	write(t, filepath.Join(usr, "applications", "b.desktop"), app("B"))
	wait("new file", has("b.desktop"))
	// A new subdirectory and a file in it.
	write(t, filepath.Join(usr, "applications", "sub", "c.desktop"), app("C"))
	wait("file in a new subdirectory", has("sub-c.desktop"))
	// The user's applications directory created later, parents included.
	write(t, filepath.Join(home, "applications", "d.desktop"), app("D"))
	wait("file in a new data dir", has("d.desktop"))
	// Edits and removals.
	write(t, filepath.Join(usr, "applications", "a.desktop"), app("A2"))
	wait("edit", func(r *Result) bool { return slices.Contains(ids(r), "a.desktop=A2") })
	os.Remove(filepath.Join(usr, "applications", "b.desktop"))
	wait("removal", func(r *Result) bool { return !has("b.desktop")(r) })
	os.RemoveAll(filepath.Join(usr, "applications", "sub"))
	wait("removed subdirectory", func(r *Result) bool { return !has("sub-c.desktop")(r) })
	// Unrelated files next to a missing applications dir do not wake the watcher.
	other := filepath.Join(root, "other")
	s2 := NewScanner([]string{other}, Locale{})
	os.MkdirAll(other, 0o755)
	s2.Scan()
	w2, _ := NewWatcher()
	go w2.Run(ctx)
	w2.Set(s2.Targets())
	write(t, filepath.Join(other, "recently-used.xbel"), "x")
	select {
	case <-w2.C:
		t.Error("woken by an unrelated file")
	case <-time.After(200 * time.Millisecond):
	}
	os.Mkdir(filepath.Join(other, "applications"), 0o755)
	select {
	case <-w2.C:
	case <-time.After(5 * time.Second):
		t.Error("not woken by the applications dir appearing")
	}
}
