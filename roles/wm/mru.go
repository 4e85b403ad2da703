package wm

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// MRU order. Every window that becomes active, by sesame or otherwise (a click, the
// compositor's own bindings), moves to the front. The order is saved, capped, as the app id
// and title of each window, so that after a restart of the role the windows still open are
// put back in the order they were used (ids do not survive: foreign-toplevel handles have
// none that lasts).

// mruCap bounds the saved order.
const mruCap = 64

// mru is window ids, most recent first.
type mru struct{ ids []string }

func (m *mru) touch(id string) bool {
	if len(m.ids) > 0 && m.ids[0] == id {
		return false
	}
	m.remove(id)
	m.ids = slices.Insert(m.ids, 0, id)
	return true
}

func (m *mru) add(id string) {
	if !slices.Contains(m.ids, id) {
		m.ids = append(m.ids, id)
	}
}

func (m *mru) remove(id string) {
	if i := slices.Index(m.ids, id); i >= 0 {
		m.ids = slices.Delete(m.ids, i, i+1)
	}
}

// savedWindow is one line of the saved order.
type savedWindow struct{ AppID, Title string }

// rankBySaved orders windows by the saved order: a window matching a saved line's app id and
// title takes that line's place, then one matching only its app id; the rest keep their
// relative order after them. key returns a window's app id and title.
func rankBySaved[T any](ws []T, saved []savedWindow, key func(T) (string, string)) []T {
	rank := make([]int, len(ws))
	used := make([]bool, len(saved))
	for i := range rank {
		rank[i] = len(saved) + i
	}
	for pass := 0; pass < 2; pass++ {
		for i, w := range ws {
			if rank[i] < len(saved) {
				continue
			}
			app, title := key(w)
			for j, s := range saved {
				if !used[j] && s.AppID == app && (pass == 1 || s.Title == title) {
					rank[i], used[j] = j, true
					break
				}
			}
		}
	}
	idx := make([]int, len(ws))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return rank[a] - rank[b] })
	out := make([]T, len(ws))
	for i, j := range idx {
		out[i] = ws[j]
	}
	return out
}

// encodeSaved writes the order as lines of app id, a tab, title (tabs and newlines in
// titles become spaces).
func encodeSaved(ws []savedWindow) []byte {
	var b bytes.Buffer
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	for i, w := range ws {
		if i == mruCap {
			break
		}
		fmt.Fprintf(&b, "%s\t%s\n", clean.Replace(w.AppID), clean.Replace(w.Title))
	}
	return b.Bytes()
}

func decodeSaved(b []byte) []savedWindow {
	var out []savedWindow
	clean := strings.NewReplacer("\t", " ", "\r", " ")
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() && len(out) < mruCap {
		app, title, ok := strings.Cut(sc.Text(), "\t")
		if ok && app != "" {
			out = append(out, savedWindow{clean.Replace(app), clean.Replace(title)})
		}
	}
	return out
}
