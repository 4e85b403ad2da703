package bus

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A real process of another uid is closed before the handshake. The test binary re-executes
// itself as nobody (root only): the socket is made connectable for the test, so that the
// kernel lets the peer in and the hub's own SO_PEERCRED check is what refuses it.
func TestOtherUIDProcessRefused(t *testing.T) {
	if os.Getenv("SESAME_TEST_DIAL") != "" {
		dialAsChild()
		return
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another uid")
	}
	th := newTestHub(t, nil, "secrets")
	// t.TempDir's parent is private: open the path to the socket up for nobody.
	for d := filepath.Dir(th.path); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(th.path, 0o666)
	// The test binary may sit in a directory nobody cannot enter: copy it.
	tmp, err := os.MkdirTemp("", "uidtest")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755)
	bin := filepath.Join(tmp, "bus.test")
	copyFile(t, os.Args[0], bin)
	cmd := exec.Command(bin, "-test.run=^TestOtherUIDProcessRefused$")
	cmd.Env = append(os.Environ(), "SESAME_TEST_DIAL="+th.path, "SESAME_TEST_HUBKEY="+th.pub.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if !strings.Contains(string(out), "refused:") {
		t.Fatalf("child: %v %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(th.log.String(), "uid 65534 is not 0") {
		if time.Now().After(deadline) {
			t.Fatalf("hub log: %s", th.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialAsChild() {
	pub, _ := ParsePublicKey(os.Getenv("SESAME_TEST_HUBKEY"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, os.Getenv("SESAME_TEST_DIAL"), pub, DialConfig{})
	if err == nil {
		fmt.Println("accepted")
	} else {
		fmt.Println("refused:", err)
	}
	os.Exit(0)
}

func copyFile(t *testing.T, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}
