package secrets

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/secmem"
	"github.com/open-sesame/sesame/vault"
)

// Unlock factors and policies.
//
// This role holds the vaults, and nothing else: it never connects to the user's ssh-agent
// (SSH_AUTH_SOCK) and never reads an age identity. The CLI, which runs as the user with the
// user's agent and files, computes each factor's input — it reads the password, has the agent
// sign vault.SSHSignedData(profile, challenge) with the challenge it got from secrets.factors,
// decrypts the age file with the identity — and sends the inputs sealed to this role, as it
// does passwords. The role checks a signature against the key stored in the vault before using
// it, derives the factor secrets and unwraps. So the sandboxed role needs no socket other than
// the bus, and a compromised role cannot make the agent sign anything: the CLI builds the
// signed bytes itself (an SSHSIG blob in sesame's own namespace).
//
// A factor submitted for a profile that has no vault never creates one: unlock and the factor
// changes open an existing vault or answer CodeNoProfile; only secrets.create(-factors) makes
// a vault, and never over an existing one.

// maxFactorEntries bounds the sealed inputs of one request.
const maxFactorEntries = 32

// serveFactors serves the factor kinds; ok is false for any other kind.
func (s *server) serveFactors(req *bus.Envelope, ev *api.AuditEvent) (body any, ok bool, err error) {
	switch req.Kind {
	case api.SecretsFactors:
		body, err = s.factors(req.Profile)
	case api.SecretsCreateFactors:
		ev.Event = "profile.create"
		err = s.createFactors(req, ev)
	case api.SecretsUnlockFactors:
		ev.Event = "unlock"
		err = s.unlockFactors(req, ev)
	case api.SecretsFactorAdd:
		ev.Event = "factor.add"
		body, err = s.changeFactors(req, ev)
	case api.SecretsFactorRemove:
		ev.Event = "factor.remove"
		body, err = s.changeFactors(req, ev)
	case api.SecretsFactorPolicy:
		ev.Event = "factor.policy"
		body, err = s.changeFactors(req, ev)
	default:
		return nil, false, nil
	}
	return body, true, err
}

// factorErr maps vault errors of the factor kinds to bus codes. presented lists the types of
// the factors presented, to name them in a bad-factor message.
func factorErr(err error, profile string, presented []string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, vault.ErrMissingFactors):
		_, detail, _ := strings.Cut(err.Error(), vault.ErrMissingFactors.Error()+": ")
		return bus.Errorf(api.CodeNeedFactors, "profile %q: not enough factors: %s", profile, detail)
	case errors.Is(err, vault.ErrBadFactor):
		what := "incorrect password"
		for _, t := range presented {
			if t != vault.FactorPassword {
				what = "incorrect password or key"
			}
		}
		return bus.Errorf(bus.CodeBadFactor, "%s for profile %q", what, profile)
	}
	return vaultErr(err, profile, "")
}

func (s *server) factors(profile string) (*api.FactorsReply, error) {
	v, err := s.vault(profile)
	if err != nil {
		return nil, err
	}
	pol, fis := v.Factors()
	out := &api.FactorsReply{Policy: pol.Format(len(fis)), Unlocked: !v.Locked(), Factors: make([]api.FactorInfo, len(fis))}
	for i, f := range fis {
		out.Factors[i] = api.FactorInfo{
			ID: f.ID, Type: f.Type, Label: f.Label,
			PublicKey: f.PublicKey, Fingerprint: f.Fingerprint, Algorithm: f.Algorithm, Challenge: f.Challenge,
			Recipient: f.Recipient, AgeFile: f.AgeFile,
		}
		if f.Type == vault.FactorPassword {
			out.Factors[i].KDF = f.KDF.String()
		}
	}
	return out, nil
}

// openInputs opens sealed factor inputs into secure memory. The map's values are views into
// the returned buffer, which the caller destroys (nil when sealed is empty).
func (s *server) openInputs(sealed, ad []byte) (*secmem.Buf, map[string][]byte, error) {
	if len(sealed) == 0 {
		return nil, map[string][]byte{}, nil
	}
	buf, err := s.openSealed(sealed, ad)
	if err != nil {
		return nil, nil, err
	}
	ents, err := api.DecodeEntries(buf.Bytes())
	if err != nil || len(ents) > maxFactorEntries {
		buf.Destroy()
		return nil, nil, bus.Errorf(bus.CodeBadRequest, "malformed factor inputs")
	}
	in := make(map[string][]byte, len(ents))
	for _, e := range ents {
		if _, dup := in[e.Name]; dup {
			buf.Destroy()
			return nil, nil, bus.Errorf(bus.CodeBadRequest, "factor %q given twice", e.Name)
		}
		in[e.Name] = e.Value
	}
	return buf, in, nil
}

// enrollment turns a NewFactor and its input into a vault.Enrollment.
func enrollment(f *api.NewFactor, input []byte) (vault.Enrollment, error) {
	e := vault.Enrollment{Type: f.Type, Label: f.Label, Input: input, PublicKey: f.PublicKey, Challenge: f.Challenge, Recipient: f.Recipient}
	switch f.Type {
	case vault.FactorPassword:
		if len(input) == 0 {
			return e, bus.Errorf(bus.CodeBadRequest, "an empty password is not allowed")
		}
		e.KDF = vault.DefaultKDF
		if f.KDFTime != 0 {
			e.KDF.Time = f.KDFTime
		}
		if f.KDFMemoryKiB != 0 {
			e.KDF.MemoryKiB = f.KDFMemoryKiB
		}
	case vault.FactorSSHAgent:
		if len(input) == 0 {
			return e, bus.Errorf(bus.CodeBadRequest, "ssh-agent factor: no signature")
		}
	case vault.FactorAge:
		if len(input) != 0 {
			return e, bus.Errorf(bus.CodeBadRequest, "age factor: the role draws the key; send only the recipient")
		}
	default:
		return e, bus.Errorf(bus.CodeBadRequest, "unknown factor type %q (want password, ssh-agent or age)", f.Type)
	}
	return e, nil
}

// describe puts what identifies a new factor (never a secret) in an audit event.
func describe(ev *api.AuditEvent, f *api.NewFactor) {
	if ev.Detail == nil {
		ev.Detail = map[string]string{}
	}
	ev.Detail["type"] = f.Type
	if f.Label != "" {
		ev.Detail["label"] = f.Label
	}
	if f.Recipient != "" {
		ev.Detail["recipient"] = f.Recipient
	}
}

// withKDF runs f while holding an Argon2id slot when password is set.
func (s *server) withKDF(password bool, f func() error) error {
	if password {
		s.kdf <- struct{}{}
		defer func() { <-s.kdf }()
	}
	return f()
}

func (s *server) createFactors(req *bus.Envelope, ev *api.AuditEvent) error {
	var r api.CreateFactorsRequest
	if err := decode(req, &r); err != nil {
		return err
	}
	if err := vault.ValidateProfile(req.Profile); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	if r.Policy == "" {
		r.Policy = "any"
	}
	pol, n, err := vault.ParsePolicy(r.Policy)
	if err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	if n != 0 && n != len(r.Factors) {
		return bus.Errorf(bus.CodeBadRequest, "policy %s, but %d factors", r.Policy, len(r.Factors))
	}
	if _, err := pol.Threshold(len(r.Factors)); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	buf, inputs, err := s.openInputs(r.Sealed, api.AD(api.SecretsCreateFactors, req.Profile))
	if err != nil {
		return err
	}
	defer buf.Destroy()
	var types []string
	password := false
	es := make([]vault.Enrollment, len(r.Factors))
	for i := range r.Factors {
		if es[i], err = enrollment(&r.Factors[i], inputs[api.NewFactorEntry(i)]); err != nil {
			return err
		}
		types = append(types, r.Factors[i].Type)
		password = password || r.Factors[i].Type == vault.FactorPassword
	}
	ev.Detail = map[string]string{"policy": pol.Format(len(es)), "factors": strings.Join(types, ",")}
	if err := s.conforms(req.Profile, pol.Format(len(es)), types); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.activeLocked(req.Profile); err != nil {
		return err
	}
	if s.mu.open[req.Profile] != nil {
		return vaultErr(vault.ErrExists, req.Profile, "")
	}
	var v *vault.Vault
	err = s.withKDF(password, func() (err error) {
		v, err = vault.CreateWith(s.path(req.Profile), req.Profile, pol, es)
		return err
	})
	if err != nil {
		return factorErr(err, req.Profile, types)
	}
	s.mu.open[req.Profile] = &entry{v: v, used: s.e.Now()}
	s.e.Logf("created the vault of profile %q (%s: %s)", req.Profile, ev.Detail["policy"], ev.Detail["factors"])
	return nil
}

// begin takes the profile's one-attempt-at-a-time lock and checks the backoff; the caller
// calls the returned func when done.
func (s *server) begin(profile string) (func(), error) {
	mu := s.unlockLock(profile)
	mu.Lock()
	if err := s.active(profile); err != nil {
		mu.Unlock()
		return nil, err // deactivated while this attempt waited
	}
	if wait := s.throttle(profile).wait(s.e.Now()); wait > 0 {
		mu.Unlock()
		return nil, bus.Errorf(bus.CodeThrottled, "too many failed unlocks of %q: try again in %v", profile, wait.Round(time.Second))
	}
	return mu.Unlock, nil
}

// settle updates the backoff after an attempt: a wrong factor counts; too few factors does
// not (nothing was tried).
func (s *server) settle(profile string, err error) {
	th := s.throttle(profile)
	switch {
	case err == nil:
		if terr := th.reset(); terr != nil {
			s.e.Logf("%v", terr)
		}
	case errors.Is(err, vault.ErrBadFactor):
		if terr := th.fail(s.e.Now()); terr != nil {
			s.e.Logf("%v", terr)
		}
	}
}

// presented returns the ids and types of the inputs' factors, sorted by id, and whether one
// is a password.
func presented(v *vault.Vault, inputs map[string][]byte) (ids, types []string, password bool) {
	_, fis := v.Factors()
	for _, f := range fis {
		if _, ok := inputs[f.ID]; ok {
			ids = append(ids, f.ID)
			types = append(types, f.Type)
			password = password || f.Type == vault.FactorPassword
		}
	}
	return ids, types, password
}

func (s *server) unlockFactors(req *bus.Envelope, ev *api.AuditEvent) error {
	var r api.UnlockFactorsRequest
	if err := decode(req, &r); err != nil {
		return err
	}
	v, err := s.vault(req.Profile)
	if err != nil {
		return err // no vault: CodeNoProfile, and none is made
	}
	done, err := s.begin(req.Profile)
	if err != nil {
		return err
	}
	defer done()
	buf, inputs, err := s.openInputs(r.Sealed, api.AD(api.SecretsUnlockFactors, req.Profile))
	if err != nil {
		return err
	}
	defer buf.Destroy()
	ids, types, password := presented(v, inputs)
	ev.Detail = map[string]string{"factors": strings.Join(ids, ",")}
	err = s.withKDF(password, func() error { return v.UnlockWith(inputs) })
	s.settle(req.Profile, err)
	if err != nil {
		s.e.Logf("failed unlock of %q by %v", req.Profile, req.Caller)
		return factorErr(err, req.Profile, types)
	}
	s.e.Logf("unlocked %q with %s for %v", req.Profile, ev.Detail["factors"], req.Caller)
	return nil
}

func (s *server) changeFactors(req *bus.Envelope, ev *api.AuditEvent) (*api.FactorChangeReply, error) {
	var r api.FactorChangeRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	v, err := s.unlocked(req.Profile)
	if err != nil {
		return nil, err
	}
	_, before := v.Factors()
	n := len(before)
	var ch vault.Change
	switch req.Kind {
	case api.SecretsFactorAdd:
		if r.Add == nil || r.Remove != "" {
			return nil, bus.Errorf(bus.CodeBadRequest, "factor-add takes one new factor")
		}
		describe(ev, r.Add)
		n++
	case api.SecretsFactorRemove:
		if r.Remove == "" || r.Add != nil {
			return nil, bus.Errorf(bus.CodeBadRequest, "factor-remove takes one factor id")
		}
		ch.Remove = []string{r.Remove}
		ev.Detail = map[string]string{"factor": r.Remove}
		n--
	case api.SecretsFactorPolicy:
		if r.Policy == "" || r.Add != nil || r.Remove != "" {
			return nil, bus.Errorf(bus.CodeBadRequest, "factor-policy takes a policy only")
		}
	}
	if r.Policy != "" {
		pol, pn, err := vault.ParsePolicy(r.Policy)
		if err != nil {
			return nil, bus.Errorf(bus.CodeBadRequest, "%v", err)
		}
		if pn != 0 && pn != n {
			return nil, bus.Errorf(bus.CodeBadRequest, "policy %s, but the vault would have %d factors", r.Policy, n)
		}
		ch.Policy = &pol
	}
	if err := s.changeConforms(req.Profile, v, &ch, r.Add, n); err != nil {
		return nil, err
	}
	done, err := s.begin(req.Profile)
	if err != nil {
		return nil, err
	}
	defer done()
	buf, inputs, err := s.openInputs(r.Sealed, api.AD(req.Kind, req.Profile))
	if err != nil {
		return nil, err
	}
	defer buf.Destroy()
	newInput, hasNew := inputs[api.NewFactorEntry(0)]
	delete(inputs, api.NewFactorEntry(0))
	if r.Add != nil {
		e, err := enrollment(r.Add, newInput)
		if err != nil {
			return nil, err
		}
		ch.Add = []vault.Enrollment{e}
	} else if hasNew {
		return nil, bus.Errorf(bus.CodeBadRequest, "an input for a new factor, but no new factor")
	}
	ids, types, password := presented(v, inputs)
	if len(ids) > 0 {
		ev.Detail = merge(ev.Detail, map[string]string{"presented": strings.Join(ids, ",")})
	}
	password = password || (r.Add != nil && r.Add.Type == vault.FactorPassword)
	var res vault.ChangeResult
	err = s.withKDF(password, func() (err error) {
		res, err = v.ChangeFactors(ch, inputs)
		return err
	})
	s.settle(req.Profile, err)
	if err != nil {
		return nil, factorErr(err, req.Profile, types)
	}
	if res.Rotated {
		// The keys derived from the old master key (the clipboard's) are gone with it.
		s.events.tell(req.Profile, api.VaultRotated)
	}
	pol, after := v.Factors()
	out := &api.FactorChangeReply{Policy: pol.Format(len(after)), Rotated: res.Rotated, Reencrypted: res.Reencrypted}
	for _, f := range after {
		out.IDs = append(out.IDs, f.ID)
		if len(res.Added) == 1 && f.ID == res.Added[0] {
			out.Added = f.ID
			ev.Detail = merge(ev.Detail, map[string]string{"factor": f.ID})
			if f.Fingerprint != "" {
				ev.Detail["fingerprint"] = f.Fingerprint
			}
		}
	}
	ev.Detail = merge(ev.Detail, map[string]string{"policy": out.Policy, "factors": strings.Join(out.IDs, ",")})
	rotated := ""
	if res.Rotated {
		ev.Detail["rotated"] = strconv.Itoa(res.Reencrypted)
		rotated = fmt.Sprintf("; rotated the master key (%d %s re-encrypted)", res.Reencrypted, map[bool]string{true: "secret", false: "secrets"}[res.Reencrypted == 1])
	}
	s.e.Logf("%s on %q: factors %s, policy %s%s", ev.Event, req.Profile, ev.Detail["factors"], out.Policy, rotated)
	return out, nil
}

func merge(a, b map[string]string) map[string]string {
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range b {
		a[k] = v
	}
	return a
}
