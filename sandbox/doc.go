// Package sandbox confines each daemon role of sesame to what its job needs: Landlock for
// files (and the network, signals and abstract sockets), seccomp for system calls. A bug in
// one role then cannot read another role's files — only the secrets role can open a vault —
// and a role that has been taken over cannot read the user's keys, start programs, open a
// network connection or attach to another process.
//
// The policies are data (tables.go): one [Policy] per role, every rule with its reason,
// reviewed like code and checked by invariant tests. [Apply] enforces one in the calling
// process, on every thread, irreversibly.
//
// # Applying
//
// A role calls [Apply] once, after it has opened what it needs from outside its sandbox (its
// boot pipe, its listener, its log) and before it serves anything:
//
//	sandbox.Apply(sandbox.Secrets, sandbox.NewDirs(runtimeDir, e.DataDir, e.ConfigDir, e.StateDir), e.Getenv, e.Logf)
//
// Apply first restricts the file system with Landlock (go-landlock, [MaxLandlockABI] V11,
// best effort: a kernel with an older ABI enforces what it supports, one without Landlock
// enforces nothing, and either way the role runs and reports the level), then loads the
// seccomp filter with SECCOMP_FILTER_FLAG_TSYNC, so every thread the process has, and every
// thread it makes later, is filtered. Both set no_new_privs. A filter that cannot be loaded
// is an error: the role exits rather than run without one. Apply logs one line:
//
//	sesame-secrets: sandbox: landlock ABI 7, seccomp filter (57 calls allowed), denials to supervisor
//
// # Files: Landlock
//
// Path rules are relative to the directories the role itself resolves ([Dirs]: the runtime
// dir from bus.RuntimeDir, the XDG dirs from env.Env), so no home path is written in a
// table. Access is [Read], [Write], [Execute], [Connect] or [Remove] beneath a path. Rules
// that name a directory the role fills later create it (0700) first ([PathRule].Make).
// Everything not granted is denied: $HOME and ~/.ssh, /etc (but the hub's /etc/sesame),
// /usr, /tmp, the other roles' files, the keys systemd's sesame-keys.service keeps in the
// runtime dir. No network rule is ever granted, so TCP (and, from ABI 10, UDP) bind and
// connect are denied; from ABI 6 a role cannot signal, or reach the abstract sockets of,
// processes outside its sandbox.
//
//	profile (the hub)  d  $RUNTIME                        remove bus.sock at exit (made before)
//	                   rw $XDG_STATE_HOME/sesame/audit    the audit log
//	                   rw $XDG_STATE_HOME/sesame/profile  default and deactivated profiles
//	                   r  $XDG_CONFIG_HOME/sesame         config.toml, config.d (hot reload)
//	                   r  /etc/sesame                     the system configuration (if present)
//	                   r  /proc                           peers' start time, sandbox levels
//	                   r  /sys/bus/usb/devices, /sys/devices  USB devices for context rules
//	                   c  $NOTIFY_SOCKET                  systemd readiness (when set)
//	secrets            rw $XDG_DATA_HOME/sesame/vaults    the vaults
//	                   c  $RUNTIME                        dial bus.sock (ABI 9+ mediates connect)
//	                   c  $NOTIFY_SOCKET                  systemd readiness (when set)
//	launcher           r  each $XDG_DATA_DIRS[*]/applications (with $XDG_DATA_HOME's)  desktop entries
//	                   r  $XDG_DATA_HOME/flatpak, /var/lib/flatpak, /var/lib/snapd/desktop  (if present)
//	                   r  $XDG_CONFIG_HOME/sesame, /etc/sesame  launch profiles
//	                   rw $XDG_STATE_HOME/sesame/launcher frecency databases
//	                   c  $RUNTIME, $NOTIFY_SOCKET
//	snippets           rw $XDG_DATA_HOME/sesame/snippets  the snippets (not sesame/ itself: the vaults)
//	                   r  $XDG_CONFIG_HOME/sesame, /etc/sesame  settings
//	                   c  $RUNTIME, $NOTIFY_SOCKET
//	wm                 c  $WAYLAND_SOCKET                 the compositor
//	                   r  /etc/fonts, /usr/share/fonts, /usr/local/share/fonts, $XDG_DATA_HOME/fonts, ~/.fonts
//	                   rw $XDG_STATE_HOME/sesame/wm       the window order (settings: [wm], pushed by the hub)
//	                   c  $RUNTIME, $NOTIFY_SOCKET
//	clipboard          rw $XDG_DATA_HOME/sesame/clipboard the history
//	                   c  $WAYLAND_SOCKET, $RUNTIME, $NOTIFY_SOCKET
//	ssid-probe         c  $SYSTEM_BUS                     NetworkManager on the D-Bus system bus; no file at all
//
// The hub dials no socket, the D-Bus system bus included: before Landlock ABI 9 a connect(2)
// cannot be held to one path, and the hub would reach every Unix socket of the user
// (ssh-agent's among them). The Wi-Fi networks its context rules need come from the SSID probe
// ([SSIDProbe]), a child it starts before its own sandbox (`sesame-profile ssid-probe`, see
// roles/profile/ssid.go) and asks over two pipes. The probe is granted no file, only connect
// on the bus socket ($DBUS_SYSTEM_BUS_ADDRESS's unix:path=, else /run/dbus/system_bus_socket).
// Before ABI 9 it can connect to any Unix socket the user can; it has nothing to give one (no
// key, no file, an environment of the bus address alone), and its only input is the bus.
//
// The wm saves its window order in $XDG_STATE_HOME/sesame/wm/, a directory of its own: a grant
// on $XDG_STATE_HOME/sesame would reach every role's state (Landlock rules are recursive).
//
// Landlock does not mediate a file's mode or owner, so no role may chmod or chown by path
// (chmod, fchmodat, chown, fchownat): only fchmod and fchown on a descriptor it was let open.
//
// # System calls: seccomp
//
// Each policy allows the system calls in its groups — the Go runtime (goRuntime), secure
// memory, serving or dialling the bus, SQLite's file calls — with conditions on the
// arguments that matter:
//
//	socket    AF_UNIX only (stream to dial the hub or, in the SSID probe, the system bus;
//	          datagram for systemd); never AF_INET, AF_INET6, AF_NETLINK; the hub makes
//	          no stream socket
//	clone     CLONE_THREAD required, no namespace flags: threads, never a process;
//	          clone3 fails with ENOSYS (its flags are out of seccomp's reach), so glibc
//	          falls back to clone
//	mmap,     never PROT_EXEC: no code is loaded after start
//	mprotect
//	futex     private wait/wake (and glibc's bitset and wake-op forms); no PI, no requeue
//	kill,     this process only (preemption signals to its own threads)
//	tgkill
//	fcntl     descriptor flags (and SQLite's record locks in secrets); no F_DUPFD
//	prctl     PR_SET_VMA only (mapping names); dumpable and no_new_privs are set before
//	getsockopt SOL_SOCKET/SO_PEERCRED only (the hub's peer check)
//	sendmsg   the supervisor socket only (the listener hand-off below)
//	ioctl     none: no role needs one
//	sendmsg   the wm and the clipboard: also flags 0 on any socket (Wayland requests carry
//	          descriptors); the SSID probe: flags 0 (D-Bus's credentials byte)
//	memfd_create  the wm only (drawing buffers), never MFD_EXEC
//	execve    none (see "Spawning programs")
//
// The tables were made by tracing the real roles through the whole test suite with strace
// (internal/stracesum/trace.sh explains how, and how to remake them); an entry the trace did
// not show says "unseen here" and why it stays.
//
// # Denied calls
//
// A call outside the tables fails with EPERM and is logged with its name — the reference
// implementation killed the thread silently, leaving a hung role and no trace. Under `sesame
// up` the filter's default action is SECCOMP_RET_USER_NOTIF: Apply sends the listener
// (SECCOMP_FILTER_FLAG_NEW_LISTENER) to the supervisor on an inherited socket
// ([NotifyFDEnv]), and the supervisor ([Watch]) answers each denied call with EPERM after
// logging it:
//
//	sesame-secrets: seccomp denied socket(0x2, 0x80801, 0x0, 0x0, 0x0, 0x0) = EPERM (pid 4242)
//
// The supervisor never lets a call through and never reads the role's memory; it only
// learns the call's number and raw arguments. If it goes away, the kernel fails pending and
// later denied calls with ENOSYS instead of blocking them. Without a supervisor (systemd), or
// on a kernel before 5.7 (which cannot combine a listener with TSYNC), the default action is
// SECCOMP_RET_ERRNO(EPERM) with SECCOMP_FILTER_FLAG_LOG: the kernel's audit log names the
// call.
//
// The calls in [Kill] end the process instead (SECCOMP_RET_KILL_PROCESS): ptrace,
// process_vm_readv/writev, pidfd_getfd, bpf, kexec, module loading, io_uring, userfaultfd,
// keyrings, namespaces and mounts, open_by_handle_at. No code path of sesame makes them; in a
// role they can only be an exploit at work, which an error would let retry. A filter checks
// the architecture first and kills a call from another ABI (i386's int 0x80, x32).
//
// # Levels and sesame status
//
// [Apply] returns the [Level] it enforced. The hub includes its own and each running role's
// in its hub.status reply (api.HubStatusReply.Sandbox). For another process the level is
// read from /proc/PID/status ([Observe]: Seccomp, Seccomp_filters, NoNewPrivs), which the
// kernel shows even for non-dumpable processes. Linux keeps no Landlock state in /proc, so a
// role's Landlock ABI is inferred: it is the hub's own (same binary, same kernel) when the
// role shows a seccomp filter with no_new_privs, because Apply loads the filter only after
// Landlock is in place and a role that fails either exits; otherwise 0.
//
// # Spawning programs
//
// A sandbox is inherited across fork and exec: a program started by a role would run with
// that role's Landlock domain, seccomp filter and no_new_privs, and fail in strange ways (no
// network, no $HOME, EPERM on its first ioctl). So no sandboxed role ever starts a program,
// and the tables make sure of it: execve and execveat are not allowed, clone is allowed only
// for threads, and no path rule grants Execute. Programs are started by processes that are
// not sandboxed:
//
//   - `sesame env -- CMD` runs CMD from the command line, which is never sandboxed. The
//     launcher role follows the same rule: it composes a launch plan (command line,
//     variables, which secrets), and the unsandboxed command line that asked for it fetches
//     the secrets, starts the program and reports it back.
//   - Where no terminal is involved (a launch from the overlay), the program is to be started
//     in a transient systemd scope (org.freedesktop.systemd1.Manager.StartTransientUnit on
//     the user bus, asked for by an unsandboxed process), so that it belongs to the user's
//     session and not to sesame, or, without systemd, by the unsandboxed supervisor (`sesame
//     up`) on the role's request over its link.
//
// Only the roles listed in the invariant tests (none today) may ever allow execve; adding one
// is a reviewed change to those tests.
//
// # Adding a role
//
// Write its [Policy] next to the others in tables.go — path rules from [Dirs], system call
// groups (reuse goRuntime and secureMemory), every rule with its reason — and add it to
// [Policies]. Call [Apply] in the role's Run once it has opened what it needs. Add the role to
// TestRoleSandbox's checks (an allowed operation, its denied paths), run
// internal/stracesum/trace.sh over the suite, and add what the role needs and nothing else.
//
// # What the sandbox costs
//
// Landlock also stops a sandboxed process from ptrace-inspecting processes outside its
// domain, which covers reading another process's /proc/PID/exe: the hub can still read a
// peer's /proc/PID/stat, status and cmdline, but not its executable path (TestRoleSandbox
// checks both). Nothing depends on it for authorisation (roles are identified by their keys),
// but logs and audit records show an empty exe for clients; the bus could fall back to
// argv[0] from cmdline, marked as the client's own claim.
//
// The package's import cost is small: it has no init work, its system call tables are array
// literals, and go-seccomp-bpf (whose architecture tables take ~0.4 ms at every start of the
// multi-call binary) is imported by tests only.
package sandbox
