package sandbox

import "golang.org/x/sys/unix"

// This architecture, as seccomp sees it.
const (
	auditArch = unix.AUDIT_ARCH_X86_64
	x32Bit    = 0x40000000 // __X32_SYSCALL_BIT: the x32 ABI's calls, refused outright
)

func archNames() []string { return namesAMD64[:] }
