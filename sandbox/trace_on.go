//go:build sandbox_trace

package sandbox

// traceBuild: built with -tags sandbox_trace (by internal/stracesum/trace.sh only), a
// filter's default action is SECCOMP_RET_LOG — a call the tables lack is allowed and logged —
// so that one traced run of the test suite shows every call a change needs, instead of
// stopping at the first denial. Landlock and the kill list stay as they are. Never ship
// such a build: it is a development tool, and Apply says so loudly.
const traceBuild = true
