package bus

//lint:file-ignore U1000 the _msgpack fields carry msgpack's as_array tag; the library reads them

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

// HubConfig configures a Hub. Static and Roles are required.
type HubConfig struct {
	// Static is the hub's own key; clients know its public half (bus.pub).
	Static *Keypair
	// Roles maps each daemon role's name to its static public key. A connection with one of
	// these keys is that role; any other key is an anonymous client.
	Roles map[string]PublicKey
	// Local serves the kinds of the "hub" service in-process (e.g. "hub.status").
	Local map[string]LocalHandler
	// Logf receives diagnostics. It must be safe for concurrent use. Nil discards them.
	Logf func(format string, args ...any)
	// UID is the only peer uid admitted. Zero value: the hub's own uid (see AnyUID).
	UID int

	RequestTimeout time.Duration // a routed request fails with CodeTimeout after this; default 30 s
	QueueLen       int           // messages queued to one peer before it is dropped as too slow; default 1024
	MaxInFlight    int           // requests one connection may have outstanding; default 128, well under QueueLen, so one client cannot fill a role's queue
	MaxPending     int           // requests outstanding in the whole hub; default 65536
	MaxConns       int           // connections at once; default 512
	WriteTimeout   time.Duration // a peer that accepts nothing for this long is dropped; default 5 s
}

// LocalHandler answers a request addressed to the hub itself.
type LocalHandler func(ctx context.Context, from *Caller, req *Envelope) (body any, err error)

// HubHello is the responder's payload in the Noise handshake.
type HubHello struct {
	_msgpack struct{} `msgpack:",as_array"`

	V    uint8
	Role string               // the role this connection was recognised as, "" for a client
	Seal map[string]PublicKey // each running role's seal key, for end-to-end sealed bodies
}

// roleHello is a role's payload in the first handshake message.
type roleHello struct {
	_msgpack struct{} `msgpack:",as_array"`

	Seal PublicKey
}

// Hub routes requests between clients and roles. Create it with NewHub and run Serve.
//
// Rules it enforces:
//   - a peer whose uid (SO_PEERCRED) differs is closed before the handshake;
//   - a connection is a role only if it proved a role's static key in the handshake;
//   - requests go to the one role named by the kind's service ("secrets.get" → secrets);
//   - a reply is accepted only from the connection the request was routed to, and goes only to
//     the connection that asked; every other reply is dropped;
//   - queues, in-flight counts, the pending table and the number of connections are bounded;
//     a peer that does not keep up is disconnected, never waited for.
type Hub struct {
	cfg    HubConfig
	byKey  map[PublicKey]string
	logf   func(string, ...any)
	nconns atomic.Int32
	self   Caller // what a role sees of the hub's own requests (Call)

	mu struct {
		sync.Mutex
		conns   map[*hubConn]struct{}
		roles   map[string]*hubConn // connected roles by name
		seal    map[string]PublicKey
		pending map[uint64]*pending
		nextID  uint64
	}
}

type pending struct {
	from     *hubConn // nil for the hub's own request (Call)
	local    chan *Envelope
	origID   uint64
	to       *hubConn
	kind     string
	deadline time.Time
}

// finish hands the reply (or error) of a routed request to whoever asked.
func (p *pending) finish(e *Envelope) {
	if p.from == nil {
		p.local <- e // buffered: one reply per request
		return
	}
	p.from.inflight.Add(-1)
	p.from.send(e)
}

// NewHub checks cfg and returns a hub ready to Serve.
func NewHub(cfg HubConfig) (*Hub, error) {
	if cfg.Static == nil {
		return nil, errors.New("bus: hub: no static key")
	}
	h := &Hub{cfg: cfg, byKey: make(map[PublicKey]string)}
	for name, k := range cfg.Roles {
		if !validWord(name) || name == "hub" {
			return nil, fmt.Errorf("bus: hub: invalid role name %q", name)
		}
		if k.Equal(cfg.Static.Public) {
			return nil, fmt.Errorf("bus: hub: role %q has the hub's key", name)
		}
		if other, dup := h.byKey[k]; dup {
			return nil, fmt.Errorf("bus: hub: roles %q and %q share a key", other, name)
		}
		h.byKey[k] = name
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defi := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	def(&h.cfg.RequestTimeout, 30*time.Second)
	def(&h.cfg.WriteTimeout, 5*time.Second)
	defi(&h.cfg.QueueLen, 1024)
	defi(&h.cfg.MaxInFlight, 128)
	defi(&h.cfg.MaxPending, 65536)
	defi(&h.cfg.MaxConns, 512)
	if h.cfg.UID == 0 {
		h.cfg.UID = os.Getuid()
	}
	if h.cfg.UID == AnyUID {
		h.cfg.UID = -1
	}
	// Made now, before a sandbox may forbid getuid.
	h.self = Caller{Role: HubCaller, PID: int32(os.Getpid()), UID: uint32(os.Getuid())}
	h.logf = cfg.Logf
	if h.logf == nil {
		h.logf = func(string, ...any) {}
	}
	h.mu.conns = make(map[*hubConn]struct{})
	h.mu.roles = make(map[string]*hubConn)
	h.mu.seal = make(map[string]PublicKey)
	h.mu.pending = make(map[uint64]*pending)
	return h, nil
}

// KindPing is answered by every hub itself, after the connection is registered.
const KindPing = "hub.ping"

// AnyUID as HubConfig.UID disables the uid check. Only tests use it.
const AnyUID = -2

// RoleState describes one role as the hub sees it.
type RoleState struct {
	_msgpack struct{} `msgpack:",as_array"`

	Name    string
	Running bool
	PID     int32
	Since   time.Time // when the process started (from /proc), zero if not running
}

// Roles reports every configured role, sorted by name.
func (h *Hub) Roles() []RoleState {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []RoleState
	for name := range h.cfg.Roles {
		rs := RoleState{Name: name}
		if hc := h.mu.roles[name]; hc != nil {
			rs.Running, rs.PID, rs.Since = true, hc.caller.PID, hc.started
		}
		out = append(out, rs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Serve accepts connections on ln until ctx is done, then closes ln and every connection.
func (h *Hub) Serve(ctx context.Context, ln *net.UnixListener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	go h.janitor(ctx)
	defer h.closeAll()
	for {
		nc, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				h.logf("bus: accept: %v", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("bus: accept: %w", err)
		}
		go h.accept(ctx, nc)
	}
}

func (h *Hub) accept(ctx context.Context, nc *net.UnixConn) {
	cred, err := peerCred(nc)
	if err != nil {
		h.logf("bus: reject connection: %v", err)
		nc.Close()
		return
	}
	if h.cfg.UID >= 0 && int(cred.Uid) != h.cfg.UID {
		h.logf("bus: reject connection from pid %d: uid %d is not %d", cred.Pid, cred.Uid, h.cfg.UID)
		nc.Close()
		return
	}
	if int(h.nconns.Add(1)) > h.cfg.MaxConns {
		h.nconns.Add(-1)
		h.logf("bus: reject connection from pid %d: too many connections", cred.Pid)
		nc.Close()
		return
	}
	hc := &hubConn{
		h:    h,
		out:  make(chan *Envelope, h.cfg.QueueLen),
		done: make(chan struct{}),
		caller: Caller{
			PID: cred.Pid,
			UID: cred.Uid,
			Exe: exeOf(cred.Pid),
		},
		started: processStart(cred.Pid),
	}
	var hello roleHello
	c, err := serverHandshake(nc, h.cfg.Static, func(peer PublicKey) ([]byte, error) {
		hc.role = h.byKey[peer]
		hc.caller.Role = hc.role
		return h.hello(hc.role), nil
	})
	if err != nil {
		h.logf("bus: handshake with pid %d: %v", cred.Pid, err)
		nc.Close()
		h.nconns.Add(-1)
		return
	}
	hc.c = c
	if hc.role != "" {
		// A role announces its seal key as its first message (sealed by Noise like any other).
		b, err := c.readMsg()
		if err == nil {
			err = msgpack.Unmarshal(b, &hello)
		}
		if err != nil {
			h.logf("bus: role %s (pid %d) sent no announcement: %v", hc.role, cred.Pid, err)
			nc.Close()
			h.nconns.Add(-1)
			return
		}
	}
	h.register(hc, hello.Seal)
	go hc.writeLoop()
	hc.readLoop(ctx)
}

func (h *Hub) hello(role string) []byte {
	h.mu.Lock()
	seal := make(map[string]PublicKey, len(h.mu.seal))
	for k, v := range h.mu.seal {
		seal[k] = v
	}
	h.mu.Unlock()
	b, _ := msgpack.Marshal(&HubHello{V: Version, Role: role, Seal: seal})
	return b
}

func (h *Hub) register(hc *hubConn, seal PublicKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.conns[hc] = struct{}{}
	if hc.role == "" {
		return
	}
	if old := h.mu.roles[hc.role]; old != nil {
		// The role restarted before we noticed its old connection die; the newest proof of
		// the key wins.
		h.logf("bus: role %s reconnected (pid %d replaces pid %d)", hc.role, hc.caller.PID, old.caller.PID)
		go old.close()
	}
	h.mu.roles[hc.role] = hc
	h.mu.seal[hc.role] = seal
	h.logf("bus: role %s connected (pid %d)", hc.role, hc.caller.PID)
}

func (h *Hub) unregister(hc *hubConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.mu.conns[hc]; !ok {
		return
	}
	delete(h.mu.conns, hc)
	h.nconns.Add(-1)
	if hc.role != "" && h.mu.roles[hc.role] == hc {
		delete(h.mu.roles, hc.role)
		delete(h.mu.seal, hc.role)
		h.logf("bus: role %s disconnected (pid %d)", hc.role, hc.caller.PID)
	}
	for id, p := range h.mu.pending {
		switch {
		case p.from == hc:
			delete(h.mu.pending, id)
		case p.to == hc:
			delete(h.mu.pending, id)
			p.finish(errorReply(p.origID, Errorf(CodeUnavailable, "the %s role stopped before answering", hc.role)))
		}
	}
}

func (h *Hub) closeAll() {
	h.mu.Lock()
	conns := make([]*hubConn, 0, len(h.mu.conns))
	for hc := range h.mu.conns {
		conns = append(conns, hc)
	}
	h.mu.Unlock()
	for _, hc := range conns {
		hc.close()
	}
}

// janitor fails requests whose deadline passed.
func (h *Hub) janitor(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.mu.Lock()
			for id, p := range h.mu.pending {
				if now.After(p.deadline) {
					delete(h.mu.pending, id)
					p.finish(errorReply(p.origID, Errorf(CodeTimeout, "%s: no answer from the %s role within %v", p.kind, Service(p.kind), h.cfg.RequestTimeout)))
				}
			}
			h.mu.Unlock()
		}
	}
}

// PendingForTest reports the size of the pending table.
func (h *Hub) PendingForTest() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.mu.pending)
}

func errorReply(replyTo uint64, err *Error) *Envelope {
	return &Envelope{V: Version, ReplyTo: replyTo, Err: err}
}

// hubConn is one accepted connection.
//
// Goroutines: readLoop (the accept goroutine) reads and routes; writeLoop drains out. out is
// written by any goroutine through send, which never blocks: a full queue closes the peer.
type hubConn struct {
	h        *Hub
	c        *conn
	role     string
	caller   Caller
	started  time.Time
	inflight atomic.Int32

	out       chan *Envelope
	done      chan struct{}
	closeOnce sync.Once
}

func (hc *hubConn) name() string {
	if hc.role != "" {
		return fmt.Sprintf("role %s (pid %d)", hc.role, hc.caller.PID)
	}
	return fmt.Sprintf("client pid %d", hc.caller.PID)
}

func (hc *hubConn) close() {
	hc.closeOnce.Do(func() {
		close(hc.done)
		hc.c.nc.Close()
		hc.h.unregister(hc)
	})
}

// trySend queues e for the peer without blocking. Requests use it: a busy role makes the
// request fail (CodeBusy), it does not get the role disconnected. It returns errBusy when the
// queue is full and errGone when the connection is closing.
func (hc *hubConn) trySend(e *Envelope) error {
	select {
	case <-hc.done:
		return errGone
	default:
	}
	select {
	case hc.out <- e:
		return nil
	default:
		return errBusy
	}
}

var (
	errBusy = errors.New("queue full")
	errGone = errors.New("connection closing")
)

// send queues e for the peer without blocking. Replies use it: a peer that lets its replies
// pile up is not reading, and is disconnected.
func (hc *hubConn) send(e *Envelope) {
	select {
	case <-hc.done:
		return
	default:
	}
	select {
	case hc.out <- e:
	default:
		hc.h.logf("bus: dropping %s: %d messages queued and not read", hc.name(), cap(hc.out))
		go hc.close()
	}
}

func (hc *hubConn) writeLoop() {
	defer hc.close()
	for {
		select {
		case <-hc.done:
			return
		case e := <-hc.out:
			if !hc.write(e) {
				return
			}
			// Drain what else is queued before one flush: many messages, one syscall.
			for n := len(hc.out); n > 0; n-- {
				if !hc.write(<-hc.out) {
					return
				}
			}
			hc.c.nc.SetWriteDeadline(time.Now().Add(hc.h.cfg.WriteTimeout))
			if err := hc.c.flush(); err != nil {
				hc.h.logf("bus: write to %s: %v", hc.name(), err)
				return
			}
		}
	}
}

func (hc *hubConn) write(e *Envelope) bool {
	b, err := MarshalEnvelope(e)
	if err == nil {
		err = hc.c.writeMsg(b)
	}
	if err != nil {
		hc.h.logf("bus: write to %s: %v", hc.name(), err)
		return false
	}
	return true
}

func (hc *hubConn) readLoop(ctx context.Context) {
	defer hc.close()
	for {
		b, err := hc.c.readMsg()
		if err != nil {
			if !isClosed(err) {
				hc.h.logf("bus: read from %s: %v", hc.name(), err)
			}
			return
		}
		e, err := UnmarshalEnvelope(b)
		if err != nil {
			// Garbage inside a valid Noise frame: the peer is broken or hostile.
			hc.h.logf("bus: %s: %v; closing", hc.name(), err)
			return
		}
		hc.h.route(ctx, hc, e)
	}
}

func (h *Hub) route(ctx context.Context, from *hubConn, e *Envelope) {
	if e.V != Version {
		if e.ID != 0 {
			from.send(errorReply(e.ID, Errorf(CodeVersion, "bus: envelope version %d is not spoken here (want %d)", e.V, Version)))
		}
		return
	}
	if e.ReplyTo != 0 {
		h.routeReply(from, e)
		return
	}
	svc := Service(e.Kind)
	if e.Kind == KindPing {
		from.send(&Envelope{V: Version, ReplyTo: e.ID})
		return
	}
	if svc == "hub" {
		h.serveLocal(ctx, from, e)
		return
	}
	if _, ok := h.cfg.Roles[svc]; !ok {
		from.send(errorReply(e.ID, Errorf(CodeUnknownKind, "bus: no role serves %q", e.Kind)))
		return
	}
	if int(from.inflight.Load()) >= h.cfg.MaxInFlight {
		from.send(errorReply(e.ID, Errorf(CodeBusy, "bus: %d requests already in flight on this connection", h.cfg.MaxInFlight)))
		return
	}
	h.mu.Lock()
	to := h.mu.roles[svc]
	if to == nil {
		h.mu.Unlock()
		from.send(errorReply(e.ID, Errorf(CodeUnavailable, "the %s role is not running", svc)))
		return
	}
	if len(h.mu.pending) >= h.cfg.MaxPending {
		h.mu.Unlock()
		from.send(errorReply(e.ID, Errorf(CodeBusy, "bus: hub has %d requests in flight", h.cfg.MaxPending)))
		return
	}
	h.mu.nextID++
	id := h.mu.nextID
	h.mu.pending[id] = &pending{from: from, origID: e.ID, to: to, kind: e.Kind, deadline: time.Now().Add(h.cfg.RequestTimeout)}
	h.mu.Unlock()
	from.inflight.Add(1)
	caller := from.caller
	fwd := *e
	fwd.ID = id
	fwd.Caller = &caller
	if err := to.trySend(&fwd); err != nil {
		h.mu.Lock()
		_, still := h.mu.pending[id]
		delete(h.mu.pending, id)
		h.mu.Unlock()
		if still {
			from.inflight.Add(-1)
			if err == errGone {
				from.send(errorReply(e.ID, Errorf(CodeUnavailable, "the %s role stopped", svc)))
			} else {
				from.send(errorReply(e.ID, Errorf(CodeBusy, "the %s role has %d requests queued", svc, cap(to.out))))
			}
		}
	}
}

func (h *Hub) routeReply(from *hubConn, e *Envelope) {
	h.mu.Lock()
	p := h.mu.pending[e.ReplyTo]
	if p == nil || p.to != from {
		h.mu.Unlock()
		h.logf("bus: dropped a reply from %s to a request it was not sent", from.name())
		return
	}
	delete(h.mu.pending, e.ReplyTo)
	h.mu.Unlock()
	back := *e
	back.ReplyTo = p.origID
	back.Caller = nil
	p.finish(&back)
}

// HubCaller is the Caller.Role of requests the hub itself sends (Call). No role can have
// this name, so a role can tell the hub's own requests from any other peer's.
const HubCaller = "hub"

// Call sends a request from the hub itself to role, which must be the service of kind, and
// waits for the reply body. The role sees Caller.Role == HubCaller. It fails with
// CodeUnavailable when the role is not connected or stops before answering, CodeBusy when
// its queue is full, and CodeTimeout after RequestTimeout; ctx ending abandons the wait.
func (h *Hub) Call(ctx context.Context, role, kind, profile string, body any) ([]byte, error) {
	if !validKind(kind) || Service(kind) != role {
		return nil, fmt.Errorf("bus: hub call: kind %q is not served by role %q", kind, role)
	}
	if _, ok := h.cfg.Roles[role]; !ok {
		return nil, Errorf(CodeUnknownKind, "bus: no role serves %q", kind)
	}
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		enc, err := msgpack.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("bus: hub call %s: encode: %v", kind, err)
		}
		raw = enc
	}
	local := make(chan *Envelope, 1)
	h.mu.Lock()
	to := h.mu.roles[role]
	if to == nil {
		h.mu.Unlock()
		return nil, Errorf(CodeUnavailable, "the %s role is not running", role)
	}
	if len(h.mu.pending) >= h.cfg.MaxPending {
		h.mu.Unlock()
		return nil, Errorf(CodeBusy, "bus: hub has %d requests in flight", h.cfg.MaxPending)
	}
	h.mu.nextID++
	id := h.mu.nextID
	h.mu.pending[id] = &pending{local: local, to: to, kind: kind, deadline: time.Now().Add(h.cfg.RequestTimeout)}
	h.mu.Unlock()
	drop := func() {
		h.mu.Lock()
		delete(h.mu.pending, id)
		h.mu.Unlock()
	}
	caller := h.self
	if err := to.trySend(&Envelope{V: Version, ID: id, Kind: kind, Profile: profile, Caller: &caller, Body: raw}); err != nil {
		drop()
		if err == errGone {
			return nil, Errorf(CodeUnavailable, "the %s role stopped", role)
		}
		return nil, Errorf(CodeBusy, "the %s role has %d requests queued", role, cap(to.out))
	}
	select {
	case r := <-local:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Body, nil
	case <-ctx.Done():
		// The entry stays until the reply or the deadline, so a late reply is taken (into
		// the buffered channel nobody reads) rather than logged as a stray.
		return nil, fmt.Errorf("bus: %s: %w", kind, ctx.Err())
	}
}

func (h *Hub) serveLocal(ctx context.Context, from *hubConn, e *Envelope) {
	fn := h.cfg.Local[e.Kind]
	if fn == nil {
		from.send(errorReply(e.ID, Errorf(CodeUnknownKind, "bus: the hub does not serve %q", e.Kind)))
		return
	}
	caller := from.caller
	go func() {
		body, err := fn(ctx, &caller, e)
		from.send(replyFor(e.ID, body, err))
	}()
}

// replyFor builds the reply envelope for a handler's result.
func replyFor(id uint64, body any, err error) *Envelope {
	if err != nil {
		var be *Error
		if !errors.As(err, &be) {
			be = Errorf(CodeInternal, "%v", err)
		}
		return errorReply(id, be)
	}
	r := &Envelope{V: Version, ReplyTo: id}
	switch b := body.(type) {
	case nil:
	case []byte:
		r.Body = b
	default:
		enc, merr := msgpack.Marshal(b)
		if merr != nil {
			return errorReply(id, Errorf(CodeInternal, "bus: encode reply: %v", merr))
		}
		r.Body = enc
	}
	return r
}
