package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/open-sesame/sesame/secmem"
)

// ageFactor: the factor secret comes from a random key that only the holder
// of an age X25519 identity can decrypt.
//
// At enrolment the vault draws a random 32-byte factor key and encrypts it
// to the recipient (age1…) with filippo.io/age; the header record keeps
//
//	recipient str8 | age file (binary, the rest)
//
// To unlock, the client decrypts the age file with its identity and presents
// the 32-byte key; derive stretches it with HKDF (no Argon2id: the key is
// uniformly random) into
//
//	secret = HKDF-SHA256(factor key, "sesame vault v1 factor age\x00"
//	                     || vault id || str8 profile || str8 factor id || params)
//
// The recipient is public and kept so that a client holding several
// identities knows which one to use (an X25519 age file does not say).
//
// Memory: age.Encrypt copies the plaintext into its chunk buffer on the Go
// heap, which this package cannot wipe; the factor key itself is in secmem.
type ageFactor struct{}

var _ factorType = ageFactor{}

const (
	ageKeyLen     = 32
	ageMagic      = "age-encryption.org/v1\n"
	maxAgeFileLen = 1024
	infoAgeFactor = "sesame vault v1 factor age"
)

// AgeKeyLen is the length of the key an age factor's file decrypts to.
const AgeKeyLen = ageKeyLen

func decodeAgeParams(b []byte) (recipient string, file []byte, err error) {
	if len(b) < 1 || int(b[0]) > len(b)-1 {
		return "", nil, errors.New("age parameters: truncated recipient")
	}
	recipient, file = string(b[1:1+int(b[0])]), b[1+int(b[0]):]
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return "", nil, fmt.Errorf("age recipient: %v", err)
	}
	if r.String() != recipient {
		return "", nil, errors.New("age recipient: not in canonical form")
	}
	if !bytes.HasPrefix(file, []byte(ageMagic)) || len(file) > maxAgeFileLen {
		return "", nil, errors.New("age parameters: not an age file of at most 1 KiB")
	}
	return recipient, file, nil
}

func (ageFactor) checkParams(params []byte) error {
	_, _, err := decodeAgeParams(params)
	return err
}

func (ageFactor) derive(c factorCtx, params, key []byte) (*secmem.Buf, error) {
	if _, _, err := decodeAgeParams(params); err != nil {
		return nil, err
	}
	if len(key) != ageKeyLen {
		return nil, errWrongInput
	}
	return hkdfFactor(infoAgeFactor, c, params, key)
}

// enrollAge makes an age factor record for recipient: a fresh random key,
// encrypted to it.
func enrollAge(c factorCtx, label, recipient string) (factorRecord, *secmem.Buf, error) {
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return factorRecord{}, nil, fmt.Errorf("%w age recipient %q: %v (want an X25519 recipient, age1…)", ErrInvalid, recipient, err)
	}
	key, err := secmem.New(ageKeyLen)
	if err != nil {
		return factorRecord{}, nil, err
	}
	defer key.Destroy()
	rand.Read(key.Bytes()) // never fails (crypto/rand aborts the process instead)
	var file bytes.Buffer
	w, err := age.Encrypt(&file, r)
	if err != nil {
		return factorRecord{}, nil, err
	}
	if _, err := w.Write(key.Bytes()); err != nil {
		return factorRecord{}, nil, err
	}
	if err := w.Close(); err != nil {
		return factorRecord{}, nil, err
	}
	params := appendStr8(nil, r.String())
	params = append(params, file.Bytes()...)
	if _, _, err := decodeAgeParams(params); err != nil {
		return factorRecord{}, nil, fmt.Errorf("age: the file made for %s does not check: %v", recipient, err)
	}
	rec := factorRecord{id: c.id, typ: FactorAge, label: label, params: params}
	secret, err := ageFactor{}.derive(c, params, key.Bytes())
	if err != nil {
		return factorRecord{}, nil, err
	}
	return rec, secret, nil
}

// AgeDecryptKey decrypts an age factor's file (FactorInfo.AgeFile) with
// identities into secure memory; it is what a client presents to unlock.
// The caller destroys the result. age decrypts through a chunk buffer on the
// Go heap that this function cannot wipe.
func AgeDecryptKey(file []byte, identities ...age.Identity) (*secmem.Buf, error) {
	r, err := age.Decrypt(bytes.NewReader(file), identities...)
	if err != nil {
		return nil, err
	}
	key, err := secmem.New(ageKeyLen)
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r, key.Bytes()); err != nil {
		key.Destroy()
		return nil, fmt.Errorf("age: %v", err)
	}
	var one [1]byte
	if n, _ := r.Read(one[:]); n != 0 {
		key.Destroy()
		return nil, errors.New("age: the file holds more than a factor key")
	}
	return key, nil
}
