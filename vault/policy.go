package vault

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Policies, as [ParsePolicy] reads them and [Policy.Format] writes them.
var (
	// PolicyAny: any one factor unlocks the vault (one wrap per factor).
	PolicyAny = Policy{kind: policyAny}
	// PolicyAll: every factor is needed, together (one wrap over all).
	PolicyAll = Policy{kind: policyAll}
)

// maxComboFactors bounds the number of factors of a k-of-n policy with
// 1 < k < n, whose header holds one wrap per k-combination: C(8,4) = 70 wraps
// at most, each unlock trying at most that many. "any" and "all" need n and
// 1 wraps, and are bounded by maxFactors only.
const maxComboFactors = 8

// KOfN returns the policy "any k of the factors".
func KOfN(k int) Policy {
	if k < 1 || k > maxFactors {
		return Policy{kind: policyKOfN} // invalid: threshold refuses it
	}
	return Policy{kind: policyKOfN, k: uint8(k)}
}

// ParsePolicy reads "any", "all" or "K-of-N" (for example "2-of-3"). For
// K-of-N it returns N as n, which the caller checks against the number of
// factors the vault will have; n is 0 for "any" and "all".
func ParsePolicy(s string) (p Policy, n int, err error) {
	switch s {
	case "any":
		return PolicyAny, 0, nil
	case "all":
		return PolicyAll, 0, nil
	}
	ks, ns, ok := strings.Cut(s, "-of-")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || strconv.Itoa(k) != ks || strconv.Itoa(n) != ns {
		return Policy{}, 0, fmt.Errorf("%w policy %q: want any, all or K-of-N (for example 2-of-3)", ErrInvalid, s)
	}
	if k < 1 || n < k || n > maxFactors {
		return Policy{}, 0, fmt.Errorf("%w policy %q: want 1 ≤ K ≤ N ≤ %d", ErrInvalid, s, maxFactors)
	}
	return KOfN(k), n, nil
}

// Format returns the policy as ParsePolicy reads it, for a vault of n
// factors: "any", "all" or "K-of-N".
func (p Policy) Format(n int) string {
	if p.kind == policyKOfN {
		return fmt.Sprintf("%d-of-%d", p.k, n)
	}
	return p.String()
}

// Threshold returns how many of n factors unlock a vault under p, or an
// error if p cannot apply to n factors (k-of-n with k > n, too many factors
// for a k-of-n policy, or n out of range).
func (p Policy) Threshold(n int) (int, error) {
	if n < 1 || n > maxFactors {
		return 0, fmt.Errorf("%w: %d factors (want 1 to %d)", ErrInvalid, n, maxFactors)
	}
	if p.kind == policyKOfN && int(p.k) > n {
		return 0, fmt.Errorf("%w: policy %d-of-n needs at least %d factors, not %d; choose another policy", ErrInvalid, p.k, p.k, n)
	}
	t, err := p.threshold(n)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if t > 1 && t < n && n > maxComboFactors {
		return 0, fmt.Errorf("%w: policy %s over %d factors would need %d wraps; a k-of-n policy takes at most %d factors",
			ErrInvalid, p.Format(n), n, binomial(n, t), maxComboFactors)
	}
	return t, nil
}

// InputsNeeded says which existing factors must be presented to move a vault
// from policy cur over the factors curIDs to policy next over nextIDs (which
// may name new factors, and omit removed ones). It is what
// [Vault.ChangeFactors] asks for, worked out from the ids alone, for a client
// to collect the inputs before it sends the change.
//
// A change that lets a set of factors open the old header but not the new
// one (removing a factor, raising the threshold, adding a factor under
// "all") replaces the master key (see "Rotation" in the package
// documentation): every wrap is sealed afresh, so need lists every remaining
// password and ssh-agent factor (an age factor is re-enrolled to its
// recipient and needs nothing). Any other change keeps the wraps over sets
// of factors that both policies accept and seals the rest; need lists the
// existing factors that are members of those. An ssh-agent input is checked
// against the stored key; any other (a password, an age key) must also be
// shown correct by opening an existing wrap together with other presented
// factors, so at least more further existing factors (any of them) must be
// presented too. When need is empty, nothing needs presenting: an unlocked
// vault suffices.
//
// The ids are the vault's own, which name their type: "password",
// "ssh-agent", "age", then "password-2" and so on. An id that does not is
// treated as a factor whose input must be presented and proved.
func InputsNeeded(cur Policy, curIDs []string, next Policy, nextIDs []string) (need []string, more int, err error) {
	p, err := planChange(cur, curIDs, next, nextIDs, idType, false)
	if err != nil {
		return nil, 0, err
	}
	return p.need, p.more, nil
}

// idType returns the factor type that a vault-assigned id names ("password"
// for "password" and "password-2"), or "" if the id names no known type.
func idType(id string) string {
	t := id
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		if n, err := strconv.Atoi(id[i+1:]); err == nil && n >= 2 && strconv.Itoa(n) == id[i+1:] {
			t = id[:i]
		}
	}
	switch t {
	case FactorPassword, FactorSSHAgent, FactorAge:
		return t
	}
	return ""
}

// changePlan is what a factor change does to the master key and the wraps,
// and what it needs presented.
type changePlan struct {
	// rotate: a new master key, every secret re-encrypted, every wrap
	// sealed afresh, kept age factors re-enrolled.
	rotate bool
	need   []string // existing factors whose secrets the new wraps need, sorted
	prove  []string // those of need that must open an existing wrap (not ssh-agent)
	more   int      // further existing factors to present at least, for prove
}

// planChange works out a change from policy cur over curIDs to next over
// nextIDs. typeOf gives the type of an existing factor ("" if unknown);
// force asks for a rotation whatever the change.
func planChange(cur Policy, curIDs []string, next Policy, nextIDs []string, typeOf func(string) string, force bool) (changePlan, error) {
	ct, err := cur.threshold(len(curIDs))
	if err != nil {
		return changePlan{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	nt, err := next.Threshold(len(nextIDs))
	if err != nil {
		return changePlan{}, err
	}
	old, nxt := sortedCopy(curIDs), sortedCopy(nextIDs)
	p := changePlan{rotate: force || mustRotate(old, ct, nxt, nt)}
	isOld := map[string]bool{}
	for _, id := range old {
		isOld[id] = true
	}
	needed := map[string]bool{}
	if p.rotate {
		for _, id := range nxt {
			if isOld[id] && typeOf(id) != FactorAge {
				needed[id] = true
			}
		}
	} else {
		have := map[string]bool{}
		for combo := range combinations(old, ct) {
			have[strings.Join(combo, "\x00")] = true
		}
		for combo := range combinations(nxt, nt) {
			if have[strings.Join(combo, "\x00")] {
				continue
			}
			for _, id := range combo {
				if isOld[id] {
					needed[id] = true
				}
			}
		}
	}
	for id := range needed {
		p.need = append(p.need, id)
		if typeOf(id) != FactorSSHAgent {
			p.prove = append(p.prove, id)
		}
	}
	slices.Sort(p.need)
	slices.Sort(p.prove)
	if len(p.prove) > 0 && len(p.need) < ct {
		p.more = ct - len(p.need)
	}
	return p, nil
}

// mustRotate reports whether some set of factors that opens a header with
// threshold ct over old would not open one with threshold nt over next: then
// whoever holds that set and a copy of the old file would get a master key
// that the new header denies them, so the master key must change.
func mustRotate(old []string, ct int, next []string, nt int) bool {
	inNext := map[string]bool{}
	for _, id := range next {
		inNext[id] = true
	}
	for combo := range combinations(old, ct) {
		kept := 0
		for _, id := range combo {
			if inNext[id] {
				kept++
			}
		}
		if kept < nt {
			return true
		}
	}
	return false
}

func sortedCopy(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
