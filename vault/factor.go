package vault

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"

	"github.com/open-sesame/sesame/secmem"
)

// KDFParams are the Argon2id parameters of a password factor. They are stored
// in the vault header with the factor's salt, so a vault keeps the parameters
// it was created with when [DefaultKDF] changes.
type KDFParams struct {
	Time      uint32 // passes over the memory, 1 to 64
	MemoryKiB uint32 // memory in KiB, 8×Threads to 1 GiB
	Threads   uint8  // lanes, at least 1
}

// DefaultKDF is the Argon2id cost used for new vaults: 128 MiB, 6 passes,
// 2 lanes.
//
// Measured on the 2-core development VM (x/crypto v0.59.0, Go 1.26, amd64):
// one derivation took 0.35 s (minimum of 9) and 0.37 s (median) with the
// machine lightly loaded, and 0.58–0.66 s while other builds were running;
// in the same light-load run RFC 9106's second recommendation (t=3, 64 MiB,
// p=4) took 0.08–0.10 s. Memory is what costs an attacker most (area ×
// time), so the time budget goes to 128 MiB rather than to more passes over
// 64 MiB, while the transient allocation stays acceptable for a small role
// process. BenchmarkUnlockDefaultKDF reports the current figure.
var DefaultKDF = KDFParams{Time: 6, MemoryKiB: 128 << 10, Threads: 2}

// Bounds on KDF parameters accepted from callers and from headers. The upper
// bounds stop a tampered header from making Unlock allocate or spin without
// limit.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 1 << 20 // 1 GiB
)

// String returns a description such as "argon2id t=6 m=131072KiB p=2".
func (p KDFParams) String() string {
	return fmt.Sprintf("argon2id t=%d m=%dKiB p=%d", p.Time, p.MemoryKiB, p.Threads)
}

func (p KDFParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("%w kdf parameters %v: time must be 1 to %d", ErrInvalid, p, maxKDFTime)
	case p.Threads < 1:
		return fmt.Errorf("%w kdf parameters %v: threads must be at least 1", ErrInvalid, p)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("%w kdf parameters %v: memory must be 8×threads to %d KiB", ErrInvalid, p, maxKDFMemoryKiB)
	}
	return nil
}

// Factor types, as stored in a factor record.
const (
	FactorPassword = "password"  // Argon2id over a password
	FactorSSHAgent = "ssh-agent" // a signature by an ssh-agent's Ed25519 or RSA key
	FactorAge      = "age"       // a random key encrypted to an age X25519 recipient

	factorPassword = FactorPassword
)

// factorSecretLen is the length of every factor secret.
const factorSecretLen = 32

// factorCtx is what a factor secret is bound to besides its own parameters:
// the vault, its profile and the factor's id.
type factorCtx struct {
	vaultID [vaultIDLen]byte
	profile string
	id      string
}

func (h *header) factorCtx(id string) factorCtx {
	return factorCtx{vaultID: h.vaultID, profile: h.profile, id: id}
}

// errWrongInput is returned by derive for an input that is wrong on its
// face (a signature that does not verify, a key of the wrong length): the
// factor cannot be right, so no wrap is tried with it.
var errWrongInput = errors.New("wrong factor input")

// A factorType is one kind of unlock factor. It turns what the user presents
// (a password, an ssh-agent signature, an age-decrypted key) into a 32-byte
// factor secret, using the type-specific parameters stored in the factor's
// header record. The wraps of the master key are keyed by HKDF over the
// concatenated secrets of their factors, so a new factor type only has to
// implement this interface and be listed in factorTypeOf.
type factorType interface {
	// checkParams validates the parameters of a factor record. It is called
	// when a header is decoded, so a malformed record is reported as a
	// corrupt header rather than as a failed unlock.
	checkParams(params []byte) error
	// derive returns the factor secret for input under params. It returns
	// errWrongInput for an input that cannot be right, and another error
	// only for a failure to compute; an input that merely is not the right
	// one shows up as a failed unwrap.
	derive(c factorCtx, params, input []byte) (*secmem.Buf, error)
}

// factorTypeOf returns the implementation of factor type typ, or nil if this
// build does not know it. A header may name unknown types (written by a newer
// build); such factors are skipped at unlock.
func factorTypeOf(typ string) factorType {
	switch typ {
	case FactorPassword:
		return passwordFactor{}
	case FactorSSHAgent:
		return sshAgentFactor{}
	case FactorAge:
		return ageFactor{}
	}
	return nil
}

// hkdfFactor derives a factor secret from high-entropy input material with
// HKDF-SHA256, binding it to the vault, the profile, the factor id and the
// factor's parameters (info = purpose \x00 vault id | str8 profile | str8 id
// | params). The result goes straight into secmem.
func hkdfFactor(purpose string, c factorCtx, params, ikm []byte) (*secmem.Buf, error) {
	info := append([]byte(nil), c.vaultID[:]...)
	info = appendStr8(info, c.profile)
	info = appendStr8(info, c.id)
	info = append(info, params...)
	k, err := hkdfKey(ikm, purpose, info)
	if err != nil {
		return nil, err
	}
	return secmem.FromBytes(k) // wipes k
}

// passwordFactor derives the factor secret with Argon2id.
//
// Its parameters (passwordParamsLen bytes, big-endian):
//
//	salt [16] | time u32 | memory KiB u32 | threads u8
type passwordFactor struct{}

const (
	passwordSaltLen   = 16
	passwordParamsLen = passwordSaltLen + 4 + 4 + 1
)

var _ factorType = passwordFactor{}

func encodePasswordParams(salt []byte, p KDFParams) []byte {
	b := make([]byte, 0, passwordParamsLen)
	b = append(b, salt...)
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.MemoryKiB)
	return append(b, p.Threads)
}

func decodePasswordParams(b []byte) (salt []byte, p KDFParams, err error) {
	if len(b) != passwordParamsLen {
		return nil, KDFParams{}, fmt.Errorf("password parameters are %d bytes, want %d", len(b), passwordParamsLen)
	}
	salt = b[:passwordSaltLen]
	p.Time = binary.BigEndian.Uint32(b[passwordSaltLen:])
	p.MemoryKiB = binary.BigEndian.Uint32(b[passwordSaltLen+4:])
	p.Threads = b[passwordSaltLen+8]
	if err := p.validate(); err != nil {
		return nil, KDFParams{}, err
	}
	return salt, p, nil
}

func (passwordFactor) checkParams(params []byte) error {
	_, _, err := decodePasswordParams(params)
	return err
}

// derive runs Argon2id over the password.
//
// Memory: x/crypto's argon2 allocates its working memory (MemoryKiB, e.g.
// 128 MiB) and its intermediate hashes on the Go heap and does not wipe them;
// they hold password-derived data until the garbage collector reuses the
// memory. Its 32-byte output is moved into secmem at once and wiped. The
// password itself is read in place and never copied by this package.
func (passwordFactor) derive(_ factorCtx, params, password []byte) (*secmem.Buf, error) {
	salt, p, err := decodePasswordParams(params)
	if err != nil {
		return nil, err
	}
	if len(password) == 0 {
		return nil, errWrongInput // never enrolled, so never right
	}
	out := argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, factorSecretLen)
	return secmem.FromBytes(out) // wipes out
}

// enrollPassword makes a new password factor record with a fresh salt and
// returns it with the factor secret.
func enrollPassword(id, label string, password []byte, kdf KDFParams) (factorRecord, *secmem.Buf, error) {
	if err := kdf.validate(); err != nil {
		return factorRecord{}, nil, err
	}
	if len(password) == 0 {
		return factorRecord{}, nil, fmt.Errorf("%w password: empty", ErrInvalid)
	}
	salt := make([]byte, passwordSaltLen)
	rand.Read(salt) // never fails (crypto/rand aborts the process instead)
	rec := factorRecord{id: id, typ: factorPassword, label: label, params: encodePasswordParams(salt, kdf)}
	secret, err := passwordFactor{}.derive(factorCtx{}, rec.params, password)
	if err != nil {
		return factorRecord{}, nil, err
	}
	return rec, secret, nil
}
