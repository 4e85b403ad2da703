package wayland

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"

	"golang.org/x/sys/unix"
)

// The Wayland wire format (https://wayland.freedesktop.org/docs/html/ch04.html#sect-Protocol-Wire-Format):
//
//	header   object id (u32) | size (u16, high half) << 16 | opcode (u16, low half)
//	int/uint 4 bytes, host byte order
//	fixed    signed 24.8, 4 bytes
//	string   length (u32) INCLUDING the terminating NUL, the bytes, the NUL, zero padding to 4
//	         (a null string is length 0 and nothing else)
//	array    length (u32) of the contents, the contents, zero padding to 4
//	object   id (u32), 0 for null; new_id: the new id (u32)
//	fd       nothing in the body: passed as SCM_RIGHTS ancillary data
//
// go-wayland's generated requests write the padded length of a string instead of len+1
// (client.PutString is handed PaddedLen(len+1)), which libwayland ≥ 1.24 rejects as "string
// has embedded nul". Every request sesame sends that carries a string is encoded here.

// MaxMessage is the largest message the protocol allows (the size field is 16 bits).
const MaxMessage = 1<<16 - 1

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("wayland: malformed message")

// Message builds one request.
type Message struct {
	buf []byte
	fds []int
	err error
}

// NewMessage starts a request with opcode to the object id.
func NewMessage(id uint32, opcode uint16) *Message {
	m := &Message{buf: make([]byte, 8, 64)}
	binary.NativeEndian.PutUint32(m.buf[0:4], id)
	binary.NativeEndian.PutUint16(m.buf[4:6], opcode)
	return m
}

// Uint appends a uint (or an enum, or an object or new_id).
func (m *Message) Uint(v uint32) *Message {
	m.buf = binary.NativeEndian.AppendUint32(m.buf, v)
	return m
}

// Int appends an int.
func (m *Message) Int(v int32) *Message { return m.Uint(uint32(v)) }

// Fixed appends a fixed-point number (24.8), rounding to the nearest 1/256.
func (m *Message) Fixed(v float64) *Message {
	f := math.Round(v * 256)
	f = max(min(f, math.MaxInt32), math.MinInt32)
	return m.Int(int32(f))
}

// Object appends an object id; nil or a zero id is the null object.
func (m *Message) Object(o interface{ ID() uint32 }) *Message {
	if o == nil || isNil(o) {
		return m.Uint(0)
	}
	return m.Uint(o.ID())
}

// String appends a non-null string: its length counting the terminating NUL, the bytes, the
// NUL and the padding. A string containing a NUL byte cannot be sent and makes Bytes fail.
func (m *Message) String(s string) *Message {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			m.err = fmt.Errorf("wayland: string %q contains a NUL byte", s)
			return m
		}
	}
	m.Uint(uint32(len(s) + 1))
	m.buf = append(m.buf, s...)
	m.buf = append(m.buf, 0)
	return m.pad()
}

// NullString appends the null string (for a nullable string argument).
func (m *Message) NullString() *Message { return m.Uint(0) }

// Array appends an array.
func (m *Message) Array(a []byte) *Message {
	m.Uint(uint32(len(a)))
	m.buf = append(m.buf, a...)
	return m.pad()
}

// FD attaches a file descriptor (sent as ancillary data; nothing goes in the body).
func (m *Message) FD(fd int) *Message {
	m.fds = append(m.fds, fd)
	return m
}

func (m *Message) pad() *Message {
	for len(m.buf)%4 != 0 {
		m.buf = append(m.buf, 0)
	}
	return m
}

// Bytes finishes the message (writing its size into the header) and returns it and its file
// descriptors.
func (m *Message) Bytes() ([]byte, []int, error) {
	if m.err != nil {
		return nil, nil, m.err
	}
	if len(m.buf) > MaxMessage {
		return nil, nil, fmt.Errorf("wayland: message of %d bytes is larger than the protocol allows", len(m.buf))
	}
	binary.NativeEndian.PutUint16(m.buf[6:8], uint16(len(m.buf)))
	return m.buf, m.fds, nil
}

// Decoder reads the arguments of one event. It never panics: a short or malformed body sets
// an error (see Err) and makes every later read return zero values.
type Decoder struct {
	data []byte
	err  error
}

// NewDecoder reads the body (the bytes after the 8-byte header) of an event.
func NewDecoder(body []byte) *Decoder { return &Decoder{data: body} }

func (d *Decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	d.data = nil
}

// Err returns the first error, or nil.
func (d *Decoder) Err() error { return d.err }

// Finish returns Err, or an error if bytes are left over.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.data) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.data)))
	}
	return d.err
}

// Uint reads a uint (enum, object id or new_id).
func (d *Decoder) Uint() uint32 {
	if len(d.data) < 4 {
		d.fail("truncated")
		return 0
	}
	v := binary.NativeEndian.Uint32(d.data)
	d.data = d.data[4:]
	return v
}

// Int reads an int.
func (d *Decoder) Int() int32 { return int32(d.Uint()) }

// Fixed reads a fixed-point number.
func (d *Decoder) Fixed() float64 { return float64(d.Int()) / 256 }

// String reads a string. A null string reads as "" (see StringOrNull).
func (d *Decoder) String() string {
	s, _ := d.StringOrNull()
	return s
}

// StringOrNull reads a string and reports whether it was non-null.
func (d *Decoder) StringOrNull() (string, bool) {
	n := d.Uint()
	if d.err != nil {
		return "", false
	}
	if n == 0 {
		return "", false
	}
	p := padded(n)
	if p < 0 || p > len(d.data) {
		d.fail("string longer than the message")
		return "", false
	}
	b := d.data[:n]
	if b[n-1] != 0 {
		d.fail("string without its terminating NUL")
		return "", false
	}
	for _, c := range b[:n-1] {
		if c == 0 {
			d.fail("string with an embedded NUL")
			return "", false
		}
	}
	d.data = d.data[p:]
	return string(b[:n-1]), true
}

// Array reads an array (a copy).
func (d *Decoder) Array() []byte {
	n := d.Uint()
	if d.err != nil {
		return nil
	}
	p := padded(n)
	if p < 0 || p > len(d.data) {
		d.fail("array longer than the message")
		return nil
	}
	out := make([]byte, n)
	copy(out, d.data[:n])
	d.data = d.data[p:]
	return out
}

// padded is n rounded up to a multiple of 4, or -1 when that is beyond any message.
func padded(n uint32) int {
	if n > MaxMessage {
		return -1
	}
	return int((n + 3) &^ 3)
}

// isNil reports whether an interface holds a nil pointer.
func isNil(o any) bool {
	v := reflect.ValueOf(o)
	return !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil()
}

// CloseFD closes a descriptor nobody took (generated code drops unhandled ones with it).
func CloseFD(fd int) { unix.Close(fd) }
