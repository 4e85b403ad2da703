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
	for _, d := range []string{filepath.Dir(w.sshKey), w.vaults, w.state, filepath.Join(w.rdir, "keys"), filepath.Join(w.config, "sesame")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for path, body := range map[string]string{w.sshKey: "-----BEGIN OPENSSH PRIVATE KEY----- fake", w.vault: "SQLite format 3\x00 fake",
		filepath.Join(w.config, "sesame/config.toml"): "# sesame\n", filepath.Join(w.rdir, "keys/secrets.key"): "fake key"} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) env() []string {
	return []string{"HOME=" + w.home, "XDG_DATA_HOME=" + w.data, "XDG_STATE_HOME=" + w.state,
		"XDG_CONFIG_HOME=" + w.config, "XDG_RUNTIME_DIR=" + w.run, "TMPDIR=" + os.TempDir()}
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
	return w
}

func (w *world) dirs() Dirs {
	return NewDirs(w.rdir, func() (string, error) { return w.data, nil }, func() (string, error) { return w.config, nil },
		func() (string, error) { return w.state, nil })
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
func deniedEverywhere(t *testing.T, w *world, ppid int) {
	_, err := os.ReadFile(w.sshKey)
	expectErrno(t, "read ~/.ssh/id_ed25519", err, unix.EACCES)
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
	_, err = unix.MemfdCreate("x", 0)
	expectErrno(t, "memfd_create", err, unix.EPERM)
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

	deniedEverywhere(t, w, ppid)
	notifyReady(t)

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
	}
	waitForParent()
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
				select {
				case got := <-ready:
					if got != "READY=1" {
						t.Errorf("notify socket got %q", got)
					}
				case <-time.After(5 * time.Second):
					t.Error("no READY=1 on the notify socket")
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
					// Each denied call was logged by name; none by number.
					for _, name := range []string{"socket(0x2,", "socket(0x10,", "execve(", "ioctl(0x0, 0x5401", "memfd_create(", "mmap(", "kill(", "clone("} {
						if !strings.Contains(r.denials, "sesame-test: seccomp denied "+name) {
							t.Errorf("the supervisor did not log %s…:\n%s", name, r.denials)
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
