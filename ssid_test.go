package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-sesame/sesame/internal/nmtest"

	"github.com/open-sesame/sesame/internal/syncbuf"
)

// TestContextSSID: a context rule on a Wi-Fi network switches the default profile under
// `sesame up`, with the real, sandboxed hub: its SSID probe reads the network from a fake
// NetworkManager on a private system bus. Joining the network makes "work" the default, with
// the reason; leaving it goes back, after the debounce. A probe that is killed is logged and
// the rule stops matching; the hub stays.
func TestContextSSID(t *testing.T) {
	bus := nmtest.StartBus(t)
	nm := nmtest.StartNM(t, bus.Addr, "home-net")
	sb := newSandbox(t)
	sb.env = append(sb.env, "DBUS_SYSTEM_BUS_ADDRESS="+bus.Addr, "SESAME_SYSTEM_CONFIG_DIR="+filepath.Join(sb.home, "etc"))
	const debounce = 300 * time.Millisecond
	cfg := filepath.Join(sb.home, ".config/sesame/config.toml")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	if err := os.WriteFile(cfg, []byte(`[context]
poll = "100ms"
debounce = "300ms"

[[profiles.work.context]]
ssid = ["corp-office"]
priority = 10
`), 0o600); err != nil {
		t.Fatal(err)
	}

	up := exec.Command(sb.bin, "up")
	up.Env = sb.env
	var log syncbuf.Buffer
	up.Stdout, up.Stderr = &log, &log
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		up.Process.Signal(syscall.SIGTERM)
		up.Wait()
		if t.Failed() {
			t.Logf("sesame up:\n%s", log.String())
		}
	}()

	var st struct {
		PID     int32 `json:"pid"`
		Sandbox *struct {
			Seccomp    string `json:"seccomp"`
			NoNewPrivs bool   `json:"no_new_privs"`
		} `json:"sandbox"`
	}
	waitUntil(t, "the hub answers", func() bool {
		out, _, err := sb.try("", "status", "--json")
		return err == nil && json.Unmarshal(out, &st) == nil && st.PID != 0
	})
	// The hub is sandboxed: it could not dial the bus itself.
	if st.Sandbox == nil || st.Sandbox.Seccomp != "filter" || !st.Sandbox.NoNewPrivs {
		t.Fatalf("the hub is not sandboxed: %+v", st.Sandbox)
	}

	type current struct {
		Default string `json:"default"`
		Source  string `json:"source"`
		Why     string `json:"why"`
		Context string `json:"context"`
	}
	cur := func() current {
		var c current
		out, errb, err := sb.try("", "profile", "current", "--json")
		if err != nil {
			t.Fatalf("sesame profile current --json: %v\n%s", err, errb)
		}
		if err := json.Unmarshal(out, &c); err != nil {
			t.Fatalf("profile current --json: %v: %s", err, out)
		}
		return c
	}
	waitUntil(t, "the default profile on home-net", func() bool { return cur().Default == "default" })
	if c := cur(); c.Source != "builtin" || c.Context != "" {
		t.Fatalf("on home-net: %+v", c)
	}

	// Join the office network.
	joined := time.Now()
	nm.SetSSID("corp-office")
	waitUntil(t, "work on corp-office", func() bool { return cur().Default == "work" })
	if c := cur(); c.Source != "context" || c.Context != "work: ssid=corp-office" || c.Why != "context: work: ssid=corp-office" {
		t.Fatalf("on corp-office: %+v", c)
	}
	if d := time.Since(joined); d > 10*time.Second {
		t.Errorf("the switch took %v", d)
	}
	out := sb.sesame("", "status")
	if !bytes.Contains(out, []byte("(context: work: ssid=corp-office)")) {
		t.Errorf("status does not show the reason:\n%s", out)
	}
	out = sb.sesame("", "audit", "tail", "--json", "-n", "50")
	if !bytes.Contains(out, []byte(`"event":"profile.context","profile":"work"`)) || !bytes.Contains(out, []byte(`"reason":"work: ssid=corp-office"`)) {
		t.Errorf("the switch is not audited:\n%s", out)
	}

	// The probe is the hub's child, and sandboxed.
	probe := findProbe(t, int(st.PID))
	status, err := os.ReadFile("/proc/" + strconv.Itoa(probe) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nSeccomp:\t2\n") || !strings.Contains(string(status), "\nNoNewPrivs:\t1\n") {
		t.Errorf("the probe is not sandboxed:\n%s", status)
	}
	// Its environment is the bus address, nothing of the hub's (keys' descriptors, HOME).
	if environ, err := os.ReadFile("/proc/" + strconv.Itoa(probe) + "/environ"); err != nil || string(environ) != "DBUS_SYSTEM_BUS_ADDRESS="+bus.Addr+"\x00" {
		t.Errorf("the probe's environment: %q, %v", environ, err)
	}

	// Leave it: back to the default, once the debounce is over.
	left := time.Now()
	nm.SetSSID("guest-wifi")
	waitUntil(t, "the default profile on guest-wifi", func() bool { return cur().Default == "default" })
	if d := time.Since(left); d < debounce {
		t.Errorf("switched back after %v, within the debounce (%v)", d, debounce)
	}
	if c := cur(); c.Source != "builtin" || c.Context != "" {
		t.Fatalf("on guest-wifi: %+v", c)
	}
	for _, bad := range []string{"seccomp denied", "no ssid signal", "ssid probe exited"} {
		if strings.Contains(log.String(), bad) {
			t.Errorf("sesame up logged %q:\n%s", bad, log.String())
		}
	}

	// The probe is killed: logged, and the rule stops matching; the hub stays.
	if err := syscall.Kill(probe, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	nm.SetSSID("corp-office")
	waitUntil(t, "the hub logs the probe's end", func() bool {
		return strings.Contains(log.String(), "context: no ssid signal: ssid probe exited")
	})
	time.Sleep(3 * debounce)
	if c := cur(); c.Default != "default" {
		t.Errorf("without a probe: %+v", c)
	}
	if strings.Count(log.String(), "no ssid signal") != 1 {
		t.Errorf("the failure was logged more than once:\n%s", log.String())
	}
	if _, _, err := sb.try("", "status"); err != nil {
		t.Errorf("the hub went with its probe: %v", err)
	}
	// It is reaped, not left a zombie, and how it ended is logged.
	waitUntil(t, "the hub reaps the probe", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", probe))
		return errors.Is(err, os.ErrNotExist)
	})
	waitUntil(t, "the hub logs how the probe ended", func() bool {
		return strings.Contains(log.String(), "ssid probe: signal: killed")
	})
	if strings.Contains(log.String(), "seccomp denied") {
		t.Errorf("a denied call:\n%s", log.String())
	}
}

// findProbe returns the pid of the hub's SSID probe: its child `sesame-profile ssid-probe`.
func findProbe(t *testing.T, hub int) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	var found []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if string(cmdline) != "sesame-profile\x00ssid-probe\x00" {
			continue
		}
		status, _ := os.ReadFile("/proc/" + e.Name() + "/status")
		if strings.Contains(string(status), "\nPPid:\t"+strconv.Itoa(hub)+"\n") {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the hub (pid %d) has %d ssid probes: %v", hub, len(found), found)
	}
	return found[0]
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
