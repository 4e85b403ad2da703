package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/supervise"
	"github.com/urfave/cli/v2"
)

// hubRole runs the hub; headless lists the roles `sesame up` starts after it.
const hubRole = "profile"

// headless lists the roles to start after the hub; with desktop, the desktop roles
// (desktopRoles: they need a graphical session) too.
func (st *state) headless(desktop bool) []string {
	var out []string
	for _, r := range st.roles {
		if r != hubRole && (desktop || !desktopRoles[r]) {
			out = append(out, r)
		}
	}
	return out
}

func (st *state) upCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "run the hub and the headless roles in the foreground (no systemd needed)",
		Description: `Starts the hub (profile role) and then each headless role as child processes,
restarts any that dies, and stops them all on SIGTERM or Ctrl-C. Commands that need
the daemons start this automatically when it is not running (SESAME_NO_AUTOSTART=1
turns that off). With --desktop, and when WAYLAND_DISPLAY is set, the desktop roles
(wm, clipboard) are started too.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "desktop", Usage: "also run the desktop roles (wm, clipboard) in this Wayland session"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			dir, err := bus.RuntimeDir(st.e.Getenv)
			if err != nil {
				return err
			}
			desktop := c.Bool("desktop")
			if desktop && st.e.Getenv("WAYLAND_DISPLAY") == "" {
				st.e.Logf("up: --desktop: WAYLAND_DISPLAY is not set, so the desktop roles are not started")
				desktop = false
			}
			err = supervise.Run(c.Context, supervise.Config{
				Exe:        st.e.Exe,
				RuntimeDir: dir,
				Hub:        hubRole,
				Roles:      st.headless(desktop),
				Env:        childEnv(st.e.Environ()),
				Stderr:     st.e.Stderr,
				Logf:       st.e.Logf,
				Ready: func() {
					if err := bus.SignalReady(st.e.Getenv); err != nil {
						st.e.Logf("up: %v", err)
					}
				},
			})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
}

func (st *state) downCommand() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "stop a running `sesame up`",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			dir, err := bus.RuntimeDir(st.e.Getenv)
			if err != nil {
				return err
			}
			was, err := supervise.Stop(dir, 15*time.Second)
			if err != nil {
				return err
			}
			if !was {
				fmt.Fprintln(st.e.Stderr, "sesame: not running")
			}
			return nil
		},
	}
}

// statusJSON is the --json form of `sesame status`.
type statusJSON struct {
	Running bool         `json:"running"`
	Version string       `json:"version,omitempty"`
	PID     int32        `json:"pid,omitempty"`
	Uptime  float64      `json:"uptime_seconds,omitempty"`
	Memory  string       `json:"secure_memory,omitempty"`
	Sandbox *sandboxJSON `json:"sandbox,omitempty"` // the hub's own
	Roles   []roleJSON   `json:"roles"`
	// Profile and Config are the default profile and the configuration (config.go).
	Profile *currentJSONOut   `json:"profile,omitempty"`
	Config  *configStatusJSON `json:"config,omitempty"`
}

type roleJSON struct {
	Name    string       `json:"name"`
	Running bool         `json:"running"`
	PID     int32        `json:"pid,omitempty"`
	Uptime  float64      `json:"uptime_seconds,omitempty"`
	Sandbox *sandboxJSON `json:"sandbox,omitempty"`
}

// sandboxJSON is a process's sandbox as the hub sees it (sandbox.Level).
type sandboxJSON struct {
	Landlock   int    `json:"landlock_abi"` // 0: none
	Seccomp    string `json:"seccomp"`      // filter, strict, disabled, or "" when unknown
	NoNewPrivs bool   `json:"no_new_privs"`
	Summary    string `json:"summary"`
}

// sandboxOf finds the sandbox level the hub reported for the process with pid.
func sandboxOf(levels []sandbox.Level, pid int32) *sandboxJSON {
	for _, l := range levels {
		if l.PID == pid {
			return &sandboxJSON{Landlock: l.Landlock, Seccomp: l.Seccomp, NoNewPrivs: l.NoNewPrivs, Summary: l.String()}
		}
	}
	return nil
}

func (st *state) statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show whether the hub and each role are running",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			dir, err := bus.RuntimeDir(st.e.Getenv)
			if err != nil {
				return err
			}
			var s api.HubStatusReply
			cl, err := dialHub(c.Context, dir)
			if err == nil {
				defer cl.Close()
				err = cl.Call(c.Context, api.HubStatus, "", nil, &s)
			}
			running := err == nil
			if err != nil && !notRunning(err) {
				return err
			}
			now := st.e.Now()
			out := statusJSON{Running: running, Roles: []roleJSON{}}
			if running {
				out.Version, out.PID, out.Memory = s.Version, s.PID, s.Memory
				out.Sandbox = sandboxOf(s.Sandbox, s.PID)
				out.Uptime = now.Sub(s.Since).Seconds()
				out.Profile, out.Config = profileStatus(&s)
				for _, r := range s.Roles {
					rj := roleJSON{Name: r.Name, Running: r.Running, PID: r.PID}
					if r.Running {
						rj.Sandbox = sandboxOf(s.Sandbox, r.PID)
					}
					if r.Running && !r.Since.IsZero() {
						rj.Uptime = now.Sub(r.Since).Seconds()
					}
					out.Roles = append(out.Roles, rj)
				}
			}
			if c.Bool("json") {
				enc := json.NewEncoder(st.e.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				st.printStatus(out)
			}
			if !running {
				return ExitError{Code: 1}
			}
			return nil
		},
	}
}

func (st *state) printStatus(s statusJSON) {
	w := st.e.Stdout
	if !s.Running {
		fmt.Fprintln(w, "hub       "+st.colour(w, "31", "not running"))
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hubSandbox := "no sandbox reported"
	if s.Sandbox != nil {
		hubSandbox = s.Sandbox.Summary
	}
	fmt.Fprintf(tw, "hub\t%s\tpid %d\tup %s\t%s; sesame %s, secure memory: %s\n", st.colour(w, "32", "running"), s.PID, dur(s.Uptime), hubSandbox, s.Version, s.Memory)
	for _, r := range s.Roles {
		if r.Running {
			sb := st.colour(w, "31", "no sandbox reported")
			if r.Sandbox != nil {
				sb = r.Sandbox.Summary
			}
			fmt.Fprintf(tw, "%s\t%s\tpid %d\tup %s\t%s\n", r.Name, st.colour(w, "32", "running"), r.PID, dur(r.Uptime), sb)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\n", r.Name, st.colour(w, "31", "stopped"))
		}
	}
	tw.Flush()
	st.printProfileStatus(w, s.Profile, s.Config)
}

func dur(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d >= time.Hour {
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	return d.Round(time.Second).String()
}
