package sandbox

import "golang.org/x/sys/unix"

// The tables. Each role's policy is a list of path rules and a few groups of system calls;
// each entry gives its reason. How the lists were made, and how to remake them after a change:
//
//	sandbox/internal/stracesum/trace.sh
//
// runs the root test suite (testscript CLI scripts and the system tests: the real roles
// under `sesame up`) under `strace -f -ff -ttt`, for a cgo build (what `go test` runs: glibc
// creates the threads) and a static one (what `make build` ships: the Go runtime's own
// clone), and prints per role every system call made after the role's seccomp(2) call, with
// the argument values that the conditions below filter. The profiler bundled with
// go-seccomp-bpf reads the binary instead and misses most of the Go runtime's calls under
// the register ABI. A call a table lacks shows up as a test failure and as a
// "seccomp denied NAME(…)" line from `sesame up`.
//
// Names are those of linux/amd64 (x/sys/unix); a name the running architecture lacks (open,
// stat and lstat on arm64) is skipped when the filter is built, and the tests check that
// every name exists on amd64 or arm64.

// futex operations (linux/futex.h; x/sys/unix does not export them).
const (
	futexWait          = 0
	futexWake          = 1
	futexWakeOp        = 5
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivateFlag   = 128
	futexClockRealtime = 256
)

// cloneNamespaces are the clone(2) flags that make new namespaces (CLONE_NEWTIME is left
// out: clone(2) reads that bit as part of the exit signal).
const cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// Kill lists the system calls that end the process (SECCOMP_RET_KILL_PROCESS) instead of
// failing with EPERM. These are calls no code path of sesame makes, whose only use in a role
// is an exploit in progress (reading another process, loading kernel code, escaping the
// sandbox): returning an error would let it try again. The kernel's audit log records the
// kill with the call's number, and `sesame up` reports the child "killed by bad system call".
var Kill = []Deny{
	{Name: "ptrace", Action: ActKill, Reason: "reads and steers other processes: the key thief's first tool"},
	{Name: "process_vm_readv", Action: ActKill, Reason: "reads another process's memory"},
	{Name: "process_vm_writev", Action: ActKill, Reason: "writes another process's memory"},
	{Name: "process_madvise", Action: ActKill, Reason: "acts on another process's memory"},
	{Name: "pidfd_getfd", Action: ActKill, Reason: "copies a descriptor out of another process"},
	{Name: "kexec_load", Action: ActKill, Reason: "replaces the running kernel"},
	{Name: "kexec_file_load", Action: ActKill, Reason: "replaces the running kernel"},
	{Name: "init_module", Action: ActKill, Reason: "loads kernel code"},
	{Name: "finit_module", Action: ActKill, Reason: "loads kernel code"},
	{Name: "delete_module", Action: ActKill, Reason: "unloads kernel code"},
	{Name: "bpf", Action: ActKill, Reason: "loads kernel programs; a common privilege-escalation path"},
	{Name: "perf_event_open", Action: ActKill, Reason: "large kernel attack surface and side channels; roles are not profiled"},
	{Name: "userfaultfd", Action: ActKill, Reason: "used by exploits to win kernel races"},
	{Name: "io_uring_setup", Action: ActKill, Reason: "io_uring performs I/O that seccomp never sees"},
	{Name: "io_uring_enter", Action: ActKill, Reason: "io_uring performs I/O that seccomp never sees"},
	{Name: "io_uring_register", Action: ActKill, Reason: "io_uring performs I/O that seccomp never sees"},
	{Name: "keyctl", Action: ActKill, Reason: "kernel keyrings: unused, and an escalation surface"},
	{Name: "add_key", Action: ActKill, Reason: "kernel keyrings: unused, and an escalation surface"},
	{Name: "request_key", Action: ActKill, Reason: "kernel keyrings: unused, and an escalation surface"},
	{Name: "unshare", Action: ActKill, Reason: "new namespaces: a way out of the sandbox"},
	{Name: "setns", Action: ActKill, Reason: "enters other namespaces: a way out of the sandbox"},
	{Name: "mount", Action: ActKill, Reason: "changes the file tree Landlock checks"},
	{Name: "umount2", Action: ActKill, Reason: "changes the file tree Landlock checks"},
	{Name: "pivot_root", Action: ActKill, Reason: "changes the file tree Landlock checks"},
	{Name: "chroot", Action: ActKill, Reason: "changes the file tree Landlock checks"},
	{Name: "open_tree", Action: ActKill, Reason: "new mount API: changes the file tree"},
	{Name: "move_mount", Action: ActKill, Reason: "new mount API: changes the file tree"},
	{Name: "fsopen", Action: ActKill, Reason: "new mount API: changes the file tree"},
	{Name: "fsconfig", Action: ActKill, Reason: "new mount API: changes the file tree"},
	{Name: "fsmount", Action: ActKill, Reason: "new mount API: changes the file tree"},
	{Name: "fspick", Action: ActKill, Reason: "new mount API: changes the file tree"},
	{Name: "mount_setattr", Action: ActKill, Reason: "new mount API: changes the file tree"},
	{Name: "open_by_handle_at", Action: ActKill, Reason: "opens files by handle, around path checks"},
	{Name: "iopl", Action: ActKill, Reason: "raw hardware port access"},
	{Name: "ioperm", Action: ActKill, Reason: "raw hardware port access"},
}

// ENOSYS lists the system calls that fail with ENOSYS, unlogged, so that callers fall back.
var ENOSYS = []Deny{
	{Name: "clone3", Action: ActENOSYS, Reason: "its flags sit in a struct seccomp cannot read; glibc then falls back to clone(2), whose flags goRuntime checks"},
}

// goRuntime is what the Go runtime (and, in cgo builds, glibc) needs in any role. Entries the
// trace did not show after the sandbox is on say "unseen here" and why they stay.
var goRuntime = []Syscall{
	{Name: "read", Reason: "read from descriptors"},
	{Name: "write", Reason: "write to descriptors (stderr, the bus)"},
	{Name: "close", Reason: "close descriptors"},
	{Name: "openat", Reason: "open files; Landlock decides which"},
	{Name: "fstat", Reason: "os.File.Stat"},
	{Name: "newfstatat", Reason: "os.Stat and friends (a path lookup is not a Landlock right)"},
	{Name: "pread64", Reason: "the runtime re-reads the cgroup CPU limit (GOMAXPROCS) from a file opened at start; SQLite page reads"},
	{Name: "mmap", Args: []Arg{{N: 2, Mask: unix.PROT_EXEC, In: []uint32{0}}}, Reason: "heap, stacks, secret memory; never executable: no code is loaded after start"},
	{Name: "mprotect", Args: []Arg{{N: 2, Mask: unix.PROT_EXEC, In: []uint32{0}}}, Reason: "glibc thread stack guards (cgo builds); never executable"},
	{Name: "munmap", Reason: "free memory"},
	{Name: "madvise", Reason: "return memory to the kernel; secmem's MADV_DONTFORK (and DONTDUMP/WIPEONFORK in its fallback)"},
	{Name: "futex", Args: []Arg{{N: 1, Mask: ^uint32(futexClockRealtime), In: []uint32{
		futexPrivateFlag | futexWait, futexPrivateFlag | futexWake, futexPrivateFlag | futexWakeOp,
		futexPrivateFlag | futexWaitBitset, futexPrivateFlag | futexWakeBitset,
	}}}, Reason: "goroutine and thread parking: private wait/wake only (glibc's bitset and wake-op forms too), no PI or requeue"},
	{Name: "clone", Args: []Arg{{N: 0, Mask: unix.CLONE_THREAD | cloneNamespaces, In: []uint32{unix.CLONE_THREAD}}},
		Reason: "new threads only: CLONE_THREAD and no namespace flags, so never a new process"},
	{Name: "set_robust_list", Reason: "glibc thread start (cgo builds)"},
	{Name: "rseq", Reason: "glibc thread start (cgo builds)"},
	{Name: "exit", Reason: "unseen here: ends a thread whose goroutine exits while locked to it (runtime.LockOSThread)"},
	{Name: "exit_group", Reason: "the process ends"},
	{Name: "rt_sigprocmask", Reason: "signal masks of new threads"},
	{Name: "rt_sigreturn", Reason: "return from a signal handler (preemption)"},
	{Name: "sigaltstack", Reason: "each new thread's signal stack"},
	{Name: "restart_syscall", Reason: "the kernel resumes an interrupted sleep"},
	{Name: "tgkill", Args: []Arg{{N: 0, Is: SelfPID}}, Reason: "goroutine preemption (SIGURG) of this process's own threads, no other process"},
	{Name: "kill", Args: []Arg{{N: 0, Is: SelfPID}}, Reason: "unseen here: the runtime re-raises a fatal signal to its own process when it crashes"},
	{Name: "getpid", Reason: "runtime and signal code"},
	{Name: "gettid", Reason: "runtime and signal code"},
	{Name: "sched_yield", Reason: "runtime spin loops"},
	{Name: "sched_getaffinity", Reason: "the runtime re-sizes GOMAXPROCS"},
	{Name: "nanosleep", Reason: "runtime usleep"},
	{Name: "clock_gettime", Reason: "clocks the vDSO does not serve"},
	{Name: "epoll_ctl", Reason: "the network poller"},
	{Name: "epoll_pwait", Reason: "the network poller"},
	{Name: "getrandom", Reason: "crypto/rand: keys, nonces"},
	{Name: "prctl", Args: []Arg{{N: 0, In: []uint32{unix.PR_SET_VMA}}},
		Reason: "unseen here (this kernel refuses it, so the runtime stops asking): names the heap's new mappings; no other prctl"},
}

// secureMemory is package secmem: secret pages from memfd_secret, or mlock'd anonymous memory
// where the kernel lacks it (the reference left mlock out of most roles and broke that path).
var secureMemory = []Syscall{
	{Name: "memfd_secret", Reason: "secret memory for keys and values"},
	{Name: "ftruncate", Reason: "size a memfd_secret area; SQLite truncates the WAL"},
	{Name: "mlock", Reason: "unseen here (memfd_secret works): secmem's fallback on kernels without it"},
	{Name: "munlock", Reason: "unseen here (memfd_secret works): secmem's fallback on kernels without it"},
}

// hub serves the bus socket, keeps the audit log and reads its peers' /proc entries.
var hub = []Syscall{
	{Name: "accept4", Reason: "accept bus connections on the listener opened before the sandbox"},
	{Name: "getsockopt", Args: []Arg{{N: 1, In: []uint32{unix.SOL_SOCKET}}, {N: 2, In: []uint32{unix.SO_PEERCRED}}},
		Reason: "the peer's uid and pid (SO_PEERCRED), checked before the handshake; no other option"},
	{Name: "getsockname", Reason: "net.UnixListener.Accept reads the accepted socket's address"},
	{Name: "readlinkat", Reason: "a peer's /proc/PID/exe (Landlock's ptrace scope now refuses it with EACCES: see the package doc)"},
	{Name: "fcntl", Args: []Arg{{N: 1, In: []uint32{unix.F_GETFL, unix.F_SETFL}}},
		Reason: "non-blocking accepted sockets; no locks, no descriptor duplication"},
	{Name: "fsync", Reason: "an audit event is on disk before it is acknowledged"},
	{Name: "renameat", Reason: "atomic replacement of the audit head; log rotation"},
	{Name: "unlinkat", Reason: "the bus socket at exit; the oldest rotated audit file; a failed state.json temporary"},
	{Name: "mkdirat", Reason: "config.WriteFileAtomic makes the state directory when it is missing"},
	{Name: "getdents64", Reason: "list config.d and the USB devices in sysfs"},
	{Name: "inotify_init1", Reason: "watch the configuration files for changes (hot reload)"},
	{Name: "inotify_add_watch", Reason: "watch the configuration directories (inotify needs no Landlock right; reading still does)"},
	{Name: "inotify_rm_watch", Reason: "unseen here: stop watching a directory"},
	{Name: "rt_sigaction", Reason: "os/signal restores the default handlers when the role stops"},
	{Name: "waitid", Reason: "reap the SSID probe, the hub's own child, once it has exited (os.Process.Wait, by pidfd or pid)"},
	{Name: "wait4", Reason: "reap the SSID probe where the kernel has no pidfd (os.Process.Wait's fallback)"},
	// Not granted: a stream socket (systemdNotify's are datagrams), so the hub dials nothing,
	// the D-Bus system bus included. On kernels before Landlock ABI 9 a connect(2) to a Unix
	// socket cannot be limited to one path, so it would let the hub reach every socket of the
	// user (ssh-agent's among them). The SSIDs for context rules come from the SSID probe
	// instead (SSIDProbe), a child the hub starts before its own sandbox and asks over two
	// pipes.
}

// busClient dials the hub.
var busClient = []Syscall{
	{Name: "socket", Args: []Arg{{N: 0, In: []uint32{unix.AF_UNIX}}, {N: 1, Mask: 0xf, In: []uint32{unix.SOCK_STREAM}}},
		Reason: "dial the hub: Unix stream sockets only, no network"},
	{Name: "connect", Reason: "dial the hub (Landlock ABI 9+ limits it to the runtime dir)"},
	{Name: "getsockname", Reason: "net.Dial reads the socket's addresses"},
	{Name: "getpeername", Reason: "net.Dial reads the socket's addresses"},
}

// vaultFiles is SQLite (modernc.org/sqlite, whose libc makes the legacy open/stat/lstat/unlink
// calls on amd64) in WAL mode, and package vault's atomic creation of a vault file.
var vaultFiles = []Syscall{
	{Name: "open", Reason: "SQLite opens the database, -wal and -shm (modernc libc, amd64)"},
	{Name: "stat", Reason: "SQLite (modernc libc, amd64)"},
	{Name: "lstat", Reason: "SQLite (modernc libc, amd64)"},
	{Name: "unlink", Reason: "SQLite removes -wal/-shm (modernc libc, amd64)"},
	{Name: "unlinkat", Reason: "delete a profile; remove temporary files"},
	{Name: "pwrite64", Reason: "SQLite page writes"},
	{Name: "fsync", Reason: "SQLite commits; a new vault is durable before the reply"},
	{Name: "fcntl", Args: []Arg{{N: 1, In: []uint32{unix.F_SETFD, unix.F_GETFL, unix.F_SETFL, unix.F_GETLK, unix.F_SETLK}}},
		Reason: "descriptor flags and SQLite's POSIX record locks; no descriptor duplication"},
	{Name: "linkat", Reason: "a new vault is linked into place, never renamed over an existing one"},
	{Name: "renameat", Reason: "atomic replacement of an unlock-throttle file"},
	{Name: "fchmod", Reason: "vault files 0600"},
	{Name: "fchown", Reason: "SQLite gives -wal/-shm the database's owner when running as root"},
	{Name: "geteuid", Reason: "SQLite checks for root before fchown"},
	{Name: "getuid", Reason: "vault ownership checks"},
	{Name: "getdents64", Reason: "list the vaults (sesame profile list)"},
}

// systemdNotify is sd_notify(3) under systemd (Type=notify): READY=1 once, then WATCHDOG=1
// every WATCHDOG_USEC/2, each a datagram on a fresh socket (bus.Notify). The root suite runs
// no systemd: these come from tracing TestRoleSandbox/*/systemd, which sends READY=1 from
// each sandboxed role to a NOTIFY_SOCKET.
var systemdNotify = []Syscall{
	{Name: "socket", Args: []Arg{{N: 0, In: []uint32{unix.AF_UNIX}}, {N: 1, Mask: 0xf, In: []uint32{unix.SOCK_DGRAM}}},
		Reason: "systemd readiness and watchdog: Unix datagram sockets only"},
	{Name: "connect", Reason: "address $NOTIFY_SOCKET (Landlock ABI 9+ limits it to that socket)"},
	{Name: "getsockname", Reason: "net.DialUnix reads the socket's addresses"},
	{Name: "getpeername", Reason: "net.DialUnix reads the socket's addresses"},
}

// supervisorLink is the hand-off of the seccomp listener to `sesame up` (see Apply); the
// condition pins it to that one socket.
var supervisorLink = []Syscall{
	{Name: "sendmsg", Args: []Arg{{N: 0, Is: NotifyFD}}, Reason: "pass the seccomp listener to the supervisor, on that socket only"},
}

// Profile is the hub's policy: its bus socket's removal, its audit log and profile
// state, the configuration (read-only), /proc to identify peers, and the USB devices in sysfs
// for context rules. It cannot reach the vaults.
var Profile = &Policy{
	Role: "profile",
	Paths: []PathRule{
		{Base: Runtime, Access: Remove, Reason: "remove bus.sock at exit (it and bus.pub are made before the sandbox); nothing there, keys included, can be read or written"},
		{Base: State, Path: "sesame/audit", Access: Read | Write, Make: true, Reason: "the audit log the hub appends, rotates and checkpoints"},
		{Base: State, Path: "sesame/profile", Access: Read | Write, Make: true, Reason: "the default and deactivated profiles (state.json, replaced atomically)"},
		{Base: Config, Path: "sesame", Access: Read, Make: true, IfExists: true,
			Reason: "the user's configuration (config.toml, config.d/*.toml), re-read when it changes; made if missing so that a file written later is seen"},
		{Base: SystemConfig, Access: Read, Optional: true, IfExists: true, Reason: "the system configuration (/etc/sesame/config.toml)"},
		{Base: Root, Path: "/proc", Access: Read, Reason: "peers' /proc/PID/stat and status (start time, sandbox level), /proc/stat (boot time), the hostname for context rules"},
		{Base: Sysfs, Path: "bus/usb/devices", Access: Read, IfExists: true, Reason: "the USB devices present, for context rules"},
		{Base: Sysfs, Path: "devices", Access: Read, IfExists: true, Reason: "where bus/usb/devices links to: each device's idVendor and idProduct"},
		{Base: Notify, Access: Connect, Optional: true, Reason: "systemd readiness and watchdog pings"},
	},
	Syscalls: [][]Syscall{goRuntime, secureMemory, hub, systemdNotify, supervisorLink},
}

// dbusClient is godbus on the D-Bus system bus: a Unix stream socket, the SASL EXTERNAL
// handshake (a nul byte carrying SCM_CREDENTIALS, then the uid), then messages.
var dbusClient = []Syscall{
	{Name: "socket", Args: []Arg{{N: 0, In: []uint32{unix.AF_UNIX}}, {N: 1, Mask: 0xf, In: []uint32{unix.SOCK_STREAM}}},
		Reason: "dial the system bus: Unix stream sockets only, no network"},
	{Name: "connect", Reason: "the system bus socket (Landlock ABI 9+ limits it to that socket; before, any Unix socket the user may connect to)"},
	{Name: "getsockname", Reason: "net.DialUnix reads the socket's addresses"},
	{Name: "getpeername", Reason: "net.DialUnix reads the socket's addresses"},
	{Name: "sendmsg", Args: []Arg{{N: 2, In: []uint32{0}}}, Reason: "the SASL handshake's nul byte with SCM_CREDENTIALS (godbus); no flags"},
	{Name: "recvmsg", Reason: "godbus reads every message with recvmsg (a message may carry descriptors)"},
	{Name: "geteuid", Reason: "godbus's Auth takes the effective uid as the identity SASL EXTERNAL may name"},
	{Name: "getuid", Reason: "the credentials (pid, uid, gid) of the handshake's nul byte"},
	{Name: "getgid", Reason: "the credentials (pid, uid, gid) of the handshake's nul byte"},
}

// SSIDProbe is the policy of the hub's SSID probe (roles/profile/ssid.go): a child that the
// hub starts before its own sandbox, as `sesame-profile ssid-probe`, to read the Wi-Fi
// networks from NetworkManager over the D-Bus system bus, so that the hub itself never dials
// a socket. It reads no file (Landlock handles every file right and grants none but connect
// on the bus socket), gets one request line on stdin and answers one line on stdout, holds no
// key or secret, and cannot start a program or a process.
//
// What remains possible, and why it is acceptable: on kernels before Landlock ABI 9 it can
// connect to any Unix socket the user can, as nothing can limit connect(2) to one path there;
// it has nothing to give such a socket (no key, no file, an environment of the bus address
// alone), and its only input is what the system bus answers. TCP and UDP are denied (Landlock,
// and AF_UNIX only here), and so are abstract sockets and signals outside it (Landlock scopes,
// ABI 6), so a system bus at an abstract address is out of its reach.
var SSIDProbe = &Policy{
	Role: "ssid-probe",
	Paths: []PathRule{
		{Base: SystemBus, Access: Connect, Optional: true, IfExists: true,
			Reason: "the D-Bus system bus, where NetworkManager answers (ABI 9+ mediates connect; skipped when the address is not a socket path or the socket is missing)"},
	},
	Syscalls: [][]Syscall{goRuntime, dbusClient},
}

// Secrets is the secrets role's policy: the vaults and the bus, nothing else.
var Secrets = &Policy{
	Role: "secrets",
	Paths: []PathRule{
		{Base: Data, Path: "sesame/vaults", Access: Read | Write, Make: true, Reason: "the vaults: SQLite .db/-wal/-shm, temporary files of a new vault, throttle files"},
		{Base: Runtime, Access: Connect, Reason: "dial the hub's bus.sock"},
		{Base: Notify, Access: Connect, Optional: true, Reason: "systemd readiness and watchdog pings"},
	},
	Syscalls: [][]Syscall{goRuntime, secureMemory, busClient, vaultFiles, systemdNotify, supervisorLink},
}

// sqliteFiles is SQLite (modernc.org/sqlite, whose libc makes the legacy open/stat/lstat/unlink
// calls on amd64) in WAL mode, in a role's own directory: the launcher's frecency, the
// snippets, the clipboard history. The directory is made before the sandbox (PathRule.Make),
// so there is no mkdirat; and no fchmodat or chmod: Landlock does not mediate changing a
// file's mode, so a path-based chmod could open the user's keys or the vaults to everyone.
var sqliteFiles = []Syscall{
	{Name: "open", Reason: "SQLite opens the database, -wal, -shm and -journal (modernc libc, amd64)"},
	{Name: "stat", Reason: "SQLite (modernc libc, amd64)"},
	{Name: "lstat", Reason: "SQLite (modernc libc, amd64)"},
	{Name: "unlink", Reason: "SQLite removes -wal/-shm and its journals (modernc libc, amd64)"},
	{Name: "unlinkat", Reason: "unseen here (amd64): SQLite removes its journals on arm64, which has no unlink"},
	{Name: "pwrite64", Reason: "SQLite page writes"},
	{Name: "fsync", Reason: "SQLite commits"},
	{Name: "fcntl", Args: []Arg{{N: 1, In: []uint32{unix.F_SETFD, unix.F_GETFL, unix.F_SETFL, unix.F_GETLK, unix.F_SETLK}}},
		Reason: "descriptor flags and SQLite's POSIX record locks; no descriptor duplication"},
	{Name: "fchown", Reason: "SQLite gives -wal/-shm the database's owner when running as root (on a descriptor Landlock let it open)"},
	{Name: "geteuid", Reason: "SQLite checks for root before fchown"},
}

// configReader reads sesame's configuration (config.PathsFor: /etc/sesame, then
// $XDG_CONFIG_HOME/sesame, with their config.d).
var configReader = []Syscall{
	{Name: "getdents64", Reason: "list config.d (and the launcher's application dirs)"},
}

// waylandClient talks to the compositor over the socket dialled before the sandbox: messages
// carry descriptors both ways (shared-memory buffers, keymaps, selections).
var waylandClient = []Syscall{
	{Name: "sendmsg", Args: []Arg{{N: 2, In: []uint32{0}}},
		Reason: "Wayland requests with descriptors (SCM_RIGHTS) on the compositor's socket; no flags"},
	{Name: "recvmsg", Reason: "Wayland events with descriptors (keymaps, selection offers)"},
	{Name: "socket", Args: []Arg{{N: 0, In: []uint32{unix.AF_UNIX}}, {N: 1, Mask: 0xf, In: []uint32{unix.SOCK_STREAM}}},
		Reason: "unseen here (the compositor is dialled before the sandbox): Unix stream sockets only"},
	{Name: "connect", Reason: "unseen here: dial the compositor (Landlock ABI 9+ limits it to that socket)"},
}

// Launcher is the launcher role's policy: the desktop entries (read-only), the configuration
// (read-only), its frecency database, and the bus. It never starts a program (see "Spawning
// programs"): TryExec is checked with stat, which needs no Landlock right.
var Launcher = &Policy{
	Role: "launcher",
	Paths: []PathRule{
		{Base: DataDirs, Path: "applications", Access: Read, IfExists: true,
			Reason: "the desktop entries beneath each XDG data dir ($XDG_DATA_HOME, then $XDG_DATA_DIRS), read and re-read as they change"},
		{Base: Data, Path: "flatpak", Access: Read, IfExists: true, Reason: "the user's flatpak exports, where its desktop entries link to"},
		{Base: Root, Path: "/var/lib/flatpak", Access: Read, IfExists: true, Reason: "the system's flatpak exports, where its desktop entries link to"},
		{Base: Root, Path: "/var/lib/snapd/desktop", Access: Read, IfExists: true, Reason: "the desktop entries of snaps"},
		{Base: Config, Path: "sesame", Access: Read, Make: true, IfExists: true,
			Reason: "the user's configuration (launch profiles in config.toml, config.d); made if missing so that a file written later is seen"},
		{Base: SystemConfig, Access: Read, Optional: true, IfExists: true, Reason: "the system configuration (/etc/sesame/config.toml)"},
		{Base: State, Path: "sesame/launcher", Access: Read | Write, Make: true, Reason: "the frecency databases: PROFILE.db with -wal/-shm"},
		{Base: Runtime, Access: Connect, Reason: "dial the hub's bus.sock"},
		{Base: Notify, Access: Connect, Optional: true, Reason: "systemd readiness and watchdog pings"},
	},
	Syscalls: [][]Syscall{goRuntime, secureMemory, busClient, sqliteFiles, configReader, systemdNotify, supervisorLink, {
		// No inotify_init1: the watcher is made before the sandbox.
		{Name: "inotify_add_watch", Reason: "watch each application dir, or the nearest existing parent of a missing one"},
		{Name: "inotify_rm_watch", Reason: "stop watching a dir that went away or was replaced"},
	}},
}

// Snippets is the snippets role's policy: its database, the configuration (read-only) and the
// bus. Its directory sits next to the vaults: only sesame/snippets is granted, never
// sesame/ itself (Make creates it before the sandbox).
var Snippets = &Policy{
	Role: "snippets",
	Paths: []PathRule{
		{Base: Data, Path: "sesame/snippets", Access: Read | Write, Make: true, Reason: "the snippets database: .db with -wal/-shm"},
		{Base: Config, Path: "sesame", Access: Read, Make: true, IfExists: true,
			Reason: "the user's configuration (snippet settings in config.toml, config.d); made if missing so that a file written later is seen"},
		{Base: SystemConfig, Access: Read, Optional: true, IfExists: true, Reason: "the system configuration (/etc/sesame/config.toml)"},
		{Base: Runtime, Access: Connect, Reason: "dial the hub's bus.sock"},
		{Base: Notify, Access: Connect, Optional: true, Reason: "systemd readiness and watchdog pings"},
	},
	Syscalls: [][]Syscall{goRuntime, secureMemory, busClient, sqliteFiles, configReader, systemdNotify, supervisorLink},
}

// WM is the window switcher's policy: the compositor, the fonts (read-only), its window
// order, and the bus. Its settings come from the hub ([wm] of the configuration, pushed), so
// it reads no configuration file.
var WM = &Policy{
	Role: "wm",
	Paths: []PathRule{
		{Base: Wayland, Access: Connect, Reason: "the compositor's socket"},
		{Base: Root, Path: "/etc/fonts", Access: Read, IfExists: true, Reason: "fontconfig's configuration (fonts.conf, conf.d): where the fonts are"},
		{Base: Root, Path: "/usr/share/fonts", Access: Read, IfExists: true, Reason: "the system's fonts"},
		{Base: Root, Path: "/usr/local/share/fonts", Access: Read, IfExists: true, Reason: "locally installed fonts"},
		{Base: Data, Path: "fonts", Access: Read, IfExists: true, Reason: "the user's fonts"},
		{Base: Home, Path: ".fonts", Access: Read, Optional: true, IfExists: true, Reason: "the user's fonts, in the old place fontconfig still searches"},
		{Base: Runtime, Access: Connect, Reason: "dial the hub's bus.sock"},
		{Base: Notify, Access: Connect, Optional: true, Reason: "systemd readiness and watchdog pings"},
		{Base: State, Path: "sesame/wm", Access: Read | Write, Make: true,
			Reason: "the window order (mru), saved as a temporary file renamed over it; a directory of its own, so the grant reaches nothing else"},
	},
	Syscalls: [][]Syscall{goRuntime, secureMemory, busClient, waylandClient, systemdNotify, supervisorLink, {
		{Name: "memfd_create", Args: []Arg{{N: 1, Mask: unix.MFD_EXEC, In: []uint32{0}}},
			Reason: "the overlay's shared-memory buffers for the compositor; never MFD_EXEC"},
		{Name: "fcntl", Args: []Arg{{N: 1, In: []uint32{unix.F_GETFL, unix.F_SETFL}}},
			Reason: "os.NewFile reads a descriptor's flags (F_SETFL unseen here: Go makes a pollable descriptor non-blocking); no locks, no duplication"},
		{Name: "getdents64", Reason: "list the font dirs and fontconfig's conf.d: a font other than the default, named by the configuration the hub pushes, loads after the sandbox"},
		{Name: "fsync", Reason: "the window order is on disk before it replaces the saved one"},
		{Name: "renameat", Reason: "the window order: a temporary file renamed over the saved one (in sesame/wm only)"},
		{Name: "unlinkat", Reason: "remove the temporary file of a save that failed"},
		// No fchmodat or fchmod: the window order is written 0600 from the start (internal/atomicfile).
	}},
}

// Clipboard is the clipboard history's policy: its database, the compositor, the bus. Its
// settings come from the hub, so it reads no configuration file.
var Clipboard = &Policy{
	Role: "clipboard",
	Paths: []PathRule{
		{Base: Data, Path: "sesame/clipboard", Access: Read | Write, Make: true, Reason: "the clipboard history: SQLite .db with -wal/-shm"},
		{Base: Wayland, Access: Connect, Reason: "the compositor's socket"},
		{Base: Runtime, Access: Connect, Reason: "dial the hub's bus.sock"},
		{Base: Notify, Access: Connect, Optional: true, Reason: "systemd readiness and watchdog pings"},
	},
	Syscalls: [][]Syscall{goRuntime, secureMemory, busClient, sqliteFiles, waylandClient, systemdNotify, supervisorLink, {
		{Name: "pipe2", Reason: "receive a selection: the compositor writes it into a pipe"},
	}},
}
