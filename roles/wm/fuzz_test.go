package wm

import (
	"slices"
	"testing"

	"github.com/open-sesame/sesame/config"
)

// FuzzSettings: any configuration pushed (config.Config as JSON) gives settings or an
// error, never a panic, and what it gives has a valid modifier, a threshold in bounds and
// one-letter ASCII keys. The [wm] table itself is checked where it is written: config's
// FuzzLoad.
func FuzzSettings(f *testing.F) {
	f.Add(config.Default().JSON())
	for _, toml := range []string{
		"[wm]\ntap_threshold = \"180ms\"\nmodifier = \"super\"\n[wm.colors]\ncard = \"#102030\"\n[wm.keys.z]\napps = [\"charlie\"]\n",
		"[wm]\ndefault_keys = false\n[wm.keys.q]\nlaunch = \"qutebrowser\"\n",
	} {
		ld, err := config.LoadFiles([]config.File{{Name: "config.toml", Data: []byte(toml)}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ld.Config.JSON())
	}
	f.Add([]byte(`{"wm":{"tap_threshold":"6s","modifier":"alt"}}`))
	f.Add([]byte(`{"wm":{"modifier":"ctrl","font":"x","default_keys":true,"colors":{},"keys":{"ab":{"apps":["x"]},"é":{"launch":"y"}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, cfg, err := settingsFromJSON(b)
		if err != nil {
			return
		}
		if _, err := cfg.modMask(); err != nil {
			t.Fatalf("a bad modifier: %v", err)
		}
		if cfg.Threshold < 0 || cfg.Threshold > maxThreshold || cfg.Font == "" {
			t.Fatalf("threshold %v, font %q", cfg.Threshold, cfg.Font)
		}
		for _, k := range cfg.Bindings {
			if k.Key == 0 || k.Key > 127 || len(k.Apps) == 0 && k.Launch == "" {
				t.Fatalf("binding %+v", k)
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
