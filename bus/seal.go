package bus

import (
	stdcipher "crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/open-sesame/sesame/secmem"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

// Sealing: end-to-end encryption through the hub.
//
// Noise protects each hop (client→hub, hub→role), so the hub sees every plaintext it routes.
// Bodies that carry secret bytes (a value to store, a password, the values a client asked for)
// are therefore sealed once more, end to end, from the sender to the one process meant to read
// them: the hub forwards ciphertext it cannot open.
//
//	sealed = eph_pub[32] || ChaCha20-Poly1305(key, nonce=0, plaintext, ad)
//	key    = HKDF-SHA256(secret = X25519(eph_priv, to), salt = eph_pub || to, info = "sesame seal v1")
//
// Every seal uses a fresh ephemeral key, so the all-zero nonce is never reused under one key.
// The associated data names what the plaintext is for (kind, profile, secret name) so a sealed
// value cannot be replayed into another request.
//
// To a role: the sender seals to the role's seal key, which the hub hands every client in the
// handshake. To a client: the client puts a fresh public key in its request (see Keypair) and
// the role seals the reply to it; only the process that made the request holds the private half.
const sealInfo = "sesame seal v1"

// SealOverhead is the number of bytes Seal adds.
const SealOverhead = 32 + chacha20poly1305.Overhead

var errSeal = errors.New("bus: sealed body does not open (wrong key or tampered)")

// Seal encrypts plaintext so that only the holder of to's private key can read it.
func Seal(to PublicKey, ad, plaintext []byte) ([]byte, error) {
	eph, err := GenerateKeypair()
	if err != nil {
		return nil, err
	}
	defer eph.Destroy()
	aead, err := sealAEAD(eph.Private(), to, eph.Public, to)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 32, 32+len(plaintext)+chacha20poly1305.Overhead)
	copy(out, eph.Public[:])
	var nonce [chacha20poly1305.NonceSize]byte
	return aead.Seal(out, nonce[:], plaintext, ad), nil
}

// Open decrypts a sealed body with kp straight into secure memory.
func Open(kp *Keypair, ad, sealed []byte) (*secmem.Buf, error) {
	if len(sealed) < SealOverhead {
		return nil, errSeal
	}
	var eph PublicKey
	copy(eph[:], sealed[:32])
	aead, err := sealAEAD(kp.Private(), eph, eph, kp.Public)
	if err != nil {
		return nil, err
	}
	out, err := secmem.New(len(sealed) - SealOverhead)
	if err != nil {
		return nil, err
	}
	var nonce [chacha20poly1305.NonceSize]byte
	// dst has exactly the capacity needed, so Open writes the plaintext in place, into the
	// protected page, and never reallocates on the heap.
	if _, err := aead.Open(out.Bytes()[:0], nonce[:], sealed[32:], ad); err != nil {
		out.Destroy()
		return nil, errSeal
	}
	return out, nil
}

// sealAEAD derives the per-seal key. The DH output and the HKDF output are wiped here; the
// AEAD object keeps its own copy of the key on the Go heap until it is collected (x/crypto
// offers no way to wipe it).
func sealAEAD(priv []byte, peer, ephPub, toPub PublicKey) (stdcipher.AEAD, error) {
	shared, err := curve25519.X25519(priv, peer[:])
	if err != nil {
		return nil, fmt.Errorf("bus: seal: %w", err)
	}
	defer secmem.Wipe(shared)
	salt := make([]byte, 0, 64)
	salt = append(append(salt, ephPub[:]...), toPub[:]...)
	key, err := hkdf.Key(sha256.New, shared, salt, sealInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("bus: seal: %w", err)
	}
	defer secmem.Wipe(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, fmt.Errorf("bus: seal: %w", err)
	}
	return aead, nil
}
