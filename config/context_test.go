package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

func rulesConfig(t *testing.T, src string) *Config {
	t.Helper()
	return mustLoad(t, user(src)).Config
}

const ctxRules = `
[[profiles.work.context]]
ssid = ["corp-office", "corp-guest"]
priority = 10

[[profiles.work.context]]
usb = ["1050:0407"]
time = ["mon-fri 08:00-19:00"]
priority = 20

[[profiles.home.context]]
ssid = ["home-wifi"]
priority = 10

[[profiles.lab.context]]
host = ["LAB-1"]
priority = 10
`

func TestEvaluate(t *testing.T) {
	c := rulesConfig(t, ctxRules)
	monday10 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.Local)
	all := SignalSSID | SignalUSB | SignalHost | SignalTime
	for _, tc := range []struct {
		name string
		s    Signals
		skip string
		want string
	}{
		{"nothing", Signals{Known: all, Now: monday10}, "", "no context rule matches"},
		{"office wifi", Signals{SSIDs: []string{"corp-office"}, Known: all}, "", "work: ssid=corp-office"},
		{"ssid is case-insensitive", Signals{SSIDs: []string{"Corp-Guest"}, Known: all}, "", "work: ssid=corp-guest"},
		{"home", Signals{SSIDs: []string{"home-wifi"}, Known: all}, "", "home: ssid=home-wifi"},
		{"all conditions of a rule", Signals{USB: []string{"1050:0407"}, Now: monday10, Known: all}, "", "work: usb=1050:0407, time=mon-fri 08:00-19:00"},
		{"one condition missing", Signals{USB: []string{"1050:0407"}, Now: monday10.Add(10 * time.Hour), Known: all}, "", "no context rule matches"},
		{"higher priority wins", Signals{SSIDs: []string{"home-wifi"}, USB: []string{"1050:0407"}, Now: monday10, Known: all}, "", "work: usb=1050:0407, time=mon-fri 08:00-19:00"},
		{"a tie goes to the first name", Signals{SSIDs: []string{"home-wifi"}, Host: "lab-1", Known: all}, "", "home: ssid=home-wifi"},
		{"unknown signals never match", Signals{SSIDs: []string{"corp-office"}, Known: SignalUSB}, "", "no context rule matches"},
		{"skipped profiles take no part", Signals{SSIDs: []string{"corp-office"}, Host: "lab-1", Known: all}, "work", "lab: host=LAB-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(c.Profiles, tc.s, func(p string) bool { return p == tc.skip })
			if got.String() != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if n := Needs(c.Profiles); n != SignalSSID|SignalUSB|SignalHost|SignalTime {
		t.Errorf("Needs = %v", n)
	}
	if n := Needs(rulesConfig(t, "[[profiles.a.context]]\nusb = [\"0001:0002\"]").Profiles); n != SignalUSB {
		t.Errorf("Needs = %v, want usb only", n)
	}
}

func TestSwitcherDebounce(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := Switcher{Debounce: 3 * time.Second}
	work := Match{Profile: "work", Reason: "ssid=a"}
	home := Match{Profile: "home", Reason: "ssid=b"}
	steps := []struct {
		at      time.Duration
		m       Match
		cur     string
		changed bool
	}{
		{0, work, "work", true},                // the first observation is adopted at once
		{1 * time.Second, home, "work", false}, // home starts winning
		{2 * time.Second, work, "work", false}, // flap: back to work, home's clock resets
		{3 * time.Second, home, "work", false},
		{5 * time.Second, home, "work", false},
		{6 * time.Second, home, "home", true}, // 3 s of home
		{7 * time.Second, Match{Profile: "home", Reason: "usb=x"}, "home", false},
		{8 * time.Second, Match{}, "home", false},
		{11 * time.Second, Match{}, "", true}, // nothing matches any more: back to no context
	}
	for i, s := range steps {
		cur, changed := w.Observe(t0.Add(s.at), s.m)
		if cur.Profile != s.cur || changed != s.changed {
			t.Fatalf("step %d: %q changed=%v, want %q changed=%v", i, cur.Profile, changed, s.cur, s.changed)
		}
	}
	if w.Current().Reason != "" {
		t.Errorf("reason %q", w.Current().Reason)
	}
	// A reason change without a profile change is kept.
	w2 := Switcher{}
	w2.Observe(t0, work)
	if cur, changed := w2.Observe(t0, Match{Profile: "work", Reason: "usb=y"}); changed || cur.Reason != "usb=y" {
		t.Errorf("got %v %v", cur, changed)
	}
	// No debounce: immediate.
	w3 := Switcher{}
	w3.Observe(t0, work)
	if cur, changed := w3.Observe(t0, home); !changed || cur.Profile != "home" {
		t.Errorf("no debounce: %v %v", cur, changed)
	}
}

// fakeSysfs writes a sysfs-like tree of USB devices.
func fakeSysfs(t *testing.T, root string, ids ...string) {
	t.Helper()
	dir := filepath.Join(root, "bus", "usb", "devices")
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "1-1:1.0"), 0o755); err != nil { // an interface: no ids
		t.Fatal(err)
	}
	for i, id := range ids {
		v, p, _ := strings.Cut(id, ":")
		d := filepath.Join(dir, "1-"+string(rune('2'+i)))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "idVendor"), []byte(v+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "idProduct"), []byte(p+"\n"), 0o644)
	}
}

func TestUSBSource(t *testing.T) {
	root := t.TempDir()
	src := USBSource{Root: root}
	var s Signals
	if err := src.Read(context.Background(), &s); err == nil {
		t.Error("no sysfs tree: want an error")
	}
	fakeSysfs(t, root, "1d6b:0002", "1050:0407", "1D6B:0002")
	s = Signals{}
	if err := src.Read(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.USB, " ") != "1050:0407 1d6b:0002" {
		t.Errorf("USB = %v", s.USB)
	}
	// Through Sense and Evaluate: plugging the key switches the winner.
	c := rulesConfig(t, ctxRules+"\n[[profiles.personal.context]]\nusb = [\"1d6b:0002\"]\npriority = 1\n")
	sn := &Senser{Sources: []Source{src, ClockSource{Now: func() time.Time { return time.Date(2026, 1, 5, 10, 0, 0, 0, time.Local) }}}, Logf: t.Logf}
	sense := func() string {
		sig := sn.Sense(context.Background(), Needs(c.Profiles))
		return Evaluate(c.Profiles, sig, nil).String()
	}
	if got := sense(); got != "work: usb=1050:0407, time=mon-fri 08:00-19:00" {
		t.Errorf("with the key: %s", got)
	}
	fakeSysfs(t, root, "1d6b:0002")
	if got := sense(); got != "personal: usb=1d6b:0002" {
		t.Errorf("without the key: %s", got)
	}
}

func TestSenseReportsFailuresOnce(t *testing.T) {
	var logs []string
	n := 0
	src := FuncSource{Kind: SignalSSID, Fn: func(s *Signals) error {
		n++
		if n <= 2 {
			return errors.New("no bus")
		}
		s.SSIDs = []string{"x"}
		return nil
	}}
	sn := &Senser{Sources: []Source{src, HostSource{Hostname: func() (string, error) { return "h", nil }}}, Logf: func(f string, a ...any) { logs = append(logs, f) }}
	for i := 0; i < 3; i++ {
		s := sn.Sense(context.Background(), SignalSSID)
		if i < 2 && s.Known != 0 || i == 2 && s.Known != SignalSSID {
			t.Errorf("round %d: known %v", i, s.Known)
		}
	}
	if len(logs) != 1 {
		t.Errorf("logged %d times, want once: %v", len(logs), logs)
	}
}

// fakeNM is NetworkManager's object graph, as properties.
type fakeNM struct {
	props  map[string]any // "path iface prop" → value
	closed bool
	fail   error
}

func (f *fakeNM) Get(_ context.Context, p dbus.ObjectPath, iface, prop string) (any, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	v, ok := f.props[string(p)+" "+iface+" "+prop]
	if !ok {
		return nil, errors.New("no such property " + string(p) + " " + prop)
	}
	return v, nil
}
func (f *fakeNM) Close() error { f.closed = true; return nil }

func TestNetworkManager(t *testing.T) {
	bus := &fakeNM{props: map[string]any{
		"/org/freedesktop/NetworkManager org.freedesktop.NetworkManager Devices": []dbus.ObjectPath{"/d/eth", "/d/wlan0", "/d/wlan1"},
		"/d/eth " + nmDevice + " DeviceType":                                     uint32(1),
		"/d/wlan0 " + nmDevice + " DeviceType":                                   uint32(2),
		"/d/wlan0 " + nmWireless + " ActiveAccessPoint":                          dbus.ObjectPath("/ap/7"),
		"/ap/7 " + nmAP + " Ssid":                                                []byte("corp-office"),
		"/d/wlan1 " + nmDevice + " DeviceType":                                   uint32(2),
		"/d/wlan1 " + nmWireless + " ActiveAccessPoint":                          dbus.ObjectPath("/"),
	}}
	now := time.Unix(0, 0)
	dials := 0
	nm := &NetworkManager{Now: func() time.Time { return now }}
	nm.dial = func() (nmBus, error) {
		dials++
		if dials == 1 {
			return nil, errors.New("no system bus")
		}
		return bus, nil
	}
	var s Signals
	if err := nm.Read(context.Background(), &s); err == nil || !strings.Contains(err.Error(), "no system bus") {
		t.Fatalf("first read: %v", err)
	}
	// Fails soft: no new attempt before RetryAfter.
	now = now.Add(10 * time.Second)
	if err := nm.Read(context.Background(), &s); err == nil || dials != 1 {
		t.Fatalf("retried too early: %v, %d dials", err, dials)
	}
	now = now.Add(30 * time.Second)
	if err := nm.Read(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.SSIDs, ",") != "corp-office" {
		t.Errorf("SSIDs %v", s.SSIDs)
	}
	// A broken connection is dropped and dialled again later.
	bus.fail = errors.New("disconnected")
	if err := nm.Read(context.Background(), &Signals{}); err == nil || !bus.closed {
		t.Errorf("err %v closed %v", err, bus.closed)
	}
}

// TestNetworkManagerReal runs the real source on this machine: with or without a system
// bus, it must not hang or panic, and without one it reports an error.
func TestNetworkManagerReal(t *testing.T) {
	nm := &NetworkManager{}
	defer nm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var s Signals
	err := nm.Read(ctx, &s)
	t.Logf("ssids %v, err %v", s.SSIDs, err)
	if _, statErr := os.Stat("/run/dbus/system_bus_socket"); statErr != nil && err == nil && os.Getenv("DBUS_SYSTEM_BUS_ADDRESS") == "" {
		t.Error("no system bus here, yet no error")
	}
}
