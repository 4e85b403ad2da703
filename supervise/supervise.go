// Package supervise runs sesame's daemon roles as child processes where there is no systemd
// to do it (containers, jump hosts, a terminal): this is `sesame up`.
//
// # What it does
//
// Run takes an exclusive lock on up.lock in the runtime directory (so one user has one
// supervisor), generates every role's static bus key in secure memory, and starts the hub
// (the profile role) and then each other role by re-executing the sesame binary with argv[0]
// "sesame-ROLE". Each child gets its key through an inherited pipe (see bus.Boot) and reports
// readiness on another; Run waits for those reports, never for a fixed time.
//
// A child that exits is restarted with exponential backoff (100 ms doubling to 10 s; the delay
// resets once a child has stayed up for 10 s). When the hub restarts, the other roles lose their
// connection, exit, and are restarted behind it. When ctx ends (SIGTERM or SIGINT to `sesame
// up`), Run stops the roles, then the hub, with SIGTERM, and kills what is left after 5 s.
//
// # State machine of one child
//
//	         start ok             exit (unexpected)
//	stopped ─────────→ running ───────────────────→ backoff ──timer──→ (start)
//	   ↑                  │ ctx done                   │ ctx done
//	   └──────────────────┴─────────────── stopping ←──┘
//
// Stop (`sesame down`) signals the process holding the lock and waits for the lock to be free.
package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/sandbox"
	"golang.org/x/sys/unix"
)

// Config says what to run.
type Config struct {
	Exe        string   // the sesame executable
	RuntimeDir string   // from bus.RuntimeDir
	Hub        string   // the role that runs the hub ("profile")
	Roles      []string // the other roles, started after the hub
	Env        []string // children's environment (the boot and ready variables are added)
	Stderr     io.Writer
	Logf       func(format string, args ...any)
	// Ready is called once, when the hub and every role have reported ready.
	Ready func()
	// ReadyTimeout bounds the wait for one child's readiness; default 10 s.
	ReadyTimeout time.Duration
}

// LockName is the supervisor's lock file in the runtime directory; it holds its pid.
const LockName = "up.lock"

// ErrRunning is returned by Run when another supervisor holds the lock.
var ErrRunning = errors.New("sesame up is already running")

const (
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 10 * time.Second
	stableAfter  = 10 * time.Second
	stopDeadline = 5 * time.Second
)

type child struct {
	role    string
	key     *bus.Keypair
	cmd     *exec.Cmd
	started time.Time
	backoff time.Duration
	exited  chan error // receives the Wait result of the current process
	timer   *time.Timer
}

type supervisor struct {
	cfg      Config
	hubPub   bus.PublicKey
	children []*child // hub first
	exits    chan *child
}

// Run supervises until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	lock, err := acquire(filepath.Join(cfg.RuntimeDir, LockName))
	if err != nil {
		return err
	}
	defer lock.Close()

	s := &supervisor{cfg: cfg, exits: make(chan *child, 16)}
	for _, role := range append([]string{cfg.Hub}, cfg.Roles...) {
		kp, err := bus.GenerateKeypair()
		if err != nil {
			return err
		}
		defer kp.Destroy()
		s.children = append(s.children, &child{role: role, key: kp, backoff: minBackoff})
	}
	s.hubPub = s.children[0].key.Public
	defer s.stopAll()

	for _, c := range s.children {
		if err := s.start(ctx, c); err != nil {
			return err
		}
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	cfg.Logf("up: hub and %d roles ready", len(cfg.Roles))
	return s.loop(ctx)
}

func (s *supervisor) loop(ctx context.Context) error {
	restart := make(chan *child)
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-s.exits:
			err := <-c.exited
			c.cmd = nil
			ran := time.Since(c.started)
			if ran >= stableAfter {
				c.backoff = minBackoff
			}
			s.cfg.Logf("up: %s exited after %v (%v); restarting in %v", c.role, ran.Round(time.Millisecond), exitString(err), c.backoff)
			delay := c.backoff
			c.backoff = min(c.backoff*2, maxBackoff)
			c.timer = time.AfterFunc(delay, func() {
				select {
				case restart <- c:
				case <-ctx.Done():
				}
			})
		case c := <-restart:
			c.timer = nil
			if c != s.children[0] && s.children[0].cmd == nil {
				// The hub is down; its restart will come first. Try again after it.
				c.timer = time.AfterFunc(minBackoff, func() {
					select {
					case restart <- c:
					case <-ctx.Done():
					}
				})
				continue
			}
			if err := s.start(ctx, c); err != nil {
				s.cfg.Logf("up: restart %s: %v", c.role, err)
				if c.cmd == nil {
					delay := c.backoff
					c.backoff = min(c.backoff*2, maxBackoff)
					c.timer = time.AfterFunc(delay, func() {
						select {
						case restart <- c:
						case <-ctx.Done():
						}
					})
				}
			}
		}
	}
}

// start launches one child and waits for it to report ready.
func (s *supervisor) start(ctx context.Context, c *child) error {
	bootR, bootW, err := os.Pipe()
	if err != nil {
		return err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		bootR.Close()
		bootW.Close()
		return err
	}
	env := append(append([]string(nil), s.cfg.Env...), bus.BootFDEnv+"=3", bus.ReadyFDEnv+"=4")
	extra := []*os.File{bootR, readyW}
	// A role with a sandbox policy hands its seccomp listener back on this link, and Watch
	// logs each system call the role is denied (see package sandbox).
	var link, linkChild *os.File
	if _, err := sandbox.For(c.role); err == nil {
		if link, linkChild, err = sandbox.NewLink(); err != nil {
			bootR.Close()
			bootW.Close()
			readyR.Close()
			readyW.Close()
			return err
		}
		env = append(env, sandbox.NotifyFDEnv+"=5")
		extra = append(extra, linkChild)
	}
	cmd := &exec.Cmd{
		Path:       s.cfg.Exe,
		Args:       []string{"sesame-" + c.role},
		Env:        env,
		Stdout:     s.cfg.Stderr,
		Stderr:     s.cfg.Stderr,
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGTERM,
		},
	}
	err = cmd.Start()
	bootR.Close()
	readyW.Close()
	if link != nil {
		linkChild.Close()
	}
	if err != nil {
		bootW.Close()
		readyR.Close()
		if link != nil {
			link.Close()
		}
		return fmt.Errorf("up: start %s: %w", c.role, err)
	}
	if link != nil {
		go func() {
			if err := sandbox.Watch(ctx, link, "sesame-"+c.role, s.cfg.Stderr); err != nil {
				s.cfg.Logf("up: %s: %v", c.role, err)
			}
		}()
	}
	c.cmd, c.started = cmd, time.Now()
	c.exited = make(chan error, 1)
	go func() {
		c.exited <- cmd.Wait()
		s.exits <- c
	}()

	boot := &bus.Boot{Role: c.role, Private: c.key.Private(), Hub: s.hubPub}
	if c == s.children[0] {
		boot.Roles = make(map[string]bus.PublicKey)
		for _, o := range s.children[1:] {
			boot.Roles[o.role] = o.key.Public
		}
	}
	err = bus.WriteBoot(bootW, boot)
	bootW.Close()
	if err != nil {
		readyR.Close()
		cmd.Process.Kill()
		return fmt.Errorf("up: provision %s: %w", c.role, err)
	}
	if err := s.awaitReady(ctx, c, readyR); err != nil {
		// Its exit comes through s.exits like any other and schedules the restart.
		cmd.Process.Kill()
		return err
	}
	return nil
}

func (s *supervisor) awaitReady(ctx context.Context, c *child, r *os.File) error {
	defer r.Close()
	r.SetReadDeadline(time.Now().Add(s.cfg.ReadyTimeout))
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stop()
	line, err := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) == "ready" {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("up: %s exited before it was ready", c.role)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("up: %s not ready after %v", c.role, s.cfg.ReadyTimeout)
}

// stopAll stops the roles, then the hub: SIGTERM, then SIGKILL after stopDeadline.
func (s *supervisor) stopAll() {
	for _, c := range s.children {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	roles, hub := s.children[1:], s.children[:1]
	for _, group := range [][]*child{roles, hub} {
		for _, c := range group {
			if c.cmd != nil {
				c.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		deadline := time.After(stopDeadline)
		for _, c := range group {
			if c.cmd == nil {
				continue
			}
			select {
			case <-c.exited:
			case <-deadline:
				s.cfg.Logf("up: %s did not stop in %v; killing it", c.role, stopDeadline)
				c.cmd.Process.Kill()
				<-c.exited
			}
			c.cmd = nil
		}
	}
}

func exitString(err error) string {
	if err == nil {
		return "status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return "status " + strconv.Itoa(ee.ExitCode())
	}
	return err.Error()
}

// acquire takes the supervisor lock and records our pid in it.
func acquire(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("up: lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := readPid(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (pid %d)", ErrRunning, pid)
		}
		return nil, fmt.Errorf("up: lock: %w", err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

func readPid(f *os.File) (int, error) {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	return strconv.Atoi(strings.TrimSpace(string(b[:n])))
}

// Running reports the pid of the supervisor holding the lock in runtimeDir, or 0.
func Running(runtimeDir string) int {
	f, err := os.Open(filepath.Join(runtimeDir, LockName))
	if err != nil {
		return 0
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return 0
	}
	pid, err := readPid(f)
	if err != nil {
		return 0
	}
	return pid
}

// Stop asks the running supervisor to stop and waits until it has released its lock. It
// returns false when none was running.
func Stop(runtimeDir string, timeout time.Duration) (bool, error) {
	pid := Running(runtimeDir)
	if pid == 0 {
		return false, nil
	}
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		return true, fmt.Errorf("down: signal pid %d: %w", pid, err)
	}
	f, err := os.Open(filepath.Join(runtimeDir, LockName))
	if err != nil {
		return true, nil
	}
	defer f.Close()
	// Blocks until the lock is released; bounded by a timer that interrupts the flock.
	done := make(chan error, 1)
	go func() {
		for {
			err := unix.Flock(int(f.Fd()), unix.LOCK_SH)
			if err != unix.EINTR {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		return true, err
	case <-time.After(timeout):
		return true, fmt.Errorf("down: sesame up (pid %d) still running after %v", pid, timeout)
	}
}
