package vault

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// Test keys for the ssh-agent and age factors. The Ed25519 key and the age
// identity are fixed, so that the header vectors can be regenerated; the RSA
// key is generated once per test binary.

func testEd25519(t testing.TB) ssh.Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	s, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func testRSA(t testing.TB) ssh.Signer {
	t.Helper()
	k, err := testRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testECDSA(t testing.TB) ssh.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testAgeIdentity is a fixed X25519 identity, used only by tests; its
// recipient is testAgeRecipient.
const testAgeIdentity = "AGE-SECRET-KEY-1HADZ9E27Y7F533RKQJGKWLFPKDTG47SC9G4VQFAKZYFKADNXG0TQS37LU3"

const testAgeRecipient = "age1pj3fsehdhf80g8qc0ghfvyav93ztjn0t5l7ltusn5lj984rm3s6qqrzyxt"

func testAge(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.ParseX25519Identity(testAgeIdentity)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sshSign signs the factor's challenge as an ssh-agent would, with the
// pinned algorithm, and returns the signature blob.
func sshSign(t testing.TB, s ssh.Signer, profile string, challenge []byte) []byte {
	t.Helper()
	alg, err := SSHAlgorithm(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		t.Fatal("not an AlgorithmSigner")
	}
	sig, err := as.SignWithAlgorithm(rand.Reader, SSHSignedData(profile, challenge), alg)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Format != alg {
		t.Fatalf("signature format %q, want %q", sig.Format, alg)
	}
	return sig.Blob
}

// sshEnrollment returns an Enrollment of s for profile, with a random
// challenge signed by s.
func sshEnrollment(t testing.TB, s ssh.Signer, profile string) Enrollment {
	t.Helper()
	ch := make([]byte, SSHChallengeLen)
	rand.Read(ch)
	return Enrollment{Type: FactorSSHAgent, PublicKey: s.PublicKey().Marshal(), Challenge: ch, Input: sshSign(t, s, profile, ch)}
}

// factorInput computes what a client presents for factor fi of profile:
// the password, the agent's signature, or the age-decrypted key.
func factorInput(t testing.TB, profile string, fi FactorInfo, password string, signers []ssh.Signer, ids []age.Identity) []byte {
	t.Helper()
	switch fi.Type {
	case FactorPassword:
		return []byte(password)
	case FactorSSHAgent:
		for _, s := range signers {
			if string(s.PublicKey().Marshal()) == string(fi.PublicKey) {
				return sshSign(t, s, profile, fi.Challenge)
			}
		}
		t.Fatalf("no signer for %s", fi.Fingerprint)
	case FactorAge:
		k, err := AgeDecryptKey(fi.AgeFile, ids...)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Destroy()
		return append([]byte(nil), k.Bytes()...)
	}
	t.Fatalf("unknown type %q", fi.Type)
	return nil
}
