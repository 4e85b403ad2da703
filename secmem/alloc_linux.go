package secmem

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	canarySize = 16
	// padFill fills the data pages before the canary (libsodium's value).
	padFill = 0xdb
)

// procInfo holds facts about the process.
type procInfo struct {
	once        sync.Once
	pageSize    int
	memfdSecret bool             // memfd_secret(2) succeeded
	canary      [canarySize]byte // random, the same for every Buf
}

// proc is computed once, by probe, and never changed afterwards.
var proc procInfo

// probe returns the process facts, computing them on first use.
func probe() *procInfo {
	proc.once.Do(func() {
		proc.pageSize = unix.Getpagesize()
		// crypto/rand.Read never fails: the runtime aborts the process if
		// the kernel's generator is unavailable.
		rand.Read(proc.canary[:])
		fd, err := memfdSecret()
		if err == nil {
			unix.Close(fd)
			proc.memfdSecret = true
		}
	})
	return &proc
}

// mapping is one allocation:
//
//	base                                                          base+total
//	| guard (1 page) | padding ... canary | data | guard (1 page) |
//	                 <------------ pages ------->
//
// The fields point outside the Go heap. release sets them all to nil after
// unmapping, so no Go value keeps an address the runtime might later reuse.
type mapping struct {
	base    unsafe.Pointer
	total   uintptr
	pages   []byte // the data pages, read-write
	pad     []byte // pages[:len(pages)-n-canarySize]
	canary  []byte // the canarySize bytes before data
	data    []byte // the last n bytes of pages, capacity n
	backend string
}

// layout returns the size of the data pages for n bytes (whole pages, room
// for the canary included) and the total size with the two guard pages.
func layout(n, pageSize int) (dataLen, total uintptr, err error) {
	if n > math.MaxInt-canarySize-3*pageSize {
		return 0, 0, errSize
	}
	pages := (n + canarySize + pageSize - 1) / pageSize
	dataLen = uintptr(pages) * uintptr(pageSize)
	return dataLen, dataLen + 2*uintptr(pageSize), nil
}

func newMapping(n int, secret bool) (*mapping, error) {
	p := probe()
	dataLen, total, err := layout(n, p.pageSize)
	if err != nil {
		return nil, fmt.Errorf("secmem: new %d bytes: %w", n, err)
	}
	// Reserve the whole range without access; the data pages are then
	// opened up (mlock backend) or replaced by the secret mapping.
	base, err := unix.MmapPtr(-1, 0, nil, total, unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("secmem: mmap %d bytes: %w", total, err)
	}
	m := &mapping{
		base:  base,
		total: total,
		pages: unsafe.Slice((*byte)(unsafe.Add(base, p.pageSize)), dataLen),
	}
	if secret {
		m.backend = BackendMemfdSecret
		err = m.mapSecret()
	} else {
		m.backend = BackendMlock
		err = m.mapLocked()
	}
	if err != nil {
		unix.MunmapPtr(base, total)
		return nil, err
	}
	off := len(m.pages) - n
	m.data = m.pages[off:len(m.pages):len(m.pages)]
	m.canary = m.pages[off-canarySize : off : off]
	m.pad = m.pages[: off-canarySize : off-canarySize]
	for i := range m.pad {
		m.pad[i] = padFill
	}
	copy(m.canary, p.canary[:])
	return m, nil
}

// mapSecret maps memfd_secret pages over the data part of the reservation.
func (m *mapping) mapSecret() error {
	fd, err := memfdSecret()
	if err != nil {
		return fmt.Errorf("secmem: memfd_secret: %w", err)
	}
	// The mapping keeps the memory alive; the descriptor is not needed.
	defer unix.Close(fd)
	size := len(m.pages)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fmt.Errorf("secmem: memfd_secret: ftruncate %d bytes: %w", size, err)
	}
	want := unsafe.Pointer(unsafe.SliceData(m.pages))
	got, err := unix.MmapPtr(fd, 0, want, uintptr(size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("secmem: memfd_secret: mmap %d bytes: %w%s", size, err, memlockHint(err))
	}
	if got != want {
		// Cannot happen with MAP_FIXED; refuse rather than guess.
		return fmt.Errorf("secmem: memfd_secret: mmap returned %p, want %p", got, want)
	}
	// A shared mapping would be shared with a child created by fork(2)
	// (not by Go's fork+exec, which shares the address space until exec).
	if err := unix.Madvise(m.pages, unix.MADV_DONTFORK); err != nil {
		return fmt.Errorf("secmem: memfd_secret: madvise MADV_DONTFORK: %w", err)
	}
	// Fault the pages in now, so that a shortage shows here rather than at
	// the caller's first write. Secret pages are never read back by the
	// kernel, so this is the only way to populate them.
	for i := 0; i < size; i += probe().pageSize {
		m.pages[i] = 0
	}
	return nil
}

// mapLocked makes the data part of the reservation accessible and locks it.
// Every step is required: an unlocked page could be written to swap.
func (m *mapping) mapLocked() error {
	if err := unix.Mprotect(m.pages, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return fmt.Errorf("secmem: mprotect %d bytes: %w", len(m.pages), err)
	}
	if err := unix.Madvise(m.pages, unix.MADV_DONTDUMP); err != nil {
		return fmt.Errorf("secmem: madvise MADV_DONTDUMP: %w", err)
	}
	if err := unix.Madvise(m.pages, unix.MADV_WIPEONFORK); err != nil {
		return fmt.Errorf("secmem: madvise MADV_WIPEONFORK: %w", err)
	}
	if err := unix.Mlock(m.pages); err != nil {
		return fmt.Errorf("secmem: mlock %d bytes: %w%s", len(m.pages), err, memlockHint(err))
	}
	return nil
}

// testOnlyBeforeUnmap, when set, sees the data pages after they are wiped
// and before they are unmapped. Tests only.
var testOnlyBeforeUnmap atomic.Pointer[func(pages []byte)]

var errSize = errors.New("size too large")

// memlockHint explains the errors that RLIMIT_MEMLOCK causes.
func memlockHint(err error) string {
	if !errors.Is(err, unix.ENOMEM) && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EPERM) {
		return ""
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim) != nil {
		return ""
	}
	if lim.Cur == unix.RLIM_INFINITY {
		return " (RLIMIT_MEMLOCK is unlimited)"
	}
	return fmt.Sprintf(" (RLIMIT_MEMLOCK is %d bytes; raise it, e.g. LimitMEMLOCK= in the unit)", lim.Cur)
}

// release checks the canary and the padding, wipes the data pages and unmaps
// the whole range. why is empty for an explicit Destroy and describes the
// caller otherwise. The caller guarantees release runs once.
func (m *mapping) release(why string) {
	var corrupt string
	switch {
	case subtle.ConstantTimeCompare(m.canary, probe().canary[:]) != 1:
		corrupt = "the canary before the data was overwritten (buffer under-run)"
	case !allBytes(m.pad, padFill):
		corrupt = "the padding before the canary was overwritten (buffer under-run)"
	}
	n, backend := len(m.data), m.backend
	Wipe(m.pages)
	if hook := testOnlyBeforeUnmap.Load(); hook != nil {
		(*hook)(m.pages)
	}
	// munmap only fails for arguments that cannot occur here, and the pages
	// are already zero: there is nothing useful to do with an error.
	unix.MunmapPtr(m.base, m.total)
	*m = mapping{}
	if corrupt != "" {
		abort(fmt.Sprintf("%d-byte Buf (%s): %s", n, backend, corrupt), why)
	}
}

func allBytes(p []byte, v byte) bool {
	var acc byte
	for _, c := range p {
		acc |= c ^ v
	}
	return acc == 0
}

// abort reports memory corruption and ends the process with exit status 2,
// the status the Go runtime uses for fatal errors.
//
// It does not panic: a panic can be recovered, and deferred functions would
// run in a process whose memory is known to be corrupt. It does not raise
// SIGABRT either, which could write a core dump holding heap copies of
// secrets. The stack trace names functions and lines only; a runtime
// traceback would print argument words, which can be parts of secrets.
func abort(msg, why string) {
	var sb strings.Builder
	sb.WriteString("\nsecmem: FATAL: memory corruption detected: ")
	sb.WriteString(msg)
	if why != "" {
		sb.WriteString("; " + why)
	}
	sb.WriteString("\nsecmem: aborting the process\n")
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		fmt.Fprintf(&sb, "\t%s\n\t\t%s:%d\n", f.Function, f.File, f.Line)
		if !more {
			break
		}
	}
	os.Stderr.WriteString(sb.String())
	os.Exit(2)
}
