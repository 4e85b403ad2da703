package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeWindow is a weekly time window, written as days, a time range, or both:
//
//	"mon-fri 09:00-18:00"   weekdays, office hours
//	"sat,sun"               all weekend
//	"22:00-06:00"           every night (a range that ends before it starts crosses midnight;
//	                        the part after midnight belongs to the day it started)
//	"mon,wed-fri 08:30-12:00"
//
// Days are mon tue wed thu fri sat sun (or their full names), case-insensitive; a range
// may wrap (fri-mon). Times are HH:MM, 00:00 to 24:00, the start included and the end not.
// The clock is the hub's local time.
type TimeWindow string

type window struct {
	days       [7]bool // by time.Weekday
	start, end int     // minutes since midnight
}

func (w *TimeWindow) UnmarshalText(b []byte) error {
	if _, err := parseWindow(string(b)); err != nil {
		return err
	}
	*w = TimeWindow(strings.ToLower(strings.Join(strings.Fields(string(b)), " ")))
	return nil
}

func (*TimeWindow) want() string { return `a time window (a string such as "mon-fri 09:00-18:00")` }

// Contains reports whether t falls in the window.
func (w TimeWindow) Contains(t time.Time) bool {
	win, err := parseWindow(string(w))
	if err != nil {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	if win.start <= win.end {
		return win.days[day] && m >= win.start && m < win.end
	}
	// Over midnight: the evening of a listed day, or the morning after one.
	return win.days[day] && m >= win.start || win.days[(day+6)%7] && m < win.end
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

func parseWindow(s string) (window, error) {
	var w window
	f := strings.Fields(strings.ToLower(s))
	bad := func(why string) (window, error) {
		return window{}, fmt.Errorf("%q is not a time window: %s (want e.g. \"mon-fri 09:00-18:00\", \"sat,sun\" or \"22:00-06:00\")", s, why)
	}
	if len(f) == 0 || len(f) > 2 {
		return bad("want days, a time range, or both")
	}
	var days, times string
	switch {
	case len(f) == 2:
		days, times = f[0], f[1]
	case strings.Contains(f[0], ":"):
		times = f[0]
	default:
		days = f[0]
	}
	if days == "" {
		for i := range w.days {
			w.days[i] = true
		}
	} else {
		for _, item := range strings.Split(days, ",") {
			a, b, isRange := strings.Cut(item, "-")
			da, ok := dayNames[a]
			if !ok {
				return bad(fmt.Sprintf("%q is not a day", a))
			}
			db := da
			if isRange {
				if db, ok = dayNames[b]; !ok {
					return bad(fmt.Sprintf("%q is not a day", b))
				}
			}
			for d := da; ; d = (d + 1) % 7 {
				w.days[d] = true
				if d == db {
					break
				}
			}
		}
	}
	w.start, w.end = 0, 24*60
	if times != "" {
		a, b, ok := strings.Cut(times, "-")
		if !ok {
			return bad("a time range is HH:MM-HH:MM")
		}
		var err error
		if w.start, err = clock(a); err != nil {
			return bad(err.Error())
		}
		if w.end, err = clock(b); err != nil {
			return bad(err.Error())
		}
		if w.start == w.end {
			return bad("the range is empty")
		}
	}
	return w, nil
}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) < 1 || len(h) > 2 || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return hh*60 + mm, nil
}
