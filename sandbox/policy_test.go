package sandbox

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Invariants over every role's policy, in the manner of gVisor's config_test.go: whatever a
// table change does, these must keep holding.

// execRoles are the roles allowed to execute programs. None: a sandboxed role never starts a
// program itself (see "Spawning programs" in the package doc); the launcher only composes a
// plan, which the unsandboxed command line (or systemd, or the supervisor) runs.
var execRoles = []string{}

// memfdRoles may make memfds (memfd_create), and then never executable ones: the wm's
// drawing buffers, shared with the compositor.
var memfdRoles = []string{"wm"}

// owned are the directories each belongs to one role: no other role may read or write
// beneath them (nor above them, which would reach them).
var owned = map[string]string{
	"/home/u/.local/share/sesame/vaults":    "secrets",
	"/home/u/.local/state/sesame/audit":     "profile",
	"/home/u/.local/state/sesame/profile":   "profile",
	"/home/u/.local/state/sesame/launcher":  "launcher",
	"/home/u/.local/state/sesame/wm":        "wm",
	"/home/u/.local/share/sesame/snippets":  "snippets",
	"/home/u/.local/share/sesame/clipboard": "clipboard",
}

// neverAllowed are system calls no role may allow, whatever else changes.
var neverAllowed = []string{
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
	"bpf", "kexec_load", "kexec_file_load", "init_module", "finit_module", "userfaultfd",
	"io_uring_setup", "unshare", "setns", "mount", "open_by_handle_at", "seccomp", "landlock_restrict_self",
	// Landlock does not mediate a file's mode or owner: by path, a role could open the
	// user's keys or the vaults to everyone. Only the descriptor forms (fchmod, fchown) on
	// files Landlock let it open.
	"chmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchownat",
}

// testDirs is a typical user's resolved directories.
var testDirs = Dirs{
	Runtime: "/run/user/1000/sesame",
	Data:    "/home/u/.local/share",
	Config:  "/home/u/.config",
	State:   "/home/u/.local/state",
	Notify:  "/run/user/1000/systemd/notify",

	SystemConfig: "/etc/sesame",
	Sysfs:        "/sys",
	Home:         "/home/u",
	Wayland:      "/run/user/1000/wayland-0",
	DataDirs:     []string{"/home/u/.local/share", "/usr/local/share", "/usr/share"},
	SystemBus:    "/run/dbus/system_bus_socket",
}

// reaches reports whether a rule granting access beneath rule covers path, or lies beneath
// it (and so grants part of it).
func reaches(rule, path string) bool {
	within := func(a, b string) bool { // a is b or beneath it
		rel, err := filepath.Rel(b, a)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	}
	return within(path, rule) || within(rule, path)
}

func resolved(t *testing.T, p *Policy) map[string]PathRule {
	t.Helper()
	out := map[string]PathRule{}
	for _, r := range p.Paths {
		paths, err := r.ResolveAll(testDirs)
		if err != nil {
			t.Fatalf("%s: %v", p.Role, err)
		}
		for _, path := range paths {
			if prev, ok := out[path]; ok {
				t.Errorf("%s: %s granted twice (%v, %v)", p.Role, path, prev, r)
			}
			out[path] = r
		}
	}
	return out
}

func TestOnlySecretsReachesTheVaults(t *testing.T) {
	vaults := filepath.Join(testDirs.Data, "sesame/vaults")
	for _, p := range Policies() {
		for path, r := range resolved(t, p) {
			if reaches(path, vaults) && r.Access&(Read|Write) != 0 && p.Role != "secrets" {
				t.Errorf("%s: rule %v reaches the vaults (%s)", p.Role, r, vaults)
			}
		}
	}
	found := false
	for path, r := range resolved(t, Secrets) {
		if path == vaults && r.Access == Read|Write && r.Make {
			found = true
		}
	}
	if !found {
		t.Errorf("secrets: no read-write rule for %s", vaults)
	}
}

// TestOnlyTheOwnerReaches: a role's own files (its database, the hub's audit log) are out of
// every other role's reach, even when their directories sit side by side.
func TestOnlyTheOwnerReaches(t *testing.T) {
	for _, p := range Policies() {
		for path, r := range resolved(t, p) {
			for dir, owner := range owned {
				if p.Role != owner && reaches(path, dir) && r.Access&(Read|Write|Execute|Remove) != 0 {
					t.Errorf("%s: rule %v reaches %s's %s", p.Role, r, owner, dir)
				}
			}
		}
	}
	for dir, owner := range owned {
		p, err := For(owner)
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := resolved(t, p)[dir]; !ok || r.Access != Read|Write || !r.Make {
			t.Errorf("%s: no read-write rule (with Make) for its %s", owner, dir)
		}
	}
}

// TestEnvironmentPathsReadOnly: the rules whose paths the environment names beyond sesame's
// own XDG dirs ($XDG_DATA_DIRS, $HOME) only read.
func TestEnvironmentPathsReadOnly(t *testing.T) {
	for _, p := range Policies() {
		for _, r := range p.Paths {
			if (r.Base == DataDirs || r.Base == Home || r.Base == Root) && r.Access != Read {
				t.Errorf("%s: rule %v must be read-only", p.Role, r)
			}
			if (r.Base == Wayland || r.Base == SystemBus) && r.Access != Connect {
				t.Errorf("%s: rule %v may only connect", p.Role, r)
			}
		}
	}
}

// TestSSIDProbeReadsNothing: the SSID probe may only dial the system bus; no file is granted,
// and no other role may dial the system bus.
func TestSSIDProbeReadsNothing(t *testing.T) {
	for _, r := range SSIDProbe.Paths {
		if r.Base != SystemBus || r.Access != Connect {
			t.Errorf("ssid-probe: rule %v grants more than dialling the system bus", r)
		}
	}
	for _, p := range Policies() {
		for _, r := range p.Paths {
			if r.Base == SystemBus && p != SSIDProbe {
				t.Errorf("%s: rule %v dials the system bus", p.Role, r)
			}
		}
	}
}

// TestHubDialsNoStream: the hub makes no stream socket, so it can dial neither the system bus
// nor any other socket of the user (its datagram socket is systemd's NOTIFY_SOCKET); the SSID
// probe dials the bus for it.
func TestHubDialsNoStream(t *testing.T) {
	for _, g := range Profile.Syscalls {
		for _, s := range g {
			if s.Name == "socketpair" {
				t.Errorf("profile: allows socketpair")
			}
			if s.Name != "socket" {
				continue
			}
			ok := false
			for _, a := range s.Args {
				if a.N == 1 && a.Mask&0xf == 0xf && !slices.Contains(a.In, unix.SOCK_STREAM) && !slices.Contains(a.In, unix.SOCK_SEQPACKET) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("profile: socket %+v may make a stream socket", s.Args)
			}
		}
	}
}

func TestNoRoleReachesHomeOrSystem(t *testing.T) {
	// The user's keys, the shell's history and the system's files are out of reach of every
	// role; only XDG subdirectories sesame owns, the runtime dir and /proc are granted.
	forbidden := []string{"/home/u/.ssh/id_ed25519", "/home/u/.bash_history", "/home/u", "/etc/passwd", "/usr/bin", "/", "/tmp", "/dev"}
	for _, p := range Policies() {
		for path, r := range resolved(t, p) {
			for _, f := range forbidden {
				rel, _ := filepath.Rel(path, f)
				if path == f || (rel != ".." && !strings.HasPrefix(rel, "../")) {
					t.Errorf("%s: rule %v covers %s", p.Role, r, f)
				}
			}
		}
	}
}

// TestWritesStayInSesamesDirs: a role writes only in the runtime dir and in sesame's own
// subdirectory of an XDG dir.
func TestWritesStayInSesamesDirs(t *testing.T) {
	ours := []string{testDirs.Runtime, testDirs.Data + "/sesame", testDirs.State + "/sesame", testDirs.Config + "/sesame"}
	for _, p := range Policies() {
		for path, r := range resolved(t, p) {
			if r.Access&Write == 0 {
				continue
			}
			if !slices.ContainsFunc(ours, func(o string) bool { return path == o || strings.HasPrefix(path, o+"/") }) {
				t.Errorf("%s: rule %v writes outside sesame's directories", p.Role, r)
			}
		}
	}
}

func TestNoRoleExecutes(t *testing.T) {
	for _, p := range Policies() {
		if slices.Contains(execRoles, p.Role) {
			continue
		}
		for _, r := range p.Paths {
			if r.Access&Execute != 0 {
				t.Errorf("%s: rule %v grants execute", p.Role, r)
			}
		}
		for _, g := range p.Syscalls {
			for _, s := range g {
				if s.Name == "execve" || s.Name == "execveat" {
					t.Errorf("%s: allows %s", p.Role, s.Name)
				}
			}
		}
	}
}

func TestNeverAllowed(t *testing.T) {
	for _, p := range Policies() {
		for _, g := range p.Syscalls {
			for _, s := range g {
				if slices.Contains(neverAllowed, s.Name) {
					t.Errorf("%s: allows %s", p.Role, s.Name)
				}
				for _, d := range Kill {
					if d.Name == s.Name {
						t.Errorf("%s: allows %s, which is on the kill list", p.Role, s.Name)
					}
				}
			}
		}
	}
	for _, must := range []string{"ptrace", "process_vm_readv", "process_vm_writev"} {
		if !slices.ContainsFunc(Kill, func(d Deny) bool { return d.Name == must }) {
			t.Errorf("%s is not on the kill list", must)
		}
	}
}

// TestArgumentFilters: the calls that matter are never allowed without conditions, and their
// conditions say what the package doc promises.
func TestArgumentFilters(t *testing.T) {
	for _, p := range Policies() {
		for _, g := range p.Syscalls {
			for _, s := range g {
				argIn := func(n int) []uint32 {
					for _, a := range s.Args {
						if a.N == n {
							return a.In
						}
					}
					return nil
				}
				switch s.Name {
				case "socket", "socketpair":
					if fam := argIn(0); len(fam) == 0 || slices.ContainsFunc(fam, func(f uint32) bool { return f != unix.AF_UNIX }) {
						t.Errorf("%s: %s allows families %v; only AF_UNIX", p.Role, s.Name, fam)
					}
				case "clone":
					if len(s.Args) != 1 || s.Args[0].Mask&unix.CLONE_THREAD == 0 || s.Args[0].Mask&cloneNamespaces != cloneNamespaces ||
						!slices.Equal(s.Args[0].In, []uint32{unix.CLONE_THREAD}) {
						t.Errorf("%s: clone must require CLONE_THREAD and forbid namespace flags: %+v", p.Role, s.Args)
					}
				case "ioctl", "prctl", "fcntl", "futex", "mmap", "mprotect", "getsockopt", "setsockopt", "kill", "tgkill", "tkill", "sendmsg":
					if len(s.Args) == 0 {
						t.Errorf("%s: %s allowed without conditions", p.Role, s.Name)
					}
				case "memfd_create":
					if !slices.Contains(memfdRoles, p.Role) {
						t.Errorf("%s: allows %s", p.Role, s.Name)
					} else if len(s.Args) != 1 || s.Args[0].N != 1 || s.Args[0].Mask&unix.MFD_EXEC == 0 || !slices.Equal(s.Args[0].In, []uint32{0}) {
						t.Errorf("%s: memfd_create must refuse MFD_EXEC: %+v", p.Role, s.Args)
					}
				case "pkey_mprotect", "execve", "execveat", "personality":
					t.Errorf("%s: allows %s", p.Role, s.Name)
				}
				if (s.Name == "mmap" || s.Name == "mprotect") && !(len(s.Args) == 1 && s.Args[0].Mask == unix.PROT_EXEC && slices.Equal(s.Args[0].In, []uint32{0})) {
					t.Errorf("%s: %s must refuse PROT_EXEC", p.Role, s.Name)
				}
				if (s.Name == "kill" || s.Name == "tgkill") && !(len(s.Args) == 1 && s.Args[0].N == 0 && s.Args[0].Is == SelfPID) {
					t.Errorf("%s: %s must be limited to this process", p.Role, s.Name)
				}
			}
		}
	}
}

func TestEveryRuleHasAReason(t *testing.T) {
	for _, p := range Policies() {
		for _, r := range p.Paths {
			if strings.TrimSpace(r.Reason) == "" {
				t.Errorf("%s: path rule %v has no reason", p.Role, r)
			}
		}
		for _, g := range p.Syscalls {
			for _, s := range g {
				if strings.TrimSpace(s.Reason) == "" {
					t.Errorf("%s: %s has no reason", p.Role, s.Name)
				}
			}
		}
	}
	for _, d := range append(slices.Clone(Kill), ENOSYS...) {
		if strings.TrimSpace(d.Reason) == "" {
			t.Errorf("%s has no reason", d.Name)
		}
	}
}

func TestEveryNameExists(t *testing.T) {
	check := func(where, name string) {
		if !knownName(name) {
			t.Errorf("%s: %q is not a system call on amd64 or arm64", where, name)
		}
	}
	for _, p := range Policies() {
		for _, g := range p.Syscalls {
			for _, s := range g {
				check(p.Role, s.Name)
			}
		}
	}
	for _, d := range append(slices.Clone(Kill), ENOSYS...) {
		check("deny list", d.Name)
	}
}

// TestNamesMatchGoSeccompBPF cross-checks the generated tables (from x/sys/unix) with
// go-seccomp-bpf's independently generated ones. Only tests import go-seccomp-bpf, so its
// tables cost the binary nothing.
func TestNamesMatchGoSeccompBPF(t *testing.T) {
	for _, c := range []struct {
		ours   []string
		theirs *arch.Info
	}{{namesAMD64[:], arch.X86_64}, {namesARM64[:], arch.AARCH64}} {
		n := 0
		for name, nr := range c.theirs.SyscallNames {
			if name == "fstatat" { // arm64's 79: go-seccomp-bpf uses the generic header's name
				name = "newfstatat"
			}
			if nr < len(c.ours) && c.ours[nr] != "" && c.ours[nr] != name && !slices.Contains(c.ours, name) {
				t.Errorf("%s: %d is %q here, %q in go-seccomp-bpf", c.theirs.Name, nr, c.ours[nr], name)
			}
			if i := slices.Index(c.ours, name); i >= 0 {
				n++
				if i != nr {
					t.Errorf("%s: %q is %d here, %d in go-seccomp-bpf", c.theirs.Name, name, i, nr)
				}
			}
		}
		if n < 250 {
			t.Errorf("%s: only %d names in common", c.theirs.Name, n)
		}
	}
}

func TestPoliciesCompile(t *testing.T) {
	for _, p := range Policies() {
		for _, fd := range []int{-1, 5} {
			rules, err := compile(p, runtimeValues{pid: 4242, notifyFD: fd})
			if err != nil {
				t.Fatal(err)
			}
			for _, def := range []uint32{retNotify, retEPERM} {
				prog, err := program(rules, def)
				if err != nil {
					t.Fatalf("%s: %v", p.Role, err)
				}
				if _, err := bpf.Assemble(prog); err != nil {
					t.Fatalf("%s: %v", p.Role, err)
				}
			}
		}
	}
}

func TestForUnknownRole(t *testing.T) {
	if _, err := For("env"); err == nil {
		t.Fatal("a role without a policy must be an error")
	}
	if p, err := For("secrets"); err != nil || p != Secrets {
		t.Fatalf("For(secrets) = %v, %v", p, err)
	}
}

func TestResolveAll(t *testing.T) {
	r := PathRule{Base: DataDirs, Path: "applications"}
	got, err := r.ResolveAll(testDirs)
	if want := []string{"/home/u/.local/share/applications", "/usr/local/share/applications", "/usr/share/applications"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("%v: %q, %v; want %q", r, got, err, want)
	}
	if got, err := r.ResolveAll(Dirs{}); err != nil || len(got) != 0 {
		t.Errorf("%v without data dirs: %q, %v", r, got, err)
	}
	if _, err := r.ResolveAll(Dirs{DataDirs: []string{"relative"}}); err == nil {
		t.Errorf("%v: a relative data dir must be an error", r)
	}
	if got, err := (PathRule{Base: Notify, Optional: true}).ResolveAll(Dirs{}); err != nil || len(got) != 0 {
		t.Errorf("optional and unset: %q, %v", got, err)
	}
}

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		r    PathRule
		d    Dirs
		want string
		bad  bool
	}{
		{PathRule{Base: Data, Path: "sesame/vaults"}, testDirs, "/home/u/.local/share/sesame/vaults", false},
		{PathRule{Base: Runtime}, testDirs, "/run/user/1000/sesame", false},
		{PathRule{Base: Root, Path: "/proc"}, testDirs, "/proc", false},
		{PathRule{Base: Root, Path: "proc"}, testDirs, "", true},
		{PathRule{Base: Data, Path: "../../.ssh"}, testDirs, "", true},
		{PathRule{Base: Data, Path: "/etc"}, testDirs, "", true},
		{PathRule{Base: State, Path: "x"}, Dirs{}, "", true},
		{PathRule{Base: Data, Path: "x"}, Dirs{Data: "relative"}, "", true},
		{PathRule{Base: Notify, Optional: true}, Dirs{}, "", false},
		{PathRule{Base: Notify, Optional: true}, testDirs, "/run/user/1000/systemd/notify", false},
		{PathRule{Base: Home, Path: ".fonts", Optional: true}, testDirs, "/home/u/.fonts", false},
		{PathRule{Base: Home, Path: ".fonts", Optional: true}, Dirs{}, "", false},
		{PathRule{Base: Wayland}, testDirs, "/run/user/1000/wayland-0", false},
		{PathRule{Base: Wayland}, Dirs{}, "", true},
		{PathRule{Base: SystemBus}, testDirs, "/run/dbus/system_bus_socket", false},
		{PathRule{Base: SystemBus, Optional: true}, Dirs{}, "", false},
		{PathRule{Base: DataDirs, Path: "applications"}, testDirs, "", true}, // several: ResolveAll
	} {
		got, err := c.r.Resolve(c.d)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("%v in %+v: %q, %v", c.r, c.d, got, err)
		}
	}
}
