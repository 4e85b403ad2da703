//lint:file-ignore U1000 the _msgpack field carries msgpack's as_array tag; the library reads it

package clipboard

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/open-sesame/sesame/localdb"
	"github.com/open-sesame/sesame/secmem"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/crypto/chacha20poly1305"
)

// The history on disk: one SQLite file per profile, $XDG_DATA_HOME/sesame/clipboard/P.db
// (package localdb: 0600 in 0700, WAL), written only while the profile's key is held. Each
// row is
//
//	id      the entry's number
//	digest  HMAC-SHA256(dedupe key, MIME type \x00 content): finds a repeat without
//	        storing anything readable
//	nonce   24 random bytes
//	sealed  XChaCha20-Poly1305(content key, nonce, msgpack{MIME type, content,
//	        sensitivity, source}, AD = "sesame clipboard v1" \x00 profile \x00 digest)
//	copied  when it was last copied (Unix ms), count how many times
//
// The content and dedupe keys are HKDF-SHA256 of the clipboard key, which the secrets role
// derives from the vault's master key for this role alone (secrets.derive-key). So the
// file holds no plaintext — not the text, not its type, not its length beyond the
// ciphertext's — and it cannot be read while the vault is locked. The AD binds a row to its
// profile and its digest: a row copied into another profile's file or onto another row does
// not open. Timestamps and counts are in the clear.
//
// Removing a factor rotates the vault's master key, and the clipboard key with it: rekey
// re-encrypts every row (digest, nonce, ciphertext) and the key check from the old keyring to
// the new in one transaction.

const (
	infoContent = "sesame clipboard v1 content"
	infoDedupe  = "sesame clipboard v1 dedupe"
	infoCheck   = "sesame clipboard v1 key check"
	adPrefix    = "sesame clipboard v1"
)

const schema = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	digest BLOB NOT NULL UNIQUE,
	nonce  BLOB NOT NULL,
	sealed BLOB NOT NULL,
	copied INTEGER NOT NULL,
	count  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS entries_copied ON entries (copied DESC);
`

// content is what a row seals.
type content struct {
	_msgpack struct{} `msgpack:",as_array"`

	MimeType    string
	Data        []byte
	Sensitivity string
	Source      string // "clipboard" or "primary"
}

// keyring is the keys of one profile's history. The AEAD keeps a copy of its key on the Go
// heap and the HMAC its pads (x/crypto and crypto/hmac offer no way to wipe them): dropping
// the keyring on lock leaves them to the garbage collector; the clipboard key itself is in
// secure memory and wiped.
type keyring struct {
	id    string // the vault's KeyID when the key was derived ("" if not told)
	key   *secmem.Buf
	aead  cipher.AEAD
	mac   []byte // dedupe key (heap, wiped on destroy)
	check []byte // a MAC of a fixed string: tells whether a file was written under this key
}

func newKeyring(key *secmem.Buf) (*keyring, error) {
	if key.Len() != 32 {
		return nil, fmt.Errorf("clipboard: key of %d bytes", key.Len())
	}
	ck, err := hkdf.Key(sha256.New, key.Bytes(), nil, infoContent, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(ck)
	secmem.Wipe(ck)
	if err != nil {
		return nil, err
	}
	mk, err := hkdf.Key(sha256.New, key.Bytes(), nil, infoDedupe, 32)
	if err != nil {
		return nil, err
	}
	k := &keyring{key: key, aead: aead, mac: mk}
	k.check = k.digest("", []byte(infoCheck))
	return k, nil
}

func (k *keyring) destroy() {
	k.key.Destroy()
	secmem.Wipe(k.mac)
	k.aead = nil
}

func (k *keyring) digest(mime string, data []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(mime))
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)
}

// store is one profile's history file.
type store struct {
	db      *sql.DB
	path    string
	profile string
}

// storePath is where profile's history lives.
func storePath(dataDir, profile string) string {
	return filepath.Join(dataDir, "sesame", "clipboard", profile+".db")
}

func openStore(path, profile string) (*store, error) {
	db, err := localdb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("clipboard: %w", err)
	}
	return &store{db: db, path: path, profile: profile}, nil
}

func (s *store) close() error { return s.db.Close() }

// errOtherKey means the file was written under another key (the vault was made anew).
var errOtherKey = errors.New("the clipboard history was written under another key")

// checkKey records k's check value in a new file, or compares it with the one recorded.
func (s *store) checkKey(k *keyring) error {
	var have []byte
	err := s.db.QueryRow(`SELECT value FROM meta WHERE name = 'check'`).Scan(&have)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = s.db.Exec(`INSERT INTO meta (name, value) VALUES ('check', ?)`, k.check)
		return err
	}
	if err != nil {
		return err
	}
	if !hmac.Equal(have, k.check) {
		return errOtherKey
	}
	return nil
}

// reset deletes every entry and the key check.
func (s *store) reset() error {
	_, err := s.db.Exec(`DELETE FROM entries; DELETE FROM meta;`)
	return err
}

func (s *store) ad(digest []byte) []byte {
	return append([]byte(adPrefix+"\x00"+s.profile+"\x00"), digest...)
}

// add records c, or, when the same content is there, moves it to the top and counts it.
// It keeps the newest max entries. It returns the entry's id.
func (s *store) add(k *keyring, c *content, at time.Time, count int32, max int) (int64, error) {
	d := k.digest(c.MimeType, c.Data)
	tx, err := s.db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRow(`UPDATE entries SET copied = ?, count = count + ? WHERE digest = ? RETURNING id`, at.UnixMilli(), count, d).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		nonce, sealed, err := s.seal(k, d, c)
		if err != nil {
			return 0, err
		}
		err = tx.QueryRow(`INSERT INTO entries (digest, nonce, sealed, copied, count) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			d, nonce, sealed, at.UnixMilli(), count).Scan(&id)
		if err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, err
	}
	if max > 0 {
		if _, err := tx.Exec(`DELETE FROM entries WHERE id NOT IN (SELECT id FROM entries ORDER BY copied DESC, id DESC LIMIT ?)`, max); err != nil {
			return 0, err
		}
	}
	return id, tx.Commit()
}

// row is a decrypted entry.
type row struct {
	id     int64
	c      content
	copied time.Time
	count  int32
}

// scan calls f for each entry, newest first, until f returns false. Rows that do not
// decrypt are skipped and counted.
func (s *store) scan(k *keyring, f func(*row) bool) (bad int, err error) {
	rows, err := s.db.Query(`SELECT id, digest, nonce, sealed, copied, count FROM entries ORDER BY copied DESC, id DESC`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var r row
		var digest, nonce, sealed []byte
		var ms int64
		if err := rows.Scan(&r.id, &digest, &nonce, &sealed, &ms, &r.count); err != nil {
			return bad, err
		}
		if !s.open(k, &r, digest, nonce, sealed) {
			bad++
			continue
		}
		r.copied = time.UnixMilli(ms)
		if !f(&r) {
			break
		}
	}
	return bad, rows.Err()
}

func (s *store) open(k *keyring, r *row, digest, nonce, sealed []byte) bool {
	if len(nonce) != chacha20poly1305.NonceSizeX {
		return false
	}
	plain, err := k.aead.Open(nil, nonce, sealed, s.ad(digest))
	if err != nil {
		return false
	}
	defer clear(plain)
	if msgpack.Unmarshal(plain, &r.c) != nil {
		return false
	}
	// The digest must be this content's: a row is bound to what it holds.
	return hmac.Equal(digest, k.digest(r.c.MimeType, r.c.Data))
}

// get returns one entry.
func (s *store) get(k *keyring, id int64) (*row, error) {
	var r row
	var digest, nonce, sealed []byte
	var ms int64
	err := s.db.QueryRow(`SELECT id, digest, nonce, sealed, copied, count FROM entries WHERE id = ?`, id).Scan(&r.id, &digest, &nonce, &sealed, &ms, &r.count)
	if err != nil {
		return nil, err
	}
	if !s.open(k, &r, digest, nonce, sealed) {
		return nil, fmt.Errorf("clipboard: entry %d does not decrypt (tampered with, or moved from another row)", id)
	}
	r.copied = time.UnixMilli(ms)
	return &r, nil
}

// rekey re-encrypts the history from old to nk, the keyring of the rotated master key, in one
// transaction: every row gets its digest, nonce and ciphertext under nk, and the key check
// becomes nk's. A crash, or an error, at any point leaves the file as it was, all under old.
// Rows that do not open under old (tampered with) are deleted: no key reads them. The file
// must have been written under old (errOtherKey otherwise). Like clear, it runs with
// secure_delete and empties the WAL afterwards, so the old ciphertexts do not linger in free
// pages; the old key stays derivable from an old copy of the vault, by a factor removed.
// It returns how many entries were re-encrypted and how many deleted.
func (s *store) rekey(old, nk *keyring) (moved, dropped int, err error) {
	ctx := context.Background()
	c, err := s.db.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return 0, 0, err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	var have []byte
	switch err := tx.QueryRow(`SELECT value FROM meta WHERE name = 'check'`).Scan(&have); {
	case errors.Is(err, sql.ErrNoRows):
		have = old.check // a file with no check yet: its rows say whether they are old's
	case err != nil:
		return 0, 0, err
	}
	if !hmac.Equal(have, old.check) {
		return 0, 0, errOtherKey
	}
	upd, err := tx.Prepare(`UPDATE entries SET digest = ?, nonce = ?, sealed = ? WHERE id = ?`)
	if err != nil {
		return 0, 0, err
	}
	defer upd.Close()
	type sealedRow struct {
		id                    int64
		digest, nonce, sealed []byte
	}
	// In batches by id, so a long history of images is not all in memory at once.
	const batch = 64
	for last := int64(-1 << 63); ; {
		rows, err := tx.Query(`SELECT id, digest, nonce, sealed FROM entries WHERE id > ? ORDER BY id LIMIT ?`, last, batch)
		if err != nil {
			return 0, 0, err
		}
		var rs []sealedRow
		for rows.Next() {
			var r sealedRow
			if err := rows.Scan(&r.id, &r.digest, &r.nonce, &r.sealed); err != nil {
				rows.Close()
				return 0, 0, err
			}
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, 0, err
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			last = r.id
			var plain row
			if !s.open(old, &plain, r.digest, r.nonce, r.sealed) {
				if _, err := tx.Exec(`DELETE FROM entries WHERE id = ?`, r.id); err != nil {
					return 0, 0, err
				}
				dropped++
				continue
			}
			d := nk.digest(plain.c.MimeType, plain.c.Data)
			nonce, sealed, err := s.seal(nk, d, &plain.c)
			clear(plain.c.Data)
			if err != nil {
				return 0, 0, err
			}
			if _, err := upd.Exec(d, nonce, sealed, r.id); err != nil {
				return 0, 0, err
			}
			moved++
		}
	}
	if _, err := tx.Exec(`INSERT INTO meta (name, value) VALUES ('check', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, nk.check); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	c.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return moved, dropped, nil
}

// seal returns a fresh nonce and c sealed under k, bound to its digest under k.
func (s *store) seal(k *keyring, digest []byte, c *content) (nonce, sealed []byte, err error) {
	plain, err := msgpack.Marshal(c)
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(nonce)
	sealed = k.aead.Seal(nil, nonce, plain, s.ad(digest))
	clear(plain)
	return nonce, sealed, nil
}

// clear deletes every entry and returns how many there were.
func (s *store) clear() (int, error) {
	// One connection, so that secure_delete (per connection) applies to the DELETE: the
	// rows' pages are overwritten, and a checkpoint empties the WAL of them.
	ctx := context.Background()
	c, err := s.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return 0, err
	}
	res, err := c.ExecContext(ctx, `DELETE FROM entries`)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	c.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return int(n), nil
}
