//go:build !sandbox_trace

package sandbox

// traceBuild is set by the sandbox_trace build tag (see trace_on.go).
const traceBuild = false
