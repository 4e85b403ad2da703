package vault

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"github.com/open-sesame/sesame/secmem"
)

var update = flag.Bool("update", false, "regenerate the test vectors in testdata")

// A vector file is a block of "key: value" lines, a blank line, and an
// optional hex body (whitespace is ignored):
//
//	expect: success | bad factor | missing factors | header mac failure | corrupt header | unsupported
//	comment: free text
//	profile: work                      (vault vectors)
//	factor: <factor id> <password>     (repeatable: the inputs to unlock with)
//	factor: <factor id> hex:<hex>      (a binary input: a signature, an age factor key)
//	secret: <name>=<value>             (repeatable: vault vectors)
//
//	<hex of the header blob>           (header vectors)
//
// Header vectors live in testdata/header. They are decoded, re-encoded, and
// unlocked with the listed factors. testdata/vault/v1.db is a whole vault
// written by schema 1, described by testdata/vault/v1.txt: every later
// build must still open it.
type vector struct {
	expect  string
	comment string
	profile string
	factors map[string][]byte
	secrets [][2]string
	blob    []byte
}

func parseVector(t *testing.T, b []byte) vector {
	t.Helper()
	head, body, _ := strings.Cut(string(b), "\n\n")
	head = strings.TrimRight(head, "\n")
	v := vector{factors: map[string][]byte{}}
	for _, line := range strings.Split(head, "\n") {
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("bad vector line %q", line)
		}
		switch key {
		case "expect":
			v.expect = val
		case "comment":
			v.comment = val
		case "profile":
			v.profile = val
		case "factor":
			id, pw, _ := strings.Cut(val, " ")
			v.factors[id] = []byte(pw)
			if h, ok := strings.CutPrefix(pw, "hex:"); ok {
				b, err := hex.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				v.factors[id] = b
			}
		case "secret":
			n, val, _ := strings.Cut(val, "=")
			v.secrets = append(v.secrets, [2]string{n, val})
		default:
			t.Fatalf("unknown vector key %q", key)
		}
	}
	blob, err := hex.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		t.Fatal(err)
	}
	v.blob = blob
	return v
}

func TestHeaderVectors(t *testing.T) {
	if *update {
		genHeaderVectors(t)
	}
	files, err := filepath.Glob("testdata/header/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no header vectors: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			v := parseVector(t, b)
			h, err := decodeHeader(v.blob)
			switch v.expect {
			case "corrupt header":
				if err == nil || h != nil || errors.Is(err, ErrUnsupported) {
					t.Fatalf("decodeHeader = %v, %v; want a corrupt-header error", h, err)
				}
				return
			case "unsupported":
				if !errors.Is(err, ErrUnsupported) || h != nil {
					t.Fatalf("decodeHeader = %v, %v; want ErrUnsupported", h, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeHeader: %v", err)
			}
			if !bytes.Equal(h.encode(), v.blob) {
				t.Error("re-encoding differs from the vector")
			}
			mk, err := unwrap(h, v.factors)
			switch v.expect {
			case "bad factor":
				if !errors.Is(err, ErrBadFactor) {
					t.Fatalf("unwrap = %v, want ErrBadFactor", err)
				}
				return
			case "missing factors":
				if !errors.Is(err, ErrMissingFactors) {
					t.Fatalf("unwrap = %v, want ErrMissingFactors", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unwrap: %v", err)
			}
			defer mk.Destroy()
			mac, err := headerMAC(h, mk)
			if err != nil {
				t.Fatal(err)
			}
			switch ok := hmac.Equal(mac[:], h.mac[:]); v.expect {
			case "success":
				if !ok {
					t.Error("header MAC does not verify")
				}
			case "header mac failure":
				if ok {
					t.Error("header MAC verifies on a tampered header")
				}
			default:
				t.Fatalf("unknown expect %q", v.expect)
			}
		})
	}
}

func TestVaultVector(t *testing.T) {
	if *update {
		genVaultVector(t)
	}
	desc, err := os.ReadFile("testdata/vault/v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	v := parseVector(t, desc)
	// Work on a copy: opening creates -wal and -shm files and fixes modes.
	path := filepath.Join(t.TempDir(), "v1.db")
	copyFile(t, "testdata/vault/v1.db", path)
	w, err := Open(path, v.profile)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Unlock([]byte("not the password")); !errors.Is(err, ErrBadFactor) {
		t.Errorf("Unlock(wrong) = %v", err)
	}
	if err := w.Unlock(v.factors[factorPassword]); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range v.secrets {
		if got := mustGet(t, w, s[0]); got != s[1] {
			t.Errorf("Get(%q) = %q, want %q", s[0], got, s[1])
		}
		want = append(want, s[0])
	}
	slices.Sort(want)
	if got, err := w.List(); err != nil || !slices.Equal(got, want) {
		t.Errorf("List = %q, %v; want %q", got, err, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// genHeader builds a header with one password factor per entry of pws
// (factor id → password), plus extra factors without a known type.
func genHeader(t testing.TB, pol policy, pws map[string]string, extra ...factorRecord) *header {
	t.Helper()
	var fs []enrolled
	for id, pw := range pws {
		rec, s, err := enrollPassword(id, "password "+id, []byte(pw), testKDF)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, enrolled{rec, s})
	}
	for _, rec := range extra {
		s, _ := secmem.New(factorSecretLen)
		rand.Read(s.Bytes())
		fs = append(fs, enrolled{rec, s})
	}
	slices.SortFunc(fs, func(a, b enrolled) int { return strings.Compare(a.rec.id, b.rec.id) })
	mk, _ := secmem.New(masterKeyLen)
	defer mk.Destroy()
	rand.Read(mk.Bytes())
	h, err := buildHeader("work", pol, fs, mk)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		f.secret.Destroy()
	}
	return h
}

func writeVector(t *testing.T, file string, lines []string, blob []byte) {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if blob != nil {
		b.WriteString("\n")
		h := hex.EncodeToString(blob)
		for len(h) > 64 {
			b.WriteString(h[:64] + "\n")
			h = h[64:]
		}
		b.WriteString(h + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// genHeaderVectors regenerates testdata/header (go test -run Vectors -update).
func genHeaderVectors(t *testing.T) {
	dir := "testdata/header"
	os.RemoveAll(dir)
	kdf := testKDF.String()
	one := genHeader(t, policy{kind: policyAny}, map[string]string{"password": testPassword})
	oneBlob := one.encode()
	pw := "factor: password " + testPassword
	w := func(name string, lines []string, blob []byte) { writeVector(t, filepath.Join(dir, name), lines, blob) }

	w("password.txt", []string{"expect: success", "comment: one password factor, policy any, " + kdf, pw}, oneBlob)
	w("password-wrong.txt", []string{"expect: bad factor", "comment: the same header, wrong password", "factor: password Correct horse battery staple"}, oneBlob)
	w("password-no-input.txt", []string{"expect: missing factors", "comment: the same header, no factor given"}, oneBlob)

	edit := func(f func(h *header)) []byte {
		h, err := decodeHeader(oneBlob)
		if err != nil {
			t.Fatal(err)
		}
		f(h)
		return h.encode()
	}
	w("edited-argon-time.txt", []string{"expect: bad factor", "comment: Argon2 time raised by one (checksum fixed): the wrap is bound to the parameters", pw},
		edit(func(h *header) { h.factors[0].params[passwordSaltLen+3]++ }))
	w("edited-salt.txt", []string{"expect: bad factor", "comment: one salt bit flipped (checksum fixed)", pw},
		edit(func(h *header) { h.factors[0].params[0] ^= 1 }))
	w("edited-policy.txt", []string{"expect: header mac failure", "comment: policy any changed to all (checksum fixed): caught by the header MAC after unwrapping", pw},
		edit(func(h *header) { h.policy.kind = policyAll }))
	w("edited-label.txt", []string{"expect: header mac failure", "comment: factor label changed (checksum fixed)", pw},
		edit(func(h *header) { h.factors[0].label = "evil" }))
	w("edited-vault-id.txt", []string{"expect: bad factor", "comment: vault id changed (checksum fixed): the wrap is bound to it", pw},
		edit(func(h *header) { h.vaultID[15] ^= 1 }))
	w("edited-profile.txt", []string{"expect: bad factor", "comment: profile changed to home (checksum fixed): the wrap is bound to it", pw},
		edit(func(h *header) { h.profile = "home" }))
	w("edited-kdf-threads-zero.txt", []string{"expect: corrupt header", "comment: Argon2 threads 0 is refused by the decoder", pw},
		edit(func(h *header) { h.factors[0].params[passwordSaltLen+8] = 0 }))
	w("edited-kdf-memory-huge.txt", []string{"expect: corrupt header", "comment: Argon2 memory above 1 GiB is refused by the decoder", pw},
		edit(func(h *header) { h.factors[0].params[passwordSaltLen+4] = 0x80 }))
	w("edited-2-of-n.txt", []string{"expect: corrupt header", "comment: policy 2-of-n with one factor", pw},
		edit(func(h *header) { h.policy = policy{kind: policyKOfN, k: 2} }))
	w("version-2.txt", []string{"expect: unsupported", "comment: header version 2 with a valid checksum", pw},
		edit(func(h *header) { h.version = 2 }))

	flip := bytes.Clone(oneBlob)
	flip[40] ^= 0x10
	w("checksum.txt", []string{"expect: corrupt header", "comment: one bit flipped, checksum not fixed", pw}, flip)
	body := oneBlob[:len(oneBlob)-headerSumLen]
	w("truncated.txt", []string{"expect: corrupt header", "comment: last 10 bytes of the MAC cut (checksum fixed)", pw}, withChecksum(body[:len(body)-10]))
	w("trailing.txt", []string{"expect: corrupt header", "comment: one byte appended before the checksum", pw}, withChecksum(append(bytes.Clone(body), 0)))
	magic := bytes.Clone(oneBlob)
	magic[0] = 's'
	w("magic.txt", []string{"expect: corrupt header", "comment: magic changed", pw}, magic)
	w("empty.txt", []string{"expect: corrupt header", "comment: empty header"}, []byte{})

	two := genHeader(t, policy{kind: policyAny}, map[string]string{"a": "alpha", "b": "bravo"})
	w("any-2-b.txt", []string{"expect: success", "comment: two password factors, policy any, unlocked by b alone", "factor: b bravo"}, two.encode())
	sw := *two
	sw.wraps = slices.Clone(two.wraps)
	sw.wraps[0].nonce, sw.wraps[1].nonce = two.wraps[1].nonce, two.wraps[0].nonce
	sw.wraps[0].ct, sw.wraps[1].ct = two.wraps[1].ct, two.wraps[0].ct
	w("any-2-swapped.txt", []string{"expect: bad factor", "comment: the two wraps' ciphertexts swapped (checksum fixed)", "factor: a alpha", "factor: b bravo"}, sw.encode())

	all := genHeader(t, policy{kind: policyAll}, map[string]string{"a": "alpha", "b": "bravo"})
	w("all-2.txt", []string{"expect: success", "comment: policy all, both factors", "factor: a alpha", "factor: b bravo"}, all.encode())
	w("all-2-one.txt", []string{"expect: missing factors", "comment: policy all, only one factor", "factor: a alpha"}, all.encode())
	w("all-2-one-wrong.txt", []string{"expect: bad factor", "comment: policy all, one factor wrong", "factor: a alpha", "factor: b BRAVO"}, all.encode())

	k := genHeader(t, policy{kind: policyKOfN, k: 2}, map[string]string{"a": "alpha", "b": "bravo", "c": "charlie"})
	w("2-of-3.txt", []string{"expect: success", "comment: policy 2-of-n over a, b, c; a and c given", "factor: a alpha", "factor: c charlie"}, k.encode())
	w("2-of-3-one.txt", []string{"expect: missing factors", "comment: policy 2-of-n, only c given", "factor: c charlie"}, k.encode())

	unknown := genHeader(t, policy{kind: policyAny}, map[string]string{"password": testPassword},
		factorRecord{id: "fido", typ: "fido2", label: "token", params: []byte("opaque parameters of a future factor type")})
	w("unknown-type.txt", []string{"expect: success", "comment: a factor of a type this build does not know is skipped; the password still unlocks", pw}, unknown.encode())
	genFactorVectors(t, w)
}

// genFactorVectors writes the vectors of the ssh-agent and age factors, with
// the fixed test keys (the Ed25519 signature is deterministic; the age factor
// key is random and written out).
func genFactorVectors(t *testing.T, w func(string, []string, []byte)) {
	hexIn := func(id string, b []byte) string { return "factor: " + id + " hex:" + hex.EncodeToString(b) }
	bad := genHeader(t, policy{kind: policyAny}, map[string]string{"password": testPassword},
		factorRecord{id: "ssh", typ: "fido2", label: "ssh key", params: []byte("opaque parameters of a future factor type")})
	bad.factors[1].typ = "ssh-agent" // what a build that did not know ssh-agent would have accepted
	w("ssh-agent-bad-params.txt", []string{"expect: corrupt header", "comment: a factor of type ssh-agent whose parameters are not ssh-agent parameters", "factor: password " + testPassword}, bad.encode())

	mk, _ := secmem.New(masterKeyLen)
	defer mk.Destroy()
	rand.Read(mk.Bytes())
	var vid [vaultIDLen]byte
	rand.Read(vid[:])
	build := func(pol policy, es ...Enrollment) (*header, map[string][]byte) {
		var fs []enrolled
		taken := map[string]bool{}
		for i := range es {
			id := nextFactorID(taken, es[i].Type)
			taken[id] = true
			rec, s, err := enroll(factorCtx{vaultID: vid, profile: "work", id: id}, &es[i])
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, enrolled{rec, s})
		}
		slices.SortFunc(fs, func(a, b enrolled) int { return strings.Compare(a.rec.id, b.rec.id) })
		h, err := buildHeaderWith(vid, "work", pol, fs, mk)
		if err != nil {
			t.Fatal(err)
		}
		in := map[string][]byte{}
		for _, f := range fs {
			f.secret.Destroy()
			in[f.rec.id] = factorInput(t, "work", f.rec.info(), testPassword, []ssh.Signer{testEd25519(t)}, []age.Identity{testAge(t)})
		}
		return h, in
	}
	s, in := build(policy{kind: policyAll}, Enrollment{Type: FactorPassword, Input: []byte(testPassword), KDF: testKDF}, sshEnrollment(t, testEd25519(t), "work"))
	pw := "factor: password " + testPassword
	w("all-password-ssh.txt", []string{"expect: success", "comment: policy all, a password and an Ed25519 ssh-agent key (the signature is the input)", pw, hexIn("ssh-agent", in["ssh-agent"])}, s.encode())
	w("all-password-ssh-one.txt", []string{"expect: missing factors", "comment: policy all, the ssh-agent signature only", hexIn("ssh-agent", in["ssh-agent"])}, s.encode())
	sig := bytes.Clone(in["ssh-agent"])
	sig[10] ^= 1
	w("all-password-ssh-bad-sig.txt", []string{"expect: bad factor", "comment: policy all, the signature with one bit flipped", pw, hexIn("ssh-agent", sig)}, s.encode())

	a, in := build(policy{kind: policyKOfN, k: 2}, Enrollment{Type: FactorPassword, Input: []byte(testPassword), KDF: testKDF}, sshEnrollment(t, testEd25519(t), "work"), Enrollment{Type: FactorAge, Recipient: testAgeRecipient})
	w("2-of-3-ssh-age.txt", []string{"expect: success", "comment: policy 2-of-3 over a password, an ssh-agent key and an age identity; ssh-agent and age given", hexIn("age", in["age"]), hexIn("ssh-agent", in["ssh-agent"])}, a.encode())
	w("2-of-3-age-one.txt", []string{"expect: missing factors", "comment: policy 2-of-3, the age key only", hexIn("age", in["age"])}, a.encode())
	key := bytes.Clone(in["age"])
	key[0] ^= 1
	w("2-of-3-age-wrong.txt", []string{"expect: bad factor", "comment: policy 2-of-3, password right, age key with one bit flipped", "factor: password " + testPassword, hexIn("age", key)}, a.encode())
}

// genVaultVector regenerates testdata/vault/v1.db and v1.txt.
func genVaultVector(t *testing.T) {
	dir := "testdata/vault"
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "v1.db")
	v, err := Create(tmp, "work", []byte(testPassword), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][2]string{{"api-token", "tok_9f8e7d6c"}, {"db.password", "hunter2"}, {"empty", ""}, {"ünïcode key", "välue"}}
	lines := []string{"expect: success", "comment: a schema-1 vault, one password factor, " + testKDF.String(), "profile: work", "factor: password " + testPassword}
	for _, s := range secrets {
		mustSet(t, v, s[0], s[1])
		lines = append(lines, "secret: "+s[0]+"="+s[1])
	}
	mustSet(t, v, "deleted", "gone")
	if err := v.Delete("deleted"); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile(t, tmp, filepath.Join(dir, "v1.db"))
	os.Chmod(filepath.Join(dir, "v1.db"), 0o644)
	writeVector(t, filepath.Join(dir, "v1.txt"), lines, nil)
}
