package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/supervise"
)

// sandbox is a private HOME and runtime directory in which tests run the real sesame
// (this test binary under the names TestMain registers, found on PATH).
type sandbox struct {
	t    testing.TB
	bin  string // the sesame executable
	home string
	run  string
	env  []string
}

func newSandbox(t testing.TB) *sandbox {
	t.Helper()
	// Unix socket paths are limited to 108 bytes: keep the runtime dir short.
	run, err := os.MkdirTemp("", "ss")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(run, 0o700)
	sb := &sandbox{t: t, bin: "sesame", home: t.TempDir(), run: run}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "SESAME_") {
			sb.env = append(sb.env, kv)
		}
	}
	sb.env = append(sb.env, "HOME="+sb.home, "XDG_RUNTIME_DIR="+run)
	t.Cleanup(func() {
		supervise.Stop(sb.rundir(), 10*time.Second)
		os.RemoveAll(run)
	})
	return sb
}

func (sb *sandbox) rundir() string { return filepath.Join(sb.run, "sesame") }

// sesame runs the CLI; it fails the test unless the command succeeds.
func (sb *sandbox) sesame(stdin string, args ...string) []byte {
	sb.t.Helper()
	out, errb, err := sb.try(stdin, args...)
	if err != nil {
		sb.t.Fatalf("sesame %s: %v\n%s", strings.Join(args, " "), err, errb)
	}
	return out
}

func (sb *sandbox) try(stdin string, args ...string) ([]byte, []byte, error) {
	cmd := exec.Command(sb.bin, args...)
	cmd.Env = sb.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

func (sb *sandbox) setBytes(profile, name string, value []byte) {
	sb.t.Helper()
	cmd := exec.Command(sb.bin, "secret", "set", "-p", profile, name)
	cmd.Env = sb.env
	cmd.Stdin = bytes.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		sb.t.Fatalf("set %s: %v %s", name, err, out)
	}
}

// status returns the hub's view of the roles.
func (sb *sandbox) status() map[string]int32 {
	sb.t.Helper()
	var s struct {
		PID   int32 `json:"pid"`
		Roles []struct {
			Name    string `json:"name"`
			Running bool   `json:"running"`
			PID     int32  `json:"pid"`
		} `json:"roles"`
	}
	out, _, _ := sb.try("", "status", "--json")
	if err := json.Unmarshal(out, &s); err != nil {
		return map[string]int32{} // mid-restart: the hub went away during the call
	}
	m := map[string]int32{"hub": s.PID}
	for _, r := range s.Roles {
		if r.Running {
			m[r.Name] = r.PID
		}
	}
	return m
}

// dial connects to the hub as a client, from this process.
func (sb *sandbox) dial() *bus.Client {
	sb.t.Helper()
	cl, err := sb.tryDial()
	if err != nil {
		sb.t.Fatal(err)
	}
	return cl
}

func (sb *sandbox) tryDial() (*bus.Client, error) {
	pub, err := bus.ReadPub(sb.rundir())
	if err != nil {
		return nil, err
	}
	cl, err := bus.Dial(context.Background(), filepath.Join(sb.rundir(), bus.SocketName), pub, bus.DialConfig{})
	if err != nil {
		return nil, err
	}
	sb.t.Cleanup(func() { cl.Close() })
	return cl, nil
}

func nastyValues() [][]byte {
	long := make([]byte, 64<<10)
	rand.Read(long)
	for i := range long {
		long[i] = ' ' + long[i]%95 // printable ASCII: valid UTF-8, every shell metacharacter
	}
	return [][]byte{
		[]byte("'"), []byte(`"`), []byte("$HOME"), []byte("`id`"), []byte("$(id)"), []byte("!!"),
		[]byte("!$"), []byte(`\`), []byte(`\n`), []byte("a\nb"), []byte("trailing\n"), []byte("\r\n"),
		[]byte("\t"), []byte("ünïcödé 🔑"), []byte(`'"'"'`), []byte("-n"), []byte("--"),
		[]byte(" spaced "), []byte(""), []byte("\xff\xfe"), []byte("${x:-y}"), []byte("*"),
		[]byte("?"), []byte("[a]"), []byte("~"), []byte("#c"), []byte(";ls"), []byte("|&"),
		[]byte("\x01\x1b[31m"), []byte("\n"), []byte("''"), long,
	}
}

// TestExportShellEvaluatedByBash: bash, evaluating `sesame export -f shell`, gets back every
// value byte for byte; JSON gives back every UTF-8 value exactly.
func TestExportShellEvaluatedByBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	vals := nastyValues()
	for i, v := range vals {
		sb.setBytes("default", fmt.Sprintf("v%02d", i), v)
	}
	script := sb.sesame("", "export", "-f", "shell")
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("set -e\neval \"$(cat " + filepath.Join(dir, "export.sh") + ")\"\n")
	for i := range vals {
		fmt.Fprintf(&b, "printf '%%s' \"$V%02d\" > %s/%02d\n", i, dir, i)
	}
	os.WriteFile(filepath.Join(dir, "export.sh"), script, 0o600)
	cmd := exec.Command("bash", "-c", b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	for i, v := range vals {
		got, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%02d", i)))
		if !bytes.Equal(got, v) {
			t.Errorf("value %d: bash got %q, want %q", i, trunc(got), trunc(v))
		}
	}

	// JSON refuses the value that is not UTF-8, and is exact for the rest.
	if _, errb, err := sb.try("", "export", "-f", "json"); err == nil || !bytes.Contains(errb, []byte("not UTF-8")) {
		t.Fatalf("json export of invalid UTF-8: %v %s", err, errb)
	}
	sb.sesame("", "secret", "delete", "--yes", "v19")
	var m map[string]string
	if err := json.Unmarshal(sb.sesame("", "export", "-f", "json"), &m); err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if i == 19 {
			continue
		}
		if got := m[fmt.Sprintf("V%02d", i)]; got != string(v) {
			t.Errorf("json value %d: %q, want %q", i, trunc([]byte(got)), trunc(v))
		}
	}
	// A NUL byte cannot be in a shell variable: refused, not truncated.
	sb.setBytes("default", "nul", []byte("a\x00b"))
	if _, errb, err := sb.try("", "export", "-f", "shell"); err == nil || !bytes.Contains(errb, []byte("NUL")) {
		t.Fatalf("shell export of a NUL: %v %s", err, errb)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// TestSecretsRoleKilledMidWrites: SIGKILL the secrets role while 1,000 writes are being
// acknowledged; after the supervisor restarts it, every acknowledged write is there.
func TestSecretsRoleKilledMidWrites(t *testing.T) {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	ctx := context.Background()
	value := func(i int) []byte { return []byte(fmt.Sprintf("value-%04d-%x", i, i*7919)) }
	acked := map[int]bool{}
	killed, errorsSeen := false, 0
	cl := sb.dial()
	for i := 0; i < 1000; {
		if i == 300 && !killed {
			pid := sb.status()["secrets"]
			if pid == 0 {
				t.Fatal("no secrets pid")
			}
			syscall.Kill(int(pid), syscall.SIGKILL)
			killed = true
		}
		err := setVia(ctx, cl, "default", fmt.Sprintf("k%04d", i), value(i))
		if err == nil {
			acked[i] = true
			i++
			continue
		}
		// While the role is down or locked: clear errors, then retry.
		errorsSeen++
		switch bus.ErrCode(err) {
		case bus.CodeUnavailable:
			time.Sleep(20 * time.Millisecond)
			cl.Close()
			cl = sb.dial() // a fresh hello carries the restarted role's seal key
		case bus.CodeLocked:
			sb.sesame("pw\n", "unlock")
		case bus.CodeBadRequest:
			// sealed to the previous process's key
			cl.Close()
			cl = sb.dial()
		default:
			t.Fatalf("write %d: unexpected error %v (%s)", i, err, bus.ErrCode(err))
		}
		if errorsSeen > 500 {
			t.Fatalf("role never came back: %v", err)
		}
	}
	if !killed || errorsSeen == 0 {
		t.Fatalf("the kill was not observed (killed=%v errors=%d)", killed, errorsSeen)
	}
	got := map[string][]byte{}
	buf, ents := getAll(t, cl, "default")
	defer buf.Destroy()
	for _, e := range ents {
		got[e.Name] = e.Value
	}
	for i := range acked {
		if v := got[fmt.Sprintf("k%04d", i)]; !bytes.Equal(v, value(i)) {
			t.Fatalf("acknowledged write %d lost or wrong: %q", i, v)
		}
	}
	if len(acked) != 1000 {
		t.Fatalf("%d acknowledged", len(acked))
	}
}

func setVia(ctx context.Context, cl *bus.Client, profile, name string, value []byte) error {
	k, ok := cl.SealKey("secrets")
	if !ok {
		return bus.Errorf(bus.CodeUnavailable, "no seal key")
	}
	sealed, err := bus.Seal(k, api.AD(api.SecretsSet, profile, name), value)
	if err != nil {
		return err
	}
	return cl.Call(ctx, api.SecretsSet, profile, &api.SetRequest{Name: name, Sealed: sealed}, nil)
}

type destroyer interface{ Destroy() }

func getAll(t *testing.T, cl *bus.Client, profile string) (destroyer, []api.Entry) {
	t.Helper()
	kp, err := bus.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	defer kp.Destroy()
	var r api.GetReply
	if err := cl.Call(context.Background(), api.SecretsGet, profile, &api.GetRequest{All: true, ReplyKey: kp.Public}, &r); err != nil {
		t.Fatal(err)
	}
	buf, err := bus.Open(kp, api.AD(api.SecretsGet, profile), r.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := api.DecodeEntries(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return buf, ents
}

// TestNoPlaintextOnDisk: after a workload, no file sesame wrote (vaults, WAL, logs, runtime
// files) contains a secret name or value.
func TestNoPlaintextOnDisk(t *testing.T) {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	var names, values [][]byte
	for i := range 50 {
		name := fmt.Sprintf("zebra-name-%03d", i)
		val := []byte(fmt.Sprintf("quokka-value-%03d-end", i))
		sb.setBytes("default", name, val)
		names, values = append(names, []byte(name)), append(values, val)
		if i%3 == 0 {
			sb.setBytes("default", name, append(val, "-overwritten"...))
		}
		if i%7 == 0 {
			sb.sesame("", "secret", "delete", "--yes", name)
		}
	}
	sb.sesame("", "export", "-f", "json")
	sb.sesame("", "env", "--", "true")
	sb.sesame("", "lock")
	// Values appear nowhere; names appear only in the audit log (which records them, by
	// design), not in the vaults, the WAL, the runtime directory or a log.
	audit := filepath.Join(sb.home, ".local", "state", "sesame", "audit")
	for _, root := range []string{sb.home, sb.run} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			b, _ := os.ReadFile(p)
			needles := values
			if !strings.HasPrefix(p, audit) {
				needles = append(append([][]byte{}, values...), names...)
			}
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s contains %q", p, n)
				}
			}
			return nil
		})
	}
}

// TestSupervisorRestarts: a killed role comes back with a new pid; a killed hub comes back
// and the roles reconnect behind it.
func TestSupervisorRestarts(t *testing.T) {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	sb.setBytes("default", "k", []byte("v"))
	before := sb.status()
	syscall.Kill(int(before["secrets"]), syscall.SIGKILL)
	waitFor(t, func() bool {
		now := sb.status()
		return now["secrets"] != 0 && now["secrets"] != before["secrets"]
	})
	// Restarted means locked again; unlock and read.
	_, errb, err := sb.try("", "secret", "get", "k")
	if err == nil || !bytes.Contains(errb, []byte("locked")) {
		t.Fatalf("after restart: %v %s", err, errb)
	}
	sb.sesame("pw\n", "unlock")
	if got := sb.sesame("", "secret", "get", "k"); string(got) != "v" {
		t.Fatalf("got %q", got)
	}

	// Kill the hub: it is restarted; the secrets role reconnects.
	syscall.Kill(int(before["hub"]), syscall.SIGKILL)
	waitFor(t, func() bool {
		now := sb.status()
		return now["hub"] != 0 && now["hub"] != before["hub"] && now["secrets"] != 0
	})
	sb.sesame("pw\n", "unlock")
	if got := sb.sesame("", "secret", "get", "k"); string(got) != "v" {
		t.Fatalf("got %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClientCannotWriteAudit: hub.audit is for roles only; nothing a client says is logged.
func TestClientCannotWriteAudit(t *testing.T) {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	cl := sb.dial()
	err := cl.Call(context.Background(), api.HubAudit, "", &api.AuditEvent{Event: "secret.get", Profile: "default", Name: "forged", OK: true}, nil)
	if bus.ErrCode(err) != bus.CodeDenied {
		t.Fatalf("client audit event: %v", err)
	}
	out := sb.sesame("", "audit", "tail", "--json", "-n", "1000")
	if bytes.Contains(out, []byte("forged")) {
		t.Fatal("a client's event reached the log")
	}
	sb.sesame("", "audit", "verify")
}

// TestUnlockBackoffSurvivesRestart: failed unlocks back off 1 s, 2 s, 4 s…; the count is kept
// across a restart of the secrets role; success resets it.
func TestUnlockBackoffSurvivesRestart(t *testing.T) {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	sb.sesame("", "lock")
	fail := func(want string) {
		t.Helper()
		_, errb, err := sb.try("wrong\n", "unlock")
		if err == nil || !bytes.Contains(errb, []byte(want)) {
			t.Fatalf("want %q, got %v %s", want, err, errb)
		}
	}
	fail("incorrect password") // 1st failure: 1 s
	fail("try again in")       // refused without trying
	time.Sleep(1100 * time.Millisecond)
	fail("incorrect password") // 2nd: 2 s
	fail("try again in 2s")
	// Restart the secrets role in the middle of the delay.
	pid := sb.status()["secrets"]
	syscall.Kill(int(pid), syscall.SIGKILL)
	waitFor(t, func() bool { p := sb.status()["secrets"]; return p != 0 && p != pid })
	// Even the right password is not tried before the delay is over.
	_, errb, err := sb.try("pw\n", "unlock")
	if err == nil || !bytes.Contains(errb, []byte("try again in")) {
		t.Fatalf("delay lost across restart: %v %s", err, errb)
	}
	time.Sleep(2100 * time.Millisecond)
	sb.sesame("pw\n", "unlock")
	// Reset: the next failure waits 1 s again, not 4.
	sb.sesame("", "lock")
	fail("incorrect password")
	time.Sleep(1100 * time.Millisecond)
	fail("incorrect password")
	out := sb.sesame("", "audit", "tail", "--json", "-n", "1000")
	if n := bytes.Count(out, []byte(`"event":"unlock"`)); n < 5 {
		t.Fatalf("%d unlock events audited", n)
	}
}
