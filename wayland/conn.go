// Package wayland is sesame's Wayland client layer: a connection with one event loop, the
// wire encoding of requests (strings done right), the protocol bindings generated from XML
// under proto/, and the helpers the desktop roles share.
//
// # On top of go-wayland
//
// The socket, the object table and the core protocol's objects (wl_compositor, wl_shm,
// wl_seat, wl_keyboard, wl_output, …) come from github.com/rajveermalviya/go-wayland used as a
// module, unmodified. Three things it gets wrong are handled here instead:
//
//   - String arguments: its generated requests put the padded length on the wire, which
//     libwayland ≥ 1.24 rejects, killing the client. wl_registry.bind, the one core request
//     with a string that sesame sends, goes through Conn.Bind; the generated packages encode
//     strings with Message.String. TestBindBytes checks the bytes.
//   - File descriptors: the kernel attaches a descriptor to the first byte of the sendmsg
//     that carried it, which may be an earlier event than the one it belongs to. go-wayland
//     hands it to whatever message it read it with; Conn keeps a queue, as libwayland does, and
//     gives a descriptor only to an event whose signature carries one.
//   - Objects the server creates (new_id in an event, such as a foreign toplevel handle): the
//     Context cannot register a server-chosen id, so Conn keeps them in a table of its own.
//
// # One goroutine
//
// A client.Context is not safe for concurrent use, so exactly one goroutine touches it: the
// one that called Connect, until it calls Run, and from then on Run's. Other goroutines hand
// work to it with Do and Post. A second goroutine only reads raw messages off the socket and
// never looks at the object table.
package wayland

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rajveermalviya/go-wayland/wayland/client"
	"golang.org/x/sys/unix"
)

// ID is anything with a protocol object id: a go-wayland proxy or a generated one.
type ID interface{ ID() uint32 }

// Proxy is embedded in every object of the generated protocol packages.
type Proxy struct {
	client.BaseProxy
	conn *Conn
}

// Conn returns the connection the object belongs to.
func (p *Proxy) Conn() *Conn { return p.conn }

func (p *Proxy) proxy() *Proxy { return p }

// Object is a generated protocol object.
type Object interface {
	client.Proxy
	proxy() *Proxy
}

// EventDecoder is implemented by generated objects: DispatchEvent decodes and delivers one
// event and reports a malformed one; EventHasFD says whether an event carries a descriptor.
type EventDecoder interface {
	DispatchEvent(opcode uint32, fd int, data []byte) error
	EventHasFD(opcode uint32) bool
}

// ErrUnsupported is wrapped by BindGlobal when the compositor does not offer an interface.
var ErrUnsupported = errors.New("not offered by the compositor")

// Global is one global the compositor advertises.
type Global struct {
	Name      uint32
	Interface string
	Version   uint32
}

// maxQueuedFDs bounds descriptors waiting for their event.
const maxQueuedFDs = 28

// RoundtripTimeout bounds Roundtrip.
const RoundtripTimeout = 5 * time.Second

type message struct {
	sender, opcode uint32
	fd             int
	data           []byte
	err            error
}

// Conn is one connection to a compositor.
type Conn struct {
	ctx      *client.Context
	display  *client.Display
	registry *client.Registry
	logf     func(string, ...any)

	msgs  chan message
	calls chan func()
	done  chan struct{}

	// Owned by the loop goroutine.
	globals  []Global
	server   map[uint32]client.Proxy
	fds      []int
	onGlobal func(Global, bool) // added (true) or removed (false), after the initial roundtrip
	failed   error

	mu struct {
		sync.Mutex
		err    error
		closed bool
	}
}

// SocketPath returns the compositor socket named by WAYLAND_DISPLAY (absolute, or relative to
// XDG_RUNTIME_DIR; default wayland-0).
func SocketPath(getenv func(string) string) (string, error) {
	d := getenv("WAYLAND_DISPLAY")
	if d == "" {
		d = "wayland-0"
	}
	if filepath.IsAbs(d) {
		return d, nil
	}
	rt := getenv("XDG_RUNTIME_DIR")
	if rt == "" {
		return "", errors.New("wayland: XDG_RUNTIME_DIR is not set")
	}
	return filepath.Join(rt, d), nil
}

// Connect connects to the compositor at path, reads its globals (one roundtrip) and returns.
// The calling goroutine owns the connection until it calls Run.
func Connect(path string, logf func(string, ...any)) (*Conn, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("wayland: connect: %w", err)
	}
	display, err := client.Connect(path)
	if err != nil {
		return nil, fmt.Errorf("wayland: connect %s: %w", path, err)
	}
	c := &Conn{
		ctx:     display.Context(),
		display: display,
		logf:    logf,
		msgs:    make(chan message, 256),
		calls:   make(chan func(), 64),
		done:    make(chan struct{}),
		server:  map[uint32]client.Proxy{},
	}
	display.SetErrorHandler(func(e client.DisplayErrorEvent) {
		id := uint32(0)
		if e.ObjectId != nil {
			id = e.ObjectId.ID()
		}
		c.failed = fmt.Errorf("wayland: protocol error on object %d, code %d: %s", id, e.Code, e.Message)
	})
	display.SetDeleteIdHandler(func(e client.DisplayDeleteIdEvent) {
		if p := c.Lookup(e.Id); p != nil {
			c.Unregister(p)
		}
	})
	go c.read()
	reg, err := display.GetRegistry()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("wayland: get registry: %w", err)
	}
	c.registry = reg
	reg.SetGlobalHandler(func(e client.RegistryGlobalEvent) {
		g := Global{Name: e.Name, Interface: e.Interface, Version: e.Version}
		c.globals = append(c.globals, g)
		if c.onGlobal != nil {
			c.onGlobal(g, true)
		}
	})
	reg.SetGlobalRemoveHandler(func(e client.RegistryGlobalRemoveEvent) {
		for i, g := range c.globals {
			if g.Name == e.Name {
				c.globals = append(c.globals[:i], c.globals[i+1:]...)
				if c.onGlobal != nil {
					c.onGlobal(g, false)
				}
				break
			}
		}
	})
	if err := c.Roundtrip(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// read is the reader goroutine: raw messages only, no object table.
func (c *Conn) read() {
	for {
		sender, opcode, fd, data, err := c.ctx.ReadMsg()
		if err != nil {
			select {
			case c.msgs <- message{err: fmt.Errorf("wayland: connection lost: %w", err)}:
			case <-c.done:
			}
			return
		}
		select {
		case c.msgs <- message{sender: sender, opcode: opcode, fd: fd, data: data}:
		case <-c.done:
			if fd >= 0 {
				unix.Close(fd)
			}
			return
		}
	}
}

// Context is the go-wayland context, for creating core protocol objects
// (client.NewCompositor(c.Context()), …). Loop goroutine only.
func (c *Conn) Context() *client.Context { return c.ctx }

// Display is the wl_display.
func (c *Conn) Display() *client.Display { return c.display }

// Globals returns the globals advertised so far. Loop goroutine only.
func (c *Conn) Globals() []Global { return append([]Global(nil), c.globals...) }

// Find returns the globals implementing iface. Loop goroutine only.
func (c *Conn) Find(iface string) []Global {
	var out []Global
	for _, g := range c.globals {
		if g.Interface == iface {
			out = append(out, g)
		}
	}
	return out
}

// OnGlobal sets a function called for each global added or removed from now on.
func (c *Conn) OnGlobal(f func(g Global, added bool)) { c.onGlobal = f }

// Register gives a new client-created generated object an id.
func (c *Conn) Register(o Object) {
	c.ctx.Register(o)
	o.proxy().conn = c
}

// Adopt records an object the server created with id (a new_id in an event).
func (c *Conn) Adopt(id uint32, o Object) {
	o.SetID(id)
	o.SetContext(c.ctx)
	o.proxy().conn = c
	c.server[id] = o
}

// Unregister forgets an object (after its destructor, or when the server deleted it).
func (c *Conn) Unregister(p client.Proxy) {
	if c.server[p.ID()] == p {
		delete(c.server, p.ID())
		return
	}
	c.ctx.Unregister(p)
}

// Lookup returns the object with id, or nil.
func (c *Conn) Lookup(id uint32) client.Proxy {
	if id == 0 {
		return nil
	}
	if p, ok := c.server[id]; ok {
		return p
	}
	return c.ctx.GetProxy(id)
}

// Send writes one request.
func (c *Conn) Send(m *Message) error {
	b, fds, err := m.Bytes()
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := c.ctx.WriteMsg(b, oob); err != nil {
		return fmt.Errorf("wayland: send: %w", err)
	}
	return nil
}

// BindMessage encodes wl_registry.bind(name, interface, version, id) on the registry
// object registry: new_id without a fixed interface goes on the wire as the interface name
// (a string), the version and the id.
func BindMessage(registry, name uint32, iface string, version, id uint32) *Message {
	return NewMessage(registry, 0).Uint(name).String(iface).Uint(version).Uint(id)
}

// Bind binds the global name as iface at version to p, which must already have its id (made
// with client.NewXxx(c.Context()) or a generated NewXxx(c)). It replaces go-wayland's
// Registry.Bind, whose string encoding is wrong.
func (c *Conn) Bind(name uint32, iface string, version uint32, p client.Proxy) error {
	return c.Send(BindMessage(c.registry.ID(), name, iface, version, p.ID()))
}

// BindGlobal binds the first global implementing iface at min(version, advertised), and
// returns the version bound. It fails when the compositor does not offer iface.
func (c *Conn) BindGlobal(iface string, version uint32, p client.Proxy) (uint32, error) {
	gs := c.Find(iface)
	if len(gs) == 0 {
		return 0, fmt.Errorf("wayland: %s: %w", iface, ErrUnsupported)
	}
	v := min(version, gs[0].Version)
	return v, c.Bind(gs[0].Name, iface, v, p)
}

// Roundtrip sends wl_display.sync and dispatches events until its callback is done: every
// request sent before has been handled and its events delivered. Loop goroutine only.
func (c *Conn) Roundtrip() error {
	cb, err := c.display.Sync()
	if err != nil {
		return fmt.Errorf("wayland: sync: %w", err)
	}
	done := false
	cb.SetDoneHandler(func(client.CallbackDoneEvent) { done = true })
	t := time.NewTimer(RoundtripTimeout)
	defer t.Stop()
	for !done {
		select {
		case m := <-c.msgs:
			if err := c.dispatch(m); err != nil {
				return err
			}
		case <-t.C:
			return errors.New("wayland: the compositor did not answer a roundtrip in time")
		case <-c.done:
			return c.Err()
		}
	}
	return nil
}

// dispatch delivers one message. It returns an error only when the connection is over.
func (c *Conn) dispatch(m message) error {
	if m.err != nil {
		c.fail(m.err)
		return m.err
	}
	if m.fd >= 0 {
		c.fds = append(c.fds, m.fd)
		if len(c.fds) > maxQueuedFDs {
			unix.Close(c.fds[0])
			c.fds = c.fds[1:]
		}
	}
	p := c.Lookup(m.sender)
	if p == nil {
		// An event for an object already destroyed on our side: dropped, as libwayland does.
		return nil
	}
	fd := -1
	if eventHasFD(p, m.opcode) && len(c.fds) > 0 {
		fd, c.fds = c.fds[0], c.fds[1:]
	}
	if err := c.deliver(p, m.opcode, fd, m.data); err != nil {
		c.logf("wayland: event %d for object %d: %v", m.opcode, m.sender, err)
	}
	if c.failed != nil {
		c.fail(c.failed)
		return c.failed
	}
	return nil
}

// eventHasFD knows which events carry a descriptor: from the generated table, and for the
// core objects sesame uses, wl_keyboard.keymap and wl_data_source.send.
func eventHasFD(p client.Proxy, opcode uint32) bool {
	switch v := p.(type) {
	case EventDecoder:
		return v.EventHasFD(opcode)
	case *client.Keyboard:
		return opcode == 0
	case *client.DataSource:
		return opcode == 1
	}
	return false
}

// deliver calls the object's dispatcher. go-wayland's decoders index the body without
// checking its length and assert types of objects that may be absent: a malformed or
// unexpected event would panic, so that is turned into an error.
func (c *Conn) deliver(p client.Proxy, opcode uint32, fd int, data []byte) (err error) {
	if d, ok := p.(EventDecoder); ok {
		return d.DispatchEvent(opcode, fd, data)
	}
	d, ok := p.(client.Dispatcher)
	if !ok {
		if fd >= 0 {
			unix.Close(fd)
		}
		return fmt.Errorf("object %d (%T) takes no events", p.ID(), p)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %T: %v", ErrMalformed, p, r)
		}
	}()
	d.Dispatch(opcode, fd, data)
	return nil
}

// Run is the event loop: it dispatches events and runs functions handed over with Do and
// Post, until ctx ends or the connection fails. It closes the connection when it returns.
func (c *Conn) Run(ctx context.Context) error {
	defer func() {
		c.Close()
		for _, fd := range c.fds {
			unix.Close(fd)
		}
		c.fds = nil
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-c.msgs:
			if err := c.dispatch(m); err != nil {
				return err
			}
		case f := <-c.calls:
			f()
			if c.failed != nil {
				c.fail(c.failed)
				return c.failed
			}
		}
	}
}

// Post runs f on the loop goroutine, later. It reports false when the connection is closed.
func (c *Conn) Post(f func()) bool {
	select {
	case c.calls <- f:
		return true
	case <-c.done:
		return false
	}
}

// Do runs f on the loop goroutine and waits for it. Never call it from the loop goroutine.
func (c *Conn) Do(f func() error) error {
	errc := make(chan error, 1)
	if !c.Post(func() { errc <- f() }) {
		return c.closedErr()
	}
	select {
	case err := <-errc:
		return err
	case <-c.done:
		select {
		case err := <-errc:
			return err
		default:
			return c.closedErr()
		}
	}
}

func (c *Conn) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return errors.New("wayland: connection closed")
}

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection ended.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.err
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.mu.err == nil {
		c.mu.err = err
	}
	c.mu.Unlock()
	c.Close()
}

// Close closes the connection. Safe from any goroutine, more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return nil
	}
	c.mu.closed = true
	close(c.done)
	return c.ctx.Close()
}
