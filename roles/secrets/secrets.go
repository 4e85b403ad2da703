// Package secrets is the secrets role: it owns every profile's vault and answers the
// secrets.* kinds of package api.
//
// # Keys and locking
//
// A vault's keys exist only in this process, in secure memory, and only while the vault is
// unlocked. A vault is locked, and its keys wiped, when a client asks (sesame lock), when it
// has not been used for the idle timeout (SESAME_IDLE_LOCK, a Go duration, default 15m; 0
// turns it off), when the hub goes away, and when the role exits.
//
// The clipboard role is told of each lock (but those at hub loss and exit) and of each
// rotation of a master key, without waiting for it (notify.go): it holds a key derived from
// the master key for its history.
//
// # Secrets in transit
//
// Passwords and values arrive sealed to this role's seal key and leave sealed to a key the
// requester made for that one request (see bus.Seal), so the hub routes only ciphertext. A
// value is decrypted from the vault straight into secure memory and sealed from there.
//
// # Life cycle of a vault in this process
//
//	absent ──create──→ unlocked ──lock / idle / hub lost──→ locked
//	                      ↑                                   │
//	                      └──────────────unlock───────────────┘
//	(a vault file opened for the first time starts locked)
package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/secmem"
	"github.com/open-sesame/sesame/vault"
	"github.com/vmihailenco/msgpack/v5"
)

// DefaultIdleLock is how long an unused vault stays unlocked.
const DefaultIdleLock = 15 * time.Minute

// maxValue bounds one secret value.
const maxValue = 4 << 20

// Run runs the secrets role.
func Run(ctx context.Context, e *env.Env, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("secrets: unexpected arguments %q", args)
	}
	rs, err := bus.StartRole(e.Getenv)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	defer rs.Close()
	id, rdir, seal := rs.Identity, rs.RuntimeDir, rs.Seal
	data, err := e.DataDir()
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	idle := DefaultIdleLock
	v := e.Getenv("SESAME_IDLE_LOCK")
	if v != "" {
		if idle, err = time.ParseDuration(v); err != nil || idle < 0 {
			return fmt.Errorf("secrets: SESAME_IDLE_LOCK=%q is not a duration", v)
		}
	}
	// From here on the role reaches only its vaults and the bus (package sandbox).
	if _, err := sandbox.Apply(sandbox.Secrets, sandbox.NewDirs(rdir, e.DataDir, e.ConfigDir, e.StateDir), e.Getenv, e.Logf); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	s := newServer(e, data, seal, idle)
	s.mu.idle.fixed = v != "" // SESAME_IDLE_LOCK overrides the configuration
	defer s.closeAll()
	go s.idleLoop(ctx)
	err = bus.ServeRole(ctx, e.Getenv, bus.RoleConfig{
		Identity:   id,
		Seal:       seal,
		RuntimeDir: rdir,
		Handler:    s.handle,
		Logf:       e.Logf,
		Connected: func(cl *bus.Client) {
			s.audit.cl.Store(cl)
			go s.audit.run(ctx, cl)
			go s.events.run(ctx, cl)
			go s.pullConfig(ctx, cl)
		},
	})
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	return nil
}

type server struct {
	e    *env.Env
	data string // XDG data dir; vaults live in data/sesame/vaults
	seal *bus.Keypair

	audit    *reporter
	events   *notifier     // locks and rotations, told to the clipboard role
	kdf      chan struct{} // a slot per Argon2id derivation allowed at once
	idleWake chan struct{} // the idle timeouts changed
	// configured is closed when the first configuration from the hub is applied. Until
	// then no request reaches a vault: which profiles are deactivated is not known yet.
	configured chan struct{}

	mu struct {
		sync.Mutex
		open      map[string]*entry      // vaults opened so far, by profile
		unlocking map[string]*sync.Mutex // one unlock attempt at a time per profile
		idle      idleConfig
		seq       uint64          // of the configuration applied
		inactive  map[string]bool // deactivated profiles
		cfg       *api.ConfigPush // the configuration applied (auth settings and locks)
	}
}

type entry struct {
	v *vault.Vault
	// used is the time of the last request, for the idle lock; guarded by server.mu.
	used time.Time
}

func newServer(e *env.Env, data string, seal *bus.Keypair, idle time.Duration) *server {
	s := &server{e: e, data: data, seal: seal, audit: newReporter(e.Logf), events: newNotifier(e.Logf), kdf: make(chan struct{}, 2), idleWake: make(chan struct{}, 1), configured: make(chan struct{})}
	s.mu.idle.other = idle
	s.mu.open = make(map[string]*entry)
	s.mu.unlocking = make(map[string]*sync.Mutex)
	return s
}

func (s *server) path(profile string) string { return vault.Path(s.data, profile) }

// vault returns the profile's vault, opening it (locked) on first use; a deactivated
// profile's is CodeInactive.
func (s *server) vault(profile string) (*vault.Vault, error) {
	if err := vault.ValidateProfile(profile); err != nil {
		return nil, bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.activeLocked(profile); err != nil {
		return nil, err
	}
	if en := s.mu.open[profile]; en != nil {
		en.used = s.e.Now()
		return en.v, nil
	}
	v, err := vault.Open(s.path(profile), profile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, bus.Errorf(bus.CodeNoProfile, "no profile %q", profile)
	}
	if err != nil {
		return nil, err
	}
	s.mu.open[profile] = &entry{v: v, used: s.e.Now()}
	return v, nil
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, en := range s.mu.open {
		if err := en.v.Close(); err != nil {
			s.e.Logf("secrets: close %q: %v", p, err)
		}
		delete(s.mu.open, p)
	}
}

// idleLoop locks vaults that have not been used for their profile's idle timeout, checking
// a quarter of the shortest timeout apart (at most 15 s, at least 10 ms).
func (s *server) idleLoop(ctx context.Context) {
	for {
		s.mu.Lock()
		tick := s.mu.idle.tick()
		s.mu.Unlock()
		t := time.NewTimer(tick)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.idleWake: // new timeouts: check now, and tick at their pace
			t.Stop()
		case <-t.C:
		}
		now := s.e.Now()
		s.mu.Lock()
		for p, en := range s.mu.open {
			idle := s.mu.idle.of(p)
			if idle > 0 && !en.v.Locked() && now.Sub(en.used) >= idle {
				en.v.Lock()
				s.events.tell(p, api.VaultLocked)
				s.e.Logf("locked %q after %v unused", p, idle)
				s.audit.report(&api.AuditEvent{Event: "lock", Profile: p, OK: true, Detail: map[string]string{"reason": "idle", "after": idle.String()}})
			}
		}
		s.mu.Unlock()
	}
}

// idleConfig is the idle lock timeout of each profile: SESAME_IDLE_LOCK (or the default)
// until the hub's configuration arrives, then the configuration's idle_lock, unless
// SESAME_IDLE_LOCK is set, which wins. Guarded by server.mu.
type idleConfig struct {
	fixed bool // SESAME_IDLE_LOCK is set
	other time.Duration
	per   map[string]time.Duration
}

func (c *idleConfig) of(profile string) time.Duration {
	if d, ok := c.per[profile]; ok && !c.fixed {
		return d
	}
	return c.other
}

func (c *idleConfig) tick() time.Duration {
	shortest := c.other
	if !c.fixed {
		for _, d := range c.per {
			if d > 0 && (shortest == 0 || d < shortest) {
				shortest = d
			}
		}
	}
	if shortest == 0 {
		return 15 * time.Second
	}
	return max(min(shortest/4, 15*time.Second), 10*time.Millisecond)
}

// pullConfig asks the hub for the configuration once connected, until it has it; later
// changes are pushed (secrets.config).
func (s *server) pullConfig(ctx context.Context, cl *bus.Client) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var p api.ConfigPush
		err := cl.Call(ctx, api.HubConfig, "", nil, &p)
		if err == nil {
			s.applyConfig(&p)
			return
		}
		s.e.Logf("config: %v (asking again in %v; until then no profile is served)", err, wait)
		select {
		case <-ctx.Done():
			return
		case <-cl.Done():
			return // the next connection asks again
		case <-time.After(wait):
		}
	}
}

// configTimeout bounds how long a request waits for the first configuration.
const configTimeout = 10 * time.Second

// awaitConfig waits until the first configuration is applied.
func (s *server) awaitConfig(ctx context.Context) error {
	select {
	case <-s.configured:
		return nil
	default:
	}
	t := time.NewTimer(configTimeout)
	defer t.Stop()
	select {
	case <-s.configured:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return bus.Errorf(bus.CodeUnavailable, "secrets: no configuration from the hub yet")
	}
}

// activeLocked returns CodeInactive for a deactivated profile. s.mu must be held.
func (s *server) activeLocked(profile string) error {
	if s.mu.inactive[profile] {
		return bus.Errorf(api.CodeInactive, "profile %q is deactivated", profile)
	}
	return nil
}

func (s *server) active(profile string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.activeLocked(profile)
}

// authFor returns profile's unlock settings from the configuration.
func (s *server) authFor(profile string) api.AuthConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.cfg == nil {
		return api.AuthConfig{}
	}
	return s.mu.cfg.AuthFor(profile)
}

// configure serves secrets.config, which only the hub may send.
func (s *server) configure(req *bus.Envelope) error {
	if req.Caller == nil || req.Caller.Role != bus.HubCaller {
		return bus.Errorf(bus.CodeDenied, "secrets: only the hub sends configuration")
	}
	var p api.ConfigPush
	if err := decode(req, &p); err != nil {
		return err
	}
	s.applyConfig(&p)
	return nil
}

func (s *server) applyConfig(p *api.ConfigPush) {
	newly := s.takeConfig(p)
	// Deactivated profiles: their vaults are locked before the push is answered. The
	// per-profile unlock lock waits out an unlock under way (so the vault it opened is locked
	// here), and one that starts later finds the profile deactivated once it holds that lock.
	for _, prof := range newly {
		mu := s.unlockLock(prof)
		mu.Lock()
		s.mu.Lock()
		if en := s.mu.open[prof]; en != nil && !en.v.Locked() {
			en.v.Lock()
			s.events.tell(prof, api.VaultLocked)
			s.e.Logf("locked %q: deactivated", prof)
		}
		s.mu.Unlock()
		mu.Unlock()
	}
	select {
	case <-s.configured:
	default:
		close(s.configured)
	}
}

// takeConfig applies p unless an equal or newer one was applied, and returns the profiles
// it deactivates.
func (s *server) takeConfig(p *api.ConfigPush) (newly []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Seq <= s.mu.seq {
		return nil // an older configuration than the one applied
	}
	s.mu.seq, s.mu.cfg = p.Seq, p
	inactive := make(map[string]bool, len(p.Inactive))
	for _, prof := range p.Inactive {
		inactive[prof] = true
		if !s.mu.inactive[prof] {
			newly = append(newly, prof)
		}
	}
	s.mu.inactive = inactive
	c := &s.mu.idle
	if c.fixed {
		return newly
	}
	if c.other == p.IdleLockOther && maps.Equal(c.per, p.IdleLock) {
		return newly
	}
	c.other, c.per = p.IdleLockOther, p.IdleLock
	names := slices.Sorted(maps.Keys(c.per))
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, ", %s %v", n, c.per[n])
	}
	s.e.Logf("config: idle lock %v%s", c.other, b.String())
	select {
	case s.idleWake <- struct{}{}:
	default:
	}
	return newly
}

// handle serves one request and reports it to the audit log: which operation, on which
// secrets (names, never values), for which caller, and whether it worked.
func (s *server) handle(ctx context.Context, req *bus.Envelope) (any, error) {
	ev := &api.AuditEvent{Profile: req.Profile, Caller: req.Caller}
	body, err := s.serve(ctx, req, ev)
	if ev.Event == "" {
		return body, err
	}
	ev.OK = err == nil
	if err != nil {
		ev.Error = err.Error()
	}
	switch ev.Event {
	case "secret.get", "secret.list", "secret.set", "secret.delete":
		s.audit.report(ev)
	default:
		// Changes of who can read what are on disk before the caller hears the outcome.
		if aerr := s.audit.recordNow(ctx, ev); aerr != nil && err == nil {
			return nil, fmt.Errorf("secrets: %s done, but the audit log did not record it: %w", ev.Event, aerr)
		}
	}
	return body, err
}

func (s *server) serve(ctx context.Context, req *bus.Envelope, ev *api.AuditEvent) (any, error) {
	if req.Kind != api.SecretsConfig {
		if err := s.awaitConfig(ctx); err != nil {
			return nil, err
		}
	}
	switch req.Kind {
	case api.SecretsConfig:
		return nil, s.configure(req)
	case api.SecretsProfiles:
		return s.profiles()
	case api.SecretsCreate:
		ev.Event = "profile.create"
		return nil, s.create(req)
	case api.SecretsDrop:
		ev.Event = "profile.delete"
		return nil, s.drop(req.Profile)
	case api.SecretsUnlock:
		ev.Event = "unlock"
		return nil, s.unlock(req)
	case api.SecretsLock:
		ev.Event = "lock"
		r, err := s.lock(req.Profile)
		if r != nil {
			ev.Names = r.Locked
		}
		return r, err
	case api.SecretsGet:
		ev.Event = "secret.get"
		return s.get(req, ev)
	case api.SecretsSet:
		ev.Event = "secret.set"
		return nil, s.set(req, ev)
	case api.SecretsDelete:
		ev.Event = "secret.delete"
		var r api.NameRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		ev.Name = r.Name
		v, err := s.unlocked(req.Profile)
		if err != nil {
			return nil, err
		}
		return nil, vaultErr(v.Delete(r.Name), req.Profile, r.Name)
	case api.SecretsDeriveKey:
		return s.deriveKey(req, ev)
	case api.SecretsList:
		ev.Event = "secret.list"
		v, err := s.unlocked(req.Profile)
		if err != nil {
			return nil, err
		}
		names, err := v.List()
		if err != nil {
			return nil, vaultErr(err, req.Profile, "")
		}
		return &api.ListReply{Names: names}, nil
	}
	if body, ok, err := s.serveFactors(req, ev); ok {
		return body, err
	}
	return nil, bus.Errorf(bus.CodeUnknownKind, "secrets: unknown request %q", req.Kind)
}

func decode(req *bus.Envelope, v any) error {
	if err := msgpack.Unmarshal(req.Body, v); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%s: malformed request: %v", req.Kind, err)
	}
	return nil
}

// unlocked returns the profile's vault, or CodeLocked.
func (s *server) unlocked(profile string) (*vault.Vault, error) {
	v, err := s.vault(profile)
	if err != nil {
		return nil, err
	}
	if v.Locked() {
		return nil, bus.Errorf(bus.CodeLocked, "profile %q is locked", profile)
	}
	return v, nil
}

// vaultErr maps vault errors to bus codes.
func vaultErr(err error, profile, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, vault.ErrNotFound):
		return bus.Errorf(bus.CodeNotFound, "no secret %q in profile %q", name, profile)
	case errors.Is(err, vault.ErrLocked):
		return bus.Errorf(bus.CodeLocked, "profile %q is locked", profile)
	case errors.Is(err, vault.ErrBadFactor):
		return bus.Errorf(bus.CodeBadFactor, "incorrect password for profile %q", profile)
	case errors.Is(err, vault.ErrMissingFactors):
		return factorErr(err, profile, nil)
	case errors.Is(err, vault.ErrExists):
		return bus.Errorf(bus.CodeExists, "profile %q already has a vault; sesame never overwrites one", profile)
	case errors.Is(err, vault.ErrInvalid):
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	return err
}

func (s *server) profiles() (*api.ProfilesReply, error) {
	dir := filepath.Dir(s.path("x"))
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	out := &api.ProfilesReply{Profiles: []api.ProfileState{}}
	for _, de := range ents {
		p, ok := strings.CutSuffix(de.Name(), ".db")
		if !ok || vault.ValidateProfile(p) != nil {
			continue
		}
		ps := api.ProfileState{Name: p, Secrets: -1}
		s.mu.Lock()
		en := s.mu.open[p]
		s.mu.Unlock()
		if en != nil && !en.v.Locked() {
			ps.Unlocked = true
			if n, err := en.v.Len(); err == nil {
				ps.Secrets = n
			}
			if id, err := en.v.KeyID(); err == nil {
				ps.KeyID = id
			}
		}
		out.Profiles = append(out.Profiles, ps)
	}
	slices.SortFunc(out.Profiles, func(a, b api.ProfileState) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// openSealed opens a sealed body into secure memory.
func (s *server) openSealed(sealed, ad []byte) (*secmem.Buf, error) {
	b, err := bus.Open(s.seal, ad, sealed)
	if err != nil {
		return nil, bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	return b, nil
}

func (s *server) create(req *bus.Envelope) error {
	var r api.CreateRequest
	if err := decode(req, &r); err != nil {
		return err
	}
	if err := vault.ValidateProfile(req.Profile); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	pw, err := s.openSealed(r.Sealed, api.AD(api.SecretsCreate, req.Profile))
	if err != nil {
		return err
	}
	defer pw.Destroy()
	if pw.Len() == 0 {
		return bus.Errorf(bus.CodeBadRequest, "an empty password is not allowed")
	}
	kdf := vault.DefaultKDF
	if r.KDFTime != 0 {
		kdf.Time = r.KDFTime
	}
	if r.KDFMemoryKiB != 0 {
		kdf.MemoryKiB = r.KDFMemoryKiB
	}
	if err := s.conforms(req.Profile, vault.PolicyAny.Format(1), []string{vault.FactorPassword}); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.activeLocked(req.Profile); err != nil {
		return err
	}
	if s.mu.open[req.Profile] != nil {
		return vaultErr(vault.ErrExists, req.Profile, "")
	}
	v, err := vault.Create(s.path(req.Profile), req.Profile, pw.Bytes(), kdf)
	if err != nil {
		return vaultErr(err, req.Profile, "")
	}
	s.mu.open[req.Profile] = &entry{v: v, used: s.e.Now()}
	s.e.Logf("created the vault of profile %q", req.Profile)
	return nil
}

func (s *server) drop(profile string) error {
	if err := vault.ValidateProfile(profile); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if en := s.mu.open[profile]; en != nil {
		if !en.v.Locked() {
			defer s.events.tell(profile, api.VaultLocked)
		}
		en.v.Close()
		delete(s.mu.open, profile)
	}
	p := s.path(profile)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return bus.Errorf(bus.CodeNoProfile, "no profile %q", profile)
	}
	for _, f := range []string{p, p + "-wal", p + "-shm", s.throttle(profile).path} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("secrets: delete profile %q: %w", profile, err)
		}
	}
	s.e.Logf("deleted the vault of profile %q", profile)
	return nil
}

func (s *server) unlock(req *bus.Envelope) error {
	var r api.UnlockRequest
	if err := decode(req, &r); err != nil {
		return err
	}
	v, err := s.vault(req.Profile)
	if err != nil {
		return err
	}
	// One attempt at a time per profile, so guesses cannot run in parallel; the backoff is
	// checked before the password is even opened.
	mu := s.unlockLock(req.Profile)
	mu.Lock()
	defer mu.Unlock()
	if err := s.active(req.Profile); err != nil {
		return err // deactivated while this attempt waited
	}
	th := s.throttle(req.Profile)
	if wait := th.wait(s.e.Now()); wait > 0 {
		return bus.Errorf(bus.CodeThrottled, "too many failed unlocks of %q: try again in %v", req.Profile, wait.Round(time.Second))
	}
	pw, err := s.openSealed(r.Sealed, api.AD(api.SecretsUnlock, req.Profile))
	if err != nil {
		return err
	}
	defer pw.Destroy()
	// Argon2id runs here, in this request's goroutine, so other requests are not held up;
	// s.kdf bounds how many run at once (each takes its memory cost in RAM).
	s.kdf <- struct{}{}
	err = v.Unlock(pw.Bytes())
	<-s.kdf
	if err != nil {
		if errors.Is(err, vault.ErrBadFactor) {
			if terr := th.fail(s.e.Now()); terr != nil {
				s.e.Logf("%v", terr)
			}
		}
		s.e.Logf("failed unlock of %q by %v", req.Profile, req.Caller)
		return vaultErr(err, req.Profile, "")
	}
	if terr := th.reset(); terr != nil {
		s.e.Logf("%v", terr)
	}
	s.e.Logf("unlocked %q for %v", req.Profile, req.Caller)
	return nil
}

// unlockLock returns the mutex that serialises unlocks of one profile.
func (s *server) unlockLock(profile string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mu.unlocking[profile]
	if m == nil {
		m = new(sync.Mutex)
		s.mu.unlocking[profile] = m
	}
	return m
}

func (s *server) lock(profile string) (*api.LockReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &api.LockReply{Locked: []string{}}
	if profile != "" {
		if err := vault.ValidateProfile(profile); err != nil {
			return nil, bus.Errorf(bus.CodeBadRequest, "%v", err)
		}
		if _, err := os.Stat(s.path(profile)); errors.Is(err, os.ErrNotExist) {
			return nil, bus.Errorf(bus.CodeNoProfile, "no profile %q", profile)
		}
	}
	for p, en := range s.mu.open {
		if (profile == "" || p == profile) && !en.v.Locked() {
			en.v.Lock()
			s.events.tell(p, api.VaultLocked)
			out.Locked = append(out.Locked, p)
		}
	}
	slices.Sort(out.Locked)
	return out, nil
}

func (s *server) get(req *bus.Envelope, ev *api.AuditEvent) (*api.GetReply, error) {
	var r api.GetRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	ev.Names = r.Names
	if r.ReplyKey.IsZero() {
		return nil, bus.Errorf(bus.CodeBadRequest, "secrets.get: no reply key")
	}
	v, err := s.unlocked(req.Profile)
	if err != nil {
		return nil, err
	}
	names := r.Names
	if r.All {
		if names, err = v.List(); err != nil {
			return nil, vaultErr(err, req.Profile, "")
		}
		ev.Names = names
	}
	for _, n := range names {
		if err := vault.ValidateName(n); err != nil {
			return nil, bus.Errorf(bus.CodeBadRequest, "%v", err)
		}
	}
	vals, err := v.GetMany(names)
	if err != nil {
		if len(names) == 1 {
			return nil, vaultErr(err, req.Profile, names[0])
		}
		if errors.Is(err, vault.ErrNotFound) {
			return nil, bus.Errorf(bus.CodeNotFound, "%v", err)
		}
		return nil, vaultErr(err, req.Profile, "")
	}
	defer func() {
		for _, b := range vals {
			b.Destroy()
		}
	}()
	// Assemble the entries in secure memory, seal from there.
	size := 0
	for i, n := range names {
		size += api.EntrySize(n, vals[i].Len())
	}
	plain, err := secmem.New(size)
	if err != nil {
		return nil, err
	}
	defer plain.Destroy()
	buf := plain.Bytes()[:0]
	for i, n := range names {
		buf = api.AppendEntry(buf, n, vals[i].Bytes())
	}
	adNames := r.Names
	if r.All {
		adNames = nil
	}
	sealed, err := bus.Seal(r.ReplyKey, api.AD(api.SecretsGet, req.Profile, adNames...), buf)
	if err != nil {
		return nil, err
	}
	return &api.GetReply{Sealed: sealed}, nil
}

func (s *server) set(req *bus.Envelope, ev *api.AuditEvent) error {
	var r api.SetRequest
	if err := decode(req, &r); err != nil {
		return err
	}
	ev.Name = r.Name
	if err := vault.ValidateName(r.Name); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	v, err := s.unlocked(req.Profile)
	if err != nil {
		return err
	}
	if len(r.Sealed) > maxValue+bus.SealOverhead {
		return bus.Errorf(bus.CodeBadRequest, "secret %q is larger than %d bytes", r.Name, maxValue)
	}
	val, err := s.openSealed(r.Sealed, api.AD(api.SecretsSet, req.Profile, r.Name))
	if err != nil {
		return err
	}
	defer val.Destroy()
	return vaultErr(v.Set(r.Name, val.Bytes()), req.Profile, r.Name)
}
