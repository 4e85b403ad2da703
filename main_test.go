package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-sesame/sesame/roles"
	"github.com/open-sesame/sesame/supervise"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary also be sesame: run as "sesame", "sesame-profile" or
// "sesame-secrets" (testscript puts those names on PATH, and `sesame up` re-executes itself
// under them), it is the real program, dispatch included.
func TestMain(m *testing.M) {
	run := func() { os.Exit(roles.Main(os.Args, "test")) }
	testscript.Main(m, map[string]func(){
		"sesame":           run,
		"sesame-profile":   run,
		"sesame-secrets":   run,
		"sesame-launcher":  run,
		"sesame-snippets":  run,
		"sesame-wm":        run,
		"sesame-clipboard": run,
	})
}

// TestScripts runs testdata/script/*.txtar: each in a fresh HOME and runtime directory, with
// real processes under `sesame up` (started by autostart or explicitly), stopped at the end.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setupScript,
	})
}

func setupScript(env *testscript.Env) error {
	home := filepath.Join(env.WorkDir, "home")
	run := filepath.Join(env.WorkDir, "run")
	for _, d := range []string{home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	env.Setenv("HOME", home)
	env.Setenv("XDG_RUNTIME_DIR", run)
	env.Setenv("NO_COLOR", "")
	env.Setenv("SESAME_PROFILES", "")
	// The system configuration layer (/etc/sesame) of the machine running the tests stays
	// out of them; a script that needs one writes $WORK/etc/config.toml.
	env.Setenv("SESAME_SYSTEM_CONFIG_DIR", filepath.Join(env.WorkDir, "etc"))
	env.Defer(func() {
		// Whatever the script left running (autostarted daemons) is stopped.
		supervise.Stop(filepath.Join(run, "sesame"), 10*time.Second)
	})
	return nil
}
