#!/usr/bin/env bash
# Traces the daemon roles through the whole root test suite (testscript CLI scripts and the
# system tests, which run the real roles under `sesame up`) and summarises, per role, the
# system calls made after the role's seccomp(2) call. Run from the module root:
#
#     sandbox/internal/stracesum/trace.sh [OUT]
#
# It builds the test binary twice, with cgo (what `go test` runs here: glibc creates the
# threads) and without (what `make build` ships: the Go runtime's raw clone), because the two
# make different system calls. Both are built with -tags sandbox_trace, which makes the
# filters' default action SECCOMP_RET_LOG (see sandbox/trace_on.go): a call the tables lack
# is then allowed and traced, instead of failing and cutting the run short, so one run shows
# everything a change needs. Landlock stays on, so the paths opened are the allowed ones.
set -euo pipefail
out=${1:-/tmp/sesame-trace}
rm -rf "$out"
for cgo in 1 0; do
  d="$out/cgo$cgo"
  mkdir -p "$d"
  CGO_ENABLED=$cgo go test -tags sandbox_trace -c -o "$d/sesame.test" .
  strace -f -ff -ttt -q -o "$d/t" "$d/sesame.test" -test.count=1 -test.timeout=30m >"$d/test.log" 2>&1 ||
    echo "warning: the suite failed under strace (see $d/test.log); the trace is still summarised" >&2
  echo "## CGO_ENABLED=$cgo"
  go run ./sandbox/internal/stracesum "$d"
done
