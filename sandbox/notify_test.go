package sandbox

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func watchAsync(t *testing.T, link *os.File) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- Watch(context.Background(), link, "sesame-test", io.Discard) }()
	return done
}

func waitWatch(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return")
		return nil
	}
}

// A child that dies before its sandbox closes the link: Watch ends quietly.
func TestWatchLinkClosed(t *testing.T) {
	link, child, err := NewLink()
	if err != nil {
		t.Fatal(err)
	}
	done := watchAsync(t, link)
	child.Close()
	if err := waitWatch(t, done); err != nil {
		t.Fatal(err)
	}
}

// Whatever arrives on the link that is not a seccomp listener (a program the role should never
// have started, holding the link) is refused, not served.
func TestWatchRefusesOtherDescriptors(t *testing.T) {
	link, child, err := NewLink()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	w.Write([]byte("readable"))
	done := watchAsync(t, link)
	if err := unix.Sendmsg(int(child.Fd()), []byte("evil"), unix.UnixRights(int(r.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	err = waitWatch(t, done)
	if err == nil || !strings.Contains(err.Error(), "not a seccomp listener") {
		t.Fatalf("Watch: %v", err)
	}
}

// Watch ends with its context.
func TestWatchContext(t *testing.T) {
	link, child, err := NewLink()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, link, "sesame-test", io.Discard) }()
	cancel()
	if err := waitWatch(t, done); err != nil {
		t.Fatal(err)
	}
}
