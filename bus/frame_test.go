package bus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// plainCipher is a pass-through "cipher" with a fake 16-byte tag, to test framing alone.
type plainCipher struct{}

func (plainCipher) Encrypt(out, _, pt []byte) ([]byte, error) {
	out = append(out, pt...)
	return append(out, make([]byte, tagSize)...), nil
}

func (plainCipher) Decrypt(out, _, ct []byte) ([]byte, error) {
	if len(ct) < tagSize {
		return nil, errors.New("short")
	}
	return append(out, ct[:len(ct)-tagSize]...), nil
}

func TestFramingSizes(t *testing.T) {
	for _, n := range []int{0, 1, maxChunk - lenSize - 1, maxChunk - lenSize, maxChunk - lenSize + 1, maxChunk, 200000, 1 << 20} {
		msg := make([]byte, n)
		rand.Read(msg)
		var wire bytes.Buffer
		if err := newFrameWriter(&wire, plainCipher{}).writeMsg(msg); err != nil {
			t.Fatal(err)
		}
		frames := 1 + max(0, (n-(maxChunk-lenSize)+maxChunk-1)/maxChunk)
		if got := countFrames(t, wire.Bytes()); got != frames {
			t.Errorf("%d bytes: %d frames, want %d", n, got, frames)
		}
		got, err := newFrameReader(&wire, plainCipher{}, MaxMessage).readMsg()
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	if err := newFrameWriter(io.Discard, plainCipher{}).writeMsg(make([]byte, MaxMessage+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize write: %v", err)
	}
}

func countFrames(t *testing.T, b []byte) int {
	n := 0
	for len(b) > 0 {
		l := int(binary.BigEndian.Uint16(b))
		if l > maxFrame {
			t.Fatalf("frame of %d", l)
		}
		b = b[2+l:]
		n++
	}
	return n
}

// frame builds one wire frame around plaintext pt.
func frame(pt []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(pt)+tagSize))
	b = append(b, pt...)
	return append(b, make([]byte, tagSize)...)
}

func TestFramingRejects(t *testing.T) {
	hdr := func(total uint32, data string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, total), data...)
	}
	cases := map[string][]byte{
		"over the cap":         frame(hdr(MaxMessage+1, "x")),
		"no length":            frame([]byte{1, 2}),
		"data past the length": frame(hdr(1, "xy")),
		"empty continuation":   append(frame(hdr(3, "x")), frame(nil)...),
		"long continuation":    append(frame(hdr(3, "x")), frame([]byte("yzw"))...),
		"truncated":            frame(hdr(3, "x"))[:8],
		"short frame":          {0, 3, 1, 2, 3},
		"eof mid-message":      frame(hdr(10, "x")),
	}
	for name, wire := range cases {
		got, err := newFrameReader(bytes.NewReader(wire), plainCipher{}, MaxMessage).readMsg()
		if err == nil || got != nil {
			t.Errorf("%s: accepted (%v)", name, got)
		}
	}
}

// A claimed length over the cap is refused before anything that size is allocated.
func TestFramingCapBeforeAlloc(t *testing.T) {
	wire := frame(append(binary.BigEndian.AppendUint32(nil, 1<<31), 'x'))
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if _, err := newFrameReader(bytes.NewReader(wire), plainCipher{}, MaxMessage).readMsg(); err == nil {
		t.Fatal("2 GiB claim accepted")
	}
	runtime.ReadMemStats(&m1)
	if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 1<<20 {
		t.Fatalf("reading a 2 GiB claim allocated %d bytes", grew)
	}
}

func FuzzFrameReader(f *testing.F) {
	var w bytes.Buffer
	newFrameWriter(&w, plainCipher{}).writeMsg([]byte("hello"))
	f.Add(w.Bytes())
	w.Reset()
	newFrameWriter(&w, plainCipher{}).writeMsg(make([]byte, 70000))
	f.Add(w.Bytes())
	f.Add([]byte{0, 20, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data), plainCipher{}, 1<<20)
		for {
			msg, err := fr.readMsg()
			if err != nil {
				if msg != nil {
					t.Fatal("error with a message")
				}
				return
			}
			// Whatever decodes re-encodes to a stream that decodes to the same message.
			var again bytes.Buffer
			if err := newFrameWriter(&again, plainCipher{}).writeMsg(msg); err != nil {
				t.Fatal(err)
			}
			back, err := newFrameReader(&again, plainCipher{}, 1<<20).readMsg()
			if err != nil || !bytes.Equal(back, msg) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

func FuzzEnvelope(f *testing.F) {
	for _, e := range []*Envelope{
		{V: 1, ID: 1, Kind: "secrets.get", Profile: "work", Body: []byte{0x90}},
		{V: 1, ReplyTo: 9, Err: &Error{Code: CodeLocked, Msg: "locked"}},
		{V: 1, ID: 2, Kind: "hub.status", Caller: &Caller{Role: "secrets", PID: 3, UID: 1000, Exe: "/usr/bin/sesame"}},
	} {
		b, _ := MarshalEnvelope(e)
		f.Add(b)
	}
	f.Add([]byte{0x93, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := UnmarshalEnvelope(data)
		if err != nil {
			if e != nil {
				t.Fatal("error with an envelope")
			}
			return
		}
		// A decoded envelope re-encodes and decodes to the same thing.
		b, err := MarshalEnvelope(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := UnmarshalEnvelope(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := MarshalEnvelope(e2)
		if !bytes.Equal(b, b2) {
			t.Fatal("not stable under re-encoding")
		}
	})
}

func benchHub(b *testing.B) (path string, pub PublicKey, stop func()) {
	static := mustKey(b)
	role := mustKey(b)
	h, err := NewHub(HubConfig{Static: static, Roles: map[string]PublicKey{"secrets": role.Public}})
	if err != nil {
		b.Fatal(err)
	}
	path = b.TempDir() + "/bus.sock"
	ln, err := Listen(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go h.Serve(ctx, ln)
	rc, err := Dial(ctx, path, static.Public, DialConfig{Static: role, Seal: mustKey(b), Handler: echo})
	if err != nil {
		b.Fatal(err)
	}
	for !slices.ContainsFunc(h.Roles(), func(r RoleState) bool { return r.Running }) {
		time.Sleep(time.Millisecond)
	}
	return path, static.Public, func() { rc.Close(); cancel() }
}

func BenchmarkHubRoundTrip64(b *testing.B) { benchRoundTrip(b, 64) }

// BenchmarkHubRoundTrip1 is the latency of one client's sequential round trips.
func BenchmarkHubRoundTrip1(b *testing.B) { benchRoundTrip(b, 1) }

func benchRoundTrip(b *testing.B, clients int) {
	path, pub, stop := benchHub(b)
	defer stop()
	cls := make([]*Client, clients)
	for i := range cls {
		cl, err := Dial(context.Background(), path, pub, DialConfig{})
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		cls[i] = cl
	}
	body, _ := msgpack.Marshal(map[string]string{"name": "aws-key"})
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if _, err := cls[i].CallRaw(ctx, "secrets.get", "work", body); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/el.Seconds(), "rt/s")
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkHandshake measures one full IK handshake (both sides) over a socket pair.
func BenchmarkHandshake(b *testing.B) {
	server, client := mustKey(b), mustKey(b)
	for b.Loop() {
		c1, c2 := net.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := serverHandshake(c2, server, func(PublicKey) ([]byte, error) { return nil, nil })
			done <- err
		}()
		if _, _, err := clientHandshake(c1, client, server.Public); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		c1.Close()
		c2.Close()
	}
}
