package launcher

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/junegunn/fzf/src/algo"
	"github.com/junegunn/fzf/src/util"
)

// Scoring
//
// A query is split at spaces into terms; an entry matches when every term matches one of its
// fields (fzf's FuzzyMatchV2, the algorithm behind `fzf`, with smart case: a term with an
// upper-case letter is matched case-sensitively, one without is not; accented letters match
// their plain forms). For each term the best field counts, weighted (see fieldWeight):
//
//	match    = Σ over terms of  max over fields of  fieldWeight[field] × fzf score
//	frecency = Σ over this profile's launches of  0.5^(age / 14 days)
//	score    = match + min(48, 16 × ln(1 + frecency))
//
// fzf gives 16 points per matched character plus bonuses (up to about 30 for a character
// that starts a word), so one launch adds 11 points, two 18, five 29, and twenty or more the
// cap of 48: frecency reorders comparable matches right after a launch, but however often an
// application is launched it cannot overtake a match that is better by more than about three
// well-placed characters. Ties go to the higher frecency, then the shorter name, then the
// name and ID alphabetically. An empty query lists every entry by frecency, then by name.
const (
	frecencyWeight = 16.0
	frecencyCap    = 48.0
)

// frecencyBonus is what f launches (decayed) add to a match.
func frecencyBonus(f float64) float64 { return min(frecencyCap, frecencyWeight*math.Log1p(f)) }

// initAlgo fills fzf's bonus tables once: they are global to package algo, algo.Init is not
// safe to call concurrently, and the tables are read-only afterwards. This is the package's
// only global state.
var initAlgo = sync.OnceFunc(func() { algo.Init("default") })

// newSlab is fzf's scratch memory for one search at a time (see index.slabs).
func newSlab() any { return util.MakeSlab(100*1024, 2048) }

type term struct {
	runes         []rune
	caseSensitive bool
	mask          uint64 // runeMask of runes
}

// parseQuery splits q into terms, lower-cased unless they have an upper-case letter, and
// normalized (accents removed) as fzf does.
func parseQuery(q string) []term {
	var out []term
	for _, f := range strings.Fields(q) {
		cs := strings.IndexFunc(f, unicode.IsUpper) >= 0
		if !cs {
			f = strings.ToLower(f)
		}
		rs := algo.NormalizeRunes([]rune(f))
		out = append(out, term{runes: rs, caseSensitive: cs, mask: runeMask(rs)})
	}
	return out
}

type hit struct {
	it    *item
	match int
	frec  float64
	score float64
}

// better orders hits best first.
func better(a, b *hit) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	if c := cmp.Compare(b.frec, a.frec); c != 0 {
		return c
	}
	if a.match > 0 || b.match > 0 { // not for an empty query: that lists by name
		if c := cmp.Compare(a.it.nameRunes, b.it.nameRunes); c != 0 {
			return c
		}
	}
	if c := strings.Compare(a.it.e.Name, b.it.e.Name); c != 0 {
		return c
	}
	return strings.Compare(a.it.e.ID, b.it.e.ID)
}

// search returns the best limit hits for query among the shown entries, and how many
// matched. frec gives each ID's frecency in the asking profile. A large index is searched
// in parallel chunks, one per CPU, each keeping its own best hits, merged at the end.
func (ix *index) search(query string, frec map[string]float64, limit int) ([]hit, int) {
	initAlgo()
	terms := parseQuery(query)
	workers := min(runtime.GOMAXPROCS(0), len(ix.items)/parallelMin)
	if workers <= 1 {
		return ix.searchChunk(ix.items, terms, frec, limit)
	}
	tops := make([][]hit, workers)
	counts := make([]int, workers)
	var wg sync.WaitGroup
	per := (len(ix.items) + workers - 1) / workers
	for w := range workers {
		chunk := ix.items[w*per : min(len(ix.items), (w+1)*per)]
		wg.Go(func() { tops[w], counts[w] = ix.searchChunk(chunk, terms, frec, limit) })
	}
	wg.Wait()
	var all []hit
	matched := 0
	for w := range workers {
		all = append(all, tops[w]...)
		matched += counts[w]
	}
	slices.SortFunc(all, func(a, b hit) int { return better(&a, &b) })
	return all[:min(limit, len(all))], matched
}

// parallelMin is the number of entries per worker below which a search stays on one CPU.
const parallelMin = 2048

// maxScore bounds fzf's score for a term of m runes: 16 per character plus at most 10 of
// bonus (a word boundary after a space), and the first character's bonus counts twice.
func maxScore(m int) float64 { return float64(26*m + 10) }

func (ix *index) searchChunk(items []*item, terms []term, frec map[string]float64, limit int) ([]hit, int) {
	slab := ix.slabs.Get().(*util.Slab)
	defer ix.slabs.Put(slab)
	top := make([]hit, 0, limit+1)
	matched := 0
	for _, it := range items {
		if !it.shown {
			continue
		}
		total := 0.0
		ok := true
		for _, t := range terms {
			if it.all&t.mask != t.mask {
				ok = false
				break
			}
			best := -1.0
			bound := maxScore(len(t.runes))
			// Fields are in order of decreasing weight: once the best so far is as good as
			// a field could possibly score, the rest cannot win.
			for f := range nFields {
				if fieldWeight[f]*bound <= best {
					break
				}
				if it.mask[f]&t.mask != t.mask || it.text[f].Length() == 0 {
					continue
				}
				res, _ := algo.FuzzyMatchV2(t.caseSensitive, true, true, &it.text[f], t.runes, false, slab)
				if res.Start < 0 {
					continue
				}
				if s := fieldWeight[f] * float64(res.Score); s > best {
					best = s
				}
			}
			if best < 0 {
				ok = false
				break
			}
			total += best
		}
		if !ok {
			continue
		}
		matched++
		h := hit{it: it, match: int(math.Round(total)), frec: frec[it.e.ID]}
		h.score = total + frecencyBonus(h.frec)
		// Keep the best limit hits, sorted, by insertion: limit is small.
		if len(top) == limit && better(&h, &top[limit-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, h, func(a, b hit) int { return better(&a, &b) })
		top = slices.Insert(top, i, h)
		if len(top) > limit {
			top = top[:limit]
		}
	}
	return top, matched
}

// namePositions returns the rune offsets of the entry's name that the query's terms match
// (fzf's best alignment), for highlighting; nil when the name is not where they match.
func (ix *index) namePositions(it *item, query string) []int32 {
	slab := ix.slabs.Get().(*util.Slab)
	defer ix.slabs.Put(slab)
	var out []int32
	for _, t := range parseQuery(query) {
		res, pos := algo.FuzzyMatchV2(t.caseSensitive, true, true, &it.text[fName], t.runes, true, slab)
		if res.Start < 0 || pos == nil {
			continue
		}
		for _, p := range *pos {
			out = append(out, int32(p))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
