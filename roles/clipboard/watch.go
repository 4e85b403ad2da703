package clipboard

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/proto/datacontrol"
	"github.com/rajveermalviya/go-wayland/wayland/client"
	"golang.org/x/sys/unix"
)

// The watcher: data control on the compositor's first seat. ext-data-control-v1 is used when
// offered (it has wlr-data-control v2's requests and events, in the same order, under ext_
// names, so the same generated types speak it), else zwlr_data_control_manager_v1.
//
// Each new selection (and primary selection, when enabled and the protocol has it) is read
// in the background — the offer's best text type, else an image type — together with the
// x-kde-passwordManagerHint type when it is offered, and handed to the role as a capture.
// Everything here runs on the connection's goroutine except the reads.

const (
	extManager = "ext_data_control_manager_v1"
	wlrManager = datacontrol.DataControlManagerInterface
)

// textTypes are read for text, best first.
var textTypes = []string{"text/plain;charset=utf-8", "UTF8_STRING", "text/plain", "TEXT", "STRING"}

// imageTypes are read for images, best first.
var imageTypes = []string{"image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff"}

// maxContent bounds what is read from one selection.
const maxContent = 16 << 20

// readTimeout bounds one read from a selection's owner.
const readTimeout = 3 * time.Second

// capture is one selection read.
type capture struct {
	Seq      uint64 // the selection's number, to tell whether it is still current
	Primary  bool
	MimeType string
	Data     []byte
	Hint     string // the x-kde-passwordManagerHint value, "" when not offered
	Types    []string
}

type watcher struct {
	c        *wayland.Conn
	logf     func(string, ...any)
	seat     *client.Seat
	mgr      *datacontrol.DataControlManager
	dev      *datacontrol.DataControlDevice
	protocol string
	canPrim  bool        // the protocol has the primary selection
	primary  func() bool // and it is to be watched (the configuration, as it is now)

	mimes   map[*datacontrol.DataControlOffer][]string
	current [2]*datacontrol.DataControlOffer // selection, primary
	seq     [2]uint64
	capture func(capture) // called from a reading goroutine
}

func newWatcher(c *wayland.Conn, primary func() bool, capture func(capture), logf func(string, ...any)) (*watcher, error) {
	w := &watcher{c: c, logf: logf, capture: capture, primary: primary, mimes: map[*datacontrol.DataControlOffer][]string{}}
	w.seat = client.NewSeat(c.Context())
	if _, err := c.BindGlobal("wl_seat", 1, w.seat); err != nil {
		return nil, err
	}
	w.mgr = datacontrol.NewDataControlManager(c)
	if gs := c.Find(extManager); len(gs) > 0 {
		if err := c.Bind(gs[0].Name, extManager, 1, w.mgr); err != nil {
			return nil, err
		}
		w.protocol, w.canPrim = extManager, true
	} else {
		v, err := c.BindGlobal(wlrManager, 2, w.mgr)
		if err != nil {
			return nil, fmt.Errorf("%w: the clipboard role needs ext-data-control or wlr-data-control", err)
		}
		w.protocol, w.canPrim = fmt.Sprintf("%s v%d", wlrManager, v), v >= 2
	}
	if err := w.device(); err != nil {
		return nil, err
	}
	return w, c.Roundtrip()
}

func (w *watcher) device() error {
	dev, err := w.mgr.GetDataDevice(w.seat)
	if err != nil {
		return err
	}
	w.dev = dev
	dev.SetDataOfferHandler(func(e datacontrol.DataControlDeviceDataOfferEvent) {
		o := e.Id
		w.mimes[o] = nil
		o.SetOfferHandler(func(e datacontrol.DataControlOfferOfferEvent) {
			if len(w.mimes[o]) < 64 {
				w.mimes[o] = append(w.mimes[o], e.MimeType)
			}
		})
	})
	dev.SetSelectionHandler(func(e datacontrol.DataControlDeviceSelectionEvent) { w.selection(0, e.Id) })
	dev.SetPrimarySelectionHandler(func(e datacontrol.DataControlDevicePrimarySelectionEvent) { w.selection(1, e.Id) })
	dev.SetFinishedHandler(func(datacontrol.DataControlDeviceFinishedEvent) {
		w.logf("clipboard: the compositor ended data control; asking again")
		dev.Destroy()
		if err := w.device(); err != nil {
			w.logf("clipboard: %v", err)
		}
	})
	return nil
}

// selection handles a new selection (which 0) or primary selection (1); o is nil when
// it was cleared.
func (w *watcher) selection(which int, o *datacontrol.DataControlOffer) {
	w.seq[which]++
	if old := w.current[which]; old != nil && old != o && old != w.current[1-which] {
		old.Destroy()
		delete(w.mimes, old)
	}
	w.current[which] = o
	if o == nil || (which == 1 && !w.primary()) {
		return
	}
	types := w.mimes[o]
	mime := pick(types, textTypes)
	if mime == "" {
		mime = pick(types, imageTypes)
	}
	if mime == "" {
		return // nothing sesame keeps (files, rich text only, …)
	}
	data, err := w.receive(o, mime)
	if err != nil {
		w.logf("clipboard: %v", err)
		return
	}
	var hint <-chan result
	if slices.Contains(types, PasswordManagerHint) {
		if hint, err = w.receive(o, PasswordManagerHint); err != nil {
			w.logf("clipboard: %v", err)
			return
		}
	}
	c := capture{Seq: w.seq[which], Primary: which == 1, MimeType: mime, Types: slices.Clone(types)}
	go func() {
		r := <-data
		if r.err != nil {
			w.logf("clipboard: read the selection (%s): %v", mime, r.err)
			return
		}
		c.Data = r.data
		if hint != nil {
			h := <-hint
			c.Hint = strings.TrimSpace(string(h.data))
			if h.err != nil {
				c.Hint = "secret" // unreadable: assume the worst
			}
		}
		w.capture(c)
	}()
}

func pick(have, want []string) string {
	for _, t := range want {
		if slices.Contains(have, t) {
			return t
		}
	}
	return ""
}

type result struct {
	data []byte
	err  error
}

// receive asks the selection's owner for mime through a pipe and reads it in the background.
func (w *watcher) receive(o *datacontrol.DataControlOffer, mime string) (<-chan result, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	err := o.Receive(mime, p[1])
	unix.Close(p[1]) // the owner has its own copy now
	if err != nil {
		unix.Close(p[0])
		return nil, err
	}
	out := make(chan result, 1)
	f := os.NewFile(uintptr(p[0]), "selection")
	go func() {
		defer f.Close()
		f.SetReadDeadline(time.Now().Add(readTimeout))
		b, err := io.ReadAll(io.LimitReader(f, maxContent+1))
		if err == nil && len(b) > maxContent {
			err = fmt.Errorf("more than %d bytes: not kept", maxContent)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("the owner sent nothing in %v", readTimeout)
		}
		out <- result{b, err}
	}()
	return out, nil
}

// clear empties the selection (or primary selection) if it is still number seq.
func (w *watcher) clear(primary bool, seq uint64) bool {
	which := 0
	if primary {
		which = 1
	}
	if w.seq[which] != seq {
		return false
	}
	var err error
	if primary {
		err = w.dev.SetPrimarySelection(nil)
	} else {
		err = w.dev.SetSelection(nil)
	}
	if err != nil {
		w.logf("clipboard: clear: %v", err)
		return false
	}
	return true
}

// set makes data the selection, offered as its type (and as every text type, for text).
// Content that was sensitive is offered with the password-manager hint, so that other
// clipboard managers skip it too.
func (w *watcher) set(mime string, data []byte, sensitive bool) error {
	src, err := w.mgr.CreateDataSource()
	if err != nil {
		return err
	}
	types := []string{mime}
	if slices.Contains(textTypes, mime) {
		types = textTypes
	}
	for _, t := range types {
		src.Offer(t)
	}
	if sensitive {
		src.Offer(PasswordManagerHint)
	}
	src.SetSendHandler(func(e datacontrol.DataControlSourceSendEvent) {
		if e.Fd < 0 {
			return
		}
		out := data
		if e.MimeType == PasswordManagerHint {
			out = []byte("secret")
		}
		unix.SetNonblock(e.Fd, true) // so that a reader that never reads cannot hold the goroutine
		f := os.NewFile(uintptr(e.Fd), "selection")
		go func() {
			defer f.Close()
			f.SetWriteDeadline(time.Now().Add(readTimeout))
			f.Write(out)
		}()
	})
	src.SetCancelledHandler(func(datacontrol.DataControlSourceCancelledEvent) { src.Destroy() })
	return w.dev.SetSelection(src)
}
