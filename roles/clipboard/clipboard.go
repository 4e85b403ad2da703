// Package clipboard is the clipboard role: a clipboard history for Wayland, per trust
// profile, encrypted, that keeps secrets out.
//
// # What it does
//
// It watches the selection (and, when configured, the primary selection) through data
// control (see watch.go) and records what is copied — text and images — into the history of
// the profile it records for: the default profile. Repeats are one entry, moved to the top.
// Content that is sensitive (see Classify: a password manager's hint, the shape of a known
// credential, a high-entropy token) is not recorded unless the profile's configuration says
// keep_sensitive, and is cleared from the live clipboard after sensitive_ttl if it is still
// there. `sesame clipboard history|get|copy|clear|search` read and use the history.
//
// # Encryption and locking
//
// The history on disk is encrypted (see store.go) under a key the secrets role derives for
// this role from the profile's vault (secrets.derive-key); the role holds it, in secure
// memory, only while the vault is unlocked. The secrets role tells it the moment a vault is
// locked (clipboard.vault-changed, from the secrets role only), and it drops the key then; it
// also checks every couple of seconds, in case such a message was lost. While the vault is
// locked nothing is written: what is copied meanwhile is kept in memory only, and written
// (encrypted) once the vault is unlocked again; the history on disk cannot be read.
//
// Removing a factor rotates the vault's master key, and with it this role's key. The secrets
// role says so (clipboard.vault-changed, "rotated"); the role derives the new key and
// re-encrypts the history under it in one transaction (store.rekey), so it stays readable.
// If that fails, or the old key was not held, the history starts afresh, as for a vault made
// anew.
//
// Settings come from the profile's [clipboard] section of the configuration (history,
// max_history, primary, detect_sensitive, keep_sensitive, sensitive_ttl), as the hub pushes
// it (see settingsSource).
package clipboard

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/wayland"
	"github.com/vmihailenco/msgpack/v5"
)

// purpose is the key purpose this role asks the secrets role for.
const purpose = "clipboard"

// secretsRole is the role whose word on vaults (clipboard.vault-changed) is taken.
const secretsRole = "secrets"

// keyPoll is how often the role checks whether the profiles it holds keys for are still
// unlocked (and whether the one it records for has been unlocked).
const keyPoll = 2 * time.Second

// Run runs the clipboard role.
func Run(ctx context.Context, e *env.Env, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("clipboard: unexpected arguments %q", args)
	}
	rs, err := bus.StartRole(e.Getenv)
	if err != nil {
		return fmt.Errorf("clipboard: %w", err)
	}
	defer rs.Close()
	id, rdir, seal := rs.Identity, rs.RuntimeDir, rs.Seal
	data, err := e.DataDir()
	if err != nil {
		return fmt.Errorf("clipboard: %w", err)
	}
	s := newServer(e, data, &settingsSource{})
	defer s.close()

	sock, err := wayland.SocketPath(e.Getenv)
	if err != nil {
		return fmt.Errorf("clipboard: %w", err)
	}
	conn, err := wayland.Connect(sock, e.Logf)
	if err != nil {
		return fmt.Errorf("clipboard: %w", err)
	}
	// From here on the role reaches only its history, the compositor and the bus (package
	// sandbox).
	sdirs := sandbox.NewDirs(rdir, e.DataDir, e.ConfigDir, e.StateDir)
	sdirs.Wayland = sock
	if _, err := sandbox.Apply(sandbox.Clipboard, sdirs, e.Getenv, e.Logf); err != nil {
		conn.Close()
		return fmt.Errorf("clipboard: %w", err)
	}
	w, err := newWatcher(conn, func() bool { return s.settings.get().clip.Primary }, s.onCapture, e.Logf)
	if errors.Is(err, wayland.ErrUnsupported) {
		// Without data control the role stays up and says why (rather than exiting, to be
		// restarted for ever).
		conn.Close()
		e.Logf("clipboard: %v", err)
		why := fmt.Sprintf("clipboard: this compositor offers no data control: %v", err)
		return bus.ServeRole(ctx, e.Getenv, bus.RoleConfig{
			Identity: id, Seal: seal, RuntimeDir: rdir, Logf: e.Logf,
			Handler: func(context.Context, *bus.Envelope) (any, error) {
				return nil, bus.Errorf(bus.CodeUnavailable, "%s", why)
			},
		})
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("clipboard: %w", err)
	}
	s.conn, s.w = conn, w
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wlErr := make(chan error, 1)
	go func() {
		wlErr <- conn.Run(ctx)
		cancel()
	}()
	err = bus.ServeRole(ctx, e.Getenv, bus.RoleConfig{
		Identity:   id,
		Seal:       seal,
		RuntimeDir: rdir,
		Handler:    s.handle,
		Logf:       e.Logf,
		Connected: func(cl *bus.Client) {
			s.cl.Store(cl)
			go func() {
				var p api.ConfigPush
				if err := cl.Call(ctx, api.HubConfig, "", nil, &p); err != nil {
					e.Logf("clipboard: %v (the built-in settings apply until the hub pushes some)", err)
				} else if err := s.settings.apply(&p); err != nil {
					e.Logf("%v", err)
				}
				s.keyLoop(ctx)
			}()
		},
	})
	select {
	case werr := <-wlErr:
		if werr != nil {
			return fmt.Errorf("clipboard: %w", werr)
		}
	default:
	}
	if err != nil {
		return fmt.Errorf("clipboard: %w", err)
	}
	return nil
}

// settings is what the role acts on for a capture.
type settings struct {
	profile string // recorded for
	clip    config.Clipboard
}

// settingsSource is the configuration as the hub pushes it (hub.config when the role
// connects, clipboard.config on each change): the default profile, context activation
// included, is the one recorded for, and its [clipboard] section the settings. Until the
// first push (the role asks for it as soon as it is connected), the built-in defaults.
type settingsSource struct {
	mu struct {
		sync.Mutex
		pushed *config.Config
		def    string // the pushed default profile
		seq    uint64
	}
}

// apply takes a configuration push; an older one than applied is ignored.
func (ss *settingsSource) apply(p *api.ConfigPush) error {
	var c config.Config
	if err := json.Unmarshal(p.Config, &c); err != nil {
		return fmt.Errorf("clipboard: the configuration pushed does not decode: %w", err)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if p.Seq <= ss.mu.seq && ss.mu.pushed != nil {
		return nil
	}
	ss.mu.pushed, ss.mu.def, ss.mu.seq = &c, p.Default, p.Seq
	return nil
}

// seq is the number of the configuration pushed, 0 before any.
func (ss *settingsSource) seq() uint64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.mu.seq
}

func (ss *settingsSource) get() settings {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	c, p := ss.mu.pushed, ss.mu.def
	if c == nil {
		c = config.Default()
	}
	if p == "" {
		p = string(c.DefaultProfile)
	}
	return settings{profile: p, clip: c.Profile(p).Clipboard}
}

// memEntry is an entry kept in memory while its profile is locked. Its content is on the Go
// heap (a history can be large; secure memory is capped per process), wiped when it is
// written to disk, dropped or cleared; sensitive content is never kept unless the profile
// says keep_sensitive.
type memEntry struct {
	id     int64 // negative: not on disk
	c      content
	copied time.Time
	count  int32
}

type server struct {
	e        *env.Env
	data     string
	settings *settingsSource
	conn     *wayland.Conn
	w        *watcher
	cl       atomic.Pointer[bus.Client]

	captured, sensitive, cleared atomic.Int64

	mu struct {
		sync.Mutex
		keys map[string]*keyring
		// epoch counts, per profile, the locks and rotations told: a key fetched across
		// one may be stale and is not kept.
		epoch map[string]uint64
		// stale: profiles whose key was rotated but not yet replaced (the new one could
		// not be had); the poll tries again.
		stale   map[string]bool
		stores  map[string]*store
		mem     map[string][]*memEntry // newest first
		nextMem int64
	}
}

func newServer(e *env.Env, data string, ss *settingsSource) *server {
	s := &server{e: e, data: data, settings: ss}
	s.mu.keys = map[string]*keyring{}
	s.mu.epoch = map[string]uint64{}
	s.mu.stale = map[string]bool{}
	s.mu.stores = map[string]*store{}
	s.mu.mem = map[string][]*memEntry{}
	return s
}

func (s *server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, k := range s.mu.keys {
		k.destroy()
		delete(s.mu.keys, p)
	}
	for p, st := range s.mu.stores {
		st.close()
		delete(s.mu.stores, p)
	}
	for p := range s.mu.mem {
		wipeMem(s.mu.mem[p])
		delete(s.mu.mem, p)
	}
}

func wipeMem(es []*memEntry) {
	for _, m := range es {
		clear(m.c.Data)
	}
}

// storeLocked returns the profile's history file, opening it. s.mu must be held.
func (s *server) storeLocked(profile string) (*store, error) {
	if st := s.mu.stores[profile]; st != nil {
		return st, nil
	}
	st, err := openStore(storePath(s.data, profile), profile)
	if err != nil {
		return nil, err
	}
	s.mu.stores[profile] = st
	return st, nil
}

// onCapture handles a selection read by the watcher (from its reading goroutine).
func (s *server) onCapture(c capture) {
	st := s.settings.get()
	s.captured.Add(1)
	sens := Public
	if st.clip.DetectSensitive {
		text := c.Data
		if !strings.HasPrefix(c.MimeType, "text/") && !slices.Contains(textTypes, c.MimeType) {
			text = nil // images: only the hint says
		}
		sens = Classify(text, c.Hint)
	} else if strings.EqualFold(strings.TrimSpace(c.Hint), "secret") {
		sens = "password-manager" // a source's own word is always honoured
	}
	if sens != Public {
		s.sensitive.Add(1)
		if ttl := time.Duration(st.clip.SensitiveTTL); ttl > 0 {
			time.AfterFunc(ttl, func() {
				s.conn.Post(func() {
					if s.w.clear(c.Primary, c.Seq) {
						s.cleared.Add(1)
						s.e.Logf("clipboard: cleared sensitive content (%s) from the %s after %v", sens, which(c.Primary), ttl)
					}
				})
			})
		}
	}
	if !st.clip.History || sens != Public && !st.clip.KeepSensitive {
		clear(c.Data)
		return
	}
	src := "clipboard"
	if c.Primary {
		src = "primary"
	}
	s.record(st, &content{MimeType: c.MimeType, Data: c.Data, Sensitivity: sens, Source: src}, time.Now(), 1)
}

func which(primary bool) string {
	if primary {
		return "primary selection"
	}
	return "clipboard"
}

// record adds an entry to the profile's history: on disk when its key is held, else in
// memory.
func (s *server) record(st settings, c *content, at time.Time, count int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := st.profile
	if k := s.mu.keys[p]; k != nil {
		if sto, err := s.storeLocked(p); err == nil {
			if _, err := sto.add(k, c, at, count, st.clip.MaxHistory); err == nil {
				clear(c.Data)
				return
			} else {
				s.e.Logf("clipboard: write the history of %q: %v; kept in memory", p, err)
			}
		} else {
			s.e.Logf("clipboard: %v; kept in memory", err)
		}
	}
	mem := s.mu.mem[p]
	for i, m := range mem {
		if m.c.MimeType == c.MimeType && string(m.c.Data) == string(c.Data) {
			m.copied, m.count = at, m.count+count
			mem = slices.Delete(mem, i, i+1)
			s.mu.mem[p] = slices.Insert(mem, 0, m)
			clear(c.Data)
			return
		}
	}
	s.mu.nextMem--
	mem = slices.Insert(mem, 0, &memEntry{id: s.mu.nextMem, c: *c, copied: at, count: count})
	if max := st.clip.MaxHistory; max > 0 && len(mem) > max {
		wipeMem(mem[max:])
		mem = mem[:max]
	}
	s.mu.mem[p] = mem
}

// keyLoop keeps the keys in step with the vaults: it fetches the key of the profile it
// records for once that profile is unlocked (and writes what was kept in memory), and drops
// every key whose profile is locked.
func (s *server) keyLoop(ctx context.Context) {
	t := time.NewTicker(keyPoll)
	defer t.Stop()
	for {
		s.syncKeys(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *server) syncKeys(ctx context.Context) {
	cl := s.cl.Load()
	if cl == nil {
		return
	}
	var r api.ProfilesReply
	err := cl.Call(ctx, api.SecretsProfiles, "", nil, &r)
	switch {
	case err == nil:
	case bus.ErrCode(err) == bus.CodeUnavailable:
		// No secrets role: it starts again with every vault locked, so the keys go.
	default:
		// A busy hub or a slow answer says nothing about the vaults: keep the keys until
		// the next poll (a lock is also announced by the secrets role itself).
		s.e.Logf("clipboard: vault states: %v (keys kept until the next check)", err)
		return
	}
	unlocked := map[string]bool{}
	keyIDs := map[string]string{}
	for _, p := range r.Profiles {
		unlocked[p.Name], keyIDs[p.Name] = p.Unlocked, p.KeyID
	}
	s.mu.Lock()
	var stale []string
	for p, k := range s.mu.keys {
		switch {
		case !unlocked[p]:
			s.dropKeyLocked(p, "")
		case s.mu.stale[p]:
			stale = append(stale, p)
		case k.id != "" && keyIDs[p] != "" && k.id != keyIDs[p]:
			// Rotated, and the secrets role's word of it was lost: the same as being told.
			s.e.Logf("clipboard: the key of %q was rotated (seen by its key id)", p)
			stale = append(stale, p)
		}
	}
	s.mu.Unlock()
	for _, p := range stale {
		if err := s.rotated(ctx, p); err != nil {
			s.e.Logf("clipboard: %v", err)
		}
	}
	// The key of the profile recorded for, and of every other unlocked profile that has a
	// history: so that it is held, to re-encrypt that history, when the key is rotated.
	st := s.settings.get()
	for p, ok := range unlocked {
		if !ok || p != st.profile && !s.hasHistory(p) {
			continue
		}
		if _, err := s.keyFor(ctx, p); err != nil && bus.ErrCode(err) != bus.CodeLocked {
			s.e.Logf("clipboard: %v", err)
		}
	}
}

// hasHistory says whether profile has a history file.
func (s *server) hasHistory(profile string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.stores[profile] != nil {
		return true
	}
	_, err := os.Stat(storePath(s.data, profile))
	return err == nil
}

// dropKeyLocked forgets profile's key (the vault was locked), wiping it. s.mu must be held.
func (s *server) dropKeyLocked(profile, how string) {
	s.mu.epoch[profile]++
	delete(s.mu.stale, profile)
	k := s.mu.keys[profile]
	if k == nil {
		return
	}
	k.destroy()
	delete(s.mu.keys, profile)
	s.e.Logf("clipboard: profile %q locked%s: its history is closed, new entries stay in memory", profile, how)
}

// vaultLocked serves the secrets role's word that profile's vault was locked.
func (s *server) vaultLocked(profile string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropKeyLocked(profile, " (told by the secrets role)")
}

// rotated serves the secrets role's word that profile's master key was rotated: it derives
// the new key (the vault is unlocked when it is rotated), re-encrypts the history from the
// key held to the new one in one transaction, then holds the new key and wipes the old. A
// lock or another rotation meanwhile wins: the new key is then dropped, not used. When the
// role does not hold the old key there is nothing it can re-encrypt: the history starts
// afresh when the new key is first fetched (keyFor).
func (s *server) rotated(ctx context.Context, profile string) error {
	s.mu.Lock()
	s.mu.epoch[profile]++ // a key fetched before now may be the old one
	epoch, old := s.mu.epoch[profile], s.mu.keys[profile]
	s.mu.Unlock()
	if old == nil {
		return nil
	}
	nk, err := s.deriveKeyring(ctx, profile)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.epoch[profile] != epoch || s.mu.keys[profile] != old {
		if nk != nil {
			nk.destroy()
		}
		return nil // locked or rotated again meanwhile: that is in charge now
	}
	if err != nil {
		// The old key is kept (what is written under it is re-encrypted with the rest),
		// and the poll tries again until the vault is locked.
		s.mu.stale[profile] = true
		return fmt.Errorf("the key of %q was rotated, but the new one could not be had (trying again): %w", profile, err)
	}
	delete(s.mu.stale, profile)
	if hmac.Equal(nk.check, old.check) {
		nk.destroy() // the key held is the vault's already (a message told twice)
		return nil
	}
	sto, err := s.storeLocked(profile)
	if err != nil {
		nk.destroy()
		return err
	}
	start := time.Now()
	moved, dropped, err := sto.rekey(old, nk)
	if err != nil {
		s.e.Logf("clipboard: the key of %q was rotated, and re-encrypting its history under the new one failed: %v; starting it afresh", profile, err)
		if err = sto.reset(); err == nil {
			err = sto.checkKey(nk)
		}
		if err != nil {
			// Neither key is usable with this file: hold none; keyFor tries afresh.
			nk.destroy()
			old.destroy()
			delete(s.mu.keys, profile)
			return fmt.Errorf("start the history of %q afresh: %w", profile, err)
		}
	} else {
		extra := ""
		if dropped > 0 {
			extra = fmt.Sprintf(", %d that did not decrypt deleted", dropped)
		}
		s.e.Logf("clipboard: the key of %q was rotated: %d history entries re-encrypted under the new one in %v%s", profile, moved, time.Since(start).Round(time.Millisecond), extra)
	}
	s.mu.keys[profile] = nk
	old.destroy()
	return nil
}

// keyFor returns the profile's keyring, asking the secrets role for the key if the role
// does not hold it, and writes what was kept in memory for that profile.
func (s *server) keyFor(ctx context.Context, profile string) (*keyring, error) {
	s.mu.Lock()
	k, epoch := s.mu.keys[profile], s.mu.epoch[profile]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	k, err := s.deriveKeyring(ctx, profile)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have := s.mu.keys[profile]; have != nil {
		k.destroy()
		return have, nil
	}
	if s.mu.epoch[profile] != epoch {
		// Locked (or rotated) while the key was on its way: it may be the key of a vault
		// that is locked now, or an old key; not kept.
		k.destroy()
		return nil, bus.Errorf(bus.CodeLocked, "profile %q was locked, or its key rotated, while its key was fetched", profile)
	}
	sto, err := s.storeLocked(profile)
	if err != nil {
		k.destroy()
		return nil, err
	}
	err = sto.checkKey(k)
	if errors.Is(err, errOtherKey) {
		// The vault was made anew, or its key rotated while this role did not hold the old
		// one: what is in the file can never be read again.
		s.e.Logf("clipboard: the history of %q was written under another key (a vault made anew, or a key rotated while this role could not follow); starting it afresh", profile)
		if err = sto.reset(); err == nil {
			err = sto.checkKey(k)
		}
	}
	if err != nil {
		k.destroy()
		return nil, err
	}
	s.mu.keys[profile] = k
	// What was copied while locked goes to disk now, oldest first.
	mem := s.mu.mem[profile]
	max := s.settings.get().clip.MaxHistory
	for i := len(mem) - 1; i >= 0; i-- {
		m := mem[i]
		if _, err := sto.add(k, &m.c, m.copied, m.count, max); err != nil {
			s.e.Logf("clipboard: write the history of %q: %v", profile, err)
			s.mu.mem[profile] = mem[:i+1]
			return k, nil
		}
		clear(m.c.Data)
	}
	delete(s.mu.mem, profile)
	return k, nil
}

// deriveKeyring asks the secrets role for profile's key.
func (s *server) deriveKeyring(ctx context.Context, profile string) (*keyring, error) {
	cl := s.cl.Load()
	if cl == nil {
		return nil, bus.Errorf(bus.CodeUnavailable, "clipboard: not connected")
	}
	reply, err := bus.GenerateKeypair()
	if err != nil {
		return nil, err
	}
	defer reply.Destroy()
	var r api.DeriveKeyReply
	if err := cl.Call(ctx, api.SecretsDeriveKey, profile, &api.DeriveKeyRequest{Purpose: purpose, ReplyKey: reply.Public}, &r); err != nil {
		return nil, err
	}
	key, err := bus.Open(reply, api.AD(api.SecretsDeriveKey, profile, purpose), r.Sealed)
	if err != nil {
		return nil, err
	}
	k, err := newKeyring(key)
	if err != nil {
		key.Destroy()
		return nil, err
	}
	k.id = r.KeyID
	return k, nil
}

// Requests.

func decode(req *bus.Envelope, v any) error {
	if err := msgpack.Unmarshal(req.Body, v); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%s: malformed request: %v", req.Kind, err)
	}
	return nil
}

func (s *server) handle(ctx context.Context, req *bus.Envelope) (any, error) {
	// Replies are sealed with the profile as the request named it ("" for the one the role
	// records for), so the requester can check them without knowing which that is.
	profile, asked := req.Profile, req.Profile
	if profile == "" {
		profile = s.settings.get().profile
	}
	switch req.Kind {
	case api.ClipboardConfig:
		if req.Caller == nil || req.Caller.Role != bus.HubCaller {
			return nil, bus.Errorf(bus.CodeDenied, "clipboard: only the hub sends configuration")
		}
		var p api.ConfigPush
		if err := decode(req, &p); err != nil {
			return nil, err
		}
		return nil, s.settings.apply(&p)
	case api.ClipboardVaultChanged:
		if req.Caller == nil || req.Caller.Role != secretsRole {
			return nil, bus.Errorf(bus.CodeDenied, "clipboard: only the secrets role says what became of a vault")
		}
		var ev api.ClipboardVaultEvent
		if err := decode(req, &ev); err != nil {
			return nil, err
		}
		if ev.Profile == "" {
			return nil, bus.Errorf(bus.CodeBadRequest, "%s: no profile", req.Kind)
		}
		switch ev.Event {
		case api.VaultLocked:
			s.vaultLocked(ev.Profile)
			return nil, nil
		case api.VaultRotated:
			return nil, s.rotated(ctx, ev.Profile)
		}
		return nil, bus.Errorf(bus.CodeBadRequest, "%s: unknown event %q", req.Kind, ev.Event)
	case api.ClipboardHistory, api.ClipboardSearch:
		var r api.ClipboardListRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		if r.ReplyKey.IsZero() {
			return nil, bus.Errorf(bus.CodeBadRequest, "%s: no reply key", req.Kind)
		}
		out, err := s.list(ctx, profile, r)
		if err != nil {
			return nil, err
		}
		b, err := msgpack.Marshal(out)
		if err != nil {
			return nil, err
		}
		sealed, err := bus.Seal(r.ReplyKey, api.AD(req.Kind, asked), b)
		clear(b)
		if err != nil {
			return nil, err
		}
		return &api.ClipboardListReply{Sealed: sealed}, nil
	case api.ClipboardGet:
		var r api.ClipboardGetRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		if r.ReplyKey.IsZero() {
			return nil, bus.Errorf(bus.CodeBadRequest, "%s: no reply key", req.Kind)
		}
		e, c, err := s.entry(ctx, profile, r.ID)
		if err != nil {
			return nil, err
		}
		sealed, err := bus.Seal(r.ReplyKey, api.AD(api.ClipboardGet, asked, strconv.FormatInt(r.ID, 10)), c.Data)
		if err != nil {
			return nil, err
		}
		return &api.ClipboardGetReply{Entry: e, Sealed: sealed}, nil
	case api.ClipboardCopy:
		var r api.ClipboardIDRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		_, c, err := s.entry(ctx, profile, r.ID)
		if err != nil {
			return nil, err
		}
		return nil, s.conn.Do(func() error { return s.w.set(c.MimeType, c.Data, c.Sensitivity != Public) })
	case api.ClipboardClear:
		n, err := s.clear(profile)
		return &api.ClipboardClearReply{Removed: int32(n)}, err
	case api.ClipboardStatus:
		st := s.settings.get()
		s.mu.Lock()
		out := &api.ClipboardStatusReply{
			Profile:   st.profile,
			Unlocked:  s.mu.keys[st.profile] != nil,
			Protocol:  s.w.protocol,
			Primary:   s.w.canPrim && st.clip.Primary,
			Captured:  s.captured.Load(),
			Sensitive: s.sensitive.Load(),
			Cleared:   s.cleared.Load(),
			Memory:    int32(len(s.mu.mem[st.profile])),
			ConfigSeq: s.settings.seq(),
		}
		s.mu.Unlock()
		return out, nil
	}
	return nil, bus.Errorf(bus.CodeUnknownKind, "clipboard: unknown request %q", req.Kind)
}

// readable returns the profile's keyring, or nil when it is locked (then only what is in
// memory is readable).
func (s *server) readable(ctx context.Context, profile string) (*keyring, error) {
	k, err := s.keyFor(ctx, profile)
	switch bus.ErrCode(err) {
	case "":
		return k, err
	case bus.CodeLocked, bus.CodeUnavailable, bus.CodeNoProfile:
		return nil, nil // locked, or no vault at all: only what is in memory
	}
	return nil, err
}

func (s *server) list(ctx context.Context, profile string, r api.ClipboardListRequest) (*api.ClipboardEntries, error) {
	limit := int(r.Limit)
	if limit <= 0 {
		limit = 20
	}
	q := strings.ToLower(r.Query)
	match := func(c *content) bool {
		if q == "" {
			return true
		}
		return isText(c.MimeType) && strings.Contains(strings.ToLower(string(c.Data)), q)
	}
	k, err := s.readable(ctx, profile)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k != nil && s.mu.keys[profile] != k {
		k = nil // locked since (the key is wiped)
	}
	out := &api.ClipboardEntries{Entries: []api.ClipboardEntry{}, Locked: k == nil, Recorded: s.settings.get().profile}
	for _, m := range s.mu.mem[profile] {
		if len(out.Entries) < limit && match(&m.c) {
			out.Entries = append(out.Entries, entryOf(m.id, &m.c, m.copied, m.count))
		}
	}
	if k == nil || len(out.Entries) >= limit {
		return out, nil
	}
	sto, err := s.storeLocked(profile)
	if err != nil {
		return nil, err
	}
	_, err = sto.scan(k, func(rw *row) bool {
		if match(&rw.c) {
			out.Entries = append(out.Entries, entryOf(rw.id, &rw.c, rw.copied, rw.count))
		}
		clear(rw.c.Data)
		return len(out.Entries) < limit
	})
	return out, err
}

// entry finds one entry, in memory or on disk.
func (s *server) entry(ctx context.Context, profile string, id int64) (api.ClipboardEntry, *content, error) {
	notFound := bus.Errorf(bus.CodeNotFound, "no clipboard entry %d in profile %q", id, profile)
	if id < 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range s.mu.mem[profile] {
			if m.id == id {
				c := m.c
				c.Data = slices.Clone(m.c.Data)
				return entryOf(m.id, &m.c, m.copied, m.count), &c, nil
			}
		}
		return api.ClipboardEntry{}, nil, notFound
	}
	k, err := s.readable(ctx, profile)
	if err != nil {
		return api.ClipboardEntry{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k == nil || s.mu.keys[profile] != k {
		return api.ClipboardEntry{}, nil, bus.Errorf(bus.CodeLocked, "profile %q is locked: its clipboard history cannot be read", profile)
	}
	sto, err := s.storeLocked(profile)
	if err != nil {
		return api.ClipboardEntry{}, nil, err
	}
	rw, err := sto.get(k, id)
	if err != nil {
		return api.ClipboardEntry{}, nil, notFound
	}
	return entryOf(rw.id, &rw.c, rw.copied, rw.count), &rw.c, nil
}

// clear empties the profile's history, on disk (no key needed to delete) and in memory.
func (s *server) clear(profile string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.mu.mem[profile])
	wipeMem(s.mu.mem[profile])
	delete(s.mu.mem, profile)
	sto, err := s.storeLocked(profile)
	if err != nil {
		return n, err
	}
	m, err := sto.clear()
	return n + m, err
}

func isText(mime string) bool {
	return strings.HasPrefix(mime, "text/") || slices.Contains(textTypes, mime)
}

// entryOf describes an entry. Sensitive content (kept by configuration) has no preview.
func entryOf(id int64, c *content, copied time.Time, count int32) api.ClipboardEntry {
	e := api.ClipboardEntry{ID: id, MimeType: c.MimeType, Size: int64(len(c.Data)), Sensitivity: c.Sensitivity, Copied: copied, Count: count, Source: c.Source}
	if e.Sensitivity == "" {
		e.Sensitivity = Public
	}
	if isText(c.MimeType) && e.Sensitivity == Public {
		e.Preview = preview(c.Data, 80)
	}
	return e
}

// preview is text on one line (runs of white space and control characters become one
// space), cut at n characters with an ellipsis.
func preview(b []byte, n int) string {
	var out strings.Builder
	space := false
	count := 0
	for len(b) > 0 && count < n {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			space = out.Len() > 0
			continue
		}
		if space {
			out.WriteByte(' ')
			count++
			space = false
		}
		out.WriteRune(r)
		count++
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		out.WriteString("…")
	}
	return out.String()
}
