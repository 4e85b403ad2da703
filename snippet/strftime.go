package snippet

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// strftime formats t with the conversions listed in the package documentation. A nil b
// means a new builder; the error names an unknown or unfinished conversion.
func strftime(format string, t time.Time, b *strings.Builder) (string, error) {
	if b == nil {
		b = new(strings.Builder)
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(format) {
			return "", fmt.Errorf("date format %q ends in a lone %% (write %%%% for a '%%')", format)
		}
		i++
		switch format[i] {
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'y':
			pad(b, t.Year()%100, 2, '0')
		case 'C':
			pad(b, t.Year()/100, 2, '0')
		case 'm':
			pad(b, int(t.Month()), 2, '0')
		case 'd':
			pad(b, t.Day(), 2, '0')
		case 'e':
			pad(b, t.Day(), 2, ' ')
		case 'H':
			pad(b, t.Hour(), 2, '0')
		case 'k':
			pad(b, t.Hour(), 2, ' ')
		case 'I':
			pad(b, hour12(t), 2, '0')
		case 'l':
			pad(b, hour12(t), 2, ' ')
		case 'M':
			pad(b, t.Minute(), 2, '0')
		case 'S':
			pad(b, t.Second(), 2, '0')
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'j':
			pad(b, t.YearDay(), 3, '0')
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(strconv.Itoa(wd))
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'V':
			_, w := t.ISOWeek()
			pad(b, w, 2, '0')
		case 'G':
			y, _ := t.ISOWeek()
			b.WriteString(strconv.Itoa(y))
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'F':
			strftime("%Y-%m-%d", t, b)
		case 'T':
			strftime("%H:%M:%S", t, b)
		case 'R':
			strftime("%H:%M", t, b)
		case 'D':
			strftime("%m/%d/%y", t, b)
		case 'c':
			strftime("%a %b %e %H:%M:%S %Y", t, b)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			r, _ := utf8.DecodeRuneInString(format[i:])
			return "", fmt.Errorf("unknown date conversion %%%c in %q (see sesame snippet --help)", r, format)
		}
	}
	return b.String(), nil
}

func hour12(t time.Time) int {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return h
}

func pad(b *strings.Builder, n, width int, with byte) {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b.WriteByte(with)
	}
	b.WriteString(s)
}
