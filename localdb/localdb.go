// Package localdb opens the small private SQLite databases that roles keep for themselves
// (launch frecency, snippets): one file per profile, mode 0600 in 0700 directories, in WAL
// mode with synchronous=FULL (an acknowledged write survives a crash), a busy timeout, and a
// small connection pool. Nothing secret goes in them; vaults are package vault's business.
package localdb

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Open opens (creating when missing) the database at path, an absolute path, and runs schema
// (statements that must be idempotent, such as CREATE TABLE IF NOT EXISTS).
func Open(path, schema string) (*sql.DB, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("localdb: %q is not absolute", path)
	}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("localdb: %w", err)
	}
	// Create the file ourselves with mode 0600: SQLite would use 0644 less the umask, and it
	// gives the -wal and -shm files the main file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localdb: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("localdb: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("localdb: %q is not a regular file", path)
	}
	if fi.Mode().Perm() != 0o600 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("localdb: %w", err)
		}
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	q := []string{"mode=rw", "_txlock=immediate"}
	for _, p := range []string{"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(FULL)", "temp_store(MEMORY)"} {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	db, err := sql.Open("sqlite", u.String()+"?"+strings.Join(q, "&"))
	if err != nil {
		return nil, fmt.Errorf("localdb: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("localdb: %s: %w", path, err)
	}
	return db, nil
}

// mkdirPrivate is os.MkdirAll(dir, 0700) with each created directory's mode fixed, so a
// restrictive umask cannot leave a parent its children cannot be created in.
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
