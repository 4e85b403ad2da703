package vault

import (
	"encoding/hex"
	"fmt"

	"github.com/open-sesame/sesame/secmem"
)

// infoPurpose derives purpose keys: HKDF-SHA256(master key, info = infoPurpose \x00 vault id
// || purpose). The context holds the vault id, so a purpose key is different in every
// vault, and the purpose, so the clipboard's key is not the key of anything else.
const infoPurpose = "sesame vault v1 purpose"

// MaxPurposeLen bounds a purpose name.
const MaxPurposeLen = 32

// DeriveKey returns a 32-byte key for purpose, derived from the master key, in a new
// [secmem.Buf] the caller must Destroy. The same vault and purpose give the same key across
// unlocks, so a role can keep data encrypted under it, until a factor change rotates the
// master key (see "Rotation" in the package documentation): the key then changes with it,
// as it must, or the holder of a removed factor could derive it from an old copy of the
// vault. A caller that keeps data should check that it still decrypts, and start afresh or
// re-encrypt when it does not. purpose is 1 to 32 bytes
// of lower-case letters, digits and '-'. It returns an error wrapping [ErrLocked] while the
// vault is locked.
func (v *Vault) DeriveKey(purpose string) (*secmem.Buf, error) {
	key, _, err := v.DeriveKeyID(purpose)
	return key, err
}

// DeriveKeyID is DeriveKey, and also the KeyID of the master key the key was derived from
// (read in the same instant, so a rotation cannot come between the two).
func (v *Vault) DeriveKeyID(purpose string) (*secmem.Buf, string, error) {
	if err := validatePurpose(purpose); err != nil {
		return nil, "", fmt.Errorf("vault: derive key in %q: %w", v.profile, err)
	}
	v.state.RLock()
	defer v.state.RUnlock()
	k, err := v.keysLocked()
	if err != nil {
		return nil, "", fmt.Errorf("vault: derive key in %q: %w", v.profile, err)
	}
	h := v.header()
	ctx := append(h.vaultID[:len(h.vaultID):len(h.vaultID)], purpose...)
	key, err := hkdfKey(k.master.Bytes(), infoPurpose, ctx)
	if err != nil {
		return nil, "", fmt.Errorf("vault: derive key in %q: %w", v.profile, err)
	}
	// hkdf.Key returns the key on the heap: copied into secure memory, then wiped.
	defer secmem.Wipe(key)
	out, err := secmem.New(len(key))
	if err != nil {
		return nil, "", err
	}
	copy(out.Bytes(), key)
	id, err := keyIDLocked(h, k)
	if err != nil {
		out.Destroy()
		return nil, "", fmt.Errorf("vault: derive key in %q: %w", v.profile, err)
	}
	return out, id, nil
}

// infoKeyID derives KeyID: HKDF-SHA256(master key, info = infoKeyID \x00 vault id).
const infoKeyID = "sesame vault v1 key id"

// KeyID names the master key in use: 16 hex digits that change when, and only when, a
// rotation replaces it. It is derived one way from the master key and tells nothing about
// it or about any other key, so it may be shown to anyone; a role that keeps data under a
// purpose key compares it with the id it got with its key (DeriveKeyID) to see a rotation
// it was not told of. It returns an error wrapping [ErrLocked] while the vault is locked.
func (v *Vault) KeyID() (string, error) {
	v.state.RLock()
	defer v.state.RUnlock()
	k, err := v.keysLocked()
	if err != nil {
		return "", fmt.Errorf("vault: key id of %q: %w", v.profile, err)
	}
	return keyIDLocked(v.header(), k)
}

func keyIDLocked(h *header, k *keys) (string, error) {
	id, err := hkdfKey(k.master.Bytes(), infoKeyID, h.vaultID[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:8]), nil
}

func validatePurpose(p string) error {
	if p == "" || len(p) > MaxPurposeLen {
		return fmt.Errorf("%w: purpose %q: want 1 to %d bytes", ErrInvalid, p, MaxPurposeLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w: purpose %q: only a-z, 0-9 and '-'", ErrInvalid, p)
		}
	}
	return nil
}
