//go:build !amd64 && !arm64

package sandbox

// No system call table here: Apply applies Landlock and reports seccomp as unavailable.
const (
	auditArch = 0
	x32Bit    = 0
)

func archNames() []string { return nil }
