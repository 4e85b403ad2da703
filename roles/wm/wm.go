// Package wm is the wm role: window switching on Wayland compositors that speak
// wlr-foreign-toplevel-management and wlr-layer-shell (sway, Hyprland, river, labwc, …).
//
// It tracks every toplevel window (app id, title, whether it is active) and the order they
// were used in (saved across restarts, capped), answers wm.list, wm.switch and wm.focus,
// and shows the Alt+Tab overlay when a compositor key binding runs `sesame wm overlay`:
// a full-screen layer surface with one card per window and letter hints (see Machine for
// tap and hold, hints.go for the letters), rendered in Go into shared memory with a real
// font. The role owns its Wayland connection; the command a key binding runs only sends one
// bus request, so the overlay costs a process start and a round trip, not a connection.
//
// The role starts no programs: a bound letter with no window makes wm.overlay and wm.focus
// answer with the application to launch, and the command (outside any sandbox) asks the
// launcher for it.
package wm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/internal/atomicfile"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/wayland"
	"github.com/vmihailenco/msgpack/v5"
)

// activateWait bounds how long wm.switch and wm.focus wait for the compositor to report
// the window active.
const activateWait = time.Second

// Run runs the wm role.
func Run(ctx context.Context, e *env.Env, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("wm: unexpected arguments %q", args)
	}
	rs, err := bus.StartRole(e.Getenv)
	if err != nil {
		return fmt.Errorf("wm: %w", err)
	}
	defer rs.Close()
	id, rdir, seal := rs.Identity, rs.RuntimeDir, rs.Seal
	// The built-in settings until the hub's configuration arrives (asked for as soon as the
	// role is connected, before it reports ready). Their font is loaded now; a font the
	// configuration names instead loads under the sandbox, from fontconfig's directories.
	cfg := DefaultConfig()
	rend := loadRenderer(cfg.Font, cfg.Theme, e.Getenv, e.Logf)
	state, err := e.StateDir()
	if err != nil {
		return fmt.Errorf("wm: %w", err)
	}
	// The window order lives in a directory of its own, made here before the sandbox: the
	// wm's sandbox grants that directory and nothing else under the state dir.
	mruDir := filepath.Join(state, "sesame", "wm")
	if err := os.MkdirAll(mruDir, 0o700); err != nil {
		return fmt.Errorf("wm: %w", err)
	}
	mruPath := filepath.Join(mruDir, "mru")
	saved := []savedWindow{}
	if b, err := os.ReadFile(mruPath); err == nil {
		saved = decodeSaved(b)
	}
	saves := make(chan []savedWindow, 1)
	go persist(ctx, mruPath, saves, e.Logf)

	sock, err := wayland.SocketPath(e.Getenv)
	if err != nil {
		return fmt.Errorf("wm: %w", err)
	}
	conn, err := wayland.Connect(sock, e.Logf)
	if err != nil {
		return fmt.Errorf("wm: %w", err)
	}
	// From here on the role reaches only the compositor, the fonts, its window order and the
	// bus (package sandbox); its settings come over the bus.
	sdirs := sandbox.NewDirs(rdir, e.DataDir, e.ConfigDir, e.StateDir)
	sdirs.Home, sdirs.Wayland = e.Getenv("HOME"), sock
	if _, err := sandbox.Apply(sandbox.WM, sdirs, e.Getenv, e.Logf); err != nil {
		conn.Close()
		return fmt.Errorf("wm: %w", err)
	}
	d, err := newDesk(conn, cfg, rend, saved, func(ws []savedWindow) {
		select {
		case <-saves:
		default:
		}
		saves <- ws
	}, e.Logf)
	// The role runs either way; without the protocols it needs it answers every request
	if errors.Is(err, wayland.ErrUnsupported) {
		conn.Close()
		e.Logf("wm: %v", err)
		return serveUnavailable(ctx, e, id, seal, rdir, fmt.Sprintf("wm: this compositor cannot be driven: %v", err))
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("wm: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wlErr := make(chan error, 1)
	go func() {
		wlErr <- conn.Run(ctx)
		cancel()
	}()
	s := &server{d: d, c: conn, getenv: e.Getenv, logf: e.Logf}
	s.mu.wm, s.mu.font, s.mu.fontOK = config.DefaultWM(), cfg.Font, rend != nil
	err = bus.ServeRole(ctx, e.Getenv, bus.RoleConfig{
		Identity:   id,
		Seal:       seal,
		RuntimeDir: rdir,
		Handler:    s.handle,
		Logf:       e.Logf,
		Connected: func(cl *bus.Client) {
			// Before readiness, so that an overlay opened as soon as the role is up has the
			// user's settings.
			cctx, cancel := context.WithTimeout(ctx, pullWait)
			defer cancel()
			var p api.ConfigPush
			if err := cl.Call(cctx, api.HubConfig, "", nil, &p); err != nil {
				e.Logf("wm: %v (the built-in settings apply until the hub pushes some)", err)
				return
			}
			s.configure(&p)
		},
	})
	select {
	case werr := <-wlErr:
		if werr != nil {
			return fmt.Errorf("wm: %w", werr)
		}
	default:
	}
	if err != nil {
		return fmt.Errorf("wm: %w", err)
	}
	return nil
}

// serveUnavailable serves the bus, answering every request with why the role cannot work.
// The role receives no sealed bodies, but every role announces a seal key.
func serveUnavailable(ctx context.Context, e *env.Env, id *bus.Identity, seal *bus.Keypair, rdir, why string) error {
	return bus.ServeRole(ctx, e.Getenv, bus.RoleConfig{
		Identity: id, Seal: seal, RuntimeDir: rdir, Logf: e.Logf,
		Handler: func(context.Context, *bus.Envelope) (any, error) {
			return nil, bus.Errorf(bus.CodeUnavailable, "%s", why)
		},
	})
}

// loadRenderer finds the font and makes a renderer; nil (the overlay draws nothing, switching
// still works) when there is no usable font. A font file the role cannot read (its sandbox
// reads fontconfig's directories only) or parse gives way to a sans-serif family found there.
func loadRenderer(family string, theme Theme, getenv func(string) string, logf func(string, ...any)) *renderer {
	dirs := fontconfigDirs(getenv, "/etc/fonts")
	r, err := rendererFor(family, theme, dirs)
	if err != nil && filepath.IsAbs(family) {
		logf("wm: %v (fonts are read from fontconfig's directories only): using a sans-serif family found there", err)
		r, err = rendererFor(string(config.DefaultWM().Font), theme, dirs)
	}
	if err != nil {
		logf("wm: no font for the overlay (%v): it will show nothing", err)
		return nil
	}
	return r
}

func rendererFor(family string, theme Theme, dirs []string) (*renderer, error) {
	files, err := findFont(family, dirs)
	if err != nil {
		return nil, err
	}
	return newRenderer(theme, files)
}

// pullWait bounds the hub.config call made when the role connects.
const pullWait = 5 * time.Second

// configure takes the configuration the hub sends (hub.config, wm.config): when its [wm]
// table changed, the new settings go to the desk, which applies them at once when no overlay
// is open, else before the next one opens. A new font is loaded here, off the Wayland
// goroutine. Settings that do not convert are logged and not applied.
func (s *server) configure(p *api.ConfigPush) {
	wm, cfg, err := settingsFromJSON(p.Config)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Seq <= s.mu.seq {
		return // older than the configuration applied
	}
	s.mu.seq = p.Seq
	if err != nil {
		s.logf("wm: configuration %d: %v; the settings in use stay", p.Seq, err)
		return
	}
	if reflect.DeepEqual(wm, s.mu.wm) {
		return
	}
	var rend *renderer
	newFont := cfg.Font != s.mu.font || !s.mu.fontOK
	if newFont {
		rend = loadRenderer(cfg.Font, cfg.Theme, s.getenv, s.logf)
		s.mu.font, s.mu.fontOK = cfg.Font, rend != nil
	}
	if err := s.do(func() error { s.d.configure(cfg, rend, newFont); return nil }); err != nil {
		s.logf("wm: configuration %d not applied: %v", p.Seq, err)
		return
	}
	s.mu.wm = wm
	s.logf("wm: settings of configuration %d taken", p.Seq)
}

// persist writes the saved order, the latest one whenever it changes.
func persist(ctx context.Context, path string, saves <-chan []savedWindow, logf func(string, ...any)) {
	var last []byte
	for {
		select {
		case <-ctx.Done():
			return
		case ws := <-saves:
			b := encodeSaved(ws)
			if string(b) == string(last) {
				continue
			}
			if err := atomicfile.Write(path, b, 0o600); err != nil {
				logf("wm: save the window order: %v", err)
				continue
			}
			last = b
		}
	}
}

type server struct {
	d      *desk
	c      *wayland.Conn
	getenv func(string) string
	logf   func(string, ...any)

	mu struct {
		sync.Mutex
		seq    uint64    // of the last configuration taken
		wm     config.WM // its [wm] table, as last applied
		font   string    // the font last loaded
		fontOK bool      // and whether it loaded
	}
}

func decode(req *bus.Envelope, v any) error {
	if err := msgpack.Unmarshal(req.Body, v); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%s: malformed request: %v", req.Kind, err)
	}
	return nil
}

// do runs f on the Wayland goroutine.
func (s *server) do(f func() error) error {
	err := s.c.Do(f)
	if err != nil && s.c.Err() != nil {
		return bus.Errorf(bus.CodeUnavailable, "wm: lost the compositor: %v", s.c.Err())
	}
	return err
}

func (s *server) handle(ctx context.Context, req *bus.Envelope) (any, error) {
	switch req.Kind {
	case api.WmConfig:
		if req.Caller == nil || req.Caller.Role != bus.HubCaller {
			return nil, bus.Errorf(bus.CodeDenied, "wm: only the hub sends configuration")
		}
		var p api.ConfigPush
		if err := decode(req, &p); err != nil {
			return nil, err
		}
		s.configure(&p)
		return nil, nil
	case api.WmList:
		var out api.WmListReply
		err := s.do(func() error { out.Windows = s.d.list(); return nil })
		return &out, err
	case api.WmStatus:
		var out api.WmStatusReply
		err := s.do(func() error { out = s.d.status(); return nil })
		return &out, err
	case api.WmSwitch:
		var r api.WmSwitchRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		var w *window
		var done <-chan struct{}
		err := s.do(func() error {
			var err error
			if w, err = s.d.switchTarget(r.Backward); err != nil {
				return bus.Errorf(bus.CodeNotFound, "%v", err)
			}
			done = s.d.activate(w)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return s.confirm(ctx, w, done)
	case api.WmFocus:
		var r api.WmFocusRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		var w *window
		var b *Binding
		var done <-chan struct{}
		err := s.do(func() error {
			w, b = s.d.focusTarget(r.Target)
			if w != nil {
				done = s.d.activate(w)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if w == nil {
			if b != nil && b.Launch != "" {
				return &api.WmFocusReply{Launch: b.Launch}, nil
			}
			return nil, bus.Errorf(bus.CodeNotFound, "no window matches %q and no key binding launches it", r.Target)
		}
		win, err := s.confirm(ctx, w, done)
		if err != nil {
			return nil, err
		}
		return &api.WmFocusReply{Window: win}, nil
	case api.WmOverlay:
		var r api.WmOverlayRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		received := time.Now()
		reply := make(chan api.WmOverlayReply, 1)
		if err := s.do(func() error { s.d.trigger(r, received, reply); return nil }); err != nil {
			return nil, err
		}
		select {
		case out := <-reply:
			return &out, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.c.Done():
			return nil, bus.Errorf(bus.CodeUnavailable, "wm: lost the compositor")
		}
	}
	return nil, bus.Errorf(bus.CodeUnknownKind, "wm: unknown request %q", req.Kind)
}

// confirm waits until the compositor reports w active, and returns it.
func (s *server) confirm(ctx context.Context, w *window, done <-chan struct{}) (*api.WmWindow, error) {
	t := time.NewTimer(activateWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return nil, bus.Errorf(bus.CodeTimeout, "the compositor did not activate %s (%s) within %v", w.id, w.appID, activateWait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var out api.WmWindow
	err := s.do(func() error { out = w.api(); return nil })
	return &out, err
}
