package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20poly1305"
)

// Header layout constants. See the package documentation for the layout.
const (
	headerMagic   = "SESAMEVH"
	headerVersion = 1

	vaultIDLen   = 16
	wrapNonceLen = chacha20poly1305.NonceSizeX              // 24
	wrapCTLen    = masterKeyLen + chacha20poly1305.Overhead // 48
	headerMACLen = sha256.Size                              // 32
	headerSumLen = sha256.Size                              // 32

	maxFactors     = 16
	maxFactorIDLen = 32
	maxTypeLen     = 32
	maxLabelLen    = 255
	maxParamsLen   = 2048
)

// policyKind says which sets of factors unlock a vault.
type policyKind uint8

const (
	policyAny  policyKind = 1 // any one factor
	policyAll  policyKind = 2 // all factors together
	policyKOfN policyKind = 3 // any k factors together
)

// Policy is the unlock policy of a vault: which sets of its factors unlock
// it. k is used only by policyKOfN and is zero otherwise. The policy is
// enforced cryptographically: the header holds one wrap of the master key
// for each set of factors the policy accepts (see header.wraps), and nothing
// else. Make one with [ParsePolicy].
type Policy struct {
	kind policyKind
	k    uint8
}

// policy is the name the package uses internally.
type policy = Policy

// String returns "any", "all" or "K-of-n" (see [Policy.Format]).
func (p Policy) String() string {
	switch p.kind {
	case policyAny:
		return "any"
	case policyAll:
		return "all"
	case policyKOfN:
		return fmt.Sprintf("%d-of-n", p.k)
	}
	return fmt.Sprintf("unknown policy %d", p.kind)
}

// threshold returns how many of n factors a wrap combines under p.
func (p Policy) threshold(n int) (int, error) {
	switch p.kind {
	case policyAny:
		if p.k == 0 {
			return 1, nil
		}
	case policyAll:
		if p.k == 0 {
			return n, nil
		}
	case policyKOfN:
		if p.k >= 1 && int(p.k) <= n {
			return int(p.k), nil
		}
		return 0, fmt.Errorf("policy %d-of-n with %d factors", p.k, n)
	default:
		return 0, fmt.Errorf("unknown policy kind %d", p.kind)
	}
	return 0, fmt.Errorf("policy %v with k=%d (k must be 0)", p, p.k)
}

// factorRecord describes one enrolled unlock factor. params are
// type-specific (see passwordFactor) and are bound into every wrap that uses
// the factor.
type factorRecord struct {
	id     string // unique in the header, [a-z0-9-], 1 to maxFactorIDLen bytes
	typ    string // factor type, e.g. "password"; [a-z0-9-]
	label  string // free-form UTF-8 shown to the user, at most maxLabelLen bytes
	params []byte
}

// wrap is the master key encrypted under a key-encryption key derived from
// the secrets of the factors in ids (sorted, see kek).
type wrap struct {
	ids   []string
	nonce [wrapNonceLen]byte
	ct    [wrapCTLen]byte
}

// header is the decoded vault header. Once decoded or built it is never
// modified, so it may be read without locking.
type header struct {
	version uint16
	vaultID [vaultIDLen]byte
	profile string
	created int64 // Unix seconds
	policy  policy
	factors []factorRecord // sorted by id
	wraps   []wrap         // one per accepted factor set, in combination order
	mac     [headerMACLen]byte
}

// encode returns the canonical encoding of h: body, MAC and checksum. It
// does not validate h.
func (h *header) encode() []byte {
	b := h.body()
	b = append(b, h.mac[:]...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// body returns the encoding of everything the header MAC covers.
func (h *header) body() []byte {
	b := make([]byte, 0, 256+len(h.wraps)*(2+wrapNonceLen+wrapCTLen+len(h.factors)*8))
	b = append(b, headerMagic...)
	b = binary.BigEndian.AppendUint16(b, h.version)
	b = append(b, h.vaultID[:]...)
	b = appendStr8(b, h.profile)
	b = binary.BigEndian.AppendUint64(b, uint64(h.created))
	b = append(b, byte(h.policy.kind), h.policy.k)
	b = append(b, byte(len(h.factors)))
	for _, f := range h.factors {
		b = appendStr8(b, f.id)
		b = appendStr8(b, f.typ)
		b = appendStr8(b, f.label)
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.params)))
		b = append(b, f.params...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.wraps)))
	for _, w := range h.wraps {
		b = append(b, byte(len(w.ids)))
		for _, id := range w.ids {
			b = appendStr8(b, id)
		}
		b = append(b, w.nonce[:]...)
		b = append(b, w.ct[:]...)
	}
	return b
}

func appendStr8(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// errNotVault is the cause reported for a header without the magic.
var errNotVault = errors.New("not a sesame vault header")

// decodeHeader parses and validates a header. It returns a nil header with
// any error; a version it does not know is reported with an error wrapping
// [ErrUnsupported]. Decoding is strict: whenever it succeeds,
// h.encode() returns exactly b.
//
// Across all header versions the encoding starts with the magic and a
// big-endian u16 version and ends with the SHA-256 of everything before it,
// so accidental damage is told apart from a newer format.
func decodeHeader(b []byte) (*header, error) {
	if !bytes.HasPrefix(b, []byte(headerMagic)) {
		return nil, errNotVault
	}
	if len(b) < len(headerMagic)+2+headerSumLen {
		return nil, errors.New("truncated")
	}
	body, sum := b[:len(b)-headerSumLen], b[len(b)-headerSumLen:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, errors.New("checksum mismatch")
	}
	r := reader{b: body, off: len(headerMagic)}
	h := &header{version: r.u16("version")}
	if h.version != headerVersion {
		return nil, fmt.Errorf("%w: header version %d (this build knows %d)", ErrUnsupported, h.version, headerVersion)
	}
	copy(h.vaultID[:], r.next(vaultIDLen, "vault id"))
	h.profile = r.str8("profile")
	h.created = int64(r.u64("created"))
	h.policy.kind = policyKind(r.u8("policy"))
	h.policy.k = r.u8("policy")
	nf := int(r.u8("factor count"))
	for i := 0; i < nf && r.err == nil; i++ {
		var f factorRecord
		f.id = r.str8("factor id")
		f.typ = r.str8("factor type")
		f.label = r.str8("factor label")
		f.params = bytes.Clone(r.next(int(r.u16("factor params")), "factor params"))
		h.factors = append(h.factors, f)
	}
	nw := int(r.u16("wrap count"))
	for i := 0; i < nw && r.err == nil; i++ {
		var w wrap
		ni := int(r.u8("wrap"))
		for j := 0; j < ni && r.err == nil; j++ {
			w.ids = append(w.ids, r.str8("wrap factor id"))
		}
		copy(w.nonce[:], r.next(wrapNonceLen, "wrap nonce"))
		copy(w.ct[:], r.next(wrapCTLen, "wrap ciphertext"))
		h.wraps = append(h.wraps, w)
	}
	copy(h.mac[:], r.next(headerMACLen, "mac"))
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%d trailing bytes", len(body)-r.off)
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// validate checks everything about h that does not need a key: field
// ranges, the factor records and their type-specific parameters, and that
// the wraps are exactly those the policy calls for.
func (h *header) validate() error {
	if h.version != headerVersion {
		return fmt.Errorf("%w: header version %d (this build knows %d)", ErrUnsupported, h.version, headerVersion)
	}
	if err := validateProfile(h.profile); err != nil {
		return err
	}
	n := len(h.factors)
	if n < 1 || n > maxFactors {
		return fmt.Errorf("%d factors (want 1 to %d)", n, maxFactors)
	}
	t, err := h.policy.threshold(n)
	if err != nil {
		return err
	}
	for i, f := range h.factors {
		if err := checkToken(f.id, maxFactorIDLen); err != nil {
			return fmt.Errorf("factor %d id: %v", i, err)
		}
		if i > 0 && h.factors[i-1].id >= f.id {
			return fmt.Errorf("factor ids not sorted or not unique at %q", f.id)
		}
		if err := checkToken(f.typ, maxTypeLen); err != nil {
			return fmt.Errorf("factor %q type: %v", f.id, err)
		}
		if len(f.label) > maxLabelLen || !utf8.ValidString(f.label) {
			return fmt.Errorf("factor %q: label is not UTF-8 of at most %d bytes", f.id, maxLabelLen)
		}
		if len(f.params) > maxParamsLen {
			return fmt.Errorf("factor %q: %d bytes of parameters (at most %d)", f.id, len(f.params), maxParamsLen)
		}
		if ft := factorTypeOf(f.typ); ft != nil {
			if err := ft.checkParams(f.params); err != nil {
				return fmt.Errorf("factor %q: %v", f.id, err)
			}
		}
	}
	ids := make([]string, n)
	for i, f := range h.factors {
		ids[i] = f.id
	}
	if want := binomial(n, t); uint64(len(h.wraps)) != want {
		return fmt.Errorf("policy %v over %d factors needs %d wraps, header has %d", h.policy, n, want, len(h.wraps))
	}
	i := 0
	for combo := range combinations(ids, t) {
		if !slices.Equal(h.wraps[i].ids, combo) {
			return fmt.Errorf("wrap %d is over factors %q, want %q", i, h.wraps[i].ids, combo)
		}
		i++
	}
	return nil
}

// checkToken checks an identifier: 1 to max bytes of [a-z0-9-].
func checkToken(s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%q: must be 1 to %d bytes", s, max)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%q: byte %d is not [a-z0-9-]", s, i)
		}
	}
	return nil
}

// factor returns the record with the given id, or nil.
func (h *header) factor(id string) *factorRecord {
	i, ok := slices.BinarySearchFunc(h.factors, id, func(f factorRecord, id string) int {
		return strings.Compare(f.id, id)
	})
	if !ok {
		return nil
	}
	return &h.factors[i]
}

// binomial returns n choose k for 0 <= k <= n <= maxFactors.
func binomial(n, k int) uint64 {
	r := uint64(1)
	for i := 1; i <= k; i++ {
		r = r * uint64(n-k+i) / uint64(i)
	}
	return r
}

// combinations yields the k-element subsets of ids (which is sorted) in
// lexicographic order. The yielded slice is reused between iterations.
func combinations(ids []string, k int) func(yield func([]string) bool) {
	return func(yield func([]string) bool) {
		n := len(ids)
		if k < 1 || k > n {
			return
		}
		idx := make([]int, k)
		for i := range idx {
			idx[i] = i
		}
		out := make([]string, k)
		for {
			for i, j := range idx {
				out[i] = ids[j]
			}
			if !yield(out) {
				return
			}
			i := k - 1
			for i >= 0 && idx[i] == n-k+i {
				i--
			}
			if i < 0 {
				return
			}
			idx[i]++
			for j := i + 1; j < k; j++ {
				idx[j] = idx[j-1] + 1
			}
		}
	}
}

// reader reads big-endian fields from a byte slice. After the first short
// read it keeps returning zero values, and err says what was truncated.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) next(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.off {
		r.err = fmt.Errorf("truncated at byte %d reading %s", r.off, what)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8(what string) uint8 {
	if p := r.next(1, what); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if p := r.next(2, what); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if p := r.next(8, what); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (r *reader) str8(what string) string {
	return string(r.next(int(r.u8(what)), what))
}
