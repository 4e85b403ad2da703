package secmem

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Harden prepares the calling process to hold secrets. It makes the process
// non-dumpable with prctl(PR_SET_DUMPABLE, 0), which also stops other
// processes of the same user from attaching with ptrace or reading
// /proc/PID/mem, and sets RLIMIT_CORE to zero (soft and hard), so that no core
// dump is written. It also probes the backend (see [Backend]), so that the
// choice is made before the role installs a seccomp filter.
//
// Call it first thing in every role process: execve resets the dumpable flag.
// Harden tries both steps and returns every failure.
func Harden() error {
	var errs []error
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		errs = append(errs, fmt.Errorf("secmem: harden: prctl PR_SET_DUMPABLE: %w", err))
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		errs = append(errs, fmt.Errorf("secmem: harden: setrlimit RLIMIT_CORE: %w", err))
	}
	probe()
	return errors.Join(errs...)
}
