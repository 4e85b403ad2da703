package sandbox

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Observe reads another process's sandbox from /proc/PID/status: its seccomp mode, number of
// filters and no_new_privs bit, which the kernel reports for any process of the same user
// (roles are not dumpable, which hides their memory and descriptors, not their status).
//
// Landlock leaves no trace in /proc (Linux 6.18 has no field for a Landlock domain; the
// audit records of Linux 6.15 name a domain only when it denies something), so the Landlock
// level of another role is inferred, and reported as landlockABI — the caller's own, which
// is what the same binary enforces on the same kernel — only when the process shows a
// seccomp filter with no_new_privs: Apply loads the filter only after Landlock is in place,
// and a role that fails either step exits. Otherwise it is 0.
func Observe(role string, pid int32, landlockABI int) Level {
	l := Level{Role: role, PID: pid}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return l
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "NoNewPrivs":
			l.NoNewPrivs = v == "1"
		case "Seccomp":
			switch v {
			case "0":
				l.Seccomp = "disabled"
			case "1":
				l.Seccomp = "strict"
			case "2":
				l.Seccomp = "filter"
			}
		case "Seccomp_filters":
			l.Filters, _ = strconv.Atoi(v)
		}
	}
	if l.Seccomp == "filter" && l.NoNewPrivs {
		l.Landlock = landlockABI
	}
	return l
}
