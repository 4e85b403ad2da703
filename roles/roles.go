// Package roles is sesame's dispatcher: it decides what this process is — one of the daemon
// roles, or the command line — and maps the outcome to an exit code.
//
// # Choosing a role
//
//   - argv[0] names it: "sesame-secrets" (a symlink to the sesame binary) runs the secrets
//     role. Chains of symlinks are followed, and the first name of the form sesame-ROLE wins,
//     so /usr/libexec/sesame/sesame-secrets → /usr/bin/sesame works, and so does a link to it.
//   - "sesame --role NAME [args]" runs NAME.
//   - anything else runs the CLI.
//
// An unknown role prints the sorted list of roles and exits 2.
//
// This package holds the role table and nothing else: roles never import each other, and
// libraries never import a role.
package roles

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/open-sesame/sesame/roles/cli"
	"github.com/open-sesame/sesame/roles/clipboard"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/roles/launcher"
	"github.com/open-sesame/sesame/roles/profile"
	"github.com/open-sesame/sesame/roles/secrets"
	"github.com/open-sesame/sesame/roles/snippets"
	"github.com/open-sesame/sesame/roles/wm"
)

// RunFunc is the entry point every role exports.
type RunFunc func(ctx context.Context, e *env.Env, args []string) error

// table maps daemon role names to their entry points.
var table = map[string]RunFunc{
	"clipboard": clipboard.Run,
	"launcher":  launcher.Run,
	"profile":   profile.Run,
	"secrets":   secrets.Run,
	"snippets":  snippets.Run,
	"wm":        wm.Run,
}

// Names returns the daemon roles, sorted.
func Names() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Main runs the process and returns its exit code.
func Main(args []string, version string) int {
	role, rest, err := choose(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sesame: %v\nroles: %s\n", err, strings.Join(Names(), ", "))
		return 2
	}
	name := "sesame"
	if role != "" {
		name = "sesame-" + role
	}
	e := env.FromOS(name)
	e.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if role == "" {
		return cli.Main(ctx, e, args, Names())
	}
	if err := table[role](ctx, e, rest); err != nil {
		e.Logf("%v", err)
		return 1
	}
	return 0
}

// choose picks the role from argv: by --role as the first argument, else by argv[0] and its
// symlink chain. It returns "" for the CLI.
func choose(args []string) (role string, rest []string, err error) {
	if len(args) > 1 {
		var name string
		switch a := args[1]; {
		case a == "--role":
			if len(args) < 3 {
				return "", nil, errors.New("--role needs a role name")
			}
			name, rest = args[2], args[3:]
		case strings.HasPrefix(a, "--role="):
			name, rest = strings.TrimPrefix(a, "--role="), args[2:]
		}
		if name != "" || strings.HasPrefix(args[1], "--role") {
			if _, ok := table[name]; !ok {
				return "", nil, fmt.Errorf("unknown role %q", name)
			}
			return name, rest, nil
		}
	}
	if len(args) == 0 {
		return "", nil, nil
	}
	name, err := roleFromArgv0(args[0])
	if err != nil {
		return "", nil, err
	}
	return name, args[1:], nil
}

// roleFromArgv0 walks argv[0]'s symlink chain and returns the first role named by it.
func roleFromArgv0(argv0 string) (string, error) {
	if r, ok, err := roleName(filepath.Base(argv0)); ok || err != nil {
		return r, err
	}
	p := argv0
	if !strings.Contains(p, "/") {
		lp, err := exec.LookPath(p)
		if err != nil {
			return "", nil
		}
		p = lp
	}
	for range 40 {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return "", nil
		}
		t, err := os.Readlink(p)
		if err != nil {
			return "", nil
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = t
		if r, ok, err := roleName(filepath.Base(p)); ok || err != nil {
			return r, err
		}
	}
	return "", nil
}

// roleName reports whether base has the form sesame-ROLE; ROLE must be known.
func roleName(base string) (string, bool, error) {
	r, ok := strings.CutPrefix(base, "sesame-")
	if !ok {
		return "", false, nil
	}
	if _, known := table[r]; !known {
		return "", true, fmt.Errorf("unknown role %q (from the program name %q)", r, base)
	}
	return r, true, nil
}
