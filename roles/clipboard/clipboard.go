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
// memory, only while the vault is unlocked, and checks every couple of seconds. While the
// vault is locked nothing is written: what is copied meanwhile is kept in memory only, and
// written (encrypted) once the vault is unlocked again; the history on disk cannot be read.
//
// Settings come from the profile's [clipboard] section of the configuration (history,
// max_history, primary, detect_sensitive, keep_sensitive, sensitive_ttl), as the hub pushes
// it (see settingsSource).
package clipboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		keys    map[string]*keyring
		stores  map[string]*store
		mem     map[string][]*memEntry // newest first
		nextMem int64
	}
}

func newServer(e *env.Env, data string, ss *settingsSource) *server {
	s := &server{e: e, data: data, settings: ss}
	s.mu.keys = map[string]*keyring{}
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
	unlocked := map[string]bool{}
	if err == nil {
		for _, p := range r.Profiles {
			unlocked[p.Name] = p.Unlocked
		}
	}
	s.mu.Lock()
	for p, k := range s.mu.keys {
		if !unlocked[p] {
			k.destroy()
			delete(s.mu.keys, p)
			s.e.Logf("clipboard: profile %q locked: its history is closed, new entries stay in memory", p)
		}
	}
	s.mu.Unlock()
	st := s.settings.get()
	if unlocked[st.profile] {
		if _, err := s.keyFor(ctx, st.profile); err != nil {
			s.e.Logf("clipboard: %v", err)
		}
	}
}

// keyFor returns the profile's keyring, asking the secrets role for the key if the role
// does not hold it, and writes what was kept in memory for that profile.
func (s *server) keyFor(ctx context.Context, profile string) (*keyring, error) {
	s.mu.Lock()
	k := s.mu.keys[profile]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
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
	k, err = newKeyring(key)
	if err != nil {
		key.Destroy()
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have := s.mu.keys[profile]; have != nil {
		k.destroy()
		return have, nil
	}
	sto, err := s.storeLocked(profile)
	if err != nil {
		k.destroy()
		return nil, err
	}
	err = sto.checkKey(k)
	if errors.Is(err, errOtherKey) {
		// The vault was made anew: what is in the file can never be read again.
		s.e.Logf("clipboard: the history of %q was written under another vault's key; starting it afresh", profile)
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
	out := &api.ClipboardEntries{Entries: []api.ClipboardEntry{}, Locked: k == nil, Recorded: s.settings.get().profile}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if k == nil {
		return api.ClipboardEntry{}, nil, bus.Errorf(bus.CodeLocked, "profile %q is locked: its clipboard history cannot be read", profile)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
