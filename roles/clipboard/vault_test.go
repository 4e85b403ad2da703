package clipboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/vmihailenco/msgpack/v5"
)

// The clipboard.vault-changed handler, over a real hub (Noise, routing, Caller) with the
// clipboard's own handler and a stand-in secrets role that derives keys from a key the test
// sets.

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeSecrets answers secrets.derive-key with key (CodeLocked while locked), after gate
// lets it when gate is set.
type fakeSecrets struct {
	mu        sync.Mutex
	key       [32]byte
	locked    bool
	statesErr error         // what secrets.profiles answers instead of the states, when set
	asked     chan struct{} // a derive-key request arrived (when gate is set)
	gate      chan struct{}
}

// keyID stands for vault.KeyID: it changes with the key.
func (*fakeSecrets) keyID(key [32]byte) string {
	sum := sha256.Sum256(key[:])
	return hex.EncodeToString(sum[:8])
}

func (f *fakeSecrets) setKey(locked bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rand.Read(f.key[:])
	f.locked = locked
}

func (f *fakeSecrets) handle(_ context.Context, req *bus.Envelope) (any, error) {
	switch req.Kind {
	case api.SecretsDeriveKey:
		var r api.DeriveKeyRequest
		if err := msgpack.Unmarshal(req.Body, &r); err != nil {
			return nil, err
		}
		if r.Purpose != req.Caller.Role {
			return nil, bus.Errorf(bus.CodeDenied, "not its purpose")
		}
		f.mu.Lock()
		key, locked, gate := f.key, f.locked, f.gate
		f.mu.Unlock()
		if gate != nil {
			f.asked <- struct{}{}
			<-gate
		}
		if locked {
			return nil, bus.Errorf(bus.CodeLocked, "profile %q is locked", req.Profile)
		}
		sealed, err := bus.Seal(r.ReplyKey, api.AD(api.SecretsDeriveKey, req.Profile, r.Purpose), key[:])
		if err != nil {
			return nil, err
		}
		return &api.DeriveKeyReply{Sealed: sealed, KeyID: f.keyID(key)}, nil
	case api.SecretsProfiles:
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.statesErr != nil {
			return nil, f.statesErr
		}
		ps := api.ProfileState{Name: "default", Unlocked: !f.locked}
		if !f.locked {
			ps.KeyID = f.keyID(f.key)
		}
		return &api.ProfilesReply{Profiles: []api.ProfileState{ps}}, nil
	}
	return nil, bus.Errorf(bus.CodeUnknownKind, "fake secrets: %q", req.Kind)
}

type vaultRig struct {
	t       *testing.T
	hub     *bus.Hub
	s       *server
	log     *logBuf
	secrets *fakeSecrets
	sec     *bus.Client // the secrets role's connection
	wm      *bus.Client // another role's
	client  *bus.Client // a client's (any process of the user)
}

func newVaultRig(t *testing.T) *vaultRig {
	t.Helper()
	key := func() *bus.Keypair {
		kp, err := bus.GenerateKeypair()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kp.Destroy)
		return kp
	}
	static := key()
	names := []string{"secrets", "clipboard", "wm"}
	keys := map[string]*bus.Keypair{}
	cfg := bus.HubConfig{Static: static, Roles: map[string]bus.PublicKey{}}
	for _, n := range names {
		keys[n] = key()
		cfg.Roles[n] = keys[n].Public
	}
	hub, err := bus.NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), bus.SocketName)
	ln, err := bus.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { hub.Serve(ctx, ln); close(served) }()
	t.Cleanup(func() { cancel(); <-served })

	r := &vaultRig{t: t, hub: hub, log: &logBuf{}, secrets: &fakeSecrets{}}
	r.secrets.setKey(false)
	r.s = newServer(&env.Env{Logf: r.log.logf, Now: time.Now}, t.TempDir(), &settingsSource{})
	t.Cleanup(r.s.close)
	dial := func(role string, h bus.Handler) *bus.Client {
		dc := bus.DialConfig{Handler: h}
		if role != "" {
			dc.Static, dc.Seal = keys[role], key()
		}
		cl, err := bus.Dial(context.Background(), path, static.Public, dc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	r.sec = dial("secrets", r.secrets.handle)
	r.s.cl.Store(dial("clipboard", r.s.handle))
	r.wm = dial("wm", func(context.Context, *bus.Envelope) (any, error) { return nil, nil })
	r.client = dial("", nil)
	for deadline := time.Now().Add(5 * time.Second); ; {
		n := 0
		for _, rs := range hub.Roles() {
			if rs.Running {
				n++
			}
		}
		if n == len(names) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the roles did not register")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

// tell sends clipboard.vault-changed for profile default over cl.
func (r *vaultRig) tell(cl *bus.Client, event string) error {
	return cl.Call(context.Background(), api.ClipboardVaultChanged, "default", &api.ClipboardVaultEvent{Profile: "default", Event: event}, nil)
}

func (r *vaultRig) held() *keyring {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.mu.keys["default"]
}

func (r *vaultRig) record(text string) {
	r.s.record(r.s.settings.get(), &content{MimeType: "text/plain", Data: []byte(text), Source: "clipboard"}, time.Now(), 1)
}

// history lists profile default's history as the CLI would see it.
func (r *vaultRig) history() *api.ClipboardEntries {
	r.t.Helper()
	out, err := r.s.list(context.Background(), "default", api.ClipboardListRequest{Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func previews(es *api.ClipboardEntries) string {
	var p []string
	for _, e := range es.Entries {
		p = append(p, e.Preview)
	}
	return strings.Join(p, ",")
}

func TestVaultChangedOnlyFromSecrets(t *testing.T) {
	r := newVaultRig(t)
	if _, err := r.s.keyFor(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	for who, cl := range map[string]*bus.Client{"the wm role": r.wm, "a client": r.client} {
		for _, ev := range []string{api.VaultLocked, api.VaultRotated} {
			if err := r.tell(cl, ev); bus.ErrCode(err) != bus.CodeDenied {
				t.Errorf("%s from %s: %v", ev, who, err)
			}
		}
	}
	// Nor from the hub itself.
	if _, err := r.hub.Call(context.Background(), "clipboard", api.ClipboardVaultChanged, "default", &api.ClipboardVaultEvent{Profile: "default", Event: api.VaultLocked}); bus.ErrCode(err) != bus.CodeDenied {
		t.Errorf("from the hub: %v", err)
	}
	if r.held() == nil {
		t.Fatal("a refused message dropped the key")
	}
	if err := r.tell(r.sec, "melted"); bus.ErrCode(err) != bus.CodeBadRequest {
		t.Errorf("an unknown event: %v", err)
	}
}

func TestVaultLockedDropsKey(t *testing.T) {
	r := newVaultRig(t)
	if _, err := r.s.keyFor(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	r.record("on disk")
	r.secrets.setKey(true)
	start := time.Now()
	if err := r.tell(r.sec, api.VaultLocked); err != nil {
		t.Fatal(err)
	}
	t.Logf("locked told and the key dropped in %v", time.Since(start))
	if r.held() != nil {
		t.Fatal("the key is still held")
	}
	if !strings.Contains(r.log.String(), `profile "default" locked (told by the secrets role)`) {
		t.Fatalf("log:\n%s", r.log)
	}
	// Locked now: a copy stays in memory, the history on disk is not read.
	r.record("in memory")
	if h := r.history(); !h.Locked || previews(h) != "in memory" {
		t.Fatalf("locked history: %+v", h)
	}

	// A key on its way when the lock is told is not kept: here secrets answers derive-key
	// (from before the lock) only after the clipboard has heard of the lock.
	r.secrets.setKey(false)
	r.secrets.mu.Lock()
	r.secrets.gate, r.secrets.asked = make(chan struct{}), make(chan struct{})
	r.secrets.mu.Unlock()
	got := make(chan error, 1)
	go func() {
		_, err := r.s.keyFor(context.Background(), "default")
		got <- err
	}()
	<-r.secrets.asked
	if err := r.tell(r.sec, api.VaultLocked); err != nil {
		t.Fatal(err)
	}
	close(r.secrets.gate)
	if err := <-got; bus.ErrCode(err) != bus.CodeLocked {
		t.Fatalf("a key fetched across a lock: %v", err)
	}
	if r.held() != nil {
		t.Fatal("a key fetched across a lock is held")
	}
}

func TestVaultRotatedReencrypts(t *testing.T) {
	r := newVaultRig(t)
	ctx := context.Background()
	old, err := r.s.keyFor(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	oldCheck := bytes.Clone(old.check)
	for _, s := range []string{"one", "two", "three"} {
		r.record(s)
	}
	r.secrets.setKey(false) // the master key rotated: the clipboard's key is another
	if err := r.tell(r.sec, api.VaultRotated); err != nil {
		t.Fatal(err)
	}
	nk := r.held()
	if nk == nil || bytes.Equal(nk.check, oldCheck) {
		t.Fatal("the key held is not the new one")
	}
	if old.aead != nil {
		t.Fatal("the old keyring was not destroyed")
	}
	if !strings.Contains(r.log.String(), `the key of "default" was rotated: 3 history entries re-encrypted`) {
		t.Fatalf("log:\n%s", r.log)
	}
	// The history reads under the new key — as a fresh start of the role would read it.
	r.s.vaultLocked("default")
	if _, err := r.s.keyFor(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if h := r.history(); h.Locked || previews(h) != "three,two,one" {
		t.Fatalf("history after the rotation: %+v\nlog:\n%s", h, r.log)
	}
	if strings.Contains(r.log.String(), "afresh") {
		t.Fatalf("the history was reset:\n%s", r.log)
	}
	// Told twice: nothing to do.
	if err := r.tell(r.sec, api.VaultRotated); err != nil {
		t.Fatal(err)
	}
	if h := r.history(); previews(h) != "three,two,one" {
		t.Fatalf("after a second message: %+v", h)
	}
}

// TestVaultRotatedRekeyFails: when the re-encryption fails, the log says so and the history
// starts afresh under the new key, as when a vault is made anew.
func TestVaultRotatedRekeyFails(t *testing.T) {
	r := newVaultRig(t)
	if _, err := r.s.keyFor(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	r.record("lost")
	r.s.mu.Lock()
	_, err := r.s.mu.stores["default"].db.Exec(`CREATE TRIGGER fail BEFORE UPDATE OF sealed ON entries BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	r.s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	r.secrets.setKey(false)
	if err := r.tell(r.sec, api.VaultRotated); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.log.String(), `re-encrypting its history under the new one failed: constraint failed: disk on fire`) {
		t.Fatalf("log:\n%s", r.log)
	}
	r.record("new")
	if h := r.history(); h.Locked || previews(h) != "new" {
		t.Fatalf("history: %+v", h)
	}
}

// TestPollErrorKeepsKeys: a poll that cannot read the vault states (a busy hub) keeps the
// keys; one that finds no secrets role drops them (it restarts with every vault locked).
func TestPollErrorKeepsKeys(t *testing.T) {
	r := newVaultRig(t)
	if _, err := r.s.keyFor(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	r.secrets.mu.Lock()
	r.secrets.statesErr = bus.Errorf(bus.CodeBusy, "too many requests")
	r.secrets.mu.Unlock()
	r.s.syncKeys(context.Background())
	if r.held() == nil {
		t.Fatal("a busy answer dropped the key")
	}
	if !strings.Contains(r.log.String(), "keys kept until the next check") {
		t.Errorf("log:\n%s", r.log)
	}
	r.secrets.mu.Lock()
	r.secrets.statesErr = bus.Errorf(bus.CodeUnavailable, "secrets is not running")
	r.secrets.mu.Unlock()
	r.s.syncKeys(context.Background())
	if r.held() != nil {
		t.Fatal("no secrets role, and the key is still held")
	}
}

// TestRotationSeenByKeyID: a rotation whose message was lost is seen by the poll, by the
// key id, and the history is re-encrypted as if the secrets role had told it.
func TestRotationSeenByKeyID(t *testing.T) {
	r := newVaultRig(t)
	ctx := context.Background()
	if _, err := r.s.keyFor(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	r.record("one")
	r.record("two")
	r.s.syncKeys(ctx) // same key id: nothing happens
	if strings.Contains(r.log.String(), "rotated") {
		t.Fatalf("a rotation seen with none:\n%s", r.log)
	}
	r.secrets.setKey(false) // rotated, and nobody told the clipboard
	r.s.syncKeys(ctx)
	for _, want := range []string{`the key of "default" was rotated (seen by its key id)`, `2 history entries re-encrypted`} {
		if !strings.Contains(r.log.String(), want) {
			t.Fatalf("no %q in the log:\n%s", want, r.log)
		}
	}
	r.s.vaultLocked("default")
	if _, err := r.s.keyFor(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if h := r.history(); previews(h) != "two,one" || strings.Contains(r.log.String(), "afresh") {
		t.Fatalf("history %+v\nlog:\n%s", h, r.log)
	}
}
