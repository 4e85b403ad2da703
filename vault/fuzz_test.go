package vault

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/open-sesame/sesame/secmem"
)

// headerSeeds returns the header blobs of the test vectors.
func headerSeeds(tb testing.TB) [][]byte {
	files, err := filepath.Glob("testdata/header/*.txt")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no header vectors: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		_, body, _ := strings.Cut(string(b), "\n\n")
		blob, err := hex.DecodeString(strings.Join(strings.Fields(body), ""))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, blob)
	}
	return out
}

// FuzzHeader checks the header decoder: it never panics, an error comes
// with a nil header, and a header that decodes re-encodes to exactly the
// input (the encoding is canonical) and passes validation. Each input is
// also tried with a correct checksum appended, so that the fuzzer gets past
// the checksum into the parser.
func FuzzHeader(f *testing.F) {
	for _, blob := range headerSeeds(f) {
		f.Add(blob)
		if len(blob) > headerSumLen {
			f.Add(blob[:len(blob)-headerSumLen]) // body: valid once the checksum is appended
		}
	}
	valid := genHeader(f, policy{kind: policyKOfN, k: 2}, map[string]string{"a": "a", "b": "b", "c": "c"}).encode()
	body := valid[:len(valid)-headerSumLen]
	f.Add(valid)
	f.Add(body)
	f.Add(body[:len(body)/2])
	f.Add([]byte(headerMagic))
	f.Add(append([]byte(headerMagic), 0, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkHeaderDecode(t, data)
		checkHeaderDecode(t, withChecksum(data))
	})
}

func checkHeaderDecode(t *testing.T, data []byte) {
	h, err := decodeHeader(data)
	if err != nil {
		if h != nil {
			t.Fatalf("decodeHeader returned a header with error %v", err)
		}
		return
	}
	if h == nil {
		t.Fatal("decodeHeader returned nil, nil")
	}
	if !bytes.Equal(h.encode(), data) {
		t.Fatalf("re-encoding differs:\n in %x\nout %x", data, h.encode())
	}
	if err := h.validate(); err != nil {
		t.Fatalf("decoded header does not validate: %v", err)
	}
}

// fuzzKeys returns the working keys of a fixed, made-up vault.
func fuzzKeys(tb testing.TB) *keys {
	h := &header{version: headerVersion, profile: "work"}
	copy(h.vaultID[:], "fuzz vault id 16")
	mk, err := secmem.New(masterKeyLen)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range mk.Bytes() {
		mk.Bytes()[i] = byte(i)
	}
	k, err := newKeys(h, mk)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// FuzzRecord checks the record decoder (openName and openRecord) on
// arbitrary rows: it never panics, an error comes with no value, and a
// record that opens is exactly what sealing its name and value under its
// nonce produces (so nothing but a genuine record is ever accepted).
func FuzzRecord(f *testing.F) {
	k := fuzzKeys(f)
	defer k.destroy()
	nonce := bytes.Repeat([]byte{9}, recordNonceLen)
	for _, s := range [][2]string{{"a", ""}, {"db.password", "hunter2"}, {strings.Repeat("n", MaxNameLen), strings.Repeat("v", 300)}} {
		r := k.sealRecord(s[0], []byte(s[1]), nonce)
		f.Add(r.lid, r.nonce, r.name, r.value, s[0])
		f.Add(r.lid, r.nonce, r.name, r.value, s[0]+"x")
		f.Add(r.lid, r.nonce, r.name, r.value[:len(r.value)-1], s[0])
	}
	f.Fuzz(func(t *testing.T, lid, nonce, nameCT, valueCT []byte, want string) {
		r := record{lid: lid, nonce: nonce, name: nameCT, value: valueCT}
		if name, err := k.openName(&r); err == nil {
			again := k.sealRecord(name, nil, nonce)
			if !bytes.Equal(again.lid, lid) || !bytes.Equal(again.name, nameCT) {
				t.Fatalf("openName accepted a record that is not the sealing of %q", name)
			}
		}
		buf, err := k.openRecord(&r, want)
		if err != nil {
			if buf != nil {
				t.Fatal("openRecord returned a value with an error")
			}
			return
		}
		defer buf.Destroy()
		again := k.sealRecord(want, buf.Bytes(), nonce)
		if !bytes.Equal(again.lid, lid) || !bytes.Equal(again.name, nameCT) || !bytes.Equal(again.value, valueCT) {
			t.Fatal("openRecord accepted a record that is not a sealing")
		}
	})
}

// FuzzFactorParams checks the parameter decoders of the ssh-agent and age factors and their
// derive on arbitrary inputs: they never panic; parameters that check re-encode to the same
// bytes; derive returns a secret or an error, never both, and accepts as an ssh-agent input
// only a signature that verifies.
func FuzzFactorParams(f *testing.F) {
	ed := sshEnrollment(f, testEd25519(f), "work")
	c := factorCtx{profile: "work", id: "f"}
	rec, s, err := enrollSSHAgent(c, "k", ed.PublicKey, ed.Challenge, ed.Input)
	if err != nil {
		f.Fatal(err)
	}
	s.Destroy()
	f.Add(FactorSSHAgent, rec.params, ed.Input)
	f.Add(FactorSSHAgent, rec.params, ed.Input[1:])
	arec, as, err := enrollAge(c, "a", testAgeRecipient)
	if err != nil {
		f.Fatal(err)
	}
	as.Destroy()
	f.Add(FactorAge, arec.params, bytes.Repeat([]byte{1}, AgeKeyLen))
	f.Add(FactorAge, arec.params[:40], []byte{})
	f.Fuzz(func(t *testing.T, typ string, params, input []byte) {
		ft := factorTypeOf(typ)
		if ft == nil || typ == FactorPassword { // Argon2id is too slow to fuzz; its decoder is in FuzzHeader
			return
		}
		perr := ft.checkParams(params)
		if perr == nil && typ == FactorSSHAgent {
			p, _ := decodeSSHParams(params)
			if !bytes.Equal(encodeSSHParams(p.challenge, p.alg, p.wire), params) {
				t.Fatal("ssh-agent parameters do not re-encode")
			}
		}
		sec, err := ft.derive(c, params, input)
		if (sec != nil) == (err != nil) {
			t.Fatalf("derive = %v, %v", sec, err)
		}
		if sec == nil {
			return
		}
		defer sec.Destroy()
		if perr != nil {
			t.Fatal("derive accepted parameters that do not check")
		}
		if typ == FactorSSHAgent {
			p, _ := decodeSSHParams(params)
			if p.pub.Verify(SSHSignedData("work", p.challenge), &ssh.Signature{Format: p.alg, Blob: input}) != nil {
				t.Fatal("derive accepted a signature that does not verify")
			}
		}
	})
}
