package secmem

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The probe agrees with the kernel, and the seam forces the fallback.
func TestBackend(t *testing.T) {
	fd, err := unix.MemfdSecret(unix.O_CLOEXEC)
	if err == nil {
		unix.Close(fd)
	}
	want := map[bool]string{true: BackendMemfdSecret, false: BackendMlock}[err == nil]
	if got := Backend(); got != want {
		t.Fatalf("Backend() = %q; memfd_secret gives %v, so want %q", got, err, want)
	}
	t.Logf("backend: %s", want)
	forceFallback(t)
	if got := Backend(); got != BackendMlock {
		t.Fatalf("Backend() with the fallback forced = %q", got)
	}
	b := mustNew(t, 1)
	defer b.Destroy()
	if got := internals(b).backend; got != BackendMlock {
		t.Fatalf("New with the fallback forced used %q", got)
	}
}

func TestRoundTrip(t *testing.T) {
	page := probe().pageSize
	backends(t, func(t *testing.T, fallback bool) {
		for _, n := range []int{1, 15, 16, 17, 32, page - canarySize, page - canarySize + 1, page, 3*page + 5, 1 << 20} {
			b := mustNew(t, n)
			data := b.Bytes()
			if b.Len() != n || len(data) != n || cap(data) != n {
				t.Fatalf("New(%d): Len %d, len %d, cap %d", n, b.Len(), len(data), cap(data))
			}
			if !bytes.Equal(data, make([]byte, n)) {
				t.Fatalf("New(%d) is not zeroed", n)
			}
			m := internals(b)
			// The data ends exactly at the end of the data pages, which start
			// one page into the mapping and are page-aligned.
			if end := addr(data) + uintptr(n); end != addr(m.pages)+uintptr(len(m.pages)) || end%uintptr(page) != 0 {
				t.Fatalf("New(%d): data ends at %#x, pages %#x+%d", n, end, addr(m.pages), len(m.pages))
			}
			if addr(m.pages) != uintptr(m.base)+uintptr(page) || m.total != uintptr(len(m.pages)+2*page) {
				t.Fatalf("New(%d): pages at %#x, base %#x, total %d", n, addr(m.pages), m.base, m.total)
			}
			if want := (n + canarySize + page - 1) / page * page; len(m.pages) != want {
				t.Fatalf("New(%d): %d data bytes mapped, want %d", n, len(m.pages), want)
			}
			if !bytes.Equal(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&data[0]), -canarySize)), canarySize), probe().canary[:]) {
				t.Fatalf("New(%d): no canary right before the data", n)
			}
			for i := range data {
				data[i] = byte(i*7 + 1)
			}
			want := bytes.Clone(data)
			if !bytes.Equal(b.Bytes(), want) || !b.Equal(want) {
				t.Fatalf("New(%d): contents not kept", n)
			}
			b.Destroy()
			if b.Bytes() != nil || b.Len() != 0 || b.Equal(want) || b.Equal(nil) {
				t.Fatalf("New(%d): still usable after Destroy", n)
			}
		}
	})
}

// The kernel sees the layout: guard pages without access on both sides, and
// data pages that are secret (memfd_secret) or locked and excluded from core
// dumps and forks (mlock).
func TestSmapsLayout(t *testing.T) {
	backends(t, func(t *testing.T, fallback bool) {
		b := mustNew(t, 100)
		defer b.Destroy()
		m := internals(b)
		lo, hi := addr(m.pages), addr(m.pages)+uintptr(len(m.pages))
		data, ok := vmaAt(t, lo)
		if !ok {
			t.Fatalf("no mapping at %#x", lo)
		}
		t.Logf("data: %+v", data)
		if data.start != lo || data.end != hi {
			t.Errorf("data mapping is %#x-%#x, want %#x-%#x", data.start, data.end, lo, hi)
		}
		if fallback {
			if data.perms != "rw-p" {
				t.Errorf("data perms %q, want rw-p", data.perms)
			}
			for _, f := range []string{"lo", "dd", "wf"} {
				if !data.has(f) {
					t.Errorf("data VmFlags %v lack %q", data.flags, f)
				}
			}
			if data.lockedKB*1024 != len(m.pages) {
				t.Errorf("Locked: %d kB, want %d bytes", data.lockedKB, len(m.pages))
			}
		} else {
			if data.perms != "rw-s" || !strings.Contains(data.path, "secretmem") {
				t.Errorf("data is %q %q, want a shared secretmem mapping", data.perms, data.path)
			}
			if !data.has("dc") {
				t.Errorf("data VmFlags %v lack dc (MADV_DONTFORK)", data.flags)
			}
		}
		for _, a := range []uintptr{lo - 1, uintptr(m.base), hi, uintptr(m.base) + m.total - 1} {
			g, ok := vmaAt(t, a)
			if !ok || g.perms != "---p" || g.has("rd") || g.has("wr") {
				t.Errorf("guard at %#x: %+v (found %v), want ---p", a, g, ok)
			}
		}
	})
}

func TestFormatRedacted(t *testing.T) {
	b := mustNew(t, len(pattern))
	defer b.Destroy()
	copy(b.Bytes(), pattern)

	forbidden := []string{
		string(pattern),
		string(pattern[:8]),
		hex.EncodeToString(pattern[:8]),
		strings.ToUpper(hex.EncodeToString(pattern[:8])),
		base64.StdEncoding.EncodeToString(pattern[:9]),
		strings.Trim(fmt.Sprint(pattern[:8]), "[]"), // decimal
	}
	check := func(what, out string) {
		t.Helper()
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("%s leaks %q: %s", what, f, out)
			}
		}
	}

	type holder struct {
		Key    *Buf
		hidden *Buf
	}
	h := holder{Key: b, hidden: b}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%08b", "%c", "%U"} {
		out := fmt.Sprintf(verb, b)
		check(verb, out)
		if out != "secmem.Buf(32 bytes)" {
			t.Errorf("Sprintf(%q, b) = %q", verb, out)
		}
		check(verb+" of a struct", fmt.Sprintf(verb, h))
		check(verb+" of a struct pointer", fmt.Sprintf(verb, &h))
		check(verb+" of a slice", fmt.Sprintf(verb, []*Buf{b}))
	}
	if got := fmt.Sprintf("%+v", h); !strings.Contains(got, "Key:secmem.Buf(32 bytes)") {
		t.Errorf("struct prints as %q", got)
	}
	// A Buf value (not pointer) has no methods; it must still hold nothing
	// that fmt would print.
	check("a Buf value", fmt.Sprintf("%+v %#v", reflect.ValueOf(b).Elem().Interface(), reflect.ValueOf(b).Elem().Interface()))

	check("%T %p", fmt.Sprintf("%T %p", b, b))
	if got := b.String(); got != "secmem.Buf(32 bytes)" {
		t.Errorf("String() = %q", got)
	}
	if got := b.GoString(); got != "secmem.Buf(32 bytes)" {
		t.Errorf("GoString() = %q", got)
	}

	js, err := json.Marshal(struct {
		Key  *Buf
		Nil  *Buf
		Keys map[string]*Buf
	}{Key: b, Keys: map[string]*Buf{"k": b}})
	if err != nil {
		t.Fatal(err)
	}
	check("json", string(js))
	if want := `{"Key":"[redacted]","Nil":null,"Keys":{"k":"[redacted]"}}`; string(js) != want {
		t.Errorf("json = %s, want %s", js, want)
	}
	txt, _ := b.MarshalText()
	if string(txt) != "[redacted]" {
		t.Errorf("MarshalText = %q", txt)
	}

	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "key", b)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "key", b)
	check("slog", logs.String())
	if !strings.Contains(logs.String(), "key=[redacted]") || !strings.Contains(logs.String(), `"key":"[redacted]"`) {
		t.Errorf("slog output: %s", logs.String())
	}

	var nilBuf *Buf
	if got := fmt.Sprintf("%v %s %x", nilBuf, nilBuf, nilBuf); got != "secmem.Buf(nil) secmem.Buf(nil) secmem.Buf(nil)" {
		t.Errorf("nil formats as %q", got)
	}
	d := mustNew(t, 3)
	d.Destroy()
	if got := fmt.Sprint(d); got != "secmem.Buf(destroyed)" {
		t.Errorf("destroyed formats as %q", got)
	}
}

func TestEqual(t *testing.T) {
	b, err := FromBytes([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	for _, tc := range []struct {
		p    string
		want bool
	}{
		{"correct horse", true},
		{"correct horsf", false},
		{"Correct horse", false},
		{"correct hors", false},
		{"correct horse ", false},
		{"", false},
	} {
		if got := b.Equal([]byte(tc.p)); got != tc.want {
			t.Errorf("Equal(%q) = %v", tc.p, got)
		}
	}
	e := mustNew(t, 0)
	if !e.Equal(nil) || !e.Equal([]byte{}) || e.Equal([]byte{0}) {
		t.Error("empty Buf: Equal(nil/empty) must be true, Equal([0]) false")
	}
	var nilBuf *Buf
	if nilBuf.Equal(nil) || nilBuf.Equal([]byte{}) {
		t.Error("a nil Buf must equal nothing")
	}
}

func TestFromBytesWipesSource(t *testing.T) {
	backends(t, func(t *testing.T, fallback bool) {
		src := bytes.Clone(pattern)
		b, err := FromBytes(src)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Destroy()
		if !bytes.Equal(b.Bytes(), pattern) {
			t.Fatalf("FromBytes holds %q", b.Bytes())
		}
		if !bytes.Equal(src, make([]byte, len(pattern))) {
			t.Fatalf("source not wiped: %q", src)
		}
		if addr(b.Bytes()) == addr(src) {
			t.Fatal("FromBytes aliases its source")
		}
	})
	empty, err := FromBytes(nil)
	if err != nil || empty.Len() != 0 || empty.Bytes() == nil {
		t.Fatalf("FromBytes(nil) = %v, %v", empty, err)
	}
}

func TestNewZeroAndNegative(t *testing.T) {
	b, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 || b.Bytes() == nil || len(b.Bytes()) != 0 || b.String() != "secmem.Buf(0 bytes)" {
		t.Fatalf("New(0): Len %d, Bytes %#v, %s", b.Len(), b.Bytes(), b)
	}
	b.Destroy()
	b.Destroy()
	if b.Bytes() != nil {
		t.Fatal("New(0): Bytes not nil after Destroy")
	}
	for _, n := range []int{-1, -1 << 40} {
		b, err := New(n)
		if b != nil || err == nil || !strings.HasPrefix(err.Error(), "secmem: new: negative size") {
			t.Errorf("New(%d) = %v, %v", n, b, err)
		}
	}
	if _, err := New(int(^uint(0) >> 1)); err == nil || !strings.HasPrefix(err.Error(), "secmem: ") {
		t.Errorf("New(MaxInt): %v", err)
	}
}

func TestNilSafe(t *testing.T) {
	var b *Buf
	b.Destroy()
	if b.Bytes() != nil || b.Len() != 0 || b.Equal(nil) || b.String() != "secmem.Buf(nil)" || b.GoString() != "secmem.Buf(nil)" {
		t.Fatal("nil *Buf misbehaves")
	}
}

func TestDestroyIdempotentAndWipes(t *testing.T) {
	backends(t, func(t *testing.T, fallback bool) {
		b := mustNew(t, 64)
		copy(b.Bytes(), pattern)
		m := internals(b)
		lo, size := addr(m.pages), len(m.pages)
		var seen []byte
		hook := func(pages []byte) { seen = bytes.Clone(pages) }
		testOnlyBeforeUnmap.Store(&hook)
		b.Destroy()
		testOnlyBeforeUnmap.Store(nil)
		b.Destroy()
		if len(seen) != size || !bytes.Equal(seen, make([]byte, size)) {
			t.Fatalf("data pages (%d bytes) not wiped before unmapping", len(seen))
		}
		// The range may already hold another mapping (the Go heap, a thread's stack: the
		// kernel reuses addresses), so only a locked or secretmem mapping there is ours.
		if v, ok := vmaAt(t, lo); ok && (v.has("lo") || strings.Contains(v.path, "secretmem")) {
			t.Fatalf("pages still mapped after Destroy: %+v", v)
		}
		if internals(b) != nil || m.base != nil || m.pages != nil || m.data != nil {
			t.Fatal("Destroy left pointers to the unmapped range")
		}
		// Concurrent Destroy of one Buf.
		c := mustNew(t, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(c.Destroy)
		}
		wg.Wait()
		if c.Bytes() != nil {
			t.Fatal("concurrent Destroy")
		}
	})
}

func TestWipe(t *testing.T) {
	p := bytes.Clone(pattern)
	Wipe(p[1:])
	if p[0] != pattern[0] || !bytes.Equal(p[1:], make([]byte, len(pattern)-1)) {
		t.Fatalf("Wipe(p[1:]) left %q", p)
	}
	Wipe(nil)
}

// Many small allocations at once: every one maps, none leaks a descriptor
// (the memfd is closed once mapped), and all unmap.
func TestManyAllocations(t *testing.T) {
	backends(t, func(t *testing.T, fallback bool) {
		before := countFDs(t)
		bufs := make([]*Buf, 1000)
		for i := range bufs {
			bufs[i] = mustNew(t, 32)
			bufs[i].Bytes()[0] = byte(i)
		}
		if during := countFDs(t); during != before {
			t.Errorf("%d descriptors open with 1000 Bufs, %d before", during, before)
		}
		for i, b := range bufs {
			if b.Bytes()[0] != byte(i) {
				t.Fatalf("Buf %d was overwritten", i)
			}
			b.Destroy()
		}
		if after := countFDs(t); after != before {
			t.Errorf("%d descriptors open after, %d before", after, before)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				b, err := New(32 + g)
				if err != nil {
					t.Error(err)
					return
				}
				b.Bytes()[0] = byte(i)
				if !b.Equal(append([]byte{byte(i)}, make([]byte, 31+g)...)) {
					t.Error("contents mixed up")
				}
				b.Destroy()
			}
		})
	}
	wg.Wait()
}

// The cleanup destroys a Buf that was dropped without Destroy.
func TestCleanupSafetyNet(t *testing.T) {
	backends(t, func(t *testing.T, fallback bool) {
		lo := leak(t)
		gone := eventually(func() bool {
			v, ok := vmaAt(t, lo)
			return !ok || !(v.has("lo") || strings.Contains(v.path, "secretmem"))
		})
		if !gone {
			v, _ := vmaAt(t, lo)
			t.Fatalf("unreachable Buf still mapped: %+v", v)
		}
	})
}

//go:noinline
func leak(t *testing.T) uintptr {
	b := mustNew(t, 32)
	copy(b.Bytes(), pattern)
	m := internals(b)
	v, ok := vmaAt(t, addr(m.pages))
	if !ok || !(v.has("lo") || strings.Contains(v.path, "secretmem")) {
		t.Fatalf("fresh Buf not protected: %+v", v)
	}
	return addr(m.pages)
}

func BenchmarkNewDestroy32(b *testing.B) {
	for _, fallback := range []bool{false, true} {
		name := BackendMemfdSecret
		if fallback {
			name = BackendMlock
		}
		b.Run(name, func(b *testing.B) {
			if !fallback && !probe().memfdSecret {
				b.Skip("memfd_secret is not available")
			}
			if fallback {
				forceFallback(b)
			}
			for b.Loop() {
				buf, err := New(32)
				if err != nil {
					b.Fatal(err)
				}
				buf.Bytes()[0] = 1
				buf.Destroy()
			}
		})
	}
}
