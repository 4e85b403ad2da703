package vault

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRowSwap copies a row's ciphertexts onto another row of the same vault.
func TestRowSwap(t *testing.T) {
	for _, cols := range []string{"nonce, name, value", "value", "nonce, value", "name"} {
		t.Run(cols, func(t *testing.T) {
			v := newVault(t, "work")
			mustSet(t, v, "alpha", "value of alpha")
			mustSet(t, v, "beta", "value of beta")
			alpha, beta := v.state.keys.lookupID("alpha"), v.state.keys.lookupID("beta")
			path := v.Path()
			v.Close()
			var set []string
			for _, c := range strings.Split(cols, ", ") {
				set = append(set, fmt.Sprintf("%s = (SELECT %s FROM secrets WHERE lid = ?1)", c, c))
			}
			rawExec(t, path, `UPDATE secrets SET `+strings.Join(set, ", ")+` WHERE lid = ?2`, alpha, beta)

			w, err := Open(path, "work")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Unlock([]byte(testPassword)); err != nil {
				t.Fatal(err)
			}
			_, err = w.Get("beta")
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get(beta) after copying alpha's %s onto it: %v, want ErrCorrupt", cols, err)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf(`vault: %q: corrupt record of secret "beta": `, path)) {
				t.Errorf("error = %q", err)
			}
			if got := mustGet(t, w, "alpha"); got != "value of alpha" {
				t.Errorf("Get(alpha) = %q", got)
			}
			if cols != "value" {
				// The name column (or the nonce it is bound to) no
				// longer matches the row: List refuses too.
				if _, err := w.List(); !errors.Is(err, ErrCorrupt) {
					t.Errorf("List = %v, want ErrCorrupt", err)
				}
			}
		})
	}
}

// TestRecordNameCheck checks the name check after decryption: a row stored
// under the lookup id of another name is refused even if it authenticates.
func TestRecordNameCheck(t *testing.T) {
	v := newVault(t, "work")
	k := v.state.keys
	r := k.sealRecord("alpha", []byte("x"), nil)
	if b, err := k.openRecord(&r, "alpha"); err != nil {
		t.Fatal(err)
	} else {
		b.Destroy()
	}
	if _, err := k.openRecord(&r, "beta"); err == nil || !strings.Contains(err.Error(), "another name") {
		t.Errorf("openRecord under another name = %v", err)
	}
}

// TestCrossVault moves a row into another profile's vault, created with the
// same password.
func TestCrossVault(t *testing.T) {
	work := newVault(t, "work")
	home := newVault(t, "home")
	mustSet(t, work, "shared", "work value")
	mustSet(t, home, "shared", "home value")
	mustSet(t, work, "only-work", "secret")
	homeShared := home.state.keys.lookupID("shared")
	workPath, homePath := work.Path(), home.Path()
	work.Close()
	home.Close()

	// Read the rows out of the work vault.
	db := rawDB(t, workPath)
	type row struct{ lid, nonce, name, value []byte }
	var rows []row
	rs, err := db.Query(`SELECT lid, nonce, name, value FROM secrets`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.lid, &r.nonce, &r.name, &r.value); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	rs.Close()
	db.Close()

	// Overwrite home's "shared" with each work row, and also insert the
	// work rows under their own lookup ids.
	hdb := rawDB(t, homePath)
	for _, r := range rows {
		if _, err := hdb.Exec(`INSERT INTO secrets (lid, nonce, name, value) VALUES (?, ?, ?, ?)`, r.lid, r.nonce, r.name, r.value); err != nil {
			t.Fatal(err)
		}
	}
	r := rows[0]
	if _, err := hdb.Exec(`UPDATE secrets SET nonce = ?, name = ?, value = ? WHERE lid = ?`, r.nonce, r.name, r.value, homeShared); err != nil {
		t.Fatal(err)
	}
	hdb.Close()

	h, err := Open(homePath, "home")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Get("shared"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get(shared) with work's row: %v, want ErrCorrupt", err)
	}
	if _, err := h.Get("only-work"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(only-work) = %v, want ErrNotFound (lookup ids differ per vault)", err)
	}
	if _, err := h.List(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("List with foreign rows = %v, want ErrCorrupt", err)
	}
}

// TestHeaderTamper edits the header of a closed vault in the ways an
// attacker with write access could, and checks for clear errors.
func TestHeaderTamper(t *testing.T) {
	type result int
	const (
		openCorrupt   result = iota // Open fails with ErrCorrupt
		unlockBad                   // Open works, the right password gives ErrBadFactor
		unlockCorrupt               // Open works, the right password gives ErrCorrupt
		openOther                   // Open fails with another error
	)
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, path string)
		want result
		msg  string
	}{
		{"argon time", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].params[passwordSaltLen+3]++ })
		}, unlockBad, "incorrect password"},
		{"argon memory", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].params[passwordSaltLen+7] += 8 })
		}, unlockBad, "incorrect password"},
		{"argon threads", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].params[passwordSaltLen+8] = 0 })
		}, openCorrupt, `corrupt header: factor "password": invalid kdf parameters`},
		{"argon memory huge", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].params[passwordSaltLen+4] = 0xff })
		}, openCorrupt, "memory must be"},
		{"salt", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].params[0] ^= 1 })
		}, unlockBad, "incorrect password"},
		{"policy any to all", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.policy.kind = policyAll })
		}, unlockCorrupt, "corrupt header: authentication failed"},
		{"policy to 1-of-n", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.policy = policy{kind: policyKOfN, k: 1} })
		}, unlockCorrupt, "corrupt header: authentication failed"},
		{"policy 2-of-n", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.policy = policy{kind: policyKOfN, k: 2} })
		}, openCorrupt, "corrupt header: policy 2-of-n with 1 factors"},
		{"policy unknown", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.policy.kind = 9 })
		}, openCorrupt, "unknown policy kind 9"},
		{"label", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].label = "evil" })
		}, unlockCorrupt, "authentication failed"},
		{"created", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.created++ })
		}, unlockCorrupt, "authentication failed"},
		{"mac", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.mac[5] ^= 0x80 })
		}, unlockCorrupt, "authentication failed"},
		{"vault id", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.vaultID[0] ^= 1 })
		}, unlockBad, "incorrect password"},
		{"wrap nonce", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.wraps[0].nonce[0] ^= 1 })
		}, unlockBad, "incorrect password"},
		{"wrap ciphertext", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.wraps[0].ct[47] ^= 1 })
		}, unlockBad, "incorrect password"},
		{"factor type", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].typ = "fido2" })
		}, unlockBad, "no password factor"},
		{"factor type ssh-agent", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].typ = "ssh-agent" })
		}, openCorrupt, "ssh-agent parameters are 25 bytes"},
		{"factor type age", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].typ = "age" })
		}, openCorrupt, "age"},
		{"factor id", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.factors[0].id = "other" })
		}, openCorrupt, `corrupt header: wrap 0 is over factors ["password"], want ["other"]`},
		{"profile", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.profile = "home" })
		}, openOther, `is the vault of profile "home"`},
		{"version", func(t *testing.T, p string) {
			editHeader(t, p, func(h *header) { h.version = 2 })
		}, openOther, "unsupported vault format: header version 2"},
		{"checksum", func(t *testing.T, p string) {
			b := headerBlob(t, p)
			b[len(b)-1] ^= 1
			setHeaderBlob(t, p, b)
		}, openCorrupt, "corrupt header: checksum mismatch"},
		{"truncated", func(t *testing.T, p string) {
			b := headerBlob(t, p)
			setHeaderBlob(t, p, withChecksum(b[:len(b)-headerSumLen-10]))
		}, openCorrupt, "corrupt header: truncated at byte"},
		{"trailing", func(t *testing.T, p string) {
			b := headerBlob(t, p)
			setHeaderBlob(t, p, withChecksum(append(b[:len(b)-headerSumLen:len(b)-headerSumLen], 0)))
		}, openCorrupt, "corrupt header: 1 trailing bytes"},
		{"magic", func(t *testing.T, p string) {
			b := headerBlob(t, p)
			b[0] = 'X'
			setHeaderBlob(t, p, b)
		}, openCorrupt, "corrupt header: not a sesame vault header"},
		{"missing", func(t *testing.T, p string) {
			rawExec(t, p, `DELETE FROM meta WHERE key = 'header'`)
		}, openCorrupt, "corrupt header: missing"},
		{"not a blob", func(t *testing.T, p string) {
			rawExec(t, p, `UPDATE meta SET value = 42 WHERE key = 'header'`)
		}, openCorrupt, "corrupt header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVault(t, "work")
			mustSet(t, v, "k", "v")
			path := v.Path()
			v.Close()
			tc.edit(t, path)
			w, err := Open(path, "work")
			if err == nil {
				defer w.Close()
				err = w.Unlock([]byte(testPassword))
			}
			var ok bool
			switch tc.want {
			case openCorrupt:
				ok = w == nil && errors.Is(err, ErrCorrupt) && strings.HasPrefix(err.Error(), fmt.Sprintf("vault: %q: corrupt ", path))
			case unlockBad:
				ok = w != nil && err != nil && !errors.Is(err, ErrCorrupt)
			case unlockCorrupt:
				ok = w != nil && errors.Is(err, ErrCorrupt) && strings.HasPrefix(err.Error(), fmt.Sprintf("vault: %q: corrupt header: ", path))
			case openOther:
				ok = w == nil && err != nil && !errors.Is(err, ErrCorrupt)
			}
			if !ok || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v (opened: %v), want result %d containing %q", err, w != nil, tc.want, tc.msg)
			}
			if w != nil && !w.Locked() {
				t.Error("a tampered vault was unlocked")
			}
		})
	}
}

// TestHeaderByteFlips flips every byte of a stored header in turn: each
// must give a clear ErrCorrupt at Open, never a panic or an unlock.
func TestHeaderByteFlips(t *testing.T) {
	v := newVault(t, "work")
	path := v.Path()
	v.Close()
	orig := headerBlob(t, path)
	for i := range orig {
		b := append([]byte(nil), orig...)
		b[i] ^= 0x41
		h, err := decodeHeader(b)
		if err == nil || h != nil {
			t.Fatalf("flip at %d: decodeHeader = %v, %v", i, h, err)
		}
	}
	// Through Open, for a sample of positions.
	for _, i := range []int{0, 9, 20, len(orig) / 2, len(orig) - 40, len(orig) - 1} {
		b := append([]byte(nil), orig...)
		b[i] ^= 0x41
		setHeaderBlob(t, path, b)
		if _, err := Open(path, "work"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("flip at %d: Open = %v, want ErrCorrupt", i, err)
		}
	}
}

// TestWrapSwap swaps the wraps of two password factors in the header: each
// wrap is bound to its factor, so neither password opens the vault.
func TestWrapSwap(t *testing.T) {
	v := newMulti(t, "multi", policy{kind: policyAny}, map[string]string{"a": "pw a", "b": "pw b"})
	path := v.Path()
	v.Close()
	editHeader(t, path, func(h *header) {
		w0, w1 := h.wraps[0], h.wraps[1]
		h.wraps[0].nonce, h.wraps[0].ct = w1.nonce, w1.ct
		h.wraps[1].nonce, h.wraps[1].ct = w0.nonce, w0.ct
	})
	w, err := Open(path, "multi")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, pw := range []string{"pw a", "pw b"} {
		if err := w.Unlock([]byte(pw)); !errors.Is(err, ErrBadFactor) {
			t.Errorf("Unlock(%q) after swapping wraps: %v, want ErrBadFactor", pw, err)
		}
	}
}
