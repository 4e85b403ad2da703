package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
)

// notifySocket is a real unixgram socket standing in for systemd's notification socket.
type notifySocket struct {
	t    *testing.T
	addr string
	c    *net.UnixConn
}

func newNotifySocket(t *testing.T, abstract bool) *notifySocket {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify")
	if abstract {
		addr = "@sesame-test-" + hex.EncodeToString(randBytes(t, 8))
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &notifySocket{t: t, addr: addr, c: c}
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// next returns the next datagram, or "" after the timeout.
func (n *notifySocket) next(timeout time.Duration) string {
	buf := make([]byte, 4096)
	n.c.SetReadDeadline(time.Now().Add(timeout))
	k, _, err := n.c.ReadFromUnix(buf)
	if err != nil {
		return ""
	}
	return string(buf[:k])
}

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotifyPathAndAbstract(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		ns := newNotifySocket(t, abstract)
		sent, err := Notify(envMap(map[string]string{NotifySocketEnv: ns.addr}), "READY=1\nSTATUS=x")
		if err != nil || !sent {
			t.Fatalf("%s: %v %v", ns.addr, sent, err)
		}
		if got := ns.next(time.Second); got != "READY=1\nSTATUS=x" {
			t.Fatalf("%s: got %q", ns.addr, got)
		}
	}
	if sent, err := Notify(envMap(nil), "READY=1"); sent || err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v %v", sent, err)
	}
	for _, bad := range []string{"relative", "@", "/"} {
		if _, err := Notify(envMap(map[string]string{NotifySocketEnv: bad}), "READY=1"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := fmt.Sprint(os.Getpid())
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"0", "", 0},
		{"junk", "", 0},
		{"30000000", "", 15 * time.Second},
		{"30000000", me, 15 * time.Second},
		{"30000000", "1", 0}, // meant for another process (our parent, say)
	} {
		got := WatchdogInterval(envMap(map[string]string{WatchdogUsecEnv: c.usec, WatchdogPIDEnv: c.pid}))
		if got != c.want {
			t.Errorf("usec %q pid %q: %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}

// Under systemd: READY=1 once, then WATCHDOG=1 every WATCHDOG_USEC/2; the pings stop when the
// socket goes away.
func TestSignalReadyNotifiesAndPings(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		ns := newNotifySocket(t, abstract)
		env := envMap(map[string]string{NotifySocketEnv: ns.addr, WatchdogUsecEnv: "100000", WatchdogPIDEnv: fmt.Sprint(os.Getpid())})
		if err := SignalReady(env); err != nil {
			t.Fatal(err)
		}
		if got := ns.next(time.Second); got != "READY=1" {
			t.Fatalf("first message %q", got)
		}
		start := time.Now()
		for i := 0; i < 3; i++ {
			if got := ns.next(time.Second); got != "WATCHDOG=1" {
				t.Fatalf("ping %d: %q", i, got)
			}
		}
		if el := time.Since(start); el < 100*time.Millisecond || el > 900*time.Millisecond {
			t.Errorf("3 pings at 50 ms took %v", el)
		}
		ns.c.Close()
		if !abstract {
			os.Remove(ns.addr)
		}
	}
}

// Under a supervisor the pipe is the only channel, even if NOTIFY_SOCKET leaked in.
func TestSignalReadyPipeWins(t *testing.T) {
	ns := newNotifySocket(t, false)
	r, w, _ := os.Pipe()
	defer r.Close()
	// SignalReady closes the descriptor it is given: give it a duplicate, or w's finalizer
	// would close that number again later, whatever it is by then.
	wfd, err := syscall.Dup(int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	env := envMap(map[string]string{NotifySocketEnv: ns.addr, ReadyFDEnv: fmt.Sprint(wfd), WatchdogUsecEnv: "100000"})
	if err := SignalReady(env); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	n, _ := r.Read(b)
	if string(b[:n]) != "ready\n" {
		t.Fatalf("pipe got %q", b[:n])
	}
	if got := ns.next(300 * time.Millisecond); got != "" {
		t.Fatalf("notify socket got %q", got)
	}
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := e.Info()
		out[e.Name()] = fmt.Sprintf("%04o %x %v", fi.Mode().Perm(), b, fi.ModTime().UnixNano())
	}
	return out
}

func TestProvisionKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	created, err := ProvisionKeys(dir, "profile", []string{"secrets", "wm"})
	if err != nil || strings.Join(created, ",") != "profile,secrets,wm" {
		t.Fatalf("%v %v", created, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir: %v %v", fi.Mode(), err)
	}
	for _, r := range []string{"profile", "secrets", "wm"} {
		fi, err := os.Stat(filepath.Join(dir, r+".key"))
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
			t.Fatalf("%s.key: %v %v", r, fi, err)
		}
	}
	// roles.pub names the roles, not the hub, and each key matches its file.
	b, _ := os.ReadFile(filepath.Join(dir, RolesPubName))
	roles, err := ParseRolesPub(b)
	if err != nil || len(roles) != 2 {
		t.Fatalf("roles.pub %q: %v", b, err)
	}
	for name, pub := range roles {
		priv, err := readKeyFile(filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		kp, _ := KeypairFromPrivate(priv)
		if kp.Public != pub {
			t.Errorf("%s: roles.pub does not match the key", name)
		}
		kp.Destroy()
	}
	hub, err := readPubFile(filepath.Join(dir, HubPubName))
	if err != nil || hub.IsZero() {
		t.Fatal(err)
	}

	// Idempotent: a second run creates nothing and touches no file.
	before := readAll(t, dir)
	created, err = ProvisionKeys(dir, "profile", []string{"secrets", "wm"})
	if err != nil || len(created) != 0 {
		t.Fatalf("second run: %v %v", created, err)
	}
	after := readAll(t, dir)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("second run changed files:\n%v\n%v", before, after)
	}
	// A role added later gets a key; the others keep theirs.
	created, err = ProvisionKeys(dir, "profile", []string{"secrets", "wm", "clipboard"})
	if err != nil || strings.Join(created, ",") != "clipboard" {
		t.Fatalf("added role: %v %v", created, err)
	}
	if readAll(t, dir)["secrets.key"] != before["secrets.key"] {
		t.Fatal("secrets.key changed")
	}
	// No temporary file is left behind.
	for name := range readAll(t, dir) {
		if strings.HasPrefix(name, ".") && name != ".lock" {
			t.Errorf("left over: %s", name)
		}
	}
}

// Many concurrent runs on an empty directory agree on one key per role.
func TestProvisionKeysConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	os.Mkdir(dir, 0o700)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ProvisionKeys(dir, "profile", []string{"secrets"})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += len(c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 2 {
		t.Fatalf("%d keys created by 8 runs, want 2", total)
	}
}

func TestProvisionKeysRefusesBadFiles(t *testing.T) {
	for name, setup := range map[string]func(dir string){
		"short key":     func(d string) { os.WriteFile(filepath.Join(d, "secrets.key"), []byte("short"), 0o600) },
		"readable key":  func(d string) { os.WriteFile(filepath.Join(d, "secrets.key"), make([]byte, 32), 0o644) },
		"symlinked key": func(d string) { os.Symlink("/dev/zero", filepath.Join(d, "secrets.key")) },
		"loose dir":     func(d string) { os.Chmod(d, 0o755) },
	} {
		dir := filepath.Join(t.TempDir(), "keys")
		os.Mkdir(dir, 0o700)
		setup(dir)
		if _, err := ProvisionKeys(dir, "profile", []string{"secrets"}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ProvisionKeys(t.TempDir(), "profile", []string{"../etc"}); err == nil {
		t.Error("a role name with a path accepted")
	}
}

func TestRolesPubRoundTrip(t *testing.T) {
	in := map[string]PublicKey{"secrets": mustKey(t).Public, "wm": mustKey(t).Public}
	out, err := ParseRolesPub(FormatRolesPub(in))
	if err != nil || len(out) != 2 || out["secrets"] != in["secrets"] || out["wm"] != in["wm"] {
		t.Fatalf("%v %v", out, err)
	}
	if m, err := ParseRolesPub(nil); err != nil || len(m) != 0 {
		t.Fatalf("empty: %v %v", m, err)
	}
	k := in["wm"].String()
	for _, bad := range []string{"wm\n", "wm " + k + " x\n", "WM " + k + "\n", "wm " + k + "\nwm " + k + "\n", "wm zz\n", "\n"} {
		if _, err := ParseRolesPub([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// credentials copies key-directory files into a fresh directory as systemd's LoadCredential=
// and SetCredential= do (mode 0400).
func credentials(t *testing.T, keys string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for cred, src := range files {
		var b []byte
		if strings.HasPrefix(src, "=") {
			b = []byte(src[1:])
		} else {
			var err error
			if b, err = os.ReadFile(filepath.Join(keys, src)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, cred), b, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The systemd path end to end, in process: `sesame keys`, the hub's and a role's credentials,
// the hub admitting the role by its key, and the role reporting READY=1 on the notify socket.
func TestReadBootFromCredentials(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	if _, err := ProvisionKeys(keys, "profile", []string{"secrets"}); err != nil {
		t.Fatal(err)
	}
	hubCreds := credentials(t, keys, map[string]string{CredKey: "profile.key", CredHub: "hub.pub", CredRoles: "roles.pub", CredRole: "=profile"})
	roleCreds := credentials(t, keys, map[string]string{CredKey: "secrets.key", CredHub: "hub.pub", CredRole: "=secrets"})

	hubID, err := ReadBoot(envMap(map[string]string{CredentialsEnv: hubCreds}))
	if err != nil {
		t.Fatal(err)
	}
	defer hubID.Static.Destroy()
	roleID, err := ReadBoot(envMap(map[string]string{CredentialsEnv: roleCreds}))
	if err != nil {
		t.Fatal(err)
	}
	defer roleID.Static.Destroy()
	if hubID.Role != "profile" || roleID.Role != "secrets" || hubID.Hub != hubID.Static.Public || roleID.Hub != hubID.Static.Public {
		t.Fatalf("identities: %+v %+v", hubID, roleID)
	}
	if !hubID.Roles["secrets"].Equal(roleID.Static.Public) || len(hubID.Roles) != 1 {
		t.Fatalf("hub's roles: %v", hubID.Roles)
	}

	h, err := NewHub(HubConfig{Static: hubID.Static, Roles: hubID.Roles})
	if err != nil {
		t.Fatal(err)
	}
	rdir := t.TempDir()
	ln, err := Listen(filepath.Join(rdir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Serve(ctx, ln)
	ns := newNotifySocket(t, true)
	served := make(chan error, 1)
	go func() {
		served <- ServeRole(ctx, envMap(map[string]string{NotifySocketEnv: ns.addr}), RoleConfig{
			Identity: roleID, Seal: mustKey(t), RuntimeDir: rdir,
			Handler: func(context.Context, *Envelope) (any, error) { return nil, nil },
		})
	}()
	if got := ns.next(5 * time.Second); got != "READY=1" {
		t.Fatalf("role sent %q", got)
	}
	if rs := h.Roles(); len(rs) != 1 || !rs[0].Running {
		t.Fatalf("hub sees %+v", rs)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestReadBootCredentialErrors(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	if _, err := ProvisionKeys(keys, "profile", []string{"secrets"}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if _, err := ProvisionKeys(other, "profile", nil); err != nil {
		t.Fatal(err)
	}
	wrongHub, _ := os.ReadFile(filepath.Join(other, "hub.pub"))
	for name, files := range map[string]map[string]string{
		"no key":              {CredHub: "hub.pub"},
		"no hub key":          {CredKey: "secrets.key"},
		"hub.pub not the hub": {CredKey: "profile.key", CredRoles: "roles.pub", CredHub: "=" + string(wrongHub)},
		"bad role name":       {CredKey: "secrets.key", CredHub: "hub.pub", CredRole: "=../x"},
		"bad roles.pub":       {CredKey: "profile.key", CredRoles: "=junk\n"},
		"key is public":       {CredKey: "hub.pub", CredHub: "hub.pub"},
	} {
		dir := credentials(t, keys, files)
		if id, err := ReadBoot(envMap(map[string]string{CredentialsEnv: dir})); err == nil {
			id.Static.Destroy()
			t.Errorf("%s: accepted", name)
		}
	}
	// A key readable by others is refused.
	dir := credentials(t, keys, map[string]string{CredKey: "secrets.key", CredHub: "hub.pub"})
	os.Chmod(filepath.Join(dir, CredKey), 0o644)
	if _, err := ReadBoot(envMap(map[string]string{CredentialsEnv: dir})); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Errorf("0644 key: %v", err)
	}
	// Nothing at all names both ways.
	_, err := ReadBoot(envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "no key was provisioned") || !strings.Contains(err.Error(), CredentialsEnv) {
		t.Errorf("no provisioning: %v", err)
	}
	if !errors.Is(func() error { _, err := readKeyFile(filepath.Join(keys, "nosuch.key")); return err }(), os.ErrNotExist) {
		t.Error("missing key file is not ErrNotExist")
	}
}
