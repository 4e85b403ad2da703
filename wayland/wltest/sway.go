package wltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-sesame/sesame/internal/syncbuf"
)

// User is the unprivileged account sway runs as: sway refuses to run as root.
const User = "sesametest"

// Sway is a headless sway compositor started for one test, as User. Root clients (the test,
// the roles under test, wtype, wl-copy, grim) connect to it with Env.
type Sway struct {
	t       testing.TB
	Runtime string // its XDG_RUNTIME_DIR
	Display string // WAYLAND_DISPLAY
	Sock    string // SWAYSOCK
	Log     string // sway's log file
	cred    *syscall.Credential
	home    string
	cmd     *exec.Cmd
}

// StartSway starts sway headless at 1280×720 with extraConfig appended to its config, and
// stops it (and everything started through it) when the test ends. It skips the test, saying
// why, when sway cannot run here (not installed, not root, no way to make the user).
func StartSway(t testing.TB, extraConfig ...string) *Sway {
	t.Helper()
	if _, err := exec.LookPath("sway"); err != nil {
		t.Skip("sway is not installed (make deps-test installs it): skipping the Wayland integration test")
	}
	if os.Geteuid() != 0 {
		t.Skip("the sway test bed needs root (to run sway as an unprivileged user): skipping")
	}
	u, err := user.Lookup(User)
	if err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", User).CombinedOutput(); err != nil {
			t.Skipf("cannot create the user %s for sway: %v: %s", User, err, out)
		}
		if u, err = user.Lookup(User); err != nil {
			t.Skipf("user %s: %v", User, err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s := &Sway{t: t, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	rt, err := os.MkdirTemp("", "sway-rt")
	if err != nil {
		t.Fatal(err)
	}
	s.Runtime = rt
	s.home = filepath.Join(rt, "home")
	os.MkdirAll(s.home, 0o700)
	for _, d := range []string{rt, s.home} {
		os.Chown(d, uid, gid)
		os.Chmod(d, 0o700)
	}
	cfg := filepath.Join(rt, "sway.cfg")
	conf := "output HEADLESS-1 resolution 1280x720\nxwayland disable\ndefault_border none\n" + strings.Join(extraConfig, "\n") + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Log = filepath.Join(rt, "sway.log")
	logf, err := os.Create(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	os.Chown(s.Log, uid, gid)
	cmd := exec.Command("sway", "-c", cfg)
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + s.home,
		"XDG_RUNTIME_DIR=" + rt,
		"WLR_BACKENDS=headless",
		"WLR_LIBINPUT_NO_DEVICES=1",
		"WLR_RENDERER=pixman",
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sway: %v", err)
	}
	s.cmd = cmd
	t.Cleanup(s.stop)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		socks, _ := filepath.Glob(filepath.Join(rt, "sway-ipc.*.sock"))
		if _, err := os.Stat(filepath.Join(rt, "wayland-1")); err == nil && len(socks) > 0 {
			s.Display, s.Sock = "wayland-1", socks[0]
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(s.Log)
			t.Skipf("sway exited at start; its log:\n%s", tail(log, 3000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.Log)
			t.Skipf("sway did not open its sockets in 15 s; its log:\n%s", tail(log, 3000))
		}
	}
	// Ready when it answers IPC.
	for time.Now().Before(deadline) {
		if _, err := s.Msg("-t", "get_version"); err == nil {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Skip("sway does not answer swaymsg")
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (s *Sway) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		// sway's own children (exec from bindings, as the same user) are in its group.
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for syscall.Kill(s.cmd.Process.Pid, 0) == nil {
				time.Sleep(10 * time.Millisecond)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	if s.t.Failed() {
		if log, err := os.ReadFile(s.Log); err == nil {
			s.t.Logf("sway log (tail):\n%s", tail(log, 4000))
		}
	}
	os.RemoveAll(s.Runtime)
}

// Env is the environment a root client needs to reach this compositor.
func (s *Sway) Env() []string {
	return []string{"XDG_RUNTIME_DIR=" + s.Runtime, "WAYLAND_DISPLAY=" + s.Display, "SWAYSOCK=" + s.Sock}
}

// Getenv is Env as a lookup function.
func (s *Sway) Getenv(k string) string {
	for _, kv := range s.Env() {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

// Command prepares a root client of this compositor.
func (s *Sway) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), s.Env()...)
	return cmd
}

// Msg runs swaymsg and returns its output.
func (s *Sway) Msg(args ...string) ([]byte, error) {
	out, err := s.Command("swaymsg", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("swaymsg %v: %v: %s", args, err, out)
	}
	return out, nil
}

// UserEnv is the environment of a program of the session: the compositor's user, its
// runtime directory and display, and $HOME/bin first on PATH.
func (s *Sway) UserEnv() []string {
	return []string{
		"PATH=" + filepath.Join(s.home, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + s.home, "XDG_RUNTIME_DIR=" + s.Runtime, "WAYLAND_DISPLAY=" + s.Display,
		"SWAYSOCK=" + s.Sock, "TERM=xterm-256color", "LANG=C.UTF-8",
	}
}

// UserCommand prepares a program of the session, run as the compositor's user.
func (s *Sway) UserCommand(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if p, err := exec.LookPath(filepath.Join(s.home, "bin", name)); err == nil && !strings.Contains(name, "/") {
		cmd = exec.Command(p, args...)
	}
	cmd.Env = s.UserEnv()
	cmd.Dir = s.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	return cmd
}

// Run runs a program of the session to its end and returns its output.
func (s *Sway) Run(stdin, name string, args ...string) (stdout, stderr []byte, err error) {
	cmd := s.UserCommand(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// Install copies the executable src into $HOME/bin as names[0], owned by the compositor's
// user, with the other names as symbolic links to it.
func (s *Sway) Install(src string, names ...string) error {
	bin := filepath.Join(s.home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	os.Chown(bin, int(s.cred.Uid), int(s.cred.Gid))
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dst := filepath.Join(bin, names[0])
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	os.Chown(dst, int(s.cred.Uid), int(s.cred.Gid))
	for _, n := range names[1:] {
		os.Remove(filepath.Join(bin, n))
		if err := os.Symlink(names[0], filepath.Join(bin, n)); err != nil {
			return err
		}
	}
	return nil
}

// Start starts a program of the session (as the compositor's user) and stops it, by PID,
// when the test ends.
func (s *Sway) Start(name string, args ...string) *exec.Cmd {
	s.t.Helper()
	cmd := s.UserCommand(name, args...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", name, err)
	}
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("output of %s %v (pid %d):\n%s", name, args, cmd.Process.Pid, tail(out.Bytes(), 6000))
		}
	})
	s.t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		waited := make(chan struct{})
		go func() { cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(3 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
	})
	return cmd
}

// Home is a directory the compositor's user owns (for files its clients write).
func (s *Sway) Home() string { return s.home }

// Foot opens a foot terminal with app id appID running argv (default: a long sleep), and
// waits until sway shows it.
func (s *Sway) Foot(appID string, argv ...string) *exec.Cmd {
	s.t.Helper()
	if len(argv) == 0 {
		argv = []string{"sleep", "3600"}
	}
	cmd := s.Start("foot", append([]string{"--app-id=" + appID, "--title=" + appID}, argv...)...)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := s.Window(appID); err == nil && n != nil {
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("foot %s did not appear in sway's tree", appID)
	return nil
}

// Node is a window in sway's tree.
type Node struct {
	ID      int64  `json:"id"`
	AppID   string `json:"app_id"`
	Name    string `json:"name"`
	Focused bool   `json:"focused"`
	PID     int    `json:"pid"`
	Nodes   []Node `json:"nodes"`
	Float   []Node `json:"floating_nodes"`
}

// Windows returns the application windows in sway's tree.
func (s *Sway) Windows() ([]Node, error) {
	out, err := s.Msg("-t", "get_tree", "-r")
	if err != nil {
		return nil, err
	}
	var root Node
	if err := json.Unmarshal(out, &root); err != nil {
		return nil, err
	}
	var ws []Node
	var walk func(n Node)
	walk = func(n Node) {
		if n.AppID != "" {
			ws = append(ws, n)
		}
		for _, c := range n.Nodes {
			walk(c)
		}
		for _, c := range n.Float {
			walk(c)
		}
	}
	walk(root)
	return ws, nil
}

// Window returns the window with appID, or nil.
func (s *Sway) Window(appID string) (*Node, error) {
	ws, err := s.Windows()
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		if w.AppID == appID {
			return &w, nil
		}
	}
	return nil, nil
}

// Focused returns the app id of the focused window ("" when none).
func (s *Sway) Focused() string {
	ws, err := s.Windows()
	if err != nil {
		return ""
	}
	for _, w := range ws {
		if w.Focused {
			return w.AppID
		}
	}
	return ""
}

// WaitFocused waits until appID has the focus.
func (s *Sway) WaitFocused(appID string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if s.Focused() == appID {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("focus is on %q, not %q", s.Focused(), appID)
}

// Focus gives appID the focus through sway itself.
func (s *Sway) Focus(appID string) error {
	_, err := s.Msg(fmt.Sprintf("[app_id=%q] focus", appID))
	if err != nil {
		return err
	}
	return s.WaitFocused(appID, 5*time.Second)
}

// Need skips the test when one of the tools is missing.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make deps-test installs it): skipping", tool)
		}
	}
}
