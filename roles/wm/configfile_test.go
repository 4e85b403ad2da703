package wm

import (
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wm.toml")
	cfg, err := loadConfig(path)
	if err != nil || cfg.Threshold != 250*time.Millisecond || len(cfg.Bindings) != len(DefaultBindings()) {
		t.Fatalf("missing file: %+v %v", cfg, err)
	}
	os.WriteFile(path, []byte(`tap_threshold = "180ms"
modifier = "super"
font = "/usr/share/fonts/x.ttf"

[colors]
card = "#102030"
selection = "#ffffff40"

[keys.F]
apps = ["foot"]
launch = "foot"

[keys.z]
apps = ["charlie"]
`), 0o644)
	cfg, err = loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Threshold != 180*time.Millisecond || cfg.Modifier != "super" || cfg.Font != "/usr/share/fonts/x.ttf" {
		t.Fatalf("%+v", cfg)
	}
	if cfg.Theme.Card != (color.NRGBA{0x10, 0x20, 0x30, 0xff}) || cfg.Theme.Selection.A != 0x40 || cfg.Theme.Text != DefaultTheme().Text {
		t.Fatalf("theme %+v", cfg.Theme)
	}
	if got := AssignHints([]string{"foot", "charlie", "org.mozilla.firefox"}, cfg.Bindings); strings.Join(got, ",") != "f,z,ff" {
		t.Fatalf("hints %v (the f binding is replaced: firefox keeps f by its name)", got)
	}
	os.WriteFile(path, []byte("default_keys = false\n[keys.q]\nlaunch = \"qutebrowser\"\n"), 0o644)
	cfg, _ = loadConfig(path)
	if len(cfg.Bindings) != 1 || cfg.Bindings[0].Key != 'q' {
		t.Fatalf("default_keys = false: %+v", cfg.Bindings)
	}
	for _, tc := range []struct{ file, want string }{
		{"tap = 1\n", "wm.toml:1:1: unknown key tap"},
		{"tap_threshold = 3\n", "wm.toml:1:17:"},
		{"tap_threshold = \"soon\"\n", "tap_threshold: \"soon\" is not a duration"},
		{"modifier = \"hyper\"\n", "modifier: modifier \"hyper\": want alt, super or ctrl"},
		{"[colors]\ncard = \"red\"\n", "colors.card: colour \"red\""},
		{"[colors]\nplaid = \"#000000\"\n", "colors.plaid: no such colour"},
		{"[keys.ab]\napps = [\"x\"]\n", "keys.ab: a hint key is one letter or digit"},
		{"[keys.a]\n", "keys.a: give apps, launch or both"},
	} {
		os.WriteFile(path, []byte(tc.file), 0o644)
		_, err := loadConfig(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.file, err, tc.want)
		}
	}
}
