package proto_test

import (
	"bytes"
	"testing"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/proto/datacontrol"
	"github.com/open-sesame/sesame/wayland/proto/foreigntoplevel"
	"github.com/open-sesame/sesame/wayland/proto/layershell"
	"github.com/open-sesame/sesame/wayland/proto/screencopy"
	"github.com/open-sesame/sesame/wayland/proto/virtualkeyboard"
	"github.com/open-sesame/sesame/wayland/wltest"
)

// objects makes one object of every generated interface that has events.
func objects(c *wayland.Conn) []wayland.EventDecoder {
	return []wayland.EventDecoder{
		layershell.NewLayerSurface(c),
		foreigntoplevel.NewForeignToplevelManager(c),
		foreigntoplevel.NewForeignToplevelHandle(c),
		datacontrol.NewDataControlDevice(c),
		datacontrol.NewDataControlSource(c),
		datacontrol.NewDataControlOffer(c),
		screencopy.NewScreencopyFrame(c),
		virtualkeyboard.NewVirtualKeyboard(c),
	}
}

// FuzzEvents feeds arbitrary event bodies to every generated decoder: a malformed event is an
// error, never a panic, and handlers see what was decoded.
func FuzzEvents(f *testing.F) {
	f.Add(uint8(1), uint8(0), wltest.Str("org.example.App"))                                // handle.title
	f.Add(uint8(2), uint8(0), wltest.U32(0xff000002))                                       // manager.toplevel
	f.Add(uint8(2), uint8(4), wltest.Arr([]byte{2, 0, 0, 0}))                               // handle.state
	f.Add(uint8(0), uint8(0), wltest.Cat(wltest.U32(7), wltest.U32(1280), wltest.U32(720))) // layer surface configure
	f.Add(uint8(5), uint8(0), wltest.Str("text/plain"))                                     // offer.offer
	f.Add(uint8(3), uint8(1), wltest.U32(0))                                                // device.selection(null)
	f.Add(uint8(6), uint8(0), wltest.Cat(wltest.U32(0), wltest.U32(1), wltest.U32(1), wltest.U32(4)))
	f.Add(uint8(1), uint8(9), []byte{})
	fake := wltest.NewFake(f)
	c, err := wayland.Connect(fake.Path, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	objs := objects(c)
	// Handlers on, so that decoded values reach them.
	h := objs[2].(*foreigntoplevel.ForeignToplevelHandle)
	var title string
	h.SetTitleHandler(func(e foreigntoplevel.ForeignToplevelHandleTitleEvent) { title = e.Title })
	h.SetStateHandler(func(e foreigntoplevel.ForeignToplevelHandleStateEvent) {})
	objs[1].(*foreigntoplevel.ForeignToplevelManager).SetToplevelHandler(func(e foreigntoplevel.ForeignToplevelManagerToplevelEvent) {
		if e.Toplevel == nil {
			panic("nil toplevel")
		}
	})
	f.Fuzz(func(t *testing.T, obj, opcode uint8, body []byte) {
		o := objs[int(obj)%len(objs)]
		title = ""
		err := o.DispatchEvent(uint32(opcode), -1, body)
		if o == objs[2] && opcode == 0 && err == nil && len(body) >= 4 && body[0]|body[1]|body[2]|body[3] != 0 {
			// The title round-trips through the encoder.
			enc, _, _ := wayland.NewMessage(1, 0).String(title).Bytes()
			if !bytes.Equal(enc[8:8+4+len(title)+1], body[:4+len(title)+1]) {
				t.Fatalf("title %q from % x", title, body)
			}
		}
	})
}
