package profile

// The SSID probe.
//
// Context rules may match the Wi-Fi network (config.SignalSSID), which NetworkManager tells
// over the D-Bus system bus. The hub cannot dial it: its sandbox allows no connect(2), because
// before Landlock ABI 9 a connect to the system bus cannot be told from a connect to any other
// Unix socket of the user (ssh-agent's among them). So the hub starts, before its sandbox, a
// child that can: this same executable as `sesame-profile ssid-probe`, which sandboxes itself
// (sandbox.SSIDProbe: no file at all, Unix stream sockets, no exec, no process). They talk
// over two pipes, one line each way:
//
//	hub → probe (stdin)   17                                    a request, by sequence number
//	probe → hub (stdout)  {"seq":17,"ssids":["corp-office"]}    the networks connected to
//	                      {"seq":17,"error":"networkmanager: …"}
//
// The probe answers each request with config.NetworkManager.Read (which connects when first
// asked and, after a failure, tries again only after RetryAfter); it writes its logs to the
// hub's stderr, exits when its stdin ends (the hub closed it, or is gone) and is killed if
// the hub dies (Pdeathsig). It gets no descriptor but those three and no environment but
// DBUS_SYSTEM_BUS_ADDRESS: no key, no secret, no runtime or state directory.
//
// The probe is started at every hub start, whether or not a rule names an SSID (the
// configuration is hot-reloaded, and the hub cannot start one later): idle, it is a blocked
// read and a few megabytes. After its sandbox the hub cannot start another (no execve, no
// fork), so if the probe dies the hub logs it once and SSID rules stop matching until sesame
// restarts; the probe is made not to die: D-Bus failures are answers, not exits.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/sandbox"
	"golang.org/x/sys/unix"
)

const (
	// ssidProbeArg is the one argument Run takes: run as the SSID probe.
	ssidProbeArg = "ssid-probe"
	// probeTimeout bounds one round trip. The probe's own D-Bus calls give up after 2 s
	// (config.NetworkManager), so its error, with the reason, comes back before this.
	probeTimeout = 3 * time.Second
	// systemBusEnv is the one variable the probe gets.
	systemBusEnv = "DBUS_SYSTEM_BUS_ADDRESS"
)

// probeAnswer is one line from the probe.
type probeAnswer struct {
	Seq   uint64   `json:"seq"`
	SSIDs []string `json:"ssids,omitempty"`
	Error string   `json:"error,omitempty"`
}

// runSSIDProbe is the probe: it sandboxes itself, then answers requests from stdin until
// stdin ends.
func runSSIDProbe(ctx context.Context, e *env.Env) error {
	logf := func(format string, args ...any) { e.Logf("ssid probe: "+format, args...) }
	d := sandbox.Dirs{SystemBus: systemBusSocket(e.Getenv)}
	if _, err := sandbox.Apply(sandbox.SSIDProbe, d, e.Getenv, logf); err != nil {
		return fmt.Errorf("profile: ssid probe: %w", err)
	}
	nm := &config.NetworkManager{}
	defer nm.Close()
	done := make(chan error, 1)
	go func() { done <- serveProbe(ctx, nm, e.Stdin, e.Stdout) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("profile: ssid probe: %w", err)
		}
		return nil
	case <-ctx.Done(): // SIGTERM: the read on stdin stays blocked; the process ends
		return nil
	}
}

// serveProbe answers each request line of in with one line on out, until in ends.
func serveProbe(ctx context.Context, src config.Source, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64), 64)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		seq, err := strconv.ParseUint(sc.Text(), 10, 64)
		if err != nil {
			return fmt.Errorf("malformed request %q", sc.Text())
		}
		a := probeAnswer{Seq: seq}
		var s config.Signals
		if err := src.Read(ctx, &s); err != nil {
			a.Error = err.Error()
		} else {
			a.SSIDs = s.SSIDs
		}
		if err := enc.Encode(&a); err != nil {
			return err
		}
	}
	return sc.Err()
}

// systemBusSocket is the path of the system bus socket as godbus will dial it: the first
// unix:path= address of $DBUS_SYSTEM_BUS_ADDRESS, else the first of the default paths that
// exists; "" when there is none (an abstract or TCP address, or no bus).
func systemBusSocket(getenv func(string) string) string {
	if addr := getenv(systemBusEnv); addr != "" {
		for _, a := range strings.Split(addr, ";") {
			keys, ok := strings.CutPrefix(a, "unix:")
			if !ok {
				continue
			}
			for _, kv := range strings.Split(keys, ",") {
				if v, ok := strings.CutPrefix(kv, "path="); ok {
					p, err := dbus.UnescapeBusAddressValue(v)
					if err == nil && filepath.IsAbs(p) {
						return p
					}
				}
			}
		}
		return ""
	}
	for _, p := range []string{"/var/run/dbus/system_bus_socket", "/run/dbus/system_bus_socket"} { // godbus's order
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// ssidProbe is the hub's side of the probe: a config.Source of SignalSSID.
type ssidProbe struct {
	pid     int
	in      io.WriteCloser
	answers chan probeAnswer
	done    chan struct{} // closed when the probe's output ends; exited is set before
	exited  error
	timeout time.Duration
	logf    func(string, ...any)

	mu  sync.Mutex // one request at a time
	seq uint64
}

// startSSIDProbe starts exe as the probe. The hub passes /proc/self/exe: the binary it runs
// from, even when a package upgrade has replaced the file since. The probe's stderr is
// stderr (nil: /dev/null).
//
// Every descriptor of this process from 3 up is made close-on-exec first, so that the probe
// inherits only its three: the hub's supervisor link and readiness pipe (or systemd's
// descriptors) are open without it until Apply and SignalReady.
func startSSIDProbe(exe string, getenv func(string) string, stderr *os.File, logf func(string, ...any)) (*ssidProbe, error) {
	if err := closeOnExecFrom(3); err != nil {
		return nil, fmt.Errorf("ssid probe: %w", err)
	}
	environ := []string{} // not nil, which would pass on the hub's whole environment
	if v := getenv(systemBusEnv); v != "" {
		environ = append(environ, systemBusEnv+"="+v)
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{"sesame-profile", ssidProbeArg},
		Env:         environ,
		Stderr:      stderr,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("ssid probe: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ssid probe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ssid probe: %w", err)
	}
	// Its end is seen as the end of its output; then it is reaped (the hub's sandbox allows
	// waiting for its own child), so it does not stay a zombie, and how it ended is logged.
	p := newSSIDProbe(in, out, logf)
	p.pid = cmd.Process.Pid
	go func() {
		<-p.done
		if err := cmd.Wait(); err != nil {
			logf("ssid probe: %v", err)
		}
	}()
	return p, nil
}

// newSSIDProbe talks to a probe that reads requests from in and answers on out.
func newSSIDProbe(in io.WriteCloser, out io.ReadCloser, logf func(string, ...any)) *ssidProbe {
	p := &ssidProbe{
		in:      in,
		answers: make(chan probeAnswer, 8),
		done:    make(chan struct{}),
		timeout: probeTimeout,
		logf:    logf,
	}
	go p.readAnswers(out)
	return p
}

// closeOnExecFrom sets close-on-exec on every descriptor from fd up.
func closeOnExecFrom(fd int) error {
	err := unix.CloseRange(uint(fd), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil || !(errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL)) {
		return err
	}
	ents, err := os.ReadDir("/proc/self/fd") // before Linux 5.11
	if err != nil {
		return err
	}
	for _, de := range ents {
		if n, err := strconv.Atoi(de.Name()); err == nil && n >= fd {
			unix.CloseOnExec(n)
		}
	}
	return nil
}

// readAnswers passes the probe's answers on until its output ends, then records why.
func (p *ssidProbe) readAnswers(out io.ReadCloser) {
	defer out.Close()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		var a probeAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			p.logf("ssid probe: malformed answer %q: %v", sc.Text(), err)
			continue
		}
		select {
		case p.answers <- a:
		default: // late answers nobody took fill the buffer: Read skips them anyway
		}
	}
	why := "its output ended"
	if err := sc.Err(); err != nil {
		why = err.Error()
	}
	p.exited = fmt.Errorf("ssid probe exited (%s)", why)
	p.logf("%v: context rules on a Wi-Fi network no longer match; the hub cannot start it again (restart sesame)", p.exited)
	close(p.done)
}

func (*ssidProbe) Signal() config.Signal { return config.SignalSSID }

// Read asks the probe for the networks connected to.
func (p *ssidProbe) Read(ctx context.Context, s *config.Signals) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return p.exited
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.seq++
	if _, err := fmt.Fprintf(p.in, "%d\n", p.seq); err != nil {
		select {
		case <-p.done:
			return p.exited
		default:
			return fmt.Errorf("ssid probe exited: %w", err)
		}
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	for {
		select {
		case a := <-p.answers:
			if a.Seq != p.seq {
				continue // the late answer to a request that timed out
			}
			if a.Error != "" {
				return errors.New(a.Error)
			}
			s.SSIDs = append(s.SSIDs, a.SSIDs...)
			return nil
		case <-p.done:
			return p.exited
		case <-t.C:
			return fmt.Errorf("ssid probe: no answer in %v", p.timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close ends the probe: its stdin ends, and so does it.
func (p *ssidProbe) Close() error { return p.in.Close() }

// ssidSource starts the probe and returns it as the hub's SSID source; when it cannot be
// started, a source that says why.
func ssidSource(e *env.Env) (config.Source, func()) {
	stderr, _ := e.Stderr.(*os.File)
	p, err := startSSIDProbe("/proc/self/exe", e.Getenv, stderr, e.Logf)
	if err != nil {
		e.Logf("%v: context rules on a Wi-Fi network will not match", err)
		return config.FuncSource{Kind: config.SignalSSID, Fn: func(*config.Signals) error { return err }}, func() {}
	}
	return p, func() { p.Close() }
}

var _ config.Source = (*ssidProbe)(nil)
