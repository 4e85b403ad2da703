package bus

//lint:file-ignore U1000 the _msgpack fields carry msgpack's as_array tag; the library reads them

import (
	"errors"
	"fmt"
	"strings"
)

// Version is the envelope version this code speaks. A message with any other version is
// answered with a CodeVersion error and otherwise ignored.
const Version = 1

// Envelope is one bus message, encoded as a msgpack array (fields are positional: only ever
// append new fields at the end).
//
// A request has ID != 0 and ReplyTo == 0; a reply has ReplyTo set to the request's ID (as the
// receiver of that request saw it) and carries either Body or Err. IDs are chosen by the
// sender and are meaningful only on one connection: the hub renumbers requests it routes, so a
// role never learns a client's IDs and a client cannot address a reply it did not receive.
type Envelope struct {
	_msgpack struct{} `msgpack:",as_array"`

	V       uint8
	ID      uint64
	ReplyTo uint64
	Kind    string
	Profile string
	// Caller is set by the hub on every request it routes, from what the kernel and the Noise
	// handshake told it about the sender. Whatever a sender puts here is overwritten.
	Caller *Caller
	Err    *Error
	// Body is the kind-specific payload, itself msgpack. Secret-bearing bodies are sealed
	// end to end (see Seal) so the hub forwards only ciphertext.
	Body []byte
}

// Caller identifies the sender of a routed request.
type Caller struct {
	_msgpack struct{} `msgpack:",as_array"`

	Role string // "" for an anonymous client (the CLI)
	PID  int32
	UID  uint32
	Exe  string // /proc/PID/exe at connect time, "" if unreadable
}

func (c *Caller) String() string {
	if c == nil {
		return "unknown caller"
	}
	who := c.Role
	if who == "" {
		who = "client"
	}
	return fmt.Sprintf("%s pid %d uid %d exe %q", who, c.PID, c.UID, c.Exe)
}

// Error codes carried on the wire. They are stable strings so that older and newer binaries
// agree on them.
const (
	CodeBadRequest  = "bad-request"  // malformed body, invalid name
	CodeUnknownKind = "unknown-kind" // no role serves this kind
	CodeVersion     = "version"      // envelope version not spoken
	CodeUnavailable = "unavailable"  // the serving role is not running
	CodeDenied      = "denied"       // the sender may not do this
	CodeBusy        = "busy"         // too many requests in flight
	CodeTimeout     = "timeout"      // no reply in time
	CodeLocked      = "locked"       // the profile's vault is locked
	CodeNotFound    = "not-found"    // unknown secret
	CodeNoProfile   = "no-profile"   // unknown profile
	CodeExists      = "exists"       // refusing to overwrite
	CodeBadFactor   = "bad-factor"   // wrong password or key
	CodeThrottled   = "throttled"    // too many failed attempts: wait
	CodeInternal    = "internal"
)

// Error is a typed error that crosses the bus. Callers compare Code, or use errors.Is with
// one of the sentinels built by Errorf (Error.Is matches on Code).
type Error struct {
	_msgpack struct{} `msgpack:",as_array"`

	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, &Error{Code: c}) match any error with code c.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Errorf builds an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ErrCode returns the bus error code of err, or "" when err did not come from the bus.
func ErrCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (e *Envelope) check() error {
	switch {
	case e.V != Version:
		return nil // answered with CodeVersion by the receiver
	case e.ID == 0 && e.ReplyTo == 0:
		return errors.New("bus: envelope is neither a request nor a reply")
	case e.ID != 0 && e.ReplyTo != 0:
		return errors.New("bus: envelope is both a request and a reply")
	case e.ID != 0 && !validKind(e.Kind):
		return fmt.Errorf("bus: malformed kind %q", e.Kind)
	case len(e.Profile) > 64:
		return errors.New("bus: profile name longer than 64 bytes")
	}
	return nil
}

// validKind reports whether k has the form "service.method", both parts short, lower-case
// ASCII letters, digits and '-'.
func validKind(k string) bool {
	svc, method, ok := strings.Cut(k, ".")
	return ok && validWord(svc) && validWord(method) && len(k) <= 64
}

func validWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Service returns the part of a kind before the dot: the role that serves it, or "hub".
func Service(kind string) string {
	svc, _, _ := strings.Cut(kind, ".")
	return svc
}
