package clipboard

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/wltest"
)

// bound returns the interface names the client bound, from its wl_registry.bind requests.
func bound(t *testing.T, f *wltest.Fake, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		r := f.Next(t)
		if r.Object != 2 || r.Opcode != 0 { // wl_registry is object 2
			continue
		}
		l := binary.NativeEndian.Uint32(r.Raw[12:])
		out = append(out, string(r.Raw[16:16+l-1]))
	}
	return out
}

func g(name uint32, iface string, v uint32) wltest.Global {
	return wltest.Global{Name: name, Interface: iface, Version: v}
}

// TestPrefersExtDataControl: with both offered, the ext protocol is used.
func TestPrefersExtDataControl(t *testing.T) {
	for _, tc := range []struct {
		globals []wltest.Global
		want    string
		prim    bool
	}{
		{[]wltest.Global{g(1, "wl_seat", 7), g(2, "zwlr_data_control_manager_v1", 2), g(3, "ext_data_control_manager_v1", 1)}, "ext_data_control_manager_v1", true},
		{[]wltest.Global{g(1, "wl_seat", 7), g(2, "zwlr_data_control_manager_v1", 2)}, "zwlr_data_control_manager_v1 v2", true},
		{[]wltest.Global{g(1, "wl_seat", 7), g(2, "zwlr_data_control_manager_v1", 1)}, "zwlr_data_control_manager_v1 v1", false},
	} {
		f := wltest.NewFake(t, tc.globals...)
		c, err := wayland.Connect(f.Path, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		w, err := newWatcher(c, func() bool { return true }, func(capture) {}, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		if w.protocol != tc.want || w.canPrim != tc.prim {
			t.Errorf("%v: %q primary %v", tc.globals, w.protocol, w.canPrim)
		}
		names := bound(t, f, 2)
		if names[0] != "wl_seat" || !strings.HasPrefix(tc.want, names[1]) {
			t.Errorf("bound %v", names)
		}
		c.Close()
	}
	f := wltest.NewFake(t, wltest.Global{Name: 1, Interface: "wl_seat", Version: 7})
	c, _ := wayland.Connect(f.Path, t.Logf)
	defer c.Close()
	if _, err := newWatcher(c, func() bool { return false }, func(capture) {}, t.Logf); !errors.Is(err, wayland.ErrUnsupported) || !strings.Contains(err.Error(), "data-control") {
		t.Fatalf("no data control: %v", err)
	}
}
