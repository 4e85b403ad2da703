//go:build amd64 || arm64 || riscv64

package secmem

import "golang.org/x/sys/unix"

func memfdSecret() (int, error) { return unix.MemfdSecret(unix.O_CLOEXEC) }
