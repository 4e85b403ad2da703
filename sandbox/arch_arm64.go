package sandbox

import "golang.org/x/sys/unix"

// This architecture, as seccomp sees it.
const (
	auditArch = unix.AUDIT_ARCH_AARCH64
	x32Bit    = 0 // no second ABI
)

func archNames() []string { return namesARM64[:] }
