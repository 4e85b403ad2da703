package vault

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFileModes checks 0700 directories and 0600 files under several
// umasks, and that Open repairs loosened modes. It changes the process
// umask, so it does not run in parallel.
func TestFileModes(t *testing.T) {
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	checkAll := func(path string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if m := mode(p); m != 0o600 {
				t.Errorf("%s: mode %#o, want 0600", filepath.Base(p), m)
			}
		}
		if m := mode(filepath.Dir(path)); m != 0o700 {
			t.Errorf("vault dir: mode %#o, want 0700", m)
		}
	}
	for _, umask := range []int{0, 0o022, 0o077, 0o277} {
		t.Run(fmt.Sprintf("umask=%#o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			data := t.TempDir()
			path := Path(data, "work")
			v, err := Create(path, "work", []byte(testPassword), testKDF)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			mustSet(t, v, "k", "v")
			checkAll(path)
			if m := mode(filepath.Join(data, "sesame")); m != 0o700 {
				t.Errorf("created parent: mode %#o, want 0700", m)
			}
		})
	}

	// Loosened modes are repaired by Open.
	v := newVault(t, "work")
	mustSet(t, v, "k", "v")
	path := v.Path()
	v.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, "work")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	mustGet(t, w, "k")
	checkAll(path)
}

// TestPragmas checks the settings of a pooled connection.
func TestPragmas(t *testing.T) {
	v := newVault(t, "work")
	for pragma, want := range map[string]string{
		"journal_mode":   "wal",
		"synchronous":    "2", // FULL
		"temp_store":     "2", // MEMORY
		"busy_timeout":   "5000",
		"secure_delete":  "1",
		"application_id": fmt.Sprint(applicationID),
	} {
		var got string
		if err := v.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if got := v.db.Stats().MaxOpenConnections; got != maxOpenConns {
		t.Errorf("MaxOpenConnections = %d", got)
	}
}

func TestSchemaVersion(t *testing.T) {
	v := newVault(t, "work")
	var schema int
	if err := v.db.QueryRow(`SELECT value FROM meta WHERE key = 'schema'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if schema != schemaVersion || schemaVersion != migrations()[len(migrations())-1].version {
		t.Errorf("schema = %d, schemaVersion = %d", schema, schemaVersion)
	}
}

// TestSchemaNewer refuses a vault whose schema is newer than this build
// knows, and leaves it untouched.
func TestSchemaNewer(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "k", "v")
	path := v.Path()
	v.Close()
	rawExec(t, path, `UPDATE meta SET value = ? WHERE key = 'schema'`, schemaVersion+1)
	before, _ := os.ReadFile(path)
	_, err := Open(path, "work")
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Open(newer schema) = %v, want ErrUnsupported", err)
	}
	want := fmt.Sprintf(`vault: open "work": unsupported vault format: schema version %d is newer than this build knows (%d): upgrade sesame`, schemaVersion+1, schemaVersion)
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Open modified a vault with a newer schema")
	}
}

// TestMigrations runs a made-up version-2 migration through the real
// machinery: it is applied on open, in the same transaction as the header
// read, and a failing one leaves nothing behind.
func TestMigrations(t *testing.T) {
	v := newVault(t, "work")
	mustSet(t, v, "k", "v")
	path := v.Path()
	v.Close()

	schemaAndTables := func(db *sql.DB) (int, string) {
		var s int
		if err := db.QueryRow(`SELECT value FROM meta WHERE key = 'schema'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		var names []string
		rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		return s, strings.Join(names, ",")
	}

	// A failing migration rolls back entirely.
	failing := append(migrations(), migration{2, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE extra (x)`); err != nil {
			return err
		}
		return errors.New("boom")
	}})
	db := rawDB(t, path)
	if _, err := readHeaderWith(db, path, failing); err == nil || !strings.Contains(err.Error(), "migrate schema 1 to 2: boom") {
		t.Errorf("failing migration: %v", err)
	}
	if s, tables := schemaAndTables(db); s != 1 || tables != "meta,secrets" {
		t.Errorf("after a failed migration: schema %d, tables %s", s, tables)
	}

	// A working one is applied and recorded.
	applied := 0
	good := append(migrations(), migration{2, func(ctx context.Context, tx *sql.Tx) error {
		applied++
		_, err := tx.ExecContext(ctx, `CREATE TABLE extra (x)`)
		return err
	}})
	if _, err := readHeaderWith(db, path, good); err != nil {
		t.Fatal(err)
	}
	if _, err := readHeaderWith(db, path, good); err != nil { // already at 2: not applied again
		t.Fatal(err)
	}
	if s, tables := schemaAndTables(db); applied != 1 || s != 2 || tables != "extra,meta,secrets" {
		t.Errorf("after migrating: applied %d times, schema %d, tables %s", applied, s, tables)
	}
	db.Close()

	// This build (schema 1) now refuses the file.
	if _, err := Open(path, "work"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Open after the test migration = %v, want ErrUnsupported", err)
	}

}

func TestMigrationGap(t *testing.T) {
	v := newVault(t, "work")
	path := v.Path()
	v.Close()
	db := rawDB(t, path)
	_, err := readHeaderWith(db, path, []migration{{1, migrateV1}, {3, migrateV1}})
	if err == nil || !strings.Contains(err.Error(), "no migration from schema 1 to 3") {
		t.Errorf("gap: %v", err)
	}
}

// TestNoPlaintextOnDisk runs a workload with distinctive names and values
// and then searches every file in the vault directory (database, -wal,
// -shm, anything else) for each of them and for the password.
func TestNoPlaintextOnDisk(t *testing.T) {
	const password = "PLAINTEXT-PASSWORD-b2d4e6"
	dir := filepath.Join(t.TempDir(), "vaults")
	path := filepath.Join(dir, "work.db")
	v, err := Create(path, "work", []byte(password), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var needles []string
	name := func(i int) string { return fmt.Sprintf("PLAINTEXT-NAME-7f3a-%03d", i) }
	value := func(i, gen int) string {
		return fmt.Sprintf("PLAINTEXT-VALUE-c9e1-%03d-gen%d-%s", i, gen, strings.Repeat("z", i))
	}
	for i := 0; i < 60; i++ {
		mustSet(t, v, name(i), value(i, 0))
		needles = append(needles, name(i), value(i, 0))
	}
	for i := 0; i < 60; i += 3 { // overwrite
		mustSet(t, v, name(i), value(i, 1))
		needles = append(needles, value(i, 1))
	}
	for i := 1; i < 60; i += 4 { // delete
		if err := v.Delete(name(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 60; i += 2 { // read (even ones were never deleted)
		mustGet(t, v, name(i))
	}
	bufs, err := v.GetMany([]string{name(0), name(2)})
	if err != nil {
		t.Fatal(err)
	}
	destroyAll(bufs)
	if _, err := v.List(); err != nil {
		t.Fatal(err)
	}
	needles = append(needles, password)

	search := func(when string, wantFiles ...string) {
		t.Helper()
		files := dirFiles(t, dir)
		for _, f := range wantFiles {
			if _, ok := files[f]; !ok {
				t.Errorf("%s: %s does not exist; the search would be vacuous", when, f)
			}
		}
		for fname, content := range files {
			for _, n := range needles {
				// Also a 12-byte prefix: a partial leak counts.
				for _, s := range []string{n, n[:12]} {
					if bytes.Contains(content, []byte(s)) {
						t.Errorf("%s: %s contains %q", when, fname, s)
					}
				}
			}
		}
	}
	search("while open", "work.db", "work.db-wal", "work.db-shm")
	v.Lock()
	search("after lock", "work.db", "work.db-wal")
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	search("after close", "work.db")
	if files := dirFiles(t, dir); len(files) != 1 {
		t.Errorf("files left after close: %d, want only work.db", len(files))
	}
}

func TestOpenDoesNotCreate(t *testing.T) {
	// mode=rw: SQLite must not create a missing file even if asked directly.
	p := filepath.Join(t.TempDir(), "nope.db")
	if db, err := openDB(p); err == nil {
		db.Close()
		t.Error("openDB created a missing database")
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the missing database now exists")
	}
}

// TestDatabaseDamage edits the tables of a closed vault.
func TestDatabaseDamage(t *testing.T) {
	for _, tc := range []struct{ name, sql, msg string }{
		{"no meta", `DROP TABLE meta`, "corrupt database: no meta table"},
		{"no schema", `DELETE FROM meta WHERE key = 'schema'`, "corrupt database: no schema version"},
		{"text schema", `UPDATE meta SET value = 'one' WHERE key = 'schema'`, "corrupt database: schema version is not a positive integer"},
		{"negative schema", `UPDATE meta SET value = -1 WHERE key = 'schema'`, "corrupt database: schema version is not a positive integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVault(t, "work")
			path := v.Path()
			v.Close()
			rawExec(t, path, tc.sql)
			_, err := Open(path, "work")
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Open = %v, want ErrCorrupt containing %q", err, tc.msg)
			}
		})
	}
}

// TestReadOnlyFile: a vault file left 0400 is repaired before SQLite opens
// it, so writes work.
func TestReadOnlyFile(t *testing.T) {
	v := newVault(t, "work")
	path := v.Path()
	v.Close()
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, "work")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	mustSet(t, w, "k", "v")
}
