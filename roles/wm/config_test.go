package wm

import (
	"context"
	"image/color"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/wltest"
	"github.com/open-sesame/sesame/wayland/xkb"
)

// loadWM loads a configuration file and returns its [wm] table, as the hub would push it.
func loadWM(t *testing.T, toml string) config.WM {
	t.Helper()
	ld, err := config.LoadFiles([]config.File{{Name: "config.toml", Data: []byte(toml)}})
	if err != nil {
		t.Fatal(err)
	}
	return ld.Config.WM
}

// TestDefaultsAgree: the configuration's built-in [wm] is the role's built-in settings.
func TestDefaultsAgree(t *testing.T) {
	cfg, err := settingsFrom(config.DefaultWM())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Fatalf("config.DefaultWM gives\n%+v\nthe role's defaults are\n%+v", cfg, DefaultConfig())
	}
}

func TestSettingsFrom(t *testing.T) {
	cfg, err := settingsFrom(loadWM(t, `[wm]
tap_threshold = "180ms"
modifier = "super"
font = "/usr/share/fonts/x.ttf"

[wm.colors]
card = "#102030"
selection = "#ffffff40"

[wm.keys.f]
apps = ["foot"]
launch = "foot"

[wm.keys.z]
apps = ["charlie"]
`))
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
	cfg, _ = settingsFrom(loadWM(t, "[wm]\ndefault_keys = false\n[wm.keys.q]\nlaunch = \"qutebrowser\"\n"))
	if len(cfg.Bindings) != 1 || cfg.Bindings[0].Key != 'q' || cfg.Bindings[0].Launch != "qutebrowser" {
		t.Fatalf("default_keys = false: %+v", cfg.Bindings)
	}
	// What the config package would have refused, arriving in a push anyway.
	for _, c := range []struct {
		json, want string
	}{
		{`{"wm":{"tap_threshold":"6s"}}`, "wm.tap_threshold: 6s is not between 0 and 5s"},
		{`{"wm":{"modifier":"hyper"}}`, `"hyper" is not a modifier`},
		{`{"wm":{"tap_threshold":"1s","modifier":"alt","colors":{"card":"#102030"}}}`, `wm.colors.background: colour ""`},
		{`{"wm":{"modifier":"alt","colors":` + colorsJSON + `,"keys":{"ab":{"apps":["x"]}}}}`, `wm.keys."ab": a hint key is one lower-case ASCII letter or digit`},
		{`{"wm":{"modifier":"alt","colors":` + colorsJSON + `,"keys":{"a":{}}}}`, "wm.keys.a: give apps, launch or both"},
		{`[]`, "the configuration pushed does not decode"},
	} {
		_, cfg, err := settingsFromJSON([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.json, err, c.want)
		}
		if !reflect.DeepEqual(cfg, DefaultConfig()) {
			t.Errorf("%s: an error with settings other than the defaults", c.json)
		}
	}
}

const colorsJSON = `{"background":"#000000","card":"#000000","border":"#000000","text":"#000000","text_secondary":"#000000",` +
	`"badge":"#000000","badge_text":"#000000","badge_matched":"#000000","badge_matched_text":"#000000","selection":"#000000"}`

// TestConfigure: the hub's configuration reaches the desk live: at once between overlays,
// after the open one otherwise; an older push, or one that does not convert, changes
// nothing.
func TestConfigure(t *testing.T) {
	f := wltest.NewFake(t, wltest.Global{Name: 1, Interface: "wl_seat", Version: 7})
	c, err := wayland.Connect(f.Path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	def := DefaultConfig()
	d := &desk{c: c, cfg: def, logf: t.Logf, now: time.Now,
		m: Machine{Threshold: def.Threshold, LauncherDwell: def.LauncherDwell, Bindings: def.Bindings}}
	s := &server{d: d, c: c, getenv: func(string) string { return "" }, logf: t.Logf}
	s.mu.wm, s.mu.font, s.mu.fontOK = config.DefaultWM(), def.Font, true
	push := func(seq uint64, toml string) {
		t.Helper()
		ld, err := config.LoadFiles([]config.File{{Name: "config.toml", Data: []byte(toml)}})
		if err != nil {
			t.Fatal(err)
		}
		s.configure(&api.ConfigPush{Seq: seq, Config: ld.Config.JSON()})
	}
	state := func() (cfg Config, m Machine, next *pending) {
		t.Helper()
		if err := s.do(func() error { cfg, m, next = d.cfg, d.m, d.next; return nil }); err != nil {
			t.Fatal(err)
		}
		return
	}

	push(2, "[wm]\nmodifier = \"super\"\n[wm.keys.z]\napps = [\"charlie\"]\n")
	cfg, m, _ := state()
	if cfg.Modifier != "super" || d.mask != xkb.ModSuper || bindingKey('z', m.Bindings) == nil {
		t.Fatalf("not applied: %+v", cfg)
	}
	push(1, "[wm]\nmodifier = \"ctrl\"\n")
	if cfg, _, _ := state(); cfg.Modifier != "super" {
		t.Fatalf("an older push applied: %s", cfg.Modifier)
	}
	s.configure(&api.ConfigPush{Seq: 3, Config: []byte(`{"wm":{"modifier":"hyper"}}`)})
	if cfg, _, _ := state(); cfg.Modifier != "super" {
		t.Fatalf("a bad push applied: %s", cfg.Modifier)
	}

	// An overlay is open: the settings wait for it to end.
	s.do(func() error { d.m.Trigger(time.Now(), snap3, false, false); return nil })
	push(4, "[wm]\ntap_threshold = \"100ms\"\n")
	cfg, m, next := state()
	if cfg.Threshold != def.Threshold || m.Phase() == Idle || next == nil || next.cfg.Threshold != 100*time.Millisecond {
		t.Fatalf("applied during an overlay: %v, pending %+v", cfg.Threshold, next)
	}
	reply := make(chan api.WmOverlayReply, 1)
	s.do(func() error {
		d.m.Release(time.Now())
		d.trigger(api.WmOverlayRequest{}, time.Now(), reply) // the next overlay
		return nil
	})
	<-reply
	if cfg, m, next := state(); cfg.Threshold != 100*time.Millisecond || m.Threshold != 100*time.Millisecond || next != nil || cfg.Modifier != "alt" {
		t.Fatalf("not applied before the next overlay: %+v, pending %+v", cfg, next)
	}

	// A font file the role cannot read: a family from fontconfig's directories instead.
	if _, err := findFont("DejaVu Sans", fontconfigDirs(s.getenv, "/etc/fonts")); err != nil {
		t.Skipf("no font here: %v", err)
	}
	push(5, "[wm]\nfont = \"/nonexistent/x.ttf\"\n[wm.colors]\ncard = \"#102030\"\n")
	var rend *renderer
	s.do(func() error { rend = d.rend; return nil })
	if rend == nil || rend.files.Regular == "/nonexistent/x.ttf" || rend.theme.Card != (color.NRGBA{0x10, 0x20, 0x30, 0xff}) {
		t.Fatalf("renderer %+v", rend)
	}
}
