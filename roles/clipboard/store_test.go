package clipboard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// raw is every row as stored, by id.
func raw(t testing.TB, s *store) map[int64][3][]byte {
	t.Helper()
	rows, err := s.db.Query(`SELECT id, digest, nonce, sealed FROM entries`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][3][]byte{}
	for rows.Next() {
		var id int64
		var d, n, c []byte
		if err := rows.Scan(&id, &d, &n, &c); err != nil {
			t.Fatal(err)
		}
		out[id] = [3][]byte{d, n, c}
	}
	return out
}

func TestStoreRekey(t *testing.T) {
	s, old, nk := testStore(t), testKey(t, 0), testKey(t, 0)
	if err := s.checkKey(old); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	for i, text := range []string{"alpha", "bravo", "charlie"} {
		s.add(old, &content{MimeType: "text/plain", Data: []byte(text), Source: "clipboard"}, t0.Add(time.Duration(i)*time.Second), 1, 0)
	}
	s.add(old, &content{MimeType: "text/plain", Data: []byte("alpha")}, t0.Add(5*time.Second), 2, 0)
	// A row that opens under no key (tampered with) is deleted.
	bad, err := s.add(old, &content{MimeType: "image/png", Data: []byte("png")}, t0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE entries SET sealed = zeroblob(40) WHERE id = ?`, bad); err != nil {
		t.Fatal(err)
	}
	before := list(t, s, old)
	moved, dropped, err := s.rekey(old, nk)
	if err != nil || moved != 3 || dropped != 1 {
		t.Fatalf("rekey: %d moved, %d dropped, %v", moved, dropped, err)
	}
	after := list(t, s, nk)
	if len(after) != len(before) {
		t.Fatalf("%d entries after, %d before", len(after), len(before))
	}
	for i := range after {
		a, b := after[i], before[i]
		if a.id != b.id || string(a.c.Data) != string(b.c.Data) || a.c.MimeType != b.c.MimeType || a.c.Source != b.c.Source || !a.copied.Equal(b.copied) || a.count != b.count {
			t.Fatalf("entry %d: %+v, was %+v", i, a, b)
		}
	}
	if string(after[0].c.Data) != "alpha" || after[0].count != 3 {
		t.Fatalf("newest %+v", after[0])
	}
	// Nothing opens under the old key any more, and the file says it is the new key's.
	if n, err := s.scan(old, func(*row) bool { t.Fatal("a row opened under the old key"); return false }); n != 3 || err != nil {
		t.Fatalf("under the old key: %d bad, %v", n, err)
	}
	if err := s.checkKey(nk); err != nil {
		t.Fatal(err)
	}
	if err := s.checkKey(old); !errors.Is(err, errOtherKey) {
		t.Fatalf("old key: %v", err)
	}
	if _, _, err := s.rekey(old, nk); !errors.Is(err, errOtherKey) {
		t.Fatalf("rekey from a key the file is not under: %v", err)
	}
	// Repeats are still found (the digests are the new key's).
	id, _ := s.add(nk, &content{MimeType: "text/plain", Data: []byte("bravo")}, t0.Add(9*time.Second), 1, 0)
	if id != after[2].id || len(list(t, s, nk)) != 3 {
		t.Fatalf("repeat after rekey got id %d: %+v", id, list(t, s, nk))
	}
}

// TestStoreRekeyAtomic: a failure part way (here the third row's update) leaves every row and
// the key check as they were, all under the old key.
func TestStoreRekeyAtomic(t *testing.T) {
	s, old, nk := testStore(t), testKey(t, 0), testKey(t, 0)
	s.checkKey(old)
	var ids []int64
	for i := range 5 {
		id, err := s.add(old, &content{MimeType: "text/plain", Data: []byte{'a' + byte(i)}}, time.Unix(int64(1_800_000_000+i), 0), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	before := raw(t, s)
	if _, err := s.db.Exec(`CREATE TRIGGER fail BEFORE UPDATE OF sealed ON entries WHEN OLD.id = ` + fmt.Sprint(ids[2]) + ` BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.rekey(old, nk); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("rekey: %v", err)
	}
	if after := raw(t, s); !reflect.DeepEqual(after, before) {
		t.Fatal("a failed rekey changed rows")
	}
	if err := s.checkKey(old); err != nil {
		t.Fatalf("key check after a failed rekey: %v", err)
	}
	if rs := list(t, s, old); len(rs) != 5 {
		t.Fatalf("%d entries readable under the old key", len(rs))
	}
	s.db.Exec(`DROP TRIGGER fail`)
	if moved, _, err := s.rekey(old, nk); moved != 5 || err != nil {
		t.Fatal(moved, err)
	}
}

// BenchmarkRekey re-encrypts a history of 1,000 text entries (~100 bytes each) per op.
func BenchmarkRekey(b *testing.B) {
	s, k1, k2 := testStore(b), testKey(b, 0), testKey(b, 0)
	s.checkKey(k1)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 1000 {
		text := fmt.Sprintf("entry %04d %s", i, strings.Repeat("x", 90))
		if _, err := s.add(k1, &content{MimeType: "text/plain;charset=utf-8", Data: []byte(text)}, t0.Add(time.Duration(i)*time.Millisecond), 1, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if moved, _, err := s.rekey(k1, k2); moved != 1000 || err != nil {
			b.Fatal(moved, err)
		}
		k1, k2 = k2, k1
	}
}
