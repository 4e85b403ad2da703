package wm

import (
	"fmt"
	"time"

	"github.com/open-sesame/sesame/wayland/xkb"
)

// Config is the wm role's settings.
type Config struct {
	// Threshold separates a tap (quick switch to the previous window, nothing drawn) from a
	// hold (the picker is drawn). SESAME_WM_THRESHOLD overrides it.
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
