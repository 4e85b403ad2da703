package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	sysFile  = "/etc/sesame/config.toml"
	userFile = "/home/u/.config/sesame/config.toml"
	dropA    = "/home/u/.config/sesame/config.d/10-a.toml"
	dropB    = "/home/u/.config/sesame/config.d/20-b.toml"
)

func sys(s string) File     { return File{Name: sysFile, Data: []byte(s), System: true} }
func user(s string) File    { return File{Name: userFile, Data: []byte(s)} }
func drop(n, s string) File { return File{Name: n, Data: []byte(s)} }
func mustLoad(t *testing.T, files ...File) *Loaded {
	t.Helper()
	ld, err := LoadFiles(files)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return ld
}

// entries maps each effective key to "value @ origin".
func entries(ld *Loaded) map[string]string {
	m := map[string]string{}
	for _, e := range ld.Entries() {
		m[e.Key] = e.Value.TOML() + " @ " + e.Origin.String()
	}
	return m
}

func TestParsePositions(t *testing.T) {
	src := `# comment
default_profile = "work"
[context]
  poll = "5s"
[profiles.work]
idle_lock = "1m"
auth.policy = "all"
launch.dev = { env = { A = "1" }, secrets = ["x"] }
[[profiles.work.context]]
ssid = ["a", "b"]
[[profiles.work.context]]
usb = ["1050:0407"]
`
	root, err := Parse("f", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path     []string
		key, val string
	}{
		{[]string{"default_profile"}, "f:2:1", "f:2:19"},
		{[]string{"context", "poll"}, "f:4:3", "f:4:10"},
		{[]string{"profiles", "work", "idle_lock"}, "f:6:1", "f:6:13"},
		{[]string{"profiles", "work", "auth", "policy"}, "f:7:6", "f:7:15"},
		{[]string{"profiles", "work", "launch", "dev", "env", "A"}, "f:8:24", "f:8:28"},
		{[]string{"profiles", "work", "launch", "dev", "secrets"}, "f:8:35", "f:8:45"},
		{[]string{"profiles", "work", "context"}, "f:9:17", "f:9:17"},
	} {
		v := root.Get(c.path...)
		if v == nil {
			t.Errorf("%v: missing", c.path)
			continue
		}
		if v.KeyPos.String() != c.key || v.Pos.String() != c.val {
			t.Errorf("%v: key at %v, value at %v; want %s, %s", c.path, v.KeyPos, v.Pos, c.key, c.val)
		}
	}
	rules := root.Get("profiles", "work", "context")
	if got := rules.Elems[1].Get("usb").Pos.String(); got != "f:12:7" {
		t.Errorf("second rule's usb at %s, want f:12:7", got)
	}
	if got := rules.Elems[0].Get("ssid").Elems[1].Pos.String(); got != "f:10:14" {
		t.Errorf("ssid[1] at %s, want f:10:14", got)
	}
}

// TestMerge checks the merge rules layer by layer: each case adds layers and states the
// effective value and origin of some keys.
func TestMerge(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []File
		want  map[string]string
	}{
		{"defaults only", nil, map[string]string{
			"default_profile":               `"default" @ built-in default`,
			"context.poll":                  `"2s" @ built-in default`,
			"profile_defaults.idle_lock":    `"15m" @ built-in default`,
			"profile_defaults.auth.factors": `["password"] @ built-in default`,
		}},
		{"system overrides a default", []File{sys(`default_profile = "work"`)}, map[string]string{
			"default_profile": `"work" @ ` + sysFile + ":1:19",
		}},
		{"user overrides system, drop-ins override user in lexical order", []File{
			sys("[context]\npoll = \"10s\"\ndebounce = \"1s\""),
			user("[context]\npoll = \"20s\""),
			drop(dropA, "[context]\npoll = \"30s\""),
			drop(dropB, "[context]\nenabled = false"),
		}, map[string]string{
			"context.poll":     `"30s" @ ` + dropA + ":2:8",
			"context.debounce": `"1s" @ ` + sysFile + ":3:12",
			"context.enabled":  `false @ ` + dropB + ":2:11",
		}},
		{"tables merge key by key, maps too", []File{
			user("[profiles.work]\nidle_lock = \"5m\"\n[profiles.work.launch.dev]\nenv = { A = \"1\", B = \"2\" }"),
			drop(dropA, "[profiles.work]\ndescription = \"office\"\n[profiles.work.launch.dev.env]\nB = \"3\"\nC = \"4\""),
		}, map[string]string{
			"profiles.work.idle_lock":          `"5m" @ ` + userFile + ":2:13",
			"profiles.work.description":        `"office" @ ` + dropA + ":2:15",
			"profiles.work.launch.dev.env.A":   `"1" @ ` + userFile + ":4:13",
			"profiles.work.launch.dev.env.B":   `"3" @ ` + dropA + ":4:5",
			"profiles.work.launch.dev.env.C":   `"4" @ ` + dropA + ":5:5",
			"profiles.work.launch.dev.secrets": `[] @ built-in default`,
		}},
		{"lists replace whole, lists of tables too", []File{
			user("[profiles.work.auth]\nfactors = [\"password\", \"age\"]\n[[profiles.work.context]]\nssid = [\"a\"]\n[[profiles.work.context]]\nssid = [\"b\"]"),
			drop(dropA, "[profiles.work.auth]\nfactors = [\"ssh-agent\"]\n[[profiles.work.context]]\nhost = [\"h\"]"),
		}, map[string]string{
			"profiles.work.auth.factors": `["ssh-agent"] @ ` + dropA + ":2:11",
			"profiles.work.context":      `[{host = ["h"]}] @ ` + dropA + ":3:17",
		}},
		{"a profile inherits profile_defaults from any layer", []File{
			sys("[profiles.work]\nidle_lock = \"1m\""),
			user("[profile_defaults]\nidle_lock = \"1h\"\n[profiles.home]\ndescription = \"h\""),
		}, map[string]string{
			"profile_defaults.idle_lock":          `"1h" @ ` + userFile + ":2:13",
			"profiles.work.idle_lock":             `"1m" @ ` + sysFile + ":2:13",
			"profiles.home.idle_lock":             `"1h" @ ` + userFile + ":2:13",
			"profiles.home.clipboard.max_history": `1000 @ built-in default`,
		}},
		{"an empty list resets", []File{
			sys("[profile_defaults.auth]\nfactors = [\"password\", \"age\"]"),
			user("[profile_defaults.auth]\nfactors = []"),
		}, map[string]string{
			"profile_defaults.auth.factors": `[] @ ` + userFile + ":2:11",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := entries(mustLoad(t, c.files...))
			for k, want := range c.want {
				if got[k] != want {
					t.Errorf("%s = %s, want %s", k, got[k], want)
				}
			}
		})
	}
}

func TestProfileResolution(t *testing.T) {
	ld := mustLoad(t,
		sys("[profile_defaults]\nidle_lock = \"10m\"\n[profiles.work.clipboard]\nhistory = false"),
		user("[profiles.work]\nidle_lock = \"2m\"\n[profiles.home]\n"),
	)
	c := ld.Config
	if got := time.Duration(c.Profile("work").IdleLock); got != 2*time.Minute {
		t.Errorf("work idle %v", got)
	}
	if c.Profile("work").Clipboard.History || !c.Profile("home").Clipboard.History {
		t.Errorf("clipboard.history: work %v home %v", c.Profile("work").Clipboard.History, c.Profile("home").Clipboard.History)
	}
	if got := time.Duration(c.Profile("home").IdleLock); got != 10*time.Minute {
		t.Errorf("home idle %v", got)
	}
	if got := time.Duration(c.Profile("nosection").IdleLock); got != 10*time.Minute {
		t.Errorf("a profile without a section: idle %v", got)
	}
	// The pushed JSON carries it all, and reads back the same.
	var back Config
	if err := json.Unmarshal(c.JSON(), &back); err != nil {
		t.Fatal(err)
	}
	if string(back.JSON()) != string(c.JSON()) {
		t.Errorf("JSON does not round-trip:\n%s\n%s", c.JSON(), back.JSON())
	}
}

func TestPolicy(t *testing.T) {
	system := sys(`
[profile_defaults]
idle_lock = "10m"

[[policy]]
key = "profiles.*.idle_lock"
reason = "ISMS 4.2"

[[policy]]
key = "profiles.*.auth.policy"
value = "all"

[[policy]]
key = "context"
`)
	ld := mustLoad(t, system,
		user(`
[profile_defaults]
idle_lock = "8h"
description = "mine"
[profile_defaults.auth]
policy = "any"
[context]
enabled = false
[profiles.work]
idle_lock = "0"
`),
		drop(dropA, "[profiles.home.auth]\npolicy = \"1-of-2\"\n"),
	)
	c := ld.Config
	for _, name := range []string{"work", "home", "nosection"} {
		p := c.Profile(name)
		if time.Duration(p.IdleLock) != 10*time.Minute {
			t.Errorf("%s: idle_lock %v, want the system's 10m", name, time.Duration(p.IdleLock))
		}
		if p.Auth.Policy != "all" {
			t.Errorf("%s: auth.policy %q, want the imposed \"all\"", name, p.Auth.Policy)
		}
	}
	if c.ProfileDefaults.Description != "mine" {
		t.Errorf("an unlocked key was not applied: %q", c.ProfileDefaults.Description)
	}
	if !c.Context.Enabled {
		t.Error("a locked table was changed")
	}
	var ws []string
	for _, w := range ld.Warnings {
		ws = append(ws, w.Pos.String()+" "+w.Key)
		if !strings.Contains(w.Msg, "locked by policy ("+sysFile+":") {
			t.Errorf("warning %q does not say which policy", w.Msg)
		}
	}
	want := []string{
		userFile + ":3:1 profile_defaults.idle_lock",
		userFile + ":6:1 profile_defaults.auth.policy",
		userFile + ":7:2 context",
		userFile + ":10:1 profiles.work.idle_lock",
		dropA + ":2:1 profiles.home.auth.policy",
	}
	if strings.Join(ws, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(ws, "\n"), strings.Join(want, "\n"))
	}
	e := entries(ld)
	if got := e["profiles.work.auth.policy"]; !strings.HasPrefix(got, `"all" @ `+sysFile+":11:9") {
		t.Errorf("imposed value's origin: %s", got)
	}
	for _, en := range ld.Entries() {
		if en.Key == "profiles.work.idle_lock" && en.Lock == nil {
			t.Error("Entries does not mark profiles.work.idle_lock locked")
		}
	}
	if pos, lock := ld.Origin("profiles", "work", "auth", "policy"); lock == nil || pos.String() != sysFile+":11:9" {
		t.Errorf("Origin = %v, %v", pos, lock)
	}
	if pos, lock := ld.Origin("default_profile"); lock != nil || pos.File != "" {
		t.Errorf("Origin(default_profile) = %v, %v", pos, lock)
	}
}

// TestPolicyNamedProfile: a lock on one profile's key holds even when the user moves the
// setting to [profile_defaults], and leaves the other profiles alone.
func TestPolicyNamedProfile(t *testing.T) {
	ld := mustLoad(t,
		sys("[[policy]]\nkey = \"profiles.work.idle_lock\"\n"),
		user("[profile_defaults]\nidle_lock = \"0\"\n[profiles.work]\n"),
	)
	if got := time.Duration(ld.Config.Profile("work").IdleLock); got != 15*time.Minute {
		t.Errorf("work: %v, want the built-in 15m", got)
	}
	if got := time.Duration(ld.Config.Profile("home").IdleLock); got != 0 {
		t.Errorf("home: %v, want the user's 0", got)
	}
}

// TestErrors lists every kind of error with the position and hint it is reported at.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		file File
		want string // "LINE:COL: message"
		hint string
	}{
		{"syntax", user("a = \n"), "1:5: invalid TOML: unexpected character U+000A at start of value", ""},
		{"duplicate key", user("poll = 1\npoll = 2\n"), "2:1: invalid TOML: key poll is already defined", ""},
		{"table defined twice", user("[context]\n[context]\n"), "2:2: invalid TOML: table context already exists", ""},
		{"unknown top-level key", user("default_profiel = \"x\""), `1:1: default_profiel: unknown key "default_profiel"`, `did you mean "default_profile"?`},
		{"unknown nested key", user("[context]\ndebounse = \"1s\""), `2:1: context.debounse: unknown key "debounse" in [context]`, `did you mean "debounce"?`},
		{"key in the wrong table", user("idle_lock = \"5m\""), `1:1: idle_lock: unknown key "idle_lock"`, `"idle_lock" belongs in [profile_defaults] or [profiles.PROFILE]`},
		{"unknown key in a profile", user("[profiles.work]\nidlelock = \"5m\""), `2:1: profiles.work.idlelock: unknown key "idlelock" in [profiles.work]`, `did you mean "idle_lock"?`},
		{"string wanted", user("[profiles.w]\ndescription = 5"), "2:15: profiles.w.description: want a string, not an integer (5)", `quote it: description = "5"`},
		{"duration as integer", user("[profiles.w]\nidle_lock = 300"), `2:13: profiles.w.idle_lock: want a duration (a string such as "15m"), not an integer (300)`, `write idle_lock = "300s"`},
		{"bad duration", user("[profile_defaults]\nidle_lock = \"5 min\""), `2:13: profile_defaults.idle_lock: "5 min" is not a duration`, ""},
		{"negative duration", user("[context]\ndebounce = \"-1s\""), `2:12: context.debounce: "-1s" is negative`, ""},
		{"duration below minimum", user("[context]\npoll = \"10ms\""), "2:8: context.poll: 10ms is shorter than the minimum, 100ms", ""},
		{"quoted boolean", user("[context]\nenabled = \"true\""), `2:11: context.enabled: want a boolean (true or false), not a string ("true")`, "write enabled = true, without quotes"},
		{"integer out of range", user("[profile_defaults.clipboard]\nmax_history = -1"), "2:15: profile_defaults.clipboard.max_history: -1 is out of range (0 to 100000)", ""},
		{"quoted integer", user("[profile_defaults.clipboard]\nmax_history = \"10\""), `2:15: profile_defaults.clipboard.max_history: want an integer, not a string ("10")`, "write max_history = 10, without quotes"},
		{"scalar for a list", user("[profile_defaults.auth]\nfactors = \"age\""), `2:11: profile_defaults.auth.factors: want a list of a factor type, not a string ("age")`, `write factors = ["age"]`},
		{"table for a list of tables", user("[profiles.w.context]\nssid = [\"x\"]"), "1:13: profiles.w.context: want a list of a table, not a table", "write [[profiles.w.context]], not [profiles.w.context], for each element"},
		{"bad profile name", user("[profiles.\"my work\"]\n"), `1:11: profiles."my work": profile name "my work": ' ' is not an ASCII letter, digit, '_' or '-'`, ""},
		{"bad default profile", user("default_profile = \"-x\""), `1:19: default_profile: profile name "-x" must start with an ASCII letter or digit`, ""},
		{"bad usb id", user("[[profiles.w.context]]\nusb = [\"yubikey\"]"), `2:8: profiles.w.context[0].usb[0]: "yubikey" is not a USB id`, ""},
		{"bad time window", user("[[profiles.w.context]]\ntime = [\"mon-fry 9:00-17:00\"]"), `2:9: profiles.w.context[0].time[0]: "mon-fry 9:00-17:00" is not a time window: "fry" is not a day`, ""},
		{"bad auth policy", user("[profile_defaults.auth]\npolicy = \"3-of-2\""), `2:10: profile_defaults.auth.policy: "3-of-2" is not an unlock policy`, ""},
		{"bad factor", user("[profile_defaults.auth]\nfactors = [\"pasword\"]"), `2:12: profile_defaults.auth.factors[0]: "pasword" is not a factor type`, `did you mean "password"?`},
		{"rule without condition", user("[[profiles.w.context]]\npriority = 3"), "1:3: profiles.w.context[0]: a context rule needs at least one condition", "add ssid, usb, host or time"},
		{"rule priority out of range", user("[[profiles.w.context]]\nhost = [\"h\"]\npriority = 5000"), "3:12: profiles.w.context[0].priority: 5000 is out of range (-1000 to 1000)", ""},
		{"rules in profile_defaults", user("[[profile_defaults.context]]\nhost = [\"h\"]"), "1:20: profile_defaults.context: context rules belong to one profile, not to every profile", "move them to [[profiles.NAME.context]]"},
		{"bad env name", user("[profiles.w.launch.dev.env]\n\"A-B\" = \"1\""), `2:1: profiles.w.launch.dev.env.A-B: "A-B" is not a variable name`, ""},
		{"relative cwd", user("[profiles.w.launch.dev]\ncwd = \"src\""), `2:7: profiles.w.launch.dev.cwd: "src" is neither absolute nor under ~/`, ""},
		{"policy in a user file", user("[[policy]]\nkey = \"context\""), "1:3: policy: [[policy]] is read only from the system configuration", "ask your administrator to set it in /etc/sesame/config.toml"},
		{"policy on an unknown key", sys("[[policy]]\nkey = \"profiles.*.idle_lok\""), `2:7: policy[0].key: "profiles.*.idle_lok" is not a key`, `did you mean "idle_lock"?`},
		{"policy into a list", sys("[[policy]]\nkey = \"profiles.*.context.ssid\""), "2:7: policy[0].key: profiles.*.context is a value, not a table: lock it whole", ""},
		{"policy value of the wrong type", sys("[[policy]]\nkey = \"profiles.*.idle_lock\"\nvalue = 5"), `3:9: profiles.*.idle_lock: want a duration (a string such as "15m"), not an integer (5)`, `write idle_lock = "5s"`},
		{"policy without key", sys("[[policy]]\nvalue = 5"), "1:3: policy[0]: a policy entry needs a key", `write key = "profiles.*.idle_lock"`},
		{"policy with an unknown field", sys("[[policy]]\nkey = \"context\"\nwhy = \"x\""), `3:1: policy[0].why: unknown key "why" in [policy[0]]`, "known keys here: key, value, reason"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadFiles([]File{c.file})
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("err = %v, want Errors", err)
			}
			e := es[0]
			got := e.Error()
			want := c.file.Name + ":" + c.want
			if !strings.HasPrefix(got, want) {
				t.Errorf("error:\n %s\nwant it to start with:\n %s", got, want)
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

// TestErrorsAllFiles: every file's errors are reported, in file order.
func TestErrorsAllFiles(t *testing.T) {
	_, err := LoadFiles([]File{
		sys("x = 1"),
		user("[context]\npoll = 1\ny = 2"),
		drop(dropA, "["),
	})
	var es Errors
	if !errors.As(err, &es) || len(es) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}
	var at []string
	for _, e := range es {
		at = append(at, e.Pos.String())
	}
	want := "/etc/sesame/config.toml:1:1 " + userFile + ":2:8 " + userFile + ":3:1 " + dropA + ":1:1"
	if strings.Join(at, " ") != want {
		t.Errorf("positions %v, want %s", at, want)
	}
}

func TestDistanceAndSuggest(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{"idlelock", "idle_lock"}, {"debounse", "debounce"}, {"profils", "profiles"}, {"xyz", ""}, {"polcy", "policy"},
	} {
		if got := suggest(c.s, []string{"idle_lock", "debounce", "profiles", "policy", "poll"}); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 15 * time.Minute: "15m", time.Hour: "1h", 90 * time.Minute: "1h30m", 1500 * time.Millisecond: "1.5s", 36 * time.Hour: "36h"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("%v → %q, want %q", d, got, want)
		}
	}
}

func TestTimeWindow(t *testing.T) {
	at := func(day time.Weekday, hh, mm int) time.Time {
		// 2026-01-04 is a Sunday.
		return time.Date(2026, 1, 4+int(day), hh, mm, 0, 0, time.Local)
	}
	for _, c := range []struct {
		w    string
		t    time.Time
		want bool
	}{
		{"mon-fri 09:00-18:00", at(time.Monday, 9, 0), true},
		{"mon-fri 09:00-18:00", at(time.Friday, 17, 59), true},
		{"mon-fri 09:00-18:00", at(time.Friday, 18, 0), false},
		{"mon-fri 09:00-18:00", at(time.Saturday, 12, 0), false},
		{"sat,sun", at(time.Sunday, 3, 0), true},
		{"sat,sun", at(time.Monday, 3, 0), false},
		{"22:00-06:00", at(time.Wednesday, 23, 0), true},
		{"22:00-06:00", at(time.Wednesday, 5, 59), true},
		{"22:00-06:00", at(time.Wednesday, 6, 0), false},
		{"fri 22:00-02:00", at(time.Saturday, 1, 0), true},
		{"fri 22:00-02:00", at(time.Friday, 1, 0), false},
		{"fri-mon", at(time.Sunday, 12, 0), true},
		{"fri-mon", at(time.Tuesday, 12, 0), false},
		{"Monday,wed 00:00-24:00", at(time.Wednesday, 23, 59), true},
	} {
		var w TimeWindow
		if err := w.UnmarshalText([]byte(c.w)); err != nil {
			t.Fatalf("%q: %v", c.w, err)
		}
		if got := w.Contains(c.t); got != c.want {
			t.Errorf("%q contains %v: %v, want %v", c.w, c.t.Format("Mon 15:04"), got, c.want)
		}
	}
	for _, bad := range []string{"", "mon-fri 9-17", "25:00-26:00", "mon 10:00-10:00", "xyz", "mon tue wed", "10:60-11:00"} {
		var w TimeWindow
		if err := w.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
