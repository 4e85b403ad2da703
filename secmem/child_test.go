package secmem

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Tests that need a process of their own: a fault, an abort, process-wide
// settings, or another process looking in.

var pattern = []byte("s3cr3t-PATTERN-XYZ-0123456789-ab")

// sink keeps loads from being optimised away.
var sink byte

var childModes = map[string]func(){
	// Write one byte past the end of the data: the trailing guard page.
	"overflow": func() {
		b := childNew(32)
		p := unsafe.Add(unsafe.Pointer(&b.Bytes()[0]), b.Len())
		fmt.Printf("touch addr=%#x\n", uintptr(p))
		*(*byte)(p) = 1
		runtime.KeepAlive(b)
	},
	// Read the last byte before the data pages: the leading guard page.
	"underflow-guard": func() {
		b := childNew(32)
		data := b.Bytes()
		off := len(internals(b).pages) - len(data) // data's offset in its pages
		p := unsafe.Add(unsafe.Pointer(&data[0]), -off-1)
		fmt.Printf("touch addr=%#x\n", uintptr(p))
		sink = *(*byte)(p)
		runtime.KeepAlive(b)
	},
	// Write the byte just before the data (the canary's last byte).
	"corrupt-canary": func() {
		b := childNew(32)
		p := unsafe.Add(unsafe.Pointer(&b.Bytes()[0]), -1)
		*(*byte)(p) ^= 0xff
		b.Destroy()
	},
	// Write the byte just before the canary (padding), leaving it intact.
	"corrupt-padding": func() {
		b := childNew(32)
		p := unsafe.Add(unsafe.Pointer(&b.Bytes()[0]), -canarySize-1)
		*(*byte)(p) = 0
		b.Destroy()
	},
	// Corrupt the canary and drop the Buf: the cleanup must catch it.
	"corrupt-canary-unreachable": func() {
		func() {
			b := childNew(32)
			*(*byte)(unsafe.Add(unsafe.Pointer(&b.Bytes()[0]), -1)) ^= 0xff
		}()
		for range 500 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	},
	// Hold a secret and a heap marker and wait for the parent to read them
	// through /proc/PID/mem.
	"procmem": func() {
		b := childNew(len(pattern))
		copy(b.Bytes(), pattern)
		heap := []byte("HEAP-MARKER-0123")
		fmt.Printf("ready pid=%d secret=%#x heap=%#x\n", os.Getpid(), addr(b.Bytes()), addr(heap))
		bufio.NewReader(os.Stdin).ReadString('\n')
		runtime.KeepAlive(heap)
		b.Destroy()
		fmt.Println("done")
	},
	"harden": func() {
		// Make the core limit non-zero first, if the hard limit allows it,
		// so that the test can see Harden change it.
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &lim)
		if lim.Max > 0 && lim.Cur == 0 {
			lim.Cur = min(lim.Max, 1<<20)
			unix.Setrlimit(unix.RLIMIT_CORE, &lim)
		}
		printHardening("before")
		if err := Harden(); err != nil {
			fmt.Println("harden error:", err)
		}
		printHardening("after")
	},
	// Lower RLIMIT_MEMLOCK to 64 KiB and drop CAP_IPC_LOCK, then allocate
	// within and beyond the limit.
	"memlock": func() {
		// Capabilities are per thread: stay on the thread that drops them.
		runtime.LockOSThread()
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: 64 << 10, Max: 64 << 10}); err != nil {
			fmt.Println("setup error:", err)
			return
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			fmt.Println("setup error:", err)
			return
		}
		small, err := New(32)
		fmt.Printf("small: %v\n", err)
		if err == nil {
			copy(small.Bytes(), pattern)
			fmt.Printf("small equal: %v\n", small.Equal(pattern))
			small.Destroy()
		}
		_, err = New(1 << 20)
		fmt.Printf("big: %v\n", err)
	},
	"canary": func() {
		fmt.Printf("canary=%x\n", probe().canary)
	},
}

func childNew(n int) *Buf {
	b, err := New(n)
	if err != nil {
		fmt.Println("New:", err)
		os.Exit(3)
	}
	fmt.Printf("backend=%s\n", internals(b).backend)
	return b
}

func printHardening(when string) {
	dumpable, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		fmt.Println("prctl error:", err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		fmt.Println("getrlimit error:", err)
	}
	fmt.Printf("%s dumpable=%d core=%d/%d\n", when, dumpable, lim.Cur, lim.Max)
}

func wantBackend(t *testing.T, r childResult, fallback bool) {
	t.Helper()
	want := BackendMemfdSecret
	if fallback {
		want = BackendMlock
	}
	if !strings.Contains(r.stdout, "backend="+want+"\n") {
		t.Fatalf("child did not allocate with %s:\n%v", want, r)
	}
}

// A touch of either guard page kills the process with SIGSEGV at exactly the
// address touched. The Go runtime turns the signal into a fatal error
// ("unexpected fault address", exit status 2) that cannot be recovered.
func TestGuardPageKillsChild(t *testing.T) {
	for _, mode := range []string{"overflow", "underflow-guard"} {
		t.Run(mode, func(t *testing.T) {
			backends(t, func(t *testing.T, fallback bool) {
				r := runChild(t, mode, fallback)
				wantBackend(t, r, fallback)
				m := regexp.MustCompile(`touch addr=(0x[0-9a-f]+)`).FindStringSubmatch(r.stdout)
				if m == nil {
					t.Fatalf("child did not reach the touch:\n%v", r)
				}
				if r.code != 2 || strings.Contains(r.stdout, "survived") {
					t.Fatalf("child was not killed by the touch:\n%v", r)
				}
				for _, want := range []string{
					"unexpected fault address " + m[1],
					"[signal SIGSEGV: segmentation violation",
					"addr=" + m[1] + " ",
				} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("child's stderr lacks %q:\n%v", want, r)
					}
				}
			})
		})
	}
}

// memfd_secret pages cannot be read through /proc/PID/mem, even by root,
// while the child's heap can; the mlock fallback's pages can (which shows
// that this test can fail).
func TestProcMemCannotReadSecret(t *testing.T) {
	backends(t, func(t *testing.T, fallback bool) {
		cmd := childCmd("procmem", fallback)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		out := bufio.NewReader(stdout)
		var pid int
		var secret, heap uintptr
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("child: %v; stderr:\n%s", err, stderr.String())
			}
			if _, err := fmt.Sscanf(line, "ready pid=%d secret=%v heap=%v", &pid, &secret, &heap); err == nil {
				break
			}
		}
		if pid != cmd.Process.Pid {
			t.Fatalf("child reports pid %d, started %d", pid, cmd.Process.Pid)
		}

		mem, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		got := make([]byte, 16)
		if _, err := mem.ReadAt(got, int64(heap)); err != nil || string(got) != "HEAP-MARKER-0123" {
			t.Fatalf("control read of the child's heap: %q, %v", got, err)
		}
		got = make([]byte, len(pattern))
		n, err := mem.ReadAt(got, int64(secret))
		if fallback {
			if err != nil || !bytes.Equal(got, pattern) {
				t.Fatalf("fallback: read %d bytes %q, %v; want the pattern", n, got[:n], err)
			}
		} else {
			if !errors.Is(err, unix.EIO) || n != 0 {
				t.Fatalf("memfd_secret: read %d bytes %q, %v; want EIO", n, got[:n], err)
			}
		}

		io.WriteString(stdin, "go\n")
		rest, _ := io.ReadAll(out)
		if err := cmd.Wait(); err != nil || !strings.Contains(string(rest), "done") {
			t.Fatalf("child: %v; stdout %q; stderr:\n%s", err, rest, stderr.String())
		}
	})
}

// Overwriting the canary or the padding before the data is detected on
// Destroy, or by the cleanup of an unreachable Buf, and aborts loudly.
func TestCorruptionAborts(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"corrupt-canary", "the canary before the data was overwritten"},
		{"corrupt-padding", "the padding before the canary was overwritten"},
		{"corrupt-canary-unreachable", "the canary before the data was overwritten (buffer under-run); found by the cleanup of a Buf that was never destroyed"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			backends(t, func(t *testing.T, fallback bool) {
				r := runChild(t, tc.mode, fallback)
				wantBackend(t, r, fallback)
				if r.code != 2 || strings.Contains(r.stdout, "survived") {
					t.Fatalf("child did not abort:\n%v", r)
				}
				for _, want := range []string{"secmem: FATAL: memory corruption detected: 32-byte Buf", tc.want, "secmem: aborting the process"} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("child's stderr lacks %q:\n%v", want, r)
					}
				}
				if strings.Contains(r.stderr, "goroutine ") {
					t.Errorf("abort printed a runtime traceback:\n%v", r)
				}
			})
		})
	}
}

func TestCanaryRandomPerProcess(t *testing.T) {
	var seen []string
	for range 2 {
		r := runChild(t, "canary", false)
		m := regexp.MustCompile(`canary=([0-9a-f]{32})\n`).FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("child:\n%v", r)
		}
		seen = append(seen, m[1])
	}
	if seen[0] == seen[1] || seen[0] == strings.Repeat("0", 32) {
		t.Fatalf("canaries %s and %s: want random, different per process", seen[0], seen[1])
	}
	if own := hex.EncodeToString(probe().canary[:]); own == seen[0] || own == seen[1] {
		t.Fatalf("child canary equals the parent's %s", own)
	}
}

func TestHarden(t *testing.T) {
	r := runChild(t, "harden", false)
	if r.code != 0 || strings.Contains(r.stdout, "error") {
		t.Fatalf("child:\n%v", r)
	}
	if !strings.Contains(r.stdout, "before dumpable=1 ") {
		t.Fatalf("child was not dumpable before Harden, the test proves nothing:\n%v", r)
	}
	if !strings.Contains(r.stdout, "after dumpable=0 core=0/0\n") {
		t.Fatalf("Harden did not take effect:\n%v", r)
	}
	if strings.Contains(r.stdout, "before dumpable=1 core=0/0\n") {
		t.Logf("RLIMIT_CORE was already 0/0 here; only the dumpable flag shows a change")
	}
}

// With RLIMIT_MEMLOCK exhausted and no CAP_IPC_LOCK, New fails with an error
// that names the limit; it never hands out unlocked memory. Small allocations
// within the limit still work.
func TestMemlockLimitIsAnError(t *testing.T) {
	backends(t, func(t *testing.T, fallback bool) {
		r := runChild(t, "memlock", fallback)
		if r.code != 0 || strings.Contains(r.stdout, "setup error") {
			t.Fatalf("child:\n%v", r)
		}
		if !strings.Contains(r.stdout, "small: <nil>\nsmall equal: true\n") {
			t.Errorf("a 32-byte Buf within the limit failed:\n%v", r)
		}
		size, _, _ := layout(1<<20, probe().pageSize)
		want := fmt.Sprintf("big: secmem: mlock %d bytes: cannot allocate memory (RLIMIT_MEMLOCK is 65536 bytes", size)
		if !fallback {
			want = fmt.Sprintf("big: secmem: memfd_secret: mmap %d bytes: resource temporarily unavailable (RLIMIT_MEMLOCK is 65536 bytes", size)
		}
		if !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in:\n%v", want, r)
		}
	})
}
