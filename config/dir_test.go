package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseDir(t *testing.T) {
	dp, err := ParseDir("p/.sesame.toml", []byte("profile = \"work\"\nsecret_prefix = \"MYAPP\"\n[env]\nAWS_REGION = \"eu-west-1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if dp.Profile != "work" || dp.SecretPrefix != "MYAPP" || dp.Env["AWS_REGION"] != "eu-west-1" {
		t.Errorf("%+v", dp)
	}
	for _, c := range []struct{ src, want string }{
		{"secret_prefix = \"X\"", "p/.sesame.toml:1:1: a directory profile must name its profile"},
		{"profile = \"w\"\nprofil = \"x\"", `p/.sesame.toml:2:1: profil: unknown key "profil"`},
		{"profile = \"w\"\nsecret_prefix = \"my-app\"", `p/.sesame.toml:2:17: secret_prefix: "my-app" is not a variable name`},
		{"profile = \"a b\"", `p/.sesame.toml:1:11: profile: profile name "a b"`},
		{"profile = \"w\"\n[env]\nX = 1", "p/.sesame.toml:3:5: env.X: want a string, not an integer (1)"},
	} {
		_, err := ParseDir("p/.sesame.toml", []byte(c.src))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v\nwant %s…", c.src, err, c.want)
		}
	}
}

func TestFindDir(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "proj", "src", "pkg")
	os.MkdirAll(deep, 0o755)
	if p, err := FindDir(deep); err != nil || strings.HasPrefix(p, root) {
		t.Errorf("no file yet: %q, %v", p, err)
	}
	os.WriteFile(filepath.Join(root, "proj", DirFileName), []byte("profile = \"work\""), 0o644)
	p, err := FindDir(deep)
	if err != nil || p != filepath.Join(root, "proj", DirFileName) {
		t.Errorf("FindDir = %q, %v", p, err)
	}
	os.WriteFile(filepath.Join(deep, DirFileName), []byte("profile = \"x\""), 0o644)
	if p, _ := FindDir(deep); p != filepath.Join(deep, DirFileName) {
		t.Errorf("the nearest file wins: %q", p)
	}
	// A directory named .sesame.toml is not a profile file.
	os.Remove(filepath.Join(deep, DirFileName))
	os.Mkdir(filepath.Join(deep, DirFileName), 0o755)
	if p, _ := FindDir(deep); p != filepath.Join(root, "proj", DirFileName) {
		t.Errorf("a directory was taken for the file: %q", p)
	}
}

func TestAllowList(t *testing.T) {
	dir := t.TempDir()
	a := AllowList{Path: filepath.Join(dir, "state", "sesame", "allowed.json")}
	file := "/p/.sesame.toml"
	v1, v2 := []byte("profile = \"work\""), []byte("profile = \"personal\"")
	check := func(data []byte, want AllowState) {
		t.Helper()
		got, err := a.Check(file, data)
		if err != nil || got != want {
			t.Errorf("Check = %v, %v; want %v", got, err, want)
		}
	}
	check(v1, NotAllowed)
	if err := a.Allow(file, v1); err != nil {
		t.Fatal(err)
	}
	check(v1, Allowed)
	check(v2, Changed)
	if err := a.Allow(file, v2); err != nil {
		t.Fatal(err)
	}
	check(v2, Allowed)
	check(v1, Changed)
	if was, err := a.Deny(file); err != nil || !was {
		t.Errorf("Deny = %v, %v", was, err)
	}
	check(v2, NotAllowed)
	if was, _ := a.Deny(file); was {
		t.Error("denied twice")
	}
	fi, err := os.Stat(a.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("allow list mode %v, %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(a.Path)); di.Mode().Perm() != 0o700 {
		t.Errorf("allow list dir mode %v", di.Mode())
	}
	os.WriteFile(a.Path, []byte("{"), 0o600)
	if _, err := a.Check(file, v1); err == nil {
		t.Error("a corrupt allow list was read as empty")
	}
}

// TestWatch: creating the user directory, the file, config.d and a drop-in later, editing
// and removing them, each wakes the watcher; unrelated files do not.
func TestWatch(t *testing.T) {
	home := t.TempDir()
	p := PathsFor(filepath.Join(home, "etc"), filepath.Join(home, "config"))
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, p, 20*time.Millisecond, func() { n.Add(1) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	expect := func(what string, change func()) {
		t.Helper()
		before := n.Load()
		change()
		deadline := time.Now().Add(3 * time.Second)
		for n.Load() == before {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no change seen", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(40 * time.Millisecond) // let the burst settle
	}
	expect("mkdir config/sesame", func() { os.MkdirAll(filepath.Dir(p.User), 0o700) })
	expect("write config.toml", func() { os.WriteFile(p.User, []byte("a"), 0o600) })
	expect("mkdir config.d", func() { os.Mkdir(p.DropIn, 0o700) })
	expect("drop-in created", func() { os.WriteFile(filepath.Join(p.DropIn, "10-x.toml"), []byte("a"), 0o600) })
	expect("drop-in renamed into place", func() {
		tmp := filepath.Join(p.DropIn, ".tmp")
		os.WriteFile(tmp, []byte("b"), 0o600)
		os.Rename(tmp, filepath.Join(p.DropIn, "20-y.toml"))
	})
	expect("drop-in removed", func() { os.Remove(filepath.Join(p.DropIn, "10-x.toml")) })
	expect("system dir and file", func() {
		os.MkdirAll(filepath.Join(home, "etc"), 0o755)
		os.WriteFile(p.System, []byte("a"), 0o644)
	})
	expect("config.d removed and made again", func() {
		os.RemoveAll(p.DropIn)
	})
	expect("config.d made again", func() {
		os.Mkdir(p.DropIn, 0o700)
		os.WriteFile(filepath.Join(p.DropIn, "30-z.toml"), []byte("a"), 0o600)
	})
	legacy := filepath.Join(filepath.Dir(p.User), LegacyWMFile)
	expect("legacy wm.toml created", func() { os.WriteFile(legacy, []byte("a"), 0o600) })
	expect("legacy wm.toml removed", func() { os.Remove(legacy) })
	before := n.Load()
	os.WriteFile(filepath.Join(filepath.Dir(p.User), "notes.txt"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(p.DropIn, ".30-z.toml.swp"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(p.DropIn, "README"), []byte("x"), 0o600)
	time.Sleep(150 * time.Millisecond)
	if n.Load() != before {
		t.Errorf("unrelated files woke the watcher")
	}
}

func TestPathsRead(t *testing.T) {
	home := t.TempDir()
	p := PathsFor(filepath.Join(home, "etc"), filepath.Join(home, "config"))
	files, err := p.Read()
	if err != nil || len(files) != 0 {
		t.Fatalf("no files: %v %v", files, err)
	}
	os.MkdirAll(p.DropIn, 0o700)
	os.MkdirAll(filepath.Dir(p.System), 0o700)
	os.WriteFile(p.System, []byte("s"), 0o600)
	os.WriteFile(p.User, []byte("u"), 0o600)
	for _, n := range []string{"20-b.toml", "10-a.toml", ".hidden.toml", "notes.txt"} {
		os.WriteFile(filepath.Join(p.DropIn, n), []byte(n), 0o600)
	}
	os.Mkdir(filepath.Join(p.DropIn, "dir.toml"), 0o700)
	files, err = p.Read()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f.Name)+"="+string(f.Data))
		if f.System != (f.Name == p.System) {
			t.Errorf("%s: System = %v", f.Name, f.System)
		}
	}
	if strings.Join(got, " ") != "config.toml=s config.toml=u 10-a.toml=10-a.toml 20-b.toml=20-b.toml" {
		t.Errorf("read %v", got)
	}
	os.WriteFile(p.User, make([]byte, maxFileSize+1), 0o600)
	var es Errors
	if _, err := p.Read(); !errors.As(err, &es) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a huge file: %v", err)
	}
}

// TestLoadFromDisk is Load end to end, with a drop-in that breaks and is fixed.
func TestLoadFromDisk(t *testing.T) {
	home := t.TempDir()
	p := PathsFor(filepath.Join(home, "etc"), filepath.Join(home, "config"))
	os.MkdirAll(p.DropIn, 0o700)
	os.WriteFile(p.User, []byte("[profile_defaults]\nidle_lock = \"5m\"\n"), 0o600)
	ld, err := Load(p)
	if err != nil || time.Duration(ld.Config.Profile("x").IdleLock) != 5*time.Minute {
		t.Fatalf("%v %+v", err, ld)
	}
	os.WriteFile(filepath.Join(p.DropIn, "50-x.toml"), []byte("[profile_defaults]\nidle_lok = \"1m\"\n"), 0o600)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "50-x.toml:2:1: profile_defaults.idle_lok") {
		t.Errorf("broken drop-in: %v", err)
	}
	os.WriteFile(filepath.Join(p.DropIn, "50-x.toml"), []byte("[profile_defaults]\nidle_lock = \"1m\"\n"), 0o600)
	ld2, err := Load(p)
	if err != nil || time.Duration(ld2.Config.Profile("x").IdleLock) != time.Minute {
		t.Fatalf("%v", err)
	}
	if ld.Digest == ld2.Digest {
		t.Error("digest unchanged")
	}
}
