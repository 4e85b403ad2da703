package launcher

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/junegunn/fzf/src/algo"
	"github.com/junegunn/fzf/src/util"
	"github.com/open-sesame/sesame/xdg"
)

// Fields of an entry that a query is matched against, and how much a match in each counts.
// A match in the name counts fully; in the untranslated name (so an English query finds a
// translated application) nearly as much; in the desktop ID ("org.mozilla.firefox"), the
// generic name ("Web Browser") and the keywords a little less, so that of two equally good
// matches the one in the name wins, while a clean match of a whole generic name ("mail" in
// "Mail Client") still beats a scattered one in a long name ("Manipulation").
const (
	fName = iota
	fDefaultName
	fID
	fGeneric
	fKeywords
	nFields
)

// fieldWeight must not increase from one field to the next (search stops early on that).
var fieldWeight = [nFields]float64{
	fName:        1.0,
	fDefaultName: 0.95,
	fID:          0.85,
	fGeneric:     0.85,
	fKeywords:    0.8,
}

// item is one indexed entry with its fields ready for fzf.
type item struct {
	e     *xdg.Entry
	shown bool   // a search may return it (see xdg.Entry.Shown)
	why   string // why not, when it is not shown
	stem  string // the ID without ".desktop"
	// text holds each field as fzf wants it (bytes for ASCII, runes otherwise); an empty
	// field has Length 0 and never matches.
	text [nFields]util.Chars
	// mask has a bit for each letter and digit in a field (lower-cased, accents removed):
	// a term with a letter the field lacks cannot match it, which rules most fields out
	// without running fzf. all is their union.
	mask      [nFields]uint64
	all       uint64
	nameRunes int
}

// index is one scan's entries: immutable once built, replaced whole on a rescan.
type index struct {
	items    []*item // sorted by ID
	byID     map[string]*item
	shown    int
	warnings []string
	slabs    sync.Pool // of *util.Slab, one per search running
}

func newIndex(r *xdg.Result, env xdg.Env) *index {
	ix := &index{byID: make(map[string]*item, len(r.Entries))}
	ix.slabs.New = newSlab
	for _, e := range r.Entries {
		if e.Type != "Application" {
			continue
		}
		it := &item{e: e, stem: strings.TrimSuffix(e.ID, ".desktop")}
		it.shown, it.why = e.Shown(env)
		it.text[fName] = chars(e.Name)
		if e.DefaultName != e.Name {
			it.text[fDefaultName] = chars(e.DefaultName)
		}
		it.text[fID] = chars(it.stem)
		it.text[fGeneric] = chars(e.GenericName)
		it.text[fKeywords] = chars(strings.Join(e.Keywords, " "))
		for f := range nFields {
			it.mask[f] = runeMask(it.text[f].ToRunes())
			it.all |= it.mask[f]
		}
		it.nameRunes = it.text[fName].Length()
		if it.shown {
			ix.shown++
		}
		ix.items = append(ix.items, it)
		ix.byID[e.ID] = it
	}
	for _, w := range r.Warnings {
		ix.warnings = append(ix.warnings, w.Error())
	}
	return ix
}

func chars(s string) util.Chars { return util.ToChars([]byte(s)) }

// runeMask returns the letters and digits of rs as bits: a-z (lower-cased, accents removed
// as fzf removes them) are bits 0-25, 0-9 bits 26-35; other runes set nothing.
func runeMask(rs []rune) uint64 {
	var m uint64
	for _, r := range algo.NormalizeRunes(rs) {
		r = unicode.ToLower(r)
		switch {
		case 'a' <= r && r <= 'z':
			m |= 1 << (r - 'a')
		case '0' <= r && r <= '9':
			m |= 1 << (26 + r - '0')
		}
	}
	return m
}

// resolve finds an entry by what a user typed: the exact desktop-file ID, the ID without
// ".desktop", either case-insensitively, and then the last dotted part of the ID
// ("firefox" for org.mozilla.firefox.desktop) when exactly one entry has it.
func (ix *index) resolve(id string) (*item, error) {
	if it := ix.byID[id]; it != nil {
		return it, nil
	}
	if it := ix.byID[id+".desktop"]; it != nil {
		return it, nil
	}
	want := strings.ToLower(strings.TrimSuffix(id, ".desktop"))
	var byLast []*item
	for _, it := range ix.items {
		stem := strings.ToLower(it.stem)
		if stem == want {
			return it, nil
		}
		if i := strings.LastIndexByte(stem, '.'); i >= 0 && stem[i+1:] == want {
			byLast = append(byLast, it)
		}
	}
	switch len(byLast) {
	case 0:
		return nil, fmt.Errorf("no application %q", id)
	case 1:
		return byLast[0], nil
	}
	ids := make([]string, len(byLast))
	for i, it := range byLast {
		ids[i] = it.e.ID
	}
	slices.Sort(ids)
	return nil, fmt.Errorf("%q is ambiguous: %s", id, strings.Join(ids, ", "))
}
