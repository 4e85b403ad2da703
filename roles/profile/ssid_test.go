package profile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/internal/nmtest"
	"github.com/open-sesame/sesame/roles/env"
	"golang.org/x/sys/unix"
)

// TestMain: started by startSSIDProbe (argv "sesame-profile ssid-probe"), this test binary is
// the probe, run as roles.Main runs it; otherwise it runs the tests.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "sesame-profile" && len(os.Args) == 2 && os.Args[1] == ssidProbeArg {
		e := env.FromOS("sesame-profile")
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		err := Run(ctx, e, os.Args[1:])
		stop()
		if err != nil {
			e.Logf("%v", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probeBed is a probe started from this test binary (re-executed, sandboxed for real) and
// pointed at a private bus.
type probeBed struct {
	*ssidProbe
	stderr *os.File // the probe's logs
}

func startProbe(t *testing.T, busAddr string) *probeBed {
	t.Helper()
	stderr, err := os.CreateTemp(t.TempDir(), "probe-stderr")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"HOME": t.TempDir(), "SESAME_SECRET": "must-not-be-passed"}
	if busAddr != "" {
		vars[systemBusEnv] = busAddr
	}
	var logs []string
	p, err := startSSIDProbe("/proc/self/exe", func(k string) string { return vars[k] }, stderr, func(f string, a ...any) {
		logs = append(logs, fmt.Sprintf(f, a...))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		syscall.Kill(p.pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(p.pid, &ws, 0, nil)
	})
	return &probeBed{ssidProbe: p, stderr: stderr}
}

func (b *probeBed) read(t *testing.T) ([]string, error) {
	t.Helper()
	var s config.Signals
	err := b.Read(context.Background(), &s)
	return s.SSIDs, err
}

func (b *probeBed) logs() string {
	out, _ := os.ReadFile(b.stderr.Name())
	return string(out)
}

// procStatus returns a field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestSSIDProbe: the probe, sandboxed, reads the fake NetworkManager's SSID and follows its
// changes; it inherits nothing but its pipes and the bus address; a bus that goes away is an
// error, quickly, not a hang; a probe that is killed makes the source fail.
func TestSSIDProbe(t *testing.T) {
	bus := nmtest.StartBus(t)
	nm := nmtest.StartNM(t, bus.Addr, "corp-office")
	// A descriptor without close-on-exec, as the hub's readiness pipe and supervisor link are:
	// the probe must not get it.
	var leak [2]int
	if err := unix.Pipe2(leak[:], 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(leak[0])
	defer unix.Close(leak[1])
	var st unix.Stat_t
	unix.Fstat(leak[0], &st)
	leaked := fmt.Sprintf("pipe:[%d]", st.Ino)

	p := startProbe(t, bus.Addr)
	if got, err := p.read(t); err != nil || !slices.Equal(got, []string{"corp-office"}) {
		t.Fatalf("read: %q, %v\nprobe:\n%s", got, err, p.logs())
	}

	// It answered from its sandbox: Landlock (in the log), seccomp filter and no_new_privs on.
	t.Logf("probe:\n%s", p.logs())
	if !strings.Contains(p.logs(), "sesame-profile: ssid probe: sandbox: landlock ") {
		t.Errorf("the probe did not log its sandbox:\n%s", p.logs())
	}
	if got := procStatus(t, p.pid, "Seccomp"); got != "2" {
		t.Errorf("probe Seccomp: %q, want 2 (filter)", got)
	}
	if got := procStatus(t, p.pid, "NoNewPrivs"); got != "1" {
		t.Errorf("probe NoNewPrivs: %q", got)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(environ), systemBusEnv+"="+bus.Addr+"\x00"; got != want {
		t.Errorf("probe environment: %q, want %q", got, want)
	}
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(p.pid) + "/fd")
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(p.pid) + "/fd/" + fd.Name())
		if target == leaked {
			t.Errorf("the probe inherited descriptor %s (%s) of its parent", fd.Name(), target)
		}
	}

	// The answer follows the network; stale state is not kept.
	nm.SetSSID("home-net")
	if got, err := p.read(t); err != nil || !slices.Equal(got, []string{"home-net"}) {
		t.Fatalf("after the switch: %q, %v", got, err)
	}
	nm.SetSSID("")
	if got, err := p.read(t); err != nil || len(got) != 0 {
		t.Fatalf("disconnected: %q, %v", got, err)
	}
	nm.SetSSID("corp-office")

	// Round trips, for the numbers.
	const n = 200
	start := time.Now()
	for range n {
		if _, err := p.read(t); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("probe round trip (5 D-Bus calls to the fake): %v", time.Since(start)/n)

	// The bus goes away: an error, with the reason, well within the timeout; the probe
	// stays, and answers the next request at once (it waits RetryAfter before dialling again).
	bus.Kill()
	start = time.Now()
	got, err := p.read(t)
	if err == nil || !strings.Contains(err.Error(), "networkmanager:") {
		t.Fatalf("with the bus gone: %q, %v", got, err)
	}
	if d := time.Since(start); d > probeTimeout/2 {
		t.Errorf("the error took %v", d)
	}
	start = time.Now()
	if _, err := p.read(t); err == nil || time.Since(start) > 500*time.Millisecond {
		t.Errorf("again: %v after %v", err, time.Since(start))
	}

	// The probe is killed: the source says so, at once and from then on.
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, when := range []string{"first", "then"} {
		start = time.Now()
		_, err = p.read(t)
		if err == nil || !strings.Contains(err.Error(), "ssid probe exited") {
			t.Fatalf("%s read after the probe was killed: %v", when, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s read after the probe was killed took %v", when, d)
		}
	}
}

// TestSSIDProbeNoBus: without a system bus the probe answers with the error (rules on an SSID
// then do not match), and keeps answering.
func TestSSIDProbeNoBus(t *testing.T) {
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		t.Skip("no /proc")
	}
	dir, err := os.MkdirTemp("", "nob")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p := startProbe(t, "unix:path="+filepath.Join(dir, "missing"))
	for range 3 {
		if got, err := p.read(t); err == nil || !strings.Contains(err.Error(), "networkmanager:") {
			t.Fatalf("no bus: %q, %v\nprobe:\n%s", got, err, p.logs())
		}
	}
}

// TestSSIDProbeStopsWithStdin: the probe exits when its stdin ends (the hub closed it or is
// gone), with status 0. Without DBUS_SYSTEM_BUS_ADDRESS it gets no environment at all: not
// this process's (the hub's boot and seccomp descriptors are named there).
func TestSSIDProbeStopsWithStdin(t *testing.T) {
	t.Setenv(bus.BootFDEnv, "3")
	p := startProbe(t, "")
	if _, err := p.read(t); err == nil && !systemBusExists() {
		t.Fatal("no bus, no error")
	}
	if environ, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ"); err != nil || len(environ) != 0 {
		t.Errorf("probe environment: %q, %v; want none", environ, err)
	}
	p.Close()
	done := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		syscall.Wait4(p.pid, &ws, 0, nil)
		done <- ws
	}()
	select {
	case ws := <-done:
		if !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("the probe ended with %v\n%s", ws, p.logs())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the probe did not exit when its stdin ended")
	}
}

// TestSSIDProbeProtocol: the hub's side with an in-process probe. An answer that comes after
// its request timed out is not taken for the answer to the next one; errors pass through.
func TestSSIDProbeProtocol(t *testing.T) {
	reqR, reqW := io.Pipe()
	ansR, ansW := io.Pipe()
	var logs []string
	p := newSSIDProbe(reqW, ansR, func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })
	p.timeout = 200 * time.Millisecond
	release := make(chan struct{})
	calls := 0
	src := config.FuncSource{Kind: config.SignalSSID, Fn: func(s *config.Signals) error {
		calls++
		switch calls {
		case 1: // slow: answers after the hub gave up
			<-release
			s.SSIDs = []string{"stale"}
		case 2:
			s.SSIDs = []string{"fresh"}
		default:
			return errors.New("networkmanager: NetworkManager is not running")
		}
		return nil
	}}
	served := make(chan error, 1)
	go func() { served <- serveProbe(context.Background(), src, reqR, ansW); ansW.Close() }()

	var s config.Signals
	if err := p.Read(context.Background(), &s); err == nil || !strings.Contains(err.Error(), "no answer in 200ms") {
		t.Fatalf("slow probe: %v, %q", err, s.SSIDs)
	}
	close(release)
	s = config.Signals{}
	if err := p.Read(context.Background(), &s); err != nil || !slices.Equal(s.SSIDs, []string{"fresh"}) {
		t.Fatalf("after a timeout: %q, %v", s.SSIDs, err)
	}
	if err := p.Read(context.Background(), &s); err == nil || err.Error() != "networkmanager: NetworkManager is not running" {
		t.Fatalf("error answer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Read(ctx, &s); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}

	// A malformed request ends the probe; the hub sees it exit, and logs it once.
	fmt.Fprintf(reqW, "nonsense\n")
	if err := <-served; err == nil || !strings.Contains(err.Error(), "malformed request") {
		t.Fatalf("malformed request: %v", err)
	}
	<-p.done
	if err := p.Read(context.Background(), &s); err == nil || !strings.Contains(err.Error(), "ssid probe exited") {
		t.Fatalf("after the probe ended: %v", err)
	}
	n := 0
	for _, l := range logs {
		if strings.Contains(l, "ssid probe exited") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the end was logged %d times: %q", n, logs)
	}
}

// systemBusExists reports whether this machine has a system bus socket where godbus looks.
func systemBusExists() bool {
	return systemBusSocket(func(string) string { return "" }) != ""
}

func TestSystemBusSocket(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"unix:path=/run/dbus/system_bus_socket", "/run/dbus/system_bus_socket"},
		{"unix:path=/tmp/a%20b,guid=0123", "/tmp/a b"},
		{"unix:guid=1,path=/x/bus", "/x/bus"},
		{"tcp:host=localhost,port=1;unix:path=/y/bus", "/y/bus"},
		{"unix:abstract=/tmp/dbus-x", ""},
		{"unix:path=relative", ""},
	} {
		if got := systemBusSocket(func(string) string { return c.addr }); got != c.want {
			t.Errorf("%q: %q, want %q", c.addr, got, c.want)
		}
	}
}

func TestRunArgs(t *testing.T) {
	e := &env.Env{Getenv: func(string) string { return "" }, Logf: t.Logf, Stderr: &bytes.Buffer{}}
	for _, args := range [][]string{{"ssid-probe", "x"}, {"other"}} {
		if err := Run(context.Background(), e, args); err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
			t.Errorf("Run(%q): %v", args, err)
		}
	}
}
