package vault

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/ssh"

	"github.com/open-sesame/sesame/secmem"
)

// sshAgentFactor: the factor secret comes from a signature made by a key
// that an ssh-agent holds.
//
// At enrolment the client picks 32 random bytes, the challenge, and has the
// agent sign SSHSignedData(profile, challenge); the header record keeps
//
//	challenge [32] | algorithm str8 | public key (SSH wire format, the rest)
//
// and to unlock, the client has the agent sign the same data again. derive
// checks the signature against the stored key (so a wrong key is told apart
// from a corrupt header), then
//
//	secret = HKDF-SHA256(signature blob, "sesame vault v1 factor ssh-agent\x00"
//	                     || vault id || str8 profile || str8 factor id || params)
//
// This works only because the signature is a deterministic function of the
// key and the data: Ed25519 (RFC 8032) always is, and so is RSA with PKCS#1
// v1.5 padding; the algorithm is pinned (rsa-sha2-256 for RSA keys), since
// the same RSA key gives a different signature under rsa-sha2-512 or ssh-rsa.
// ECDSA draws a random nonce for every signature (OpenSSH's does), DSA too,
// and FIDO keys (sk-*) sign a counter that changes each time: they are
// refused.
//
// No Argon2id: stretching protects a secret a person can remember, which an
// attacker can enumerate. The signature is as hard to produce as forging a
// signature by that key on fresh data (a 256-bit random challenge, never
// signed before): without the private key there is nothing to enumerate, so
// a slow hash would cost every unlock time and buy nothing. HKDF only shapes
// it into a 32-byte key bound to this vault and factor.
type sshAgentFactor struct{}

var _ factorType = sshAgentFactor{}

// Signature algorithms of ssh-agent factors, one per key type.
const (
	SSHAlgEd25519   = ssh.KeyAlgoED25519   // "ssh-ed25519"
	SSHAlgRSASHA256 = ssh.KeyAlgoRSASHA256 // "rsa-sha2-256"
	sshChallengeLen = 32
	minRSABits      = 2048
	maxRSABits      = 8192
	sshSigNamespace = "sesame-vault-unlock@open-sesame"
	infoSSHFactor   = "sesame vault v1 factor ssh-agent"
	msgSSHChallenge = "sesame vault v1 ssh-agent challenge"
)

// SSHChallengeLen is the length of an ssh-agent factor's challenge.
const SSHChallengeLen = sshChallengeLen

// SSHAlgorithm returns the signature algorithm sesame pins for pub, or an
// error that says why the key cannot be an unlock factor: only Ed25519 and
// RSA (2048 to 8192 bits) keys sign deterministically; ECDSA, DSA, FIDO (sk-)
// keys and certificates are refused.
func SSHAlgorithm(pub ssh.PublicKey) (string, error) {
	switch t := pub.Type(); t {
	case ssh.KeyAlgoED25519:
		return SSHAlgEd25519, nil
	case ssh.KeyAlgoRSA:
		ck, ok := pub.(ssh.CryptoPublicKey)
		if !ok { // an agent.Key, for example: parse its wire form
			parsed, err := ssh.ParsePublicKey(pub.Marshal())
			if err != nil {
				return "", fmt.Errorf("%w ssh key: cannot read the RSA key: %v", ErrInvalid, err)
			}
			if ck, ok = parsed.(ssh.CryptoPublicKey); !ok {
				return "", fmt.Errorf("%w ssh key: cannot read the RSA key", ErrInvalid)
			}
		}
		rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return "", fmt.Errorf("%w ssh key: cannot read the RSA key", ErrInvalid)
		}
		if bits := rk.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return "", fmt.Errorf("%w ssh key: RSA key of %d bits (want %d to %d)", ErrInvalid, bits, minRSABits, maxRSABits)
		}
		return SSHAlgRSASHA256, nil
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "", fmt.Errorf("%w ssh key: %s keys cannot unlock a vault: ECDSA signatures are not deterministic (each uses a random nonce), so they cannot derive a key; use an Ed25519 or RSA key", ErrInvalid, t)
	case ssh.KeyAlgoSKECDSA256, ssh.KeyAlgoSKED25519:
		return "", fmt.Errorf("%w ssh key: %s (FIDO) keys cannot unlock a vault: their signatures include a counter that changes each time; use an Ed25519 or RSA key held by the agent", ErrInvalid, t)
	case ssh.KeyAlgoDSA:
		return "", fmt.Errorf("%w ssh key: DSA keys cannot unlock a vault (random nonce, obsolete); use an Ed25519 or RSA key", ErrInvalid)
	default:
		return "", fmt.Errorf("%w ssh key: type %q cannot unlock a vault (certificates and other types are refused); use a plain Ed25519 or RSA key", ErrInvalid, t)
	}
}

// SSHSignedData returns the bytes the agent signs for an ssh-agent factor
// of profile with challenge. It is an OpenSSH SSHSIG blob (PROTOCOL.sshsig)
// in the namespace "sesame-vault-unlock@open-sesame" over
//
//	"sesame vault v1 ssh-agent challenge\x00" || str8 profile || challenge
//
// The client builds it itself rather than signing what it is sent, so that
// nothing can use it as an oracle for signatures that mean something else
// (an SSH login, a git commit): the SSHSIG preamble and namespace keep these
// signatures apart from every other use of the key.
func SSHSignedData(profile string, challenge []byte) []byte {
	msg := append([]byte(msgSSHChallenge+"\x00"), byte(len(profile)))
	msg = append(msg, profile...)
	msg = append(msg, challenge...)
	h := sha512.Sum512(msg)
	b := []byte("SSHSIG")
	b = appendSSHString(b, []byte(sshSigNamespace))
	b = appendSSHString(b, nil) // reserved
	b = appendSSHString(b, []byte("sha512"))
	return appendSSHString(b, h[:])
}

func appendSSHString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func encodeSSHParams(challenge []byte, alg string, pub []byte) []byte {
	b := slices.Clone(challenge)
	b = appendStr8(b, alg)
	return append(b, pub...)
}

type sshParams struct {
	challenge []byte
	alg       string
	pub       ssh.PublicKey
	wire      []byte
}

func decodeSSHParams(b []byte) (sshParams, error) {
	var p sshParams
	if len(b) < sshChallengeLen+1 {
		return p, fmt.Errorf("ssh-agent parameters are %d bytes", len(b))
	}
	p.challenge = b[:sshChallengeLen]
	n := int(b[sshChallengeLen])
	rest := b[sshChallengeLen+1:]
	if n > len(rest) {
		return p, errors.New("ssh-agent parameters: truncated algorithm")
	}
	p.alg, p.wire = string(rest[:n]), rest[n:]
	pub, err := ssh.ParsePublicKey(p.wire)
	if err != nil {
		return p, fmt.Errorf("ssh-agent public key: %v", err)
	}
	if !bytes.Equal(pub.Marshal(), p.wire) {
		return p, errors.New("ssh-agent public key: not in canonical form")
	}
	want, err := SSHAlgorithm(pub)
	if err != nil {
		return p, err
	}
	if p.alg != want {
		return p, fmt.Errorf("ssh-agent: algorithm %q for a %s key (want %q)", p.alg, pub.Type(), want)
	}
	p.pub = pub
	return p, nil
}

func (sshAgentFactor) checkParams(params []byte) error {
	_, err := decodeSSHParams(params)
	return err
}

// derive verifies the signature blob (signature format = the pinned
// algorithm) over SSHSignedData, then stretches it with HKDF. The blob is
// read in place; x/crypto's verification copies nothing secret (a signature
// is only secret here because it is the factor input, and the verifier keeps
// no copy).
func (sshAgentFactor) derive(c factorCtx, params, sig []byte) (*secmem.Buf, error) {
	p, err := decodeSSHParams(params)
	if err != nil {
		return nil, err
	}
	if err := p.pub.Verify(SSHSignedData(c.profile, p.challenge), &ssh.Signature{Format: p.alg, Blob: sig}); err != nil {
		return nil, errWrongInput
	}
	return hkdfFactor(infoSSHFactor, c, params, sig)
}

// enrollSSHAgent makes an ssh-agent factor record from the agent's public
// key (SSH wire format), the challenge the client chose and the agent's
// signature blob over SSHSignedData(profile, challenge), which must verify.
func enrollSSHAgent(c factorCtx, label string, pub, challenge, sig []byte) (factorRecord, *secmem.Buf, error) {
	if len(challenge) != sshChallengeLen {
		return factorRecord{}, nil, fmt.Errorf("%w ssh-agent challenge: %d bytes (want %d)", ErrInvalid, len(challenge), sshChallengeLen)
	}
	if bytes.Count(challenge, []byte{0}) == len(challenge) {
		return factorRecord{}, nil, fmt.Errorf("%w ssh-agent challenge: all zero", ErrInvalid)
	}
	pk, err := ssh.ParsePublicKey(pub)
	if err != nil {
		return factorRecord{}, nil, fmt.Errorf("%w ssh public key: %v", ErrInvalid, err)
	}
	alg, err := SSHAlgorithm(pk)
	if err != nil {
		return factorRecord{}, nil, err
	}
	rec := factorRecord{id: c.id, typ: FactorSSHAgent, label: label, params: encodeSSHParams(challenge, alg, pk.Marshal())}
	if len(rec.params) > maxParamsLen {
		return factorRecord{}, nil, fmt.Errorf("%w ssh public key: too large", ErrInvalid)
	}
	secret, err := sshAgentFactor{}.derive(c, rec.params, sig)
	if errors.Is(err, errWrongInput) {
		return factorRecord{}, nil, fmt.Errorf("%w ssh-agent signature: it is not a %s signature by %s over the challenge", ErrInvalid, alg, ssh.FingerprintSHA256(pk))
	}
	if err != nil {
		return factorRecord{}, nil, err
	}
	return rec, secret, nil
}
