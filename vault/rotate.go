package vault

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"

	"github.com/open-sesame/sesame/secmem"
)

// sqlInsert adds a row and fails if its lookup id is taken. A rotation uses
// it rather than sqlSet: a new lookup id equal to an old one not yet
// rewritten (a 2^-256 event) must abort the rotation, not overwrite a secret.
const sqlInsert = `INSERT INTO secrets (lid, nonce, name, value) VALUES (?, ?, ?, ?)`

// testHookRotate, when set by a test, is called at each step of a rotation:
// "begun" (transaction open), "header" (new header written), "row" (after
// each secret), "rows" (every secret rewritten), "committed" and "done"
// (checkpointed, keys swapped). The crash tests kill the process there.
var testHookRotate func(step string)

func rotateStep(step string) {
	if testHookRotate != nil {
		testHookRotate(step)
	}
}

// rotate replaces the master key: in one transaction it stores h in place of
// old (failing if the stored header is no longer old) and re-encrypts every
// secret from the current keys to nk, then makes h and nk current and wipes
// the old keys. mk is the master key that the change was proved against; the
// vault must still hold it. On success rotate owns nk; on error the caller
// does, and nothing changed.
//
// v.state is held for writing throughout, so no Get, Set or Lock runs
// between reading a row and the swap of the keys: every row written after
// the commit is under nk.
func (v *Vault) rotate(old, h *header, mk *secmem.Buf, nk *keys) (int, error) {
	v.state.Lock()
	defer v.state.Unlock()
	k, err := v.keysLocked()
	if err != nil {
		return 0, err
	}
	if !k.master.Equal(mk.Bytes()) { // cannot happen: v.change is held
		return 0, errors.New("the vault was unlocked with another master key meanwhile; nothing was changed")
	}
	ctx := context.Background()
	tx, err := v.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, dbError(v.path, err)
	}
	defer tx.Rollback()
	rotateStep("begun")
	if err := v.swapHeader(ctx, tx, old, h); err != nil {
		return 0, err
	}
	rotateStep("header")
	n, err := v.reencrypt(ctx, tx, k, nk)
	if err != nil {
		return 0, err
	}
	rotateStep("rows")
	if err := tx.Commit(); err != nil {
		// The commit record may have reached the WAL even so, and a later
		// open would then find the new header and rows: writing on under
		// the old keys could lose those writes. Refuse everything until the
		// vault is reopened, which reads whichever header is there.
		v.lockLocked()
		v.state.broken = fmt.Errorf("a master-key rotation failed to commit (%v), so the file may hold the old key or the new one: close and reopen the vault", dbError(v.path, err))
		return 0, v.state.broken
	}
	rotateStep("committed")
	v.hdr.Store(h)
	v.state.keys = nk
	k.destroy()
	// As in replaceHeader: the old header and rows leave the WAL at once
	// (best effort; the next checkpoint finishes the job).
	v.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	rotateStep("done")
	return n, nil
}

// reencrypt rewrites every secret within tx: each row is read, decrypted
// under k (the value into secmem), sealed under nk with a fresh nonce and
// stored under its new lookup id in place of the old row. Only one value is
// in memory at a time. It returns the number of secrets.
func (v *Vault) reencrypt(ctx context.Context, tx *sql.Tx, k, nk *keys) (int, error) {
	var lids [][]byte
	rows, err := tx.QueryContext(ctx, `SELECT lid FROM secrets`)
	if err != nil {
		return 0, dbError(v.path, err)
	}
	for rows.Next() {
		var lid []byte
		if err := rows.Scan(&lid); err != nil {
			rows.Close()
			return 0, dbError(v.path, err)
		}
		lids = append(lids, lid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, dbError(v.path, err)
	}
	var get, del, ins *sql.Stmt
	for _, s := range []struct {
		stmt  **sql.Stmt
		query string
	}{{&get, sqlGet}, {&del, sqlDelete}, {&ins, sqlInsert}} {
		if *s.stmt, err = tx.PrepareContext(ctx, s.query); err != nil {
			return 0, dbError(v.path, err)
		}
		defer (*s.stmt).Close()
	}
	// One protected buffer, grown as needed and wiped after each value,
	// rather than one per value: allocating and freeing secmem costs two
	// system calls and a mapping each, which was most of a rotation's time.
	var scratch *secmem.Buf
	defer func() { scratch.Destroy() }()
	for _, lid := range lids {
		r := record{lid: lid}
		if err := get.QueryRowContext(ctx, lid).Scan(&r.nonce, &r.name, &r.value); err != nil {
			return 0, dbError(v.path, err)
		}
		if n := len(r.value) - aeadOverhead; n > scratch.Len() && n <= MaxValueLen {
			scratch.Destroy()
			if scratch, err = secmem.New(min(max(n, 2*scratch.Len(), 4096), MaxValueLen)); err != nil {
				return 0, err
			}
		}
		name, err := k.openName(&r)
		var value []byte
		if err == nil {
			value, err = k.openValueTo(&r, scratch.Bytes())
		}
		if err == nil && !hmac.Equal(k.lookupID(name), lid) {
			err = errors.New("lookup id does not match the name")
		}
		if err != nil {
			secmem.Wipe(value)
			return 0, &corruptError{v.path, fmt.Sprintf("record %x (the master key was not changed)", lid), err}
		}
		nr := nk.sealRecord(name, value, nil)
		secmem.Wipe(value)
		if _, err := del.ExecContext(ctx, lid); err != nil {
			return 0, dbError(v.path, err)
		}
		if _, err := ins.ExecContext(ctx, nr.lid, nr.nonce, nr.name, nr.value); err != nil {
			return 0, dbError(v.path, err)
		}
		rotateStep("row")
	}
	return len(lids), nil
}
