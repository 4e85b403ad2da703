package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-sesame/sesame/roles/api"
)

// launchSandbox is a sesame with a "default" profile holding two secrets, one desktop entry
// (envdump) that records what it was started with and then sleeps, and a launch profile that
// injects a secret and sets a variable.
type launchSandbox struct {
	*sandbox
	apps string // XDG_DATA_HOME/applications
	dump string // where envdump writes
}

func newLaunchSandbox(t *testing.T) *launchSandbox {
	t.Helper()
	sb := newSandbox(t)
	ls := &launchSandbox{sandbox: sb, dump: t.TempDir()}
	data := filepath.Join(sb.home, "data")
	ls.apps = filepath.Join(data, "applications")
	bin := filepath.Join(sb.home, "bin")
	for _, d := range []string{ls.apps, bin, filepath.Join(sb.home, ".config", "sesame")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The dump: the exact environment the program was started with (its shell's initial
	// environ, which the shell does not change), its sandbox state, whether it can read a
	// file that no role's Landlock rules allow, then it waits to be killed.
	script := fmt.Sprintf(`#!/bin/sh
d=%q
echo "$$" > "$d/pid"
cat /proc/$$/environ > "$d/environ"
grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status > "$d/status"
cat "$d/outside" > "$d/outside.read" 2>&1
echo "$@" > "$d/args"
echo done > "$d/ready"
exec sleep 300
`, ls.dump)
	if err := os.WriteFile(filepath.Join(bin, "envdump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ls.dump, "outside"), []byte("outside-any-sandbox"), 0o600)
	os.WriteFile(filepath.Join(ls.apps, "envdump.desktop"), []byte("[Desktop Entry]\nType=Application\nName=Env Dump\nExec=envdump %U\n"), 0o644)
	os.WriteFile(filepath.Join(sb.home, ".config", "sesame", "config.toml"), []byte(`
[profiles.default.launch.dev]
env = { MODE = "dev", EMPTY = "" }
secrets = ["api-key", "db.password"]
`), 0o600)
	sb.env = append(sb.env, "XDG_DATA_HOME="+data, "XDG_DATA_DIRS="+filepath.Join(sb.home, "none"),
		"PATH="+bin+":"+os.Getenv("PATH"))
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	sb.setBytes("default", "api-key", []byte("s3cr3t"))
	sb.setBytes("default", "db.password", []byte("p4ss word\nwith newline"))
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(ls.dump, "pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return ls
}

// waitEntry waits until the launcher has indexed a desktop file written after it started.
func (ls *launchSandbox) waitEntry(t *testing.T, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, _, _ := ls.try("", "launch", "search", "-n", "1000", "--json")
		if bytes.Contains(out, []byte(`"id":"`+id+`"`)) {
			return
		}
	}
	t.Fatalf("%s: never indexed", id)
}

// waitFile waits for a file the launched program writes.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b
		}
	}
	t.Fatalf("%s: never written", path)
	return nil
}

func (ls *launchSandbox) childPID(t *testing.T) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(string(waitFile(t, filepath.Join(ls.dump, "pid")))))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestLaunchEnvironment: the launched program gets exactly the composed environment — the
// caller's, minus sesame's own variables, plus the launch profile's variables, sesame's
// SESAME_PROFILES and SESAME_APP_ID, and the secrets under their `sesame env` names — runs
// with no seccomp filter, no no_new_privs and no Landlock domain, and is audited.
func TestLaunchEnvironment(t *testing.T) {
	ls := newLaunchSandbox(t)
	// Variables the caller has that the child must not get, or must get replaced.
	caller := append(slices.Clone(ls.env), "SESAME_NO_AUTOSTART=0", "SESAME_PROFILES=default", "SESAME_IDLE_LOCK=1h", "MODE=from-caller", "KEEP_ME=yes")
	cmd := exec.Command(ls.bin, "launch", "run", "--tag", "dev", "envdump", "--", "arg one")
	cmd.Env = caller
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("launch: %v\n%s", err, errb.Bytes())
	}
	waitFile(t, filepath.Join(ls.dump, "ready"))
	got := strings.Split(strings.TrimSuffix(string(waitFile(t, filepath.Join(ls.dump, "environ"))), "\x00"), "\x00")
	want := map[string]string{}
	for _, kv := range caller {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "SESAME_") {
			want[k] = v
		}
	}
	want["MODE"] = "dev"
	want["EMPTY"] = ""
	want["SESAME_PROFILES"] = "default"
	want["SESAME_APP_ID"] = "envdump.desktop"
	want["API_KEY"] = "s3cr3t"
	want["DB_PASSWORD"] = "p4ss word\nwith newline"
	want["PWD"] = ls.home // the launch runs in the home directory; Go keeps PWD true
	gotMap := map[string]string{}
	for _, kv := range got {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := gotMap[k]; dup {
			t.Errorf("%s is set twice", k)
		}
		gotMap[k] = v
	}
	if _, ok := want["PWD"]; ok {
		if _, has := gotMap["PWD"]; !has {
			delete(want, "PWD")
		}
	}
	for k, v := range want {
		if g, ok := gotMap[k]; !ok || g != v {
			t.Errorf("$%s = %q (set %v), want %q", k, g, ok, v)
		}
	}
	fromCaller := map[string]bool{}
	for _, kv := range caller {
		k, _, _ := strings.Cut(kv, "=")
		fromCaller[k] = true
	}
	for k, v := range gotMap {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected $%s=%q", k, v)
		}
		// What sesame added (not the caller's own PATH, HOME…) is never a denylisted
		// variable, except sesame's own two.
		if !fromCaller[k] && api.Denied(k) && k != "SESAME_PROFILES" && k != "SESAME_APP_ID" && k != "PWD" {
			t.Errorf("denylisted $%s set", k)
		}
	}
	status := string(waitFile(t, filepath.Join(ls.dump, "status")))
	if !regexp.MustCompile(`(?m)^Seccomp:\s+0$`).MatchString(status) || !regexp.MustCompile(`(?m)^NoNewPrivs:\s+0$`).MatchString(status) {
		t.Errorf("the child is sandboxed:\n%s", status)
	}
	// A Landlock domain would stop it reading a file under a directory no role's rules name.
	if b := waitFile(t, filepath.Join(ls.dump, "outside.read")); string(b) != "outside-any-sandbox" {
		t.Errorf("the child cannot read outside any sandbox: %q", b)
	}
	if b := waitFile(t, filepath.Join(ls.dump, "args")); string(b) != "arg one\n" {
		t.Errorf("args: %q", b)
	}
	if !regexp.MustCompile(`launched Env Dump \(envdump.desktop\), pid \d+`).Match(errb.Bytes()) {
		t.Errorf("stderr: %s", errb.Bytes())
	}
	// The session is its own: not this test's, not the supervisor's.
	pid := ls.childPID(t)
	if sid, _ := syscall.Getpgid(pid); sid == syscall.Getpgrp() {
		t.Errorf("the child is in the test's process group")
	}
	out := ls.sesame("", "audit", "tail")
	line := regexp.MustCompile(`(?m)^.*launcher +launch +profile=default names="default:api-key", "default:db.password" .* ok$`).Find(out)
	for _, d := range []string{" app=envdump.desktop", " pids=" + strconv.Itoa(pid), " tags=default:dev"} {
		if !bytes.Contains(line, []byte(d)) {
			t.Errorf("audit has no launch line with %q:\n%s", d, out)
		}
	}
}

// TestLaunchSurvivesRoles: a launched program is nobody's child but init's: it outlives the
// launcher role being killed (and restarted by the supervisor) and `sesame down`.
func TestLaunchSurvivesRoles(t *testing.T) {
	ls := newLaunchSandbox(t)
	ls.sesame("", "launch", "run", "envdump")
	pid := ls.childPID(t)
	st := ls.status()
	lp := st["launcher"]
	if lp == 0 {
		t.Fatalf("launcher not running: %v", st)
	}
	if err := syscall.Kill(int(lp), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if p := ls.status()["launcher"]; p != 0 && p != lp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the launcher role was not restarted")
		}
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the launched program died with the launcher role: %v", err)
	}
	// Its parent is not the role, nor the supervisor.
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if ppid, _ := strconv.Atoi(fields[1]); ppid == int(lp) {
		t.Errorf("parent is the launcher role")
	}
	// The restarted role still knows the launch (frecency on disk).
	var hits []struct {
		ID       string  `json:"id"`
		Frecency float64 `json:"frecency"`
	}
	out := ls.sesame("", "launch", "search", "--json", "envdump")
	if err := json.Unmarshal(out, &hits); err != nil || len(hits) != 1 || hits[0].Frecency < 0.99 {
		t.Errorf("after restart: %s", out)
	}
	ls.sesame("", "down")
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the launched program died with sesame down: %v", err)
	}
}

// TestLaunchScope: with a systemd user manager reachable, the program runs through
// `systemd-run --user --scope` in a unit named app-sesame-ID-N.scope. The manager here is a
// stand-in: a socket where systemd's private socket would be, and a systemd-run that records
// its arguments and runs the command as the real one does with --scope.
func TestLaunchScope(t *testing.T) {
	ls := newLaunchSandbox(t)
	priv := filepath.Join(ls.run, "systemd", "private")
	os.MkdirAll(filepath.Dir(priv), 0o700)
	ln, err := net.Listen("unix", priv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Without a session bus, no scope: systemd-run --user --scope needs one.
	ls.env = append(ls.env, "DBUS_SESSION_BUS_ADDRESS=")
	if out := ls.sesame("", "launch", "run", "--dry-run", "envdump"); !bytes.Contains(out, []byte(`"scope": false`)) {
		t.Errorf("scope without a session bus: %s", out)
	}
	busLn, err := net.Listen("unix", filepath.Join(ls.run, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer busLn.Close()
	bin := filepath.Join(ls.home, "bin")
	fake := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %q\nwhile [ \"$1\" != -- ]; do shift; done\nshift\nexec \"$@\"\n", filepath.Join(ls.dump, "systemd-run.args"))
	os.WriteFile(filepath.Join(bin, "systemd-run"), []byte(fake), 0o755)
	os.WriteFile(filepath.Join(ls.apps, "org.example.My-App.desktop"), []byte("[Desktop Entry]\nType=Application\nName=My App\nExec=envdump\n"), 0o644)
	ls.waitEntry(t, "org.example.My-App.desktop")
	out := ls.sesame("", "launch", "run", "--dry-run", "org.example.My-App")
	if !bytes.Contains(out, []byte(`"scope": true`)) {
		t.Errorf("dry run: %s", out)
	}
	_, errb, err := ls.try("", "launch", "run", "org.example.My-App")
	if err != nil {
		t.Fatalf("%v %s", err, errb)
	}
	args := strings.Split(strings.TrimSpace(string(waitFile(t, filepath.Join(ls.dump, "systemd-run.args")))), "\n")
	re := regexp.MustCompile(`^--unit=app-sesame-org\.example\.My\\x2dApp-\d+\.scope$`)
	if len(args) < 8 || !slices.Equal(args[:5], []string{"--user", "--scope", "--quiet", "--collect", args[4]}) || !re.MatchString(args[4]) ||
		args[5] != "--description=My App" || args[6] != "--" || args[7] != "envdump" {
		t.Errorf("systemd-run %q", args)
	}
	waitFile(t, filepath.Join(ls.dump, "ready"))
	if !bytes.Contains(errb, []byte("in app-sesame-org.example.My\\x2dApp-")) {
		t.Errorf("stderr: %s", errb)
	}
}

// TestLaunchPicker drives `sesame launch` in a real terminal (tmux): typing filters, the
// arrow keys move, Enter launches the selection; Escape leaves with status 130.
func TestLaunchPicker(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	ls := newLaunchSandbox(t)
	os.WriteFile(filepath.Join(ls.apps, "dumb.desktop"), []byte("[Desktop Entry]\nType=Application\nName=Dumb Other\nExec=false\n"), 0o644)
	ls.waitEntry(t, "dumb.desktop")
	sock := filepath.Join(ls.run, "tmux.sock")
	first := sock
	t.Cleanup(func() { exec.Command("tmux", "-S", first, "kill-server").Run() })
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v %s", args, err, out)
		}
		return string(out)
	}
	var envArgs []string
	for _, kv := range ls.env {
		envArgs = append(envArgs, shellQuote(kv))
	}
	status := filepath.Join(ls.dump, "picker.status")
	shell := "env -i " + strings.Join(envArgs, " ") + " TERM=xterm-256color " + shellQuote(ls.bin) + " launch --tag dev; echo $? > " + shellQuote(status) + "; sleep 60"
	tmux("new-session", "-d", "-x", "100", "-y", "20", "sh", "-c", shell)
	screen := func(want string) string {
		t.Helper()
		var s string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			s = tmux("capture-pane", "-p")
			if strings.Contains(s, want) {
				return s
			}
		}
		t.Fatalf("the screen never showed %q:\n%s", want, s)
		return ""
	}
	screen("launch (default)>")
	tmux("send-keys", "-l", "dum")
	s := screen("launch (default)> dum")
	if !regexp.MustCompile(`(?m)^▌ Env Dump`).MatchString(s) || !regexp.MustCompile(`(?m)^  Dumb Other`).MatchString(s) || !strings.Contains(s, "2/2") {
		t.Fatalf("after typing:\n%s", s)
	}
	tmux("send-keys", "Down")
	screen("▌ Dumb Other")
	tmux("send-keys", "Up")
	screen("▌ Env Dump")
	tmux("send-keys", "Enter")
	waitFile(t, filepath.Join(ls.dump, "ready"))
	if got := strings.TrimSpace(string(waitFile(t, status))); got != "0" {
		t.Errorf("exit status %s", got)
	}
	env := string(waitFile(t, filepath.Join(ls.dump, "environ")))
	if !strings.Contains(env, "API_KEY=s3cr3t\x00") || !strings.Contains(env, "MODE=dev\x00") {
		t.Errorf("the picker's launch did not apply --tag dev: %q", env)
	}
	// Escape cancels. (A second server on its own socket: a new session on the socket of a
	// server that is still shutting down can fail.)
	os.Remove(status)
	exec.Command("tmux", "-S", sock, "kill-server").Run()
	sock = filepath.Join(ls.run, "tmux2.sock")
	second := sock
	t.Cleanup(func() { exec.Command("tmux", "-S", second, "kill-server").Run() })
	tmux("new-session", "-d", "-x", "100", "-y", "20", "sh", "-c", shell)
	screen("launch (default)>")
	tmux("send-keys", "-l", "zzzz")
	screen("0/")
	tmux("send-keys", "Escape")
	if got := strings.TrimSpace(string(waitFile(t, status))); got != "130" {
		t.Errorf("exit status after Escape: %s", got)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// tenK writes 10,000 desktop entries named as bench/peers.sh names its fzf lines
// ("org.example.app-N/Application N launcher entry") and the same lines for fzf.
func tenK(b *testing.B, sb *sandbox) (names string) {
	b.Helper()
	data := filepath.Join(sb.home, "bench-data")
	apps := filepath.Join(data, "applications")
	os.MkdirAll(apps, 0o755)
	var lines bytes.Buffer
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&lines, "org.example.app-%d/Application %d launcher entry\n", i, i)
		entry := fmt.Sprintf("[Desktop Entry]\nType=Application\nName=Application %d launcher entry\nExec=app-%d\n", i, i)
		if err := os.WriteFile(filepath.Join(apps, fmt.Sprintf("org.example.app-%d.desktop", i)), []byte(entry), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	names = filepath.Join(sb.home, "names.txt")
	os.WriteFile(names, lines.Bytes(), 0o644)
	sb.env = append(sb.env, "XDG_DATA_HOME="+data, "XDG_DATA_DIRS="+filepath.Join(sb.home, "none"))
	return names
}

// BenchmarkProcessLaunchSearch10k is `sesame launch search appl42` as a whole process (start,
// connect to the hub, a search over 10,000 entries in the launcher role, print), to compare
// with BenchmarkProcessFzfFilter10k on the same names.
func BenchmarkProcessLaunchSearch10k(b *testing.B) {
	sb := newSandbox(b)
	sb.bin = realBinary(b)
	tenK(b, sb)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _, _ := sb.try("", "launch", "status", "--json")
		if bytes.Contains(out, []byte(`"entries":10000`)) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the launcher did not index 10k entries: %s", out)
		}
	}
	out := sb.sesame("", "launch", "search", "-n", "1", "appl42")
	if !bytes.HasPrefix(out, []byte("org.example.app-42.desktop")) {
		b.Fatalf("first hit: %s", out)
	}
	benchRun(b, sb, "launch", "search", "appl42")
}

// BenchmarkProcessFzfFilter10k is `fzf --filter=appl42` over the same 10,000 names (its
// input from a file, no shell in between).
func BenchmarkProcessFzfFilter10k(b *testing.B) {
	if _, err := exec.LookPath("fzf"); err != nil {
		b.Skip("fzf is not installed")
	}
	sb := newSandbox(b)
	names := tenK(b, sb)
	for b.Loop() {
		f, err := os.Open(names)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("fzf", "--filter=appl42")
		cmd.Stdin = f
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// TestLaunchPickerNeedsTerminal: without a terminal (here: a new session, so no controlling
// one) the picker says what to use instead.
func TestLaunchPickerNeedsTerminal(t *testing.T) {
	ls := newLaunchSandbox(t)
	cmd := exec.Command(ls.bin, "launch")
	cmd.Env = ls.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("the picker needs a terminal")) || !bytes.Contains(out, []byte("hint: without one: sesame launch search QUERY")) {
		t.Errorf("%v: %s", err, out)
	}
}
