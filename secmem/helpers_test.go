package secmem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Child processes: the parent re-executes the test binary with childEnv set to
// a mode; TestMain runs that mode instead of the tests and exits. The child
// never runs m.Run, and "-test.run=^$" makes sure that it would run nothing
// if the variable were lost.
const (
	childEnv    = "SECMEM_TEST_CHILD"
	fallbackEnv = "SECMEM_TEST_FALLBACK" // "1": the child forces the mlock backend
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if os.Getenv(fallbackEnv) == "1" {
			testOnlyNoMemfdSecret = true
		}
		child, ok := childModes[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
			os.Exit(3)
		}
		child()
		// Modes that are expected to die never get here.
		fmt.Println("survived")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type childResult struct {
	stdout, stderr string
	code           int // exit status, or -1 if killed by a signal
	signal         string
}

func (r childResult) String() string {
	return fmt.Sprintf("exit %d signal %q\n--- stdout:\n%s--- stderr:\n%s", r.code, r.signal, r.stdout, r.stderr)
}

func childCmd(mode string, fallback bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, fallbackEnv+"=0")
	if fallback {
		cmd.Env = append(cmd.Env, fallbackEnv+"=1")
	}
	return cmd
}

// runChild runs a child mode to completion.
func runChild(t *testing.T, mode string, fallback bool) childResult {
	t.Helper()
	cmd := childCmd(mode, fallback)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := childResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(unix.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal().String()
		}
	default:
		t.Fatalf("run child %s: %v", mode, err)
	}
	return r
}

// backends runs f once per backend available here, with the backend forced.
func backends(t *testing.T, f func(t *testing.T, fallback bool)) {
	t.Run(BackendMemfdSecret, func(t *testing.T) {
		if !probe().memfdSecret {
			t.Skip("memfd_secret is not available on this kernel")
		}
		f(t, false)
	})
	t.Run(BackendMlock, func(t *testing.T) {
		forceFallback(t)
		f(t, true)
	})
}

// forceFallback makes New use the mlock backend until the test ends.
func forceFallback(tb testing.TB) {
	old := testOnlyNoMemfdSecret
	testOnlyNoMemfdSecret = true
	tb.Cleanup(func() { testOnlyNoMemfdSecret = old })
}

func mustNew(tb testing.TB, n int) *Buf {
	tb.Helper()
	b, err := New(n)
	if err != nil {
		tb.Fatalf("New(%d): %v", n, err)
	}
	return b
}

// internals returns the mapping of a live non-empty Buf.
func internals(b *Buf) *mapping {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.m
}

func addr(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }

// vma is one entry of /proc/self/smaps.
type vma struct {
	start, end uintptr
	perms      string
	path       string
	flags      []string
	lockedKB   int
}

func (v vma) has(flag string) bool { return slices.Contains(v.flags, flag) }

// vmaAt returns the entry of /proc/self/smaps that contains a, if any.
func vmaAt(t *testing.T, a uintptr) (vma, bool) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cur vma
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if rng := strings.SplitN(fields[0], "-", 2); len(rng) == 2 && !strings.HasSuffix(fields[0], ":") {
			lo, err1 := strconv.ParseUint(rng[0], 16, 64)
			hi, err2 := strconv.ParseUint(rng[1], 16, 64)
			if err1 == nil && err2 == nil {
				if found {
					return cur, true
				}
				cur = vma{start: uintptr(lo), end: uintptr(hi), perms: fields[1]}
				if len(fields) >= 6 {
					cur.path = strings.Join(fields[5:], " ")
				}
				found = cur.start <= a && a < cur.end
				continue
			}
		}
		if !found {
			continue
		}
		switch fields[0] {
		case "VmFlags:":
			cur.flags = fields[1:]
		case "Locked:":
			cur.lockedKB, _ = strconv.Atoi(fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cur, found
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// eventually polls cond, running the garbage collector in between.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
