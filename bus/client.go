package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Handler serves a request routed to a role. It returns the reply body (a []byte is sent
// as is, anything else is msgpack-encoded) or an error (an *Error keeps its code; any other
// error becomes CodeInternal). req.Caller says who asked, as the hub established it.
type Handler func(ctx context.Context, req *Envelope) (body any, err error)

// DialConfig configures Dial.
type DialConfig struct {
	// Static is a role's static key. Nil means an anonymous client with a fresh key.
	Static *Keypair
	// Seal is the key a role announces for sealed bodies; required with Static.
	Seal *Keypair
	// Handler serves requests routed to this connection (roles only).
	Handler Handler
	// Logf receives diagnostics; nil discards them.
	Logf func(format string, args ...any)
}

// Client is one connection to the hub: a CLI invocation's, or a role's.
//
// Call may be used from many goroutines. Requests routed to a role are served by
// DialConfig.Handler, each in its own goroutine.
type Client struct {
	c      *conn
	static *Keypair
	own    bool // static was made by Dial, and is destroyed by Close
	hello  HubHello
	cfg    DialConfig
	logf   func(string, ...any)
	done   chan struct{}

	// Writes happen in the caller's goroutine, under wmu. waiting counts writers that want
	// wmu; the last one of a burst flushes, so concurrent writers share one syscall without
	// a hand-off to a writer goroutine.
	wmu     sync.Mutex
	waiting atomic.Int32

	ctx    context.Context // handlers' context, cancelled on Close
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		pending map[uint64]chan *Envelope
		nextID  uint64
		err     error // why the connection ended
	}
	closeOnce sync.Once
}

// ErrClosed is returned by Call after the connection ended.
var ErrClosed = errors.New("bus: connection to the hub closed")

// Dial connects to the hub listening at path, whose static public key is hub.
func Dial(ctx context.Context, path string, hub PublicKey, cfg DialConfig) (*Client, error) {
	static, own := cfg.Static, false
	if static == nil {
		kp, err := GenerateKeypair()
		if err != nil {
			return nil, err
		}
		static, own = kp, true
		defer func() {
			if own {
				kp.Destroy()
			}
		}()
	} else if cfg.Seal == nil {
		return nil, errors.New("bus: dial: a role needs a seal key")
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("bus: dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	c, payload, err := clientHandshake(nc, static, hub)
	if err != nil {
		nc.Close()
		return nil, err
	}
	var hello HubHello
	if err := msgpack.Unmarshal(payload, &hello); err != nil || hello.V != Version {
		nc.Close()
		return nil, fmt.Errorf("bus: dial: unexpected hub hello (version %d, %v)", hello.V, err)
	}
	if cfg.Static != nil {
		if hello.Role == "" {
			nc.Close()
			return nil, errors.New("bus: dial: the hub does not know this role's key")
		}
		b, _ := msgpack.Marshal(&roleHello{Seal: cfg.Seal.Public})
		err := c.writeMsg(b)
		if err == nil {
			err = c.flush()
		}
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("bus: dial: announce: %w", err)
		}
	}
	nc.SetDeadline(time.Time{})
	cl := &Client{
		c:      c,
		static: static,
		own:    own,
		hello:  hello,
		cfg:    cfg,
		logf:   cfg.Logf,
		done:   make(chan struct{}),
	}
	if cl.logf == nil {
		cl.logf = func(string, ...any) {}
	}
	own = false // the Client destroys it now
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	cl.mu.pending = make(map[uint64]chan *Envelope)
	go cl.readLoop()
	if cfg.Static != nil {
		// The hub registers a role (and its seal key) before it reads the role's next message:
		// once a ping is answered, clients that connect see this role.
		if _, err := cl.CallRaw(ctx, KindPing, "", nil); err != nil {
			cl.Close()
			return nil, fmt.Errorf("bus: dial: %w", err)
		}
	}
	return cl, nil
}

// Key returns this connection's static key pair. An anonymous client's key is fresh for this
// connection and may be used as the reply key of sealed requests (it lives in secure memory
// until Close, so Close only after the last Open with it), which spares a key generation per
// request.
func (cl *Client) Key() *Keypair { return cl.static }

// Role is the role the hub recognised this connection as ("" for a client).
func (cl *Client) Role() string { return cl.hello.Role }

// SealKey returns the seal key a running role announced, as of the handshake.
func (cl *Client) SealKey(role string) (PublicKey, bool) {
	k, ok := cl.hello.Seal[role]
	return k, ok && !k.IsZero()
}

// Done is closed when the connection ends.
func (cl *Client) Done() <-chan struct{} { return cl.done }

// Err says why the connection ended (nil while it is up).
func (cl *Client) Err() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.mu.err
}

// Close ends the connection. Calls in progress fail with ErrClosed.
func (cl *Client) Close() error {
	cl.shutdown(ErrClosed)
	return nil
}

func (cl *Client) shutdown(why error) {
	cl.closeOnce.Do(func() {
		cl.mu.Lock()
		cl.mu.err = why
		cl.mu.Unlock()
		close(cl.done)
		cl.cancel()
		cl.c.nc.Close()
		if cl.own {
			// Calls still waiting for a sealed reply fail with ErrClosed before they could
			// open it: nothing uses the key after this.
			cl.static.Destroy()
		}
	})
}

// Call sends a request and waits for its reply. req may be nil, a []byte (sent as the body
// verbatim) or a value to msgpack-encode; the reply body is decoded into resp unless resp is
// nil. A reply carrying an error returns it as an *Error.
func (cl *Client) Call(ctx context.Context, kind, profile string, req, resp any) error {
	body, err := cl.CallRaw(ctx, kind, profile, req)
	if err != nil {
		return err
	}
	if resp != nil {
		if err := msgpack.Unmarshal(body, resp); err != nil {
			return fmt.Errorf("bus: %s: malformed reply: %v", kind, err)
		}
	}
	return nil
}

// CallRaw is Call returning the raw reply body.
func (cl *Client) CallRaw(ctx context.Context, kind, profile string, req any) ([]byte, error) {
	var body []byte
	switch b := req.(type) {
	case nil:
	case []byte:
		body = b
	default:
		enc, err := msgpack.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("bus: %s: encode request: %v", kind, err)
		}
		body = enc
	}
	ch := make(chan *Envelope, 1)
	cl.mu.Lock()
	if cl.mu.err != nil {
		err := cl.mu.err
		cl.mu.Unlock()
		return nil, err
	}
	cl.mu.nextID++
	id := cl.mu.nextID
	cl.mu.pending[id] = ch
	cl.mu.Unlock()
	defer func() {
		cl.mu.Lock()
		delete(cl.mu.pending, id)
		cl.mu.Unlock()
	}()
	if err := cl.send(&Envelope{V: Version, ID: id, Kind: kind, Profile: profile, Body: body}); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Body, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("bus: %s: %w", kind, ctx.Err())
	case <-cl.done:
		return nil, cl.Err()
	}
}

func (cl *Client) readLoop() {
	for {
		b, err := cl.c.readMsg()
		if err != nil {
			if isClosed(err) {
				err = ErrClosed
			}
			cl.shutdown(err)
			return
		}
		e, err := UnmarshalEnvelope(b)
		if err != nil {
			cl.shutdown(err)
			return
		}
		if e.ReplyTo != 0 {
			cl.mu.Lock()
			ch := cl.mu.pending[e.ReplyTo]
			cl.mu.Unlock()
			if ch != nil {
				ch <- e // buffered 1; each id gets one reply
			}
			continue
		}
		if e.V != Version {
			cl.send(errorReply(e.ID, Errorf(CodeVersion, "bus: envelope version %d is not spoken here (want %d)", e.V, Version)))
			continue
		}
		if cl.cfg.Handler == nil {
			cl.send(errorReply(e.ID, Errorf(CodeDenied, "bus: this connection serves nothing")))
			continue
		}
		go func() {
			body, err := cl.cfg.Handler(cl.ctx, e)
			cl.send(replyFor(e.ID, body, err))
		}()
	}
}

// send writes e to the hub. A write error ends the connection.
func (cl *Client) send(e *Envelope) error {
	b, err := MarshalEnvelope(e)
	if err != nil {
		return fmt.Errorf("bus: encode: %w", err)
	}
	cl.waiting.Add(1)
	cl.wmu.Lock()
	defer cl.wmu.Unlock()
	err = cl.c.writeMsg(b)
	if cl.waiting.Add(-1) == 0 && err == nil {
		err = cl.c.flush()
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		cl.shutdown(fmt.Errorf("bus: write: %w", err))
		return cl.Err()
	}
	return nil
}
