package wm

import (
	"fmt"

	"github.com/open-sesame/sesame/wayland/proto/layershell"
	"github.com/rajveermalviya/go-wayland/wayland/client"
	"golang.org/x/sys/unix"
)

// The overlay is a layer-shell surface on the overlay layer, anchored to every edge of the
// output, taking the keyboard exclusively. It exists only while a session is open: shown
// fully transparent while Armed (so the keyboard — the modifier's release — comes to it
// without anything visible), drawn when the machine asks, destroyed at the end (before the
// target window is activated, in the same stream of requests, so the compositor hands the
// focus back first and then moves it).

type overlay struct {
	surf       *client.Surface
	ls         *layershell.LayerSurface
	w, h       int
	configured bool
	mapped     bool
	drawPicker bool // the picker, not the transparent Armed buffer
}

// shmPool is two ARGB8888 buffers of one size in a memfd.
type shmPool struct {
	fd   int
	data []byte
	pool *client.ShmPool
	w, h int
	bufs [2]*shmBuffer
}

type shmBuffer struct {
	b    *client.Buffer
	off  int
	busy bool
}

const formatARGB8888 = 0

func (d *desk) newPool(w, h int) (*shmPool, error) {
	size := w * h * 4
	fd, err := unix.MemfdCreate("sesame-overlay", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(2*size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("overlay: %w", err)
	}
	data, err := unix.Mmap(fd, 0, 2*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("overlay: %w", err)
	}
	pool, err := d.shm.CreatePool(fd, int32(2*size))
	if err != nil {
		unix.Munmap(data)
		unix.Close(fd)
		return nil, fmt.Errorf("overlay: %w", err)
	}
	p := &shmPool{fd: fd, data: data, pool: pool, w: w, h: h}
	for i := range p.bufs {
		b, err := pool.CreateBuffer(int32(i*size), int32(w), int32(h), int32(w*4), formatARGB8888)
		if err != nil {
			p.destroy()
			return nil, fmt.Errorf("overlay: %w", err)
		}
		sb := &shmBuffer{b: b, off: i * size}
		b.SetReleaseHandler(func(client.BufferReleaseEvent) {
			sb.busy = false
			if d.needPresent && d.ov != nil && d.ov.configured {
				d.present()
			}
		})
		p.bufs[i] = sb
	}
	return p, nil
}

func (p *shmPool) destroy() {
	for _, b := range p.bufs {
		if b != nil {
			b.b.Destroy()
		}
	}
	p.pool.Destroy()
	unix.Munmap(p.data)
	unix.Close(p.fd)
}

// free returns a buffer the compositor is not reading, and its pixels.
func (p *shmPool) free() (*shmBuffer, []byte) {
	size := p.w * p.h * 4
	for _, b := range p.bufs {
		if !b.busy {
			return b, p.data[b.off : b.off+size]
		}
	}
	return nil, nil
}

func (d *desk) show() {
	if d.ov != nil {
		d.hide()
	}
	surf, err := d.compositor.CreateSurface()
	if err != nil {
		d.logf("wm: overlay: %v", err)
		return
	}
	ls, err := d.layer.GetLayerSurface(surf, nil, layershell.LayerShellLayerOverlay, "sesame")
	if err != nil {
		d.logf("wm: overlay: %v", err)
		surf.Destroy()
		return
	}
	ov := &overlay{surf: surf, ls: ls}
	d.ov = ov
	all := layershell.LayerSurfaceAnchorTop | layershell.LayerSurfaceAnchorBottom | layershell.LayerSurfaceAnchorLeft | layershell.LayerSurfaceAnchorRight
	ls.SetAnchor(all)
	ls.SetExclusiveZone(-1)
	ls.SetKeyboardInteractivity(layershell.LayerSurfaceKeyboardInteractivityExclusive)
	ls.SetConfigureHandler(func(e layershell.LayerSurfaceConfigureEvent) {
		if d.ov != ov {
			return
		}
		ls.AckConfigure(e.Serial)
		w, h := int(e.Width), int(e.Height)
		if w <= 0 || h <= 0 {
			w, h = 1920, 1080
		}
		ov.w, ov.h, ov.configured = w, h, true
		d.present()
	})
	ls.SetClosedHandler(func(layershell.LayerSurfaceClosedEvent) {
		if d.ov == ov {
			d.run(d.m.Cancel())
		}
	})
	surf.Commit()
	if d.sess != nil {
		d.sess.shown = d.now()
	}
}

func (d *desk) redraw() {
	if d.ov == nil {
		return
	}
	d.ov.drawPicker = true
	if d.ov.configured {
		d.present()
	}
}

// present draws the current state into a free buffer and commits it.
func (d *desk) present() {
	ov := d.ov
	if d.pool == nil || d.pool.w != ov.w || d.pool.h != ov.h {
		if d.pool != nil {
			d.pool.destroy()
			d.pool = nil
		}
		p, err := d.newPool(ov.w, ov.h)
		if err != nil {
			d.logf("wm: %v", err)
			d.run(d.m.Cancel())
			return
		}
		d.pool = p
	}
	b, px := d.pool.free()
	d.needPresent = b == nil
	if b == nil {
		// Both buffers are with the compositor: draw at the next release.
		return
	}
	if ov.drawPicker && d.rend != nil {
		d.rend.draw(px, ov.w, ov.h, d.m.View())
	} else {
		clear(px)
	}
	b.busy = true
	ov.surf.Attach(b.b, 0, 0)
	ov.surf.Damage(0, 0, int32(ov.w), int32(ov.h))
	first := !ov.mapped
	var frame *client.Callback
	if first && d.sess != nil {
		frame, _ = ov.surf.Frame()
	}
	ov.surf.Commit()
	if !first {
		return
	}
	ov.mapped = true
	s := d.sess
	if s == nil {
		return
	}
	if frame != nil {
		frame.SetDoneHandler(func(client.CallbackDoneEvent) {
			s.presented = d.now()
			if !s.sent.IsZero() {
				s.timing.SentToPresented = s.presented.Sub(s.sent)
			}
		})
	}
	// Once the compositor answers a sync sent after the commit, it has the buffer: mapped.
	if cb, err := d.c.Display().Sync(); err == nil {
		cb.SetDoneHandler(func(client.CallbackDoneEvent) {
			s.mapped = d.now()
			s.timing.MappedAt = s.mapped
			s.timing.ReceivedToMapped = s.mapped.Sub(s.received)
			if !s.sent.IsZero() {
				s.timing.SentToMapped = s.mapped.Sub(s.sent)
			}
		})
	}
}

func (d *desk) hide() {
	ov := d.ov
	if ov == nil {
		return
	}
	d.ov = nil
	d.kbFocus = false
	ov.ls.Destroy()
	ov.surf.Destroy()
}
