//go:build gendocs

// Command gendocs writes sesame's shell completions and man page from the real command
// definitions (roles/cli.App): sesame.bash, _sesame (zsh), sesame.fish and sesame.1. `make docs`
// runs it; the files are build outputs, not committed.
//
// Why a separate program, and why the build tag: the man page and the fish script come from
// urfave/cli's generators, which the sesame binary is built without (-tags urfave_cli_no_docs
// saves 0.4 MB and the markdown packages' init time), so they need a build of their own. And it
// is a build tool, not a library: the tag keeps it out of `go build/vet/test ./...` and out of
// the import-rule test (libraries never import a role), which it would otherwise trip by
// importing roles/cli. Run it with: go run -tags gendocs ./internal/gendocs -out DIR.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/open-sesame/sesame/roles"
	"github.com/open-sesame/sesame/roles/cli"
	"github.com/open-sesame/sesame/roles/env"
)

func main() {
	out := flag.String("out", "dist/docs", "output directory")
	version := flag.String("version", "devel", "version for the man page")
	flag.Parse()
	if err := run(*out, *version); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

func run(out, version string) error {
	e := &env.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
		Logf: env.Logger(os.Stderr, "gendocs"), Now: time.Now, Version: version,
	}
	app := cli.App(e, roles.Names())
	fish, err := app.ToFishCompletion()
	if err != nil {
		return err
	}
	app.Description = description
	md, err := app.ToMarkdown()
	if err != nil {
		return err
	}
	man := md2man.Render([]byte("% sesame 1 \"\" \"sesame " + version + "\"\n\n" + md + manExtra))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, data := range map[string]string{
		"sesame.bash": cli.BashCompletion(app),
		"_sesame":     cli.ZshCompletion(app),
		"sesame.fish": fish,
		"sesame.1":    string(man),
	} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// The parts of the man page that are not in the command definitions. They say what README.md
// says; keep them in step.
var description = strings.TrimSpace(`
sesame keeps each trust profile's secrets ("work", "personal") in its own encrypted vault and
hands them, just in time, to the one process that asked. It is one executable: the command line,
and, by its name (sesame-secrets, a symlink) or **--role NAME**, each daemon role: **profile**
(the bus hub every process connects to) and **secrets** (owns the vaults).

The daemons run under systemd (**sesame-headless.target**, **sesame@ROLE.service**) or, without
it, under **sesame up**, which the first command that needs them starts in the background.
`)

const manExtra = `
# ENVIRONMENT

**SESAME_PROFILES**
: default for **-p** (comma-separated); else "default"

**SESAME_NO_AUTOSTART=1**
: never start **sesame up** in the background

**SESAME_IDLE_LOCK**
: the secrets role locks a vault unused this long (a Go duration, default 15m; 0 never)

**XDG_RUNTIME_DIR**, **XDG_DATA_HOME**, **XDG_STATE_HOME**
: where the bus socket, the vaults and the audit log live

**NO_COLOR**
: no colour, even on a terminal

# FILES

*$XDG_RUNTIME_DIR/sesame/bus.sock*, *bus.pub*
: the hub's socket and public key

*$XDG_RUNTIME_DIR/sesame/keys/*
: the roles' bus keys under systemd (made by **sesame-keys.service**)

*$XDG_DATA_HOME/sesame/vaults/PROFILE.db*
: one encrypted vault per profile (0600 in 0700)

*$XDG_STATE_HOME/sesame/audit/*
: the audit log, kept by the hub

*/usr/lib/systemd/user/sesame@.service*, *sesame-headless.target*, *sesame-desktop.target*
: the systemd user units

# EXIT STATUS

0 on success, 1 on an error, 2 on a usage error; **sesame env** exits with its command's
status (128+N when the command was killed by signal N); **sesame status --doctor** exits 1
when a check fails.

# SEE ALSO

systemd.exec(5), systemd.service(5), memfd_secret(2)
`
