package cli

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-sesame/sesame/roles/env"
)

func testApp() *env.Env {
	return &env.Env{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
		Logf: func(string, ...any) {}, Now: time.Now, Version: "test",
	}
}

// bashComplete runs the generated completion function on a command line (the last word is
// the one being completed) and returns the candidates.
func bashComplete(t *testing.T, script, dir string, words ...string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
		strconv.Itoa(len(words)-1) + "\n_sesame\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%q: %v\n%s", words, err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	slices.Sort(got)
	return got
}

func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "sesame.bash")
	if err := os.WriteFile(script, []byte(BashCompletion(App(testApp(), []string{"profile", "secrets"}))), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "--norc", "-c", "source "+script+" && complete -p sesame").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "complete -F _sesame sesame" {
		t.Fatalf("complete -p sesame: %v %q", err, out)
	}
	os.WriteFile(filepath.Join(dir, "values.env"), nil, 0o644)

	for _, c := range []struct {
		words []string
		want  string // space-separated, sorted; "" for none
	}{
		{[]string{"sesame", "sec"}, "secret"},
		{[]string{"sesame", "st"}, "status"},
		{[]string{"sesame", "ke"}, ""}, // keys is hidden
		{[]string{"sesame", "-"}, "--help --version -h -v"},
		{[]string{"sesame", "secret", ""}, "delete get list set"},
		{[]string{"sesame", "secret", "get", "--p"}, "--profile"},
		{[]string{"sesame", "secret", "get", "-p", ""}, ""}, // a profile name: nothing to offer
		{[]string{"sesame", "secret", "get", "-p", "work", "--"}, "--help --profile"},
		{[]string{"sesame", "secret", "get", "-p", "work", "--", ""}, ""},         // no -- CMD for secret get
		{[]string{"sesame", "secret", "set", "--from-file", "val"}, "values.env"}, // a file
		{[]string{"sesame", "secret", "set", "--profile", "=", "work", "-"}, "--from-file --help --profile -h -p"},
		{[]string{"sesame", "status", "--d"}, "--doctor"},
		{[]string{"sesame", "profile", "delete", "--y"}, "--yes"},
		{[]string{"sesame", "env", "-p", "work", "--", "bas"}, "+bash"},              // the command
		{[]string{"sesame", "env", "-p", "work", "--", "bash", "val"}, "values.env"}, // its arguments
		{[]string{"sesame", "nosuch", ""}, ""},
	} {
		got := bashComplete(t, script, dir, c.words...)
		if want, ok := strings.CutPrefix(c.want, "+"); ok {
			if !slices.Contains(got, want) {
				t.Errorf("%q: got %q, want it to include %q", c.words, got, want)
			}
			continue
		}
		if got := strings.Join(got, " "); got != c.want {
			t.Errorf("%q: got %q, want %q", c.words, got, c.want)
		}
	}
}

func TestZshCompletion(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh")
	}
	script := filepath.Join(t.TempDir(), "_sesame")
	if err := os.WriteFile(script, []byte(ZshCompletion(App(testApp(), []string{"profile", "secrets"}))), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	// Drive it with stand-ins for the completion system: _describe prints what it is offered.
	run := func(words ...string) string {
		prog := `compdef() { print "compdef $*" }
_describe() { print -l -- ${(P)4} }
_files() { print _files }
_command_names() { print _command_names }
source ` + script + `
words=(` + strings.Join(words, " ") + ` '')
CURRENT=` + strconv.Itoa(len(words)+1) + `
PREFIX=''
_sesame`
		out, err := exec.Command("zsh", "-f", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", words, err, out)
		}
		return string(out)
	}
	out := run("sesame")
	if !strings.Contains(out, "compdef _sesame sesame") || !strings.Contains(out, "\nsecret:") {
		t.Fatalf("top level:\n%s", out)
	}
	if out := run("sesame", "secret"); !strings.Contains(out, "get:") || strings.Contains(out, "status:") {
		t.Fatalf("secret:\n%s", out)
	}
	if out := run("sesame", "nosuch"); strings.TrimSpace(out) != "compdef _sesame sesame" {
		t.Fatalf("after an argument:\n%s", out)
	}
	if out := run("sesame", "secret", "set", "--from-file"); !strings.Contains(out, "_files") {
		t.Fatalf("--from-file:\n%s", out)
	}
	if out := run("sesame", "env", "--"); !strings.Contains(out, "_command_names") {
		t.Fatalf("env --:\n%s", out)
	}
}

func TestFishCompletionAndMan(t *testing.T) {
	app := App(testApp(), []string{"profile", "secrets"})
	fish, err := app.ToFishCompletion()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fish, "'keys'") {
		t.Error("fish completion offers the hidden keys command")
	}
	man, err := app.ToMan()
	if err != nil || !strings.Contains(man, "secret") {
		t.Fatalf("man: %v", err)
	}
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("no fish")
	}
	script := filepath.Join(t.TempDir(), "sesame.fish")
	os.WriteFile(script, []byte(fish), 0o644)
	out, err := exec.Command("fish", "--no-config", "-c", "source "+script+"; complete -C 'sesame sec'").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "secret\t") {
		t.Fatalf("fish: %v %q", err, out)
	}
}
