package snippet

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var when = time.Date(2026, time.March, 7, 14, 5, 9, 0, time.FixedZone("CET", 3600))

func values() *Values {
	return &Values{
		Now: when,
		Getenv: func(k string) (string, bool) {
			v, ok := map[string]string{"USER": "ada", "EMPTY": ""}[k]
			return v, ok
		},
		Clipboard: func() ([]byte, error) { return []byte("from the clipboard"), nil },
		Secrets:   map[string][]byte{"api-key": []byte("s3cr3t"), "db.pass": []byte("p$w}d")},
	}
}

func expand(t *testing.T, tmpl string, v *Values) (string, int, error) {
	t.Helper()
	tp, err := Parse(tmpl)
	if err != nil {
		return "", -1, err
	}
	buf, cur, err := tp.Expand(v)
	if err != nil {
		return "", -1, err
	}
	defer buf.Destroy()
	return string(buf.Bytes()), cur, nil
}

func TestExpand(t *testing.T) {
	cases := []struct {
		tmpl, want string
		cursor     int
	}{
		{"plain text", "plain text", -1},
		{"", "", -1},
		{"${date}", "2026-03-07", -1},
		{"${date:%d/%m/%Y %H:%M:%S}", "07/03/2026 14:05:09", -1},
		{"${date:%a %A %b %B %e %j %p %I %l %k %u %w %V %G %y %C}", "Sat Saturday Mar March  7 066 PM 02  2 14 6 6 10 2026 26 20", -1},
		{"${date:%F %T %R %D %z %Z %s %%}", "2026-03-07 14:05:09 14:05 03/07/26 +0100 CET 1772888709 %", -1},
		{"${date:%c}", "Sat Mar  7 14:05:09 2026", -1},
		{"${date:a$}b}", "a}b", -1},
		{"hi ${env:USER}!", "hi ada!", -1},
		{"[${env:EMPTY}]", "[]", -1},
		{"${clipboard}", "from the clipboard", -1},
		{"key=${secret:api-key} pass=${secret:db.pass}", "key=s3cr3t pass=p$w}d", -1},
		{"Dear ${cursor},", "Dear ,", 5},
		{"héllo ${cursor}wörld", "héllo wörld", 7},
		// Escapes: $$ is '$'; a '$' before anything else is itself.
		{"$${date}", "${date}", -1},
		{"$$$${env:USER}", "$${env:USER}", -1},
		{"$$${env:USER}", "$ada", -1},
		{"costs $5, or $", "costs $5, or $", -1},
		{"a}b{c", "a}b{c", -1},
	}
	for _, c := range cases {
		got, cur, err := expand(t, c.tmpl, values())
		if err != nil {
			t.Errorf("%q: %v", c.tmpl, err)
			continue
		}
		if got != c.want || cur != c.cursor {
			t.Errorf("%q:\n got  %q (cursor %d)\n want %q (cursor %d)", c.tmpl, got, cur, c.want, c.cursor)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		tmpl   string
		offset int
		msg    string
	}{
		{"hello ${nope}", 6, "unknown variable ${nope}"},
		{"${DATE}", 0, "unknown variable"},
		{"ab ${date", 3, "unterminated ${"},
		{"${date:%Y", 0, "unterminated ${date:"},
		{"${}", 0, "empty variable name"},
		{"${date:}", 0, "needs a format"},
		{"${date:%Q}", 0, "unknown date conversion %Q"},
		{"${date:100%}", 0, "lone %"},
		{"${env}", 0, "needs a variable name"},
		{"${env:1X}", 0, "needs a variable name"},
		{"${env:A-B}", 0, "needs a variable name"},
		{"${secret}", 0, "needs a secret name"},
		{"${secret:a/b}", 0, "${secret:a/b}"},
		{"${clipboard:x}", 0, "takes no argument"},
		{"${cursor}${cursor}", 9, "more than one ${cursor}"},
		{"ok \xff", 3, "not UTF-8"},
	}
	for _, c := range cases {
		_, err := Parse(c.tmpl)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a SyntaxError", c.tmpl, err)
			continue
		}
		if se.Offset != c.offset || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%q: got %q at %d, want %q at %d", c.tmpl, se.Msg, se.Offset, c.msg, c.offset)
		}
	}
	if _, err := Parse(strings.Repeat("x", MaxTemplate+1)); err == nil {
		t.Error("an oversized template parsed")
	}
}

func TestExpandErrors(t *testing.T) {
	v := values()
	if _, _, err := expand(t, "${env:NOPE}", v); err == nil || !strings.Contains(err.Error(), "NOPE is not set") {
		t.Errorf("unset variable: %v", err)
	}
	if _, _, err := expand(t, "${secret:other}", v); err == nil {
		t.Error("a secret that was not fetched expanded")
	}
	v.Clipboard = nil
	if _, _, err := expand(t, "${clipboard}", v); err == nil || !strings.Contains(err.Error(), "no clipboard") {
		t.Errorf("no clipboard: %v", err)
	}
	v.Clipboard = func() ([]byte, error) { return nil, errors.New("the clipboard role is not running") }
	if _, _, err := expand(t, "${clipboard}", v); err == nil || !strings.Contains(err.Error(), "clipboard role is not running") {
		t.Errorf("clipboard error: %v", err)
	}
}

func TestSecretsAndUses(t *testing.T) {
	tp, err := Parse("${secret:b} ${secret:a} ${secret:b} ${clipboard}")
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.Secrets(); len(got) != 2 || got[0] != "b" || got[1] != "a" {
		t.Errorf("Secrets = %q", got)
	}
	if !tp.Uses(VarClipboard) || tp.Uses(VarCursor) {
		t.Error("Uses")
	}
}

func TestPreview(t *testing.T) {
	cases := []struct {
		s     string
		width int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven chars", 10, "eleven ch…"},
		{"line one\nline two", 40, "line one␤line two"},
		{"tab\there", 40, "tab here"},
		{"bell\x07", 40, "bell�"},
		{"héllo wörld ünïcödé", 8, "héllo w…"},
		{"日本語のテキスト", 7, "日本語…"},                                // wide characters count two columns
		{"👨‍👩‍👧 family 🇩🇪 flag", 3, "👨‍👩‍👧…"},                  // a ZWJ sequence is one cluster
		{"e\u0301e\u0301e\u0301e\u0301", 3, "e\u0301e\u0301…"}, // combining accents stay with their letter
		{"", 5, ""},
	}
	for _, c := range cases {
		if got := Preview(c.s, c.width); got != c.want {
			t.Errorf("Preview(%q, %d) = %q, want %q", c.s, c.width, got, c.want)
		}
	}
}

// FuzzTemplate: parsing never panics; a template that parses expands (with every value
// available) without error, and one without variables expands to itself with $$ undone.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"plain", "${date:%F %T}", "$${x} $$ $", "${secret:a} ${env:USER} ${clipboard} ${cursor}", "${date:a$}b$$c}", "${nope}", "${date", "日本 ${cursor}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(s) {
				t.Fatalf("%q: bad error %v", s, err)
			}
			return
		}
		v := values()
		v.Getenv = func(string) (string, bool) { return "v", true }
		v.Secrets = map[string][]byte{}
		for _, n := range tp.Secrets() {
			v.Secrets[n] = []byte("secret")
		}
		buf, cur, err := tp.Expand(v)
		if err != nil {
			t.Fatalf("%q parses but does not expand: %v", s, err)
		}
		if cur > buf.Len() {
			t.Fatalf("cursor %d past the end %d", cur, buf.Len())
		}
		if !strings.Contains(s, "${") && !strings.Contains(s, "$$") && string(buf.Bytes()) != s {
			t.Fatalf("%q expands to %q", s, buf.Bytes())
		}
		buf.Destroy()
		Preview(s, 20)
	})
}
