package config

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// NetworkManager reads the SSIDs of the Wi-Fi networks the machine is connected to from
// NetworkManager, over the D-Bus system bus: for each device of type Wi-Fi, its active
// access point's Ssid. Without a system bus or NetworkManager it fails soft: Read returns
// an error (the SSID is unknown, rules on it do not match), and it tries to connect again
// only after RetryAfter.
type NetworkManager struct {
	// RetryAfter is how long to wait after a failure before connecting again; default 30 s.
	RetryAfter time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu struct {
		sync.Mutex
		bus     nmBus
		retryAt time.Time
		lastErr error
	}
	dial func() (nmBus, error) // nil: the system bus
}

// nmBus reads one D-Bus property of NetworkManager.
type nmBus interface {
	Get(ctx context.Context, path dbus.ObjectPath, iface, prop string) (any, error)
	Close() error
}

const (
	nmService   = "org.freedesktop.NetworkManager"
	nmPath      = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	nmDevice    = "org.freedesktop.NetworkManager.Device"
	nmWireless  = "org.freedesktop.NetworkManager.Device.Wireless"
	nmAP        = "org.freedesktop.NetworkManager.AccessPoint"
	nmTypeWiFi  = 2 // NM_DEVICE_TYPE_WIFI
	nmCallLimit = 2 * time.Second
)

func (*NetworkManager) Signal() Signal { return SignalSSID }

// Read adds the connected SSIDs to s.
func (n *NetworkManager) Read(ctx context.Context, s *Signals) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	if n.mu.bus == nil {
		if now().Before(n.mu.retryAt) {
			return n.mu.lastErr
		}
		dial := n.dial
		if dial == nil {
			dial = dialSystemBus
		}
		b, err := dial()
		if err != nil {
			return n.failed(now(), fmt.Errorf("networkmanager: %w", err))
		}
		n.mu.bus = b
	}
	ctx, cancel := context.WithTimeout(ctx, nmCallLimit)
	defer cancel()
	ssids, err := connectedSSIDs(ctx, n.mu.bus)
	if err != nil {
		n.mu.bus.Close()
		n.mu.bus = nil
		return n.failed(now(), fmt.Errorf("networkmanager: %w", err))
	}
	s.SSIDs = append(s.SSIDs, ssids...)
	return nil
}

func (n *NetworkManager) failed(now time.Time, err error) error {
	wait := n.RetryAfter
	if wait == 0 {
		wait = 30 * time.Second
	}
	n.mu.retryAt, n.mu.lastErr = now.Add(wait), err
	return err
}

// Close drops the connection.
func (n *NetworkManager) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.bus != nil {
		err := n.mu.bus.Close()
		n.mu.bus = nil
		return err
	}
	return nil
}

// connectedSSIDs walks NetworkManager's devices to the SSIDs of active access points.
func connectedSSIDs(ctx context.Context, b nmBus) ([]string, error) {
	v, err := b.Get(ctx, nmPath, nmService, "Devices")
	if err != nil {
		return nil, err
	}
	devs, ok := v.([]dbus.ObjectPath)
	if !ok {
		return nil, fmt.Errorf("Devices is %T, not a list of object paths", v)
	}
	var out []string
	for _, d := range devs {
		t, err := b.Get(ctx, d, nmDevice, "DeviceType")
		if err != nil {
			return nil, err
		}
		if dt, _ := t.(uint32); dt != nmTypeWiFi {
			continue
		}
		ap, err := b.Get(ctx, d, nmWireless, "ActiveAccessPoint")
		if err != nil {
			return nil, err
		}
		p, _ := ap.(dbus.ObjectPath)
		if p == "" || p == "/" {
			continue // not connected
		}
		ssid, err := b.Get(ctx, p, nmAP, "Ssid")
		if err != nil {
			return nil, err
		}
		if raw, ok := ssid.([]byte); ok && len(raw) > 0 {
			out = append(out, string(raw))
		}
	}
	return out, nil
}

// systemBus is the real nmBus.
type systemBus struct{ conn *dbus.Conn }

func dialSystemBus() (nmBus, error) {
	c, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, err
	}
	return systemBus{c}, nil
}

func (b systemBus) Get(ctx context.Context, path dbus.ObjectPath, iface, prop string) (any, error) {
	var v dbus.Variant
	err := b.conn.Object(nmService, path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, iface, prop).Store(&v)
	if err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" {
			return nil, errors.New("NetworkManager is not running")
		}
		return nil, err
	}
	return v.Value(), nil
}

func (b systemBus) Close() error { return b.conn.Close() }
