package xdg

import (
	"slices"
	"strings"
	"testing"
)

// Tokenizing, as the specification's quoting rules say (the string escapes have already been
// undone by the key-file reader: see TestExecThroughFile for the two layers together).
func TestParseExec(t *testing.T) {
	cases := []struct {
		exec string
		want []string
	}{
		{"firefox", []string{"firefox"}},
		{"firefox  --new-window   x", []string{"firefox", "--new-window", "x"}},
		{"\tprog\targ\t", []string{"prog", "arg"}},
		{`"/opt/My App/bin/app" --flag`, []string{"/opt/My App/bin/app", "--flag"}},
		{`sh -c "echo \"hi\" \$HOME \` + "`" + `x\` + "` \\\\ done\"", []string{"sh", "-c", "echo \"hi\" $HOME `x` \\ done"}},
		{`prog ""`, []string{"prog", ""}},
		{`prog --name="two words"`, []string{"prog", "--name=two words"}},
		{`prog "a"b"c"`, []string{"prog", "abc"}},
		{`prog "keep \n unknown"`, []string{"prog", `keep \n unknown`}},
		// Outside double quotes: no shell, reserved characters are plain characters ...
		{`prog a|b >out ; & $HOME *`, []string{"prog", "a|b", ">out", ";", "&", "$HOME", "*"}},
		// ... except single quotes and backslashes, taken as GLib and KDE take them.
		{`sh -c 'echo "x" $y'`, []string{"sh", "-c", `echo "x" $y`}},
		{`prog a\ b`, []string{"prog", "a b"}},
		{`env FOO=bar prog`, []string{"env", "FOO=bar", "prog"}},
		{"prog %f", []string{"prog", "%f"}},
	}
	for _, c := range cases {
		cmd, err := ParseExec(c.exec)
		if err != nil {
			t.Errorf("%q: %v", c.exec, err)
			continue
		}
		if got := cmd.Args(); !slices.Equal(got, c.want) {
			t.Errorf("%q:\n got  %q\n want %q", c.exec, got, c.want)
		}
	}
	for _, bad := range []string{"", "   ", `"`, `prog "x`, `prog 'x`, `"" arg`, "A=b prog", "prog %", "prog %x", "%f", "prog %F %u", "prog a%Ub", "prog --icon=%i"} {
		if _, err := ParseExec(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The two layers together: "to unambiguously represent a literal backslash character in a
// quoted argument in a desktop entry file requires the use of four successive backslash
// characters".
func TestExecThroughFile(t *testing.T) {
	e := mustParse(t, `[Desktop Entry]
Type=Application
Name=X
Exec=prog "a\\\\b" "\\$HOME" "say \\"hi\\"" plain\sspace
`, Locale{})
	want := []string{"prog", `a\b`, "$HOME", `say "hi"`, "plain", "space"}
	if got := e.Command.Args(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExpand(t *testing.T) {
	info := ExpandInfo{Icon: "org.app", Name: "My App", Location: "/usr/share/applications/app.desktop"}
	cases := []struct {
		exec  string
		files []string
		want  [][]string
	}{
		{"app %U", nil, [][]string{{"app"}}},
		{"app %U", []string{"a", "b"}, [][]string{{"app", "a", "b"}}},
		{"app %F --end", []string{"file:///tmp/a%20b", "c"}, [][]string{{"app", "/tmp/a b", "c", "--end"}}},
		{"app %u", []string{"file:///tmp/x"}, [][]string{{"app", "file:///tmp/x"}}},
		{"app %f", nil, [][]string{{"app"}}},
		{"app %f", []string{"a"}, [][]string{{"app", "a"}}},
		// %f with several files: one instance per file.
		{"app --open %f", []string{"a", "b"}, [][]string{{"app", "--open", "a"}, {"app", "--open", "b"}}},
		{"app --file=%f", []string{"a"}, [][]string{{"app", "--file=a"}}},
		{"app --file=%f", nil, [][]string{{"app", "--file="}}},
		{"app %i %c %k", nil, [][]string{{"app", "--icon", "org.app", "My App", "/usr/share/applications/app.desktop"}}},
		{"app --title=%c 100%%", nil, [][]string{{"app", "--title=My App", "100%"}}},
		{"app %d %D %n %N %v %m x", nil, [][]string{{"app", "x"}}},
		// No file field code: files are appended.
		{"app -x", []string{"a", "b"}, [][]string{{"app", "-x", "a", "b"}}},
	}
	for _, c := range cases {
		cmd, err := ParseExec(c.exec)
		if err != nil {
			t.Fatalf("%q: %v", c.exec, err)
		}
		got := cmd.Expand(info, c.files)
		if !slices.EqualFunc(got, c.want, func(a, b []string) bool { return slices.Equal(a, b) }) {
			t.Errorf("%q %q:\n got  %q\n want %q", c.exec, c.files, got, c.want)
		}
	}
	cmd, _ := ParseExec("app %i")
	if got := cmd.Expand(ExpandInfo{}, nil); !slices.Equal(got[0], []string{"app"}) {
		t.Errorf("%%i without an icon: %q", got)
	}
}

func FuzzParseExec(f *testing.F) {
	for _, s := range []string{"app %U", `sh -c "echo \"x\""`, `a 'b c' d\ e`, "app --file=%f %i %c %k %%", `"unterminated`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmd, err := ParseExec(s)
		if err != nil {
			return
		}
		for _, files := range [][]string{nil, {"a"}, {"file:///x", "b"}} {
			for _, argv := range cmd.Expand(ExpandInfo{Icon: "i", Name: "n", Location: "l"}, files) {
				if len(argv) == 0 || argv[0] == "" || strings.ContainsRune(argv[0], '=') {
					t.Fatalf("%q expands to %q", s, argv)
				}
			}
		}
	})
}
