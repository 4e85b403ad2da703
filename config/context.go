package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Context activation.
//
// Each profile may have context rules ([[profiles.NAME.context]]). The hub reads the signals
// the rules need from their sources every [context].poll, picks a winner with Evaluate, and
// lets a Switcher debounce it: the winner becomes the default profile only once it has won
// for [context].debounce. Sources sit behind the Source interface so tests feed them.

// Signal is one kind of context signal, as a bit.
type Signal uint8

const (
	SignalSSID Signal = 1 << iota // Wi-Fi network
	SignalUSB                     // USB devices present
	SignalHost                    // host name
	SignalTime                    // the clock
)

func (s Signal) String() string {
	var out []string
	for _, x := range []struct {
		bit  Signal
		name string
	}{{SignalSSID, "ssid"}, {SignalUSB, "usb"}, {SignalHost, "host"}, {SignalTime, "time"}} {
		if s&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	return strings.Join(out, "|")
}

// Signals is what the sources saw at one moment.
type Signals struct {
	SSIDs []string  // networks connected to
	USB   []string  // devices present, "vvvv:pppp" in lower case
	Host  string    // host name
	Now   time.Time // the time
	Known Signal    // which signals were read; a condition on another never matches
}

// A Source reads one kind of signal into s. It returns an error when the signal cannot be
// read now (no NetworkManager, no sysfs): conditions on that signal then do not match.
// Read is called from one goroutine at a time.
type Source interface {
	Signal() Signal
	Read(ctx context.Context, s *Signals) error
}

// Senser reads sources. Errors go to Logf once per source until it succeeds again (a
// missing NetworkManager is not news every poll).
type Senser struct {
	Sources []Source
	Logf    func(format string, args ...any)

	failing []bool
}

// Sense reads the sources whose signal is in need.
func (sn *Senser) Sense(ctx context.Context, need Signal) Signals {
	if len(sn.failing) != len(sn.Sources) {
		sn.failing = make([]bool, len(sn.Sources))
	}
	var s Signals
	for i, src := range sn.Sources {
		if src.Signal()&need == 0 {
			continue
		}
		if err := src.Read(ctx, &s); err != nil {
			if !sn.failing[i] && sn.Logf != nil {
				sn.Logf("context: no %s signal: %v", src.Signal(), err)
			}
			sn.failing[i] = true
			continue
		}
		sn.failing[i] = false
		s.Known |= src.Signal()
	}
	return s
}

// Needs returns the signals the profiles' rules use.
func Needs(profiles map[string]Profile) Signal {
	var n Signal
	for _, p := range profiles {
		for _, r := range p.Context {
			if len(r.SSID) > 0 {
				n |= SignalSSID
			}
			if len(r.USB) > 0 {
				n |= SignalUSB
			}
			if len(r.Host) > 0 {
				n |= SignalHost
			}
			if len(r.Time) > 0 {
				n |= SignalTime
			}
		}
	}
	return n
}

// Match is the outcome of an evaluation: the winning profile, the priority of its rule,
// and why it matched. The zero Match is "no rule matches".
type Match struct {
	Profile  string
	Priority int
	Reason   string // "ssid=corp-office, usb=1050:0407"
}

// String is how status and the audit log show a match: "work: ssid=corp-office".
func (m Match) String() string {
	if m.Profile == "" {
		return "no context rule matches"
	}
	return m.Profile + ": " + m.Reason
}

// Evaluate returns the best match: among every rule of every profile that matches s, the
// highest priority; on a tie, the profile whose name sorts first, then its first rule.
// Profiles for which skip returns true take no part.
func Evaluate(profiles map[string]Profile, s Signals, skip func(string) bool) Match {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	var best Match
	found := false
	for _, n := range names {
		if skip != nil && skip(n) {
			continue
		}
		for _, r := range profiles[n].Context {
			reason, ok := r.match(s)
			if ok && (!found || r.Priority > best.Priority) {
				best, found = Match{Profile: n, Priority: r.Priority, Reason: reason}, true
			}
		}
	}
	return best
}

// match reports whether every condition of r holds in s, and says which values matched.
func (r *Rule) match(s Signals) (string, bool) {
	var why []string
	if len(r.SSID) > 0 {
		v, ok := anyOf(r.SSID, s.SSIDs, s.Known&SignalSSID != 0, strings.EqualFold)
		if !ok {
			return "", false
		}
		why = append(why, "ssid="+v)
	}
	if len(r.USB) > 0 {
		ids := make([]string, len(r.USB))
		for i, u := range r.USB {
			ids[i] = string(u)
		}
		v, ok := anyOf(ids, s.USB, s.Known&SignalUSB != 0, func(a, b string) bool { return a == b })
		if !ok {
			return "", false
		}
		why = append(why, "usb="+v)
	}
	if len(r.Host) > 0 {
		v, ok := anyOf(r.Host, []string{s.Host}, s.Known&SignalHost != 0, strings.EqualFold)
		if !ok {
			return "", false
		}
		why = append(why, "host="+v)
	}
	if len(r.Time) > 0 {
		if s.Known&SignalTime == 0 {
			return "", false
		}
		hit := ""
		for _, w := range r.Time {
			if w.Contains(s.Now) {
				hit = string(w)
				break
			}
		}
		if hit == "" {
			return "", false
		}
		why = append(why, "time="+hit)
	}
	return strings.Join(why, ", "), true
}

func anyOf(want, have []string, known bool, eq func(a, b string) bool) (string, bool) {
	if !known {
		return "", false
	}
	for _, w := range want {
		for _, h := range have {
			if eq(w, h) {
				return w, true
			}
		}
	}
	return "", false
}

// Switcher debounces the winner of successive evaluations.
//
//	current ──(another winner seen)──→ pending ──(still winning after Debounce)──→ current
//	   ↑                                  │
//	   └──────(current wins again)────────┘
//
// The first observation is adopted at once: at start-up there is nothing to debounce
// against. A winner that stays the same but matches for another reason updates the reason
// without a switch.
type Switcher struct {
	Debounce time.Duration

	started bool
	cur     Match
	pending Match
	since   time.Time
}

// Observe feeds one evaluation made at now. It returns the current match and whether it
// changed profile.
func (w *Switcher) Observe(now time.Time, m Match) (Match, bool) {
	switch {
	case !w.started:
		w.started, w.cur, w.pending = true, m, m
		return m, m.Profile != ""
	case m.Profile == w.cur.Profile:
		w.cur, w.pending = m, m
		return w.cur, false
	case m.Profile != w.pending.Profile:
		w.pending, w.since = m, now
	default:
		w.pending = m
	}
	if now.Sub(w.since) >= w.Debounce {
		w.cur = w.pending
		return w.cur, true
	}
	return w.cur, false
}

// Current returns the current match.
func (w *Switcher) Current() Match { return w.cur }

// Pending returns the winner waiting out the debounce and since when, if there is one.
func (w *Switcher) Pending() (Match, time.Time, bool) {
	if w.pending.Profile == w.cur.Profile {
		return Match{}, time.Time{}, false
	}
	return w.pending, w.since, true
}

// Sources.

// SysfsRootEnv overrides the root of sysfs for the USB source. It is meant for tests,
// which switch a fake tree of devices.
const SysfsRootEnv = "SESAME_SYSFS_ROOT"

// USBSource lists the USB devices present from sysfs: ROOT/bus/usb/devices/*/idVendor and
// idProduct (ROOT is /sys).
type USBSource struct {
	Root string
}

func (USBSource) Signal() Signal { return SignalUSB }

func (u USBSource) Read(_ context.Context, s *Signals) error {
	root := u.Root
	if root == "" {
		root = "/sys"
	}
	dir := filepath.Join(root, "bus", "usb", "devices")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, de := range ents {
		v, err1 := os.ReadFile(filepath.Join(dir, de.Name(), "idVendor"))
		p, err2 := os.ReadFile(filepath.Join(dir, de.Name(), "idProduct"))
		if err1 != nil || err2 != nil {
			continue // interfaces (1-1:1.0) have no ids
		}
		id := strings.ToLower(strings.TrimSpace(string(v)) + ":" + strings.TrimSpace(string(p)))
		if !seen[id] {
			seen[id] = true
			s.USB = append(s.USB, id)
		}
	}
	sort.Strings(s.USB)
	return nil
}

// HostSource reads the host name.
type HostSource struct {
	Hostname func() (string, error) // nil: os.Hostname
}

func (HostSource) Signal() Signal { return SignalHost }

func (h HostSource) Read(_ context.Context, s *Signals) error {
	f := h.Hostname
	if f == nil {
		f = os.Hostname
	}
	name, err := f()
	if err != nil {
		return err
	}
	s.Host = name
	return nil
}

// ClockSource reads the time.
type ClockSource struct {
	Now func() time.Time
}

func (ClockSource) Signal() Signal { return SignalTime }

func (c ClockSource) Read(_ context.Context, s *Signals) error {
	s.Now = c.Now()
	return nil
}

// FuncSource is a source made of a function: what tests script.
type FuncSource struct {
	Kind Signal
	Fn   func(*Signals) error
}

func (f FuncSource) Signal() Signal                           { return f.Kind }
func (f FuncSource) Read(_ context.Context, s *Signals) error { return f.Fn(s) }

var (
	_ Source = USBSource{}
	_ Source = HostSource{}
	_ Source = ClockSource{}
	_ Source = FuncSource{}
	_ Source = (*NetworkManager)(nil)
)

func (s Signals) String() string {
	return fmt.Sprintf("ssid=%v usb=%v host=%q known=%v", s.SSIDs, s.USB, s.Host, s.Known)
}
