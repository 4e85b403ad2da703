// Package cli is sesame's command line.
//
// # Output policy
//
//   - Data goes to standard output: secret values (raw bytes, nothing added when stdout is not
//     a terminal), listings, exports. Listings take --json.
//   - Everything else goes to standard error, prefixed "sesame: ", lower-case, context first,
//     with a "sesame: hint: …" line when the user can act ("run: sesame unlock -p work").
//   - Colour only on a terminal, never with NO_COLOR.
//   - Exit 0 on success, 1 on error, 2 on a usage error; `sesame env` passes on its child's
//     status (128+N when the child was killed by signal N).
//
// Anything that needs a secret from the user reads it from the terminal without echo, or one
// line of standard input when standard input is not a terminal. Secrets are never taken from
// argv.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// usageError marks a mistake in how the command was called: exit 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// ExitError carries an exit status without a message (a child's status in `sesame env`).
type ExitError struct{ Code int }

func (x ExitError) Error() string { return fmt.Sprintf("exit status %d", x.Code) }

// hinted is an error with advice for the user, printed on its own line.
type hinted struct {
	err  error
	hint string
}

func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

func withHint(err error, hint string) error { return hinted{err, hint} }

// state is what every command can reach.
type state struct {
	e     *env.Env
	roles []string
	// spare is a connection to the hub that resolving the default profile opened, which the
	// command's own dial takes instead of making another (dirprofile.go).
	spare *bus.Client
}

// Main runs the CLI with args (args[0] is the program name) and returns the exit status.
func Main(ctx context.Context, e *env.Env, args []string, roles []string) int {
	st := &state{e: e, roles: roles}
	app := st.app()
	err := app.RunContext(ctx, args)
	if err == nil && app.Metadata["usage"] == true {
		return 2
	}
	return st.report(err)
}

func (st *state) report(err error) int {
	if err == nil {
		return 0
	}
	var x ExitError
	if errors.As(err, &x) {
		return x.Code
	}
	fmt.Fprintf(st.e.Stderr, "sesame: %v\n", err)
	var h hinted
	if errors.As(err, &h) && h.hint != "" {
		fmt.Fprintf(st.e.Stderr, "sesame: hint: %s\n", h.hint)
	}
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func (st *state) app() *cli.App {
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "sesame %s\n", c.App.Version) }
	app := &cli.App{
		Name:                 "sesame",
		Usage:                "trust-scoped secrets and identity for Linux",
		Version:              st.e.Version,
		Reader:               st.e.Stdin,
		Writer:               st.e.Stdout,
		ErrWriter:            st.e.Stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // errors are reported by Main
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(st.e.Stderr, "sesame: unknown command %q (see: sesame --help)\n", name)
			c.App.Metadata["usage"] = true
		},
		Metadata: map[string]any{},
		Commands: st.commands(),
	}
	fixUsage(app.Commands)
	return app
}

// fixUsage makes flag errors in every subcommand usage errors (exit 2).
func fixUsage(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
		fixUsage(c.Subcommands)
	}
}

func (st *state) commands() []*cli.Command {
	cmds := []*cli.Command{
		st.upCommand(),
		st.downCommand(),
		st.withDoctor(st.statusCommand()),
		st.auditCommand(),
		st.launchCommand(),
		st.withSnippetType(st.snippetCommand()),
		st.factorCommand(),
		st.keysCommand(),
		st.wmCommand(),
		st.clipboardCommand(),
		st.configCommand(),
	}
	cmds = append(cmds, st.secretCommands()...)
	cmds = append(cmds, st.dirCommands()...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	return cmds
}

// args checks that the command got exactly n positional arguments, and that no flag was
// written after them (urfave/cli stops parsing flags at the first argument).
func args(c *cli.Context, n int, usage string) ([]string, error) {
	a := c.Args().Slice()
	for _, x := range a {
		if len(x) > 1 && x[0] == '-' {
			return nil, usagef("flags go before arguments (%q); usage: sesame %s", x, usage)
		}
	}
	if len(a) != n {
		return nil, usagef("usage: sesame %s", usage)
	}
	return a, nil
}

// noArgs rejects positional arguments.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.FullName(), c.Args().First())
	}
	return nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// colour wraps s in an ANSI colour when w is a terminal and NO_COLOR is unset.
func (st *state) colour(w io.Writer, code, s string) string {
	if st.e.Getenv("NO_COLOR") != "" || !isTerminal(w) {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// busError turns a bus error into one a user can act on.
func busError(err error, profile string) error {
	switch bus.ErrCode(err) {
	case bus.CodeLocked:
		return withHint(err, "run: sesame unlock -p "+profile)
	case bus.CodeNoProfile:
		return withHint(err, "run: sesame profile list, or sesame init --profile "+profile)
	case bus.CodeUnavailable:
		return withHint(err, "see: sesame status")
	case api.CodeInactive:
		return withHint(err, "run: sesame profile activate "+profile)
	}
	return err
}

func joinQuoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
