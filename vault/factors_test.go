package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"github.com/open-sesame/sesame/secmem"
)

func testPasswordEnrollment(pw string) Enrollment {
	return Enrollment{Type: FactorPassword, Input: []byte(pw), KDF: testKDF}
}

func createWith(t testing.TB, profile string, pol Policy, fs ...Enrollment) *Vault {
	t.Helper()
	v, err := CreateWith(Path(t.TempDir(), profile), profile, pol, fs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// inputsFor returns the inputs of the factors ids of v, computed as a
// client would.
func inputsFor(t testing.TB, v *Vault, ids ...string) map[string][]byte {
	t.Helper()
	_, fis := v.Factors()
	out := map[string][]byte{}
	for _, id := range ids {
		i := slices.IndexFunc(fis, func(f FactorInfo) bool { return f.ID == id })
		if i < 0 {
			t.Fatalf("no factor %q", id)
		}
		out[id] = factorInput(t, v.Profile(), fis[i], testPassword, []ssh.Signer{testEd25519(t), testRSA(t)}, []age.Identity{testAge(t)})
	}
	return out
}

func TestSSHAgentFactor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		signer ssh.Signer
		alg    string
	}{
		{"ed25519", testEd25519(t), "ssh-ed25519"},
		{"rsa", testRSA(t), "rsa-sha2-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := createWith(t, "work", PolicyAny, sshEnrollment(t, tc.signer, "work"))
			mustSet(t, v, "k", "v")
			pol, fis := v.Factors()
			if pol != PolicyAny || len(fis) != 1 {
				t.Fatalf("Factors = %v %+v", pol, fis)
			}
			fi := fis[0]
			if fi.ID != "ssh-agent" || fi.Type != FactorSSHAgent || fi.Algorithm != tc.alg ||
				fi.Fingerprint != ssh.FingerprintSHA256(tc.signer.PublicKey()) || len(fi.Challenge) != SSHChallengeLen {
				t.Errorf("factor info %+v", fi)
			}
			v = reopen(t, v)
			// The signature is deterministic: signing again gives the same secret.
			if err := v.UnlockWith(inputsFor(t, v, "ssh-agent")); err != nil {
				t.Fatal(err)
			}
			if got := mustGet(t, v, "k"); got != "v" {
				t.Errorf("Get = %q", got)
			}
			v.Lock()
			// Another key's valid signature over the same data, a signature
			// over other data, and garbage: all ErrBadFactor.
			other := testEd25519(t)
			if tc.name == "ed25519" {
				other = testRSA(t)
			}
			for name, sig := range map[string][]byte{
				"other key":      sshSign(t, other, "work", fi.Challenge),
				"other profile":  sshSign(t, tc.signer, "home", fi.Challenge),
				"other data":     sshSign(t, tc.signer, "work", make([]byte, SSHChallengeLen)),
				"garbage":        bytes.Repeat([]byte{7}, 64),
				"empty":          nil,
				"truncated blob": sshSign(t, tc.signer, "work", fi.Challenge)[1:],
			} {
				if err := v.UnlockWith(map[string][]byte{"ssh-agent": sig}); !errors.Is(err, ErrBadFactor) {
					t.Errorf("%s: UnlockWith = %v, want ErrBadFactor", name, err)
				}
			}
			if tc.name == "rsa" {
				// The same key under another algorithm gives another signature.
				sig, err := tc.signer.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, SSHSignedData("work", fi.Challenge), ssh.KeyAlgoRSASHA512)
				if err != nil {
					t.Fatal(err)
				}
				if err := v.UnlockWith(map[string][]byte{"ssh-agent": sig.Blob}); !errors.Is(err, ErrBadFactor) {
					t.Errorf("rsa-sha2-512: UnlockWith = %v, want ErrBadFactor", err)
				}
			}
			if err := v.UnlockWith(map[string][]byte{"nosuch": {1}}); !errors.Is(err, ErrInvalid) {
				t.Errorf("unknown factor id: %v", err)
			}
		})
	}
}

func TestSSHAgentRefused(t *testing.T) {
	dir := t.TempDir()
	ec := testECDSA(t)
	ch := make([]byte, SSHChallengeLen)
	rand.Read(ch)
	sig, err := ec.Sign(rand.Reader, SSHSignedData("work", ch))
	if err != nil {
		t.Fatal(err)
	}
	e := Enrollment{Type: FactorSSHAgent, PublicKey: ec.PublicKey().Marshal(), Challenge: ch, Input: sig.Blob}
	_, err = CreateWith(Path(dir, "work"), "work", PolicyAny, []Enrollment{e})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ECDSA signatures are not deterministic") {
		t.Errorf("ECDSA: %v", err)
	}
	// A signature that does not verify is refused at enrolment.
	e = sshEnrollment(t, testEd25519(t), "work")
	e.Input = sshSign(t, testEd25519(t), "other", e.Challenge)
	if _, err := CreateWith(Path(dir, "work"), "work", PolicyAny, []Enrollment{e}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a ssh-ed25519 signature") {
		t.Errorf("bad signature: %v", err)
	}
	e = sshEnrollment(t, testEd25519(t), "work")
	e.Challenge = make([]byte, SSHChallengeLen)
	if _, err := CreateWith(Path(dir, "work"), "work", PolicyAny, []Enrollment{e}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero challenge: %v", err)
	}
	if _, err := os.Stat(Path(dir, "work")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused enrolment left a vault: %v", err)
	}
	for _, typ := range []string{ssh.KeyAlgoECDSA256, ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256, ssh.KeyAlgoDSA, ssh.CertAlgoED25519v01} {
		if _, err := SSHAlgorithm(fakeKey(typ)); !errors.Is(err, ErrInvalid) {
			t.Errorf("SSHAlgorithm(%s) = %v", typ, err)
		}
	}
}

// fakeKey is an ssh.PublicKey of any type, for SSHAlgorithm.
type fakeKey string

func (k fakeKey) Type() string                        { return string(k) }
func (k fakeKey) Marshal() []byte                     { return nil }
func (k fakeKey) Verify([]byte, *ssh.Signature) error { return errors.New("fake") }

func TestAgeFactor(t *testing.T) {
	v := createWith(t, "fleet", PolicyAny, Enrollment{Type: FactorAge, Recipient: testAgeRecipient, Label: "jump host"})
	mustSet(t, v, "k", "v")
	_, fis := v.Factors()
	if fis[0].ID != "age" || fis[0].Recipient != testAgeRecipient || fis[0].Label != "jump host" || !bytes.HasPrefix(fis[0].AgeFile, []byte("age-encryption.org/v1\n")) {
		t.Errorf("factor info %+v", fis[0])
	}
	v = reopen(t, v)
	if err := v.UnlockWith(inputsFor(t, v, "age")); err != nil {
		t.Fatal(err)
	}
	v.Lock()
	other, _ := age.GenerateX25519Identity()
	if _, err := AgeDecryptKey(fis[0].AgeFile, other); err == nil {
		t.Error("another identity decrypted the factor key")
	}
	for name, in := range map[string][]byte{"random key": bytes.Repeat([]byte{1}, AgeKeyLen), "short": {1, 2, 3}} {
		if err := v.UnlockWith(map[string][]byte{"age": in}); !errors.Is(err, ErrBadFactor) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := CreateWith(Path(t.TempDir(), "x"), "x", PolicyAny, []Enrollment{{Type: FactorAge, Recipient: "age1nope"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad recipient: %v", err)
	}
}

// threeFactors enrols a password, the Ed25519 key and the age identity.
func threeFactors(t testing.TB, profile string) []Enrollment {
	return []Enrollment{testPasswordEnrollment(testPassword), sshEnrollment(t, testEd25519(t), profile), {Type: FactorAge, Recipient: testAgeRecipient}}
}

// TestOfflineSubsets is the proof that the policies are enforced by
// cryptography. It reads a closed vault's header from the file, as an
// attacker with a copy of it would, and for every subset S of the factors
// computes the secrets of S (the attacker holds those factors) and tries to
// open every wrap: a wrap over factors all in S with their secrets, and every
// other wrap with the secrets it has filled in and, for each missing factor,
// every secret the attacker knows (of S, or all zero), as if the factors
// were interchangeable (they were in the reference). Only subsets that the
// policy accepts open anything; every other attempt fails to authenticate,
// and what opens is the master key (the header MAC verifies under it).
func TestOfflineSubsets(t *testing.T) {
	pw := func(id string) Enrollment { return testPasswordEnrollment("pw " + id) }
	for _, tc := range []struct {
		pol Policy
		fs  []Enrollment
	}{
		{PolicyAny, threeFactors(t, "work")},
		{PolicyAll, threeFactors(t, "work")},
		{KOfN(2), threeFactors(t, "work")},
		{KOfN(3), []Enrollment{pw("a"), pw("b"), pw("c"), sshEnrollment(t, testEd25519(t), "work"), {Type: FactorAge, Recipient: testAgeRecipient}}},
	} {
		name := fmt.Sprintf("%s-%d", tc.pol.Format(len(tc.fs)), len(tc.fs))
		t.Run(name, func(t *testing.T) {
			v := createWith(t, "work", tc.pol, tc.fs...)
			mustSet(t, v, "k", "v")
			_, fis := v.Factors()
			password := map[string]string{"password": testPassword}
			if len(tc.fs) == 5 {
				password = map[string]string{"password": "pw a", "password-2": "pw b", "password-3": "pw c"}
			}
			inputs := map[string][]byte{}
			for _, f := range fis {
				inputs[f.ID] = factorInput(t, "work", f, password[f.ID], []ssh.Signer{testEd25519(t)}, []age.Identity{testAge(t)})
			}
			path := v.Path()
			v.Close()

			h, err := decodeHeader(headerBlob(t, path))
			if err != nil {
				t.Fatal(err)
			}
			n := len(h.factors)
			thr, _ := h.policy.threshold(n)
			secrets := map[string]*secmem.Buf{}
			for _, f := range h.factors {
				s, err := factorTypeOf(f.typ).derive(h.factorCtx(f.id), f.params, inputs[f.id])
				if err != nil {
					t.Fatal(err)
				}
				defer s.Destroy()
				secrets[f.id] = s
			}
			zero, _ := secmem.New(factorSecretLen)
			defer zero.Destroy()
			attempts := 0
			for mask := 0; mask < 1<<n; mask++ {
				var S []string
				for i, f := range h.factors {
					if mask&(1<<i) != 0 {
						S = append(S, f.id)
					}
				}
				known := []*secmem.Buf{zero}
				for _, id := range S {
					known = append(known, secrets[id])
				}
				opened := false
				for wi := range h.wraps {
					w := &h.wraps[wi]
					var missing []int
					ss := make([]*secmem.Buf, len(w.ids))
					for j, id := range w.ids {
						if slices.Contains(S, id) {
							ss[j] = secrets[id]
						} else {
							missing = append(missing, j)
						}
					}
					// Every assignment of known secrets to the missing slots.
					for combo := 0; ; combo++ {
						c := combo
						for _, j := range missing {
							ss[j] = known[c%len(known)]
							c /= len(known)
						}
						if c > 0 {
							break
						}
						attempts++
						mk, err := openWrap(h, w, ss)
						if err == nil {
							if len(missing) > 0 {
								t.Fatalf("S=%q opened wrap %q without all its factors", S, w.ids)
							}
							mac, _ := headerMAC(h, mk)
							if mac != h.mac {
								t.Fatalf("wrap %q opened to something that is not the master key", w.ids)
							}
							mk.Destroy()
							opened = true
						} else if len(missing) == 0 {
							t.Fatalf("S=%q: wrap %q with all its secrets: %v", S, w.ids, err)
						}
						if len(missing) == 0 {
							break
						}
					}
				}
				if want := len(S) >= thr; opened != want {
					t.Errorf("subset %q (%d of %d, policy needs %d): opened = %v", S, len(S), n, thr, opened)
				}
				// And through the API: exactly the accepted subsets unlock.
				w, err := Open(path, "work")
				if err != nil {
					t.Fatal(err)
				}
				in := map[string][]byte{}
				for _, id := range S {
					in[id] = inputs[id]
				}
				err = w.UnlockWith(in)
				if want := len(S) >= thr; (err == nil) != want || (!want && !errors.Is(err, ErrMissingFactors)) {
					t.Errorf("UnlockWith(%q) = %v", S, err)
				}
				w.Close()
			}
			t.Logf("%d subsets, %d wraps, %d offline attempts", 1<<n, len(h.wraps), attempts)
		})
	}
}

func TestChangeFactors(t *testing.T) {
	v := createWith(t, "work", PolicyAny, testPasswordEnrollment(testPassword))
	mustSet(t, v, "k", "v")
	ssh1 := sshEnrollment(t, testEd25519(t), "work")

	// any + ssh-agent: no input needed, and the master key stays.
	res, err := v.ChangeFactors(Change{Add: []Enrollment{ssh1}}, nil)
	if err != nil || !slices.Equal(res.Added, []string{"ssh-agent"}) || res.Rotated {
		t.Fatalf("add ssh-agent: %+v %v", res, err)
	}
	v = reopen(t, v)
	for _, id := range []string{"password", "ssh-agent"} {
		if err := v.UnlockWith(inputsFor(t, v, id)); err != nil {
			t.Fatalf("unlock with %s: %v", id, err)
		}
		if id == "password" {
			v.Lock()
		}
	}
	if got := mustGet(t, v, "k"); got != "v" {
		t.Fatal(got)
	}

	// any → all needs both, both right.
	all := PolicyAll
	if _, err := v.ChangeFactors(Change{Policy: &all}, inputsFor(t, v, "password")); !errors.Is(err, ErrMissingFactors) {
		t.Errorf("any→all with one factor: %v", err)
	}
	bad := inputsFor(t, v, "password", "ssh-agent")
	bad["password"] = []byte("wrong")
	if _, err := v.ChangeFactors(Change{Policy: &all}, bad); !errors.Is(err, ErrBadFactor) {
		t.Errorf("any→all with a wrong password: %v", err)
	}
	// A single factor opened the old header and does not open the new one:
	// the master key is replaced.
	if res, err := v.ChangeFactors(Change{Policy: &all}, inputsFor(t, v, "password", "ssh-agent")); err != nil || !res.Rotated || res.Reencrypted != 1 {
		t.Fatalf("any→all: %+v %v", res, err)
	}
	if pol, _ := v.Factors(); pol != PolicyAll {
		t.Errorf("policy %v", pol)
	}
	v = reopen(t, v)
	if err := v.UnlockWith(inputsFor(t, v, "password")); !errors.Is(err, ErrMissingFactors) {
		t.Errorf("all, password only: %v", err)
	}
	if err := v.UnlockWith(inputsFor(t, v, "password", "ssh-agent")); err != nil {
		t.Fatal(err)
	}

	// all + age: every existing factor must be presented.
	ageE := Enrollment{Type: FactorAge, Recipient: testAgeRecipient}
	if _, err := v.ChangeFactors(Change{Add: []Enrollment{ageE}}, inputsFor(t, v, "ssh-agent")); !errors.Is(err, ErrMissingFactors) {
		t.Errorf("all + age without the password: %v", err)
	}
	two := KOfN(2)
	if res, err := v.ChangeFactors(Change{Add: []Enrollment{ageE}, Policy: &two}, inputsFor(t, v, "password", "ssh-agent")); err != nil || res.Rotated {
		t.Fatalf("all → 2-of-3 + age: %+v %v", res, err)
	}
	if pol, fis := v.Factors(); pol != two || len(fis) != 3 || len(v.header().wraps) != 3 {
		t.Errorf("after adding age: %v %d factors %d wraps", pol, len(fis), len(v.header().wraps))
	}
	v = reopen(t, v)
	for _, pair := range [][]string{{"password", "ssh-agent"}, {"password", "age"}, {"age", "ssh-agent"}} {
		if err := v.UnlockWith(inputsFor(t, v, pair...)); err != nil {
			t.Errorf("2-of-3 with %q: %v", pair, err)
		}
		v.Lock()
	}
	for _, one := range []string{"password", "ssh-agent", "age"} {
		if err := v.UnlockWith(inputsFor(t, v, one)); !errors.Is(err, ErrMissingFactors) {
			t.Errorf("2-of-3 with %s alone: %v", one, err)
		}
	}
	if err := v.UnlockWith(inputsFor(t, v, "age", "password")); err != nil {
		t.Fatal(err)
	}

	// 2-of-3, remove the password: {password, age} opened the old header,
	// so the master key is replaced. The ssh-agent key must sign again (its
	// signature is checked against the stored key); the age factor is
	// re-enrolled to its recipient and needs nothing.
	_, before := v.Factors()
	if _, err := v.ChangeFactors(Change{Remove: []string{"password"}}, nil); !errors.Is(err, ErrMissingFactors) || !strings.Contains(err.Error(), `replaces the master key`) {
		t.Errorf("remove under 2-of-3 without the ssh-agent: %v", err)
	}
	otherSig := map[string][]byte{"ssh-agent": sshSign(t, testRSA(t), "work", before[2].Challenge)}
	if _, err := v.ChangeFactors(Change{Remove: []string{"password"}}, otherSig); !errors.Is(err, ErrBadFactor) {
		t.Errorf("remove under 2-of-3 with another key's signature: %v", err)
	}
	if res, err := v.ChangeFactors(Change{Remove: []string{"password"}}, inputsFor(t, v, "ssh-agent")); err != nil || !res.Rotated || res.Reencrypted != 1 {
		t.Fatalf("remove under 2-of-3: %+v %v", res, err)
	}
	pol, after := v.Factors()
	if pol != two || len(after) != 2 || len(v.header().wraps) != 1 {
		t.Errorf("after removing: %v %d factors %d wraps", pol, len(after), len(v.header().wraps))
	}
	if after[0].ID != "age" || bytes.Equal(after[0].AgeFile, before[0].AgeFile) || after[0].Recipient != before[0].Recipient {
		t.Errorf("the age factor was not re-enrolled to its recipient: %+v", after[0])
	}
	if got := mustGet(t, v, "k"); got != "v" {
		t.Fatal(got)
	}
	v = reopen(t, v)
	if err := v.UnlockWith(inputsFor(t, v, "age", "ssh-agent")); err != nil {
		t.Fatal(err)
	}
	// 2-of-2 minus one more would be 2-of-1: refused.
	if _, err := v.ChangeFactors(Change{Remove: []string{"age"}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("2-of-1: %v", err)
	}
	any := PolicyAny
	if _, err := v.ChangeFactors(Change{Remove: []string{"age"}, Policy: &any}, inputsFor(t, v, "age", "ssh-agent")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ChangeFactors(Change{Remove: []string{"ssh-agent"}}, nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "last factor") {
		t.Errorf("remove the last factor: %v", err)
	}
	if _, err := v.ChangeFactors(Change{Remove: []string{"nosuch"}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("remove an unknown factor: %v", err)
	}
	v = reopen(t, v)
	if _, err := v.ChangeFactors(Change{Add: []Enrollment{ageE}}, nil); !errors.Is(err, ErrLocked) {
		t.Errorf("change while locked: %v", err)
	}
	if err := v.UnlockWith(inputsFor(t, v, "ssh-agent")); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, v, "k"); got != "v" {
		t.Fatal(got)
	}
	// Ids are reused only once free, and a second password gets password-2.
	res, err = v.ChangeFactors(Change{Add: []Enrollment{testPasswordEnrollment("one"), testPasswordEnrollment("two")}}, nil)
	if err != nil || !slices.Equal(res.Added, []string{"password", "password-2"}) || res.Rotated {
		t.Errorf("two passwords: %+v %v", res, err)
	}
}

// TestRemovedFactorGone: after a factor is removed, its wrap is in no file of
// the vault (main file, WAL): the old header is overwritten, not left behind;
// and so are the rows encrypted under the old master key.
func TestRemovedFactorGone(t *testing.T) {
	v := createWith(t, "work", PolicyAny, testPasswordEnrollment(testPassword), Enrollment{Type: FactorAge, Recipient: testAgeRecipient})
	mustSet(t, v, "k", "v")
	old := v.header()
	i := slices.IndexFunc(old.wraps, func(w wrap) bool { return slices.Equal(w.ids, []string{"age"}) })
	ct := old.wraps[i].ct
	var row []byte
	if err := v.db.QueryRow(`SELECT value FROM secrets`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ChangeFactors(Change{Remove: []string{"age"}}, nil); !errors.Is(err, ErrMissingFactors) {
		t.Fatalf("remove under any without the password: %v", err)
	}
	if res, err := v.ChangeFactors(Change{Remove: []string{"age"}}, inputsFor(t, v, "password")); err != nil || !res.Rotated {
		t.Fatal(res, err)
	}
	for name, b := range dirFiles(t, filepath.Dir(v.Path())) {
		if bytes.Contains(b, ct[:]) {
			t.Errorf("%s still holds the removed factor's wrap", name)
		}
		if bytes.Contains(b, row) {
			t.Errorf("%s still holds a row sealed under the old master key", name)
		}
	}
	path := v.Path()
	v.Close()
	for name, b := range dirFiles(t, filepath.Dir(path)) {
		if bytes.Contains(b, ct[:]) {
			t.Errorf("%s still holds the removed factor's wrap after close", name)
		}
		if bytes.Contains(b, row) {
			t.Errorf("%s still holds a row sealed under the old master key after close", name)
		}
	}
}

func TestInputsNeeded(t *testing.T) {
	ids := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	for _, tc := range []struct {
		cur, next       Policy
		curIDs, nextIDs string
		rotate          bool
		need            string
		more            int
	}{
		// Ids that name no type: every needed factor is presented and proved.
		{PolicyAny, PolicyAny, "a", "a,new", false, "", 0},
		{PolicyAny, PolicyAny, "a,b", "a", true, "a", 0},
		{PolicyAny, PolicyAll, "a,b", "a,b", true, "a,b", 0},
		{PolicyAll, PolicyAll, "a,b", "a,b,new", true, "a,b", 0},
		{PolicyAll, PolicyAll, "a,b,c", "a,b", false, "a,b", 1},
		{PolicyAll, PolicyAny, "a,b", "a,b", false, "a,b", 0},
		{KOfN(2), KOfN(2), "a,b,c", "a,b", true, "a,b", 0},
		{KOfN(2), KOfN(2), "a,b,c", "a,b,c,new", false, "a,b,c", 0},
		{KOfN(2), PolicyAny, "a,b,c", "a,b,c", false, "a,b,c", 0},
		{KOfN(3), KOfN(2), "a,b,c,d", "a,b,c,d", false, "a,b,c,d", 0},
		{KOfN(3), PolicyAny, "a,b,c,d", "a", true, "a", 2},
		{PolicyAny, KOfN(2), "a,b,c", "a,b,c", true, "a,b,c", 0},
		{KOfN(2), KOfN(3), "a,b,c", "a,b,c", true, "a,b,c", 0},
		{KOfN(2), KOfN(2), "a,b", "a,b,new", false, "a,b", 0},
		// The vault's own ids: a rotation re-enrols age factors and takes an
		// ssh-agent signature on its face; a password is proved by a wrap.
		{PolicyAny, PolicyAny, "age,password,ssh-agent", "age,password", true, "password", 0},
		{PolicyAny, PolicyAny, "age,age-2", "age", true, "", 0},
		{PolicyAny, PolicyAny, "password,password-2", "password-2", true, "password-2", 0},
		{KOfN(2), KOfN(2), "age,password,ssh-agent", "age,ssh-agent", true, "ssh-agent", 0},
		{KOfN(2), KOfN(2), "age,password,ssh-agent", "age,password", true, "password", 1},
		{KOfN(2), PolicyAny, "age,password,ssh-agent", "ssh-agent", true, "ssh-agent", 0},
		{PolicyAll, PolicyAny, "age,ssh-agent", "ssh-agent", false, "ssh-agent", 0},
		{PolicyAll, PolicyAny, "age,password", "password", false, "password", 1},
		{PolicyAll, PolicyAll, "password,ssh-agent", "age,password,ssh-agent", true, "password,ssh-agent", 0},
		{PolicyAny, PolicyAny, "password,ssh-agent", "age,password,ssh-agent", false, "", 0},
	} {
		need, more, err := InputsNeeded(tc.cur, ids(tc.curIDs), tc.next, ids(tc.nextIDs))
		if err != nil || !slices.Equal(need, ids(tc.need)) || more != tc.more {
			t.Errorf("%v %s → %v %s: need %q more %d %v; want %q %d", tc.cur, tc.curIDs, tc.next, tc.nextIDs, need, more, err, tc.need, tc.more)
		}
		p, err := planChange(tc.cur, ids(tc.curIDs), tc.next, ids(tc.nextIDs), idType, false)
		if err != nil || p.rotate != tc.rotate {
			t.Errorf("%v %s → %v %s: rotate %v %v, want %v", tc.cur, tc.curIDs, tc.next, tc.nextIDs, p.rotate, err, tc.rotate)
		}
	}
	for id, want := range map[string]string{"password": "password", "password-2": "password", "ssh-agent": "ssh-agent", "ssh-agent-12": "ssh-agent",
		"age-3": "age", "age-1": "", "age-02": "", "age-": "", "agent": "", "a": "", "-2": "", "password-x": ""} {
		if got := idType(id); got != want {
			t.Errorf("idType(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestPolicyParse(t *testing.T) {
	for s, want := range map[string]string{"any": "any", "all": "all", "2-of-3": "2-of-3", "1-of-1": "1-of-1", "8-of-16": "8-of-16"} {
		p, n, err := ParsePolicy(s)
		if err != nil || p.Format(max(n, 1)) != want && n != 0 {
			t.Errorf("ParsePolicy(%q) = %v %d %v", s, p, n, err)
		}
	}
	for _, s := range []string{"", "some", "3-of-2", "0-of-2", "2-of-17", "02-of-3", "2of3", "-1-of-2", "2-of-3x"} {
		if _, _, err := ParsePolicy(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePolicy(%q) = %v", s, err)
		}
	}
	// A k-of-n policy with 1 < k < n is bounded: C(n, k) wraps.
	if _, err := KOfN(4).Threshold(9); !errors.Is(err, ErrInvalid) {
		t.Errorf("4-of-9: %v", err)
	}
	if _, err := KOfN(4).Threshold(8); err != nil {
		t.Errorf("4-of-8: %v", err)
	}
	if _, err := PolicyAny.Threshold(16); err != nil {
		t.Errorf("any of 16: %v", err)
	}
}

// wireOnly hides the concrete type of a key, as agent.Key does.
type wireOnly struct{ ssh.PublicKey }

func TestSSHAlgorithmWireOnly(t *testing.T) {
	for s, want := range map[ssh.Signer]string{testRSA(t): SSHAlgRSASHA256, testEd25519(t): SSHAlgEd25519} {
		if alg, err := SSHAlgorithm(wireOnly{s.PublicKey()}); err != nil || alg != want {
			t.Errorf("SSHAlgorithm(%s) = %q, %v", s.PublicKey().Type(), alg, err)
		}
	}
}
