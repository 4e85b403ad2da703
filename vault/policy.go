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
// may name new factors, and omit removed ones).
//
// Wraps over a set of factors that both the old and the new policy accept
// are kept as they are; every other wrap the new policy calls for is sealed
// afresh, under a key derived from the secrets of its factors, and the
// master key alone cannot do that. need lists the existing factors that are
// members of such a new wrap. Each of them must also be shown correct, by
// opening an existing wrap together with other presented factors, so at
// least more further existing factors (any of them) must be presented too.
// When need is empty, nothing needs presenting: an unlocked vault suffices.
func InputsNeeded(cur Policy, curIDs []string, next Policy, nextIDs []string) (need []string, more int, err error) {
	ct, err := cur.threshold(len(curIDs))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	nt, err := next.Threshold(len(nextIDs))
	if err != nil {
		return nil, 0, err
	}
	old := sortedCopy(curIDs)
	have := map[string]bool{}
	for combo := range combinations(old, ct) {
		have[strings.Join(combo, "\x00")] = true
	}
	isOld := map[string]bool{}
	for _, id := range old {
		isOld[id] = true
	}
	needed := map[string]bool{}
	for combo := range combinations(sortedCopy(nextIDs), nt) {
		if have[strings.Join(combo, "\x00")] {
			continue
		}
		for _, id := range combo {
			if isOld[id] {
				needed[id] = true
			}
		}
	}
	for id := range needed {
		need = append(need, id)
	}
	slices.Sort(need)
	if len(need) > 0 && len(need) < ct {
		more = ct - len(need)
	}
	return need, more, nil
}

func sortedCopy(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
