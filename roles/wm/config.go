package wm

import (
	"encoding/json"
	"fmt"
	"image/color"
	"slices"
	"sort"
	"time"

	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/wayland/xkb"
)

// The settings are the [wm] table of sesame's configuration (config.WM, docs/config.md),
// which the role takes from the hub: hub.config when it connects, wm.config pushes after
// each change. The config package checks them where they are written (file:line:col);
// settingsFrom turns them into a Config and checks them again, since a push is only JSON.

// Config is the wm role's settings.
type Config struct {
	// Threshold separates a tap (quick switch to the previous window, nothing drawn) from a
	// hold (the picker is drawn).
	Threshold time.Duration
	// LauncherDwell is the hold time before drawing in launcher mode.
	LauncherDwell time.Duration
	// Modifier is the key held with Tab: "alt", "super" or "ctrl". Its release commits.
	Modifier string
	// Bindings give hint letters to applications, and launch them when they have no window.
	Bindings []Binding
	// Font is a font family ("DejaVu Sans") or a font file.
	Font  string
	Theme Theme
	// KeyboardWait is how long the overlay waits for the keyboard before giving up.
	KeyboardWait time.Duration
	// IdleCancel cancels an overlay nobody types in (under the hub's 30 s request timeout,
	// so the command that opened it hears how it ended).
	IdleCancel time.Duration
}

// DefaultBindings are the built-in key bindings.
func DefaultBindings() []Binding {
	return []Binding{
		{Key: 'g', Apps: []string{"ghostty", "com.mitchellh.ghostty"}, Launch: "com.mitchellh.ghostty"},
		{Key: 'f', Apps: []string{"firefox", "org.mozilla.firefox"}, Launch: "firefox"},
		{Key: 'e', Apps: []string{"microsoft-edge"}, Launch: "microsoft-edge"},
		{Key: 'c', Apps: []string{"chromium", "google-chrome"}, Launch: "chromium"},
		{Key: 'v', Apps: []string{"code", "Code", "cursor", "Cursor"}, Launch: "code"},
		{Key: 'n', Apps: []string{"nautilus", "org.gnome.Nautilus"}, Launch: "org.gnome.Nautilus"},
		{Key: 's', Apps: []string{"slack", "Slack"}, Launch: "slack"},
		{Key: 'd', Apps: []string{"discord", "Discord"}, Launch: "discord"},
		{Key: 'm', Apps: []string{"spotify"}, Launch: "spotify"},
		{Key: 't', Apps: []string{"thunderbird"}, Launch: "thunderbird"},
	}
}

// DefaultConfig returns the built-in settings.
func DefaultConfig() Config {
	return Config{
		Threshold:     250 * time.Millisecond,
		LauncherDwell: 100 * time.Millisecond,
		Modifier:      "alt",
		Bindings:      DefaultBindings(),
		Font:          "DejaVu Sans",
		Theme:         DefaultTheme(),
		KeyboardWait:  3 * time.Second,
		IdleCancel:    20 * time.Second,
	}
}

// modMask is the modifier's real-modifier mask.
func (c *Config) modMask() (uint32, error) {
	switch c.Modifier {
	case "alt", "":
		return xkb.ModAlt, nil
	case "super":
		return xkb.ModSuper, nil
	case "ctrl":
		return xkb.ModControl, nil
	}
	return 0, fmt.Errorf("modifier %q: want alt, super or ctrl", c.Modifier)
}

// maxThreshold bounds wm.tap_threshold (the config package's rule).
const maxThreshold = 5 * time.Second

// settingsFrom turns the [wm] table into the role's settings: the built-in key bindings
// (unless default_keys is false) with those of [wm.keys] over them, key by key.
func settingsFrom(w config.WM) (Config, error) {
	cfg := DefaultConfig()
	if d := time.Duration(w.TapThreshold); d < 0 || d > maxThreshold {
		return cfg, fmt.Errorf("wm.tap_threshold: %v is not between 0 and %v", d, maxThreshold)
	}
	cfg.Threshold = time.Duration(w.TapThreshold)
	cfg.Modifier = string(w.Modifier)
	if _, err := cfg.modMask(); err != nil {
		return DefaultConfig(), fmt.Errorf("wm.%v", err)
	}
	if w.Font != "" {
		cfg.Font = string(w.Font)
	}
	for _, c := range themeFields(&cfg.Theme, &w.Colors) {
		v, err := ParseColor(string(c.v))
		if err != nil {
			return DefaultConfig(), fmt.Errorf("wm.colors.%s: %v", c.name, err)
		}
		*c.p = v
	}
	if !w.DefaultKeys {
		cfg.Bindings = nil
	}
	keys := make([]string, 0, len(w.Keys))
	for k := range w.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(k) != 1 || !('a' <= k[0] && k[0] <= 'z' || '0' <= k[0] && k[0] <= '9') {
			return DefaultConfig(), fmt.Errorf("wm.keys.%q: a hint key is one lower-case ASCII letter or digit", k)
		}
		wk := w.Keys[k]
		if len(wk.Apps) == 0 && wk.Launch == "" {
			return DefaultConfig(), fmt.Errorf("wm.keys.%s: give apps, launch or both", k)
		}
		b := Binding{Key: rune(k[0]), Apps: slices.Clone(wk.Apps), Launch: wk.Launch}
		if i := slices.IndexFunc(cfg.Bindings, func(b Binding) bool { return b.Key == rune(k[0]) }); i >= 0 {
			cfg.Bindings[i] = b
		} else {
			cfg.Bindings = append(cfg.Bindings, b)
		}
	}
	return cfg, nil
}

// settingsFromJSON reads the configuration as the hub pushes it (config.Config as JSON)
// and returns its [wm] table and the settings it makes.
func settingsFromJSON(b []byte) (config.WM, Config, error) {
	var c config.Config
	if err := json.Unmarshal(b, &c); err != nil {
		return config.WM{}, DefaultConfig(), fmt.Errorf("the configuration pushed does not decode: %w", err)
	}
	cfg, err := settingsFrom(c.WM)
	return c.WM, cfg, err
}

type colorField struct {
	name string
	v    config.Color
	p    *color.NRGBA
}

// themeFields pairs each colour of the theme with its key in [wm.colors].
func themeFields(t *Theme, c *config.WMColors) []colorField {
	return []colorField{
		{"background", c.Background, &t.Background}, {"card", c.Card, &t.Card}, {"border", c.Border, &t.Border},
		{"text", c.Text, &t.Text}, {"text_secondary", c.TextSecondary, &t.TextSecondary}, {"badge", c.Badge, &t.Badge},
		{"badge_text", c.BadgeText, &t.BadgeText}, {"badge_matched", c.BadgeMatched, &t.BadgeMatched},
		{"badge_matched_text", c.BadgeMatchedText, &t.BadgeMatchedText}, {"selection", c.Selection, &t.Selection},
	}
}
