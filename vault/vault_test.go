package vault

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

func TestRoundTrip(t *testing.T) {
	v := newVault(t, "work")
	if v.Locked() {
		t.Fatal("a new vault is locked")
	}
	secrets := map[string]string{
		"api-token":                     "tok_123",
		"db.password":                   "hunter2",
		"empty":                         "",
		"unicode ключ 🔑":                "значение",
		"binary":                        "\x00\x01\xff\x00",
		strings.Repeat("n", MaxNameLen): strings.Repeat("v", 4096),
	}
	for name, value := range secrets {
		mustSet(t, v, name, value)
	}
	check := func(v *Vault) {
		t.Helper()
		for name, want := range secrets {
			if got := mustGet(t, v, name); got != want {
				t.Errorf("Get(%q) = %q, want %q", name, got, want)
			}
		}
		if n, err := v.Len(); err != nil || n != len(secrets) {
			t.Errorf("Len() = %d, %v; want %d", n, err, len(secrets))
		}
	}
	check(v)
	check(reopenUnlocked(t, v))
}

func TestBigValue(t *testing.T) {
	v := newVault(t, "work")
	big := bytes.Repeat([]byte{0xa5}, MaxValueLen)
	if err := v.Set("big", big); err != nil {
		t.Fatal(err)
	}
	b, err := v.Get("big")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	if !b.Equal(big) {
		t.Error("big value differs")
	}
	if err := v.Set("too-big", make([]byte, MaxValueLen+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Set(MaxValueLen+1) = %v, want ErrInvalid", err)
	}
}

func TestOverwrite(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "k", "first")
	mustSet(t, v, "k", "second, longer than the first")
	if got := mustGet(t, v, "k"); got != "second, longer than the first" {
		t.Errorf("after overwrite Get = %q", got)
	}
	mustSet(t, v, "k", "3")
	if n, _ := v.Len(); n != 1 {
		t.Errorf("Len after overwrites = %d, want 1", n)
	}
	v = reopenUnlocked(t, v)
	if got := mustGet(t, v, "k"); got != "3" {
		t.Errorf("after reopen Get = %q, want %q", got, "3")
	}
}

func TestFreshNonce(t *testing.T) {
	v := newVault(t, "work")
	nonces := map[string]bool{}
	for i := 0; i < 20; i++ {
		mustSet(t, v, "same", "same value")
		var nonce, value []byte
		if err := v.db.QueryRow(`SELECT nonce, value FROM secrets`).Scan(&nonce, &value); err != nil {
			t.Fatal(err)
		}
		if nonces[string(nonce)] || nonces[string(value)] {
			t.Fatal("a write reused a nonce or produced the same ciphertext")
		}
		nonces[string(nonce)] = true
		nonces[string(value)] = true
	}
}

func TestDelete(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "a", "1")
	mustSet(t, v, "b", "2")
	if err := v.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	err := v.Delete("a")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if want := `vault: delete "work": secret "a": not found`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if names, _ := v.List(); !slices.Equal(names, []string{"b"}) {
		t.Errorf("List = %q", names)
	}
	v = reopenUnlocked(t, v)
	if _, err := v.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after reopen: %v, want ErrNotFound", err)
	}
	if got := mustGet(t, v, "b"); got != "2" {
		t.Errorf("Get(b) = %q", got)
	}
}

func TestList(t *testing.T) {
	v := newVault(t, "work")
	names := []string{"zeta", "Alpha", "alpha", "beta.2", "beta.10", "_x", "ü", "a b", "0"}
	for _, n := range names {
		mustSet(t, v, n, "v-"+n)
	}
	want := slices.Clone(names)
	slices.Sort(want) // bytewise
	got, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	// The cache follows Set and Delete.
	mustSet(t, v, "new", "x")
	if err := v.Delete("zeta"); err != nil {
		t.Fatal(err)
	}
	want = append(slices.DeleteFunc(want, func(s string) bool { return s == "zeta" }), "new")
	slices.Sort(want)
	if got, _ := v.List(); !slices.Equal(got, want) {
		t.Errorf("List after changes = %q, want %q", got, want)
	}
	// And a fresh unlock decrypts the same names from disk.
	v = reopenUnlocked(t, v)
	if got, _ := v.List(); !slices.Equal(got, want) {
		t.Errorf("List after reopen = %q, want %q", got, want)
	}
	if n, _ := v.Len(); n != len(want) {
		t.Errorf("Len = %d, want %d", n, len(want))
	}
	v.Lock()
	if v.state.names != nil {
		t.Error("Lock kept the name cache")
	}
}

func TestGetMany(t *testing.T) {
	v := newVault(t, "work")
	for i := 0; i < 5; i++ {
		mustSet(t, v, fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	bufs, err := v.GetMany([]string{"k3", "k0", "k3", "k4"})
	if err != nil {
		t.Fatal(err)
	}
	defer destroyAll(bufs)
	var got []string
	for _, b := range bufs {
		got = append(got, string(b.Bytes()))
	}
	if want := []string{"v3", "v0", "v3", "v4"}; !slices.Equal(got, want) {
		t.Errorf("GetMany = %q, want %q", got, want)
	}
	bufs, err = v.GetMany([]string{"k1", "missing", "k2"})
	if !errors.Is(err, ErrNotFound) || bufs != nil {
		t.Fatalf("GetMany with a missing name = %v, %v", bufs, err)
	}
	if !strings.Contains(err.Error(), `secret "missing": not found`) {
		t.Errorf("error does not name the missing secret: %v", err)
	}
	if _, err := v.GetMany([]string{"ok", "a/b"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("GetMany with an invalid name: %v", err)
	}
	if bufs, err := v.GetMany(nil); err != nil || len(bufs) != 0 {
		t.Errorf("GetMany(nil) = %v, %v", bufs, err)
	}
}

func TestWrongPassword(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "k", "v")
	v = reopen(t, v)
	for _, pw := range []string{"wrong", "", testPassword + " ", strings.ToUpper(testPassword)} {
		err := v.Unlock([]byte(pw))
		if !errors.Is(err, ErrBadFactor) {
			t.Errorf("Unlock(%q) = %v, want ErrBadFactor", pw, err)
		}
		if err != nil && err.Error() != `vault: unlock "work": incorrect password` {
			t.Errorf("error = %q", err)
		}
		if !v.Locked() {
			t.Error("a wrong password unlocked the vault")
		}
	}
	if err := v.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	// On an unlocked vault Unlock still checks the password and keeps the keys.
	k := v.state.keys
	if err := v.Unlock([]byte("wrong")); !errors.Is(err, ErrBadFactor) {
		t.Errorf("Unlock(wrong) on an unlocked vault = %v", err)
	}
	if err := v.Unlock([]byte(testPassword)); err != nil || v.state.keys != k {
		t.Errorf("Unlock(right) on an unlocked vault = %v, keys replaced: %v", err, v.state.keys != k)
	}
	if got := mustGet(t, v, "k"); got != "v" {
		t.Errorf("Get = %q", got)
	}
}

func TestLocked(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "k", "v")
	mk := v.state.keys.master
	v.Lock()
	if !v.Locked() {
		t.Fatal("Locked() = false after Lock")
	}
	if mk.Bytes() != nil {
		t.Error("Lock did not destroy the master key")
	}
	v.Lock() // idempotent
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, ErrLocked) {
			t.Errorf("%s on a locked vault: %v, want ErrLocked", op, err)
		}
	}
	_, err := v.Get("k")
	check("Get", err)
	if want := `vault: get "work": locked`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	_, err = v.GetMany([]string{"k"})
	check("GetMany", err)
	check("Set", v.Set("k", []byte("x")))
	check("Delete", v.Delete("k"))
	_, err = v.List()
	check("List", err)
	_, err = v.Len()
	check("Len", err)
	if err := v.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, v, "k"); got != "v" {
		t.Errorf("Get after unlock = %q", got)
	}
}

func TestClosed(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "k", "v")
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !v.Locked() {
		t.Error("a closed vault is not locked")
	}
	if _, err := v.Get("k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	if err := v.Set("k", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close: %v", err)
	}
	if err := v.Unlock([]byte(testPassword)); !errors.Is(err, ErrClosed) {
		t.Errorf("Unlock after Close: %v", err)
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "precious", "do not lose me")
	path := v.Path()
	dir := filepath.Dir(path)
	v.Lock() // the reference destroyed a *locked* vault when init was re-run
	before := dirFiles(t, dir)

	_, err := Create(path, "work", []byte("another password"), testKDF)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Create over an existing vault: %v, want ErrExists", err)
	}
	if want := fmt.Sprintf(`vault: create "work": %q: already exists`, path); err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	after := dirFiles(t, dir)
	if !reflect.DeepEqual(before, after) {
		t.Error("Create changed the directory of an existing vault")
	}

	// The old vault still works with the old password.
	v = reopenUnlocked(t, v)
	if got := mustGet(t, v, "precious"); got != "do not lose me" {
		t.Errorf("Get = %q", got)
	}
	v.Close()

	// A leftover WAL without its database is not replaced either (SQLite
	// would replay it into the new file).
	dir2 := t.TempDir()
	p2 := filepath.Join(dir2, "home.db")
	if err := os.WriteFile(p2+"-wal", []byte("stale wal"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(p2, "home", []byte("pw"), testKDF); !errors.Is(err, ErrExists) {
		t.Errorf("Create next to a stale -wal: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(p2 + "-wal"); string(b) != "stale wal" {
		t.Error("Create touched the stale -wal")
	}
	if _, err := os.Stat(p2); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Create left a database next to the stale -wal")
	}
}

func TestCreateArguments(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(filepath.Join(dir, "a.db"), "a", nil, testKDF); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty password: %v", err)
	}
	if _, err := Create(filepath.Join(dir, "a.db"), "-a", []byte("pw"), testKDF); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad profile: %v", err)
	}
	for _, k := range []KDFParams{{0, 64, 1}, {1, 7, 1}, {1, 64, 0}, {1, 8, 2}, {65, 64, 1}, {1, maxKDFMemoryKiB + 1, 1}} {
		if _, err := Create(filepath.Join(dir, "a.db"), "a", []byte("pw"), k); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create with %v: %v, want ErrInvalid", k, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed Creates left files: %v", ents)
	}
	// A path with characters that are special in URIs.
	odd := filepath.Join(dir, "we?ird #dir%41", "x y.db")
	v, err := Create(odd, "odd", []byte("pw"), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, v, "k", "v")
	v.Close()
	if _, err := os.Stat(odd); err != nil {
		t.Errorf("vault not at the odd path: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(odd)); len(ents) != 1 {
		t.Errorf("Create left extra files: %v", ents)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.db"), "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := Open(filepath.Join(dir, "x.db"), "bad/profile"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(bad profile) = %v", err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, content := range map[string][]byte{
		"empty.db":  nil,
		"text.db":   []byte(strings.Repeat("not a database\n", 10)),
		"random.db": bytes.Repeat([]byte{0x5a, 0x17, 0xee}, 2000),
	} {
		p := write(name, content)
		_, err := Open(p, "work")
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) {
			t.Errorf("Open(%s) = %v, want ErrCorrupt naming the file", name, err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, content) {
			t.Errorf("Open(%s) modified the file", name)
		}
	}
	// Another SQLite database is refused before SQLite opens it, so it is
	// not converted to WAL mode.
	other := filepath.Join(dir, "other.db")
	rawCreate(t, other)
	before, _ := os.ReadFile(other)
	if _, err := Open(other, "work"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open(other sqlite db) = %v, want ErrCorrupt", err)
	}
	if after, _ := os.ReadFile(other); !bytes.Equal(before, after) {
		t.Error("Open modified a foreign SQLite database")
	}
	// Directories and symlinks are refused.
	if _, err := Open(dir, "work"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(dir) = %v", err)
	}
	v := newVault(t, "work")
	v.Close()
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(v.Path(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link, "work"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(symlink) = %v", err)
	}
	// A vault opened under another profile name.
	_, err := Open(v.Path(), "home")
	if err == nil || !strings.Contains(err.Error(), `is the vault of profile "work"`) {
		t.Errorf("Open with the wrong profile = %v", err)
	}
}

// rawCreate makes a plain SQLite database with one table.
func rawCreate(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := openDB(path, "journal_mode(DELETE)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`PRAGMA journal_mode = DELETE; CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" for valid, else a substring of the error
	}{
		{"a", ""},
		{"db.password", ""},
		{"with space", ""},
		{"ünïcödé", ""},
		{"a.b.c", ""},
		{".hidden", ""},
		{"trailing.", ""},
		{"back\\slash", ""},
		{strings.Repeat("x", 256), ""},
		{"", "empty"},
		{strings.Repeat("x", 257), "257 bytes, longer than 256"},
		{"a\x00b", "NUL"},
		{"a/b", `contains "/"`},
		{"/", `contains "/"`},
		{"..", `contains ".."`},
		{"a..b", `contains ".."`},
		{"..a", `contains ".."`},
	} {
		err := ValidateName(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateName(%q) = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("ValidateName(%q) = %v, want an ErrInvalid containing %q", tc.name, err, tc.want)
		case err != nil && !strings.HasPrefix(err.Error(), "vault: invalid secret name"):
			t.Errorf("ValidateName(%q) = %q: wrong prefix", tc.name, err)
		}
	}
	// Operations report the same errors with their context.
	v := newVault(t, "work")
	err := v.Set("a/b", []byte("x"))
	if want := `vault: set "work": invalid secret name "a/b": contains "/"`; err == nil || err.Error() != want {
		t.Errorf("Set(a/b) = %v, want %q", err, want)
	}
}

func TestValidateProfile(t *testing.T) {
	for _, tc := range []struct {
		p    string
		want string
	}{
		{"work", ""},
		{"W0rk_2-x", ""},
		{"0", ""},
		{strings.Repeat("p", 64), ""},
		{"", "empty"},
		{strings.Repeat("p", 65), "longer than 64"},
		{"_work", "must start with"},
		{"-work", "must start with"},
		{".work", "must start with"},
		{"wo.rk", `byte 2 ('.')`},
		{"wo/rk", `byte 2 ('/')`},
		{"wo rk", `byte 2 (' ')`},
		{"wörk", "byte 1"},
		{"..", "must start with"},
	} {
		err := ValidateProfile(tc.p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateProfile(%q) = %v, want nil", tc.p, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("ValidateProfile(%q) = %v, want an ErrInvalid containing %q", tc.p, err, tc.want)
		}
	}
}

func TestPath(t *testing.T) {
	if got, want := Path("/home/u/.local/share", "work"), "/home/u/.local/share/sesame/vaults/work.db"; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}

func TestDefaultKDF(t *testing.T) {
	if err := DefaultKDF.validate(); err != nil {
		t.Fatal(err)
	}
	if DefaultKDF.MemoryKiB < 64<<10 {
		t.Errorf("DefaultKDF uses %d KiB, want at least 64 MiB", DefaultKDF.MemoryKiB)
	}
}

func TestConcurrent(t *testing.T) {
	v := newVault(t, "work")
	const workers, rounds = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				if err := v.Set(name, []byte(name)); err != nil {
					errs <- err
					continue
				}
				b, err := v.Get(name)
				if err != nil {
					errs <- err
					continue
				}
				if string(b.Bytes()) != name {
					errs <- fmt.Errorf("Get(%s) = %q", name, b.Bytes())
				}
				b.Destroy()
				if _, err := v.List(); err != nil {
					errs <- err
				}
				if i%2 == 0 {
					if err := v.Delete(name); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	// Lock and unlock while the workers run: they may see ErrLocked, but
	// nothing else.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 3; i++ {
			v.Lock()
			if err := v.Unlock([]byte(testPassword)); err != nil {
				errs <- err
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrLocked) {
			t.Error(err)
		}
	}
	if err := v.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	names, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	fromDisk := reopenUnlocked(t, v)
	names2, err := fromDisk.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, names2) {
		t.Errorf("name cache %q differs from disk %q", names, names2)
	}
}

func TestWipeAEAD(t *testing.T) {
	key := bytes.Repeat([]byte{7}, chacha20poly1305.KeySize)
	a, err := newAEAD(bytes.Clone(key))
	if err != nil {
		t.Fatal(err)
	}
	field := reflect.ValueOf(a).Elem().Field(0)
	if field.Index(0).Uint() != 7 {
		t.Fatal("unexpected x/crypto layout: the key is not the first field")
	}
	wipeAEAD(a)
	for i := 0; i < field.Len(); i++ {
		if field.Index(i).Uint() != 0 {
			t.Fatalf("wipeAEAD left key byte %d; x/crypto's layout changed", i)
		}
	}
	zero, _ := chacha20poly1305.NewX(make([]byte, chacha20poly1305.KeySize))
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if !bytes.Equal(a.Seal(nil, nonce, []byte("x"), nil), zero.Seal(nil, nonce, []byte("x"), nil)) {
		t.Error("a wiped AEAD does not behave like one with a zero key")
	}
	wipeAEAD(nil) // must not panic
}

func TestPolicies(t *testing.T) {
	pw := map[string]string{"a": "alpha pw", "b": "bravo pw", "c": "charlie pw"}
	in := func(ids ...string) map[string][]byte {
		m := map[string][]byte{}
		for _, id := range ids {
			m[id] = []byte(pw[id])
		}
		return m
	}
	wrong := func(m map[string][]byte, id string) map[string][]byte {
		m[id] = []byte("wrong")
		return m
	}
	for _, tc := range []struct {
		pol   policy
		ids   []string // enrolled factors
		wraps int
		ok    []map[string][]byte
		bad   []map[string][]byte // enough factors, one wrong: ErrBadFactor
		short []map[string][]byte // too few factors: ErrMissingFactors, nothing tried
	}{
		{policy{kind: policyAny}, []string{"a", "b"}, 2,
			[]map[string][]byte{in("a"), in("b"), in("a", "b"), wrong(in("a", "b"), "a")},
			[]map[string][]byte{wrong(in("a"), "a"), wrong(wrong(in("a", "b"), "a"), "b")},
			[]map[string][]byte{in()}},
		{policy{kind: policyAll}, []string{"a", "b", "c"}, 1,
			[]map[string][]byte{in("a", "b", "c")},
			[]map[string][]byte{wrong(in("a", "b", "c"), "b")},
			[]map[string][]byte{in(), in("a"), in("a", "b"), wrong(in("a", "b"), "b")}},
		{policy{kind: policyKOfN, k: 2}, []string{"a", "b", "c"}, 3,
			[]map[string][]byte{in("a", "b"), in("a", "c"), in("b", "c"), in("a", "b", "c"), wrong(in("a", "b", "c"), "c")},
			[]map[string][]byte{wrong(in("a", "b"), "a"), wrong(wrong(in("a", "b", "c"), "a"), "b")},
			[]map[string][]byte{in("a"), in("c"), wrong(in("b"), "b")}},
	} {
		t.Run(tc.pol.String(), func(t *testing.T) {
			pws := map[string]string{}
			for _, id := range tc.ids {
				pws[id] = pw[id]
			}
			v := newMulti(t, "multi", tc.pol, pws)
			mustSet(t, v, "k", "v")
			if len(v.header().wraps) != tc.wraps {
				t.Errorf("%d wraps, want %d", len(v.header().wraps), tc.wraps)
			}
			v = reopen(t, v)
			for _, m := range tc.bad {
				err := v.unlock(m)
				if !errors.Is(err, ErrBadFactor) {
					t.Errorf("unlock with %d inputs: %v, want ErrBadFactor", len(m), err)
				}
				if err != nil && err.Error() != `vault: unlock "multi": incorrect password` {
					t.Errorf("error %q names more than it should", err)
				}
			}
			for _, m := range tc.short {
				if err := v.unlock(m); !errors.Is(err, ErrMissingFactors) {
					t.Errorf("unlock with %d inputs: %v, want ErrMissingFactors", len(m), err)
				}
			}
			for _, m := range tc.ok {
				if err := v.unlock(m); err != nil {
					t.Errorf("unlock with %d inputs: %v", len(m), err)
					continue
				}
				if got := mustGet(t, v, "k"); got != "v" {
					t.Errorf("Get = %q", got)
				}
				v.Lock()
			}
		})
	}
}
