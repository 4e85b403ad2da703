package vault

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Database settings. See "Files and durability" in the package documentation.
const (
	driverName    = "sqlite"
	maxOpenConns  = 2
	applicationID = 0x7365736d // "sesm", at offset 68 of the SQLite file header
	sqliteMagic   = "SQLite format 3\x00"

	// schemaVersion is the newest schema this build knows: the version of
	// the last entry of migrations().
	schemaVersion = 1
)

// pragmas returns the pragmas applied to every connection. WAL with
// synchronous=FULL makes every acknowledged commit durable (the WAL is
// fsynced before Exec returns); temp_store=MEMORY keeps SQLite's temporary
// tables and indices off the disk; secure_delete overwrites deleted cells in
// the main file.
func pragmas() []string {
	return []string{
		"busy_timeout(5000)",
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"temp_store(MEMORY)",
		"secure_delete(ON)",
	}
}

// dsn returns the data source name for the database at path (absolute).
// mode=rw stops SQLite from creating a missing file; _txlock=immediate takes
// the write lock when a read-write transaction begins, so two writers wait on
// busy_timeout instead of failing to upgrade.
func dsn(path string, extra ...string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	q := []string{"mode=rw", "_txlock=immediate"}
	for _, p := range append(pragmas(), extra...) {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	return u.String() + "?" + strings.Join(q, "&")
}

// openDB opens a connection pool on path and checks that it works.
func openDB(path string, extra ...string) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn(path, extra...))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// A migration upgrades the schema from version-1 to version. Migrations run
// in order, all inside the transaction that opens the vault.
type migration struct {
	version int
	apply   func(ctx context.Context, tx *sql.Tx) error
}

// migrations returns the schema migrations of this build, oldest first.
// Never edit a released migration: add a new one and bump schemaVersion.
func migrations() []migration {
	return []migration{
		{1, migrateV1},
	}
}

// migrateV1 creates the secrets table. The meta table exists in every
// version (it holds the schema version itself) and is made by initDB.
//
// The table is WITHOUT ROWID, keyed by the lookup id: a Get is one b-tree
// descent instead of an index descent plus a table descent, which keeps a
// Get in a 100,000-secret vault close to one in a 100-secret vault.
func migrateV1(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE secrets (
		lid   BLOB PRIMARY KEY NOT NULL, -- HMAC-SHA256(lookup key, name)
		nonce BLOB NOT NULL,             -- 24 random bytes, new on every write
		name  BLOB NOT NULL,             -- XChaCha20-Poly1305 of the name
		value BLOB NOT NULL              -- XChaCha20-Poly1305 of the value
	) WITHOUT ROWID`)
	return err
}

// errBadSchema reports a meta 'schema' value that is not a positive integer.
var errBadSchema = errors.New("schema version is not a positive integer")

// schemaOf returns the schema version in meta, or 0 if there is none.
func schemaOf(ctx context.Context, tx *sql.Tx) (int, error) {
	var v any
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok || n < 1 || n > 1<<20 {
		return 0, errBadSchema
	}
	return int(n), nil
}

// newerSchemaError is returned by migrate when the file is newer than the
// migrations it was given.
type newerSchemaError struct{ have, know int }

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("%v: schema version %d is newer than this build knows (%d): upgrade sesame", ErrUnsupported, e.have, e.know)
}

func (e *newerSchemaError) Unwrap() error { return ErrUnsupported }

// migrate brings the schema up to the last version in list and records it.
// It refuses a schema newer than list knows, and changes nothing then.
func migrate(ctx context.Context, tx *sql.Tx, list []migration) (from, to int, err error) {
	cur, err := schemaOf(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	latest := list[len(list)-1].version
	if cur > latest {
		return cur, cur, &newerSchemaError{cur, latest}
	}
	from = cur
	for _, m := range list {
		if m.version <= cur {
			continue
		}
		if m.version != cur+1 {
			return from, cur, fmt.Errorf("no migration from schema %d to %d", cur, m.version)
		}
		if err := m.apply(ctx, tx); err != nil {
			return from, cur, fmt.Errorf("migrate schema %d to %d: %w", cur, m.version, err)
		}
		cur = m.version
	}
	if cur != from {
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('schema', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, cur)
	}
	return from, cur, err
}

// initDB turns the empty file at path into a vault holding header blob. The
// application id is set by the first connection, before the switch to WAL,
// so it lands in the main file at once. When initDB returns, everything is
// checkpointed into path and the -wal and -shm files are gone.
func initDB(path string, blob []byte) error {
	db, err := openDB(path, fmt.Sprintf("application_id(%d)", applicationID))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL)`); err != nil {
		return err
	}
	if _, _, err := migrate(ctx, tx, migrations()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('header', ?)`, blob); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	return db.Close()
}

// checkVaultFile checks, before SQLite touches it, that path is a regular
// file of ours that starts like a sesame vault: the SQLite magic and our
// application id. This keeps Open from converting some other database to
// WAL mode or from misreading a stray file.
func checkVaultFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%q is owned by uid %d, not by uid %d", path, st.Uid, os.Getuid())
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var hdr [72]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return &corruptError{path, "file", errors.New("not a sesame vault (too short)")}
	}
	if !bytes.HasPrefix(hdr[:], []byte(sqliteMagic)) {
		return &corruptError{path, "file", errors.New("not a sesame vault (not an SQLite database)")}
	}
	if id := uint32(hdr[68])<<24 | uint32(hdr[69])<<16 | uint32(hdr[70])<<8 | uint32(hdr[71]); id != applicationID {
		return &corruptError{path, "file", fmt.Errorf("not a sesame vault (application id %#x)", id)}
	}
	return nil
}

// ensureDir creates dir and any missing parents, each 0700, and makes dir
// itself 0700, whatever the umask. Existing parents are left alone.
func ensureDir(dir string) error {
	if err := mkdirPrivate(dir); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q is not a directory", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// mkdirPrivate is os.MkdirAll(dir, 0700) with the modes fixed right after
// each Mkdir, so a restrictive umask (say 0277) cannot leave a parent that
// its own children cannot be created in.
func mkdirPrivate(dir string) error {
	_, err := os.Stat(dir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirPrivate(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// fixFileModes makes the database and its -wal and -shm files (those that
// exist) 0600. SQLite creates -wal and -shm with the main file's mode, so
// this is a check that normally changes nothing.
func fixFileModes(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%q is not a regular file", p)
		}
		if fi.Mode().Perm() != 0o600 {
			if err := os.Chmod(p, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncDir fsyncs a directory, making a rename or link in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// syncFile fsyncs a file.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// corruptError reports a file that is damaged or not a vault. Its message
// names the file: `vault: "/path/work.db": corrupt header: checksum mismatch`.
type corruptError struct {
	path string
	what string // "file", "header", "database", "record of secret \"x\""
	err  error
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("vault: %q: %v %s: %v", e.path, ErrCorrupt, e.what, e.err)
}

func (e *corruptError) Unwrap() []error { return []error{ErrCorrupt, e.err} }

// dbError turns SQLite's "not a database" and "corrupt" results into a
// corruptError and returns other errors unchanged.
func dbError(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return &corruptError{path, "database", err}
		}
	}
	return err
}

// removeDB removes path and the SQLite files next to it, ignoring those
// that do not exist.
func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		os.Remove(p)
	}
}
