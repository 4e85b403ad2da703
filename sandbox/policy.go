package sandbox

import (
	"fmt"
	"path/filepath"
)

// A Policy is one role's sandbox: the files it may reach (Landlock) and the system calls it
// may make (seccomp). Policies are data, reviewed like code: every rule carries the reason it
// exists, and the tests check invariants across all of them (see Policies).
type Policy struct {
	Role string

	// Paths are the only files the role can open once sandboxed. Anything else — $HOME, the
	// other roles' files, /etc, /usr — is out of reach, and so are TCP and UDP (no network
	// rule is ever granted), signals to processes outside the role, and abstract Unix sockets
	// of other processes.
	Paths []PathRule

	// Syscalls are the system calls the role may make, in groups (the Go runtime, file
	// I/O, …) so that the common part is shared and reviewed once. A call in no group is
	// denied with EPERM and logged; a call in Kill ends the process.
	Syscalls [][]Syscall
}

// Access is what a path rule grants beneath its path.
type Access uint8

const (
	// Read: read files and list directories.
	Read Access = 1 << iota
	// Write: create, write, truncate, rename (within the tree) and remove files and
	// directories, and create Unix sockets.
	Write
	// Execute: execute files. No role of sesame has it (see "Spawning programs").
	Execute
	// Connect: connect to Unix sockets beneath (Landlock ABI 9 and later mediate connect(2);
	// before that it is not restricted by Landlock, only by the sockets' own file modes).
	Connect
	// Remove: remove files beneath, and nothing else (the hub's socket at exit).
	Remove
)

func (a Access) String() string {
	s := ""
	for _, x := range []struct {
		bit  Access
		name string
	}{{Read, "r"}, {Write, "w"}, {Execute, "x"}, {Connect, "c"}, {Remove, "d"}} {
		if a&x.bit != 0 {
			s += x.name
		} else {
			s += "-"
		}
	}
	return s
}

// Base is the directory a path rule is relative to. Every base except Root comes from the
// caller (Dirs), resolved from the environment as the role itself resolves it: no home path
// is written into a table.
type Base uint8

const (
	Root         Base = iota // an absolute system path (/proc)
	Runtime                  // sesame's runtime dir: $XDG_RUNTIME_DIR/sesame (bus.RuntimeDir)
	Data                     // $XDG_DATA_HOME (default ~/.local/share)
	Config                   // $XDG_CONFIG_HOME (default ~/.config)
	State                    // $XDG_STATE_HOME (default ~/.local/state)
	Notify                   // $NOTIFY_SOCKET, systemd's readiness socket, when it is a path
	SystemConfig             // the system configuration directory (/etc/sesame)
	Sysfs                    // sysfs (/sys)
	Home                     // $HOME (only for the user's own font directory, ~/.fonts)
	Wayland                  // the compositor's socket: $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY, or that path when absolute
	DataDirs                 // each of the XDG data directories ($XDG_DATA_HOME, then $XDG_DATA_DIRS): one rule per directory
	SystemBus                // the D-Bus system bus socket: $DBUS_SYSTEM_BUS_ADDRESS's unix:path, else /run/dbus/system_bus_socket
)

func (b Base) String() string {
	return [...]string{"/", "$RUNTIME", "$XDG_DATA_HOME", "$XDG_CONFIG_HOME", "$XDG_STATE_HOME", "$NOTIFY_SOCKET", "$SYSTEM_CONFIG", "$SYSFS",
		"$HOME", "$WAYLAND_SOCKET", "$XDG_DATA_DIRS[*]", "$SYSTEM_BUS"}[b]
}

// PathRule grants Access to everything beneath one path.
type PathRule struct {
	Base   Base
	Path   string // relative to Base ("" is Base itself); absolute for Root
	Access Access
	// Make creates the directory (mode 0700, and its missing parents) before the rule is
	// applied: Landlock grants access to an existing inode, so a directory the role will
	// fill later must exist first. Without Make a missing path is an error.
	Make bool
	// Optional rules are skipped when their base is not set (NOTIFY_SOCKET outside systemd).
	Optional bool
	// IfExists rules are skipped when the path does not exist when the sandbox is applied
	// (a directory made later is out of reach until the role restarts); with Make, also when
	// the directory cannot be made (a read-only home under systemd's ProtectHome=).
	IfExists bool
	Reason   string
}

func (r PathRule) String() string {
	p := r.Base.String()
	if r.Path != "" {
		p = filepath.Join(p, r.Path)
	}
	return r.Access.String() + " " + p
}

// Dirs are the resolved directories path rules are built from. An empty field is one the
// environment does not name; a policy that needs it fails to apply.
type Dirs struct {
	Runtime string // bus.RuntimeDir
	Data    string // env.DataDir
	Config  string // env.ConfigDir
	State   string // env.StateDir
	// Notify is $NOTIFY_SOCKET when it is a path; Apply fills it in from the environment.
	Notify string
	// SystemConfig is the system configuration directory (config.PathsFor), when the role
	// reads one.
	SystemConfig string
	// Sysfs is where sysfs is mounted: /sys unless a test points elsewhere.
	Sysfs string
	// Home is $HOME, when the role reads beneath it (the wm's ~/.fonts).
	Home string
	// Wayland is the compositor's socket (wayland.SocketPath), for the roles that talk to it.
	Wayland string
	// DataDirs are the XDG data directories, best first (xdg.DataDirs): a rule on DataDirs
	// stands for one rule beneath each.
	DataDirs []string
	// SystemBus is the D-Bus system bus socket, for the SSID probe.
	SystemBus string
}

// NewDirs resolves Dirs from the role's runtime directory and its Env's XDG resolvers. A
// resolver that fails leaves its field empty.
func NewDirs(runtime string, data, config, state func() (string, error)) Dirs {
	get := func(f func() (string, error)) string {
		if f == nil {
			return ""
		}
		s, err := f()
		if err != nil {
			return ""
		}
		return s
	}
	return Dirs{Runtime: runtime, Data: get(data), Config: get(config), State: get(state), Sysfs: "/sys"}
}

// ResolveAll returns the absolute paths of r under d: one for every base but DataDirs, one
// per data directory for DataDirs (none when there are none), none for an optional rule
// whose base is unset.
func (r PathRule) ResolveAll(d Dirs) ([]string, error) {
	if r.Base != DataDirs {
		p, err := r.Resolve(d)
		if err != nil || p == "" {
			return nil, err
		}
		return []string{p}, nil
	}
	var out []string
	for _, dir := range d.DataDirs {
		one := d
		one.Data = dir
		p, err := PathRule{Base: Data, Path: r.Path}.Resolve(one)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Resolve returns the absolute path of r under d; "" for an optional rule whose base is unset.
// A DataDirs rule stands for several paths: see ResolveAll.
func (r PathRule) Resolve(d Dirs) (string, error) {
	if r.Base == DataDirs {
		return "", fmt.Errorf("sandbox: rule %v: several paths (ResolveAll)", r)
	}
	if r.Base == Root {
		if !filepath.IsAbs(r.Path) {
			return "", fmt.Errorf("sandbox: rule %q: not an absolute path", r.Path)
		}
		return filepath.Clean(r.Path), nil
	}
	base := [...]string{"", d.Runtime, d.Data, d.Config, d.State, d.Notify, d.SystemConfig, d.Sysfs, d.Home, d.Wayland, "", d.SystemBus}[r.Base]
	if base == "" && r.Optional {
		return "", nil
	}
	if base == "" {
		return "", fmt.Errorf("sandbox: rule %v: the directory %v is not known", r, r.Base)
	}
	if !filepath.IsAbs(base) {
		return "", fmt.Errorf("sandbox: rule %v: %v is %q, not an absolute path", r, r.Base, base)
	}
	if r.Path != "" && !filepath.IsLocal(r.Path) {
		return "", fmt.Errorf("sandbox: rule %v: path must stay beneath %v", r, r.Base)
	}
	return filepath.Join(base, r.Path), nil
}

// Syscall allows one system call, when all of its argument conditions hold. A name may
// appear more than once in a policy: the call is allowed when any entry's conditions hold.
type Syscall struct {
	Name   string
	Args   []Arg
	Reason string
}

// Arg is a condition on one argument: (argument & Mask) must be one of In, or equal the
// runtime value Is. Only the low 32 bits are compared: every argument the tables filter is
// an int or unsigned int in the kernel (clone flags and mmap/mprotect prot are unsigned long,
// but the kernel reads only their low bits), so a sign-extended negative int still matches.
type Arg struct {
	N    int      // which argument, 0 to 5
	Mask uint32   // 0 means all 32 bits
	In   []uint32 // allowed values of the masked argument
	Is   Value    // or: a value known only when the filter is built
}

// Value is an argument value known only when a filter is built.
type Value uint8

const (
	Const    Value = iota // use In
	SelfPID               // this process's pid (thread group id)
	NotifyFD              // the descriptor of the socket to the supervisor (see Apply)
)

// Action is what happens to a system call listed in Kill or ENOSYS.
type Action uint8

const (
	ActKill   Action = iota + 1 // SECCOMP_RET_KILL_PROCESS
	ActENOSYS                   // fail with ENOSYS, silently: "this kernel lacks it"
)

// Deny is a system call that is never allowed, with what happens instead of the default
// (EPERM, logged).
type Deny struct {
	Name   string
	Action Action
	Reason string
}

// Policies returns every role's policy, and the hub's SSID probe's, for tests and tools that
// check all of them.
func Policies() []*Policy {
	return []*Policy{Profile, Secrets, Launcher, Snippets, WM, Clipboard, SSIDProbe}
}

// For returns the policy of role.
func For(role string) (*Policy, error) {
	for _, p := range Policies() {
		if p.Role == role {
			return p, nil
		}
	}
	return nil, fmt.Errorf("sandbox: no policy for role %q", role)
}
