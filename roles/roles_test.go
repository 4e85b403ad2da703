package roles

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestChooseByFlag(t *testing.T) {
	for _, c := range []struct {
		args      []string
		role, err string
		restLen   int
	}{
		{[]string{"sesame"}, "", "", 0},
		{[]string{"sesame", "status"}, "", "", 1},
		{[]string{"sesame", "--role", "secrets", "x"}, "secrets", "", 1},
		{[]string{"sesame", "--role=profile"}, "profile", "", 0},
		{[]string{"sesame", "--role", "nosuch"}, "", "unknown role", 0},
		{[]string{"sesame", "--role="}, "", "unknown role", 0},
		{[]string{"sesame", "--role"}, "", "needs a role", 0},
		{[]string{"/usr/libexec/sesame/sesame-secrets"}, "secrets", "", 0},
		{[]string{"sesame-nosuch"}, "", "unknown role", 0},
	} {
		role, rest, err := choose(c.args)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || role != c.role || len(rest) != c.restLen {
			t.Errorf("%q: %q %q %v", c.args, role, rest, err)
		}
	}
}

// Symlink chains: the first name of the form sesame-ROLE along the chain wins.
func TestChooseBySymlinkChain(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sesame")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	libexec := filepath.Join(dir, "libexec")
	os.Mkdir(libexec, 0o755)
	role := filepath.Join(libexec, "sesame-secrets")
	os.Symlink("../sesame", role) // relative target
	ss := link("ss", role)        // ss → libexec/sesame-secrets → sesame
	sss := link("sss", ss)        // a chain of two
	plain := link("s", bin)       // a link to the binary names no role

	for p, want := range map[string]string{role: "secrets", ss: "secrets", sss: "secrets", plain: "", bin: ""} {
		got, err := roleFromArgv0(p)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", p, got, err, want)
		}
	}
	// Found through PATH when run by bare name.
	t.Setenv("PATH", dir)
	if got, err := roleFromArgv0("ss"); err != nil || got != "secrets" {
		t.Errorf("ss via PATH: %q %v", got, err)
	}
	// A loop ends.
	a := link("loopa", filepath.Join(dir, "loopb"))
	link("loopb", a)
	if got, err := roleFromArgv0(a); err != nil || got != "" {
		t.Errorf("loop: %q %v", got, err)
	}
}

func TestNamesSorted(t *testing.T) {
	n := Names()
	if !slices.IsSorted(n) || !slices.Contains(n, "secrets") || !slices.Contains(n, "profile") {
		t.Fatal(n)
	}
}

// TestImportRules: libraries never import a role; no role imports another; the shipped
// binary does not link the testing package.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/open-sesame/sesame/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const mod = "github.com/open-sesame/sesame/"
	shared := map[string]bool{mod + "roles/api": true, mod + "roles/env": true}
	isRole := func(p string) bool { return strings.HasPrefix(p, mod+"roles/") && !shared[p] }
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		for _, imp := range imports {
			switch {
			case pkg == mod+"roles" || pkg == mod[:len(mod)-1]:
				// the dispatcher and main may import roles
			case isRole(pkg) && isRole(imp):
				t.Errorf("role %s imports role %s", pkg, imp)
			case !strings.HasPrefix(pkg, mod+"roles") && strings.HasPrefix(imp, mod+"roles"):
				t.Errorf("library %s imports %s", pkg, imp)
			}
		}
	}
	deps, err := exec.Command("go", "list", "-deps", "github.com/open-sesame/sesame").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, d := range strings.Fields(string(deps)) {
		if d == "testing" || d == "net/http/httptest" {
			t.Errorf("the sesame binary links %s", d)
		}
	}
}
