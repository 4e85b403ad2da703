// Package nmtest is a test bed for code that reads NetworkManager over D-Bus: a private
// dbus-daemon (its own socket in a temporary directory, everything allowed for this user) and a
// fake NetworkManager on it, whose Wi-Fi network a test switches. Point the code under test at
// it with DBUS_SYSTEM_BUS_ADDRESS=Bus.Addr.
//
// The fake answers what config.NetworkManager asks, as NetworkManager does, through
// org.freedesktop.DBus.Properties.Get: /org/freedesktop/NetworkManager has Devices, an
// Ethernet device (DeviceType 1) and a Wi-Fi device (DeviceType 2) whose ActiveAccessPoint is
// an access point with an Ssid (bytes), or "/" when it is not connected.
package nmtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/open-sesame/sesame/internal/syncbuf"
)

// Bus is a private dbus-daemon.
type Bus struct {
	Addr   string // "unix:path=…": for DBUS_SYSTEM_BUS_ADDRESS
	Socket string // the socket's path
	cmd    *exec.Cmd
	done   chan struct{}
	stderr syncbuf.Buffer
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`

// StartBus starts a private dbus-daemon, stopped when the test ends. It skips the test when
// dbus-daemon is not installed (Debian: apt-get install dbus-daemon; `make deps-test` does).
func StartBus(t testing.TB) *Bus {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (Debian: apt-get install dbus-daemon, which `make deps-test` does)")
	}
	// Unix socket paths are limited to 108 bytes: keep it short.
	dir, err := os.MkdirTemp("", "nmt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b := &Bus{Socket: filepath.Join(dir, "bus"), done: make(chan struct{})}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, b.Socket)), 0o600); err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(daemon, "--config-file="+conf, "--print-address", "--nofork", "--nopidfile")
	// Its complaints (it cannot raise its descriptor limit as a user) go in the failure
	// messages, not the test's output.
	b.cmd.Stderr = &b.stderr
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(b.Kill)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case b.Addr = <-line:
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon printed no address in 10 s:\n%s", b.stderr.String())
	}
	if !strings.HasPrefix(b.Addr, "unix:path="+b.Socket) {
		t.Fatalf("dbus-daemon: address %q, want one on %s:\n%s", b.Addr, b.Socket, b.stderr.String())
	}
	return b
}

// Kill stops the daemon at once (SIGKILL) and waits for it: every connection to it ends.
func (b *Bus) Kill() {
	if b.cmd.Process != nil {
		b.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-b.done
}

// NetworkManager D-Bus names.
const (
	Service   = "org.freedesktop.NetworkManager"
	Path      = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	ifDevice  = "org.freedesktop.NetworkManager.Device"
	ifWifi    = "org.freedesktop.NetworkManager.Device.Wireless"
	ifAP      = "org.freedesktop.NetworkManager.AccessPoint"
	ethDevice = dbus.ObjectPath("/org/freedesktop/NetworkManager/Devices/1")
	wifiDev   = dbus.ObjectPath("/org/freedesktop/NetworkManager/Devices/2")
)

// NM is a fake NetworkManager with one Ethernet and one Wi-Fi device.
type NM struct {
	t    testing.TB
	conn *dbus.Conn
	wifi *prop.Properties

	mu  sync.Mutex
	aps int
}

// StartNM connects to the bus at addr, takes NetworkManager's name and exports its objects,
// with the Wi-Fi device connected to ssid ("" for not connected).
func StartNM(t testing.TB, addr, ssid string) *NM {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake NetworkManager: connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &NM{t: t, conn: conn}
	if _, err := prop.Export(conn, Path, prop.Map{
		Service: {"Devices": {Value: []dbus.ObjectPath{ethDevice, wifiDev}, Emit: prop.EmitFalse}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := prop.Export(conn, ethDevice, prop.Map{
		ifDevice: {"DeviceType": {Value: uint32(1), Emit: prop.EmitFalse}}, // NM_DEVICE_TYPE_ETHERNET
	}); err != nil {
		t.Fatal(err)
	}
	n.wifi, err = prop.Export(conn, wifiDev, prop.Map{
		ifDevice: {"DeviceType": {Value: uint32(2), Emit: prop.EmitFalse}}, // NM_DEVICE_TYPE_WIFI
		ifWifi:   {"ActiveAccessPoint": {Value: dbus.ObjectPath("/"), Emit: prop.EmitTrue}},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.SetSSID(ssid)
	reply, err := conn.RequestName(Service, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake NetworkManager: own %s: %v (reply %v)", Service, err, reply)
	}
	return n
}

// SetSSID connects the Wi-Fi device to a new access point with ssid, as NetworkManager does
// when it roams or joins another network; "" disconnects it.
func (n *NM) SetSSID(ssid string) {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	ap := dbus.ObjectPath("/")
	if ssid != "" {
		n.aps++
		ap = dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/AccessPoint/%d", n.aps))
		if _, err := prop.Export(n.conn, ap, prop.Map{
			ifAP: {"Ssid": {Value: []byte(ssid), Emit: prop.EmitFalse}},
		}); err != nil {
			n.t.Fatal(err)
		}
	}
	n.wifi.SetMust(ifWifi, "ActiveAccessPoint", ap)
}
