package xdg

import "strings"

// Locale is a message locale, lang[_COUNTRY][@MODIFIER] (the encoding is dropped). The zero
// Locale selects untranslated values.
type Locale struct {
	Lang, Country, Modifier string
}

// parseLocale parses lang[_COUNTRY][.ENCODING][@MODIFIER].
func parseLocale(s string) (Locale, bool) {
	var l Locale
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, l.Modifier = s[:i], s[i+1:]
		if l.Modifier == "" {
			return Locale{}, false
		}
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '_'); i >= 0 {
		s, l.Country = s[:i], s[i+1:]
		if l.Country == "" {
			return Locale{}, false
		}
	}
	l.Lang = s
	return l, l.Lang != ""
}

// ParseLocale parses a locale such as de_DE.UTF-8@euro. C, POSIX, their variants (C.UTF-8)
// and the empty string give the zero Locale.
func ParseLocale(s string) Locale {
	l, ok := parseLocale(s)
	if !ok || l.Lang == "C" || l.Lang == "POSIX" {
		return Locale{}
	}
	return l
}

// LocaleFromEnv returns the message locale: LC_ALL, else LC_MESSAGES, else LANG.
func LocaleFromEnv(getenv func(string) string) Locale {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(k); v != "" {
			return ParseLocale(v)
		}
	}
	return Locale{}
}

func (l Locale) String() string {
	s := l.Lang
	if l.Country != "" {
		s += "_" + l.Country
	}
	if l.Modifier != "" {
		s += "@" + l.Modifier
	}
	return s
}

// candidates returns the localized-key suffixes to try, best first, as the specification
// orders them: lang_COUNTRY@MODIFIER, lang_COUNTRY, lang@MODIFIER, lang.
func (l Locale) candidates() []string {
	if l.Lang == "" {
		return nil
	}
	var out []string
	if l.Country != "" && l.Modifier != "" {
		out = append(out, l.Lang+"_"+l.Country+"@"+l.Modifier)
	}
	if l.Country != "" {
		out = append(out, l.Lang+"_"+l.Country)
	}
	if l.Modifier != "" {
		out = append(out, l.Lang+"@"+l.Modifier)
	}
	return append(out, l.Lang)
}
