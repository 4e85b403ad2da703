package clipboard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-sesame/sesame/secmem"
)

func testKey(t testing.TB, fill byte) *keyring {
	t.Helper()
	b, err := secmem.New(32)
	if err != nil {
		t.Fatal(err)
	}
	if fill == 0 {
		rand.Read(b.Bytes())
	} else {
		for i := range b.Bytes() {
			b.Bytes()[i] = fill
		}
	}
	k, err := newKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.destroy)
	return k
}

func testStore(t testing.TB) *store {
	t.Helper()
	s, err := openStore(storePath(t.TempDir(), "work"), "work")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	return s
}

func list(t *testing.T, s *store, k *keyring) []*row {
	t.Helper()
	var out []*row
	if _, err := s.scan(k, func(r *row) bool { out = append(out, r); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStoreAddDedupeTrim(t *testing.T) {
	s, k := testStore(t), testKey(t, 0)
	if err := s.checkKey(k); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	a, _ := s.add(k, &content{MimeType: "text/plain", Data: []byte("alpha")}, t0, 1, 3)
	s.add(k, &content{MimeType: "text/plain", Data: []byte("bravo")}, t0.Add(time.Second), 1, 3)
	// A repeat is one entry, moved to the top and counted.
	a2, _ := s.add(k, &content{MimeType: "text/plain", Data: []byte("alpha")}, t0.Add(2*time.Second), 1, 3)
	if a2 != a {
		t.Fatalf("repeat got id %d, first %d", a2, a)
	}
	rs := list(t, s, k)
	if len(rs) != 2 || string(rs[0].c.Data) != "alpha" || rs[0].count != 2 || string(rs[1].c.Data) != "bravo" {
		t.Fatalf("%+v", rs)
	}
	// Same bytes, another type: another entry.
	s.add(k, &content{MimeType: "image/png", Data: []byte("alpha")}, t0.Add(3*time.Second), 1, 3)
	s.add(k, &content{MimeType: "text/plain", Data: []byte("charlie")}, t0.Add(4*time.Second), 1, 3)
	rs = list(t, s, k)
	if len(rs) != 3 || string(rs[0].c.Data) != "charlie" || rs[2].c.MimeType != "text/plain" || string(rs[2].c.Data) != "alpha" {
		t.Fatalf("trim kept %d: %+v", len(rs), rs)
	}
	r, err := s.get(k, a)
	if err != nil || string(r.c.Data) != "alpha" {
		t.Fatal(r, err)
	}
	if n, err := s.clear(); n != 3 || err != nil {
		t.Fatal(n, err)
	}
}

func TestStoreOtherKeyAndTamper(t *testing.T) {
	s, k := testStore(t), testKey(t, 1)
	s.checkKey(k)
	id1, _ := s.add(k, &content{MimeType: "text/plain", Data: []byte("one")}, time.Now(), 1, 0)
	id2, _ := s.add(k, &content{MimeType: "text/plain", Data: []byte("two")}, time.Now(), 1, 0)
	if err := s.checkKey(testKey(t, 2)); !errors.Is(err, errOtherKey) {
		t.Fatalf("another key: %v", err)
	}
	// Row 1's ciphertext onto row 2: it does not open there.
	if _, err := s.db.Exec(`UPDATE entries SET nonce = (SELECT nonce FROM entries WHERE id = ?), sealed = (SELECT sealed FROM entries WHERE id = ?) WHERE id = ?`, id1, id1, id2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.get(k, id2); err == nil {
		t.Fatal("a moved row decrypted")
	}
	// A row of another profile's file does not open either.
	other, err := openStore(filepath.Join(t.TempDir(), "personal.db"), "personal")
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	if _, err := other.db.Exec(`ATTACH DATABASE ? AS w`, s.path); err != nil {
		t.Fatal(err)
	}
	if _, err := other.db.Exec(`INSERT INTO entries SELECT * FROM w.entries WHERE id = ?`, id1); err != nil {
		t.Fatal(err)
	}
	if _, err := other.get(k, id1); err == nil {
		t.Fatal("a row of profile work decrypted in profile personal")
	}
}

func TestStoreNoPlaintext(t *testing.T) {
	s, k := testStore(t), testKey(t, 0)
	s.checkKey(k)
	secret := []byte("the quick brown fox and its password hunter2-zebra")
	for i := 0; i < 50; i++ {
		s.add(k, &content{MimeType: "text/plain;charset=utf-8", Data: append(append([]byte{}, secret...), byte('a'+i%26))}, time.Now(), 1, 0)
	}
	files, _ := filepath.Glob(s.path + "*")
	if len(files) == 0 {
		t.Fatal("no files")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, needle := range [][]byte{secret[:20], []byte("hunter2"), []byte("text/plain")} {
			if bytes.Contains(b, needle) {
				t.Fatalf("%s holds %q", f, needle)
			}
		}
	}
}
