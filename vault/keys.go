package vault

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/open-sesame/sesame/secmem"
)

// Key and record sizes.
const (
	masterKeyLen   = 32
	subkeyLen      = 32
	lookupIDLen    = sha256.Size // 32
	recordNonceLen = chacha20poly1305.NonceSizeX
	aeadOverhead   = chacha20poly1305.Overhead
)

// HKDF info and AEAD associated-data prefixes. Every info string is
// prefix + "\x00" + context, where the context always contains the 16-byte
// vault id, so keys never repeat across vaults or purposes.
const (
	infoLookup    = "sesame vault v1 lookup"
	infoName      = "sesame vault v1 name"
	infoValue     = "sesame vault v1 value"
	infoHeaderMAC = "sesame vault v1 header-mac"
	infoKEK       = "sesame vault v1 kek"
	adWrap        = "sesame vault v1 wrap"
	adRecord      = "sesame vault v1 record"
)

// hkdfKey derives a 32-byte key with HKDF-SHA256 (no salt: every secret fed
// to it is uniformly random). The result is on the Go heap; callers move it
// into secmem or into an AEAD and wipe it. crypto/hkdf's HMAC state, which
// holds secret-derived pads, is on the heap too and cannot be wiped.
func hkdfKey(secret []byte, purpose string, context []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, purpose+"\x00"+string(context), subkeyLen)
}

// newAEAD returns XChaCha20-Poly1305 under key and wipes key.
//
// chacha20poly1305.NewX copies the key into a struct on the Go heap, which
// wipeAEAD clears. Each Seal and Open also derives a per-nonce subkey that
// x/crypto allocates on the heap and does not wipe; such a subkey decrypts
// only what was sealed under that one nonce.
func newAEAD(key []byte) (cipher.AEAD, error) {
	defer secmem.Wipe(key)
	return chacha20poly1305.NewX(key)
}

// wipeAEAD zeroes the key inside an AEAD made by chacha20poly1305.NewX.
//
// x/crypto offers no way to erase it, so this reaches into the unexported
// struct by reflection, and only if its layout is exactly the expected
// struct{ key [32]byte }; otherwise it does nothing. TestWipeAEAD fails if
// x/crypto changes the layout, so the loss cannot go unnoticed.
func wipeAEAD(a cipher.AEAD) {
	v := reflect.ValueOf(a)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	s := v.Elem()
	if s.Kind() != reflect.Struct || s.NumField() != 1 || s.Type().Field(0).Name != "key" {
		return
	}
	f := s.Field(0)
	if f.Type() != reflect.TypeFor[[chacha20poly1305.KeySize]byte]() {
		return
	}
	secmem.Wipe(unsafe.Slice((*byte)(unsafe.Pointer(f.UnsafeAddr())), chacha20poly1305.KeySize))
}

// kek returns the AEAD that wraps the master key for the factor set ids,
// keyed by HKDF over the concatenated factor secrets (in ids order) with the
// wrap context as info.
func kek(h *header, ids []string, secrets []*secmem.Buf) (cipher.AEAD, error) {
	ikm, err := secmem.New(len(secrets) * factorSecretLen)
	if err != nil {
		return nil, err
	}
	defer ikm.Destroy()
	b := ikm.Bytes()
	for i, s := range secrets {
		if s.Len() != factorSecretLen {
			return nil, errors.New("factor secret has the wrong length")
		}
		copy(b[i*factorSecretLen:], s.Bytes())
	}
	key, err := hkdfKey(b, infoKEK, wrapContext(h, ids))
	if err != nil {
		return nil, err
	}
	return newAEAD(key)
}

// wrapContext binds a wrap to its vault and to the identity and parameters
// of its factors: header version | vault id | profile | factor count | for
// each factor: id, type, params. It is the associated data of the wrap and
// the HKDF context of its key-encryption key, so editing a factor's Argon2
// parameters or moving a wrap to another factor set makes the unwrap fail.
func wrapContext(h *header, ids []string) []byte {
	b := binary.BigEndian.AppendUint16(nil, h.version)
	b = append(b, h.vaultID[:]...)
	b = appendStr8(b, h.profile)
	b = append(b, byte(len(ids)))
	for _, id := range ids {
		f := h.factor(id)
		if f == nil { // cannot happen for a validated header
			f = &factorRecord{id: id}
		}
		b = appendStr8(b, f.id)
		b = appendStr8(b, f.typ)
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.params)))
		b = append(b, f.params...)
	}
	return b
}

// sealWrap encrypts mk for the factor set ids and returns the wrap.
func sealWrap(h *header, ids []string, secrets []*secmem.Buf, mk *secmem.Buf) (wrap, error) {
	aead, err := kek(h, ids, secrets)
	if err != nil {
		return wrap{}, err
	}
	defer wipeAEAD(aead)
	w := wrap{ids: slices.Clone(ids)}
	rand.Read(w.nonce[:])
	ct := aead.Seal(w.ct[:0], w.nonce[:], mk.Bytes(), append([]byte(adWrap+"\x00"), wrapContext(h, ids)...))
	if len(ct) != wrapCTLen || &ct[0] != &w.ct[0] {
		return wrap{}, errors.New("wrap ciphertext has the wrong size")
	}
	return w, nil
}

// openWrap decrypts the master key from w straight into secmem.
func openWrap(h *header, w *wrap, secrets []*secmem.Buf) (*secmem.Buf, error) {
	aead, err := kek(h, w.ids, secrets)
	if err != nil {
		return nil, err
	}
	defer wipeAEAD(aead)
	return openInto(aead, w.nonce[:], w.ct[:], append([]byte(adWrap+"\x00"), wrapContext(h, w.ids)...))
}

// errAuth is returned when a ciphertext fails to authenticate.
var errAuth = errors.New("message authentication failed")

// openInto decrypts ct into a new secmem buffer: Open's dst is the buffer's
// memory with zero length and exactly the plaintext's capacity, so the
// plaintext is written there and nowhere else by this package. On failure the
// AEAD has already zeroed what it wrote, and the buffer is destroyed.
func openInto(aead cipher.AEAD, nonce, ct, ad []byte) (*secmem.Buf, error) {
	n := len(ct) - aead.Overhead()
	if n < 0 {
		return nil, errors.New("ciphertext too short")
	}
	buf, err := secmem.New(n)
	if err != nil {
		return nil, err
	}
	if _, err := openTo(aead, nonce, ct, ad, buf.Bytes()); err != nil {
		buf.Destroy()
		return nil, err
	}
	return buf, nil
}

// openTo decrypts ct into dst[:0], which must have room for the plaintext,
// and returns the plaintext there. Anything else is an error: the plaintext
// never lands in memory that dst does not cover.
func openTo(aead cipher.AEAD, nonce, ct, ad, dst []byte) ([]byte, error) {
	n := len(ct) - aead.Overhead()
	if n < 0 {
		return nil, errors.New("ciphertext too short")
	}
	if cap(dst) < n {
		return nil, errors.New("no room for the plaintext")
	}
	out, err := aead.Open(dst[:0], nonce, ct, ad)
	if err != nil {
		return nil, errAuth
	}
	if n > 0 && &out[0] != &dst[:1][0] { // cannot happen: cap(dst) >= n
		secmem.Wipe(out)
		return nil, errors.New("plaintext escaped protected memory")
	}
	return out, nil
}

// headerMAC returns HMAC-SHA256 over the header body under a key derived
// from the master key. It authenticates what the wraps do not: the policy,
// the labels, the creation time and the list of factors and wraps.
func headerMAC(h *header, mk *secmem.Buf) ([headerMACLen]byte, error) {
	var sum [headerMACLen]byte
	key, err := hkdfKey(mk.Bytes(), infoHeaderMAC, h.vaultID[:])
	if err != nil {
		return sum, err
	}
	defer secmem.Wipe(key)
	m := hmac.New(sha256.New, key)
	m.Write(h.body())
	m.Sum(sum[:0])
	return sum, nil
}

// keys are the working keys of an unlocked vault, all derived from the
// master key with HKDF and the vault id.
//
// Memory: the master key lives in secmem. The two AEADs each keep a copy of
// their key in a struct on the Go heap (x/crypto's design); destroy wipes it
// with wipeAEAD. The HMAC keeps its key-derived pads on the heap and Go's
// crypto/hmac cannot erase them: destroy drops the only reference, and the
// garbage collector reuses the memory eventually.
type keys struct {
	master *secmem.Buf
	name   cipher.AEAD // encrypts secret names
	value  cipher.AEAD // encrypts secret values
	// adPrefix is the record associated data up to the lookup id; it is
	// not secret.
	adPrefix []byte

	lookup struct {
		sync.Mutex
		mac hash.Hash // HMAC-SHA256 under the lookup key
	}
}

// newKeys derives the working keys from mk. On success it owns mk; on error
// the caller still does.
func newKeys(h *header, mk *secmem.Buf) (*keys, error) {
	k := &keys{}
	lk, err := hkdfKey(mk.Bytes(), infoLookup, h.vaultID[:])
	if err != nil {
		return nil, err
	}
	k.lookup.mac = hmac.New(sha256.New, lk)
	secmem.Wipe(lk)
	nk, err := hkdfKey(mk.Bytes(), infoName, h.vaultID[:])
	if err != nil {
		return nil, err
	}
	if k.name, err = newAEAD(nk); err != nil {
		return nil, err
	}
	vk, err := hkdfKey(mk.Bytes(), infoValue, h.vaultID[:])
	if err != nil {
		wipeAEAD(k.name)
		return nil, err
	}
	if k.value, err = newAEAD(vk); err != nil {
		wipeAEAD(k.name)
		return nil, err
	}
	k.adPrefix = append([]byte(adRecord+"\x00"), h.vaultID[:]...)
	k.adPrefix = appendStr8(k.adPrefix, h.profile)
	k.master = mk
	return k, nil
}

// destroy wipes what can be wiped. k must not be used afterwards.
func (k *keys) destroy() {
	k.master.Destroy()
	wipeAEAD(k.name)
	wipeAEAD(k.value)
	k.lookup.Lock()
	k.lookup.mac = nil
	k.lookup.Unlock()
}

// lookupID returns HMAC-SHA256(lookup key, name): the row key of a secret.
func (k *keys) lookupID(name string) []byte {
	k.lookup.Lock()
	defer k.lookup.Unlock()
	k.lookup.mac.Reset()
	k.lookup.mac.Write([]byte(name))
	return k.lookup.mac.Sum(make([]byte, 0, lookupIDLen))
}

// recordAD is the associated data of one column of a record: prefix
// (vault id, profile), a column tag and the row's lookup id. It binds the
// ciphertext to its vault, its profile and its row, so a record copied to
// another row or another vault fails to decrypt.
func (k *keys) recordAD(column byte, lid []byte) []byte {
	ad := make([]byte, 0, len(k.adPrefix)+1+len(lid))
	ad = append(ad, k.adPrefix...)
	ad = append(ad, column)
	return append(ad, lid...)
}

// record is one row of the secrets table.
//
// The name and the value are encrypted under different keys with the same
// fresh nonce, so the nonce is stored once, and a name and a value from
// different writes of the same row never decrypt together.
type record struct {
	lid   []byte // lookupID(name)
	nonce []byte // 24 random bytes, new on every write
	name  []byte // XChaCha20-Poly1305(name key, nonce, name, AD 'n')
	value []byte // XChaCha20-Poly1305(value key, nonce, value, AD 'v')
}

// sealRecord encrypts name and value with nonce (random if nil).
func (k *keys) sealRecord(name string, value, nonce []byte) record {
	r := record{lid: k.lookupID(name), nonce: nonce}
	if r.nonce == nil {
		r.nonce = make([]byte, recordNonceLen)
		rand.Read(r.nonce)
	}
	r.name = k.name.Seal(nil, r.nonce, []byte(name), k.recordAD('n', r.lid))
	r.value = k.value.Seal(nil, r.nonce, value, k.recordAD('v', r.lid))
	return r
}

// openName decrypts and validates the name of r; r.value is not used.
func (k *keys) openName(r *record) (string, error) {
	switch {
	case len(r.lid) != lookupIDLen:
		return "", fmt.Errorf("lookup id is %d bytes", len(r.lid))
	case len(r.nonce) != recordNonceLen:
		return "", fmt.Errorf("nonce is %d bytes", len(r.nonce))
	case len(r.name) < aeadOverhead+1 || len(r.name) > aeadOverhead+MaxNameLen:
		return "", fmt.Errorf("name ciphertext is %d bytes", len(r.name))
	}
	name, err := k.name.Open(nil, r.nonce, r.name, k.recordAD('n', r.lid))
	if err != nil {
		return "", fmt.Errorf("name: %v", errAuth)
	}
	if err := validateName(string(name)); err != nil {
		return "", fmt.Errorf("name: %v", err)
	}
	return string(name), nil
}

// openRecord decrypts r, checks that it is the record of want, and returns
// the value in secmem.
func (k *keys) openRecord(r *record, want string) (*secmem.Buf, error) {
	name, err := k.openName(r)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(name), []byte(want)) != 1 {
		return nil, errors.New("record holds another name")
	}
	return k.openValue(r)
}

// openValue decrypts the value of r into secmem; r.name is not checked.
func (k *keys) openValue(r *record) (*secmem.Buf, error) {
	if len(r.value) < aeadOverhead || len(r.value) > aeadOverhead+MaxValueLen {
		return nil, fmt.Errorf("value ciphertext is %d bytes", len(r.value))
	}
	v, err := openInto(k.value, r.nonce, r.value, k.recordAD('v', r.lid))
	if err != nil {
		return nil, fmt.Errorf("value: %v", err)
	}
	return v, nil
}

// openValueTo is openValue into dst, a slice of protected memory of
// capacity at least the plaintext's length, and returns the plaintext there.
func (k *keys) openValueTo(r *record, dst []byte) ([]byte, error) {
	if len(r.value) < aeadOverhead || len(r.value) > aeadOverhead+MaxValueLen {
		return nil, fmt.Errorf("value ciphertext is %d bytes", len(r.value))
	}
	out, err := openTo(k.value, r.nonce, r.value, k.recordAD('v', r.lid), dst)
	if err != nil {
		return nil, fmt.Errorf("value: %v", err)
	}
	return out, nil
}
