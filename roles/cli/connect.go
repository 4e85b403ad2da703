package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/open-sesame/sesame/bus"
)

// Autostart.
//
// A command that needs the daemons dials the hub. When nothing answers, and autostart is not
// turned off (SESAME_NO_AUTOSTART=1), it starts `sesame up` detached in its own session, as
// gpg-agent does, logging to up.log in the runtime directory, and waits for it to report ready
// on a pipe (never a fixed sleep). Two commands racing to autostart are fine: the second
// `sesame up` finds the lock taken and exits, and its command dials the first one.

const autostartWait = 15 * time.Second

// dial connects to the hub, starting it when needed.
func (st *state) dial(ctx context.Context) (*bus.Client, error) {
	if cl := st.spare; cl != nil {
		st.spare = nil
		return cl, nil
	}
	dir, err := bus.RuntimeDir(st.e.Getenv)
	if err != nil {
		return nil, err
	}
	cl, err := dialHub(ctx, dir)
	if err == nil || !notRunning(err) {
		return cl, err
	}
	if st.e.Getenv("SESAME_NO_AUTOSTART") == "1" {
		return nil, withHint(errors.New("sesame is not running"), "start it with: sesame up (SESAME_NO_AUTOSTART=1 is set)")
	}
	if err := st.autostart(ctx, dir); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cl, err := dialHub(ctx, dir)
		if err == nil || !notRunning(err) {
			return cl, err
		}
		if time.Now().After(deadline) {
			return nil, withHint(errors.New("sesame up did not start"), "see "+filepath.Join(dir, "up.log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dialHub(ctx context.Context, dir string) (*bus.Client, error) {
	pub, err := bus.ReadPub(dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, bus.HandshakeTimeout)
	defer cancel()
	return bus.Dial(ctx, filepath.Join(dir, bus.SocketName), pub, bus.DialConfig{})
}

// notRunning reports whether err means that no hub is listening.
func notRunning(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}

func (st *state) autostart(ctx context.Context, dir string) error {
	logf, err := os.OpenFile(filepath.Join(dir, "up.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        st.e.Exe,
		Args:        []string{"sesame", "up"},
		Env:         append(childEnv(st.e.Environ()), bus.ReadyFDEnv+"=3"),
		Stdin:       devnull,
		Stdout:      logf,
		Stderr:      logf,
		ExtraFiles:  []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	cmd.Process.Release()
	r.SetReadDeadline(time.Now().Add(autostartWait))
	line, _ := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		// Either another `sesame up` won the race (fine: dial it), or it failed: the caller's
		// dial says which, and up.log says why.
		return nil
	}
	return nil
}

// childEnv drops sesame's own descriptor variables from an environment passed on.
func childEnv(environ []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		if strings.HasPrefix(kv, bus.BootFDEnv+"=") || strings.HasPrefix(kv, bus.ReadyFDEnv+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
