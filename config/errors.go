package config

import (
	"sort"
	"strings"
)

// Error is one problem in a configuration file, at the position of the key or value at
// fault.
type Error struct {
	Pos  Pos
	Key  string // the dotted key at fault, "" when the problem is the file's syntax
	Msg  string
	Hint string // what to write instead ("did you mean …?"), or ""
}

func (e *Error) Error() string {
	if e.Key != "" {
		return e.Pos.String() + ": " + e.Key + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Errors is every problem found in one load, sorted by file and position.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
		if e.Hint != "" {
			b.WriteString(" (" + e.Hint + ")")
		}
	}
	return b.String()
}

// Unwrap lets errors.As reach each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sort orders es by layer (the order of files; others after, by name), then position.
func (es Errors) sort(files ...string) {
	rank := map[string]int{}
	for i, f := range files {
		rank[f] = i + 1
	}
	r := func(f string) int {
		if n, ok := rank[f]; ok {
			return n
		}
		return len(files) + 1
	}
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.File != b.File {
			if r(a.File) != r(b.File) {
				return r(a.File) < r(b.File)
			}
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Warning is a problem that did not stop a load: a key set in a user file that policy
// locks (it was ignored).
type Warning = Error

// suggest returns the candidate closest to s (by edit distance, at most a third of its
// length, at least 1), or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+1
	if bestD < 2 {
		bestD = 2
	}
	for _, c := range candidates {
		d := distance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD || d == bestD && best != "" && c < best {
			best, bestD = c, d
		}
	}
	if best != "" && distance(strings.ToLower(s), strings.ToLower(best)) >= 2 && len(s) <= 3 {
		return "" // "ab" → "id" is noise
	}
	return best
}

// distance is the Damerau–Levenshtein distance (with adjacent transpositions) in bytes.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
