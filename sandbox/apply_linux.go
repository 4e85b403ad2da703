package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// MaxLandlockABI is the highest Landlock ABI version this build knows (go-landlock's V11).
const MaxLandlockABI = 11

// NotifyFDEnv names the inherited descriptor of the socket on which a role hands its seccomp
// listener to the supervisor. Without it (systemd), denials fail with EPERM and are logged by
// the kernel's audit subsystem instead.
const NotifyFDEnv = "SESAME_SECCOMP_FD"

// Level is how far a process is sandboxed: what Apply enforced in this process, or what
// Observe found for another.
type Level struct {
	_msgpack struct{} `msgpack:",as_array"`

	Role string
	PID  int32
	// Landlock is the Landlock ABI version enforced: the lower of the kernel's and
	// MaxLandlockABI; 0 when the kernel has no Landlock. From Observe, see there.
	Landlock int
	// Seccomp is the process's seccomp mode from /proc/PID/status: "filter", "strict",
	// "disabled", or "" when unknown.
	Seccomp string
	// Filters is the number of seccomp filters on the process (Seccomp_filters).
	Filters int
	// NoNewPrivs: the process (and anything it could exec) can gain no privileges.
	NoNewPrivs bool
	// Denials says where a denied system call is reported: "supervisor" (sesame up logs
	// it), "audit" (the kernel's audit log), or "" when unknown (from Observe).
	Denials string
	// Syscalls is the number of system calls the filter allows (Apply only).
	Syscalls int
}

func (l Level) String() string {
	s := "landlock "
	if l.Landlock > 0 {
		s += "ABI " + strconv.Itoa(l.Landlock)
	} else {
		s += "off"
	}
	s += ", seccomp " + l.Seccomp
	if l.Syscalls > 0 {
		s += " (" + strconv.Itoa(l.Syscalls) + " calls allowed)"
	}
	if l.Denials != "" {
		s += ", denials to " + l.Denials
	}
	return s
}

// Apply sandboxes the calling process — every thread, now and later — with p: Landlock
// first, then seccomp. The role calls it once it has opened what it needs (its boot pipe,
// its listener) and before it serves anything. It is irreversible and inherited by any
// child, which is why only roles call it, never the CLI (see "Spawning programs").
//
// Landlock is applied best-effort at the highest ABI the kernel supports, up to
// MaxLandlockABI, so an older kernel enforces what it can rather than refusing to run; the
// returned Level says what was enforced. A seccomp filter that cannot be loaded is an error:
// the role exits rather than run without one.
func Apply(p *Policy, d Dirs, getenv func(string) string, logf func(string, ...any)) (Level, error) {
	lvl := Level{Role: p.Role, PID: int32(os.Getpid())}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// Files the standard library reads lazily, read now: the local time zone.
	time.Now().Zone()
	// Our own /proc entry is out of reach once sandboxed (only the hub may read /proc).
	before := Observe(p.Role, lvl.PID, 0)

	abstractNotify := false
	switch ns := getenv("NOTIFY_SOCKET"); {
	case len(ns) > 1 && ns[0] == '/':
		d.Notify = ns
	case len(ns) > 1 && ns[0] == '@':
		abstractNotify = true
	}
	abi, err := applyLandlock(p, d, abstractNotify)
	if err != nil {
		return lvl, fmt.Errorf("sandbox: %s: landlock: %w", p.Role, err)
	}
	lvl.Landlock = abi

	notify := -1
	if s := getenv(NotifyFDEnv); s != "" {
		fd, err := strconv.Atoi(s)
		if err != nil || fd < 3 {
			return lvl, fmt.Errorf("sandbox: %s: %s=%q is not a descriptor", p.Role, NotifyFDEnv, s)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return lvl, fmt.Errorf("sandbox: %s: %s=%d is not a socket", p.Role, NotifyFDEnv, fd)
		}
		unix.CloseOnExec(fd)
		notify = fd
	}
	if archNames() == nil {
		logf("sandbox: WARNING: no seccomp table for %s: running with Landlock only", runtime.GOARCH)
		lvl.Seccomp = "disabled"
		if notify >= 0 {
			unix.Close(notify)
		}
		return lvl, nil
	}
	n, denials, err := applySeccomp(p, notify)
	if err != nil {
		return lvl, fmt.Errorf("sandbox: %s: seccomp: %w", p.Role, err)
	}
	lvl.Syscalls, lvl.Denials = n, denials
	lvl.Seccomp, lvl.Filters, lvl.NoNewPrivs = "filter", before.Filters+1, true
	if traceBuild {
		logf("sandbox: WARNING: built with -tags sandbox_trace: system calls outside the tables are ALLOWED (logged)")
		lvl.Denials = "allowed (sandbox_trace build)"
	}
	logf("sandbox: %v", lvl)
	return lvl, nil
}

// landlockRights maps an Access to Landlock rights for a directory.
func landlockRights(a Access) landlock.AccessFSSet {
	var s landlock.AccessFSSet
	if a&Read != 0 {
		s |= llsys.AccessFSReadFile | llsys.AccessFSReadDir
	}
	if a&Write != 0 {
		s |= llsys.AccessFSWriteFile | llsys.AccessFSTruncate | llsys.AccessFSMakeReg | llsys.AccessFSMakeDir |
			llsys.AccessFSMakeSock | llsys.AccessFSRemoveFile | llsys.AccessFSRemoveDir
	}
	if a&Execute != 0 {
		s |= llsys.AccessFSExecute
	}
	if a&Connect != 0 {
		s |= llsys.AccessFSResolveUnix
	}
	if a&Remove != 0 {
		s |= llsys.AccessFSRemoveFile
	}
	return s
}

// fileRights are the rights that make sense on a file that is not a directory.
const fileRights = llsys.AccessFSReadFile | llsys.AccessFSWriteFile | llsys.AccessFSTruncate |
	llsys.AccessFSExecute | llsys.AccessFSIoctlDev | llsys.AccessFSResolveUnix

// applyLandlock restricts the process to p's paths and returns the ABI version enforced.
// abstractNotify keeps abstract Unix sockets outside the domain reachable: systemd's
// NOTIFY_SOCKET may be one, and a role that cannot reach it is killed by the watchdog.
func applyLandlock(p *Policy, d Dirs, abstractNotify bool) (int, error) {
	var rules []landlock.Rule
	type one struct {
		r    PathRule
		path string
	}
	var all []one
	for _, r := range p.Paths {
		paths, err := r.ResolveAll(d)
		if err != nil {
			return 0, err
		}
		for _, path := range paths { // none: optional, and not here
			all = append(all, one{r, path})
		}
	}
	for _, o := range all {
		r, path := o.r, o.path
		if r.Make {
			// A rule that may be skipped (IfExists) is skipped when the directory cannot be
			// made, as in a systemd unit with ProtectHome=read-only.
			if err := makeDir(path); err != nil && !r.IfExists {
				return 0, fmt.Errorf("rule %v: %w", r, err)
			}
		}
		fi, err := os.Stat(path)
		if r.IfExists && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("rule %v: %w", r, err)
		}
		rights := landlockRights(r.Access)
		if !fi.IsDir() {
			rights &= fileRights
		}
		rules = append(rules, landlock.PathAccess(rights, path))
	}
	// Restrict, not RestrictPaths: no network rule is added, so TCP (and, from ABI 10, UDP)
	// bind and connect are denied, and the IPC scopes (ABI 6) keep the role from signalling
	// or reaching the abstract sockets of processes outside its domain.
	cfg := landlock.V11
	if abstractNotify {
		cfg.Scoped &^= llsys.ScopeAbstractUnixSocket
	}
	if err := cfg.BestEffort().Restrict(rules...); err != nil {
		return 0, err
	}
	return enforcedABI(), nil
}

// enforcedABI is the Landlock ABI a best-effort restriction enforces on this kernel.
func enforcedABI() int {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil || v < 0 {
		return 0
	}
	return min(v, MaxLandlockABI)
}

// makeDir creates dir and its missing parents with mode 0700 (exactly, whatever the umask).
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := makeDir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// applySeccomp loads p's filter on every thread. With a supervisor socket the default action
// is SECCOMP_RET_USER_NOTIF and the listener goes to the supervisor, which logs each denied
// call by name and answers EPERM; without one (or on a kernel before 5.7, which cannot
// combine a listener with TSYNC), it is SECCOMP_RET_ERRNO(EPERM) with
// SECCOMP_FILTER_FLAG_LOG, so the kernel audit log names the call. It returns the number
// of system calls allowed and where denials go.
func applySeccomp(p *Policy, notify int) (int, string, error) {
	if notify >= 0 {
		defer unix.Close(notify)
	}
	type attempt struct {
		def   uint32
		flags uintptr
		to    string
	}
	var attempts []attempt
	if notify >= 0 {
		attempts = append(attempts, attempt{retNotify,
			unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, "supervisor"})
	}
	attempts = append(attempts,
		attempt{retEPERM, unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG, "audit"},
		attempt{retEPERM, unix.SECCOMP_FILTER_FLAG_TSYNC, "nowhere"}, // before Linux 4.14
	)

	// no_new_privs is per thread; set it on the thread that loads the filter (TSYNC copies
	// it to the others). Landlock has usually set it already.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, "", fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	var lastErr error
	for _, at := range attempts {
		fd := notify
		if at.def != retNotify {
			fd = -1 // no listener: the hand-off rule goes
		}
		rules, err := compile(p, runtimeValues{pid: uint32(os.Getpid()), notifyFD: fd})
		if err != nil {
			return 0, "", err
		}
		def := at.def
		if traceBuild {
			def = unix.SECCOMP_RET_LOG
		}
		prog, err := program(rules, def)
		if err != nil {
			return 0, "", err
		}
		ret, err := loadFilter(prog, at.flags)
		if errors.Is(err, unix.EINVAL) {
			lastErr = err
			continue // an older kernel: try the next, weaker, form
		}
		if err != nil {
			return 0, "", err
		}
		if at.def == retNotify {
			if err := handOff(notify, int(ret), p.Role); err != nil {
				return 0, "", err
			}
		}
		return allowedCount(rules), at.to, nil
	}
	return 0, "", lastErr
}

// allowedCount is the number of system calls rules allow (with or without conditions).
func allowedCount(rules []*rule) int {
	n := 0
	for _, r := range rules {
		if r.action == retAllow {
			n++
		}
	}
	return n
}

// loadFilter calls seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) and returns its result (the
// listener descriptor with SECCOMP_FILTER_FLAG_NEW_LISTENER).
func loadFilter(prog []bpf.Instruction, flags uintptr) (uintptr, error) {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return 0, err
	}
	if len(raw) > 0xffff {
		return 0, errors.New("program too long")
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return 0, errno
	}
	return r, nil
}

// handOff sends the listener to the supervisor with the role's name, and closes our copy:
// from then on only the supervisor holds it, and if the supervisor goes away, a denied call
// fails with ENOSYS instead of waiting.
func handOff(sock, listener int, role string) error {
	defer unix.Close(listener)
	if err := unix.Sendmsg(sock, []byte(role), unix.UnixRights(listener), nil, 0); err != nil {
		return fmt.Errorf("hand the listener to the supervisor: %w", err)
	}
	return nil
}
