// Package vkbd types text into the focused window through the virtual-keyboard protocol
// (zwp_virtual_keyboard_manager_v1): it writes a keymap with one key per character needed,
// hands it to the compositor in a sealed memfd, and presses and releases each key.
package vkbd

import (
	"errors"
	"fmt"
	"time"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/proto/virtualkeyboard"
	"github.com/open-sesame/sesame/wayland/xkb"
	"github.com/rajveermalviya/go-wayland/wayland/client"
	"golang.org/x/sys/unix"
)

// keymapFormatXKBv1 is wl_keyboard.keymap_format.xkb_v1.
const keymapFormatXKBv1 = 1

// Keyboard is a virtual keyboard on one connection. Use it from the connection's goroutine.
type Keyboard struct {
	c  *wayland.Conn
	vk *virtualkeyboard.VirtualKeyboard
	t0 time.Time
	// Delay is waited after each character (some clients drop keys that come too fast).
	Delay time.Duration
	// Settle is waited after the first keymap when the seat had no keyboard before this
	// one: clients learn of the new keyboard (wl_seat.capabilities) and only then ask for it,
	// and keys sent before they have it are lost. A seat with a real keyboard needs no wait.
	Settle time.Duration

	settled bool
}

// DefaultSettle is Keyboard.Settle's default.
const DefaultSettle = 150 * time.Millisecond

// New creates a virtual keyboard on the compositor's first seat.
func New(c *wayland.Conn) (*Keyboard, error) {
	seat := client.NewSeat(c.Context())
	if _, err := c.BindGlobal("wl_seat", 1, seat); err != nil {
		return nil, err
	}
	hadKeyboard := false
	seat.SetCapabilitiesHandler(func(e client.SeatCapabilitiesEvent) {
		const keyboard = 2
		hadKeyboard = e.Capabilities&keyboard != 0
	})
	if err := c.Roundtrip(); err != nil {
		return nil, fmt.Errorf("vkbd: %w", err)
	}
	seat.SetCapabilitiesHandler(nil)
	mgr := virtualkeyboard.NewVirtualKeyboardManager(c)
	if _, err := c.BindGlobal(virtualkeyboard.VirtualKeyboardManagerInterface, 1, mgr); err != nil {
		return nil, fmt.Errorf("vkbd: %w (the compositor cannot type for sesame)", err)
	}
	vk, err := mgr.CreateVirtualKeyboard(seat)
	if err != nil {
		return nil, fmt.Errorf("vkbd: %w", err)
	}
	if err := c.Roundtrip(); err != nil {
		return nil, fmt.Errorf("vkbd: %w", err)
	}
	return &Keyboard{c: c, vk: vk, t0: time.Now(), Settle: DefaultSettle, settled: hadKeyboard}, nil
}

// Type types text. Characters that no keysym can type (control characters other than
// newline, tab and backspace) are an error, found before anything is typed.
func (k *Keyboard) Type(text string) error { return k.TypeRunes([]rune(text)) }

// TypeRunes is Type for text already decoded, which the caller can wipe afterwards (the
// keymaps made for it are wiped here). What is typed necessarily reaches the compositor, as
// keymaps naming the characters and as key presses, and the focused client.
func (k *Keyboard) TypeRunes(runes []rune) error {
	if len(runes) == 0 {
		return nil
	}
	parts := xkb.SplitForKeymaps(runes)
	maps := make([]*xkb.TypingKeymap, len(parts))
	for i, p := range parts {
		km, err := xkb.NewTypingKeymap(p)
		if err != nil {
			return fmt.Errorf("vkbd: %w", err)
		}
		maps[i] = km
	}
	defer func() {
		for _, km := range maps {
			clear(km.Text)
		}
	}()
	for i, p := range parts {
		if err := k.setKeymap(maps[i]); err != nil {
			return err
		}
		for _, r := range p {
			code, _ := maps[i].Key(r)
			if err := k.tap(code); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tap presses and releases the key with the named keysym ("Left", "Return", …) n times.
func (k *Keyboard) Tap(keysym string, n int) error {
	if n <= 0 {
		return nil
	}
	km, err := xkb.NewKeysymKeymap(keysym)
	if err != nil {
		return fmt.Errorf("vkbd: %w", err)
	}
	if err := k.setKeymap(km); err != nil {
		return err
	}
	for range n {
		if err := k.tap(1); err != nil {
			return err
		}
	}
	return nil
}

func (k *Keyboard) setKeymap(km *xkb.TypingKeymap) error {
	fd, err := unix.MemfdCreate("sesame-keymap", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("vkbd: keymap: %w", err)
	}
	defer unix.Close(fd)
	for b := km.Text; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			return fmt.Errorf("vkbd: keymap: %w", err)
		}
		b = b[n:]
	}
	unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL)
	if err := k.vk.Keymap(keymapFormatXKBv1, fd, uint32(len(km.Text))); err != nil {
		return fmt.Errorf("vkbd: keymap: %w", err)
	}
	if err := k.c.Roundtrip(); err != nil {
		return err
	}
	if !k.settled {
		k.settled = true
		time.Sleep(k.Settle)
	}
	return nil
}

func (k *Keyboard) now() uint32 { return uint32(time.Since(k.t0).Milliseconds()) }

// tap presses and releases one key and waits until the compositor has handled both.
func (k *Keyboard) tap(code uint32) error {
	if err := k.vk.Key(k.now(), code, 1); err != nil {
		return err
	}
	if err := k.vk.Key(k.now(), code, 0); err != nil {
		return err
	}
	if err := k.c.Roundtrip(); err != nil {
		return err
	}
	if k.Delay > 0 {
		time.Sleep(k.Delay)
	}
	return nil
}

// Close destroys the virtual keyboard (the seat loses it).
func (k *Keyboard) Close() error {
	if k.vk == nil {
		return errors.New("vkbd: closed")
	}
	err := k.vk.Destroy()
	k.vk = nil
	if err == nil {
		err = k.c.Roundtrip()
	}
	return err
}
