package vault

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/open-sesame/sesame/secmem"
)

// SQL statements on the secrets table.
const (
	sqlGet    = `SELECT nonce, name, value FROM secrets WHERE lid = ?`
	sqlSet    = `INSERT INTO secrets (lid, nonce, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (lid) DO UPDATE SET nonce = excluded.nonce, name = excluded.name, value = excluded.value`
	sqlDelete = `DELETE FROM secrets WHERE lid = ?`
	sqlNames  = `SELECT lid, nonce, name FROM secrets`
	sqlCount  = `SELECT count(*) FROM secrets`
)

// A Vault is an open vault file. It starts locked (after [Open]) or unlocked
// (after [Create]); see the package documentation for the states.
//
// A Vault is safe for concurrent use by several goroutines. Reads (Get,
// GetMany, Len) run in parallel; writes, List, Lock, Unlock's final step and
// Close are exclusive.
type Vault struct {
	path    string // absolute
	profile string // validated, equal to hdr.profile
	// hdr is the current header. A header is never modified once decoded
	// or built: a factor change stores a whole new one (see ChangeFactors).
	hdr atomic.Pointer[header]
	db  *sql.DB
	// change serialises ChangeFactors, the only writer of hdr after open.
	change struct {
		sync.Mutex
	}
	// stmt holds the hot statements, prepared once (database/sql prepares
	// them again on each pooled connection as needed). Set at open, closed
	// by Close.
	stmt struct {
		get, set, delete *sql.Stmt
	}

	// state is everything that changes after Open.
	state struct {
		sync.RWMutex
		closed bool
		keys   *keys // nil while locked
		// names caches the decrypted secret names. It is nil until List
		// first needs it, kept up to date by Set and Delete, and dropped
		// on Lock: names are secret too.
		names map[string]struct{}
		// broken is set when a rotation's commit failed: the file may
		// hold either master key, so nothing more is done until the vault
		// is reopened (see rotate).
		broken error
	}
}

// Create makes a new vault for profile at path, protected by password with
// Argon2id cost kdf (use [DefaultKDF]), and returns it unlocked.
//
// Create refuses, with an error wrapping [ErrExists], if path or a -wal,
// -shm or -journal file next to it exists: it never opens, truncates or
// replaces an existing file. It builds the vault in a temporary file in the
// same directory and links it into place only when it is complete, so a
// crash leaves either no vault or a whole one. The directory is created if
// needed and made 0700; the file is 0600, whatever the umask.
//
// password must not be empty. Create does not keep it and does not modify
// it; the caller should wipe it.
func Create(path, profile string, password []byte, kdf KDFParams) (*Vault, error) {
	fail := func(err error) (*Vault, error) {
		return nil, fmt.Errorf("vault: create %q: %w", profile, err)
	}
	if err := validateProfile(profile); err != nil {
		return fail(err)
	}
	if err := kdf.validate(); err != nil {
		return fail(err)
	}
	if len(password) == 0 {
		return fail(fmt.Errorf("%w password: empty", ErrInvalid))
	}
	v, err := create(path, profile, policy{kind: policyAny}, func([vaultIDLen]byte) ([]enrolled, error) {
		rec, secret, err := enrollPassword(factorPassword, "password", password, kdf)
		if err != nil {
			return nil, err
		}
		return []enrolled{{rec, secret}}, nil
	})
	if err != nil {
		return fail(err)
	}
	return v, nil
}

// enrolled is a new factor: its header record and its secret.
type enrolled struct {
	rec    factorRecord
	secret *secmem.Buf
}

// create is Create for any policy and set of factors. enroll is called with
// the new vault's id once the path is known to be free, because it may be
// slow (Argon2id); create destroys the secrets it returns.
func create(path, profile string, pol policy, enroll func(vaultID [vaultIDLen]byte) ([]enrolled, error)) (*Vault, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm", abs + "-journal"} {
		_, err := os.Lstat(p)
		if err == nil {
			return nil, fmt.Errorf("%q: %w", p, ErrExists)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	dir := filepath.Dir(abs)
	if err := ensureDir(dir); err != nil {
		return nil, err
	}

	var vid [vaultIDLen]byte
	rand.Read(vid[:])
	factors, err := enroll(vid)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range factors {
			f.secret.Destroy()
		}
	}()
	slices.SortFunc(factors, func(a, b enrolled) int { return cmp.Compare(a.rec.id, b.rec.id) })

	mk, err := secmem.New(masterKeyLen)
	if err != nil {
		return nil, err
	}
	rand.Read(mk.Bytes()) // never fails (crypto/rand aborts the process instead)
	h, err := buildHeaderWith(vid, profile, pol, factors, mk)
	if err != nil {
		mk.Destroy()
		return nil, err
	}
	if err := publish(abs, h.encode()); err != nil {
		mk.Destroy()
		return nil, err
	}
	v, err := open(abs, profile)
	if err != nil {
		mk.Destroy()
		return nil, err
	}
	if v.header().vaultID != h.vaultID { // another Create won the race between publish and open
		mk.Destroy()
		v.Close()
		return nil, fmt.Errorf("%q: %w", abs, ErrExists)
	}
	k, err := newKeys(v.header(), mk)
	if err != nil {
		mk.Destroy()
		v.Close()
		return nil, err
	}
	v.state.keys = k
	v.state.names = map[string]struct{}{}
	return v, nil
}

// buildHeader makes the header of a new vault: a fresh vault id, the factor
// records, one wrap of mk per factor set the policy accepts, and the MAC.
func buildHeader(profile string, pol policy, factors []enrolled, mk *secmem.Buf) (*header, error) {
	var vid [vaultIDLen]byte
	rand.Read(vid[:])
	return buildHeaderWith(vid, profile, pol, factors, mk)
}

// buildHeaderWith is buildHeader with the vault id given. factors must be
// sorted by id.
func buildHeaderWith(vid [vaultIDLen]byte, profile string, pol policy, factors []enrolled, mk *secmem.Buf) (*header, error) {
	h := &header{
		version: headerVersion,
		vaultID: vid,
		profile: profile,
		created: time.Now().Unix(),
		policy:  pol,
	}
	ids := make([]string, len(factors))
	secrets := make(map[string]*secmem.Buf, len(factors))
	for i, f := range factors {
		h.factors = append(h.factors, f.rec)
		ids[i] = f.rec.id
		secrets[f.rec.id] = f.secret
	}
	t, err := pol.Threshold(len(factors))
	if err != nil {
		return nil, err
	}
	for combo := range combinations(ids, t) {
		ss := make([]*secmem.Buf, len(combo))
		for i, id := range combo {
			ss[i] = secrets[id]
		}
		w, err := sealWrap(h, combo, ss, mk)
		if err != nil {
			return nil, err
		}
		h.wraps = append(h.wraps, w)
	}
	if h.mac, err = headerMAC(h, mk); err != nil {
		return nil, err
	}
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("new header is invalid: %w", err)
	}
	return h, nil
}

// publish writes a new vault holding header blob to a temporary file in
// path's directory, makes it durable and links it to path. The link fails
// if path exists, so an existing vault is never replaced.
func publish(path string, blob []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpPath := tmp.Name()
	defer removeDB(tmpPath)
	err = tmp.Chmod(0o600)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := initDB(tmpPath, blob); err != nil {
		return err
	}
	for _, p := range []string{tmpPath + "-wal", tmpPath + "-shm"} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%q was not cleaned up by SQLite", p)
		}
	}
	if err := syncFile(tmpPath); err != nil {
		return err
	}
	if err := os.Link(tmpPath, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%q: %w", path, ErrExists)
		}
		return err
	}
	os.Remove(tmpPath)
	return syncDir(dir)
}

// Open opens the vault of profile at path, locked. It checks that the file
// is a sesame vault whose header is well formed and belongs to profile,
// applies pending schema migrations, and makes the directory 0700 and the
// files 0600. It refuses a vault written by a newer sesame with an error
// wrapping [ErrUnsupported], and a damaged one with an error wrapping
// [ErrCorrupt] that names the file. A missing file gives an error wrapping
// [fs.ErrNotExist].
func Open(path, profile string) (*Vault, error) {
	if err := validateProfile(profile); err != nil {
		return nil, fmt.Errorf("vault: open %q: %w", profile, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("vault: open %q: %w", profile, err)
	}
	v, err := open(abs, profile)
	if err != nil {
		if _, ok := errors.AsType[*corruptError](err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("vault: open %q: %w", profile, err)
	}
	return v, nil
}

// open is Open with an absolute path and without the error prefix.
func open(path, profile string) (*Vault, error) {
	if err := checkVaultFile(path); err != nil {
		return nil, err
	}
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := fixFileModes(path); err != nil { // before SQLite opens them
		return nil, err
	}
	db, err := openDB(path)
	if err != nil {
		return nil, dbError(path, err)
	}
	h, err := readHeader(db, path)
	if err != nil {
		db.Close()
		return nil, err
	}
	if h.profile != profile {
		db.Close()
		return nil, fmt.Errorf("%q is the vault of profile %q", path, h.profile)
	}
	if err := fixFileModes(path); err != nil { // and the -wal and -shm it made
		db.Close()
		return nil, err
	}
	v := &Vault{path: path, profile: profile, db: db}
	v.hdr.Store(h)
	for _, s := range []struct {
		stmt  **sql.Stmt
		query string
	}{{&v.stmt.get, sqlGet}, {&v.stmt.set, sqlSet}, {&v.stmt.delete, sqlDelete}} {
		if *s.stmt, err = db.Prepare(s.query); err != nil {
			db.Close()
			return nil, dbError(path, err)
		}
	}
	return v, nil
}

// readHeader migrates the schema and reads the header, in one transaction.
func readHeader(db *sql.DB, path string) (*header, error) {
	return readHeaderWith(db, path, migrations())
}

func readHeaderWith(db *sql.DB, path string, list []migration) (*header, error) {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, dbError(path, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'`).Scan(&n); err != nil {
		return nil, dbError(path, err)
	}
	if n != 1 {
		return nil, &corruptError{path, "database", errors.New("no meta table")}
	}
	have, err := schemaOf(ctx, tx)
	if errors.Is(err, errBadSchema) {
		return nil, &corruptError{path, "database", err}
	}
	if err != nil {
		return nil, dbError(path, err)
	}
	if have < 1 {
		return nil, &corruptError{path, "database", errors.New("no schema version")}
	}
	if _, _, err := migrate(ctx, tx, list); err != nil {
		return nil, dbError(path, err)
	}
	var blob []byte
	err = tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'header'`).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &corruptError{path, "header", errors.New("missing")}
	}
	if err != nil {
		return nil, dbError(path, err)
	}
	h, err := decodeHeader(blob)
	if errors.Is(err, ErrUnsupported) {
		return nil, err
	}
	if err != nil {
		return nil, &corruptError{path, "header", err}
	}
	if err := tx.Commit(); err != nil {
		return nil, dbError(path, err)
	}
	return h, nil
}

// header returns the current header.
func (v *Vault) header() *header { return v.hdr.Load() }

// Profile returns the vault's profile name.
func (v *Vault) Profile() string { return v.profile }

// Path returns the absolute path of the vault file.
func (v *Vault) Path() string { return v.path }

// isClosed reports whether Close was called.
func (v *Vault) isClosed() bool {
	v.state.RLock()
	defer v.state.RUnlock()
	return v.state.closed
}

// Locked reports whether the vault is locked (or closed).
func (v *Vault) Locked() bool {
	v.state.RLock()
	defer v.state.RUnlock()
	return v.state.keys == nil
}

// Unlock unwraps the master key with password and derives the working keys.
// It returns an error wrapping [ErrBadFactor] if password is wrong (the error
// does not say which factor failed when there are several), and one wrapping
// [ErrCorrupt] if the password is right but the header was tampered with.
//
// Unlock costs one Argon2id derivation per password factor it tries (about
// 0.4 s with [DefaultKDF]) and holds no lock meanwhile. On an unlocked vault
// it checks password the same way and keeps the current keys. password is
// not kept or modified; the caller should wipe it.
func (v *Vault) Unlock(password []byte) error {
	inputs := map[string][]byte{}
	for _, f := range v.header().factors {
		if f.typ == factorPassword {
			inputs[f.id] = password
		}
	}
	if len(inputs) == 0 {
		return fmt.Errorf("vault: unlock %q: the vault has no password factor", v.profile)
	}
	if len(password) == 0 { // never enrolled, so never right; skip Argon2id
		if v.isClosed() {
			return fmt.Errorf("vault: unlock %q: %w", v.profile, ErrClosed)
		}
		return fmt.Errorf("vault: unlock %q: %w", v.profile, ErrBadFactor)
	}
	return v.unlock(inputs)
}

// unlock unlocks with the given factor inputs (factor id → input).
func (v *Vault) unlock(inputs map[string][]byte) error {
	fail := func(err error) error {
		if _, ok := errors.AsType[*corruptError](err); ok {
			return err
		}
		return fmt.Errorf("vault: unlock %q: %w", v.profile, err)
	}
	if v.isClosed() {
		return fail(ErrClosed)
	}
	h := v.header()
	mk, err := unwrap(h, inputs)
	if err != nil {
		return fail(err)
	}
	mac, err := headerMAC(h, mk)
	if err != nil {
		mk.Destroy()
		return fail(err)
	}
	if !hmac.Equal(mac[:], h.mac[:]) {
		mk.Destroy()
		return fail(&corruptError{v.path, "header", errors.New("authentication failed: the header was modified")})
	}
	k, err := newKeys(h, mk)
	if err != nil {
		mk.Destroy()
		return fail(err)
	}
	v.state.Lock()
	defer v.state.Unlock()
	switch {
	case v.state.closed:
		k.destroy()
		return fail(ErrClosed)
	case v.state.broken != nil:
		k.destroy()
		return fail(v.state.broken)
	case v.state.keys != nil:
		k.destroy() // already unlocked; the factors were right
		return nil
	}
	v.state.keys = k
	return nil
}

// Lock wipes the master key and the working keys and forgets the cached
// names. It is a no-op on a locked vault.
func (v *Vault) Lock() {
	v.state.Lock()
	defer v.state.Unlock()
	v.lockLocked()
}

// lockLocked is Lock. v.state must be held for writing.
func (v *Vault) lockLocked() {
	if v.state.keys != nil {
		v.state.keys.destroy()
		v.state.keys = nil
	}
	v.state.names = nil
}

// Close locks the vault and closes the database. It may be called more than
// once; every other method then fails with [ErrClosed].
func (v *Vault) Close() error {
	v.state.Lock()
	if v.state.closed {
		v.state.Unlock()
		return nil
	}
	v.lockLocked()
	v.state.closed = true
	v.state.Unlock()
	v.stmt.get.Close()
	v.stmt.set.Close()
	v.stmt.delete.Close()
	if err := v.db.Close(); err != nil {
		return fmt.Errorf("vault: close %q: %w", v.profile, err)
	}
	return nil
}

// keysLocked returns the keys, or ErrClosed or ErrLocked. v.state must be
// held.
func (v *Vault) keysLocked() (*keys, error) {
	switch {
	case v.state.closed:
		return nil, ErrClosed
	case v.state.broken != nil:
		return nil, v.state.broken
	case v.state.keys == nil:
		return nil, ErrLocked
	}
	return v.state.keys, nil
}

// Get returns the value of the secret name in a new [secmem.Buf], which the
// caller must Destroy. The value is decrypted straight into the protected
// buffer. It returns an error wrapping [ErrNotFound] if there is no such
// secret, [ErrLocked] if the vault is locked, and [ErrCorrupt] if the record
// fails to authenticate (for example, it was copied from another row or
// another vault).
func (v *Vault) Get(name string) (*secmem.Buf, error) {
	if err := validateName(name); err != nil {
		return nil, fmt.Errorf("vault: get %q: %w", v.profile, err)
	}
	v.state.RLock()
	defer v.state.RUnlock()
	k, err := v.keysLocked()
	if err != nil {
		return nil, fmt.Errorf("vault: get %q: %w", v.profile, err)
	}
	return v.get(context.Background(), v.stmt.get, k, name)
}

// get reads and decrypts one secret with stmt (v.stmt.get, possibly bound
// to a transaction). v.state must be held.
func (v *Vault) get(ctx context.Context, stmt *sql.Stmt, k *keys, name string) (*secmem.Buf, error) {
	r := record{lid: k.lookupID(name)}
	err := stmt.QueryRowContext(ctx, r.lid).Scan(&r.nonce, &r.name, &r.value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("vault: get %q: secret %q: %w", v.profile, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: get %q: secret %q: %w", v.profile, name, dbError(v.path, err))
	}
	buf, err := k.openRecord(&r, name)
	if err != nil {
		return nil, &corruptError{v.path, fmt.Sprintf("record of secret %q", name), err}
	}
	return buf, nil
}

// GetMany returns the values of names, in order, reading them all in one
// transaction so that they are consistent with each other. If any is
// missing it returns an error wrapping [ErrNotFound] that names it, and no
// values. The caller must Destroy every returned buffer.
//
// Each buffer costs at least one page of locked memory (see secmem), which
// counts against RLIMIT_MEMLOCK.
func (v *Vault) GetMany(names []string) ([]*secmem.Buf, error) {
	for _, name := range names {
		if err := validateName(name); err != nil {
			return nil, fmt.Errorf("vault: get %q: %w", v.profile, err)
		}
	}
	v.state.RLock()
	defer v.state.RUnlock()
	k, err := v.keysLocked()
	if err != nil {
		return nil, fmt.Errorf("vault: get %q: %w", v.profile, err)
	}
	ctx := context.Background()
	tx, err := v.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("vault: get %q: %w", v.profile, dbError(v.path, err))
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, v.stmt.get)
	defer stmt.Close()
	out := make([]*secmem.Buf, 0, len(names))
	for _, name := range names {
		buf, err := v.get(ctx, stmt, k, name)
		if err != nil {
			for _, b := range out {
				b.Destroy()
			}
			return nil, err
		}
		out = append(out, buf)
	}
	return out, nil
}

// Set stores value under name, replacing any previous value, in one atomic
// and durable transaction: when Set returns nil the secret survives a crash.
// Every write uses a fresh random nonce. value may be empty and at most
// [MaxValueLen] bytes; Set does not keep or modify it.
func (v *Vault) Set(name string, value []byte) error {
	if err := validateName(name); err != nil {
		return fmt.Errorf("vault: set %q: %w", v.profile, err)
	}
	if len(value) > MaxValueLen {
		return fmt.Errorf("vault: set %q: secret %q: %w value: %d bytes, more than %d", v.profile, name, ErrInvalid, len(value), MaxValueLen)
	}
	v.state.Lock()
	defer v.state.Unlock()
	k, err := v.keysLocked()
	if err != nil {
		return fmt.Errorf("vault: set %q: %w", v.profile, err)
	}
	r := k.sealRecord(name, value, nil)
	if _, err := v.stmt.set.Exec(r.lid, r.nonce, r.name, r.value); err != nil {
		return fmt.Errorf("vault: set %q: secret %q: %w", v.profile, name, dbError(v.path, err))
	}
	if v.state.names != nil {
		v.state.names[name] = struct{}{}
	}
	return nil
}

// setMany stores many secrets in one transaction. It is the bulk path for
// imports and for the benchmarks; values are not modified.
func (v *Vault) setMany(names []string, values [][]byte) error {
	if len(names) != len(values) {
		return errors.New("vault: setMany: names and values differ in length")
	}
	for i, name := range names {
		if err := validateName(name); err != nil {
			return fmt.Errorf("vault: set %q: %w", v.profile, err)
		}
		if len(values[i]) > MaxValueLen {
			return fmt.Errorf("vault: set %q: secret %q: %w value: too long", v.profile, name, ErrInvalid)
		}
	}
	v.state.Lock()
	defer v.state.Unlock()
	k, err := v.keysLocked()
	if err != nil {
		return fmt.Errorf("vault: set %q: %w", v.profile, err)
	}
	ctx := context.Background()
	tx, err := v.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("vault: set %q: %w", v.profile, dbError(v.path, err))
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, v.stmt.set)
	defer stmt.Close()
	for i, name := range names {
		r := k.sealRecord(name, values[i], nil)
		if _, err := stmt.ExecContext(ctx, r.lid, r.nonce, r.name, r.value); err != nil {
			return fmt.Errorf("vault: set %q: secret %q: %w", v.profile, name, dbError(v.path, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("vault: set %q: %w", v.profile, dbError(v.path, err))
	}
	if v.state.names != nil {
		for _, name := range names {
			v.state.names[name] = struct{}{}
		}
	}
	return nil
}

// Delete removes the secret name. It returns an error wrapping
// [ErrNotFound] if there is no such secret.
func (v *Vault) Delete(name string) error {
	if err := validateName(name); err != nil {
		return fmt.Errorf("vault: delete %q: %w", v.profile, err)
	}
	v.state.Lock()
	defer v.state.Unlock()
	k, err := v.keysLocked()
	if err != nil {
		return fmt.Errorf("vault: delete %q: %w", v.profile, err)
	}
	res, err := v.stmt.delete.Exec(k.lookupID(name))
	if err != nil {
		return fmt.Errorf("vault: delete %q: secret %q: %w", v.profile, name, dbError(v.path, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("vault: delete %q: secret %q: %w", v.profile, name, err)
	}
	if n == 0 {
		return fmt.Errorf("vault: delete %q: secret %q: %w", v.profile, name, ErrNotFound)
	}
	if v.state.names != nil {
		delete(v.state.names, name)
	}
	return nil
}

// List returns the names of all secrets, sorted bytewise. The first call
// after an unlock decrypts every name and caches them until Lock; later
// calls only sort the cache. A record whose name fails to authenticate makes
// List fail with [ErrCorrupt].
func (v *Vault) List() ([]string, error) {
	v.state.Lock()
	defer v.state.Unlock()
	k, err := v.keysLocked()
	if err != nil {
		return nil, fmt.Errorf("vault: list %q: %w", v.profile, err)
	}
	if v.state.names == nil {
		names, err := v.readNames(k)
		if err != nil {
			return nil, err
		}
		v.state.names = names
	}
	out := make([]string, 0, len(v.state.names))
	for name := range v.state.names {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// readNames decrypts every name in the vault. v.state must be held.
func (v *Vault) readNames(k *keys) (map[string]struct{}, error) {
	rows, err := v.db.Query(sqlNames)
	if err != nil {
		return nil, fmt.Errorf("vault: list %q: %w", v.profile, dbError(v.path, err))
	}
	defer rows.Close()
	names := map[string]struct{}{}
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.lid, &r.nonce, &r.name); err != nil {
			return nil, fmt.Errorf("vault: list %q: %w", v.profile, dbError(v.path, err))
		}
		name, err := k.openName(&r)
		if err != nil {
			return nil, &corruptError{v.path, fmt.Sprintf("record %x", r.lid), err}
		}
		names[name] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vault: list %q: %w", v.profile, dbError(v.path, err))
	}
	return names, nil
}

// Len returns the number of secrets. Like every secret operation it needs
// an unlocked vault.
func (v *Vault) Len() (int, error) {
	v.state.RLock()
	defer v.state.RUnlock()
	if _, err := v.keysLocked(); err != nil {
		return 0, fmt.Errorf("vault: len %q: %w", v.profile, err)
	}
	if v.state.names != nil {
		return len(v.state.names), nil
	}
	var n int
	if err := v.db.QueryRow(sqlCount).Scan(&n); err != nil {
		return 0, fmt.Errorf("vault: len %q: %w", v.profile, dbError(v.path, err))
	}
	return n, nil
}
