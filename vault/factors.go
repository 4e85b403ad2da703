package vault

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/open-sesame/sesame/secmem"
)

// FactorInfo describes an enrolled unlock factor. Everything in it is public:
// it comes from the vault header, which is authenticated but not encrypted.
type FactorInfo struct {
	ID    string // unique in the vault: "password", "ssh-agent", "age", "password-2", …
	Type  string // FactorPassword, FactorSSHAgent or FactorAge (or a type this build does not know)
	Label string

	KDF KDFParams // password: the Argon2id cost

	PublicKey   []byte // ssh-agent: the key, SSH wire format
	Fingerprint string // ssh-agent: "SHA256:…"
	KeyType     string // ssh-agent: "ssh-ed25519" or "ssh-rsa"
	Algorithm   string // ssh-agent: the pinned signature algorithm
	Challenge   []byte // ssh-agent: sign SSHSignedData(profile, Challenge) to unlock

	Recipient string // age: the recipient (age1…) the factor key is encrypted to
	AgeFile   []byte // age: decrypt with AgeDecryptKey to unlock
}

func (f *factorRecord) info() FactorInfo {
	fi := FactorInfo{ID: f.id, Type: f.typ, Label: f.label}
	switch f.typ {
	case FactorPassword:
		if _, p, err := decodePasswordParams(f.params); err == nil {
			fi.KDF = p
		}
	case FactorSSHAgent:
		if p, err := decodeSSHParams(f.params); err == nil {
			fi.PublicKey = slices.Clone(p.wire)
			fi.Fingerprint = ssh.FingerprintSHA256(p.pub)
			fi.KeyType = p.pub.Type()
			fi.Algorithm = p.alg
			fi.Challenge = slices.Clone(p.challenge)
		}
	case FactorAge:
		if r, file, err := decodeAgeParams(f.params); err == nil {
			fi.Recipient = r
			fi.AgeFile = slices.Clone(file)
		}
	}
	return fi
}

// Factors returns the vault's policy and its factors, sorted by id, from one
// consistent header. It works on a locked vault: nothing in it is secret.
func (v *Vault) Factors() (Policy, []FactorInfo) {
	h := v.header()
	out := make([]FactorInfo, len(h.factors))
	for i := range h.factors {
		out[i] = h.factors[i].info()
	}
	return h.policy, out
}

// Enrollment describes a factor to enrol, for [CreateWith] and
// [Vault.ChangeFactors].
type Enrollment struct {
	Type  string // FactorPassword, FactorSSHAgent or FactorAge
	Label string // shown by `sesame factor list`; the type when empty

	// Input is the password (FactorPassword) or the ssh-agent's signature
	// blob over SSHSignedData(profile, Challenge) (FactorSSHAgent), which
	// must verify with PublicKey. Not kept, not modified.
	Input []byte

	KDF KDFParams // password: the Argon2id cost (use DefaultKDF)

	PublicKey []byte // ssh-agent: the agent's key, SSH wire format
	Challenge []byte // ssh-agent: SSHChallengeLen random bytes chosen by the client

	Recipient string // age: an X25519 recipient, age1…; the vault draws the factor key
}

// enroll makes the record and the secret of a new factor.
func enroll(c factorCtx, e *Enrollment) (factorRecord, *secmem.Buf, error) {
	label := e.Label
	if label == "" {
		label = e.Type
	}
	switch e.Type {
	case FactorPassword:
		return enrollPassword(c.id, label, e.Input, e.KDF)
	case FactorSSHAgent:
		return enrollSSHAgent(c, label, e.PublicKey, e.Challenge, e.Input)
	case FactorAge:
		return enrollAge(c, label, e.Recipient)
	}
	return factorRecord{}, nil, fmt.Errorf("%w factor type %q (want %s, %s or %s)", ErrInvalid, e.Type, FactorPassword, FactorSSHAgent, FactorAge)
}

// nextFactorID returns typ, or typ-2, typ-3 … : the first not in taken.
func nextFactorID(taken map[string]bool, typ string) string {
	id := typ
	for i := 2; taken[id]; i++ {
		id = fmt.Sprintf("%s-%d", typ, i)
	}
	return id
}

// CreateWith makes a new vault for profile at path with the given factors
// under policy pol, and returns it unlocked. Factor ids are assigned from
// the types: "password", "ssh-agent", "age", then "password-2" and so on.
// Like [Create] it never touches an existing vault.
func CreateWith(path, profile string, pol Policy, factors []Enrollment) (*Vault, error) {
	fail := func(err error) (*Vault, error) {
		return nil, fmt.Errorf("vault: create %q: %w", profile, err)
	}
	if err := validateProfile(profile); err != nil {
		return fail(err)
	}
	if _, err := pol.Threshold(len(factors)); err != nil {
		return fail(err)
	}
	for i := range factors {
		if factors[i].Type == FactorPassword {
			if err := factors[i].KDF.validate(); err != nil {
				return fail(err)
			}
		}
	}
	v, err := create(path, profile, pol, func(vid [vaultIDLen]byte) ([]enrolled, error) {
		taken := map[string]bool{}
		var out []enrolled
		for i := range factors {
			id := nextFactorID(taken, factors[i].Type)
			taken[id] = true
			rec, s, err := enroll(factorCtx{vaultID: vid, profile: profile, id: id}, &factors[i])
			if err != nil {
				for _, e := range out {
					e.secret.Destroy()
				}
				return nil, err
			}
			out = append(out, enrolled{rec, s})
		}
		return out, nil
	})
	if err != nil {
		return fail(err)
	}
	return v, nil
}

// UnlockWith unwraps the master key with the given factor inputs (factor id →
// input: a password, an ssh-agent signature blob over SSHSignedData, or an
// age factor key from AgeDecryptKey) and derives the working keys.
//
// It returns an error wrapping [ErrMissingFactors], saying what is missing,
// when the inputs do not cover any set of factors the policy accepts (no
// factor is tried then), [ErrBadFactor] when they do but a factor is wrong
// (without saying which), and [ErrInvalid] for an id the vault does not
// have. Inputs are read in place, not kept and not modified.
func (v *Vault) UnlockWith(inputs map[string][]byte) error {
	h := v.header()
	for id := range inputs {
		if h.factor(id) == nil {
			return fmt.Errorf("vault: unlock %q: %w factor %q: the vault has no such factor", v.profile, ErrInvalid, id)
		}
	}
	return v.unlock(inputs)
}

// deriver derives the secrets of the factors that have inputs, lazily and at
// most once each.
type deriver struct {
	h       *header
	inputs  map[string][]byte
	secrets map[string]*secmem.Buf
	wrong   bool // an input was wrong on its face (errWrongInput)
}

func newDeriver(h *header, inputs map[string][]byte) *deriver {
	return &deriver{h: h, inputs: inputs, secrets: map[string]*secmem.Buf{}}
}

func (d *deriver) destroy() {
	for _, s := range d.secrets {
		s.Destroy()
	}
}

// usable reports whether id has an input and a type this build knows.
func (d *deriver) usable(id string) bool {
	_, ok := d.inputs[id]
	f := d.h.factor(id)
	return ok && f != nil && factorTypeOf(f.typ) != nil
}

// get returns the secret of factor id, or nil if it has no usable input or
// the input is wrong on its face.
func (d *deriver) get(id string) (*secmem.Buf, error) {
	if s, ok := d.secrets[id]; ok {
		return s, nil
	}
	if !d.usable(id) {
		return nil, nil
	}
	f := d.h.factor(id)
	s, err := factorTypeOf(f.typ).derive(d.h.factorCtx(id), f.params, d.inputs[id])
	if errors.Is(err, errWrongInput) {
		d.wrong = true
		d.secrets[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.secrets[id] = s
	return s, nil
}

// wrapSecrets returns the secrets of w's factors, or nil if one is missing.
func (d *deriver) wrapSecrets(w *wrap) ([]*secmem.Buf, error) {
	for _, id := range w.ids {
		if !d.usable(id) {
			return nil, nil
		}
	}
	ss := make([]*secmem.Buf, len(w.ids))
	for j, id := range w.ids {
		s, err := d.get(id)
		if err != nil || s == nil {
			return nil, err
		}
		ss[j] = s
	}
	return ss, nil
}

// covers reports whether the inputs cover the factors of some wrap.
func (d *deriver) covers() bool {
	for i := range d.h.wraps {
		if !slices.ContainsFunc(d.h.wraps[i].ids, func(id string) bool { return !d.usable(id) }) {
			return true
		}
	}
	return false
}

// missing explains what the inputs lack to satisfy the policy.
func (d *deriver) missing() error {
	var have, lack []string
	for _, f := range d.h.factors {
		if d.usable(f.id) {
			have = append(have, f.id)
		} else {
			lack = append(lack, f.id)
		}
	}
	n := len(d.h.factors)
	t, _ := d.h.policy.threshold(n)
	pol := d.h.policy.Format(n)
	if t == n {
		return fmt.Errorf("%w: policy %s needs every factor; missing %s", ErrMissingFactors, pol, quoteList(lack))
	}
	return fmt.Errorf("%w: policy %s needs %d factor(s), %d presented; any %d more of %s", ErrMissingFactors, pol, t, len(have), t-len(have), quoteList(lack))
}

func quoteList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return strings.Join(q, ", ")
}

// unwrap tries every wrap whose factors all have inputs until one opens. A
// wrong input makes the wrap fail to authenticate; that is reported as
// ErrBadFactor, whichever factor was wrong. Inputs that cover no wrap are
// reported as ErrMissingFactors before anything is derived.
func unwrap(h *header, inputs map[string][]byte) (*secmem.Buf, error) {
	d := newDeriver(h, inputs)
	defer d.destroy()
	if !d.covers() {
		return nil, d.missing()
	}
	for i := range h.wraps {
		w := &h.wraps[i]
		ss, err := d.wrapSecrets(w)
		if err != nil {
			return nil, err
		}
		if ss == nil {
			continue
		}
		mk, err := openWrap(h, w, ss)
		if err == nil {
			return mk, nil
		}
		if !errors.Is(err, errAuth) {
			return nil, err
		}
	}
	return nil, ErrBadFactor
}

// Change is a change of a vault's factors or policy, for
// [Vault.ChangeFactors].
type Change struct {
	Add    []Enrollment // factors to enrol
	Remove []string     // ids of factors to remove
	// Policy is the new policy; nil keeps the current one (a k-of-n policy
	// keeps its k).
	Policy *Policy
	// Rotate replaces the master key even if the change does not call for
	// it (see "Rotation" in the package documentation). A Change with only
	// Rotate set changes nothing else.
	Rotate bool
}

// ChangeResult says what [Vault.ChangeFactors] did.
type ChangeResult struct {
	Added []string // the ids given to Change.Add, in its order
	// Rotated is set when the master key was replaced: every secret was
	// re-encrypted under the new one (Reencrypted of them) and every wrap
	// sealed afresh, in the transaction that stored the new header.
	Rotated     bool
	Reencrypted int
}

// ChangeFactors adds and removes factors and changes the policy of an
// unlocked vault.
//
// When some set of factors that opens the current header would not open the
// new one (a factor is removed, the threshold rises, or a factor is added to
// an "all" vault), the master key is replaced ("Rotation" in the package
// documentation): a copy of the file made before the change keeps opening
// with the factors of its time, and must not yield the key that protects
// what is written after it. A new random master key is drawn; every secret is
// re-encrypted under the keys derived from it, and every wrap is sealed
// afresh; an age factor that stays is re-enrolled to its recipient (a new
// factor key and age file), and every password and ssh-agent factor that
// stays must be presented. Rows and header are replaced in one SQLite
// transaction, so a crash leaves the old vault or the new one, whole; the old
// keys are wiped once it has committed. Change.Rotate asks for this whatever
// the change.
//
// Otherwise the master key stays. The new header keeps every wrap whose set
// of factors the new policy still accepts, and seals a new wrap for every
// other set it accepts, from the master key held while unlocked and the
// secrets of that set's factors, which must therefore be presented.
//
// Either way, [InputsNeeded] says which existing factors must be presented
// in inputs (factor id → input, as for [Vault.UnlockWith]). An ssh-agent
// signature is checked against the stored key; a password or an age key
// must also prove correct by opening an existing wrap to this master key
// together with other presented factors (in an "all" vault that takes every
// factor, as unlocking it does). Adding a factor under "any" needs no input.
//
// Errors: [ErrLocked] if the vault is locked; [ErrMissingFactors] if inputs
// lack a factor the change needs; [ErrBadFactor] if a presented factor is
// wrong (not saying which); [ErrInvalid] for an unknown factor id, removing
// the last factor, or a policy the new factor set cannot have; [ErrCorrupt]
// if a secret fails to decrypt during a rotation (nothing is changed then).
//
// The header is replaced in a transaction that fails if the stored header is
// no longer the one this change started from, its MAC is recomputed, and
// the write-ahead log is checkpointed and truncated at once, so the old
// header (which a removed factor still opens) does not linger in the WAL.
func (v *Vault) ChangeFactors(ch Change, inputs map[string][]byte) (ChangeResult, error) {
	fail := func(err error) (ChangeResult, error) {
		if _, ok := errors.AsType[*corruptError](err); ok {
			return ChangeResult{}, err
		}
		return ChangeResult{}, fmt.Errorf("vault: change factors of %q: %w", v.profile, err)
	}
	v.change.Lock()
	defer v.change.Unlock()
	h0 := v.header()

	mk, err := v.masterCopy()
	if err != nil {
		return fail(err)
	}
	defer mk.Destroy()

	// The new factor set and policy.
	removed := map[string]bool{}
	for _, id := range ch.Remove {
		if h0.factor(id) == nil {
			return fail(fmt.Errorf("%w: no factor %q", ErrInvalid, id))
		}
		removed[id] = true
	}
	taken := map[string]bool{}
	var oldIDs, keptIDs, newIDs []string
	for _, f := range h0.factors {
		oldIDs = append(oldIDs, f.id)
		taken[f.id] = true
		if !removed[f.id] {
			keptIDs = append(keptIDs, f.id)
		}
	}
	addIDs := make([]string, len(ch.Add))
	for i := range ch.Add {
		addIDs[i] = nextFactorID(taken, ch.Add[i].Type)
		taken[addIDs[i]] = true
	}
	newIDs = append(slices.Clone(keptIDs), addIDs...)
	slices.Sort(newIDs)
	if len(newIDs) == 0 {
		return fail(fmt.Errorf("%w: refusing to remove the last factor (the vault could never be opened again)", ErrInvalid))
	}
	pol := h0.policy
	if ch.Policy != nil {
		pol = *ch.Policy
	}
	if _, err := pol.Threshold(len(newIDs)); err != nil {
		return fail(fmt.Errorf("%w (policy %s with %d factors)", err, pol.Format(len(newIDs)), len(newIDs)))
	}
	for id := range inputs {
		if h0.factor(id) == nil {
			return fail(fmt.Errorf("%w factor %q: the vault has no such factor", ErrInvalid, id))
		}
	}

	// What the change does, and the existing factors it needs, proved.
	typeOf := func(id string) string {
		if f := h0.factor(id); f != nil {
			return f.typ
		}
		return ""
	}
	p, err := planChange(h0.policy, oldIDs, pol, newIDs, typeOf, ch.Rotate)
	if err != nil {
		return fail(err)
	}
	d := newDeriver(h0, inputs)
	defer d.destroy()
	if err := d.check(p, mk); err != nil {
		return fail(err)
	}

	// The key the wraps hold: the current one, or a new one.
	wrapKey := mk
	var fresh *secmem.Buf // the new master key until newKeys owns it
	if p.rotate {
		if fresh, err = secmem.New(masterKeyLen); err != nil {
			return fail(err)
		}
		defer func() { fresh.Destroy() }()
		rand.Read(fresh.Bytes()) // never fails (crypto/rand aborts the process instead)
		wrapKey = fresh
	}

	// Enrol the new factors (Argon2id for a password), re-enrol the age
	// factors of a rotation, and build the header.
	secrets := map[string]*secmem.Buf{}
	defer func() {
		for _, s := range secrets {
			s.Destroy()
		}
	}()
	h := &header{version: h0.version, vaultID: h0.vaultID, profile: h0.profile, created: h0.created, policy: pol}
	for _, f := range h0.factors {
		switch {
		case removed[f.id]:
		case p.rotate && f.typ == FactorAge:
			recipient, _, err := decodeAgeParams(f.params)
			if err != nil {
				return fail(err)
			}
			rec, s, err := enrollAge(h0.factorCtx(f.id), f.label, recipient)
			if err != nil {
				return fail(err)
			}
			secrets[rec.id] = s
			h.factors = append(h.factors, rec)
		default:
			h.factors = append(h.factors, f)
		}
	}
	for i := range ch.Add {
		rec, s, err := enroll(h0.factorCtx(addIDs[i]), &ch.Add[i])
		if err != nil {
			return fail(err)
		}
		secrets[rec.id] = s
		h.factors = append(h.factors, rec)
	}
	slices.SortFunc(h.factors, func(a, b factorRecord) int { return cmp.Compare(a.id, b.id) })
	t, _ := pol.Threshold(len(newIDs))
	for combo := range combinations(newIDs, t) {
		if i := slices.IndexFunc(h0.wraps, func(w wrap) bool { return slices.Equal(w.ids, combo) }); i >= 0 && !p.rotate {
			w := h0.wraps[i]
			w.ids = slices.Clone(w.ids)
			h.wraps = append(h.wraps, w)
			continue
		}
		ss := make([]*secmem.Buf, len(combo))
		for j, id := range combo {
			if s := secrets[id]; s != nil {
				ss[j] = s
				continue
			}
			s, err := d.get(id)
			if err != nil {
				return fail(err)
			}
			if s == nil { // cannot happen: the plan named it, and check proved it
				return fail(fmt.Errorf("%w: no secret for factor %q", ErrMissingFactors, id))
			}
			ss[j] = s
		}
		w, err := sealWrap(h, combo, ss, wrapKey)
		if err != nil {
			return fail(err)
		}
		h.wraps = append(h.wraps, w)
	}
	if h.mac, err = headerMAC(h, wrapKey); err != nil {
		return fail(err)
	}
	if err := h.validate(); err != nil {
		return fail(fmt.Errorf("new header is invalid: %w", err))
	}
	if !p.rotate {
		if err := v.replaceHeader(h0, h); err != nil {
			return fail(err)
		}
		return ChangeResult{Added: addIDs}, nil
	}
	nk, err := newKeys(h, fresh)
	if err != nil {
		return fail(err)
	}
	fresh = nil // nk owns it
	n, err := v.rotate(h0, h, mk, nk)
	if err != nil {
		nk.destroy()
		return fail(err)
	}
	return ChangeResult{Added: addIDs, Rotated: true, Reencrypted: n}, nil
}

// check makes sure that the inputs hold every factor the plan needs, each
// proved: an ssh-agent signature by the stored key, any other input by
// opening an existing wrap to mk.
func (d *deriver) check(p changePlan, mk *secmem.Buf) error {
	if len(p.need) == 0 {
		return nil
	}
	why := "this change seals new wraps over existing factors"
	if p.rotate {
		why = "this change replaces the master key and seals every wrap afresh"
	}
	var absent []string
	for _, id := range p.need {
		f := d.h.factor(id)
		if factorTypeOf(f.typ) == nil {
			return fmt.Errorf("%w: %s, and factor %q is of type %q, which this build does not know", ErrUnsupported, why, id, f.typ)
		}
		if !d.usable(id) {
			absent = append(absent, id)
		}
	}
	if len(absent) > 0 {
		return fmt.Errorf("%w: %s, so it needs %s presented (missing %s)", ErrMissingFactors, why, quoteList(p.need), quoteList(absent))
	}
	verified, err := d.verify(mk)
	if err != nil {
		return err
	}
	for _, id := range p.need {
		if slices.Contains(p.prove, id) {
			if !verified[id] {
				return fmt.Errorf("%w: %s must be proved by opening the vault under policy %s; present %d more factor(s)", ErrMissingFactors, quoteList(p.prove), d.h.policy.Format(len(d.h.factors)), p.more)
			}
			continue
		}
		s, err := d.get(id)
		if err != nil {
			return err
		}
		if s == nil {
			return ErrBadFactor
		}
	}
	return nil
}

// verify opens every existing wrap whose factors all have inputs, and
// returns the factors of the wraps that opened to mk. A wrap that does not
// open means a presented factor is wrong: ErrBadFactor.
func (d *deriver) verify(mk *secmem.Buf) (map[string]bool, error) {
	ok := map[string]bool{}
	for i := range d.h.wraps {
		w := &d.h.wraps[i]
		ss, err := d.wrapSecrets(w)
		if err != nil {
			return nil, err
		}
		if ss == nil {
			continue
		}
		got, err := openWrap(d.h, w, ss)
		if errors.Is(err, errAuth) {
			return nil, ErrBadFactor
		}
		if err != nil {
			return nil, err
		}
		same := subtle.ConstantTimeCompare(got.Bytes(), mk.Bytes()) == 1
		got.Destroy()
		if !same {
			return nil, errors.New("a wrap holds another master key")
		}
		for _, id := range w.ids {
			ok[id] = true
		}
	}
	if d.wrong {
		return nil, ErrBadFactor
	}
	return ok, nil
}

// masterCopy returns a copy of the master key of an unlocked vault, which
// the caller destroys, so that a Lock meanwhile cannot wipe it underfoot.
func (v *Vault) masterCopy() (*secmem.Buf, error) {
	v.state.RLock()
	defer v.state.RUnlock()
	k, err := v.keysLocked()
	if err != nil {
		return nil, err
	}
	mk, err := secmem.New(masterKeyLen)
	if err != nil {
		return nil, err
	}
	copy(mk.Bytes(), k.master.Bytes())
	return mk, nil
}

// replaceHeader stores h in place of old, in one transaction that fails if
// the stored header is no longer old, then makes h current and checkpoints
// the WAL (TRUNCATE), so that the old header leaves the WAL at once.
func (v *Vault) replaceHeader(old, h *header) error {
	ctx := context.Background()
	tx, err := v.db.BeginTx(ctx, nil)
	if err != nil {
		return dbError(v.path, err)
	}
	defer tx.Rollback()
	if err := v.swapHeader(ctx, tx, old, h); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError(v.path, err)
	}
	v.hdr.Store(h)
	// Best effort: a reader holding an old snapshot makes it partial; the
	// next checkpoint finishes the job.
	v.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return nil
}

// swapHeader stores h in place of old within tx, and fails if the stored
// header is no longer old.
func (v *Vault) swapHeader(ctx context.Context, tx *sql.Tx, old, h *header) error {
	res, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'header' AND value = ?`, h.encode(), old.encode())
	if err != nil {
		return dbError(v.path, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%q: the header changed under this process (another writer?); nothing was changed", v.path)
	}
	return nil
}
