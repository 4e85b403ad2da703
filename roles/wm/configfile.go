package wm

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	toml "github.com/pelletier/go-toml/v2"
)

// The wm role's settings file, $XDG_CONFIG_HOME/sesame/wm.toml (all keys optional):
//
//	tap_threshold = "250ms"   # release before this: quick switch, nothing drawn
//	modifier = "alt"          # the key held with Tab: alt, super or ctrl
//	font = "DejaVu Sans"      # a family (found through fontconfig's directories) or a file
//	default_keys = true       # keep the built-in key bindings (false: only those below)
//
//	[colors]                  # #RRGGBB or #RRGGBBAA
//	background = "#00000060"  # over the whole screen while the picker shows
//	card = "#1e1e1ef0"
//	border = "#89b4fac0"
//	text = "#ffffff"
//	text_secondary = "#ffffffb4"
//	badge = "#646464"
//	badge_text = "#ffffff"
//	badge_matched = "#4caf50"
//	badge_matched_text = "#ffffff"
//	selection = "#ffffff28"
//
//	[keys.f]                  # windows of these apps get the hint f (ff, fff, …)
//	apps = ["firefox", "org.mozilla.firefox"]
//	launch = "firefox"        # a desktop-file ID: typing f with no such window launches it
//
// It is its own file because it is the wm role's alone; it is read when the role starts and
// again before an overlay opens if it changed. A file with a mistake (an unknown key, a
// wrong type, a bad colour) is reported with its line and column and not applied.

// configFileName is the file in $XDG_CONFIG_HOME/sesame.
const configFileName = "wm.toml"

type fileKey struct {
	Apps   []string `toml:"apps"`
	Launch string   `toml:"launch"`
}

type fileConfig struct {
	TapThreshold string             `toml:"tap_threshold"`
	Modifier     string             `toml:"modifier"`
	Font         string             `toml:"font"`
	DefaultKeys  *bool              `toml:"default_keys"`
	Colors       map[string]string  `toml:"colors"`
	Keys         map[string]fileKey `toml:"keys"`
}

// loadConfig reads the settings file at path over the defaults; a missing file is the
// defaults.
func loadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	var f fileConfig
	dec := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var de *toml.DecodeError
		var se *toml.StrictMissingError
		switch {
		case errors.As(err, &se) && len(se.Errors) > 0:
			row, col := se.Errors[0].Position()
			return cfg, fmt.Errorf("%s:%d:%d: unknown key %s", path, row, col, strings.Join(se.Errors[0].Key(), "."))
		case errors.As(err, &de):
			row, col := de.Position()
			return cfg, fmt.Errorf("%s:%d:%d: %s", path, row, col, de.Error())
		}
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	fail := func(key, format string, args ...any) (Config, error) {
		return DefaultConfig(), fmt.Errorf("%s: %s: %s", path, key, fmt.Sprintf(format, args...))
	}
	if f.TapThreshold != "" {
		d, err := time.ParseDuration(f.TapThreshold)
		if err != nil || d < 0 || d > 5*time.Second {
			return fail("tap_threshold", "%q is not a duration between 0 and 5s", f.TapThreshold)
		}
		cfg.Threshold = d
	}
	if f.Modifier != "" {
		cfg.Modifier = f.Modifier
		if _, err := cfg.modMask(); err != nil {
			return fail("modifier", "%v", err)
		}
	}
	if f.Font != "" {
		cfg.Font = f.Font
	}
	colors := map[string]*colorField{}
	for _, c := range themeFields(&cfg.Theme) {
		colors[c.name] = &c
	}
	names := make([]string, 0, len(f.Colors))
	for k := range f.Colors {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		c, ok := colors[k]
		if !ok {
			return fail("colors."+k, "no such colour (known: %s)", strings.Join(themeNames(), ", "))
		}
		v, err := ParseColor(f.Colors[k])
		if err != nil {
			return fail("colors."+k, "%v", err)
		}
		*c.p = v
	}
	if f.DefaultKeys != nil && !*f.DefaultKeys {
		cfg.Bindings = nil
	}
	keys := make([]string, 0, len(f.Keys))
	for k := range f.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := []rune(k)
		if len(r) != 1 || r[0] > unicode.MaxASCII || !(unicode.IsLetter(r[0]) || unicode.IsDigit(r[0])) {
			return fail("keys."+k, "a hint key is one letter or digit")
		}
		key := unicode.ToLower(r[0])
		fk := f.Keys[k]
		if len(fk.Apps) == 0 && fk.Launch == "" {
			return fail("keys."+k, "give apps, launch or both")
		}
		b := Binding{Key: key, Apps: fk.Apps, Launch: fk.Launch}
		if i := slices.IndexFunc(cfg.Bindings, func(b Binding) bool { return b.Key == key }); i >= 0 {
			cfg.Bindings[i] = b
		} else {
			cfg.Bindings = append(cfg.Bindings, b)
		}
	}
	return cfg, nil
}

type colorField struct {
	name string
	p    *color.NRGBA
}

func themeFields(t *Theme) []colorField {
	return []colorField{
		{"background", &t.Background}, {"card", &t.Card}, {"border", &t.Border},
		{"text", &t.Text}, {"text_secondary", &t.TextSecondary}, {"badge", &t.Badge},
		{"badge_text", &t.BadgeText}, {"badge_matched", &t.BadgeMatched},
		{"badge_matched_text", &t.BadgeMatchedText}, {"selection", &t.Selection},
	}
}

func themeNames() []string {
	var out []string
	for _, c := range themeFields(&Theme{}) {
		out = append(out, c.name)
	}
	return out
}
