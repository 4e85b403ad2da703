package wm

import (
	"errors"
	"testing"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/wltest"
)

// TestDeskNeedsForeignToplevel: on a compositor without wlr-foreign-toplevel-management
// the desk cannot start, and says it is the compositor (the role then stays up answering
// CodeUnavailable instead of being restarted for ever).
func TestDeskNeedsForeignToplevel(t *testing.T) {
	f := wltest.NewFake(t, wltest.Global{Name: 1, Interface: "wl_seat", Version: 7}, wltest.Global{Name: 2, Interface: "wl_compositor", Version: 4})
	c, err := wayland.Connect(f.Path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = newDesk(c, DefaultConfig(), nil, nil, nil, t.Logf)
	if !errors.Is(err, wayland.ErrUnsupported) {
		t.Fatalf("%v", err)
	}
}
