//go:build !(amd64 || arm64 || riscv64 || 386 || loong64 || s390x)

package secmem

import "golang.org/x/sys/unix"

// The kernel has no memfd_secret on this architecture.
func memfdSecret() (int, error) { return -1, unix.ENOSYS }
