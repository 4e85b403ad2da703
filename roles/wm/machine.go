package wm

import (
	"time"
	"unicode"

	"github.com/open-sesame/sesame/wayland/xkb"
)

// The overlay's state machine: pure, driven by the role with the time of each event, so
// tests run it on a fake clock.
//
//	        trigger                      threshold passes, or any key
//	Idle ───────────→ Armed ─────────────────────────────────────────→ Picking
//	  ↑   (surface     │  modifier released before the threshold:        │
//	  │    mapped,     │  quick switch to the selection (the previous    │
//	  │    nothing     │  window), nothing drawn                         │
//	  │    drawn)      ↓                                                 │
//	  └──────────── done ←───── modifier released, Enter, a unique hint ─┘
//	                            (activate or launch); Escape (cancel)
//
// A trigger while Armed or Picking (the compositor re-firing Alt+Tab) moves the selection.
// Typing a hint that no other hint extends activates its window at once; a hint that others
// extend (f with ff present) selects it and waits for more, for Enter or for the release.
// A single letter bound to an application that has no window stages a launch, committed by
// Enter or the release.

// Phase is where the machine is.
type Phase int

const (
	Idle Phase = iota
	Armed
	Picking
)

func (p Phase) String() string {
	return [...]string{"idle", "armed", "picking"}[p]
}

// Entry is a window in an overlay snapshot.
type Entry struct {
	ID    string
	AppID string
	Title string
}

// ActionKind is what the machine asks the role to do.
type ActionKind int

const (
	ActShow     ActionKind = iota // map the overlay surface, transparent, and take the keyboard
	ActDraw                       // draw the picker (cards) for the current state
	ActHide                       // unmap the overlay
	ActActivate                   // activate Window
	ActLaunch                     // launch Launch
)

// Action is one step for the role.
type Action struct {
	Kind   ActionKind
	Window int    // ActActivate: index into the snapshot
	Launch string // ActLaunch
}

// Outcome is how an overlay session ended.
type Outcome struct {
	Result string // "activated", "launch", "cancelled"
	Window Entry  // when activated
	Launch string // when launch
	Quick  bool   // a tap: released before the threshold, nothing drawn
	Drawn  bool   // the picker was drawn
}

// maxInput bounds typed input.
const maxInput = 64

// Machine is the overlay state machine.
type Machine struct {
	Threshold     time.Duration // tap vs hold
	LauncherDwell time.Duration // hold time before drawing in launcher mode
	Bindings      []Binding

	phase    Phase
	since    time.Time
	dwell    time.Duration
	snap     []Entry
	hints    []string
	sel      int
	input    string
	pending  string
	drawn    bool
	launcher bool
	outcome  *Outcome
}

// Phase returns the current phase.
func (m *Machine) Phase() Phase { return m.phase }

// View is what the picker shows.
type View struct {
	Entries  []Entry
	Hints    []string
	Selected int    // index into Entries
	Input    string // typed so far
	Visible  []int  // indexes of Entries shown (those whose hint the input starts)
	Pending  string // a launch staged by a bound letter
	Launcher bool
}

// View returns the picker's state.
func (m *Machine) View() View {
	v := View{Entries: m.snap, Hints: m.hints, Selected: m.sel, Input: m.input, Pending: m.pending, Launcher: m.launcher}
	if m.input == "" {
		for i := range m.snap {
			v.Visible = append(v.Visible, i)
		}
	} else {
		v.Visible = Match(m.input, m.hints).Matches
	}
	return v
}

// TakeOutcome returns the outcome of the session that just ended, once.
func (m *Machine) TakeOutcome() *Outcome {
	o := m.outcome
	m.outcome = nil
	return o
}

// Trigger starts a session with snap (MRU order: the focused window first), or, during one,
// moves the selection. It returns nil when there is nothing to switch to.
func (m *Machine) Trigger(now time.Time, snap []Entry, backward, launcher bool) []Action {
	if m.phase != Idle {
		m.move(backward)
		return m.toPicking()
	}
	if len(snap) == 0 && !launcher {
		return nil
	}
	*m = Machine{Threshold: m.Threshold, LauncherDwell: m.LauncherDwell, Bindings: m.Bindings}
	m.phase, m.since, m.snap, m.launcher = Armed, now, snap, launcher
	m.dwell = m.Threshold
	if launcher {
		m.dwell = min(m.Threshold, m.LauncherDwell)
	}
	ids := make([]string, len(snap))
	for i, e := range snap {
		ids[i] = e.AppID
	}
	m.hints = AssignHints(ids, m.Bindings)
	switch {
	case len(snap) < 2:
		m.sel = 0
	case backward:
		m.sel = len(snap) - 1
	default:
		m.sel = 1
	}
	return []Action{{Kind: ActShow}}
}

func (m *Machine) move(backward bool) {
	n := len(m.snap)
	if n == 0 {
		return
	}
	if backward {
		m.sel = (m.sel - 1 + n) % n
	} else {
		m.sel = (m.sel + 1) % n
	}
}

func (m *Machine) toPicking() []Action {
	m.phase = Picking
	m.drawn = true
	return []Action{{Kind: ActDraw}}
}

// Deadline is when Tick must next be called (only while Armed).
func (m *Machine) Deadline() (time.Time, bool) {
	if m.phase != Armed {
		return time.Time{}, false
	}
	return m.since.Add(m.dwell), true
}

// Tick moves Armed to Picking once the threshold has passed.
func (m *Machine) Tick(now time.Time) []Action {
	if d, ok := m.Deadline(); ok && !now.Before(d) {
		return m.toPicking()
	}
	return nil
}

// Release is the modifier (Alt) being released: commit.
func (m *Machine) Release(now time.Time) []Action {
	switch m.phase {
	case Armed:
		if m.pending == "" && len(m.snap) == 0 {
			return m.toPicking() // launcher mode with nothing open: wait for a letter
		}
		return m.commit(now.Sub(m.since) < m.dwell && !m.drawn)
	case Picking:
		if m.pending == "" && len(m.snap) == 0 {
			return nil
		}
		return m.commit(false)
	}
	return nil
}

// Cancel ends the session without doing anything.
func (m *Machine) Cancel() []Action {
	if m.phase == Idle {
		return nil
	}
	m.end(&Outcome{Result: "cancelled"})
	return []Action{{Kind: ActHide}}
}

func (m *Machine) end(o *Outcome) {
	o.Drawn = m.drawn
	m.outcome = o
	m.phase = Idle
}

// commit activates the selection, or launches the staged application.
func (m *Machine) commit(quick bool) []Action {
	if m.pending != "" {
		l := m.pending
		m.end(&Outcome{Result: "launch", Launch: l})
		return []Action{{Kind: ActHide}, {Kind: ActLaunch, Launch: l}}
	}
	if len(m.snap) == 0 {
		return m.Cancel()
	}
	i := m.sel
	m.end(&Outcome{Result: "activated", Window: m.snap[i], Quick: quick})
	return []Action{{Kind: ActHide}, {Kind: ActActivate, Window: i}}
}

// Key is a key pressed on the overlay.
func (m *Machine) Key(now time.Time, sym xkb.Keysym) []Action {
	if m.phase == Idle {
		return nil
	}
	switch sym {
	case xkb.Escape:
		return m.Cancel()
	case xkb.Return, xkb.KPEnter:
		return m.commit(false)
	case xkb.Up, xkb.Left, xkb.ISOLeftTab:
		m.move(true)
		return m.toPicking()
	case xkb.Down, xkb.Right, xkb.Tab:
		m.move(false)
		return m.toPicking()
	case xkb.BackSpace:
		if m.input != "" {
			r := []rune(m.input)
			m.input = string(r[:len(r)-1])
		}
		m.pending = ""
		m.refilter()
		return m.toPicking()
	}
	r := sym.Rune()
	if r == 0 || !(unicode.IsLetter(r) || unicode.IsDigit(r)) || len(m.input) >= maxInput {
		return nil
	}
	m.input += string(unicode.ToLower(r))
	res := Match(m.input, m.hints)
	if res.Unique() {
		m.sel = res.Exact
		return m.commit(false)
	}
	m.pending = ""
	if len(res.Matches) == 0 {
		if in := []rune(m.input); len(in) == 1 {
			if b := bindingKey(in[0], m.Bindings); b != nil && b.Launch != "" {
				m.pending = b.Launch
			}
		}
	}
	m.refilter()
	return m.toPicking()
}

// refilter keeps the selection on a window the input matches.
func (m *Machine) refilter() {
	if m.input == "" {
		return
	}
	res := Match(m.input, m.hints)
	if res.Exact >= 0 {
		m.sel = res.Exact
	} else if len(res.Matches) > 0 {
		m.sel = res.Matches[0]
	}
}
