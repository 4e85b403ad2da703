package wayland_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/proto/datacontrol"
	"github.com/open-sesame/sesame/wayland/proto/foreigntoplevel"
	"github.com/open-sesame/sesame/wayland/wltest"
	"github.com/rajveermalviya/go-wayland/wayland/client"
	"golang.org/x/sys/unix"
)

func le(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// wantBind is wl_registry.bind(name 5, "zwlr_foreign_toplevel_manager_v1", version 3, id 7)
// on registry 2, byte by byte, as libwayland's wl_closure_marshal writes it: the string's
// length is 33 (32 bytes and the NUL), then 3 bytes of padding.
func wantBind() []byte {
	const iface = "zwlr_foreign_toplevel_manager_v1" // 32 bytes
	var b []byte
	b = append(b, le(2)...)      // object: the registry
	b = append(b, le(60<<16)...) // size 60 (high half), opcode 0, bind (low half)
	b = append(b, le(5)...)      // name
	b = append(b, le(33)...)     // string length including the NUL — not 36
	b = append(b, iface...)      //
	b = append(b, 0, 0, 0, 0)    // the NUL and 3 bytes of padding
	b = append(b, le(3)...)      // version
	b = append(b, le(7)...)      // new id
	return b
}

func TestBindBytes(t *testing.T) {
	got, fds, err := wayland.BindMessage(2, 5, "zwlr_foreign_toplevel_manager_v1", 3, 7).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 0 {
		t.Fatalf("fds %v", fds)
	}
	if want := wantBind(); !bytes.Equal(got, want) {
		t.Fatalf("bind encodes as\n% x\nwant\n% x", got, want)
	}
}

func TestStringEncoding(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want []byte
	}{
		{"", []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{"a", []byte{2, 0, 0, 0, 'a', 0, 0, 0}},
		{"abc", []byte{4, 0, 0, 0, 'a', 'b', 'c', 0}},
		{"abcd", []byte{5, 0, 0, 0, 'a', 'b', 'c', 'd', 0, 0, 0, 0}},
		{"text/plain;charset=utf-8", append(append([]byte{25, 0, 0, 0}, "text/plain;charset=utf-8"...), 0, 0, 0, 0)},
	} {
		b, _, err := wayland.NewMessage(1, 0).String(tc.s).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if got := b[8:]; !bytes.Equal(got, tc.want) {
			t.Errorf("%q: % x, want % x", tc.s, got, tc.want)
		}
		d := wayland.NewDecoder(b[8:])
		if s := d.String(); s != tc.s || d.Finish() != nil {
			t.Errorf("%q decodes as %q (%v)", tc.s, s, d.Err())
		}
	}
	if _, _, err := wayland.NewMessage(1, 0).String("a\x00b").Bytes(); err == nil {
		t.Error("a string with a NUL was encoded")
	}
}

// TestBindOverConn binds through a real connection and checks what the compositor reads.
func TestBindOverConn(t *testing.T) {
	f := wltest.NewFake(t, wltest.Global{Name: 5, Interface: "zwlr_foreign_toplevel_manager_v1", Version: 3})
	c, err := wayland.Connect(f.Path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := foreigntoplevel.NewForeignToplevelManager(c) // ids: display 1, registry 2, the sync callback 3, this 4
	v, err := c.BindGlobal(foreigntoplevel.ForeignToplevelManagerInterface, 3, m)
	if err != nil || v != 3 {
		t.Fatal(v, err)
	}
	r := f.Next(t)
	want := wantBind()
	binary.NativeEndian.PutUint32(want[len(want)-4:], m.ID())
	if !bytes.Equal(r.Raw, want) {
		t.Fatalf("compositor read\n% x\nwant\n% x", r.Raw, want)
	}
}

// TestGoWaylandPadsStrings documents why Conn.Bind exists: go-wayland's own Registry.Bind
// writes the padded length (36) where the protocol wants 33. If this starts failing,
// upstream fixed it.
func TestGoWaylandPadsStrings(t *testing.T) {
	f := wltest.NewFake(t)
	d, err := client.Connect(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Context().Close()
	reg, _ := d.GetRegistry()
	p := client.NewSeat(d.Context())
	reg.Bind(5, "zwlr_foreign_toplevel_manager_v1", 3, p)
	var r wltest.Request
	for r = f.Next(t); r.Object != reg.ID(); r = f.Next(t) {
	}
	if got := binary.NativeEndian.Uint32(r.Raw[12:]); got != 36 {
		t.Fatalf("go-wayland now writes string length %d", got)
	}
}

func TestDecoderMalformed(t *testing.T) {
	for name, body := range map[string][]byte{
		"truncated uint":  {1, 2},
		"string too long": append(le(100), 'a', 0, 0, 0),
		"string no nul":   append(le(4), 'a', 'b', 'c', 'd'),
		"embedded nul":    append(le(4), 'a', 0, 'c', 0),
		"array too long":  append(le(9), 1, 2, 3, 4),
		"huge length":     le(0xffffffff),
	} {
		d := wayland.NewDecoder(body)
		_ = d.String()
		d.Array()
		if !errors.Is(d.Finish(), wayland.ErrMalformed) {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestFDQueue sends a descriptor attached to an earlier event than the one that carries it,
// as the kernel does when a compositor flushes several events in one sendmsg.
func TestFDQueue(t *testing.T) {
	f := wltest.NewFake(t)
	c, err := wayland.Connect(f.Path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	src := datacontrol.NewDataControlSource(c)
	got := make(chan int, 1)
	var mime string
	src.SetSendHandler(func(e datacontrol.DataControlSourceSendEvent) {
		mime = e.MimeType
		got <- e.Fd
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A delete_id for an id nobody has, then the send event: the descriptor rides on the first.
	raw := append(wltest.Event(1, 1, le(999)), wltest.Event(src.ID(), 0, wltest.Str("text/plain"))...)
	if err := f.SendRaw(raw, int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	w.Close()
	select {
	case fd := <-got:
		if fd < 0 {
			t.Fatal("the send event got no descriptor")
		}
		unix.Write(fd, []byte("ok"))
		unix.Close(fd)
		buf := make([]byte, 2)
		if n, _ := r.Read(buf); string(buf[:n]) != "ok" || mime != "text/plain" {
			t.Fatalf("read %q, mime %q", buf[:n], mime)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no send event")
	}
}

// TestServerCreatedObjects checks that objects created by the server (new_id in an event)
// receive their own events.
func TestServerCreatedObjects(t *testing.T) {
	f := wltest.NewFake(t)
	c, err := wayland.Connect(f.Path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	m := foreigntoplevel.NewForeignToplevelManager(c)
	titles := make(chan string, 1)
	m.SetToplevelHandler(func(e foreigntoplevel.ForeignToplevelManagerToplevelEvent) {
		e.Toplevel.SetTitleHandler(func(e foreigntoplevel.ForeignToplevelHandleTitleEvent) { titles <- e.Title })
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	const handle = 0xff000001
	f.Send(m.ID(), 0, le(handle))
	f.Send(handle, 0, wltest.Str("Foot A"))
	select {
	case s := <-titles:
		if s != "Foot A" {
			t.Fatalf("title %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no title")
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(wltest.Str("zwlr_layer_shell_v1"))
	f.Add(wltest.Arr([]byte{1, 2, 3}))
	f.Add(le(0))
	f.Add(append(le(4), 'a', 'b', 'c', 'd'))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := wayland.NewDecoder(b)
		s, ok := d.StringOrNull()
		if d.Err() == nil && ok {
			// What decodes re-encodes to the same bytes.
			enc, _, err := wayland.NewMessage(1, 0).String(s).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			n := len(enc) - 8
			if !bytes.Equal(enc[8:], b[:n]) {
				// Padding bytes need not be zero on the wire.
				if !bytes.Equal(enc[8:8+4+len(s)+1], b[:4+len(s)+1]) {
					t.Fatalf("%q: re-encoded % x from % x", s, enc[8:], b[:n])
				}
			}
		}
		d.Array()
		d.Uint()
		d.Fixed()
		d.Finish()
	})
}
