package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/open-sesame/sesame/bus"
	"golang.org/x/sys/unix"
)

// Proof by test: each role's policy, applied for real in a child process (this test binary
// re-executed to run one test, as go-landlock's lltest does: a sandbox cannot be undone, so
// the test process itself must never apply one). The parent plays `sesame up`: it makes the
// directories of a fake user, passes the seccomp link, runs Watch, and reads what the child
// did and what Watch logged.

// childEnv names the test a re-executed binary runs as the sandboxed child.
const childEnv = "SESAME_SANDBOX_TEST_CHILD"

// inChild reports whether this process is the child of the running test.
func inChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// world is a fake user's files.
type world struct {
	home, data, state, config, run, rdir string
	sshKey, vaults, vault                string
	busSock, notifySock                  string
	// sysData is an $XDG_DATA_DIRS entry (like /usr/share); wayland the compositor's socket.
	sysData, wayland string
	// sysBus is the D-Bus system bus's socket, which the SSID probe dials.
	sysBus string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	// Unix socket paths are limited to 108 bytes: keep the tree short.
	tmp, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	w := &world{home: filepath.Join(tmp, "h"), run: filepath.Join(tmp, "r")}
	w.data = filepath.Join(w.home, ".local/share")
	w.state = filepath.Join(w.home, ".local/state")
	w.config = filepath.Join(w.home, ".config")
	w.rdir = filepath.Join(w.run, "sesame")
	w.sshKey = filepath.Join(w.home, ".ssh/id_ed25519")
	w.vaults = filepath.Join(w.data, "sesame/vaults")
	w.vault = filepath.Join(w.vaults, "default.db")
	w.busSock = filepath.Join(w.rdir, "bus.sock")
	w.notifySock = filepath.Join(tmp, "notify")
	w.sysData = filepath.Join(tmp, "usr/share")
	w.wayland = filepath.Join(w.run, "wayland-0")
	w.sysBus = filepath.Join(tmp, "system_bus")
	for _, d := range []string{filepath.Dir(w.sshKey), w.vaults, w.state, filepath.Join(w.rdir, "keys"), filepath.Join(w.config, "sesame"),
		filepath.Join(w.data, "applications"), filepath.Join(w.sysData, "applications"), filepath.Join(w.data, "fonts"),
		filepath.Join(w.state, "sesame"), filepath.Join(w.data, "sesame/snippets")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for path, body := range map[string]string{w.sshKey: "-----BEGIN OPENSSH PRIVATE KEY----- fake", w.vault: "SQLite format 3\x00 fake",
		filepath.Join(w.config, "sesame/config.toml"): "# sesame\n", filepath.Join(w.rdir, "keys/secrets.key"): "fake key",
		filepath.Join(w.config, "sesame/wm.toml"): "# wm\n", filepath.Join(w.data, "fonts/Fake.ttf"): "fake font",
		filepath.Join(w.data, "applications/user.desktop"):   "[Desktop Entry]\nName=User\n",
		filepath.Join(w.sysData, "applications/sys.desktop"): "[Desktop Entry]\nName=System\n"} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The compositor: it takes a connection and echoes the descriptors it is sent, as a
	// count, so that a child can see its SCM_RIGHTS message arrive.
	wl, err := net.ListenUnix("unix", &net.UnixAddr{Name: w.wayland, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wl.Close() })
	go func() {
		for {
			c, err := wl.AcceptUnix()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, oob := make([]byte, 64), make([]byte, 64)
				for {
					n, oobn, _, _, err := c.ReadMsgUnix(b, oob)
					if err != nil || n == 0 {
						return
					}
					fds := 0
					if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
						for _, m := range msgs {
							if rights, err := unix.ParseUnixRights(&m); err == nil {
								fds += len(rights)
								for _, fd := range rights {
									unix.Close(fd)
								}
							}
						}
					}
					c.Write([]byte{byte(fds)})
				}
			}()
		}
	}()
	// The system bus: it takes connections and reads what it is sent.
	sb, err := net.ListenUnix("unix", &net.UnixAddr{Name: w.sysBus, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	go func() {
		for {
			c, err := sb.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return w
}

func (w *world) env() []string {
	return []string{"HOME=" + w.home, "XDG_DATA_HOME=" + w.data, "XDG_STATE_HOME=" + w.state,
		"XDG_CONFIG_HOME=" + w.config, "XDG_RUNTIME_DIR=" + w.run, "TMPDIR=" + os.TempDir(),
		"XDG_DATA_DIRS=" + w.sysData, "WAYLAND_DISPLAY=" + w.wayland, "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + w.sysBus}
}

// worldFromEnv is the child's view of the parent's world.
func worldFromEnv() *world {
	home := os.Getenv("HOME")
	w := &world{home: home, data: os.Getenv("XDG_DATA_HOME"), state: os.Getenv("XDG_STATE_HOME"),
		config: os.Getenv("XDG_CONFIG_HOME"), run: os.Getenv("XDG_RUNTIME_DIR")}
	w.rdir = filepath.Join(w.run, "sesame")
	w.sshKey = filepath.Join(home, ".ssh/id_ed25519")
	w.vaults = filepath.Join(w.data, "sesame/vaults")
	w.vault = filepath.Join(w.vaults, "default.db")
	w.busSock = filepath.Join(w.rdir, "bus.sock")
	w.notifySock = os.Getenv("NOTIFY_SOCKET")
	w.sysData, w.wayland = os.Getenv("XDG_DATA_DIRS"), os.Getenv("WAYLAND_DISPLAY")
	w.sysBus = strings.TrimPrefix(os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"), "unix:path=")
	return w
}

func (w *world) dirs() Dirs {
	d := NewDirs(w.rdir, func() (string, error) { return w.data, nil }, func() (string, error) { return w.config, nil },
		func() (string, error) { return w.state, nil })
	d.Home, d.Wayland, d.DataDirs = w.home, w.wayland, []string{w.data, w.sysData}
	d.SystemBus = w.sysBus
	return d
}

// childRun is how the parent ran a child.
type childRun struct {
	out     string // its stdout and stderr
	state   *os.ProcessState
	denials string         // what Watch logged
	tasks   map[int]string // its threads' /proc status, read while it waited
}

// reexec runs the calling test again in a child with env added, as the sandboxed child. With
// supervise, the child gets a seccomp link and the parent runs Watch. When the child prints
// "sandboxed" the parent reads every thread's /proc status, then lets it finish.
func reexec(t *testing.T, env []string, supervise bool) *childRun {
	t.Helper()
	var pat []string
	for _, part := range strings.Split(t.Name(), "/") {
		pat = append(pat, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(pat, "/"), "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+t.Name())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var denials bytes.Buffer
	var mu sync.Mutex
	watched := make(chan struct{})
	if supervise {
		link, child, err := NewLink()
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{child}
		cmd.Env = append(cmd.Env, NotifyFDEnv+"=3")
		defer child.Close() // and right after Start, as the supervisor does
		go func() {
			defer close(watched)
			if err := Watch(context.Background(), link, "sesame-test", lockedWriter{&mu, &denials}); err != nil {
				mu.Lock()
				fmt.Fprintf(&denials, "watch: %v\n", err)
				mu.Unlock()
			}
		}()
	} else {
		close(watched)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range cmd.ExtraFiles {
		f.Close() // the child's copy is its own: the link ends when the child does
	}
	r := &childRun{tasks: map[int]string{}}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if line == "sandboxed" {
				r.tasks = taskStatus(cmd.Process.Pid)
				stdin.Close()
			}
		}
	}()
	err = cmd.Wait()
	pw.Close()
	<-scanned
	stdin.Close()
	select {
	case <-watched:
	case <-time.After(10 * time.Second):
		t.Error("Watch did not return after the child exited")
	}
	r.out, r.state = out.String(), cmd.ProcessState
	mu.Lock()
	r.denials = denials.String()
	mu.Unlock()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// taskStatus reads /proc/PID/task/*/status.
func taskStatus(pid int) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + e.Name() + "/status")
		if err == nil {
			out[tid] = string(b)
		}
	}
	return out
}

// waitForParent tells the parent the sandbox is on and waits until it has looked.
func waitForParent() {
	fmt.Println("sandboxed")
	io.Copy(io.Discard, os.Stdin)
}

// expectErrno checks that err is errno.
func expectErrno(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: %v, want %v", what, err, errno)
	}
}

func rawSyscall(nr uintptr, a ...uintptr) error {
	var args [6]uintptr
	copy(args[:], a)
	_, _, errno := syscall.Syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
	if errno != 0 {
		return errno
	}
	return nil
}

// deniedEverywhere is what no role can do: read the user's keys, write /tmp, run a program,
// open a network socket, use a terminal ioctl, map executable memory.
func deniedEverywhere(t *testing.T, role string, w *world, ppid int) {
	_, err := os.ReadFile(w.sshKey)
	expectErrno(t, "read ~/.ssh/id_ed25519", err, unix.EACCES)
	if role != "secrets" {
		_, err = os.ReadFile(w.vault)
		expectErrno(t, "read a vault", err, unix.EACCES)
		_, err = os.ReadDir(w.vaults)
		expectErrno(t, "list the vaults", err, unix.EACCES)
		err = os.WriteFile(filepath.Join(w.vaults, "evil.db"), nil, 0o600)
		expectErrno(t, "create in the vaults dir", err, unix.EACCES)
	}
	_, err = os.ReadDir(w.home)
	expectErrno(t, "list $HOME", err, unix.EACCES)
	_, err = os.ReadFile("/etc/passwd")
	expectErrno(t, "read /etc/passwd", err, unix.EACCES)
	err = os.WriteFile(filepath.Join(os.TempDir(), "sesame-sandbox-test"), nil, 0o600)
	expectErrno(t, "create a file in $TMPDIR", err, unix.EACCES)
	_, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	expectErrno(t, "socket(AF_INET)", err, unix.EPERM)
	_, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, 0)
	expectErrno(t, "socket(AF_NETLINK)", err, unix.EPERM)
	err = unix.Exec("/bin/true", []string{"true"}, nil)
	expectErrno(t, "execve(/bin/true)", err, unix.EPERM)
	_, err = exec.Command("/bin/true").Output()
	if err == nil {
		t.Error("os/exec started a program")
	}
	_, err = unix.IoctlGetTermios(0, unix.TCGETS)
	expectErrno(t, "ioctl(TCGETS)", err, unix.EPERM)
	fd, err := unix.MemfdCreate("x", unix.MFD_EXEC)
	expectErrno(t, "memfd_create(MFD_EXEC)", err, unix.EPERM)
	if err == nil {
		unix.Close(fd)
	}
	if role != "wm" {
		_, err = unix.MemfdCreate("x", 0)
		expectErrno(t, "memfd_create", err, unix.EPERM)
	}
	_, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
	expectErrno(t, "mmap(PROT_EXEC)", err, unix.EPERM)
	err = unix.Kill(ppid, 0)
	expectErrno(t, "kill(parent, 0)", err, unix.EPERM)
	// A new process, not a thread (CLONE_SIGHAND without CLONE_VM: the kernel would refuse it
	// with EINVAL, so nothing forks even if the filter were missing).
	err = rawSyscall(unix.SYS_CLONE, uintptr(unix.SIGCHLD|unix.CLONE_SIGHAND))
	expectErrno(t, "clone(SIGCHLD)", err, unix.EPERM)
	err = rawSyscall(unix.SYS_CLONE3, 0, 0)
	expectErrno(t, "clone3", err, unix.ENOSYS)
}

// notifyReady sends READY=1 to $NOTIFY_SOCKET as a role under systemd does.
func notifyReady(t *testing.T) {
	sent, err := bus.Notify(os.Getenv, "READY=1")
	if err != nil || !sent {
		t.Errorf("sd_notify READY=1: %v, %v", sent, err)
	}
}

// childChecks runs in the sandboxed child for each role.
func childChecks(t *testing.T, role string, supervised bool) {
	w := worldFromEnv()
	p, err := For(role)
	if err != nil {
		t.Fatal(err)
	}
	// What the role opens before its sandbox, as the real one does.
	var ln *net.UnixListener
	if role == "profile" {
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(w.rdir, "hub.sock"), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
	}
	inotify := -1
	if role == "launcher" { // its watcher, made before the sandbox
		if inotify, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err != nil {
			t.Fatal(err)
		}
	}
	// A thread that exists before the sandbox, to show it is covered too.
	probe := make(chan func())
	go func() {
		runtime.LockOSThread()
		for f := range probe {
			f()
		}
	}()

	ppid, wantABI := os.Getppid(), enforcedABI() // before: neither is allowed after
	lvl, err := Apply(p, w.dirs(), os.Getenv, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if lvl.Landlock != wantABI || lvl.Seccomp != "filter" || !lvl.NoNewPrivs || lvl.Syscalls < 30 {
		t.Errorf("level: %+v", lvl)
	}
	if want := map[bool]string{true: "supervisor", false: "audit"}[supervised]; lvl.Denials != want {
		t.Errorf("denials go to %q, want %q", lvl.Denials, want)
	}
	done := make(chan struct{})
	probe <- func() {
		_, err := os.ReadFile(w.sshKey)
		expectErrno(t, "read ~/.ssh/id_ed25519 from a thread older than the sandbox", err, unix.EACCES)
		close(done)
	}
	<-done

	deniedEverywhere(t, role, w, ppid)
	if role != SSIDProbe.Role { // the probe is no service: it has no NOTIFY_SOCKET
		notifyReady(t)
	}

	switch role {
	case "profile":
		// Allowed: append to the audit log, read peers in /proc, remove the bus socket at
		// exit. Denied: anything else in the runtime dir.
		err := os.WriteFile(filepath.Join(w.rdir, "bus.pub"), []byte("forged\n"), 0o644)
		expectErrno(t, "write in the runtime dir", err, unix.EACCES)
		_, err = os.ReadFile(filepath.Join(w.rdir, "keys/secrets.key"))
		expectErrno(t, "read a role's key in the runtime dir", err, unix.EACCES)
		f, err := os.OpenFile(filepath.Join(w.state, "sesame/audit/audit.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Errorf("open the audit log: %v", err)
		} else {
			f.WriteString("{}\n")
			if err := f.Sync(); err != nil {
				t.Errorf("fsync the audit log: %v", err)
			}
			f.Close()
		}
		if st := Observe("parent", int32(ppid), 0); st.Seccomp != "disabled" {
			t.Errorf("read the parent's /proc status: %+v", st)
		}
		if _, err := os.ReadFile("/proc/stat"); err != nil {
			t.Errorf("read /proc/stat: %v", err)
		}
		if _, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/stat"); err != nil {
			t.Errorf("read the parent's /proc/PID/stat: %v", err)
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/cmdline"); err != nil || len(b) == 0 {
			t.Errorf("read the parent's /proc/PID/cmdline: %v", err)
		}
		// The cost (see the package doc): Landlock scopes ptrace-style access, so another
		// process's executable path is out of reach.
		_, err = os.Readlink("/proc/" + strconv.Itoa(ppid) + "/exe")
		expectErrno(t, "readlink the parent's /proc/PID/exe", err, unix.EACCES)
		if err := ln.Close(); err != nil {
			t.Errorf("close (and unlink) the bus socket: %v", err)
		}
		if _, err := os.ReadFile(filepath.Join(w.config, "sesame/config.toml")); err != nil {
			t.Errorf("read the configuration: %v", err)
		}
		if err := os.WriteFile(filepath.Join(w.state, "sesame/profile/state.json"), []byte("{}\n"), 0o600); err != nil {
			t.Errorf("write the profile state: %v", err)
		}
		err = os.WriteFile(filepath.Join(w.config, "sesame/config.toml"), []byte("evil = 1\n"), 0o600)
		expectErrno(t, "write the configuration", err, unix.EACCES)
		// Denied: the vaults, and dialling anything (the hub only accepts).
		_, err = os.ReadFile(w.vault)
		expectErrno(t, "read a vault", err, unix.EACCES)
		_, err = os.ReadDir(w.vaults)
		expectErrno(t, "list the vaults", err, unix.EACCES)
		_, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		expectErrno(t, "socket(AF_UNIX, SOCK_STREAM)", err, unix.EPERM)
	case "secrets":
		// Allowed: make, write, sync, link, rename, list and remove files in the vaults dir;
		// secret memory; dial the hub.
		tmp := filepath.Join(w.vaults, ".new.db.tmp")
		if err := os.WriteFile(tmp, []byte("vault"), 0o600); err != nil {
			t.Errorf("create in the vaults dir: %v", err)
		}
		if err := os.Link(tmp, filepath.Join(w.vaults, "new.db")); err != nil {
			t.Errorf("link in the vaults dir: %v", err)
		}
		if err := os.Rename(tmp, filepath.Join(w.vaults, "new.throttle")); err != nil {
			t.Errorf("rename in the vaults dir: %v", err)
		}
		if b, err := os.ReadFile(w.vault); err != nil || !bytes.HasPrefix(b, []byte("SQLite")) {
			t.Errorf("read a vault: %v", err)
		}
		if ents, err := os.ReadDir(w.vaults); err != nil || len(ents) != 3 {
			t.Errorf("list the vaults: %d, %v", len(ents), err)
		}
		if err := os.Remove(filepath.Join(w.vaults, "new.db")); err != nil {
			t.Errorf("remove in the vaults dir: %v", err)
		}
		if fd, err := unix.MemfdSecret(unix.O_CLOEXEC); err == nil {
			unix.Close(fd)
		} else if errors.Is(err, unix.EPERM) {
			t.Errorf("memfd_secret: %v", err)
		}
		c, err := net.Dial("unix", w.busSock)
		if err != nil {
			t.Errorf("dial the hub: %v", err)
		} else {
			c.Write([]byte("hello"))
			c.Close()
		}
		// Denied: the runtime dir's files, the audit log.
		err = os.WriteFile(filepath.Join(w.rdir, "bus.pub"), []byte("forged\n"), 0o644)
		expectErrno(t, "write in the runtime dir", err, unix.EACCES)
		_, err = os.ReadFile(filepath.Join(w.rdir, "keys/secrets.key"))
		expectErrno(t, "read a role's key in the runtime dir", err, unix.EACCES)
		_, err = os.ReadDir(w.state)
		expectErrno(t, "list the state dir (audit log)", err, unix.EACCES)
		_, err = os.ReadFile(filepath.Join(w.config, "sesame/config.toml"))
		expectErrno(t, "read the configuration", err, unix.EACCES)
	case "launcher":
		// Allowed: read and watch the desktop entries, read the configuration, stat $PATH
		// (TryExec), keep the frecency database, dial the hub.
		for _, f := range []string{filepath.Join(w.data, "applications/user.desktop"), filepath.Join(w.sysData, "applications/sys.desktop")} {
			if _, err := os.ReadFile(f); err != nil {
				t.Errorf("read a desktop entry: %v", err)
			}
		}
		if ents, err := os.ReadDir(filepath.Join(w.sysData, "applications")); err != nil || len(ents) != 1 {
			t.Errorf("list the system's applications: %d, %v", len(ents), err)
		}
		wd, err := unix.InotifyAddWatch(inotify, filepath.Join(w.sysData, "applications"), unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_TO)
		if err != nil {
			t.Errorf("inotify_add_watch: %v", err)
		} else if _, err := unix.InotifyRmWatch(inotify, uint32(wd)); err != nil {
			t.Errorf("inotify_rm_watch: %v", err)
		}
		unix.Close(inotify)
		if _, err := os.Stat("/usr/bin/env"); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat a program on $PATH (TryExec): %v", err)
		}
		if _, err := os.ReadFile(filepath.Join(w.config, "sesame/config.toml")); err != nil {
			t.Errorf("read the configuration: %v", err)
		}
		sqliteLike(t, filepath.Join(w.state, "sesame/launcher"))
		dialHub(t, w)
		// Denied: writing the entries or the configuration, another role's state.
		err = os.WriteFile(filepath.Join(w.data, "applications/evil.desktop"), []byte("[Desktop Entry]\n"), 0o600)
		expectErrno(t, "write a desktop entry", err, unix.EACCES)
		err = os.WriteFile(filepath.Join(w.config, "sesame/config.toml"), []byte("evil = 1\n"), 0o600)
		expectErrno(t, "write the configuration", err, unix.EACCES)
		err = os.WriteFile(filepath.Join(w.state, "sesame/audit.jsonl"), nil, 0o600)
		expectErrno(t, "create a file beside the launcher's state", err, unix.EACCES)
	case "snippets":
		// Allowed: the snippets database, the configuration, the hub. Denied: anything else
		// beside the vaults in $XDG_DATA_HOME/sesame.
		sqliteLike(t, filepath.Join(w.data, "sesame/snippets"))
		if _, err := os.ReadFile(filepath.Join(w.config, "sesame/config.toml")); err != nil {
			t.Errorf("read the configuration: %v", err)
		}
		dialHub(t, w)
		_, err := os.ReadDir(filepath.Join(w.data, "sesame"))
		expectErrno(t, "list $XDG_DATA_HOME/sesame", err, unix.EACCES)
		err = os.WriteFile(filepath.Join(w.data, "sesame/other.db"), nil, 0o600)
		expectErrno(t, "create a file beside the snippets", err, unix.EACCES)
		_, err = os.ReadDir(filepath.Join(w.data, "applications"))
		expectErrno(t, "list the desktop entries", err, unix.EACCES)
	case "wm":
		// Allowed: fonts, a shared drawing buffer passed to the compositor, the hub.
		if _, err := os.ReadFile(filepath.Join(w.data, "fonts/Fake.ttf")); err != nil {
			t.Errorf("read a font: %v", err)
		}
		// The window order: a temporary file renamed over the saved one, in its own directory.
		mru := filepath.Join(w.state, "sesame/wm")
		if err := os.WriteFile(filepath.Join(mru, ".tmp-1"), []byte("x"), 0o600); err != nil {
			t.Errorf("write the window order: %v", err)
		} else if err := os.Rename(filepath.Join(mru, ".tmp-1"), filepath.Join(mru, "mru")); err != nil {
			t.Errorf("rename the window order into place: %v", err)
		}
		fd, err := unix.MemfdCreate("sesame-overlay", unix.MFD_CLOEXEC)
		if err != nil {
			t.Errorf("memfd_create: %v", err)
		} else {
			if err := unix.Ftruncate(fd, 4096); err != nil {
				t.Errorf("ftruncate a memfd: %v", err)
			}
			if b, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
				t.Errorf("mmap a shared buffer: %v", err)
			} else {
				b[0] = 1
				unix.Munmap(b)
			}
			sendFD(t, w, fd)
			unix.Close(fd)
		}
		dialHub(t, w)
		// Denied: the state dir (the audit log, other roles' databases), the configuration
		// (the hub pushes the settings; a legacy wm.toml is not read either).
		_, err = os.ReadDir(filepath.Join(w.state))
		expectErrno(t, "list the state dir", err, unix.EACCES)
		err = os.WriteFile(filepath.Join(w.state, "sesame/wm-mru"), nil, 0o600)
		expectErrno(t, "write in $XDG_STATE_HOME/sesame, outside its own sesame/wm", err, unix.EACCES)
		_, err = os.ReadFile(filepath.Join(w.config, "sesame/wm.toml"))
		expectErrno(t, "read wm.toml", err, unix.EACCES)
		_, err = os.ReadFile(filepath.Join(w.config, "sesame/config.toml"))
		expectErrno(t, "read the configuration", err, unix.EACCES)
		err = os.WriteFile(filepath.Join(w.config, "sesame/wm.toml"), []byte("evil = 1\n"), 0o600)
		expectErrno(t, "write wm.toml", err, unix.EACCES)
	case "clipboard":
		// Allowed: the history database, a pipe for a selection, the compositor, the hub.
		sqliteLike(t, filepath.Join(w.data, "sesame/clipboard"))
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			t.Errorf("pipe2: %v", err)
		} else {
			sendFD(t, w, p[1])
			unix.Close(p[0])
			unix.Close(p[1])
		}
		dialHub(t, w)
		// Denied: the configuration (the hub pushes the settings), the snippets beside it.
		_, err := os.ReadFile(filepath.Join(w.config, "sesame/config.toml"))
		expectErrno(t, "read the configuration", err, unix.EACCES)
		_, err = os.ReadDir(filepath.Join(w.data, "sesame/snippets"))
		expectErrno(t, "list the snippets", err, unix.EACCES)
	case "ssid-probe":
		// Allowed: dial the system bus. Denied: every file (the configuration, its own /proc
		// entry, the runtime dir), datagram sockets.
		if c, err := net.Dial("unix", w.sysBus); err != nil {
			t.Errorf("dial the system bus: %v", err)
		} else {
			c.Write([]byte("\x00AUTH\r\n"))
			c.Close()
		}
		_, err := os.ReadFile(filepath.Join(w.config, "sesame/config.toml"))
		expectErrno(t, "read the configuration", err, unix.EACCES)
		_, err = os.ReadFile("/proc/self/status")
		expectErrno(t, "read /proc/self/status", err, unix.EACCES)
		_, err = os.ReadDir(w.rdir)
		expectErrno(t, "list the runtime dir", err, unix.EACCES)
		_, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
		expectErrno(t, "socket(AF_UNIX, SOCK_DGRAM)", err, unix.EPERM)
		// Another Unix socket of the user (the hub's here, standing for ssh-agent's): Landlock
		// refuses it from ABI 9; before, nothing can, as SSIDProbe's doc says.
		c, err := net.Dial("unix", w.busSock)
		if lvl.Landlock >= 9 {
			expectErrno(t, "dial another Unix socket", err, unix.EACCES)
		} else if err != nil {
			t.Errorf("dial another Unix socket under Landlock ABI %d: %v; the doc of SSIDProbe says it goes through", lvl.Landlock, err)
		}
		if err == nil {
			c.Close()
		}
	}
	waitForParent()
}

// sqliteLike does in dir what SQLite in WAL mode does: make, write, sync, lock and truncate
// the database, and remove its -wal.
func sqliteLike(t *testing.T, dir string) {
	t.Helper()
	db := filepath.Join(dir, "default.db")
	f, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Errorf("create a database in %s: %v", dir, err)
		return
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("SQLite format 3\x00"), 0); err != nil {
		t.Errorf("write the database: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("fsync the database: %v", err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		t.Errorf("lock the database: %v", err)
	}
	if err := f.Truncate(4096); err != nil {
		t.Errorf("truncate the database: %v", err)
	}
	if err := os.WriteFile(db+"-wal", nil, 0o600); err != nil {
		t.Errorf("create the -wal: %v", err)
	} else if err := os.Remove(db + "-wal"); err != nil {
		t.Errorf("remove the -wal: %v", err)
	}
}

// dialHub connects to the hub's socket.
func dialHub(t *testing.T, w *world) {
	t.Helper()
	c, err := net.Dial("unix", w.busSock)
	if err != nil {
		t.Errorf("dial the hub: %v", err)
		return
	}
	c.Write([]byte("hello"))
	c.Close()
}

// sendFD dials the compositor and passes it fd, as a Wayland client passes a buffer.
func sendFD(t *testing.T, w *world, fd int) {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: w.wayland, Net: "unix"})
	if err != nil {
		t.Errorf("dial the compositor: %v", err)
		return
	}
	defer c.Close()
	if _, _, err := c.WriteMsgUnix([]byte("buf"), unix.UnixRights(fd), nil); err != nil {
		t.Errorf("pass a descriptor to the compositor: %v", err)
		return
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 1 {
		t.Errorf("the compositor got %d descriptors, %v", b[0], err)
	}
}

func TestRoleSandbox(t *testing.T) {
	for _, p := range Policies() {
		for _, supervised := range []bool{true, false} {
			name := p.Role + map[bool]string{true: "/supervised", false: "/systemd"}[supervised]
			t.Run(name, func(t *testing.T) {
				if inChild(t) {
					childChecks(t, p.Role, supervised)
					return
				}
				w := newWorld(t)
				// The hub's socket, for secrets to dial; systemd's notify socket.
				ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: w.busSock, Net: "unix"})
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						io.Copy(io.Discard, c)
						c.Close()
					}
				}()
				nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: w.notifySock, Net: "unixgram"})
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				ready := make(chan string, 1)
				go func() {
					b := make([]byte, 64)
					n, _ := nc.Read(b)
					ready <- string(b[:n])
				}()

				r := reexec(t, append(w.env(), "NOTIFY_SOCKET="+w.notifySock), supervised)
				if !r.state.Success() {
					t.Fatalf("the sandboxed child failed (%v):\n%s\nsupervisor:\n%s", r.state, r.out, r.denials)
				}
				if testing.Verbose() {
					t.Logf("child:\n%s", r.out)
				}
				if p.Role != SSIDProbe.Role { // the probe is no service: it sends none
					select {
					case got := <-ready:
						if got != "READY=1" {
							t.Errorf("notify socket got %q", got)
						}
					case <-time.After(5 * time.Second):
						t.Error("no READY=1 on the notify socket")
					}
				}
				// Every thread the child had carried the filter and no_new_privs.
				if len(r.tasks) < 3 {
					t.Errorf("read %d threads of the child", len(r.tasks))
				}
				for tid, st := range r.tasks {
					if !strings.Contains(st, "\nSeccomp:\t2\n") || !strings.Contains(st, "\nNoNewPrivs:\t1\n") {
						t.Errorf("thread %d is not sandboxed:\n%s", tid, st)
					}
				}
				if supervised {
					// Each denied call was logged by name; none by number. The allowed operations
					// made no denied call.
					expected := []string{"socket(0x2,", "socket(0x10,", "execve(", "ioctl(0x0, 0x5401", "memfd_create(", "mmap(", "kill(", "clone("}
					if p.Role == "profile" {
						expected = append(expected, "socket(0x1, 0x1,") // the hub only accepts
					}
					if p.Role == SSIDProbe.Role {
						expected = append(expected, "socket(0x1, 0x2,") // stream sockets only
					}
					for _, name := range expected {
						if !strings.Contains(r.denials, "sesame-test: seccomp denied "+name) {
							t.Errorf("the supervisor did not log %s…:\n%s", name, r.denials)
						}
					}
					for _, line := range strings.Split(strings.TrimSpace(r.denials), "\n") {
						call, _ := strings.CutPrefix(line, "sesame-test: seccomp denied ")
						if !slices.ContainsFunc(expected, func(e string) bool { return strings.HasPrefix(call, e) }) {
							t.Errorf("an allowed operation was denied: %s", line)
						}
					}
					if strings.Contains(r.denials, "syscall_") || strings.Contains(r.denials, "watch:") {
						t.Errorf("supervisor log:\n%s", r.denials)
					}
				} else if r.denials != "" {
					t.Errorf("a denial reached a supervisor that was not there: %s", r.denials)
				}
				// The vaults and keys are intact.
				if b, err := os.ReadFile(w.sshKey); err != nil || !bytes.Contains(b, []byte("fake")) {
					t.Errorf("ssh key: %v", err)
				}
			})
		}
	}
}

// TestKilled: the calls on the kill list end the process, from every role.
func TestKilled(t *testing.T) {
	self := func() []byte { return make([]byte, 8) }
	for _, p := range Policies() {
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"ptrace", func() error { return rawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME) }},
			{"process_vm_readv", func() error {
				buf := self()
				iov := unix.Iovec{Base: &buf[0], Len: 8}
				return rawSyscall(unix.SYS_PROCESS_VM_READV, uintptr(os.Getpid()), uintptr(unsafe.Pointer(&iov)), 1, uintptr(unsafe.Pointer(&iov)), 1, 0)
			}},
			{"unshare", func() error { return rawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER) }},
			{"bpf", func() error { return rawSyscall(unix.SYS_BPF, 0, 0, 0) }},
		} {
			t.Run(p.Role+"/"+c.name, func(t *testing.T) {
				if inChild(t) {
					w := worldFromEnv()
					if _, err := Apply(p, w.dirs(), os.Getenv, nil); err != nil {
						t.Fatal(err)
					}
					err := c.call()
					t.Fatalf("%s returned (%v): the process should have been killed", c.name, err)
				}
				w := newWorld(t)
				r := reexec(t, w.env(), true)
				ws, ok := r.state.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
					t.Fatalf("the child was not killed by SIGSYS (%v):\n%s", r.state, r.out)
				}
				if strings.Contains(r.denials, "seccomp denied") {
					t.Errorf("a killing call went through the supervisor: %s", r.denials)
				}
			})
		}
	}
}
