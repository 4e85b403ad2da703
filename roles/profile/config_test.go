package profile

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-sesame/sesame/audit"
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/vmihailenco/msgpack/v5"
)

// testManager is a manager with its effects recorded: pushes, audit entries, vault locks.
type testManager struct {
	*manager
	home  string
	now   time.Time
	usb   []string // what the scripted USB source sees
	mu    sync.Mutex
	push  []*api.ConfigPush
	audit []*audit.Entry
	locks []string
	logs  []string
}

func newTestManager(t *testing.T, userConfig string) *testManager {
	t.Helper()
	home := t.TempDir()
	tm := &testManager{home: home, now: time.Date(2026, 1, 5, 10, 0, 0, 0, time.Local)}
	vars := map[string]string{
		"HOME":              home,
		config.SystemDirEnv: filepath.Join(home, "etc"),
	}
	e := &env.Env{
		Getenv: func(k string) string { return vars[k] },
		Now: func() time.Time {
			tm.mu.Lock()
			defer tm.mu.Unlock()
			return tm.now
		},
		Logf: func(f string, a ...any) {
			tm.mu.Lock()
			tm.logs = append(tm.logs, strings.TrimSpace(fmtLine(f, a...)))
			tm.mu.Unlock()
		},
	}
	if userConfig != "" {
		tm.write(t, ".config/sesame/config.toml", userConfig)
	}
	m, err := newManager(e, &config.NetworkManager{})
	if err != nil {
		t.Fatal(err)
	}
	m.senser = &config.Senser{Sources: []config.Source{
		config.FuncSource{Kind: config.SignalUSB, Fn: func(s *config.Signals) error {
			tm.mu.Lock()
			defer tm.mu.Unlock()
			s.USB = append(s.USB, tm.usb...)
			return nil
		}},
		config.ClockSource{Now: e.Now},
	}}
	m.roles = func() []string { return []string{"secrets", "launcher"} }
	m.handleConfig(context.Background(), &bus.Caller{Role: "secrets"}, nil) // secrets takes pushes, launcher does not
	m.push = func(_ context.Context, role string, p *api.ConfigPush) error {
		if role != "secrets" {
			t.Errorf("pushed to %s, which never asked for the configuration", role)
		}
		// What the role gets went through msgpack.
		b, _ := msgpack.Marshal(p)
		var got api.ConfigPush
		if err := msgpack.Unmarshal(b, &got); err != nil {
			t.Errorf("push does not decode: %v", err)
		}
		tm.mu.Lock()
		tm.push = append(tm.push, &got)
		tm.mu.Unlock()
		return nil
	}
	m.lock = func(_ context.Context, p string) error {
		if p == "nosuch" {
			return bus.Errorf(bus.CodeNoProfile, "no profile %q", p)
		}
		tm.mu.Lock()
		tm.locks = append(tm.locks, p)
		tm.mu.Unlock()
		return nil
	}
	m.record = func(_ context.Context, en *audit.Entry) error {
		tm.mu.Lock()
		tm.audit = append(tm.audit, en)
		tm.mu.Unlock()
		return nil
	}
	tm.manager = m
	return tm
}

func fmtLine(f string, a ...any) string { return fmt.Sprintf(f, a...) }

func (tm *testManager) write(t *testing.T, rel, content string) {
	t.Helper()
	p := filepath.Join(tm.home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	// Write and rename, as editors do.
	if err := os.WriteFile(p+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
}

func (tm *testManager) pushes() []*api.ConfigPush {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return append([]*api.ConfigPush(nil), tm.push...)
}

func (tm *testManager) events(kind string) []*audit.Entry {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	var out []*audit.Entry
	for _, e := range tm.audit {
		if e.Event == kind {
			out = append(out, e)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReloadEditBreakFix edits, breaks and fixes the user's file while the manager runs
// (watching with inotify): the roles get exactly the valid configurations, each once, and
// status shows the errors of the broken one while the last valid one stays applied.
func TestReloadEditBreakFix(t *testing.T) {
	tm := newTestManager(t, "[profile_defaults]\nidle_lock = \"10m\"\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tm.run(ctx)
	time.Sleep(100 * time.Millisecond) // the watcher is up

	idleOf := func(p *api.ConfigPush) time.Duration { return p.IdleLockOther }
	tm.write(t, ".config/sesame/config.toml", "[profile_defaults]\nidle_lock = \"1m\"\n[profiles.work]\nidle_lock = \"30s\"\n")
	waitFor(t, "the edit", func() bool { return len(tm.pushes()) == 1 })
	if p := tm.pushes()[0]; idleOf(p) != time.Minute || p.IdleLock["work"] != 30*time.Second {
		t.Fatalf("pushed %+v", p)
	}

	tm.write(t, ".config/sesame/config.toml", "[profile_defaults]\nidle_lock = 60\n")
	waitFor(t, "the rejection", func() bool { _, cs := tm.status(); return len(cs.Errors) > 0 })
	_, cs := tm.status()
	if !strings.Contains(cs.Errors[0], "config.toml:2:13: profile_defaults.idle_lock: want a duration") || !strings.Contains(cs.Errors[0], `write idle_lock = "60s"`) {
		t.Errorf("status errors: %v", cs.Errors)
	}
	if cs.Seq != 2 || cs.Rejected.IsZero() {
		t.Errorf("status: seq %d rejected %v", cs.Seq, cs.Rejected)
	}
	if ev := tm.events("config.reload"); len(ev) != 2 || ev[1].OK {
		t.Errorf("audit: %+v", ev)
	}
	// A drop-in created now is watched too; while the user file is broken nothing applies.
	tm.write(t, ".config/sesame/config.d/50-x.toml", "[context]\nenabled = false\n")
	time.Sleep(300 * time.Millisecond)
	if n := len(tm.pushes()); n != 1 {
		t.Fatalf("a broken configuration was pushed (%d pushes)", n)
	}

	tm.write(t, ".config/sesame/config.toml", "[profile_defaults]\nidle_lock = \"2m\"\n")
	waitFor(t, "the fix", func() bool { return len(tm.pushes()) == 2 })
	p := tm.pushes()[1]
	if idleOf(p) != 2*time.Minute || len(p.IdleLock) != 0 {
		t.Errorf("pushed %+v", p)
	}
	var cfg config.Config
	if err := json.Unmarshal(p.Config, &cfg); err != nil || cfg.Context.Enabled {
		t.Errorf("the drop-in is applied with the fix: %v %+v", err, cfg.Context)
	}
	if _, cs := tm.status(); cs.Errors != nil || !cs.Rejected.IsZero() || cs.Seq != 3 || len(cs.Files) != 2 {
		t.Errorf("status after the fix: %+v", cs)
	}
	// Every push has a greater Seq than the one before.
	ps := tm.pushes()
	for i := 1; i < len(ps); i++ {
		if ps[i].Seq <= ps[i-1].Seq {
			t.Errorf("push %d has seq %d after %d", i, ps[i].Seq, ps[i-1].Seq)
		}
	}
	// Touching a file without changing it applies nothing new.
	tm.write(t, ".config/sesame/config.toml", "[profile_defaults]\nidle_lock = \"2m\"\n")
	time.Sleep(300 * time.Millisecond)
	if n := len(tm.pushes()); n != 2 {
		t.Errorf("an unchanged file was pushed again (%d)", n)
	}
}

// TestStartBroken: a broken user file at start leaves the hub on the system layer (and its
// policy), with the errors in status.
func TestStartBroken(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "etc"), 0o755)
	os.WriteFile(filepath.Join(home, "etc", "config.toml"), []byte("[profile_defaults]\nidle_lock = \"3m\"\n"), 0o644)
	os.MkdirAll(filepath.Join(home, ".config", "sesame"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "sesame", "config.toml"), []byte("[profile_defaults]\nidle_lok = \"1h\"\n"), 0o600)
	vars := map[string]string{"HOME": home, config.SystemDirEnv: filepath.Join(home, "etc")}
	m, err := newManager(&env.Env{Getenv: func(k string) string { return vars[k] }, Now: time.Now, Logf: t.Logf}, &config.NetworkManager{})
	if err != nil {
		t.Fatal(err)
	}
	_, cs := m.status()
	if len(cs.Errors) != 1 || !strings.Contains(cs.Errors[0], `did you mean "idle_lock"?`) {
		t.Errorf("errors %v", cs.Errors)
	}
	if got := time.Duration(m.mu.ld.Config.Other.IdleLock); got != 3*time.Minute {
		t.Errorf("running on %v, want the system file's 3m", got)
	}
}

// TestContextSwitch: plugging the (scripted) USB key makes work the default after the
// debounce; it is audited with the reason and pushed; unplugging goes back.
func TestContextSwitch(t *testing.T) {
	tm := newTestManager(t, `default_profile = "personal"
[context]
poll = "100ms"
debounce = "200ms"
[[profiles.work.context]]
usb = ["1050:0407"]
priority = 10
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tm.run(ctx)
	cur := func() string { return tm.current().Default }
	waitFor(t, "start", func() bool { return cur() == "personal" })
	if c := tm.current(); c.Source != "config" || !strings.HasPrefix(c.Why, "default_profile in ") || !c.ContextOn {
		t.Errorf("current %+v", c)
	}
	time.Sleep(300 * time.Millisecond) // the first evaluations saw no key
	tm.mu.Lock()
	tm.usb = []string{"1050:0407"}
	tm.mu.Unlock()
	waitFor(t, "pending", func() bool { return tm.current().Pending != "" })
	if cur() != "personal" {
		t.Error("switched before the debounce")
	}
	// The clock the debounce reads is the manager's: move it.
	tm.mu.Lock()
	tm.now = tm.now.Add(time.Second)
	tm.mu.Unlock()
	waitFor(t, "the switch", func() bool { return cur() == "work" })
	c := tm.current()
	if c.Why != "context: work: usb=1050:0407" || c.Source != "context" {
		t.Errorf("current %+v", c)
	}
	ev := tm.events("profile.context")
	if len(ev) != 1 || ev[0].Profile != "work" || ev[0].Detail["reason"] != "work: usb=1050:0407" {
		t.Errorf("audit %+v", ev)
	}
	waitFor(t, "the push", func() bool {
		ps := tm.pushes()
		return len(ps) > 0 && ps[len(ps)-1].Default == "work"
	})
	// Unplugged: back to personal, once the debounce is over.
	tm.mu.Lock()
	tm.usb = nil
	tm.mu.Unlock()
	waitFor(t, "pending", func() bool { return tm.current().Pending != "" })
	tm.mu.Lock()
	tm.now = tm.now.Add(time.Second)
	tm.mu.Unlock()
	waitFor(t, "back", func() bool { return cur() == "personal" })
	if ev := tm.events("profile.context"); len(ev) != 2 || ev[1].Detail["reason"] != "no context rule matches" {
		t.Errorf("audit %+v", ev)
	}
}

func call(t *testing.T, h bus.LocalHandler, name string, clear bool) (*api.CurrentReply, error) {
	t.Helper()
	b, _ := msgpack.Marshal(&api.ProfileRequest{Name: name, Clear: clear})
	r, err := h(context.Background(), &bus.Caller{PID: 1}, &bus.Envelope{Kind: "hub.x", Body: b})
	if err != nil {
		return nil, err
	}
	return r.(*api.CurrentReply), nil
}

// TestDefaultChain: context > `profile default` > default_profile > "default", deactivated
// profiles passed over; persisted across a restart; policy on default_profile wins.
func TestDefaultChain(t *testing.T) {
	tm := newTestManager(t, "default_profile = \"personal\"\n[[profiles.work.context]]\nusb = [\"1050:0407\"]\n")
	want := func(def, source string) {
		t.Helper()
		if c := tm.current(); c.Default != def || c.Source != source {
			t.Errorf("current %s (%s), want %s (%s): %s", c.Default, c.Source, def, source, c.Why)
		}
	}
	want("personal", "config")
	if c, err := call(t, tm.handleDefault, "home", false); err != nil || c.Default != "home" || c.Why != "set by: sesame profile default home" {
		t.Fatalf("%+v %v", c, err)
	}
	if ev := tm.events("profile.default"); len(ev) != 1 || ev[0].Caller == nil || ev[0].Detail["was"] != "" {
		t.Errorf("audit %+v", ev)
	}
	// Deactivating home locks its vault and passes it over.
	if c, err := call(t, tm.handleDeactivate, "home", false); err != nil || c.Default != "personal" || strings.Join(c.Inactive, ",") != "home" {
		t.Fatalf("%+v %v", c, err)
	}
	if strings.Join(tm.locks, ",") != "home" {
		t.Errorf("locked %v", tm.locks)
	}
	if _, err := call(t, tm.handleDeactivate, "nosuch", false); bus.ErrCode(err) != bus.CodeNoProfile {
		t.Errorf("deactivate a profile without a vault: %v", err)
	}
	// A context match wins, unless that profile is inactive.
	tm.observe(context.Background(), config.Match{Profile: "work", Reason: "usb=1050:0407"}, 0)
	want("work", "context")
	call(t, tm.handleDeactivate, "work", false)
	want("personal", "config")
	call(t, tm.handleActivate, "work", false)
	call(t, tm.handleActivate, "home", false)
	want("work", "context")
	tm.observe(context.Background(), config.Match{}, 0)
	want("home", "manual")
	// Persisted: a new manager (a restarted hub) has the same choices.
	m2, err := newManager(tm.e, &config.NetworkManager{})
	if err != nil {
		t.Fatal(err)
	}
	if c := m2.current(); c.Default != "home" || c.Manual != "home" {
		t.Errorf("after a restart: %+v", c)
	}
	fi, err := os.Stat(tm.statePath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file %v %v", fi, err)
	}
	// --clear
	if c, _ := call(t, tm.handleDefault, "", true); c.Default != "personal" || c.Manual != "" {
		t.Errorf("after clear: %+v", c)
	}
	if _, err := call(t, tm.handleDefault, "bad name", false); bus.ErrCode(err) != bus.CodeBadRequest {
		t.Errorf("bad name: %v", err)
	}
}

func TestDefaultLockedByPolicy(t *testing.T) {
	tm := newTestManager(t, "")
	tm.write(t, "etc/config.toml", "default_profile = \"corp\"\n[[policy]]\nkey = \"default_profile\"\nreason = \"fleet\"\n")
	tm.reload(context.Background())
	c := tm.current()
	if c.Default != "corp" || c.Source != "policy" {
		t.Fatalf("%+v", c)
	}
	if _, err := call(t, tm.handleDefault, "home", false); bus.ErrCode(err) != bus.CodeDenied || !strings.Contains(err.Error(), "locked by policy") {
		t.Errorf("set a locked default: %v", err)
	}
	tm.observe(context.Background(), config.Match{Profile: "work", Reason: "x"}, 0)
	if c := tm.current(); c.Default != "corp" {
		t.Errorf("context beat the policy: %+v", c)
	}
}

// TestHubConfigPull: hub.config gives what a push gives, with a newer Seq each time.
func TestHubConfigPull(t *testing.T) {
	tm := newTestManager(t, "[profiles.work]\nidle_lock = \"5s\"\n")
	r1, _ := tm.handleConfig(context.Background(), nil, nil)
	r2, _ := tm.handleConfig(context.Background(), nil, nil)
	p1, p2 := r1.(*api.ConfigPush), r2.(*api.ConfigPush)
	if p1.IdleLock["work"] != 5*time.Second || p1.IdleLockOther != 15*time.Minute || p1.Default != "default" {
		t.Errorf("%+v", p1)
	}
	if p2.Seq <= p1.Seq {
		t.Errorf("seq %d then %d", p1.Seq, p2.Seq)
	}
}

// TestDeactivatePushesFirst: deactivation is answered only after the secrets role has the
// new list of inactive profiles (the push returned), and so is activation.
func TestDeactivatePushesFirst(t *testing.T) {
	tm := newTestManager(t, "")
	before := len(tm.pushes())
	if _, err := call(t, tm.handleDeactivate, "work", false); err != nil {
		t.Fatal(err)
	}
	ps := tm.pushes()
	if len(ps) <= before || !slices.Equal(ps[before].Inactive, []string{"work"}) {
		t.Fatalf("no push with work inactive before the answer: %d pushes", len(ps)-before)
	}
	// A secrets role that does not take it fails the call; the choice stays saved.
	tm.manager.push = func(context.Context, string, *api.ConfigPush) error { return bus.Errorf(bus.CodeTimeout, "slow") }
	_, err := call(t, tm.handleDeactivate, "home", false)
	if err == nil || !strings.Contains(err.Error(), `"home" is deactivated (saved), but the secrets role has not taken it yet`) {
		t.Errorf("push failed: %v", err)
	}
	if c := tm.current(); !slices.Equal(c.Inactive, []string{"home", "work"}) {
		t.Errorf("inactive %v", c.Inactive)
	}
	// Not running: it reads the list when it starts.
	tm.manager.push = func(context.Context, string, *api.ConfigPush) error {
		return bus.Errorf(bus.CodeUnavailable, "not running")
	}
	if _, err := call(t, tm.handleActivate, "home", false); err != nil {
		t.Errorf("activate with secrets down: %v", err)
	}
}

// TestAuthInPush: each profile's auth settings, and where policy locks them, reach the roles.
func TestAuthInPush(t *testing.T) {
	tm := newTestManager(t, "[profiles.ci.auth]\nfactors = [\"ssh-agent\"]\n[profiles.vault.auth]\npolicy = \"any\"\n")
	tm.write(t, "etc/config.toml", "[profiles.vault.auth]\npolicy = \"all\"\nfactors = [\"password\", \"ssh-agent\"]\n"+
		"[[policy]]\nkey = \"profiles.vault.auth.policy\"\n[[policy]]\nkey = \"profile_defaults.auth.factors\"\nvalue = [\"password\"]\n")
	tm.reload(context.Background())
	r, _ := tm.handleConfig(context.Background(), nil, nil)
	p := r.(*api.ConfigPush)
	etc := filepath.Join(tm.home, "etc", "config.toml")
	want := map[string]api.AuthConfig{
		// profile_defaults.auth.factors locks every profile's factors to its value.
		"ci":    {Policy: "any", Factors: []string{"password"}, FactorsLock: etc + ":6"},
		"vault": {Policy: "all", Factors: []string{"password"}, PolicyLock: etc + ":4", FactorsLock: etc + ":6"},
		"other": {Policy: "any", Factors: []string{"password"}, FactorsLock: etc + ":6"},
	}
	got := map[string]api.AuthConfig{"ci": p.AuthFor("ci"), "vault": p.AuthFor("vault"), "other": p.AuthFor("nosection")}
	for k, w := range want {
		g := got[k]
		if g.Policy != w.Policy || !slices.Equal(g.Factors, w.Factors) || g.PolicyLock != w.PolicyLock || g.FactorsLock != w.FactorsLock {
			t.Errorf("%s: %+v, want %+v", k, g, w)
		}
	}
}

// TestLegacyWarningFollowsFile: the warning about a leftover wm.toml shows in status while
// the file exists and goes when it is removed, though config.toml did not change.
func TestLegacyWarningFollowsFile(t *testing.T) {
	tm := newTestManager(t, "[wm]\nmodifier = \"alt\"\n")
	warned := func() bool {
		_, cs := tm.status()
		for _, w := range cs.Warnings {
			if strings.Contains(w, "wm.toml: no longer read") {
				return true
			}
		}
		return false
	}
	if warned() {
		t.Fatal("warning without wm.toml")
	}
	tm.write(t, ".config/sesame/wm.toml", "modifier = \"ctrl\"\n")
	tm.reload(context.Background())
	if !warned() {
		t.Fatal("no warning with wm.toml")
	}
	os.Remove(filepath.Join(tm.home, ".config/sesame/wm.toml"))
	tm.reload(context.Background())
	if warned() {
		t.Error("the warning stayed after wm.toml was removed")
	}
}
