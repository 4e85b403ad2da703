package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// Whole-process benchmarks of the real static binary, built here as `make build` does.

func realBinary(b testing.TB) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "sesame")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// benchSandbox is a running sesame (real binary) with a "default" profile holding n secrets.
func benchSandbox(b *testing.B, n int) *sandbox {
	sb := newSandbox(b)
	sb.bin = realBinary(b)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	for i := range n {
		sb.setBytes("default", fmt.Sprintf("secret-%02d", i), []byte(fmt.Sprintf("value-%02d-0123456789abcdef", i)))
	}
	return sb
}

func benchRun(b *testing.B, sb *sandbox, args ...string) {
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(sb.bin, args...)
		cmd.Env = sb.env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v %s", args, err, out)
		}
	}
}

func BenchmarkProcessVersion(b *testing.B) {
	sb := newSandbox(b)
	sb.bin = realBinary(b)
	benchRun(b, sb, "--version")
}

func BenchmarkProcessStatus(b *testing.B) { benchRun(b, benchSandbox(b, 0), "status") }
func BenchmarkProcessSecretGet(b *testing.B) {
	benchRun(b, benchSandbox(b, 1), "secret", "get", "secret-00")
}
func BenchmarkProcessEnv1(b *testing.B)  { benchRun(b, benchSandbox(b, 1), "env", "--", "true") }
func BenchmarkProcessEnv20(b *testing.B) { benchRun(b, benchSandbox(b, 20), "env", "--", "true") }

// BenchmarkProcessTrue is the floor: starting a static process that does nothing.
func BenchmarkProcessTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}
