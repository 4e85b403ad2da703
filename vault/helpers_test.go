package vault

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-sesame/sesame/secmem"
)

// testKDF is the cheapest Argon2id cost x/crypto accepts, for tests.
var testKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

const testPassword = "correct horse battery staple"

// newVault creates an unlocked vault for profile in a fresh directory.
func newVault(t testing.TB, profile string) *Vault {
	t.Helper()
	v, err := Create(Path(t.TempDir(), profile), profile, []byte(testPassword), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// newMulti creates an unlocked vault with one password factor per entry of
// passwords (factor id → password) under policy pol.
func newMulti(t testing.TB, profile string, pol policy, passwords map[string]string) *Vault {
	t.Helper()
	v, err := create(Path(t.TempDir(), profile), profile, pol, func([vaultIDLen]byte) ([]enrolled, error) {
		var out []enrolled
		for id, pw := range passwords {
			rec, s, err := enrollPassword(id, "password "+id, []byte(pw), testKDF)
			if err != nil {
				return nil, err
			}
			out = append(out, enrolled{rec, s})
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// reopen closes v and opens its file again, locked.
func reopen(t testing.TB, v *Vault) *Vault {
	t.Helper()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := Open(v.Path(), v.Profile())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// reopenUnlocked is reopen followed by Unlock with testPassword.
func reopenUnlocked(t testing.TB, v *Vault) *Vault {
	t.Helper()
	w := reopen(t, v)
	if err := w.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	return w
}

// mustGet returns the value of name as a string (tests only: real code
// never turns a secret into a string).
func mustGet(t testing.TB, v *Vault, name string) string {
	t.Helper()
	b, err := v.Get(name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	defer b.Destroy()
	return string(b.Bytes())
}

func mustSet(t testing.TB, v *Vault, name, value string) {
	t.Helper()
	if err := v.Set(name, []byte(value)); err != nil {
		t.Fatalf("Set(%q): %v", name, err)
	}
}

// rawDB opens the database file of a closed vault directly.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := openDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rawExec(t testing.TB, path, query string, args ...any) {
	t.Helper()
	db := rawDB(t, path)
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// headerBlob returns the stored header of a closed vault.
func headerBlob(t testing.TB, path string) []byte {
	t.Helper()
	db := rawDB(t, path)
	var b []byte
	if err := db.QueryRow(`SELECT value FROM meta WHERE key = 'header'`).Scan(&b); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return b
}

func setHeaderBlob(t testing.TB, path string, b []byte) {
	t.Helper()
	rawExec(t, path, `UPDATE meta SET value = ? WHERE key = 'header'`, b)
}

// editHeader decodes the header of a closed vault, lets edit change it, and
// stores it re-encoded with a correct checksum (but the old MAC): what an
// attacker with write access to the file can do.
func editHeader(t testing.TB, path string, edit func(h *header)) {
	t.Helper()
	h, err := decodeHeader(headerBlob(t, path))
	if err != nil {
		t.Fatal(err)
	}
	edit(h)
	setHeaderBlob(t, path, h.encode())
}

// withChecksum returns body with a correct trailing checksum appended.
func withChecksum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

// dirFiles returns the contents of every regular file in dir.
func dirFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func destroyAll(bufs []*secmem.Buf) {
	for _, b := range bufs {
		b.Destroy()
	}
}
