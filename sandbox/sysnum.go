package sandbox

import "slices"

// sysNumber returns the number of the named system call on this architecture.
func sysNumber(name string) (uint32, bool) {
	i := slices.Index(archNames(), name)
	if i < 0 || name == "" {
		return 0, false
	}
	return uint32(i), true
}

// sysName names system call number nr of this architecture ("syscall_NR" when unknown).
func sysName(nr int32) string {
	names := archNames()
	if nr >= 0 && int(nr) < len(names) && names[nr] != "" {
		return names[nr]
	}
	return "syscall_" + itoa(int64(nr))
}

// knownName reports whether name is a system call on any architecture with a table.
func knownName(name string) bool {
	return name != "" && (slices.Contains(namesAMD64[:], name) || slices.Contains(namesARM64[:], name))
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
