package profile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/open-sesame/sesame/audit"
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/vmihailenco/msgpack/v5"
)

// manager is the hub's side of trust profiles and configuration:
//
//   - the effective configuration, loaded at start and again whenever the watcher sees a file
//     change; a load that fails is rejected (its errors kept for hub.status and logged) and
//     the configuration applied before stays;
//   - the persisted choices of `sesame profile default|activate|deactivate`
//     ($XDG_STATE_HOME/sesame/profile/state.json);
//   - context activation: the sources are read every [context].poll, the rules evaluated,
//     the winner debounced; a switch is logged and audited;
//   - the default profile those make, which every role gets: each change of configuration or
//     default is pushed to the running roles (ROLE.config), and roles that connect later ask
//     for it (hub.config).
type manager struct {
	e         *env.Env
	paths     config.Paths
	statePath string
	senser    *config.Senser

	// What the hub does; set by Run, replaced by tests.
	roles  func() []string                                                 // running roles
	push   func(ctx context.Context, role string, p *api.ConfigPush) error // send ROLE.config
	lock   func(ctx context.Context, profile string) error                 // lock a vault
	record func(ctx context.Context, e *audit.Entry) error                 // audit

	wake chan struct{} // re-evaluate the context now

	mu struct {
		sync.Mutex
		ld       *config.Loaded // applied
		seq      uint64
		applied  time.Time
		rejected time.Time
		errs     []string
		state    profileState
		sw       config.Switcher
		match    config.Match
		pushed   string          // the default of the last push
		pushSeq  uint64          // of the last ConfigPush made
		takers   map[string]bool // roles that asked for the configuration: they get pushes
	}
}

// profileState is what `sesame profile default|deactivate` persist.
type profileState struct {
	Default  string   `json:"default,omitempty"`
	Inactive []string `json:"inactive,omitempty"`
}

// newManager makes the manager; ssid is the source of the Wi-Fi networks (see ssid.go).
func newManager(e *env.Env, ssid config.Source) (*manager, error) {
	cfgHome, err := e.ConfigDir()
	if err != nil {
		return nil, err
	}
	state, err := e.StateDir()
	if err != nil {
		return nil, err
	}
	m := &manager{
		e:         e,
		paths:     config.PathsFor(e.Getenv(config.SystemDirEnv), cfgHome),
		statePath: filepath.Join(state, "sesame", "profile", "state.json"),
		senser: &config.Senser{
			Sources: []config.Source{
				ssid,
				config.USBSource{Root: e.Getenv(config.SysfsRootEnv)},
				config.HostSource{},
				config.ClockSource{Now: e.Now},
			},
			Logf: e.Logf,
		},
		wake: make(chan struct{}, 1),
	}
	m.loadState()
	m.initial()
	return m, nil
}

func (m *manager) loadState() {
	b, err := os.ReadFile(m.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st profileState
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		m.e.Logf("profiles: %s: %v (starting from no saved choices)", m.statePath, err)
		return
	}
	m.mu.state = st
}

func (m *manager) saveStateLocked() error {
	b, err := json.MarshalIndent(m.mu.state, "", "  ")
	if err != nil {
		return err
	}
	if err := config.WriteFileAtomic(m.statePath, append(b, '\n')); err != nil {
		return fmt.Errorf("profiles: save %s: %w", m.statePath, err)
	}
	return nil
}

// initial loads the configuration at start. When the files do not load, the hub runs with
// what still can be trusted: the defaults and the system file (with its policy) if that one
// loads alone, else the built-in defaults; the errors show in status until the files are
// fixed, which the watcher sees.
func (m *manager) initial() {
	ld, err := config.Load(m.paths)
	if err != nil {
		m.rejected(err)
		ld = m.fallback()
	} else {
		m.logWarnings(ld)
	}
	m.mu.ld, m.mu.seq, m.mu.applied = ld, 1, m.e.Now()
	m.e.Logf("config: loaded %d file(s)", len(ld.Files))
}

func (m *manager) fallback() *config.Loaded {
	files, _ := m.paths.Read()
	for _, f := range files {
		if f.System {
			if ld, err := config.LoadFiles([]config.File{f}); err == nil {
				return ld
			}
		}
	}
	ld, err := config.LoadFiles(nil)
	if err != nil {
		panic(err) // the built-in defaults always load
	}
	return ld
}

func (m *manager) rejected(err error) {
	var msgs []string
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			s := e.Error()
			if e.Hint != "" {
				s += " (" + e.Hint + ")"
			}
			msgs = append(msgs, s)
		}
	} else {
		msgs = []string{err.Error()}
	}
	for _, s := range msgs {
		m.e.Logf("config: %s", s)
	}
	m.mu.Lock()
	m.mu.errs, m.mu.rejected = msgs, m.e.Now()
	m.mu.Unlock()
}

func (m *manager) logWarnings(ld *config.Loaded) {
	for _, w := range ld.Warnings {
		m.e.Logf("config: warning: %v", w)
	}
}

// reload loads the files again: a configuration that loads and differs is applied, audited
// and pushed; one that does not load is rejected and the applied one stays.
func (m *manager) reload(ctx context.Context) {
	ld, err := config.Load(m.paths)
	if err != nil {
		m.rejected(err)
		m.audit(ctx, &audit.Entry{Event: "config.reload", OK: false, Error: err.Error()})
		return
	}
	m.mu.Lock()
	m.mu.errs, m.mu.rejected = nil, time.Time{}
	if ld.Digest == m.mu.ld.Digest {
		m.mu.Unlock()
		return
	}
	m.mu.ld = ld
	m.mu.seq++
	m.mu.applied = m.e.Now()
	seq := m.mu.seq
	m.mu.Unlock()
	m.logWarnings(ld)
	m.e.Logf("config: applied configuration %d from %d file(s)", seq, len(ld.Files))
	m.audit(ctx, &audit.Entry{Event: "config.reload", OK: true, Detail: map[string]string{"seq": fmt.Sprint(seq), "files": fmt.Sprint(len(ld.Files))}})
	m.kick()
	m.pushAll(ctx)
}

func (m *manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// run watches the files and evaluates the context until ctx ends.
func (m *manager) run(ctx context.Context) {
	go func() {
		err := config.Watch(ctx, m.paths, 100*time.Millisecond, func() { m.reload(ctx) })
		if err != nil {
			m.e.Logf("config: %v; changes to the files need a restart of sesame", err)
		}
	}()
	m.contextLoop(ctx)
}

// contextLoop reads the signals the rules need, every [context].poll, and feeds the winner
// to the switcher.
func (m *manager) contextLoop(ctx context.Context) {
	for {
		m.mu.Lock()
		cfg := m.mu.ld.Config
		inactive := slices.Clone(m.mu.state.Inactive)
		m.mu.Unlock()
		var match config.Match
		need := config.Needs(cfg.Profiles)
		if cfg.Context.Enabled && need != 0 {
			sig := m.senser.Sense(ctx, need)
			match = config.Evaluate(cfg.Profiles, sig, func(p string) bool { return slices.Contains(inactive, p) })
		}
		m.observe(ctx, match, time.Duration(cfg.Context.Debounce))
		t := time.NewTimer(time.Duration(cfg.Context.Poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-m.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// observe feeds one evaluation to the switcher; a switch is logged, audited and pushed.
func (m *manager) observe(ctx context.Context, match config.Match, debounce time.Duration) {
	m.mu.Lock()
	m.mu.sw.Debounce = debounce
	prev := m.mu.match
	cur, changed := m.mu.sw.Observe(m.e.Now(), match)
	m.mu.match = cur
	m.mu.Unlock()
	if !changed {
		return
	}
	m.e.Logf("context: %s (was: %s)", cur, prev)
	m.audit(ctx, &audit.Entry{Event: "profile.context", Profile: cur.Profile, OK: true,
		Detail: map[string]string{"reason": cur.String(), "was": prev.String()}})
	m.pushAll(ctx)
}

// current says which profile commands without -p use, and why. m.mu must be held.
//
// Policy on default_profile wins over everything; then a context rule that matches; then
// `sesame profile default`; then default_profile; then "default". Deactivated profiles are
// passed over (but "default" is the last resort whatever its state).
func (m *manager) currentLocked() *api.CurrentReply {
	ld := m.mu.ld
	cfg := ld.Config
	st := m.mu.state
	r := &api.CurrentReply{
		Manual:     st.Default,
		Configured: string(cfg.DefaultProfile),
		Inactive:   slices.Clone(st.Inactive),
		ContextOn:  cfg.Context.Enabled && config.Needs(cfg.Profiles) != 0,
	}
	if r.Inactive == nil {
		r.Inactive = []string{}
	}
	if m.mu.match.Profile != "" {
		r.Context = m.mu.match.String()
	}
	if p, _, ok := m.mu.sw.Pending(); ok {
		r.Pending = p.String()
	}
	active := func(p string) bool { return p != "" && !slices.Contains(st.Inactive, p) }
	origin, lock := defaultOrigin(ld)
	switch {
	case lock != nil:
		r.Default, r.Source, r.Why = r.Configured, "policy", "default_profile in "+origin.Short()+", locked by policy ("+lock.Pos.Short()+")"
	case active(m.mu.match.Profile):
		r.Default, r.Source, r.Why = m.mu.match.Profile, "context", "context: "+m.mu.match.String()
	case active(st.Default):
		r.Default, r.Source, r.Why = st.Default, "manual", "set by: sesame profile default "+st.Default
	case origin.File != "" && active(r.Configured):
		r.Default, r.Source, r.Why = r.Configured, "config", "default_profile in "+origin.Short()
	default:
		r.Default, r.Source, r.Why = "default", "builtin", "built-in default"
	}
	return r
}

// defaultOrigin returns where default_profile was set and the lock on it, if any.
func defaultOrigin(ld *config.Loaded) (config.Pos, *config.Lock) {
	return ld.Origin("default_profile")
}

func (m *manager) current() *api.CurrentReply {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.currentLocked()
}

// pushBodyLocked is what the roles get. Each body has a new Seq, made under the lock with
// the content, so a role that keeps the highest Seq it saw keeps the newest content,
// whichever of a push and its own hub.config arrives first. m.mu must be held.
func (m *manager) pushBodyLocked() *api.ConfigPush {
	cfg := m.mu.ld.Config
	m.mu.pushSeq++
	p := &api.ConfigPush{
		Seq:           m.mu.pushSeq,
		Default:       m.currentLocked().Default,
		IdleLock:      map[string]time.Duration{},
		IdleLockOther: time.Duration(cfg.Other.IdleLock),
		Config:        cfg.JSON(),
	}
	for name, pr := range cfg.Profiles {
		p.IdleLock[name] = time.Duration(pr.IdleLock)
	}
	p.Inactive = slices.Clone(m.mu.state.Inactive)
	p.Auth = map[string]api.AuthConfig{}
	for name, pr := range cfg.Profiles {
		p.Auth[name] = authConfig(m.mu.ld, name, &pr)
	}
	p.AuthOther = authConfig(m.mu.ld, "*", &cfg.Other)
	return p
}

// authConfig is profile name's [auth] and the locks on it ("*": a profile without a
// section).
func authConfig(ld *config.Loaded, name string, p *config.Profile) api.AuthConfig {
	a := api.AuthConfig{Policy: string(p.Auth.Policy), Factors: []string{}}
	for _, f := range p.Auth.Factors {
		a.Factors = append(a.Factors, string(f))
	}
	if _, l := ld.Origin("profiles", name, "auth", "policy"); l != nil {
		a.PolicyLock = l.Pos.Short()
	}
	if _, l := ld.Origin("profiles", name, "auth", "factors"); l != nil {
		a.FactorsLock = l.Pos.Short()
	}
	return a
}

// pushAll sends the configuration to every running role that takes it (it asked through
// hub.config when it connected), each in its own goroutine.
func (m *manager) pushAll(ctx context.Context) {
	m.mu.Lock()
	body := m.pushBodyLocked()
	m.mu.pushed = body.Default
	takers := maps.Clone(m.mu.takers)
	m.mu.Unlock()
	for _, role := range m.roles() {
		if !takers[role] {
			continue
		}
		go func() {
			err := m.push(ctx, role, body)
			if err != nil && bus.ErrCode(err) != bus.CodeUnknownKind && ctx.Err() == nil {
				m.e.Logf("config: push to %s: %v", role, err)
			}
		}()
	}
}

// pushIfDefaultChanged pushes when the default profile is not what the roles last got.
func (m *manager) pushIfDefaultChanged(ctx context.Context) {
	m.mu.Lock()
	changed := m.currentLocked().Default != m.mu.pushed
	m.mu.Unlock()
	if changed {
		m.pushAll(ctx)
	}
}

func (m *manager) audit(ctx context.Context, en *audit.Entry) {
	en.Role = "profile"
	if m.record == nil {
		return
	}
	if err := m.record(ctx, en); err != nil {
		m.e.Logf("audit: %s not recorded: %v", en.Event, err)
	}
}

func auditCaller(c *bus.Caller) *audit.Caller {
	if c == nil {
		return nil
	}
	return &audit.Caller{PID: c.PID, UID: c.UID, Exe: c.Exe, Role: c.Role}
}

// status is the configuration part of hub.status.
func (m *manager) status() (*api.CurrentReply, *api.ConfigStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := &api.ConfigStatus{
		Seq:      m.mu.seq,
		Applied:  m.mu.applied,
		Files:    slices.Clone(m.mu.ld.Files),
		Rejected: m.mu.rejected,
		Errors:   slices.Clone(m.mu.errs),
	}
	for _, w := range m.mu.ld.Warnings {
		cs.Warnings = append(cs.Warnings, w.Error())
	}
	return m.currentLocked(), cs
}

// Handlers of the hub's kinds.

// handleConfig answers hub.config; a role that asks takes the pushes from then on.
func (m *manager) handleConfig(_ context.Context, from *bus.Caller, _ *bus.Envelope) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from != nil && from.Role != "" {
		if m.mu.takers == nil {
			m.mu.takers = map[string]bool{}
		}
		m.mu.takers[from.Role] = true
	}
	return m.pushBodyLocked(), nil
}

func (m *manager) handleCurrent(context.Context, *bus.Caller, *bus.Envelope) (any, error) {
	return m.current(), nil
}

func decodeProfile(req *bus.Envelope) (api.ProfileRequest, error) {
	var r api.ProfileRequest
	if err := msgpack.Unmarshal(req.Body, &r); err != nil {
		return r, bus.Errorf(bus.CodeBadRequest, "%s: malformed request: %v", req.Kind, err)
	}
	if !r.Clear {
		if err := config.ValidProfileName(r.Name); err != nil {
			return r, bus.Errorf(bus.CodeBadRequest, "%v", err)
		}
	}
	return r, nil
}

// handleDefault persists `sesame profile default P` (or its --clear).
func (m *manager) handleDefault(ctx context.Context, from *bus.Caller, req *bus.Envelope) (any, error) {
	r, err := decodeProfile(req)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if _, lock := defaultOrigin(m.mu.ld); lock != nil {
		m.mu.Unlock()
		return nil, bus.Errorf(bus.CodeDenied, "the default profile is locked by policy (%s): it stays %q", lock.Pos.Short(), m.mu.ld.Config.DefaultProfile)
	}
	prev := m.mu.state.Default
	m.mu.state.Default = r.Name
	if err := m.saveStateLocked(); err != nil {
		m.mu.state.Default = prev
		m.mu.Unlock()
		return nil, err
	}
	cur := m.currentLocked()
	m.mu.Unlock()
	m.audit(ctx, &audit.Entry{Event: "profile.default", Profile: r.Name, OK: true, Caller: auditCaller(from),
		Detail: map[string]string{"was": prev, "default": cur.Default, "why": cur.Why}})
	m.pushIfDefaultChanged(ctx)
	return cur, nil
}

// handleActivate takes a profile back into use.
func (m *manager) handleActivate(ctx context.Context, from *bus.Caller, req *bus.Envelope) (any, error) {
	r, err := decodeProfile(req)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	was := slices.Contains(m.mu.state.Inactive, r.Name)
	if was {
		m.mu.state.Inactive = slices.DeleteFunc(m.mu.state.Inactive, func(p string) bool { return p == r.Name })
		if err := m.saveStateLocked(); err != nil {
			m.mu.state.Inactive = append(m.mu.state.Inactive, r.Name)
			m.mu.Unlock()
			return nil, err
		}
	}
	cur := m.currentLocked()
	m.mu.Unlock()
	if was {
		m.audit(ctx, &audit.Entry{Event: "profile.activate", Profile: r.Name, OK: true, Caller: auditCaller(from)})
		// The secrets role knows before the caller hears back, so an unlock right after
		// `sesame profile activate` is not refused.
		if err := m.pushSecrets(ctx); err != nil {
			return nil, fmt.Errorf("profiles: %q is active again, but the secrets role has not taken it: %w", r.Name, err)
		}
		m.kick()
		m.pushAll(ctx)
	}
	return cur, nil
}

// pushSecrets sends the configuration, with the inactive profiles, to the secrets role and
// waits for it to be applied. A secrets role that is not running gets it when it starts
// (hub.config), before it serves any profile.
func (m *manager) pushSecrets(ctx context.Context) error {
	m.mu.Lock()
	body := m.pushBodyLocked()
	m.mu.Unlock()
	err := m.push(ctx, "secrets", body)
	if bus.ErrCode(err) == bus.CodeUnavailable {
		return nil
	}
	return err
}

// handleDeactivate locks the profile's vault and keeps context rules and the default from
// choosing it until it is activated again.
func (m *manager) handleDeactivate(ctx context.Context, from *bus.Caller, req *bus.Envelope) (any, error) {
	r, err := decodeProfile(req)
	if err != nil {
		return nil, err
	}
	if err := m.lock(ctx, r.Name); err != nil && bus.ErrCode(err) != bus.CodeUnavailable {
		m.audit(ctx, &audit.Entry{Event: "profile.deactivate", Profile: r.Name, OK: false, Error: err.Error(), Caller: auditCaller(from)})
		return nil, err
	}
	m.mu.Lock()
	if !slices.Contains(m.mu.state.Inactive, r.Name) {
		m.mu.state.Inactive = append(m.mu.state.Inactive, r.Name)
		slices.Sort(m.mu.state.Inactive)
		if err := m.saveStateLocked(); err != nil {
			m.mu.state.Inactive = slices.DeleteFunc(m.mu.state.Inactive, func(p string) bool { return p == r.Name })
			m.mu.Unlock()
			return nil, err
		}
	}
	cur := m.currentLocked()
	m.mu.Unlock()
	m.audit(ctx, &audit.Entry{Event: "profile.deactivate", Profile: r.Name, OK: true, Caller: auditCaller(from)})
	// The secrets role enforces it: once it has the new list it refuses the profile, and it
	// locks the vault again should an unlock have finished since the lock above. Only then
	// is the deactivation answered.
	if err := m.pushSecrets(ctx); err != nil {
		return nil, fmt.Errorf("profiles: %q is deactivated (saved), but the secrets role has not taken it yet: %w", r.Name, err)
	}
	m.kick()
	m.pushAll(ctx)
	return cur, nil
}

// handlers adds the manager's kinds to the hub's own.
func (m *manager) handlers(local map[string]bus.LocalHandler) map[string]bus.LocalHandler {
	local[api.HubConfig] = m.handleConfig
	local[api.HubCurrent] = m.handleCurrent
	local[api.HubProfileDefault] = m.handleDefault
	local[api.HubProfileActivate] = m.handleActivate
	local[api.HubProfileDeactivate] = m.handleDeactivate
	return local
}

// statusInto adds the profile and configuration state to a hub.status reply.
func (m *manager) statusInto(r *api.HubStatusReply) *api.HubStatusReply {
	r.Profile, r.Config = m.status()
	return r
}

// attach makes the manager act through the hub: pushes to the running roles, vault locks
// through the secrets role.
func (m *manager) attach(hub *bus.Hub) {
	m.roles = func() []string {
		var out []string
		for _, r := range hub.Roles() {
			if r.Running {
				out = append(out, r.Name)
			}
		}
		return out
	}
	m.push = func(ctx context.Context, role string, p *api.ConfigPush) error {
		_, err := hub.Call(ctx, role, role+".config", "", p)
		return err
	}
	m.lock = func(ctx context.Context, profile string) error {
		_, err := hub.Call(ctx, "secrets", api.SecretsLock, profile, nil)
		return err
	}
}
