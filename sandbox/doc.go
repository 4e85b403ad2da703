// Package sandbox confines each daemon role of sesame to what its job needs: Landlock for
// files (and the network, and signals), seccomp for system calls. The policies are data —
// one [Policy] per role in tables.go, every rule with its reason — and [Apply] enforces one
// in the calling process, on every thread, irreversibly.
//
// See the sections below; README.md ("Sandbox") has the summary for users.
package sandbox
