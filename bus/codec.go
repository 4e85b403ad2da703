package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The envelope codec.
//
// An envelope is a msgpack array, the same bytes vmihailenco/msgpack writes for the struct
// with `as_array`, but encoded and decoded here by hand: the envelope is on every message's
// path and reflection-based (de)serialisation cost about a quarter of the hub's CPU. Bodies
// stay with the library.
//
//	envelope = [V, ID, ReplyTo, Kind, Profile, Caller|nil, Err|nil, Body|nil]
//	caller   = [Role, PID, UID, Exe]
//	error    = [Code, Msg]
//
// Decoding accepts any msgpack integer width and str/bin for byte strings, ignores trailing
// array elements a newer version might add, and, for an envelope whose version is not ours,
// stops after the first three fields so the receiver can still answer it.

// MarshalEnvelope encodes e.
func MarshalEnvelope(e *Envelope) ([]byte, error) {
	n := 32 + len(e.Kind) + len(e.Profile) + len(e.Body)
	if e.Caller != nil {
		n += 24 + len(e.Caller.Role) + len(e.Caller.Exe)
	}
	if e.Err != nil {
		n += 16 + len(e.Err.Code) + len(e.Err.Msg)
	}
	b := make([]byte, 0, n)
	b = append(b, 0x98) // fixarray of 8
	b = appendUint(b, uint64(e.V))
	b = appendUint(b, e.ID)
	b = appendUint(b, e.ReplyTo)
	b = appendStr(b, e.Kind)
	b = appendStr(b, e.Profile)
	if c := e.Caller; c != nil {
		b = append(b, 0x94)
		b = appendStr(b, c.Role)
		b = appendInt(b, int64(c.PID))
		b = appendUint(b, uint64(c.UID))
		b = appendStr(b, c.Exe)
	} else {
		b = append(b, 0xc0)
	}
	if er := e.Err; er != nil {
		b = append(b, 0x92)
		b = appendStr(b, er.Code)
		b = appendStr(b, er.Msg)
	} else {
		b = append(b, 0xc0)
	}
	if e.Body != nil {
		b = appendBin(b, e.Body)
	} else {
		b = append(b, 0xc0)
	}
	return b, nil
}

// UnmarshalEnvelope decodes one envelope and checks its shape. On error it returns nil.
// A version other than ours decodes (V, ID and ReplyTo only) so that it can be answered.
func UnmarshalEnvelope(b []byte) (*Envelope, error) {
	e, err := decodeEnvelope(b)
	if err != nil {
		return nil, fmt.Errorf("bus: malformed envelope: %v", err)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

var errShort = errors.New("truncated")

func decodeEnvelope(b []byte) (*Envelope, error) {
	d := decoder{b: b}
	n, err := d.arrayLen()
	if err != nil {
		return nil, err
	}
	if n < 3 {
		return nil, fmt.Errorf("array of %d fields", n)
	}
	var e Envelope
	v, err := d.uint(math.MaxUint8)
	if err != nil {
		return nil, fmt.Errorf("version: %v", err)
	}
	e.V = uint8(v)
	if e.ID, err = d.uint(math.MaxUint64); err != nil {
		return nil, fmt.Errorf("id: %v", err)
	}
	if e.ReplyTo, err = d.uint(math.MaxUint64); err != nil {
		return nil, fmt.Errorf("reply-to: %v", err)
	}
	if e.V != Version {
		return &e, nil
	}
	if n < 8 {
		return nil, fmt.Errorf("array of %d fields", n)
	}
	if e.Kind, err = d.str(); err != nil {
		return nil, fmt.Errorf("kind: %v", err)
	}
	if e.Profile, err = d.str(); err != nil {
		return nil, fmt.Errorf("profile: %v", err)
	}
	if !d.null() {
		c := &Caller{}
		m, err := d.arrayLen()
		if err != nil || m < 4 {
			return nil, fmt.Errorf("caller: %v (%d fields)", err, m)
		}
		if c.Role, err = d.str(); err == nil {
			var pid int64
			if pid, err = d.int(math.MinInt32, math.MaxInt32); err == nil {
				c.PID = int32(pid)
				var uid uint64
				if uid, err = d.uint(math.MaxUint32); err == nil {
					c.UID = uint32(uid)
					c.Exe, err = d.str()
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("caller: %v", err)
		}
		if err := d.skipN(m - 4); err != nil {
			return nil, fmt.Errorf("caller: %v", err)
		}
		e.Caller = c
	}
	if !d.null() {
		er := &Error{}
		m, err := d.arrayLen()
		if err != nil || m < 2 {
			return nil, fmt.Errorf("error: %v (%d fields)", err, m)
		}
		if er.Code, err = d.str(); err == nil {
			er.Msg, err = d.str()
		}
		if err != nil {
			return nil, fmt.Errorf("error: %v", err)
		}
		if err := d.skipN(m - 2); err != nil {
			return nil, fmt.Errorf("error: %v", err)
		}
		e.Err = er
	}
	if !d.null() {
		body, err := d.bytes()
		if err != nil {
			return nil, fmt.Errorf("body: %v", err)
		}
		e.Body = append([]byte{}, body...)
	}
	if err := d.skipN(n - 8); err != nil {
		return nil, err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the envelope", len(d.b))
	}
	return &e, nil
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(b, uint64(v))
	}
	switch {
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBin(b, p []byte) []byte {
	switch n := len(p); {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// decoder reads msgpack values from b, consuming it.
type decoder struct{ b []byte }

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b) {
		return nil, errShort
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p, nil
}

func (d *decoder) code() (byte, error) {
	p, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// null consumes a nil and reports whether there was one.
func (d *decoder) null() bool {
	if len(d.b) > 0 && d.b[0] == 0xc0 {
		d.b = d.b[1:]
		return true
	}
	return false
}

func (d *decoder) be(n int) (uint64, error) {
	p, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *decoder) arrayLen() (int, error) {
	c, err := d.code()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), nil
	case c == 0xdc:
		n, err = d.be(2)
	case c == 0xdd:
		n, err = d.be(4)
	default:
		return 0, fmt.Errorf("code 0x%02x is not an array", c)
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.b)) { // every element takes at least a byte
		return 0, errShort
	}
	return int(n), nil
}

// integer reads any msgpack integer as a signed 128-bit-safe pair (neg, magnitude).
func (d *decoder) integer() (neg bool, mag uint64, err error) {
	c, err := d.code()
	if err != nil {
		return false, 0, err
	}
	switch {
	case c < 0x80:
		return false, uint64(c), nil
	case c >= 0xe0:
		return true, uint64(-int64(int8(c))), nil
	}
	var v uint64
	switch c {
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err = d.be(1 << (c - 0xcc))
		return false, v, err
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		v, err = d.be(size)
		if err != nil {
			return false, 0, err
		}
		shift := 64 - 8*size
		s := int64(v<<shift) >> shift
		if s < 0 {
			return true, uint64(-s), nil
		}
		return false, uint64(s), nil
	}
	return false, 0, fmt.Errorf("code 0x%02x is not an integer", c)
}

func (d *decoder) uint(max uint64) (uint64, error) {
	neg, v, err := d.integer()
	if err != nil {
		return 0, err
	}
	if (neg && v != 0) || v > max {
		return 0, errors.New("integer out of range")
	}
	return v, nil
}

func (d *decoder) int(lo, hi int64) (int64, error) {
	neg, v, err := d.integer()
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64 {
		return 0, errors.New("integer out of range")
	}
	s := int64(v)
	if neg {
		s = -s
	}
	if s < lo || s > hi {
		return 0, errors.New("integer out of range")
	}
	return s, nil
}

// raw reads a str or bin and returns its bytes (aliasing the input).
func (d *decoder) raw(allowNil bool) ([]byte, error) {
	c, err := d.code()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = d.be(1)
	case c == 0xda || c == 0xc5:
		n, err = d.be(2)
	case c == 0xdb || c == 0xc6:
		n, err = d.be(4)
	case c == 0xc0 && allowNil:
		return nil, nil
	default:
		return nil, fmt.Errorf("code 0x%02x is not a string", c)
	}
	if err != nil {
		return nil, err
	}
	return d.take(int(n))
}

func (d *decoder) str() (string, error) {
	p, err := d.raw(true)
	return string(p), err
}

func (d *decoder) bytes() ([]byte, error) { return d.raw(false) }

// skipN skips n values of any type.
func (d *decoder) skipN(n int) error {
	for range n {
		if err := d.skip(0); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) skip(depth int) error {
	if depth > 32 {
		return errors.New("nested too deeply")
	}
	if len(d.b) == 0 {
		return errShort
	}
	c := d.b[0]
	switch {
	case c < 0x80 || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		d.b = d.b[1:]
		return nil
	case c >= 0xcc && c <= 0xd3:
		_, _, err := d.integer()
		return err
	case c&0xe0 == 0xa0, c == 0xd9, c == 0xda, c == 0xdb, c == 0xc4, c == 0xc5, c == 0xc6:
		_, err := d.raw(false)
		return err
	case c == 0xca:
		_, err := d.take(5)
		return err
	case c == 0xcb:
		_, err := d.take(9)
		return err
	case c&0xf0 == 0x90, c == 0xdc, c == 0xdd:
		n, err := d.arrayLen()
		if err != nil {
			return err
		}
		for range n {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c&0xf0 == 0x80, c == 0xde, c == 0xdf:
		d.b = d.b[1:]
		var n uint64
		var err error
		switch c {
		case 0xde:
			n, err = d.be(2)
		case 0xdf:
			n, err = d.be(4)
		default:
			n = uint64(c & 0x0f)
		}
		if err != nil {
			return err
		}
		if n > uint64(len(d.b)) {
			return errShort
		}
		for range 2 * n {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c >= 0xd4 && c <= 0xd8: // fixext 1..16
		_, err := d.take(2 + 1<<(c-0xd4))
		return err
	case c == 0xc7, c == 0xc8, c == 0xc9: // ext 8/16/32
		d.b = d.b[1:]
		n, err := d.be(1 << (c - 0xc7))
		if err != nil {
			return err
		}
		_, err = d.take(int(n) + 1)
		return err
	}
	return fmt.Errorf("code 0x%02x is not msgpack", c)
}
