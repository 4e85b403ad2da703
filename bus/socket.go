package bus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/open-sesame/sesame/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Files in the runtime directory.
const (
	SocketName = "bus.sock" // the hub's listening socket, 0600
	PubName    = "bus.pub"  // the hub's static public key, hex, 0644
)

// RuntimeDir returns sesame's private runtime directory, creating it when absent:
// $XDG_RUNTIME_DIR/sesame, or, when XDG_RUNTIME_DIR is unset (as on many jump hosts and in
// containers), $TMPDIR/sesame-UID. Either way the directory must be a real directory (not a
// symlink) owned by us with mode 0700, or it is refused: in a shared /tmp another user could
// have created it first.
func RuntimeDir(getenv func(string) string) (string, error) {
	var dir string
	if x := getenv("XDG_RUNTIME_DIR"); x != "" {
		if !filepath.IsAbs(x) {
			return "", fmt.Errorf("bus: XDG_RUNTIME_DIR %q is not an absolute path", x)
		}
		dir = filepath.Join(x, "sesame")
	} else {
		tmp := getenv("TMPDIR")
		if tmp == "" || !filepath.IsAbs(tmp) {
			tmp = "/tmp"
		}
		dir = filepath.Join(tmp, "sesame-"+strconv.Itoa(os.Getuid()))
	}
	if err := os.Mkdir(dir, 0o700); err == nil {
		// Mkdir honours the umask; make the mode exact.
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("bus: runtime dir: %w", err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("bus: runtime dir: %w", err)
	}
	return dir, CheckPrivateDir(dir)
}

// CheckPrivateDir verifies that dir is a directory, not a symlink, owned by the current uid,
// with mode 0700.
func CheckPrivateDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("bus: runtime dir %q: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("bus: runtime dir %q is not a directory (a symlink?): refusing to use it", dir)
	case int(st.Uid) != os.Getuid():
		return fmt.Errorf("bus: runtime dir %q is owned by uid %d, not %d: refusing to use it", dir, st.Uid, os.Getuid())
	case st.Mode&0o777 != 0o700:
		return fmt.Errorf("bus: runtime dir %q has mode %04o, want 0700: refusing to use it", dir, st.Mode&0o777)
	}
	return nil
}

// Listen creates the hub's socket at path with mode 0600. A socket file that is already there
// is dialled first: if something answers, Listen fails ("address already in use") and leaves it
// alone; only a dead socket is unlinked.
func Listen(path string) (*net.UnixListener, error) {
	old := unix.Umask(0o177)
	defer unix.Umask(old)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err == nil {
		ln.SetUnlinkOnClose(true)
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("bus: listen %q: %w", path, err)
	}
	if c, derr := net.DialTimeout("unix", path, time.Second); derr == nil {
		c.Close()
		return nil, fmt.Errorf("bus: listen %q: address already in use (another hub is running)", path)
	}
	if fi, serr := os.Lstat(path); serr != nil || fi.Mode()&fs.ModeSocket == 0 {
		return nil, fmt.Errorf("bus: listen %q: a file that is not a socket is in the way", path)
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("bus: listen %q: remove stale socket: %w", path, err)
	}
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("bus: listen %q: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	return ln, nil
}

// WritePub writes the hub's public key to dir/bus.pub atomically.
func WritePub(dir string, k PublicKey) error {
	return atomicfile.Write(filepath.Join(dir, PubName), []byte(k.String()+"\n"), 0o644)
}

// ReadPub reads the hub's public key from dir/bus.pub.
func ReadPub(dir string) (PublicKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, PubName))
	if err != nil {
		return PublicKey{}, fmt.Errorf("bus: hub key: %w", err)
	}
	return ParsePublicKey(strings.TrimSpace(string(b)))
}

// peerCred reads SO_PEERCRED.
func peerCred(nc *net.UnixConn) (*unix.Ucred, error) {
	rc, err := nc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	return cred, nil
}

// exeOf returns the executable of pid from /proc/PID/exe. A sandboxed hub may not read that
// link (Landlock treats it like ptrace of a process outside its domain, as does a
// non-dumpable peer); it then falls back to the peer's argv[0] from /proc/PID/cmdline, written
// "argv0:NAME" because the process chose it. "" when neither can be read.
func exeOf(pid int32) string {
	p := "/proc/" + strconv.Itoa(int(pid))
	if exe, err := os.Readlink(p + "/exe"); err == nil {
		return exe
	}
	b, err := os.ReadFile(p + "/cmdline")
	if err != nil || len(b) == 0 {
		return ""
	}
	a0, _, _ := bytes.Cut(b, []byte{0})
	return "argv0:" + string(a0)
}

// processStart returns when pid started, from /proc/PID/stat and the boot time; the zero time
// when unknown.
func processStart(pid int32) time.Time {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return time.Time{}
	}
	// Field 2 (comm) may contain spaces and parentheses; fields resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return time.Time{}
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return time.Time{}
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22, starttime
	if err != nil {
		return time.Time{}
	}
	boot := bootTime()
	if boot.IsZero() {
		return time.Time{}
	}
	const hz = 100 // USER_HZ, 100 on every Linux architecture Go supports
	return boot.Add(time.Duration(ticks) * time.Second / hz)
}

func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return time.Time{}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
}
