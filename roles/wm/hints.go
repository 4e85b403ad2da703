package wm

import (
	"strings"
	"unicode"
)

// Hints: each window in the overlay gets a short string of letters; typing it picks the
// window. A window's letter comes from the key binding whose apps match its app id, else from
// its app id (the first letter of the last dotted part: org.mozilla.firefox → f). Several
// windows with one letter get it repeated, in MRU order: f, ff, fff.

// Binding is one key binding: windows of Apps get the hint Key; with no such window, typing
// Key launches Launch (a desktop-file ID, through the launcher), when set.
type Binding struct {
	Key    rune
	Apps   []string
	Launch string
}

// appMatches reports whether pattern names appID: equal, equal ignoring case, or equal to
// the lower-cased last dotted part of appID.
func appMatches(pattern, appID string) bool {
	if pattern == appID || strings.EqualFold(pattern, appID) {
		return true
	}
	last := appID
	if i := strings.LastIndexByte(appID, '.'); i >= 0 {
		last = appID[i+1:]
	}
	return strings.EqualFold(pattern, last)
}

// bindingFor returns the binding whose apps match appID, or nil.
func bindingFor(appID string, bindings []Binding) *Binding {
	for i := range bindings {
		for _, p := range bindings[i].Apps {
			if appMatches(p, appID) {
				return &bindings[i]
			}
		}
	}
	return nil
}

// bindingKey returns the binding for key k, or nil.
func bindingKey(k rune, bindings []Binding) *Binding {
	for i := range bindings {
		if bindings[i].Key == k {
			return &bindings[i]
		}
	}
	return nil
}

// keyFor is the base letter of appID's hint.
func keyFor(appID string, bindings []Binding) rune {
	if b := bindingFor(appID, bindings); b != nil {
		return b.Key
	}
	last := appID
	if i := strings.LastIndexByte(appID, '.'); i >= 0 {
		last = appID[i+1:]
	}
	for _, r := range last {
		if r < unicode.MaxASCII && unicode.IsLetter(r) {
			return unicode.ToLower(r)
		}
	}
	for _, r := range appID {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToLower(r)
		}
	}
	return 'a'
}

// AssignHints gives each window (by app id, in MRU order) its hint.
func AssignHints(appIDs []string, bindings []Binding) []string {
	hints := make([]string, len(appIDs))
	seen := map[rune]int{}
	for i, id := range appIDs {
		k := keyFor(id, bindings)
		seen[k]++
		hints[i] = strings.Repeat(string(k), seen[k])
	}
	return hints
}

// NormalizeInput lower-cases typed input and expands a letter with a count: "f3" is "fff".
func NormalizeInput(in string) string {
	in = strings.ToLower(in)
	i := strings.IndexFunc(in, unicode.IsDigit)
	if i <= 0 {
		return in
	}
	letters, digits := in[:i], in[i:]
	for _, r := range digits {
		if !unicode.IsDigit(r) {
			return in
		}
	}
	for _, r := range letters {
		if r != rune(letters[0]) {
			return in
		}
	}
	n := 0
	for _, r := range digits {
		n = n*10 + int(r-'0')
		if n > 26 {
			return in
		}
	}
	if n < 1 {
		return in
	}
	return strings.Repeat(letters[:1], n)
}

// MatchResult is what typed input selects.
type MatchResult struct {
	Exact   int   // index of the hint equal to the input, or -1
	Matches []int // indexes of the hints the input is a prefix of (Exact included)
}

// Unique reports whether the input picks one window for sure: it equals a hint and no
// other hint starts with it.
func (m MatchResult) Unique() bool { return m.Exact >= 0 && len(m.Matches) == 1 }

// Match matches typed input against the hints.
func Match(input string, hints []string) MatchResult {
	r := MatchResult{Exact: -1}
	in := NormalizeInput(input)
	if in == "" {
		return r
	}
	for i, h := range hints {
		if strings.HasPrefix(h, in) {
			r.Matches = append(r.Matches, i)
			if h == in {
				r.Exact = i
			}
		}
	}
	return r
}
