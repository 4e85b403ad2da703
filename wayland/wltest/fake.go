// Package wltest holds test beds for Wayland code: a scripted fake compositor that speaks the
// raw wire protocol (for unit tests and fuzzing), and a real headless sway run as an
// unprivileged user (for integration tests).
package wltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Request is one request a client sent to the fake compositor.
type Request struct {
	Object uint32
	Opcode uint16
	Raw    []byte // the whole message, header included
	FDs    []int
}

// Global is a global the fake compositor advertises.
type Global struct {
	Name      uint32
	Interface string
	Version   uint32
}

// Fake is a minimal compositor on a Unix socket: it answers wl_display.get_registry with its
// globals and wl_display.sync with the callback's done event, and hands every other request
// to the test.
type Fake struct {
	Path     string
	Requests chan Request

	ln      *net.UnixListener
	globals []Global

	mu   sync.Mutex
	conn *net.UnixConn
}

// NewFake listens in a temporary directory; it is closed when the test ends.
func NewFake(t testing.TB, globals ...Global) *Fake {
	t.Helper()
	dir, err := os.MkdirTemp("", "wltest")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wayland-test")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{Path: path, Requests: make(chan Request, 1024), ln: ln, globals: globals}
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		if f.conn != nil {
			f.conn.Close()
		}
		f.mu.Unlock()
		os.RemoveAll(dir)
	})
	return f
}

func (f *Fake) serve() {
	c, err := f.ln.AcceptUnix()
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conn = c
	f.mu.Unlock()
	for {
		r, err := readRequest(c)
		if err != nil {
			return
		}
		switch {
		case r.Object == 1 && r.Opcode == 0: // wl_display.sync(callback)
			cb := binary.NativeEndian.Uint32(r.Raw[8:])
			f.Send(cb, 0, U32(0))
			f.Send(1, 1, U32(cb)) // delete_id
		case r.Object == 1 && r.Opcode == 1: // wl_display.get_registry(registry)
			reg := binary.NativeEndian.Uint32(r.Raw[8:])
			for _, g := range f.globals {
				f.Send(reg, 0, Cat(U32(g.Name), Str(g.Interface), U32(g.Version)))
			}
		default:
			select {
			case f.Requests <- r:
			default:
			}
		}
	}
}

func readRequest(c *net.UnixConn) (Request, error) {
	hdr := make([]byte, 8)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(hdr, oob)
	if err != nil {
		return Request{}, err
	}
	if n != 8 {
		return Request{}, errors.New("short header")
	}
	size := int(binary.NativeEndian.Uint16(hdr[6:]))
	if size < 8 {
		return Request{}, fmt.Errorf("bad size %d", size)
	}
	raw := make([]byte, size)
	copy(raw, hdr)
	if _, err := io.ReadFull(c, raw[8:]); err != nil {
		return Request{}, err
	}
	r := Request{Object: binary.NativeEndian.Uint32(hdr), Opcode: binary.NativeEndian.Uint16(hdr[4:]), Raw: raw}
	if oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					r.FDs = append(r.FDs, fds...)
				}
			}
		}
	}
	return r, nil
}

// Next returns the next request not answered by the fake itself.
func (f *Fake) Next(t testing.TB) Request {
	t.Helper()
	select {
	case r := <-f.Requests:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request from the client in 5 s")
		return Request{}
	}
}

// Send sends an event with body (and descriptors) from object.
func (f *Fake) Send(object uint32, opcode uint16, body []byte, fds ...int) error {
	msg := make([]byte, 8, 8+len(body))
	binary.NativeEndian.PutUint32(msg, object)
	binary.NativeEndian.PutUint16(msg[4:], opcode)
	binary.NativeEndian.PutUint16(msg[6:], uint16(8+len(body)))
	msg = append(msg, body...)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		return errors.New("no client")
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err := f.conn.WriteMsgUnix(msg, oob, nil)
	return err
}

// SendRaw writes bytes as they are (several events, or a malformed one).
func (f *Fake) SendRaw(b []byte, fds ...int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		return errors.New("no client")
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err := f.conn.WriteMsgUnix(b, oob, nil)
	return err
}

// Event encodes one event (header and body).
func Event(object uint32, opcode uint16, body []byte) []byte {
	msg := make([]byte, 8, 8+len(body))
	binary.NativeEndian.PutUint32(msg, object)
	binary.NativeEndian.PutUint16(msg[4:], opcode)
	binary.NativeEndian.PutUint16(msg[6:], uint16(8+len(body)))
	return append(msg, body...)
}

// U32 encodes a uint argument.
func U32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// Str encodes a string argument the way libwayland does.
func Str(s string) []byte {
	b := U32(uint32(len(s) + 1))
	b = append(b, s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Arr encodes an array argument.
func Arr(a []byte) []byte {
	b := append(U32(uint32(len(a))), a...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Cat concatenates arguments.
func Cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
