package wm

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzLoadConfig: any wm.toml is either settings or an error, never a panic, and what
// loads has a valid modifier and one-letter keys.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("tap_threshold = \"180ms\"\nmodifier = \"super\"\n[colors]\ncard = \"#102030\"\n[keys.z]\napps = [\"charlie\"]\n"))
	f.Add([]byte("default_keys = false\n[keys.q]\nlaunch = \"qutebrowser\"\n"))
	f.Add([]byte("[keys.ab]\napps = [\"x\"]\n"))
	f.Add([]byte("tap = 1\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "wm.toml")
		os.WriteFile(path, b, 0o600)
		cfg, err := loadConfig(path)
		if err != nil {
			return
		}
		if _, err := cfg.modMask(); err != nil {
			t.Fatalf("loaded a bad modifier: %v", err)
		}
		for _, k := range cfg.Bindings {
			if k.Key == 0 || k.Key > 127 {
				t.Fatalf("key %q", k.Key)
			}
		}
	})
}

// FuzzDecodeSaved: the saved window order decodes from anything, round-trips what it
// decodes, and never holds more than the cap.
func FuzzDecodeSaved(f *testing.F) {
	f.Add(encodeSaved([]savedWindow{{"foot", "~/src"}, {"org.mozilla.firefox", "a\tb"}}))
	f.Add([]byte("\t\n\nx\ty\tz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ws := decodeSaved(b)
		if len(ws) > mruCap {
			t.Fatalf("%d entries", len(ws))
		}
		if again := decodeSaved(encodeSaved(ws)); !slices.Equal(again, ws) {
			t.Fatalf("%q → %q → %q", b, ws, again)
		}
	})
}
