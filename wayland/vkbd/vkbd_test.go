package vkbd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/vkbd"
	"github.com/open-sesame/sesame/wayland/wltest"
)

// TestTypeIntoFoot types into a real terminal on sway and reads back what the program in it
// received.
func TestTypeIntoFoot(t *testing.T) {
	s := wltest.StartSway(t)
	wltest.Need(t, "foot")
	out := filepath.Join(s.Home(), "typed.txt")
	s.Foot("typed", "sh", "-c", "stty -echo; cat > "+out)
	path, _ := wayland.SocketPath(s.Getenv)
	c, err := wayland.Connect(path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kb, err := vkbd.New(c)
	if err != nil {
		t.Fatal(err)
	}
	const text = "Hello, wörld! {x} \"q\" €\tend\n"
	start := time.Now()
	if err := kb.Type(text); err != nil {
		t.Fatal(err)
	}
	t.Logf("typed %d characters in %v", len([]rune(text)), time.Since(start))
	if err := kb.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(out)
		if strings.HasSuffix(string(got), "\n") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if string(got) != text {
		t.Fatalf("the terminal received %q, want %q", got, text)
	}
}
