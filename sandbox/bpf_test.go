package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The filters, run in x/net/bpf's virtual machine on made-up system calls: what each role's
// program answers, without loading it. (The VM reads words big-endian, so each 32-bit field of
// struct seccomp_data is stored big-endian at its offset; the program sees the same values the
// kernel would give it on a little-endian machine.)

type call struct {
	name string
	args [6]uint64
	arch uint32 // 0: this architecture
	nr   int    // used when name is ""
}

func seccompData(t *testing.T, c call) []byte {
	t.Helper()
	b := make([]byte, 64)
	nr := uint32(c.nr)
	if c.name != "" {
		n, ok := sysNumber(c.name)
		if !ok {
			t.Skipf("%s does not exist on this architecture", c.name)
		}
		nr = n
	}
	a := c.arch
	if a == 0 {
		a = auditArch
	}
	binary.BigEndian.PutUint32(b[offNr:], nr)
	binary.BigEndian.PutUint32(b[offArch:], a)
	for i, v := range c.args {
		binary.BigEndian.PutUint32(b[offArgs+8*i:], uint32(v))
		binary.BigEndian.PutUint32(b[offArgs+8*i+4:], uint32(v>>32))
	}
	return b
}

func run(t *testing.T, p *Policy, def uint32, notifyFD int, c call) uint32 {
	t.Helper()
	rules, err := compile(p, runtimeValues{pid: 4242, notifyFD: notifyFD})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := program(rules, def)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	out, err := vm.Run(seccompData(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return uint32(out)
}

const threadFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD | unix.CLONE_SETTLS

func TestFilterVerdicts(t *testing.T) {
	type want struct {
		c       call
		profile uint32
		secrets uint32
	}
	const D = retNotify // the default action in these runs
	for _, w := range []want{
		{call{name: "read"}, retAllow, retAllow},
		{call{name: "futex", args: [6]uint64{0, futexPrivateFlag | futexWait}}, retAllow, retAllow},
		{call{name: "futex", args: [6]uint64{0, futexPrivateFlag | futexWaitBitset | futexClockRealtime}}, retAllow, retAllow},
		{call{name: "futex", args: [6]uint64{0, futexWait}}, D, D},                     // shared futex
		{call{name: "futex", args: [6]uint64{0, futexPrivateFlag | 6}}, D, D},          // FUTEX_LOCK_PI
		{call{name: "clone", args: [6]uint64{threadFlags}}, retAllow, retAllow},        // a Go thread
		{call{name: "clone", args: [6]uint64{uint64(unix.SIGCHLD)}}, D, D},             // fork
		{call{name: "clone", args: [6]uint64{threadFlags | unix.CLONE_NEWUSER}}, D, D}, // namespaces
		{call{name: "clone", args: [6]uint64{unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)}}, D, D},
		{call{name: "clone3"}, retENOSYS, retENOSYS},
		{call{name: "mmap", args: [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE}}, retAllow, retAllow},
		{call{name: "mmap", args: [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC}}, D, D},
		{call{name: "mprotect", args: [6]uint64{0, 4096, unix.PROT_EXEC}}, D, D},
		{call{name: "tgkill", args: [6]uint64{4242, 4243, uint64(unix.SIGURG)}}, retAllow, retAllow},
		{call{name: "tgkill", args: [6]uint64{1, 1, uint64(unix.SIGKILL)}}, D, D},
		{call{name: "kill", args: [6]uint64{1, uint64(unix.SIGKILL)}}, D, D},
		{call{name: "socket", args: [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}}, D, retAllow},
		{call{name: "socket", args: [6]uint64{unix.AF_UNIX, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC}}, retAllow, retAllow},
		{call{name: "socket", args: [6]uint64{unix.AF_INET, unix.SOCK_STREAM}}, D, D},
		{call{name: "socket", args: [6]uint64{unix.AF_INET6, unix.SOCK_DGRAM}}, D, D},
		{call{name: "socket", args: [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW}}, D, D},
		{call{name: "socket", args: [6]uint64{unix.AF_UNIX | 1<<32, unix.SOCK_STREAM}}, D, retAllow}, // the kernel reads an int
		{call{name: "accept4"}, retAllow, D},
		{call{name: "getsockopt", args: [6]uint64{3, unix.SOL_SOCKET, unix.SO_PEERCRED}}, retAllow, D},
		{call{name: "getsockopt", args: [6]uint64{3, unix.SOL_SOCKET, unix.SO_PEERSEC}}, D, D},
		{call{name: "ioctl", args: [6]uint64{1, unix.TIOCSTI}}, D, D},
		{call{name: "ioctl", args: [6]uint64{1, unix.TCGETS}}, D, D},
		{call{name: "prctl", args: [6]uint64{unix.PR_SET_VMA}}, retAllow, retAllow},
		{call{name: "prctl", args: [6]uint64{unix.PR_SET_DUMPABLE, 1}}, D, D},
		{call{name: "fcntl", args: [6]uint64{3, unix.F_SETLK}}, D, retAllow},
		{call{name: "fcntl", args: [6]uint64{3, unix.F_DUPFD}}, D, D},
		{call{name: "execve"}, D, D},
		{call{name: "execveat"}, D, D},
		{call{name: "memfd_secret"}, retAllow, retAllow},
		{call{name: "memfd_create"}, D, D},
		{call{name: "pwrite64"}, D, retAllow},
		{call{name: "sendmsg", args: [6]uint64{5}}, retAllow, retAllow}, // the hand-off socket
		{call{name: "sendmsg", args: [6]uint64{6}}, D, D},
		{call{name: "ptrace"}, retKill, retKill},
		{call{name: "process_vm_readv"}, retKill, retKill},
		{call{name: "bpf"}, retKill, retKill},
		{call{name: "unshare"}, retKill, retKill},
		{call{name: "io_uring_setup"}, retKill, retKill},
		{call{name: "read", arch: unix.AUDIT_ARCH_I386}, retKill, retKill}, // another ABI's entry point
		{call{nr: 0x40000000 + 1}, retKill, retKill},                       // x32 (amd64) / unknown
		{call{nr: 1000}, D, D},                                             // a call from the future
	} {
		if w.c.nr == 0x40000000+1 && x32Bit == 0 {
			continue
		}
		for _, pc := range []struct {
			p    *Policy
			want uint32
		}{{Profile, w.profile}, {Secrets, w.secrets}} {
			name := w.c.name
			if name == "" {
				name = "nr " + itoa(int64(w.c.nr))
			}
			t.Run(pc.p.Role+"/"+name, func(t *testing.T) {
				if got := run(t, pc.p, retNotify, 5, w.c); got != pc.want {
					t.Errorf("%s(%#x): %#x, want %#x", name, w.c.args, got, pc.want)
				}
			})
		}
	}
}

// Without a supervisor, the default is EPERM and the hand-off rule is gone.
func TestFilterWithoutSupervisor(t *testing.T) {
	for _, p := range Policies() {
		// With flags: the Wayland roles' own sendmsg (flags 0, any socket) does not match.
		if got := run(t, p, retEPERM, -1, call{name: "sendmsg", args: [6]uint64{5, 0, unix.MSG_OOB}}); got != retEPERM {
			t.Errorf("%s: sendmsg without a supervisor: %#x", p.Role, got)
		}
		if got := run(t, p, retEPERM, -1, call{name: "socket", args: [6]uint64{unix.AF_INET}}); got != retEPERM {
			t.Errorf("%s: socket(AF_INET): %#x", p.Role, got)
		}
		if got := run(t, p, retEPERM, -1, call{name: "ptrace"}); got != retKill {
			t.Errorf("%s: ptrace: %#x", p.Role, got)
		}
	}
}

// TestWaylandSendmsg: the roles that talk to the compositor send with no flags, on any socket
// (a descriptor in a Wayland request); with flags they are refused, as for every other role.
func TestWaylandSendmsg(t *testing.T) {
	for _, p := range []*Policy{WM, Clipboard} {
		if got := run(t, p, retEPERM, -1, call{name: "sendmsg", args: [6]uint64{7, 0, 0}}); got != retAllow {
			t.Errorf("%s: sendmsg(7, …, 0): %#x", p.Role, got)
		}
		if got := run(t, p, retEPERM, -1, call{name: "sendmsg", args: [6]uint64{7, 0, unix.MSG_OOB}}); got != retEPERM {
			t.Errorf("%s: sendmsg(7, …, MSG_OOB): %#x", p.Role, got)
		}
	}
	for _, p := range []*Policy{Launcher, Snippets} {
		if got := run(t, p, retEPERM, -1, call{name: "sendmsg", args: [6]uint64{7, 0, 0}}); got != retEPERM {
			t.Errorf("%s: sendmsg(7, …, 0): %#x", p.Role, got)
		}
	}
}

// TestAssembler: long programs still have short jumps, and labels resolve.
func TestAssembler(t *testing.T) {
	big := &Policy{Role: "big"}
	var g []Syscall
	for _, n := range archNames() {
		if n != "" && !knownDenied(n) {
			g = append(g, Syscall{Name: n, Args: []Arg{{N: 0, In: []uint32{1, 2, 3}}, {N: 1, Mask: 0xff, In: []uint32{7}}}, Reason: "x"})
		}
	}
	big.Syscalls = [][]Syscall{g}
	rules, err := compile(big, runtimeValues{pid: 1, notifyFD: -1})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := program(rules, retEPERM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
	if got := run(t, big, retEPERM, -1, call{name: "read", args: [6]uint64{2, 0x107}}); got != retAllow {
		t.Errorf("read(2, 0x107): %#x", got)
	}
	if got := run(t, big, retEPERM, -1, call{name: "read", args: [6]uint64{4, 7}}); got != retEPERM {
		t.Errorf("read(4, 7): %#x", got)
	}
}

func knownDenied(name string) bool {
	for _, d := range append(Kill[:len(Kill):len(Kill)], ENOSYS...) {
		if d.Name == name {
			return true
		}
	}
	return false
}
