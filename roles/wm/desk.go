package wm

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/proto/foreigntoplevel"
	"github.com/open-sesame/sesame/wayland/proto/layershell"
	"github.com/open-sesame/sesame/wayland/xkb"
	"github.com/rajveermalviya/go-wayland/wayland/client"
	"golang.org/x/sys/unix"
)

// desk is the role's Wayland side: the windows (wlr foreign-toplevel), the seat and its
// keyboard, and the overlay. Everything in it belongs to the connection's goroutine; the
// bus handlers reach it through Conn.Do.

// stateActivated is zwlr_foreign_toplevel_handle_v1.state.activated.
const stateActivated = 2

type window struct {
	id     string
	h      *foreigntoplevel.ForeignToplevelHandle
	appID  string
	title  string
	active bool
	seen   bool // a done event arrived: the window is complete
	// Pending values, applied at the next done event.
	pAppID, pTitle string
	pActive        bool
}

func (w *window) api() api.WmWindow {
	return api.WmWindow{ID: w.id, AppID: w.appID, Title: w.title, Active: w.active}
}

type desk struct {
	c    *wayland.Conn
	cfg  Config
	mask uint32
	logf func(string, ...any)
	now  func() time.Time

	seat    *client.Seat
	kb      *client.Keyboard
	keymap  *xkb.Keymap
	mods    uint32
	kbFocus bool

	mgr     *foreigntoplevel.ForeignToplevelManager
	windows map[string]*window
	order   mru
	nextID  int
	saved   []savedWindow
	persist func([]savedWindow)
	waiters map[string][]chan struct{} // window id → closed when it is active

	compositor *client.Compositor
	shm        *client.Shm
	layer      *layershell.LayerShell
	rend       *renderer
	pool       *shmPool
	// needPresent: a redraw waits for a buffer to be released.
	needPresent bool

	next    *pending // settings waiting for the overlay to close
	ov      *overlay
	m       Machine
	sess    *session
	timer   *time.Timer
	timings []*api.WmOverlayTiming
}

// session is one overlay, from its trigger to its end (and the activation that follows).
type session struct {
	reply     chan api.WmOverlayReply // the trigger that opened it waits here
	sent      time.Time
	received  time.Time
	shown     time.Time // surface requested
	mapped    time.Time
	presented time.Time
	keyAt     time.Time // last key press that changed something
	lastInput time.Time
	target    string // window activated at the end
	activate  time.Time
	timing    *api.WmOverlayTiming
}

// maxTimings is how many sessions' timings wm.status keeps.
const maxTimings = 64

func newDesk(c *wayland.Conn, cfg Config, rend *renderer, saved []savedWindow, persist func([]savedWindow), logf func(string, ...any)) (*desk, error) {
	mask, err := cfg.modMask()
	if err != nil {
		return nil, err
	}
	d := &desk{
		c: c, cfg: cfg, mask: mask, logf: logf, now: time.Now, rend: rend,
		windows: map[string]*window{}, saved: saved, persist: persist,
		waiters: map[string][]chan struct{}{},
		m:       Machine{Threshold: cfg.Threshold, LauncherDwell: cfg.LauncherDwell, Bindings: cfg.Bindings},
	}
	d.seat = client.NewSeat(c.Context())
	if _, err := c.BindGlobal("wl_seat", 7, d.seat); err != nil {
		return nil, err
	}
	d.seat.SetCapabilitiesHandler(d.onCapabilities)
	d.mgr = foreigntoplevel.NewForeignToplevelManager(c)
	if _, err := c.BindGlobal(foreigntoplevel.ForeignToplevelManagerInterface, 3, d.mgr); err != nil {
		return nil, fmt.Errorf("%w: the wm role needs wlr-foreign-toplevel-management (sway, Hyprland, river, labwc, …)", err)
	}
	d.mgr.SetToplevelHandler(d.onToplevel)
	d.compositor = client.NewCompositor(c.Context())
	if _, err := c.BindGlobal("wl_compositor", 4, d.compositor); err != nil {
		return nil, err
	}
	d.shm = client.NewShm(c.Context())
	if _, err := c.BindGlobal("wl_shm", 1, d.shm); err != nil {
		return nil, err
	}
	d.layer = layershell.NewLayerShell(c)
	if _, err := c.BindGlobal(layershell.LayerShellInterface, 4, d.layer); err != nil {
		d.logf("wm: no layer shell (%v): switching works, the overlay does not", err)
		d.layer = nil
	}
	// Every current toplevel arrives with its done event before this returns.
	if err := c.Roundtrip(); err != nil {
		return nil, err
	}
	d.seedOrder()
	return d, nil
}

// Windows.

func (d *desk) onToplevel(e foreigntoplevel.ForeignToplevelManagerToplevelEvent) {
	d.nextID++
	w := &window{id: fmt.Sprintf("w%d", d.nextID), h: e.Toplevel}
	h := e.Toplevel
	h.SetAppIdHandler(func(e foreigntoplevel.ForeignToplevelHandleAppIdEvent) { w.pAppID = e.AppId })
	h.SetTitleHandler(func(e foreigntoplevel.ForeignToplevelHandleTitleEvent) { w.pTitle = e.Title })
	h.SetStateHandler(func(e foreigntoplevel.ForeignToplevelHandleStateEvent) {
		w.pActive = false
		for i := 0; i+4 <= len(e.State); i += 4 {
			if uint32(e.State[i])|uint32(e.State[i+1])<<8|uint32(e.State[i+2])<<16|uint32(e.State[i+3])<<24 == stateActivated {
				w.pActive = true
			}
		}
	})
	h.SetDoneHandler(func(foreigntoplevel.ForeignToplevelHandleDoneEvent) { d.onDone(w) })
	h.SetClosedHandler(func(foreigntoplevel.ForeignToplevelHandleClosedEvent) { d.onClosed(w) })
}

func (d *desk) onDone(w *window) {
	w.appID, w.title = w.pAppID, w.pTitle
	becameActive := w.pActive && !w.active
	w.active = w.pActive
	if !w.seen {
		w.seen = true
		d.windows[w.id] = w
		d.order.add(w.id)
	}
	if becameActive {
		d.order.touch(w.id)
		for _, ch := range d.waiters[w.id] {
			close(ch)
		}
		delete(d.waiters, w.id)
		// The last session (kept after it ends) waits for its window: the activation's latency.
		if s := d.sess; s != nil && s.target == w.id && s.timing.SwitchToActive == 0 {
			now := d.now()
			s.timing.SwitchToActive = now.Sub(s.activate)
			if !s.keyAt.IsZero() {
				s.timing.KeyToActivated = now.Sub(s.keyAt)
			}
		}
	}
	d.save()
}

func (d *desk) onClosed(w *window) {
	delete(d.windows, w.id)
	d.order.remove(w.id)
	w.h.Destroy()
	d.save()
}

// seedOrder puts the windows open at start in their saved order, the active one first.
func (d *desk) seedOrder() {
	ws := make([]*window, 0, len(d.order.ids))
	for _, id := range d.order.ids {
		ws = append(ws, d.windows[id])
	}
	ws = rankBySaved(ws, d.saved, func(w *window) (string, string) { return w.appID, w.title })
	d.order.ids = d.order.ids[:0]
	for _, w := range ws {
		d.order.ids = append(d.order.ids, w.id)
	}
	for _, w := range ws {
		if w.active {
			d.order.touch(w.id)
		}
	}
}

func (d *desk) save() {
	if d.persist == nil {
		return
	}
	var out []savedWindow
	for _, id := range d.order.ids {
		w := d.windows[id]
		out = append(out, savedWindow{w.appID, w.title})
	}
	d.persist(out)
}

// list returns the windows, most recently used first.
func (d *desk) list() []api.WmWindow {
	out := make([]api.WmWindow, 0, len(d.order.ids))
	for _, id := range d.order.ids {
		out = append(out, d.windows[id].api())
	}
	return out
}

func (d *desk) snapshot() []Entry {
	out := make([]Entry, 0, len(d.order.ids))
	for _, id := range d.order.ids {
		w := d.windows[id]
		out = append(out, Entry{ID: w.id, AppID: w.appID, Title: w.title})
	}
	return out
}

// activate asks the compositor to activate w; the returned channel is closed when it
// reports w active.
func (d *desk) activate(w *window) <-chan struct{} {
	ch := make(chan struct{})
	if w.active {
		close(ch)
	} else {
		d.waiters[w.id] = append(d.waiters[w.id], ch)
	}
	if err := w.h.Activate(d.seat); err != nil {
		d.logf("wm: activate %s: %v", w.id, err)
	}
	return ch
}

// switchTo picks the previous window (or the least recent one).
func (d *desk) switchTarget(backward bool) (*window, error) {
	if len(d.order.ids) < 2 {
		return nil, errors.New("no other window to switch to")
	}
	id := d.order.ids[1]
	if backward {
		id = d.order.ids[len(d.order.ids)-1]
	}
	return d.windows[id], nil
}

// focusTarget resolves an id, an application or a bound letter. When the target's
// application is open in several windows and the first is already active, the next one is
// picked, so repeating the command cycles through them.
func (d *desk) focusTarget(target string) (*window, *Binding) {
	if w, ok := d.windows[target]; ok {
		return w, nil
	}
	var b *Binding
	if r := []rune(target); len(r) == 1 {
		b = bindingKey(r[0], d.cfg.Bindings)
	}
	if b == nil {
		b = bindingFor(target, d.cfg.Bindings)
	}
	var matches []*window
	for _, id := range d.order.ids {
		w := d.windows[id]
		if appMatches(target, w.appID) || b != nil && slices.ContainsFunc(b.Apps, func(a string) bool { return appMatches(a, w.appID) }) {
			matches = append(matches, w)
		}
	}
	switch {
	case len(matches) == 0:
		return nil, b
	case matches[0].active && len(matches) > 1:
		return matches[1], b
	}
	return matches[0], b
}

// Keyboard.

func (d *desk) onCapabilities(e client.SeatCapabilitiesEvent) {
	const keyboard = 2
	has := e.Capabilities&keyboard != 0
	switch {
	case has && d.kb == nil:
		kb, err := d.seat.GetKeyboard()
		if err != nil {
			d.logf("wm: keyboard: %v", err)
			return
		}
		d.kb = kb
		kb.SetKeymapHandler(d.onKeymap)
		kb.SetEnterHandler(d.onEnter)
		// No leave handler: go-wayland's decoder of leave fails on a surface already
		// destroyed, and the overlay drops the focus itself when it hides.
		kb.SetModifiersHandler(d.onModifiers)
		kb.SetKeyHandler(d.onKey)
	case !has && d.kb != nil:
		d.kb.Release()
		d.kb, d.kbFocus, d.keymap = nil, false, nil
		// Nobody can be holding the modifier on a keyboard that is gone.
		if d.m.Phase() != Idle {
			d.run(d.m.Release(d.now()))
		}
	}
}

func (d *desk) onKeymap(e client.KeyboardKeymapEvent) {
	if e.Fd < 0 {
		return
	}
	defer unix.Close(e.Fd)
	const xkbV1 = 1
	if e.Format != xkbV1 || e.Size == 0 || e.Size > 16<<20 {
		return
	}
	b, err := unix.Mmap(e.Fd, 0, int(e.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		d.logf("wm: keymap: %v", err)
		return
	}
	defer unix.Munmap(b)
	km, err := xkb.Parse(b)
	if err != nil {
		d.logf("wm: keymap: %v", err)
		return
	}
	d.keymap = km
}

func (d *desk) onEnter(e client.KeyboardEnterEvent) {
	d.kbFocus = d.ov != nil && e.Surface != nil && e.Surface == d.ov.surf
}

func (d *desk) onModifiers(e client.KeyboardModifiersEvent) {
	d.mods = e.ModsDepressed | e.ModsLatched
	if d.kbFocus && d.m.Phase() != Idle && d.mods&d.mask == 0 {
		d.run(d.m.Release(d.now()))
	}
}

func (d *desk) onKey(e client.KeyboardKeyEvent) {
	const pressed = 1
	if e.State != pressed || !d.kbFocus || d.m.Phase() == Idle || d.keymap == nil {
		return
	}
	sym := d.keymap.Keysym(e.Key, d.mods&xkb.ModShift != 0)
	now := d.now()
	if d.sess != nil {
		d.sess.lastInput = now
	}
	acts := d.m.Key(now, sym)
	if len(acts) > 0 && d.sess != nil {
		d.sess.keyAt = now
	}
	d.run(acts)
}

// Overlay sessions.

// trigger opens an overlay, or moves the selection of the open one. reply receives how it
// ended (at once for "advanced" and "none").
func (d *desk) trigger(req api.WmOverlayRequest, received time.Time, reply chan api.WmOverlayReply) {
	if d.m.Phase() == Idle && d.next != nil {
		d.applyNext()
	}
	if d.layer == nil {
		reply <- api.WmOverlayReply{Result: "none"}
		return
	}
	now := d.now()
	if d.m.Phase() != Idle {
		d.run(d.m.Trigger(now, nil, req.Backward, req.Launcher))
		if d.sess != nil {
			d.sess.lastInput = now
		}
		reply <- api.WmOverlayReply{Result: "advanced"}
		return
	}
	acts := d.m.Trigger(now, d.snapshot(), req.Backward, req.Launcher)
	if acts == nil {
		reply <- api.WmOverlayReply{Result: "none"}
		return
	}
	d.sess = &session{reply: reply, sent: req.Sent, received: received, lastInput: now, timing: &api.WmOverlayTiming{}}
	d.timings = append(d.timings, d.sess.timing)
	if len(d.timings) > maxTimings {
		d.timings = d.timings[1:]
	}
	d.run(acts)
	if d.kb == nil {
		// Events in flight may be about to give the seat its keyboard: a roundtrip settles it.
		if err := d.c.Roundtrip(); err != nil {
			d.logf("wm: %v", err)
		}
	}
	if d.kb == nil && d.m.Phase() != Idle {
		// The seat has no keyboard (the one that pressed the binding is gone already, as a
		// virtual keyboard is when its client exits): no modifier is held, so this was a tap.
		d.run(d.m.Release(now))
	}
}

// pending is settings to apply between sessions.
type pending struct {
	cfg     Config
	rend    *renderer // the renderer of a new font (nil: none loaded)
	newFont bool      // rend replaces the one in use
}

// configure takes new settings: at once when no overlay is open, else before the next one.
// A renderer for a new font comes made (rend, with newFont).
func (d *desk) configure(cfg Config, rend *renderer, newFont bool) {
	if !newFont && d.next != nil && d.next.newFont {
		rend, newFont = d.next.rend, true // a font loaded for settings not applied yet
	}
	d.next = &pending{cfg: cfg, rend: rend, newFont: newFont}
	if d.m.Phase() == Idle {
		d.applyNext()
	}
}

// applyNext applies the pending settings (between sessions).
func (d *desk) applyNext() {
	p := d.next
	d.next = nil
	mask, err := p.cfg.modMask()
	if err != nil {
		d.logf("wm: %v", err)
		return
	}
	if p.newFont {
		d.rend = p.rend
	}
	if d.rend != nil {
		d.rend.theme = p.cfg.Theme
	}
	d.cfg, d.mask = p.cfg, mask
	d.m = Machine{Threshold: p.cfg.Threshold, LauncherDwell: p.cfg.LauncherDwell, Bindings: p.cfg.Bindings}
}

// run carries out the machine's actions.
func (d *desk) run(acts []Action) {
	for _, a := range acts {
		switch a.Kind {
		case ActShow:
			d.show()
		case ActDraw:
			d.redraw()
		case ActHide:
			d.hide()
		case ActActivate:
			v := d.m.View()
			if a.Window < len(v.Entries) {
				if w := d.windows[v.Entries[a.Window].ID]; w != nil {
					if d.sess != nil {
						d.sess.target, d.sess.activate = w.id, d.now()
					}
					d.activate(w)
				}
			}
		case ActLaunch:
			// The caller of wm.overlay launches it (see finish).
		}
	}
	if o := d.m.TakeOutcome(); o != nil {
		d.finish(o)
	}
	d.schedule()
}

func (d *desk) finish(o *Outcome) {
	s := d.sess
	if s == nil {
		return
	}
	r := api.WmOverlayReply{Result: o.Result, Launch: o.Launch, Quick: o.Quick}
	if o.Result == "activated" {
		if w := d.windows[o.Window.ID]; w != nil {
			ww := w.api()
			r.Window = &ww
		}
	}
	s.timing.Result, s.timing.Quick, s.timing.Drawn = o.Result, o.Quick, o.Drawn
	select {
	case s.reply <- r:
	default:
	}
	// d.sess stays until the next trigger, for the activation timing.
}

// schedule arms the timer for the machine's deadline and the session's timeouts.
func (d *desk) schedule() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.m.Phase() == Idle || d.sess == nil {
		return
	}
	next := d.sess.lastInput.Add(d.cfg.IdleCancel)
	if !d.kbFocus {
		next = d.sess.received.Add(d.cfg.KeyboardWait)
	}
	if dl, ok := d.m.Deadline(); ok && dl.Before(next) {
		next = dl
	}
	d.timer = time.AfterFunc(max(0, time.Until(next)), func() { d.c.Post(d.tick) })
}

func (d *desk) tick() {
	if d.m.Phase() == Idle || d.sess == nil {
		return
	}
	now := d.now()
	switch {
	case !d.kbFocus && now.Sub(d.sess.received) >= d.cfg.KeyboardWait:
		d.logf("wm: overlay: the keyboard never came to the overlay in %v; cancelled", d.cfg.KeyboardWait)
		d.run(d.m.Cancel())
	case now.Sub(d.sess.lastInput) >= d.cfg.IdleCancel:
		d.run(d.m.Cancel())
	default:
		d.run(d.m.Tick(now))
	}
}

// status returns the timings kept.
func (d *desk) status() api.WmStatusReply {
	r := api.WmStatusReply{Windows: int32(len(d.windows))}
	if d.rend != nil {
		r.Font = d.rend.files.Regular
	}
	for _, t := range d.timings {
		r.Overlays = append(r.Overlays, *t)
	}
	return r
}
