package clipboard

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Sensitivity detection. Content is sensitive when its source says so (the MIME type
// x-kde-passwordManagerHint offered with the value "secret", which KeePassXC, wl-copy
// --sensitive and others set), when it has the shape of a known credential, or when it is
// one short token of high entropy (a generated password, a key). Sensitive content is not
// kept in the history unless configured, and is cleared from the live clipboard after a TTL.

// PasswordManagerHint is the MIME type password managers offer to mark a secret.
const PasswordManagerHint = "x-kde-passwordManagerHint"

// Public is the sensitivity of content that is not sensitive.
const Public = "public"

type tokenShape struct {
	name string
	re   *regexp.Regexp
}

// tokenShapes compiles the patterns on first use, not at package init: this package is linked
// into every sesame process, the CLI included, and compiling them cost about 1 ms per start.
var tokenShapes = sync.OnceValue(func() []tokenShape {
	return []tokenShape{
		{"aws-key", regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA|AIDA|AROA|ANPA|ANVA|AGPA)[A-Z0-9]{16}\b`)},
		{"private-key", regexp.MustCompile(`-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----`)},
		{"github-token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b`)},
		{"gitlab-token", regexp.MustCompile(`\bgl(pat|dt|ptt|rt|cbt|soat|ft)-[A-Za-z0-9_\-]{20,}\b`)},
		{"slack-token", regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9\-]{10,}\b|https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]{20,}`)},
		{"jwt", regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`)},
		{"stripe-key", regexp.MustCompile(`\b[sr]k_(live|test)_[A-Za-z0-9]{20,}\b`)},
		{"google-api-key", regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}\b`)},
	}
})

// Classify says why text is sensitive, or Public. hint is the value offered as
// x-kde-passwordManagerHint ("" when not offered).
func Classify(text []byte, hint string) string {
	if strings.TrimSpace(strings.ToLower(hint)) == "secret" {
		return "password-manager"
	}
	if len(text) > 1<<20 {
		text = text[:1<<20] // shapes are searched in the first MiB
	}
	for _, t := range tokenShapes() {
		if t.re.Match(text) {
			return t.name
		}
	}
	if highEntropyToken(text) {
		return "entropy"
	}
	return Public
}

// highEntropyToken reports whether text is one token (no whitespace inside) of 12 to 256
// characters mixing at least three character classes with a high Shannon entropy: what a
// generated password or an API secret looks like. URLs, paths, e-mail addresses and
// hexadecimal or numeric strings (hashes, ids) are not.
func highEntropyToken(text []byte) bool {
	t := bytes.TrimSpace(text)
	n := utf8.RuneCount(t)
	if n < 12 || n > 256 || !utf8.Valid(t) || bytes.ContainsFunc(t, unicode.IsSpace) {
		return false
	}
	s := string(t)
	if strings.Contains(s, "://") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~/") || strings.HasPrefix(s, "./") {
		return false
	}
	if at := strings.IndexByte(s, '@'); at > 0 && strings.Contains(s[at:], ".") && !strings.ContainsAny(s, "!#$%^&*()") {
		return false // an address
	}
	var lower, upper, digit, other bool
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	if classes < 3 {
		return false
	}
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	// A random string over ~70 symbols has log2(min(n, 70)) bits per character at most;
	// ask for 80 % of what its length allows, and at least 3 bits.
	want := math.Max(3, 0.8*math.Log2(math.Min(float64(n), 70)))
	return h >= want
}
