package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"text/tabwriter"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/urfave/cli/v2"
)

// wmCommand is `sesame wm …`: window switching through the wm role.
func (st *state) wmCommand() *cli.Command {
	return &cli.Command{
		Name:  "wm",
		Usage: "list and switch windows; the Alt+Tab overlay (Wayland)",
		Description: `Talks to the wm role, which runs under ` + "`sesame up --desktop`" + ` on a Wayland session
(sway and other wlroots compositors). Bind the overlay in the compositor, e.g. for sway:

    bindsym Mod1+Tab exec sesame wm overlay
    bindsym Mod1+Shift+Tab exec sesame wm overlay --backward`,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list windows, most recently used first",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					var r api.WmListReply
					if err := st.wmCall(c, api.WmList, nil, &r); err != nil {
						return err
					}
					if c.Bool("json") {
						return st.printJSON(windowsJSON(r.Windows))
					}
					tw := tabwriter.NewWriter(st.e.Stdout, 0, 0, 2, ' ', 0)
					for _, w := range r.Windows {
						mark := " "
						if w.Active {
							mark = "*"
						}
						fmt.Fprintf(tw, "%s %s\t%s\t%s\n", mark, w.ID, w.AppID, w.Title)
					}
					return tw.Flush()
				},
			},
			{
				Name:  "switch",
				Usage: "switch to the previous window (--backward: the least recently used one)",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "backward", Usage: "go the other way round"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					var w api.WmWindow
					return st.wmCall(c, api.WmSwitch, &api.WmSwitchRequest{Backward: c.Bool("backward")}, &w)
				},
			},
			{
				Name:      "focus",
				Usage:     "activate a window by ID or application, or launch the application bound to it",
				ArgsUsage: "ID|APP",
				Action: func(c *cli.Context) error {
					a, err := args(c, 1, "wm focus ID|APP")
					if err != nil {
						return err
					}
					var r api.WmFocusReply
					if err := st.wmCall(c, api.WmFocus, &api.WmFocusRequest{Target: a[0]}, &r); err != nil {
						return err
					}
					if r.Window == nil && r.Launch != "" {
						return st.launchApp(c, r.Launch)
					}
					return nil
				},
			},
			{
				Name:  "overlay",
				Usage: "show the window switcher (what a compositor key binding runs)",
				Description: `Opens the overlay in the running wm role and returns when it closes. Hold the modifier
(Alt) and press Tab again to move; type a window's letters to pick it; Enter picks the
selection, Escape cancels, releasing the modifier commits. A quick tap switches to the
previous window without drawing anything. A letter bound to an application that has no
window launches it (through the launcher).`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "backward", Usage: "start from the least recently used window"},
					&cli.BoolFlag{Name: "launcher", Usage: "launcher mode: open even with no window, to launch by letter"},
				},
				Action: func(c *cli.Context) error {
					sent := st.e.Now()
					if err := noArgs(c); err != nil {
						return err
					}
					var r api.WmOverlayReply
					req := &api.WmOverlayRequest{Backward: c.Bool("backward"), Launcher: c.Bool("launcher"), Sent: sent}
					if err := st.wmCall(c, api.WmOverlay, req, &r); err != nil {
						return err
					}
					if r.Result == "launch" && r.Launch != "" {
						return st.launchApp(c, r.Launch)
					}
					return nil
				},
			},
			{
				Name:  "status",
				Usage: "show the wm role's windows, font and overlay latencies",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					var r api.WmStatusReply
					if err := st.wmCall(c, api.WmStatus, nil, &r); err != nil {
						return err
					}
					if c.Bool("json") {
						return st.printJSON(r)
					}
					fmt.Fprintf(st.e.Stdout, "windows  %d\nfont     %s\n", r.Windows, r.Font)
					tw := tabwriter.NewWriter(st.e.Stdout, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "overlay\tresult\tstart→mapped\trequest→mapped\tkey→active")
					for i, o := range r.Overlays {
						res := o.Result
						if o.Quick {
							res += " (tap)"
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i+1, res, ms(o.SentToMapped), ms(o.ReceivedToMapped), ms(o.KeyToActivated))
					}
					return tw.Flush()
				},
			},
		},
	}
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

type windowJSON struct {
	ID     string `json:"id"`
	AppID  string `json:"app_id"`
	Title  string `json:"title"`
	Active bool   `json:"active"`
}

func windowsJSON(ws []api.WmWindow) []windowJSON {
	out := make([]windowJSON, 0, len(ws))
	for _, w := range ws {
		out = append(out, windowJSON{w.ID, w.AppID, w.Title, w.Active})
	}
	return out
}

func (st *state) printJSON(v any) error {
	enc := json.NewEncoder(st.e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// wmCall calls the wm role.
func (st *state) wmCall(c *cli.Context, kind string, req, resp any) error {
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	err = cl.Call(c.Context, kind, "", req, resp)
	if bus.ErrCode(err) == bus.CodeUnavailable || bus.ErrCode(err) == bus.CodeUnknownKind {
		return withHint(err, "the wm role runs in a Wayland session under: sesame up --desktop")
	}
	return err
}

// launchApp launches a desktop entry through `sesame launch run`, which asks the launcher
// role for the plan and starts the program outside any sandbox.
func (st *state) launchApp(c *cli.Context, id string) error {
	cmd := exec.CommandContext(c.Context, st.e.Exe, "launch", "run", id)
	cmd.Env = childEnv(st.e.Environ())
	cmd.Stdout, cmd.Stderr = st.e.Stdout, st.e.Stderr
	err := cmd.Run()
	var x *exec.ExitError
	if errors.As(err, &x) {
		return withHint(fmt.Errorf("launch %q failed (exit status %d)", id, x.ExitCode()), "focus-or-launch goes through the launcher: see sesame launch --help")
	}
	return err
}
