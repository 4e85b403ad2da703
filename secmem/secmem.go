//go:build linux

package secmem

import (
	"crypto/subtle"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
)

// Backend names, as returned by [Backend].
const (
	BackendMemfdSecret = "memfd_secret"
	BackendMlock       = "mlock"
)

// Buf holds secret bytes in a protected region outside the Go heap.
//
// A Buf must be used through its pointer and must not be copied. All methods
// are safe to call on a nil *Buf and from several goroutines, but the slice
// returned by [Buf.Bytes] is not synchronised: do not use it concurrently
// with Destroy.
type Buf struct {
	// Buf holds no []byte or array directly: fmt, reflection-based encoders
	// and debuggers that walk a Buf value see only a pointer.
	mu struct {
		sync.Mutex
		m         *mapping // nil for an empty Buf and after Destroy
		destroyed bool
	}
	n       int
	cleanup runtime.Cleanup
}

// New returns a Buf of n zeroed bytes. n may be zero, which gives a valid
// empty Buf that uses no memory. It fails if n is negative or if the protected
// memory cannot be allocated and locked; see the package documentation.
func New(n int) (*Buf, error) {
	if n < 0 {
		return nil, fmt.Errorf("secmem: new: negative size %d", n)
	}
	b := &Buf{n: n}
	if n == 0 {
		return b, nil
	}
	m, err := newMapping(n, useMemfdSecret())
	if err != nil {
		return nil, err
	}
	b.mu.m = m
	// The cleanup receives the mapping, not b, so it does not keep b alive.
	b.cleanup = runtime.AddCleanup(b, destroyUnreachable, m)
	return b, nil
}

// destroyUnreachable is the safety net for a Buf that was never destroyed.
func destroyUnreachable(m *mapping) {
	m.release("found by the cleanup of a Buf that was never destroyed")
}

// FromBytes returns a new Buf holding a copy of src and then wipes src with
// [Wipe]. src is wiped even if the allocation fails, so that no caller keeps
// a heap copy of a secret on an error path.
func FromBytes(src []byte) (*Buf, error) {
	defer Wipe(src)
	b, err := New(len(src))
	if err != nil {
		return nil, err
	}
	copy(b.Bytes(), src)
	return b, nil
}

// Bytes returns the contents: a slice of exactly Len bytes (and capacity Len)
// into the protected region. It is valid until [Buf.Destroy], and it does not
// keep b alive on its own. Bytes returns nil for a nil or destroyed Buf, and a
// non-nil empty slice for a live empty Buf.
//
// Never append to the slice: exceeding its capacity copies the secret to the
// Go heap.
func (b *Buf) Bytes() []byte {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.mu.destroyed:
		return nil
	case b.mu.m == nil:
		return []byte{} // non-nil, unlike a destroyed Buf's; allocates nothing
	}
	return b.mu.m.data
}

// Len returns the number of bytes in b, or 0 for a nil or destroyed Buf.
func (b *Buf) Len() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.destroyed {
		return 0
	}
	return b.n
}

// Destroy checks the canary, zeroes the pages and unmaps them. After Destroy,
// Bytes returns nil and Len returns 0. Destroy may be called any number of
// times, and on a nil *Buf.
//
// If the canary or the padding before the data was overwritten, the memory is
// corrupt: Destroy wipes the pages, prints a message on standard error and
// terminates the process with exit status 2. It does not panic, because a
// panic can be recovered and would let a process with a corrupted address
// space go on running.
func (b *Buf) Destroy() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.destroyed {
		return
	}
	b.mu.destroyed = true
	if b.mu.m != nil {
		b.cleanup.Stop()
		b.mu.m.release("")
		b.mu.m = nil
	}
}

// Equal reports whether b holds exactly the bytes in p. The time it takes
// depends on the lengths but not on the contents. A nil or destroyed Buf is
// equal to nothing, not even to an empty p.
func (b *Buf) Equal(p []byte) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.mu.destroyed:
		return false
	case b.mu.m == nil:
		return len(p) == 0
	}
	return subtle.ConstantTimeCompare(b.mu.m.data, p) == 1
}

// String returns a redacted description such as `secmem.Buf(32 bytes)`.
func (b *Buf) String() string {
	if b == nil {
		return "secmem.Buf(nil)"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.destroyed {
		return "secmem.Buf(destroyed)"
	}
	return "secmem.Buf(" + strconv.Itoa(b.n) + " bytes)"
}

// GoString returns the same redacted description as String.
func (b *Buf) GoString() string { return b.String() }

// Format writes the redacted description for every verb and ignores flags,
// width and precision, so that %x, %q or %d cannot print the contents.
func (b *Buf) Format(f fmt.State, verb rune) { io.WriteString(f, b.String()) }

// MarshalJSON returns the JSON string "[redacted]".
func (b *Buf) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// MarshalText returns "[redacted]".
func (b *Buf) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Wipe sets every byte of p to zero.
//
// A plain loop or clear(p) at the end of a function can be removed by the
// compiler when it proves the memory is never read again (dead-store
// elimination, which Go's compiler does for local variables). Wipe is never
// inlined, so the caller's compiler does not see the stores, and inside Wipe
// the memory belongs to the caller and may be read after the call, so the
// stores cannot be removed either; runtime.KeepAlive keeps p live until the
// stores are done. Wipe cannot reach copies of p that Go already made.
//
//go:noinline
func Wipe(p []byte) {
	clear(p)
	runtime.KeepAlive(p)
}

// Backend reports which backend [New] uses in this process:
// [BackendMemfdSecret] or [BackendMlock]. The first call probes the kernel.
func Backend() string {
	if useMemfdSecret() {
		return BackendMemfdSecret
	}
	return BackendMlock
}

// testOnlyNoMemfdSecret forces the mlock fallback for allocations made while
// it is set, as if the kernel had no memfd_secret. Tests only; there is
// deliberately no environment variable or flag that can downgrade a real
// process.
var testOnlyNoMemfdSecret bool

func useMemfdSecret() bool {
	return !testOnlyNoMemfdSecret && probe().memfdSecret
}

// Compile-time checks of the interfaces that keep a Buf redacted.
var (
	_ fmt.Formatter  = (*Buf)(nil)
	_ fmt.Stringer   = (*Buf)(nil)
	_ fmt.GoStringer = (*Buf)(nil)
	_ interface {
		MarshalJSON() ([]byte, error)
		MarshalText() ([]byte, error)
	} = (*Buf)(nil)
)
