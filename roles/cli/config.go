package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/urfave/cli/v2"
)

// `sesame config` reads the files itself (it needs no daemon): what it says is what the
// files say now. The running hub applies them when they change, or keeps what it had when
// they do not load (see sesame status).

func (st *state) configPaths() (config.Paths, error) {
	home, err := st.e.ConfigDir()
	if err != nil {
		return config.Paths{}, err
	}
	return config.PathsFor(st.e.Getenv(config.SystemDirEnv), home), nil
}

// configErrors turns a load's errors into one error whose lines each name file:line:col,
// with their hints.
func configErrors(what string, err error) error {
	var es config.Errors
	if !errors.As(err, &es) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("\nsesame: ")
		}
		b.WriteString(e.Error())
		if e.Hint != "" {
			b.WriteString("\nsesame: hint: " + e.Hint)
		}
	}
	n := "1 error"
	if len(es) != 1 {
		n = fmt.Sprintf("%d errors", len(es))
	}
	return fmt.Errorf("%s\nsesame: %s: %s", b.String(), what, n)
}

func (st *state) loadConfig() (*config.Loaded, error) {
	p, err := st.configPaths()
	if err != nil {
		return nil, err
	}
	ld, err := config.Load(p)
	if err != nil {
		return nil, configErrors("config", err)
	}
	for _, w := range ld.Warnings {
		fmt.Fprintf(st.e.Stderr, "sesame: warning: %v\n", w)
	}
	return ld, nil
}

func (st *state) configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "check and show the configuration",
		Description: `Layers, lowest first: built-in defaults, /etc/sesame/config.toml (with [[policy]]),
$XDG_CONFIG_HOME/sesame/config.toml, $XDG_CONFIG_HOME/sesame/config.d/*.toml.
See docs/config.md for every key and the merge rules.`,
		Subcommands: []*cli.Command{
			{
				Name:  "check",
				Usage: "check every configuration file; exit 1 with the errors",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					ld, err := st.loadConfig()
					if err != nil {
						return err
					}
					fmt.Fprintf(st.e.Stderr, "sesame: config ok: %d file(s)%s\n", len(ld.Files), listFiles(ld.Files))
					return nil
				},
			},
			{
				Name:  "show",
				Usage: "print the effective configuration",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
					&cli.BoolFlag{Name: "origin", Usage: "say which file (and line) each value comes from"},
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					ld, err := st.loadConfig()
					if err != nil {
						return err
					}
					return st.showConfig(ld, c.Bool("json"), c.Bool("origin"))
				},
			},
		},
	}
}

func listFiles(files []string) string {
	if len(files) == 0 {
		return ""
	}
	return ": " + strings.Join(files, ", ")
}

func (st *state) showConfig(ld *config.Loaded, asJSON, origin bool) error {
	w := st.e.Stdout
	switch {
	case asJSON && !origin:
		var v any
		json.Unmarshal(ld.Config.JSON(), &v)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case asJSON:
		type entry struct {
			Key    string `json:"key"`
			Value  any    `json:"value"`
			Origin string `json:"origin"`
			Locked string `json:"locked,omitempty"`
		}
		out := []entry{}
		for _, e := range ld.Entries() {
			en := entry{Key: e.Key, Value: e.Value.Interface(), Origin: e.Origin.String()}
			if e.Lock != nil {
				en.Locked = e.Lock.Pos.Short()
			}
			out = append(out, en)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range ld.Entries() {
		if !origin {
			fmt.Fprintf(tw, "%s = %s\n", e.Key, e.Value.TOML())
			continue
		}
		o := "# " + e.Origin.Short()
		if e.Lock != nil {
			o += ", locked by policy (" + e.Lock.Pos.Short() + ")"
		}
		fmt.Fprintf(tw, "%s = %s\t%s\n", e.Key, e.Value.TOML(), o)
	}
	return tw.Flush()
}

// profileSubcommands are appended to `sesame profile`.
func (st *state) profileSubcommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "default",
			Usage:     "make a profile the default of commands without -p (kept across restarts)",
			ArgsUsage: "PROFILE",
			Flags:     []cli.Flag{&cli.BoolFlag{Name: "clear", Usage: "forget the choice: default_profile of the configuration applies"}},
			Action: func(c *cli.Context) error {
				req := &api.ProfileRequest{Clear: c.Bool("clear")}
				if req.Clear {
					if err := noArgs(c); err != nil {
						return err
					}
				} else {
					a, err := args(c, 1, "profile default [--clear] PROFILE")
					if err != nil {
						return err
					}
					req.Name = a[0]
					if err := st.profileExists(c, req.Name); err != nil {
						return err
					}
				}
				cur, err := st.profileCall(c, api.HubProfileDefault, req)
				if err != nil {
					return fmt.Errorf("profile default: %w", err)
				}
				if req.Clear {
					fmt.Fprintf(st.e.Stderr, "sesame: default profile choice cleared; the default is %q (%s)\n", cur.Default, cur.Why)
					return nil
				}
				fmt.Fprintf(st.e.Stderr, "sesame: default profile: %q\n", req.Name)
				if cur.Default != req.Name {
					fmt.Fprintf(st.e.Stderr, "sesame: note: for now commands use %q (%s)\n", cur.Default, cur.Why)
				}
				return nil
			},
		},
		{
			Name:      "activate",
			Usage:     "take a deactivated profile back into use",
			ArgsUsage: "PROFILE",
			Action: func(c *cli.Context) error {
				a, err := args(c, 1, "profile activate PROFILE")
				if err != nil {
					return err
				}
				if err := st.profileExists(c, a[0]); err != nil {
					return err
				}
				if _, err := st.profileCall(c, api.HubProfileActivate, &api.ProfileRequest{Name: a[0]}); err != nil {
					return fmt.Errorf("profile activate: %w", err)
				}
				fmt.Fprintf(st.e.Stderr, "sesame: profile %q is active\n", a[0])
				return nil
			},
		},
		{
			Name:      "deactivate",
			Usage:     "lock a profile and keep context rules and the default from choosing it",
			ArgsUsage: "PROFILE",
			Action: func(c *cli.Context) error {
				a, err := args(c, 1, "profile deactivate PROFILE")
				if err != nil {
					return err
				}
				cur, err := st.profileCall(c, api.HubProfileDeactivate, &api.ProfileRequest{Name: a[0]})
				if err != nil {
					return fmt.Errorf("profile deactivate: %w", busError(err, a[0]))
				}
				fmt.Fprintf(st.e.Stderr, "sesame: profile %q is locked and inactive until: sesame profile activate %s\n", a[0], a[0])
				fmt.Fprintf(st.e.Stderr, "sesame: the default profile is %q (%s)\n", cur.Default, cur.Why)
				return nil
			},
		},
		{
			Name:  "current",
			Usage: "print the profile commands without -p use here (and why, on stderr)",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				cur, err := st.hubCurrent(c.Context, false)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return json.NewEncoder(st.e.Stdout).Encode(currentJSON(cur))
				}
				fmt.Fprintln(st.e.Stdout, cur.Default)
				fmt.Fprintf(st.e.Stderr, "sesame: why: %s\n", cur.Why)
				if cur.Pending != "" {
					fmt.Fprintf(st.e.Stderr, "sesame: switching soon: %s\n", cur.Pending)
				}
				if len(cur.Inactive) > 0 {
					fmt.Fprintf(st.e.Stderr, "sesame: inactive: %s\n", strings.Join(cur.Inactive, ", "))
				}
				return nil
			},
		},
	}
}

// profileExists refuses a profile with no vault.
func (st *state) profileExists(c *cli.Context, name string) error {
	if err := config.ValidProfileName(name); err != nil {
		return usagef("%v", err)
	}
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	var r api.ProfilesReply
	if err := cl.Call(c.Context, api.SecretsProfiles, "", nil, &r); err != nil {
		return busError(err, "")
	}
	for _, p := range r.Profiles {
		if p.Name == name {
			return nil
		}
	}
	return withHint(fmt.Errorf("no profile %q", name), "create it: sesame profile create "+name)
}

func (st *state) profileCall(c *cli.Context, kind string, req *api.ProfileRequest) (*api.CurrentReply, error) {
	cl, err := st.dial(c.Context)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var cur api.CurrentReply
	if err := cl.Call(c.Context, kind, "", req, &cur); err != nil {
		return nil, err
	}
	return &cur, nil
}

type currentJSONOut struct {
	Default    string   `json:"default"`
	Source     string   `json:"source"`
	Why        string   `json:"why"`
	Manual     string   `json:"manual,omitempty"`
	Configured string   `json:"configured"`
	Context    string   `json:"context,omitempty"`
	Pending    string   `json:"pending,omitempty"`
	Inactive   []string `json:"inactive"`
	ContextOn  bool     `json:"context_rules"`
}

func currentJSON(c *api.CurrentReply) currentJSONOut {
	in := c.Inactive
	if in == nil {
		in = []string{}
	}
	return currentJSONOut{c.Default, c.Source, c.Why, c.Manual, c.Configured, c.Context, c.Pending, in, c.ContextOn}
}

// sesame status: the profile and configuration lines.

type configStatusJSON struct {
	Seq      uint64    `json:"seq"`
	Applied  time.Time `json:"applied"`
	Files    []string  `json:"files"`
	Warnings []string  `json:"warnings,omitempty"`
	Rejected time.Time `json:"rejected,omitzero"`
	Errors   []string  `json:"errors,omitempty"`
}

// profileStatus is the profile and configuration of a hub.status reply.
func profileStatus(s *api.HubStatusReply) (*currentJSONOut, *configStatusJSON) {
	var p *currentJSONOut
	if s.Profile != nil {
		c := currentJSON(s.Profile)
		p = &c
	}
	var cs *configStatusJSON
	if c := s.Config; c != nil {
		files := c.Files
		if files == nil {
			files = []string{}
		}
		cs = &configStatusJSON{Seq: c.Seq, Applied: c.Applied, Files: files, Warnings: c.Warnings, Rejected: c.Rejected, Errors: c.Errors}
	}
	return p, cs
}

func (st *state) printProfileStatus(w io.Writer, p *currentJSONOut, c *configStatusJSON) {
	if p != nil {
		fmt.Fprintf(w, "profile   %s (%s)\n", p.Default, p.Why)
		if p.Pending != "" {
			fmt.Fprintf(w, "          switching soon: %s\n", p.Pending)
		}
		if len(p.Inactive) > 0 {
			fmt.Fprintf(w, "          inactive: %s\n", strings.Join(slices.Clone(p.Inactive), ", "))
		}
	}
	if c == nil {
		return
	}
	fmt.Fprintf(w, "config    %s, %d file(s), applied %s\n", st.colour(w, "32", "ok"), len(c.Files), c.Applied.Local().Format("15:04:05"))
	for _, wn := range c.Warnings {
		fmt.Fprintf(w, "          warning: %s\n", wn)
	}
	if len(c.Errors) > 0 {
		fmt.Fprintf(w, "config    %s at %s, still applying the configuration of %s:\n", st.colour(w, "31", "REJECTED"), c.Rejected.Local().Format("15:04:05"), c.Applied.Local().Format("15:04:05"))
		for _, e := range c.Errors {
			fmt.Fprintf(w, "          %s\n", e)
		}
	}
}
