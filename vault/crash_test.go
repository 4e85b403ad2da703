package vault

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// childEnv, when set in the environment of the test binary, makes TestMain
// run crashChild on the vault it names instead of the tests.
const childEnv = "SESAME_VAULT_TEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(crashChild(path))
	}
	if path := os.Getenv(rotateChildEnv); path != "" {
		os.Exit(rotateChild(path))
	}
	code := m.Run()
	benchCleanup()
	os.Exit(code)
}

const crashSets = 1000

func crashName(i int) string { return fmt.Sprintf("crash-%04d", i) }
func crashValue(i int) string {
	return fmt.Sprintf("value %04d %x", i, bytes.Repeat([]byte{byte(i)}, i%64))
}

// crashChild sets crashSets secrets one by one and prints each name on
// stdout once Set has returned, that is, once the write is acknowledged.
func crashChild(path string) int {
	v, err := Open(path, "work")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := v.Unlock([]byte(testPassword)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < crashSets; i++ {
		if err := v.Set(crashName(i), []byte(crashValue(i))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// One write(2) per line, straight to the pipe: no buffering.
		if _, err := os.Stdout.WriteString(crashName(i) + "\n"); err != nil {
			return 1
		}
	}
	v.Close()
	return 0
}

// TestKill9Durability SIGKILLs a child process in the middle of a run of
// Sets and checks that every acknowledged secret survived with its value.
func TestKill9Durability(t *testing.T) {
	v := newVault(t, "work")
	path := v.Path()
	v.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killAt := 400 + rand.IntN(200)
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if want := crashName(len(acked)); sc.Text() != want {
			t.Fatalf("child printed %q, want %q", sc.Text(), want)
		}
		acked = append(acked, sc.Text())
		if len(acked) == killAt {
			// Keep reading afterwards: lines already in the pipe were
			// acknowledged before the kill.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v; stderr:\n%s", err, stderr.String())
	}
	if len(acked) < killAt || len(acked) >= crashSets {
		t.Fatalf("%d acks, killed at %d", len(acked), killAt)
	}
	t.Logf("killed after %d acks; %d acks in total", killAt, len(acked))

	w, err := Open(path, "work")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	bufs, err := w.GetMany(acked)
	if err != nil {
		t.Fatalf("an acknowledged secret is missing: %v", err)
	}
	defer destroyAll(bufs)
	for i, b := range bufs {
		if got := string(b.Bytes()); got != crashValue(i) {
			t.Errorf("%s = %q, want %q", acked[i], got, crashValue(i))
		}
	}
	// At most the one Set in flight may have landed without an ack.
	if n, err := w.Len(); err != nil || n < len(acked) || n > len(acked)+1 {
		t.Errorf("Len = %d, %v; want %d or %d", n, err, len(acked), len(acked)+1)
	}
	if _, err := w.List(); err != nil {
		t.Errorf("List after the crash: %v", err)
	}
}
