package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWM: the [wm] table is read, shown with its origins and pushed (Config.JSON).
func TestWM(t *testing.T) {
	ld := mustLoad(t, user(`[wm]
tap_threshold = "180ms"
modifier = "super"
font = "/usr/share/fonts/x.ttf"
default_keys = false

[wm.colors]
card = "#102030"
selection = "#FFFFFF40"

[wm.keys.z]
apps = ["charlie"]

[wm.keys.t]
apps = ["foot"]
launch = "foot"
`))
	w := ld.Config.WM
	if time.Duration(w.TapThreshold) != 180*time.Millisecond || w.Modifier != "super" || w.Font != "/usr/share/fonts/x.ttf" || w.DefaultKeys {
		t.Fatalf("%+v", w)
	}
	if w.Colors.Card != "#102030" || w.Colors.Selection != "#ffffff40" || w.Colors.Text != DefaultWM().Colors.Text {
		t.Fatalf("colours %+v", w.Colors)
	}
	if len(w.Keys) != 2 || w.Keys["z"].Apps[0] != "charlie" || w.Keys["z"].Launch != "" || w.Keys["t"].Launch != "foot" {
		t.Fatalf("keys %+v", w.Keys)
	}
	e := entries(ld)
	for k, want := range map[string]string{
		"wm.tap_threshold":    `"180ms" @ ` + userFile + ":2:17",
		"wm.colors.card":      `"#102030" @ ` + userFile + ":8:8",
		"wm.colors.border":    `"#89b4fac0" @ built-in default`,
		"wm.keys.z.apps":      `["charlie"] @ ` + userFile + ":12:8",
		"wm.keys.z.launch":    `"" @ built-in default`,
		"wm.keys.t.launch":    `"foot" @ ` + userFile + ":16:10",
		"wm.colors.selection": `"#FFFFFF40" @ ` + userFile + ":9:13",
	} {
		if e[k] != want {
			t.Errorf("%s = %s, want %s", k, e[k], want)
		}
	}
	var back struct {
		WM WM `json:"wm"`
	}
	if err := json.Unmarshal(ld.Config.JSON(), &back); err != nil || back.WM.Keys["t"].Launch != "foot" || back.WM.Modifier != "super" {
		t.Fatalf("the push: %v %+v", err, back.WM)
	}
	// Nothing set: the defaults, shown as such.
	e = entries(mustLoad(t))
	if e["wm.keys"] != "{} @ built-in default" || e["wm.font"] != `"DejaVu Sans" @ built-in default` || e["wm.default_keys"] != "true @ built-in default" {
		t.Errorf("defaults: keys %s, font %s, default_keys %s", e["wm.keys"], e["wm.font"], e["wm.default_keys"])
	}
}

// TestWMErrors: each rule of [wm], with the position and hint it is reported at.
func TestWMErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		file File
		want string // "LINE:COL: message"
		hint string
	}{
		{"unknown key", user("[wm]\ntap = \"1s\""), `2:1: wm.tap: unknown key "tap" in [wm]`, "known keys here: tap_threshold, modifier, font, default_keys, colors, keys"},
		{"misspelt key", user("[wm]\nmodifer = \"alt\""), `2:1: wm.modifer: unknown key "modifer" in [wm]`, `did you mean "modifier"?`},
		{"wm key at the top level", user("tap_threshold = \"1s\""), `1:1: tap_threshold: unknown key "tap_threshold"`, `"tap_threshold" belongs in [wm]`},
		{"threshold as integer", user("[wm]\ntap_threshold = 3"), `2:17: wm.tap_threshold: want a duration (a string such as "15m"), not an integer (3)`, `write tap_threshold = "3s"`},
		{"threshold not a duration", user("[wm]\ntap_threshold = \"soon\""), `2:17: wm.tap_threshold: "soon" is not a duration`, ""},
		{"threshold negative", user("[wm]\ntap_threshold = \"-1ms\""), `2:17: wm.tap_threshold: "-1ms" is negative`, ""},
		{"threshold over 5s", user("[wm]\ntap_threshold = \"6s\""), "2:17: wm.tap_threshold: 6s is longer than the maximum, 5s", ""},
		{"modifier unknown", user("[wm]\nmodifier = \"hyper\""), `2:12: wm.modifier: "hyper" is not a modifier (want alt, super or ctrl)`, ""},
		{"modifier spelt otherwise", user("[wm]\nmodifier = \"control\""), `2:12: wm.modifier: "control" is not a modifier`, `write "ctrl"`},
		{"modifier in capitals", user("[wm]\nmodifier = \"Alt\""), `2:12: wm.modifier: "Alt" is not a modifier`, `write "alt"`},
		{"font empty", user("[wm]\nfont = \"\""), "2:8: wm.font: a font cannot be empty", `write font = "DejaVu Sans", or the absolute path of a font file`},
		{"font relative path", user("[wm]\nfont = \"fonts/x.ttf\""), `2:8: wm.font: "fonts/x.ttf" is neither a font family nor an absolute path`, "write a font file's path in full, from /"},
		{"default_keys quoted", user("[wm]\ndefault_keys = \"false\""), `2:16: wm.default_keys: want a boolean (true or false), not a string ("false")`, "write default_keys = false, without quotes"},
		{"colour by name", user("[wm.colors]\ncard = \"red\""), `2:8: wm.colors.card: "red" is not a colour: want "#RRGGBB" or "#RRGGBBAA"`, ""},
		{"colour without #", user("[wm.colors]\ncard = \"102030\""), `2:8: wm.colors.card: "102030" is not a colour`, `write "#102030"`},
		{"colour of 7 digits", user("[wm.colors]\ncard = \"#1020304\""), `2:8: wm.colors.card: "#1020304" is not a colour`, ""},
		{"unknown colour", user("[wm.colors]\nplaid = \"#000000\""), `2:1: wm.colors.plaid: unknown key "plaid" in [wm.colors]`, "known keys here: background, card, border, text, text_secondary, badge, badge_text, badge_matched, badge_matched_text, selection"},
		{"colours as a string", user("[wm]\ncolors = \"dark\""), `2:10: wm.colors: want a table, not a string ("dark")`, ""},
		{"hint key of two letters", user("[wm.keys.ab]\napps = [\"x\"]"), `1:10: wm.keys.ab: "ab" is not a hint key: one ASCII letter or digit`, ""},
		{"hint key not ASCII", user("[wm.keys.\"é\"]\napps = [\"x\"]"), `1:10: wm.keys."é": "é" is not a hint key`, ""},
		{"hint key in capitals", user("[wm.keys.F]\napps = [\"foot\"]"), `1:10: wm.keys.F: "F" is not a hint key: hint keys are lower case`, "write [wm.keys.f]"},
		{"hint key without apps or launch", user("[wm.keys.a]\n"), "1:10: wm.keys.a: a hint key needs apps, launch or both", `write apps = ["APP-ID"] or launch = "DESKTOP-FILE-ID"`},
		{"hint key apps as a string", user("[wm.keys.a]\napps = \"foot\""), `2:8: wm.keys.a.apps: want a list of a string, not a string ("foot")`, `write apps = ["foot"]`},
		{"hint key empty app", user("[wm.keys.a]\napps = [\"\"]"), "2:8: wm.keys.a.apps: an app id cannot be empty", ""},
		{"hint key unknown field", user("[wm.keys.a]\napp = [\"foot\"]"), `2:1: wm.keys.a.app: unknown key "app" in [wm.keys.a]`, `did you mean "apps"?`},
		{"policy on an unknown wm key", sys("[[policy]]\nkey = \"wm.modifer\""), `2:7: policy[0].key: "wm.modifer" is not a key`, `did you mean "modifier"?`},
		{"policy on a bad hint key", sys("[[policy]]\nkey = \"wm.keys.F\""), `2:7: policy[0].key: "F" is not a hint key: hint keys are lower case`, "write [wm.keys.f]"},
		{"policy value of the wrong type", sys("[[policy]]\nkey = \"wm.modifier\"\nvalue = \"hyper\""), `3:9: wm.modifier: "hyper" is not a modifier`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadFiles([]File{c.file})
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("err = %v, want Errors", err)
			}
			e := es[0]
			if want := c.file.Name + ":" + c.want; !strings.HasPrefix(e.Error(), want) {
				t.Errorf("error:\n %s\nwant it to start with:\n %s", e.Error(), want)
			}
			if e.Hint != c.hint {
				t.Errorf("hint %q, want %q", e.Hint, c.hint)
			}
			if len(es) != 1 {
				t.Errorf("%d errors, want 1: %v", len(es), err)
			}
		})
	}
}

// TestWMLayersAndPolicy: [wm] merges across layers like any table, and [[policy]] locks its
// keys: with a value, without one, and a whole table.
func TestWMLayersAndPolicy(t *testing.T) {
	ld := mustLoad(t,
		sys(`[wm]
font = "Inter"

[wm.keys.f]
apps = ["firefox"]
launch = "firefox"

[[policy]]
key = "wm.modifier"
value = "super"
reason = "alt is the IDE's"

[[policy]]
key = "wm.colors"
reason = "corporate theme"
`),
		user(`[wm]
modifier = "alt"
tap_threshold = "300ms"

[wm.colors]
card = "#000000"

[wm.keys.f]
apps = ["librewolf"]
`),
		drop(dropA, "[wm.keys.z]\napps = [\"charlie\"]\n"),
	)
	w := ld.Config.WM
	if w.Modifier != "super" || w.Font != "Inter" || time.Duration(w.TapThreshold) != 300*time.Millisecond {
		t.Fatalf("%+v", w)
	}
	if w.Colors != DefaultWM().Colors {
		t.Errorf("locked colours changed: %+v", w.Colors)
	}
	// Tables merge key by key: the user's apps, the system's launch.
	if f := w.Keys["f"]; len(f.Apps) != 1 || f.Apps[0] != "librewolf" || f.Launch != "firefox" || w.Keys["z"].Apps[0] != "charlie" {
		t.Errorf("keys %+v", w.Keys)
	}
	var warned []string
	for _, wn := range ld.Warnings {
		warned = append(warned, wn.Pos.String()+" "+wn.Key)
		if !strings.Contains(wn.Msg, "locked by policy ("+sysFile+":") {
			t.Errorf("warning %q does not say which policy", wn.Msg)
		}
	}
	if want := userFile + ":2:1 wm.modifier," + userFile + ":5:5 wm.colors"; strings.Join(warned, ",") != want {
		t.Errorf("warnings %v, want %s", warned, want)
	}
	e := entries(ld)
	if !strings.HasPrefix(e["wm.modifier"], `"super" @ `+sysFile+":10:9") || !strings.HasPrefix(e["wm.font"], `"Inter" @ `+sysFile+":2:8") {
		t.Errorf("origins: modifier %s, font %s", e["wm.modifier"], e["wm.font"])
	}
	if _, lock := ld.Origin("wm", "colors", "card"); lock == nil || lock.Reason != "corporate theme" {
		t.Errorf("wm.colors.card lock %+v", lock)
	}
	if _, lock := ld.Origin("wm", "font"); lock != nil {
		t.Errorf("wm.font is not locked: %+v", lock)
	}

	// A lock on every hint key: the user's keys are ignored, the system's stay.
	ld = mustLoad(t,
		sys("[wm.keys.f]\nlaunch = \"firefox\"\n[[policy]]\nkey = \"wm.keys\"\n"),
		user("[wm.keys.f]\nlaunch = \"librewolf\"\n[wm.keys.q]\nlaunch = \"qutebrowser\"\n"),
	)
	if k := ld.Config.WM.Keys; len(k) != 1 || k["f"].Launch != "firefox" || len(ld.Warnings) != 1 || ld.Warnings[0].Key != "wm.keys" {
		t.Errorf("keys %+v, warnings %v", k, ld.Warnings)
	}
	// A lock on one key, "*" for every key.
	ld = mustLoad(t,
		sys("[[policy]]\nkey = \"wm.keys.*.launch\"\nvalue = \"\"\n"),
		user("[wm.keys.f]\napps = [\"foot\"]\nlaunch = \"foot\"\n"),
	)
	if k := ld.Config.WM.Keys["f"]; k.Launch != "" || len(k.Apps) != 1 || len(ld.Warnings) != 1 {
		t.Errorf("key f %+v, warnings %v", k, ld.Warnings)
	}
}

// TestLegacyWMFile: a wm.toml left beside config.toml is not read, and every load says so
// and how to move it.
func TestLegacyWMFile(t *testing.T) {
	home := t.TempDir()
	p := PathsFor(filepath.Join(home, "etc"), home)
	os.MkdirAll(filepath.Join(home, "sesame"), 0o700)
	os.WriteFile(p.User, []byte("[wm]\nmodifier = \"super\"\n"), 0o600)
	ld, err := Load(p)
	if err != nil || len(ld.Warnings) != 0 {
		t.Fatalf("without wm.toml: %v %v", err, ld.Warnings)
	}
	legacy := filepath.Join(home, "sesame", "wm.toml")
	os.WriteFile(legacy, []byte("modifier = \"ctrl\"\n[keys.z]\napps = [\"charlie\"]\n"), 0o600)
	ld, err = Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if ld.Config.WM.Modifier != "super" || len(ld.Config.WM.Keys) != 0 {
		t.Errorf("wm.toml was read: %+v", ld.Config.WM)
	}
	if len(ld.Warnings) != 1 {
		t.Fatalf("warnings %v", ld.Warnings)
	}
	w := ld.Warnings[0].Error()
	for _, s := range []string{legacy + ": no longer read", "[wm] table of " + p.User, "[keys.X] as [wm.keys.x]", "delete this file"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning %q lacks %q", w, s)
		}
	}
}
