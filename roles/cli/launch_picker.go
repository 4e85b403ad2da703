package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/snippet"
	"github.com/rivo/uniseg"
	"golang.org/x/term"
)

// The picker: `sesame launch` with no subcommand. It draws on /dev/tty (so it works with
// standard output redirected) in the alternate screen, in raw mode, and asks the launcher
// role for the best hits on every key (a search over the bus takes about a millisecond).
//
//	launch (work)> fir
//	  2/143
//	▌ Firefox Web Browser   Web Browser
//	  Fire Tool             Firewall configuration
//
// Keys: text edits the query; Backspace, Ctrl-U (clear), Ctrl-W (word); ↑ ↓, Ctrl-P
// Ctrl-K (up) and Ctrl-N (down) move; Enter launches the selection (as `sesame launch
// run`); Esc, Ctrl-C, Ctrl-G leave with status 130, as fzf does.

type picker struct {
	st      *state
	tty     *os.File
	cl      *bus.Client
	profile string
	colour  bool

	query   []rune
	sel     int
	hits    []api.SearchHit
	matched int32
	total   int32
	rows    int
	cols    int
	err     error
}

var errNoTTY = errors.New("launch: the picker needs a terminal")

func (st *state) pick(ctx context.Context, profile, query string, tags []string) error {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		return withHint(errNoTTY, "without one: sesame launch search QUERY, then sesame launch run ID")
	}
	defer tty.Close()
	cl, err := st.dial(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	p := &picker{st: st, tty: tty, cl: cl, profile: profile, query: []rune(query),
		colour: st.e.Getenv("NO_COLOR") == ""}
	id, err := p.run(ctx)
	if err != nil {
		return err
	}
	if id == "" {
		return ExitError{Code: 130}
	}
	return st.launch(ctx, cl, profile, &api.PlanRequest{ID: id, Tags: tags}, false)
}

// run shows the picker until a choice (its ID) or a cancel ("").
func (p *picker) run(ctx context.Context) (string, error) {
	fd := int(p.tty.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return "", fmt.Errorf("launch: %w", err)
	}
	p.tty.WriteString("\x1b[?1049h") // the alternate screen: the shell's text comes back after
	defer func() {
		p.tty.WriteString("\x1b[?1049l")
		term.Restore(fd, old)
	}()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	keys := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		for {
			buf := make([]byte, 256)
			n, err := p.tty.Read(buf)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case keys <- buf[:n]:
			case <-ctx.Done():
				return
			}
		}
	}()
	p.resize()
	p.search(ctx)
	for {
		p.draw()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case err := <-readErr:
			return "", fmt.Errorf("launch: read the terminal: %w", err)
		case <-winch:
			p.resize()
			p.search(ctx)
		case b := <-keys:
			changed := false
			for len(b) > 0 {
				var k key
				k, b = nextKey(b)
				switch k.kind {
				case keyCancel:
					return "", nil
				case keyEnter:
					if p.sel < len(p.hits) {
						return p.hits[p.sel].ID, nil
					}
				case keyUp:
					p.sel = max(0, p.sel-1)
				case keyDown:
					p.sel = min(max(0, len(p.hits)-1), p.sel+1)
				case keyBackspace:
					if len(p.query) > 0 {
						p.query = p.query[:len(p.query)-1]
						changed = true
					}
				case keyClear:
					p.query, changed = p.query[:0], true
				case keyWord:
					q := strings.TrimRightFunc(string(p.query), unicode.IsSpace)
					if i := strings.LastIndexFunc(q, unicode.IsSpace); i >= 0 {
						q = q[:i+1]
					} else {
						q = ""
					}
					p.query, changed = []rune(q), true
				case keyRune:
					p.query, changed = append(p.query, k.r), true
				}
			}
			if changed {
				p.sel = 0
				p.search(ctx)
			}
		}
	}
}

func (p *picker) resize() {
	c, r, err := term.GetSize(int(p.tty.Fd()))
	if err != nil || c < 10 || r < 3 {
		c, r = 80, 24
	}
	p.cols, p.rows = c, r
}

func (p *picker) search(ctx context.Context) {
	var r api.SearchReply
	req := &api.SearchRequest{Query: string(p.query), Limit: int32(max(1, p.rows-2))}
	p.err = p.cl.Call(ctx, api.LauncherSearch, p.profile, req, &r)
	if p.err != nil {
		p.err = launcherError(p.err, p.profile)
	}
	p.hits, p.matched, p.total = r.Hits, r.Matched, r.Entries
	p.sel = min(p.sel, max(0, len(p.hits)-1))
}

func (p *picker) draw() {
	var b strings.Builder
	b.WriteString("\x1b[H")
	prompt := "launch (" + p.profile + ")> "
	line := snippet.Preview(prompt+string(p.query), p.cols-1)
	b.WriteString(line + "\x1b[K\r\n")
	status := fmt.Sprintf("  %d/%d", p.matched, p.total)
	if p.err != nil {
		status = "  " + oneLine(p.err.Error())
	}
	b.WriteString(p.style("2", snippet.Preview(status, p.cols-1)) + "\x1b[K\r\n")
	for i, h := range p.hits {
		if i >= p.rows-2 {
			break
		}
		b.WriteString(p.hitLine(h, i == p.sel))
		b.WriteString("\x1b[K\r\n")
	}
	b.WriteString("\x1b[J") // clear what is below
	fmt.Fprintf(&b, "\x1b[1;%dH", min(p.cols, uniseg.StringWidth(line)+1))
	p.tty.WriteString(b.String())
}

// hitLine is one result: a marker, the name with the matched characters in bold, then the
// generic name dimmed, cut to the width of the terminal.
func (p *picker) hitLine(h api.SearchHit, selected bool) string {
	var b strings.Builder
	if selected {
		b.WriteString("\x1b[7m▌ ")
	} else {
		b.WriteString("  ")
	}
	width := 2
	matched := map[int]bool{}
	for _, i := range h.NamePos {
		matched[int(i)] = true
	}
	full := false
	for i, r := range []rune(oneLine(h.Name)) {
		w := uniseg.StringWidth(string(r))
		if width+w > p.cols-1 {
			full = true
			break
		}
		if matched[i] {
			b.WriteString(p.style("1;32", string(r)))
			if selected {
				b.WriteString("\x1b[7m")
			}
		} else {
			b.WriteRune(r)
		}
		width += w
	}
	if desc := oneLine(h.GenericName); desc != "" && !full && width+3 < p.cols-1 {
		rest := snippet.Preview("   "+desc, p.cols-1-width)
		b.WriteString(p.style("2", rest))
		if selected {
			b.WriteString("\x1b[7m")
		}
	}
	if selected {
		b.WriteString("\x1b[27m")
	}
	return b.String()
}

// style wraps s in an SGR attribute; without colour (NO_COLOR), only bold and dim remain,
// which are not colours.
func (p *picker) style(sgr, s string) string {
	if !p.colour {
		sgr = strings.TrimSuffix(sgr, ";32")
	}
	return "\x1b[" + sgr + "m" + s + "\x1b[22;39m"
}

type keyKind int

const (
	keyNone keyKind = iota
	keyRune
	keyEnter
	keyCancel
	keyUp
	keyDown
	keyBackspace
	keyClear
	keyWord
)

type key struct {
	kind keyKind
	r    rune
}

// nextKey decodes one key from what the terminal sent, and returns the rest.
func nextKey(b []byte) (key, []byte) {
	switch c := b[0]; c {
	case '\r', '\n':
		return key{kind: keyEnter}, b[1:]
	case 0x03, 0x07: // Ctrl-C, Ctrl-G
		return key{kind: keyCancel}, b[1:]
	case 0x7f, 0x08:
		return key{kind: keyBackspace}, b[1:]
	case 0x15: // Ctrl-U
		return key{kind: keyClear}, b[1:]
	case 0x17: // Ctrl-W
		return key{kind: keyWord}, b[1:]
	case 0x10, 0x0b: // Ctrl-P, Ctrl-K
		return key{kind: keyUp}, b[1:]
	case 0x0e: // Ctrl-N
		return key{kind: keyDown}, b[1:]
	case 0x1b:
		if len(b) == 1 {
			return key{kind: keyCancel}, nil // a lone Escape
		}
		if b[1] == '[' || b[1] == 'O' {
			// A CSI or SS3 sequence: parameters, then a final byte in 0x40-0x7e.
			i := 2
			for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
				i++
			}
			if i == len(b) {
				return key{}, nil
			}
			switch b[i] {
			case 'A':
				return key{kind: keyUp}, b[i+1:]
			case 'B':
				return key{kind: keyDown}, b[i+1:]
			}
			return key{}, b[i+1:]
		}
		return key{}, b[2:] // Alt+key: ignored
	}
	if b[0] < 0x20 {
		return key{}, b[1:]
	}
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError {
		return key{}, b[n:]
	}
	return key{kind: keyRune, r: r}, b[n:]
}
