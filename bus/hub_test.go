package bus

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// testHub is a hub on a real socket with real Noise handshakes.
type testHub struct {
	t     *testing.T
	hub   *Hub
	path  string
	pub   PublicKey
	roles map[string]*Keypair
	log   *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(&s.b, format+"\n", args...)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustKey(t testing.TB) *Keypair {
	t.Helper()
	kp, err := GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kp.Destroy)
	return kp
}

func newTestHub(t *testing.T, mod func(*HubConfig), roles ...string) *testHub {
	t.Helper()
	th := &testHub{t: t, roles: map[string]*Keypair{}, log: &syncBuf{}}
	static := mustKey(t)
	cfg := HubConfig{Static: static, Roles: map[string]PublicKey{}, Logf: th.log.logf}
	for _, r := range roles {
		th.roles[r] = mustKey(t)
		cfg.Roles[r] = th.roles[r].Public
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	th.path = filepath.Join(dir, SocketName)
	ln, err := Listen(th.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Serve(ctx, ln)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	th.hub, th.pub = h, static.Public
	return th
}

func (th *testHub) client() *Client {
	th.t.Helper()
	cl, err := Dial(context.Background(), th.path, th.pub, DialConfig{})
	if err != nil {
		th.t.Fatal(err)
	}
	th.t.Cleanup(func() { cl.Close() })
	return cl
}

func (th *testHub) role(name string, h Handler) *Client {
	th.t.Helper()
	cl, err := Dial(context.Background(), th.path, th.pub, DialConfig{Static: th.roles[name], Seal: mustKey(th.t), Handler: h})
	if err != nil {
		th.t.Fatal(err)
	}
	th.t.Cleanup(func() { cl.Close() })
	// Wait until the hub has registered the role.
	for range 200 {
		for _, rs := range th.hub.Roles() {
			if rs.Name == name && rs.Running {
				return cl
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	th.t.Fatalf("role %s never registered", name)
	return nil
}

func echo(_ context.Context, req *Envelope) (any, error) { return req.Body, nil }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRoundTrip(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	var got *Envelope
	var mu sync.Mutex
	th.role("secrets", func(_ context.Context, req *Envelope) (any, error) {
		mu.Lock()
		got = req
		mu.Unlock()
		return append([]byte("re:"), req.Body...), nil
	})
	cl := th.client()
	body, err := cl.CallRaw(ctxT(t), "secrets.get", "work", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "re:hello" {
		t.Fatalf("reply %q", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Profile != "work" || got.Kind != "secrets.get" {
		t.Fatalf("role saw %+v", got)
	}
	if got.Caller == nil || got.Caller.Role != "" || int(got.Caller.PID) != os.Getpid() || int(got.Caller.UID) != os.Getuid() {
		t.Fatalf("caller %v", got.Caller)
	}
	if got.Caller.Exe == "" {
		t.Fatalf("caller exe not read: %v", got.Caller)
	}
	if k, ok := cl.SealKey("secrets"); ok && k.IsZero() {
		t.Fatal("zero seal key")
	}
}

func TestLargeMessage(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	th.role("secrets", echo)
	cl := th.client()
	big := make([]byte, 3<<20+17)
	rand.Read(big)
	body, err := cl.CallRaw(ctxT(t), "secrets.get", "", big)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, big) {
		t.Fatal("large body changed in transit")
	}
	if _, err := cl.CallRaw(ctxT(t), "secrets.get", "", make([]byte, MaxMessage)); err == nil {
		t.Fatal("a body over the limit was sent")
	}
}

func TestWrongUIDClosedBeforeHandshake(t *testing.T) {
	th := newTestHub(t, func(c *HubConfig) { c.UID = os.Getuid() + 4242 })
	_, err := Dial(context.Background(), th.path, th.pub, DialConfig{})
	if err == nil {
		t.Fatal("a peer of another uid completed the handshake")
	}
	if !strings.Contains(th.log.String(), "uid") {
		t.Fatalf("hub log does not say why: %q", th.log.String())
	}
}

func TestWrongHubKeyFails(t *testing.T) {
	th := newTestHub(t, nil)
	other := mustKey(t)
	if _, err := Dial(context.Background(), th.path, other.Public, DialConfig{}); err == nil {
		t.Fatal("handshake succeeded against the wrong hub key")
	}
}

func TestImpostorCannotRegisterOrServe(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	// A key the hub does not know cannot connect as a role.
	imp := mustKey(t)
	if _, err := Dial(context.Background(), th.path, th.pub, DialConfig{Static: imp, Seal: mustKey(t), Handler: echo}); err == nil {
		t.Fatal("an unknown key registered as a role")
	}
	// An anonymous client with a handler still never receives requests.
	served := make(chan struct{}, 1)
	anon, err := Dial(context.Background(), th.path, th.pub, DialConfig{Handler: func(context.Context, *Envelope) (any, error) {
		served <- struct{}{}
		return []byte("forged"), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	cl := th.client()
	_, err = cl.CallRaw(ctxT(t), "secrets.get", "", nil)
	if ErrCode(err) != CodeUnavailable || !strings.Contains(err.Error(), "the secrets role is not running") {
		t.Fatalf("want unavailable, got %v", err)
	}
	select {
	case <-served:
		t.Fatal("a request reached an anonymous client")
	default:
	}
	// The real role serves.
	th.role("secrets", echo)
	if b, err := cl.CallRaw(ctxT(t), "secrets.get", "", []byte("x")); err != nil || string(b) != "x" {
		t.Fatalf("real role: %q %v", b, err)
	}
}

func TestForgedRepliesDropped(t *testing.T) {
	th := newTestHub(t, nil, "secrets", "launcher")
	release := make(chan struct{})
	th.role("secrets", func(_ context.Context, req *Envelope) (any, error) {
		<-release
		return []byte("genuine"), nil
	})
	other := th.role("launcher", echo)
	victim := th.client()
	attacker := th.client()

	res := make(chan []byte, 1)
	go func() {
		b, err := victim.CallRaw(ctxT(t), "secrets.get", "", []byte("q"))
		if err != nil {
			t.Error(err)
		}
		res <- b
	}()
	for th.hub.PendingForTest() == 0 {
		time.Sleep(time.Millisecond)
	}
	// A client and a different role both try to answer every plausible id.
	for id := uint64(1); id < 64; id++ {
		attacker.send(&Envelope{V: Version, ReplyTo: id, Body: []byte("forged")})
		other.send(&Envelope{V: Version, ReplyTo: id, Body: []byte("forged")})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	if b := <-res; string(b) != "genuine" {
		t.Fatalf("victim got %q", b)
	}
	if !strings.Contains(th.log.String(), "dropped a reply") {
		t.Fatal("forged replies were not logged")
	}
	// The attacker never saw the victim's traffic: its connection only has its own state.
	attacker.mu.Lock()
	n := len(attacker.mu.pending)
	attacker.mu.Unlock()
	if n != 0 {
		t.Fatalf("attacker has %d pending", n)
	}
}

func TestRepliesGoOnlyToAsker(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	th.role("secrets", func(_ context.Context, req *Envelope) (any, error) {
		return req.Body, nil
	})
	// Two clients with colliding request ids (both start at 1) each get their own answers.
	a, b := th.client(), th.client()
	var wg sync.WaitGroup
	for _, c := range []struct {
		cl  *Client
		tag string
	}{{a, "a"}, {b, "b"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				want := fmt.Sprintf("%s-%d", c.tag, i)
				got, err := c.cl.CallRaw(ctxT(t), "secrets.get", "", []byte(want))
				if err != nil || string(got) != want {
					t.Errorf("%s: got %q %v", want, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestUnknownKindAndVersion(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	cl := th.client()
	if _, err := cl.CallRaw(ctxT(t), "nosuch.thing", "", nil); ErrCode(err) != CodeUnknownKind {
		t.Fatalf("unknown service: %v", err)
	}
	if _, err := cl.CallRaw(ctxT(t), "hub.nosuch", "", nil); ErrCode(err) != CodeUnknownKind {
		t.Fatalf("unknown hub kind: %v", err)
	}
	// A wrong version gets a CodeVersion reply, and the connection stays usable.
	ch := make(chan *Envelope, 1)
	cl.mu.Lock()
	cl.mu.pending[999] = ch
	cl.mu.Unlock()
	cl.send(&Envelope{V: 7, ID: 999, Kind: "secrets.get"})
	select {
	case r := <-ch:
		if r.Err == nil || r.Err.Code != CodeVersion {
			t.Fatalf("version reply %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply to a wrong version")
	}
	if _, err := cl.CallRaw(ctxT(t), "nosuch.thing", "", nil); ErrCode(err) != CodeUnknownKind {
		t.Fatalf("connection unusable after wrong version: %v", err)
	}
}

func TestPendingExpires(t *testing.T) {
	th := newTestHub(t, func(c *HubConfig) { c.RequestTimeout = 200 * time.Millisecond }, "secrets")
	block := make(chan struct{})
	defer close(block)
	th.role("secrets", func(context.Context, *Envelope) (any, error) {
		<-block
		return nil, nil
	})
	cl := th.client()
	start := time.Now()
	_, err := cl.CallRaw(ctxT(t), "secrets.get", "", nil)
	if ErrCode(err) != CodeTimeout {
		t.Fatalf("want timeout, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("timeout took too long")
	}
	if n := th.hub.PendingForTest(); n != 0 {
		t.Fatalf("pending table holds %d after expiry", n)
	}
}

func TestRoleDeathFailsPending(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	entered := make(chan struct{})
	role := th.role("secrets", func(context.Context, *Envelope) (any, error) {
		close(entered)
		select {}
	})
	cl := th.client()
	go func() {
		<-entered
		role.Close()
	}()
	_, err := cl.CallRaw(ctxT(t), "secrets.get", "", nil)
	if ErrCode(err) != CodeUnavailable {
		t.Fatalf("want unavailable, got %v", err)
	}
}

func TestInFlightBound(t *testing.T) {
	th := newTestHub(t, func(c *HubConfig) { c.MaxInFlight = 4 }, "secrets")
	block := make(chan struct{})
	th.role("secrets", func(context.Context, *Envelope) (any, error) {
		<-block
		return nil, nil
	})
	cl := th.client()
	errs := make(chan error, 10)
	for range 10 {
		go func() {
			_, err := cl.CallRaw(ctxT(t), "secrets.get", "", nil)
			errs <- err
		}()
	}
	busy := 0
	for range 6 {
		if err := <-errs; ErrCode(err) == CodeBusy {
			busy++
		}
	}
	close(block)
	for range 4 {
		<-errs
	}
	if busy != 6 {
		t.Fatalf("%d of 10 requests refused as busy, want 6", busy)
	}
}

// rawClient completes a handshake and then lets the test write anything.
func rawClient(t *testing.T, th *testHub) *conn {
	t.Helper()
	nc, err := net.Dial("unix", th.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c, _, err := clientHandshake(nc, mustKey(t), th.pub)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hubStillServes checks that a fresh client gets an answer promptly.
func hubStillServes(t *testing.T, th *testHub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if b, err := th.client().CallRaw(ctx, "secrets.get", "", []byte("ok")); err != nil || string(b) != "ok" {
		t.Fatalf("hub stopped serving: %q %v", b, err)
	}
}

func waitClosed(t *testing.T, c *conn) {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.readMsg(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("hub did not close the connection: %v", err)
	}
}

func TestOversizedFrameClosesPeer(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	th.role("secrets", echo)
	c := rawClient(t, th)
	// A first frame that claims a 17 MiB message.
	pt := []byte{0x01, 0x10, 0x00, 0x00, 'x'}
	if err := c.fw.writeFrame(pt); err != nil {
		t.Fatal(err)
	}
	c.flush()
	waitClosed(t, c)
	if !strings.Contains(th.log.String(), "exceeds") {
		t.Fatalf("log: %s", th.log.String())
	}
	hubStillServes(t, th)
}

func TestGarbageAfterHandshake(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	th.role("secrets", echo)
	for _, garbage := range [][]byte{
		append([]byte{0x00, 0x20}, bytes.Repeat([]byte{7}, 32)...), // a whole frame that does not decrypt
		bytes.Repeat([]byte{0xff}, 2+0xffff),                       // a maximal frame of garbage
	} {
		c := rawClient(t, th)
		c.nc.Write(garbage)
		waitClosed(t, c)
	}
	// Valid Noise, but not an envelope.
	c := rawClient(t, th)
	c.writeMsg([]byte("\xc1 not msgpack"))
	c.flush()
	waitClosed(t, c)
	hubStillServes(t, th)
}

func TestSlowReaderIsDropped(t *testing.T) {
	th := newTestHub(t, func(c *HubConfig) {
		c.QueueLen = 8
		c.MaxInFlight = 4 // the flooder holds at most half of the role's queue
		c.WriteTimeout = 300 * time.Millisecond
	}, "secrets")
	th.role("secrets", echo)
	c := rawClient(t, th)
	// Fire requests with large bodies and never read the replies.
	body := make([]byte, 256<<10)
	go func() {
		for i := uint64(1); i < 1000; i++ {
			b, _ := MarshalEnvelope(&Envelope{V: Version, ID: i, Kind: "secrets.get", Body: body})
			if c.writeMsg(b) != nil || c.flush() != nil {
				return
			}
		}
	}()
	// Meanwhile others are served promptly.
	for range 20 {
		hubStillServes(t, th)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(th.log.String(), "dropping client") && !strings.Contains(th.log.String(), "write to client") {
		if time.Now().After(deadline) {
			t.Fatalf("slow reader never dropped; log:\n%s", th.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	hubStillServes(t, th)
}

func TestHubLocal(t *testing.T) {
	th := newTestHub(t, func(c *HubConfig) {
		c.Local = map[string]LocalHandler{"hub.who": func(_ context.Context, from *Caller, _ *Envelope) (any, error) {
			return from, nil
		}}
	}, "secrets")
	var who Caller
	if err := th.client().Call(ctxT(t), "hub.who", "", nil, &who); err != nil {
		t.Fatal(err)
	}
	if int(who.PID) != os.Getpid() || who.Role != "" {
		t.Fatalf("who = %+v", who)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	th := newTestHub(t, nil)
	if _, err := Listen(th.path); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("second listen: %v", err)
	}
	// A dead socket file is replaced.
	dir := t.TempDir()
	p := filepath.Join(dir, "dead.sock")
	ln, _ := net.Listen("unix", p)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(p)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln2.Close()
	fi, err := os.Stat(th.path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
}

func TestRuntimeDirChecks(t *testing.T) {
	base := t.TempDir()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	dir, err := RuntimeDir(env(map[string]string{"XDG_RUNTIME_DIR": base}))
	if err != nil || dir != filepath.Join(base, "sesame") {
		t.Fatalf("%q %v", dir, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// No XDG_RUNTIME_DIR: a per-uid dir under TMPDIR.
	tmp := t.TempDir()
	dir, err = RuntimeDir(env(map[string]string{"TMPDIR": tmp}))
	if err != nil || dir != filepath.Join(tmp, fmt.Sprintf("sesame-%d", os.Getuid())) {
		t.Fatalf("%q %v", dir, err)
	}
	// Wrong mode, a symlink, and another owner are refused.
	os.Chmod(dir, 0o755)
	if _, err := RuntimeDir(env(map[string]string{"TMPDIR": tmp})); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("loose mode accepted: %v", err)
	}
	tmp2 := t.TempDir()
	os.Symlink(t.TempDir(), filepath.Join(tmp2, fmt.Sprintf("sesame-%d", os.Getuid())))
	if _, err := RuntimeDir(env(map[string]string{"TMPDIR": tmp2})); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("symlink accepted: %v", err)
	}
	if os.Getuid() == 0 {
		tmp3 := t.TempDir()
		d := filepath.Join(tmp3, "sesame-0")
		os.Mkdir(d, 0o700)
		os.Chown(d, 65534, 65534)
		if _, err := RuntimeDir(env(map[string]string{"TMPDIR": tmp3})); err == nil || !strings.Contains(err.Error(), "owned by") {
			t.Fatalf("foreign owner accepted: %v", err)
		}
	}
}

func TestSeal(t *testing.T) {
	kp := mustKey(t)
	ad := []byte("secrets.set\x00work\x00db")
	sealed, err := Seal(kp.Public, ad, []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("plaintext visible")
	}
	got, err := Open(kp, ad, sealed)
	if err != nil || string(got.Bytes()) != "hunter2" {
		t.Fatalf("open: %v", err)
	}
	got.Destroy()
	if _, err := Open(kp, []byte("other"), sealed); err == nil {
		t.Fatal("opened with the wrong AD")
	}
	if _, err := Open(mustKey(t), ad, sealed); err == nil {
		t.Fatal("opened with the wrong key")
	}
	sealed[40] ^= 1
	if _, err := Open(kp, ad, sealed); err == nil {
		t.Fatal("opened a tampered seal")
	}
	if _, err := Open(kp, ad, sealed[:10]); err == nil {
		t.Fatal("opened a truncated seal")
	}
}

func TestBootRoundTrip(t *testing.T) {
	kp := mustKey(t)
	r, w, _ := os.Pipe()
	hub := mustKey(t)
	go func() {
		WriteBoot(w, &Boot{Role: "secrets", Private: kp.Private(), Hub: hub.Public})
		w.Close()
	}()
	// ReadBoot takes the descriptor number from the environment, and closes it: hand it a
	// duplicate, or r's finalizer would later close that number again, whatever it then is.
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	id, err := ReadBoot(func(k string) string {
		if k == BootFDEnv {
			return fmt.Sprint(fd)
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if id.Role != "secrets" || id.Static.Public != kp.Public || id.Hub != hub.Public {
		t.Fatalf("boot %+v", id)
	}
	if _, err := ReadBoot(func(string) string { return "" }); err == nil {
		t.Fatal("no boot fd accepted")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	e := &Envelope{V: Version, ID: 7, Kind: "secrets.get", Profile: "work", Body: []byte{1, 2}, Caller: &Caller{Role: "x", PID: 1}}
	b, err := MarshalEnvelope(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalEnvelope(b)
	if err != nil || got.ID != 7 || got.Kind != "secrets.get" || got.Caller.PID != 1 || !bytes.Equal(got.Body, e.Body) {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []*Envelope{
		{V: 1},                            // neither request nor reply
		{V: 1, ID: 1, ReplyTo: 1},         // both
		{V: 1, ID: 1, Kind: "nodot"},      // malformed kind
		{V: 1, ID: 1, Kind: "Upper.case"}, // malformed kind
		{V: 1, ID: 1, Kind: "a.b", Profile: strings.Repeat("p", 65)},
	} {
		b, _ := msgpack.Marshal(bad)
		if e, err := UnmarshalEnvelope(b); err == nil || e != nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	// The hand-written codec and the msgpack library agree, both ways.
	lib, err := msgpack.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	fromLib, err := UnmarshalEnvelope(lib)
	if err != nil || fromLib.ID != 7 || fromLib.Caller.Role != "x" || !bytes.Equal(fromLib.Body, e.Body) {
		t.Fatalf("library bytes: %+v %v", fromLib, err)
	}
	var viaLib Envelope
	if err := msgpack.Unmarshal(b, &viaLib); err != nil || viaLib.Kind != e.Kind || viaLib.Caller.PID != 1 {
		t.Fatalf("library decode of ours: %+v %v", viaLib, err)
	}
	// A newer version decodes far enough to be answered.
	newer := []byte{0x99, 0x02, 0x05, 0x00, 0xa1, 'x', 0xc0, 0xc0, 0xc0, 0xc0, 0x01}
	if ne, err := UnmarshalEnvelope(newer); err != nil || ne.V != 2 || ne.ID != 5 {
		t.Fatalf("newer version: %+v %v", ne, err)
	}
	var be *Error
	err = Errorf(CodeLocked, "profile %q is locked", "w")
	if !errors.As(error(err), &be) || !errors.Is(err, &Error{Code: CodeLocked}) || errors.Is(err, &Error{Code: CodeNotFound}) {
		t.Fatal("error matching")
	}
}
