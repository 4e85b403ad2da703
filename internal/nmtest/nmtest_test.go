package nmtest

import (
	"context"
	"slices"
	"testing"

	"github.com/open-sesame/sesame/config"
)

// TestFake: config.NetworkManager, unsandboxed in this process, reads the fake's SSID, follows
// its changes, and fails (without hanging) once the bus is gone.
func TestFake(t *testing.T) {
	b := StartBus(t)
	nm := StartNM(t, b.Addr, "corp-office")
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", b.Addr)
	src := &config.NetworkManager{}
	defer src.Close()
	read := func() ([]string, error) {
		var s config.Signals
		err := src.Read(context.Background(), &s)
		return s.SSIDs, err
	}
	if got, err := read(); err != nil || !slices.Equal(got, []string{"corp-office"}) {
		t.Fatalf("read: %q, %v", got, err)
	}
	nm.SetSSID("home-net")
	if got, err := read(); err != nil || !slices.Equal(got, []string{"home-net"}) {
		t.Fatalf("after the switch: %q, %v", got, err)
	}
	nm.SetSSID("")
	if got, err := read(); err != nil || len(got) != 0 {
		t.Fatalf("disconnected: %q, %v", got, err)
	}
	b.Kill()
	if got, err := read(); err == nil {
		t.Fatalf("with the bus gone: %q, no error", got)
	}
}
