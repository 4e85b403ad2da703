//go:build 386 || loong64 || s390x

package secmem

import "golang.org/x/sys/unix"

// x/sys has no MemfdSecret wrapper on these architectures, only the number.
func memfdSecret() (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_MEMFD_SECRET, unix.O_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
