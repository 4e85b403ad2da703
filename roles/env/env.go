// Package env defines Env, everything a role receives from the process that runs it: standard
// streams, the environment, where sesame keeps its files, a logger and a clock.
//
// Roles take an *Env instead of reaching for os.Stdout, os.Getenv or time.Now, so that tests
// can run a role in-process with their own streams, environment and clock. Only the
// dispatcher (package roles) builds an Env from the real process; roles and tests may import
// this package, libraries may not.
package env

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Env is what a role gets from its caller.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Getenv and Environ read the process environment.
	Getenv  func(string) string
	Environ func() []string

	// Exe is the path of the running sesame executable, for re-executing it as a role.
	Exe string

	// Logf writes one diagnostic line to stderr, prefixed by the role's name. It is safe for
	// concurrent use.
	Logf func(format string, args ...any)

	// Now is the clock.
	Now func() time.Time

	// Version is sesame's version, set at link time.
	Version string
}

// FromOS builds the Env of the running process. name prefixes log lines.
func FromOS(name string) *Env {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return &Env{
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Environ: os.Environ,
		Exe:     exe,
		Logf:    Logger(os.Stderr, name),
		Now:     time.Now,
	}
}

// Logger returns a Logf writing "name: message\n" lines to w. A single Write per line keeps
// lines whole when several goroutines log at once.
func Logger(w io.Writer, name string) func(string, ...any) {
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if line == "" || line[len(line)-1] != '\n' {
			line += "\n"
		}
		io.WriteString(w, name+": "+line)
	}
}

// Home returns $HOME, or the empty string.
func (e *Env) Home() string { return e.Getenv("HOME") }

// xdg returns $key when it is an absolute path, else $HOME/def.
func (e *Env) xdg(key, def string) (string, error) {
	if v := e.Getenv(key); filepath.IsAbs(v) {
		return v, nil
	}
	home := e.Home()
	if home == "" {
		return "", fmt.Errorf("env: neither %s nor HOME is set", key)
	}
	return filepath.Join(home, def), nil
}

// DataDir is $XDG_DATA_HOME (default ~/.local/share); vaults live in DataDir/sesame/vaults.
func (e *Env) DataDir() (string, error) { return e.xdg("XDG_DATA_HOME", ".local/share") }

// ConfigDir is $XDG_CONFIG_HOME (default ~/.config).
func (e *Env) ConfigDir() (string, error) { return e.xdg("XDG_CONFIG_HOME", ".config") }

// StateDir is $XDG_STATE_HOME (default ~/.local/state).
func (e *Env) StateDir() (string, error) { return e.xdg("XDG_STATE_HOME", ".local/state") }
