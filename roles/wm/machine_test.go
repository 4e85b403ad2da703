package wm

import (
	"reflect"
	"testing"
	"time"

	"github.com/open-sesame/sesame/wayland/xkb"
)

func TestAssignHints(t *testing.T) {
	bindings := []Binding{
		{Key: 'g', Apps: []string{"ghostty", "com.mitchellh.ghostty"}, Launch: "ghostty"},
		{Key: 'b', Apps: []string{"firefox"}, Launch: "firefox"},
	}
	for _, tc := range []struct {
		apps []string
		want []string
	}{
		{[]string{"org.mozilla.firefox", "com.mitchellh.ghostty", "foot", "firefox"}, []string{"b", "g", "f", "bb"}},
		{[]string{"foot", "foot", "foot", "Alacritty"}, []string{"f", "ff", "fff", "a"}},
		{[]string{"org.gnome.Nautilus", "", "123"}, []string{"n", "a", "1"}},
		{[]string{"GHOSTTY"}, []string{"g"}},
	} {
		if got := AssignHints(tc.apps, bindings); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.apps, got, tc.want)
		}
	}
}

func TestNormalizeAndMatch(t *testing.T) {
	for in, want := range map[string]string{"F": "f", "f3": "fff", "a1": "a", "ab2": "ab2", "f27": "f27", "f0": "f0", "": ""} {
		if got := NormalizeInput(in); got != want {
			t.Errorf("NormalizeInput(%q) = %q, want %q", in, got, want)
		}
	}
	hints := []string{"f", "g", "ff", "fff"}
	for _, tc := range []struct {
		in     string
		exact  int
		n      int
		unique bool
	}{
		{"f", 0, 3, false}, {"ff", 2, 2, false}, {"fff", 3, 1, true}, {"f3", 3, 1, true}, {"g", 1, 1, true}, {"x", -1, 0, false}, {"", -1, 0, false},
	} {
		r := Match(tc.in, hints)
		if r.Exact != tc.exact || len(r.Matches) != tc.n || r.Unique() != tc.unique {
			t.Errorf("Match(%q) = %+v", tc.in, r)
		}
	}
}

// clock is a fake clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                    { return c.t }
func (c *clock) advance(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

func newMachine() (*Machine, *clock) {
	return &Machine{
		Threshold:     250 * time.Millisecond,
		LauncherDwell: 100 * time.Millisecond,
		Bindings:      []Binding{{Key: 'w', Apps: []string{"web"}, Launch: "firefox"}},
	}, &clock{t: time.Unix(1000, 0)}
}

var snap3 = []Entry{{ID: "w1", AppID: "alpha"}, {ID: "w2", AppID: "bravo"}, {ID: "w3", AppID: "charlie"}}

func kinds(as []Action) []ActionKind {
	var out []ActionKind
	for _, a := range as {
		out = append(out, a.Kind)
	}
	return out
}

func want(t *testing.T, got []Action, k ...ActionKind) {
	t.Helper()
	if !reflect.DeepEqual(kinds(got), k) {
		t.Fatalf("actions %v, want %v", kinds(got), k)
	}
}

func TestTapSwitchesToPreviousWithoutDrawing(t *testing.T) {
	m, c := newMachine()
	want(t, m.Trigger(c.now(), snap3, false, false), ActShow)
	if d, ok := m.Deadline(); !ok || d != c.now().Add(250*time.Millisecond) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	c.advance(120 * time.Millisecond)
	want(t, m.Tick(c.now())) // not yet
	acts := m.Release(c.now())
	want(t, acts, ActHide, ActActivate)
	if acts[1].Window != 1 {
		t.Fatalf("activated %d, want the previous window (1)", acts[1].Window)
	}
	o := m.TakeOutcome()
	if o.Result != "activated" || !o.Quick || o.Drawn || o.Window.ID != "w2" {
		t.Fatalf("outcome %+v", o)
	}
	if m.Phase() != Idle {
		t.Fatal("not idle")
	}
}

func TestHoldDrawsThenReleaseCommits(t *testing.T) {
	m, c := newMachine()
	m.Trigger(c.now(), snap3, false, false)
	c.advance(249 * time.Millisecond)
	want(t, m.Tick(c.now()))
	c.advance(time.Millisecond)
	want(t, m.Tick(c.now()), ActDraw)
	if m.Phase() != Picking {
		t.Fatal(m.Phase())
	}
	want(t, m.Key(c.now(), xkb.Down), ActDraw) // 1 → 2
	c.advance(time.Second)
	acts := m.Release(c.now())
	want(t, acts, ActHide, ActActivate)
	if acts[1].Window != 2 {
		t.Fatalf("activated %d", acts[1].Window)
	}
	if o := m.TakeOutcome(); o.Quick || !o.Drawn {
		t.Fatalf("outcome %+v", o)
	}
}

func TestBackwardAndRefire(t *testing.T) {
	m, c := newMachine()
	m.Trigger(c.now(), snap3, true, false)
	if v := m.View(); v.Selected != 2 {
		t.Fatalf("backward starts at %d", v.Selected)
	}
	// The compositor re-fires the binding (Tab pressed again with Alt held).
	want(t, m.Trigger(c.advance(50*time.Millisecond), nil, false, false), ActDraw)
	if v := m.View(); v.Selected != 0 || m.Phase() != Picking {
		t.Fatalf("refire: %d %v", v.Selected, m.Phase())
	}
	want(t, m.Key(c.now(), xkb.ISOLeftTab), ActDraw)
	if v := m.View(); v.Selected != 2 {
		t.Fatalf("wrap: %d", v.Selected)
	}
}

func TestHintActivatesAtOnce(t *testing.T) {
	m, c := newMachine()
	m.Trigger(c.now(), snap3, false, false)
	acts := m.Key(c.advance(10*time.Millisecond), 'c')
	want(t, acts, ActHide, ActActivate)
	if acts[1].Window != 2 {
		t.Fatalf("window %d", acts[1].Window)
	}
}

func TestRepeatedHintsWait(t *testing.T) {
	m, c := newMachine()
	snap := []Entry{{ID: "a", AppID: "foot"}, {ID: "b", AppID: "foot"}, {ID: "c", AppID: "foot"}}
	m.Trigger(c.now(), snap, false, false)
	want(t, m.Key(c.now(), 'f'), ActDraw) // f is also the start of ff, fff
	if v := m.View(); v.Selected != 0 || len(v.Visible) != 3 {
		t.Fatalf("after f: %+v", v)
	}
	want(t, m.Key(c.now(), 'F'), ActDraw) // ff, still the start of fff
	if v := m.View(); v.Selected != 1 || len(v.Visible) != 2 {
		t.Fatalf("after ff: %+v", v)
	}
	acts := m.Key(c.now(), 'f') // fff: unique
	want(t, acts, ActHide, ActActivate)
	if acts[1].Window != 2 {
		t.Fatal(acts[1].Window)
	}
	// Backspace and Enter.
	m.Trigger(c.now(), snap, false, false)
	m.Key(c.now(), 'f')
	m.Key(c.now(), 'f')
	m.Key(c.now(), xkb.BackSpace)
	acts = m.Key(c.now(), xkb.Return)
	want(t, acts, ActHide, ActActivate)
	if acts[1].Window != 0 {
		t.Fatal(acts[1].Window)
	}
}

func TestBoundLetterWithoutWindowLaunches(t *testing.T) {
	m, c := newMachine()
	m.Trigger(c.now(), snap3, false, false)
	want(t, m.Key(c.now(), 'w'), ActDraw)
	if v := m.View(); v.Pending != "firefox" || len(v.Visible) != 0 {
		t.Fatalf("%+v", v)
	}
	acts := m.Release(c.advance(time.Second))
	want(t, acts, ActHide, ActLaunch)
	if acts[1].Launch != "firefox" || m.TakeOutcome().Result != "launch" {
		t.Fatal(acts)
	}
	// Backspace unstages.
	m.Trigger(c.now(), snap3, false, false)
	m.Key(c.now(), 'w')
	m.Key(c.now(), xkb.BackSpace)
	if v := m.View(); v.Pending != "" {
		t.Fatal("still staged")
	}
	// An unbound letter stages nothing.
	m.Key(c.now(), 'z')
	if v := m.View(); v.Pending != "" {
		t.Fatal("staged z")
	}
}

func TestEscapeCancels(t *testing.T) {
	m, c := newMachine()
	m.Trigger(c.now(), snap3, false, false)
	want(t, m.Key(c.now(), xkb.Escape), ActHide)
	if o := m.TakeOutcome(); o.Result != "cancelled" || m.Phase() != Idle {
		t.Fatal(o)
	}
	want(t, m.Release(c.now())) // nothing after the end
	want(t, m.Key(c.now(), 'a'))
}

func TestLauncherMode(t *testing.T) {
	m, c := newMachine()
	want(t, m.Trigger(c.now(), nil, false, false)) // no windows, no switcher
	want(t, m.Trigger(c.now(), nil, false, true), ActShow)
	if d, _ := m.Deadline(); d.Sub(c.now()) != 100*time.Millisecond {
		t.Fatalf("launcher dwell %v", d.Sub(c.now()))
	}
	want(t, m.Release(c.advance(10*time.Millisecond)), ActDraw) // nothing to switch to: wait for a letter
	m.Key(c.now(), 'w')
	want(t, m.Key(c.now(), xkb.KPEnter), ActHide, ActLaunch)
}

func TestSingleWindow(t *testing.T) {
	m, c := newMachine()
	m.Trigger(c.now(), snap3[:1], false, false)
	acts := m.Release(c.advance(time.Millisecond))
	want(t, acts, ActHide, ActActivate)
	if acts[1].Window != 0 {
		t.Fatal(acts[1].Window)
	}
}

func TestIgnoresNonHintKeys(t *testing.T) {
	m, c := newMachine()
	m.Trigger(c.now(), snap3, false, false)
	want(t, m.Key(c.now(), xkb.ShiftL))
	want(t, m.Key(c.now(), ' '))
	if m.Phase() != Armed {
		t.Fatal(m.Phase())
	}
}
