package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/urfave/cli/v2"
)

// Which profiles a command uses when it is not told.
//
// -p, then $SESAME_PROFILES, then the directory profile (a .sesame.toml in the working
// directory or a parent, honoured only once `sesame allow` recorded it with exactly this
// content), then the hub's default profile (a context rule, `sesame profile default`,
// default_profile: see `sesame profile current`), then "default" when the hub cannot be
// reached. The directory profile's secret_prefix and env apply only when the profiles come
// from it.

// resolution is where a command's profiles come from.
type resolution struct {
	Profiles []string `json:"profiles"`
	Source   string   `json:"source"` // "flag", "env", "directory", "hub", "fallback"
	Why      string   `json:"why"`
	Dir      *dirFile `json:"directory,omitempty"`
}

// dirFile is the directory profile file found, used or not.
type dirFile struct {
	File    string             `json:"file"`
	State   string             `json:"state"` // "allowed", "not-allowed", "changed", "invalid"
	Problem string             `json:"problem,omitempty"`
	Profile *config.DirProfile `json:"-"`
	Prefix  string             `json:"secret_prefix,omitempty"`
	Env     []string           `json:"env,omitempty"` // names
}

const resolutionKey = "sesame.resolution"

// resolve works out the profiles once per command (memoised in the app's metadata), and
// warns about a directory profile file it had to ignore.
func (st *state) resolve(c *cli.Context) *resolution {
	if r, ok := c.App.Metadata[resolutionKey].(*resolution); ok {
		return r
	}
	r := st.resolveNow(c)
	c.App.Metadata[resolutionKey] = r
	if d := r.Dir; d != nil && d.State != "allowed" && (r.Source == "hub" || r.Source == "fallback") {
		fmt.Fprintf(st.e.Stderr, "sesame: ignoring %s: %s\n", d.File, d.Problem)
		if d.State != "invalid" {
			fmt.Fprintf(st.e.Stderr, "sesame: hint: if you trust it: sesame allow %s\n", filepath.Dir(d.File))
		}
	}
	return r
}

func splitProfiles(spec string) []string {
	var out []string
	for _, p := range strings.Split(spec, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (st *state) resolveNow(c *cli.Context) *resolution {
	if ps := splitProfiles(c.String("profile")); len(ps) > 0 {
		return &resolution{Profiles: ps, Source: "flag", Why: "-p " + strings.Join(ps, ",")}
	}
	if ps := splitProfiles(st.e.Getenv("SESAME_PROFILES")); len(ps) > 0 {
		return &resolution{Profiles: ps, Source: "env", Why: "$SESAME_PROFILES=" + strings.Join(ps, ",")}
	}
	r := &resolution{Dir: st.findDirProfile()}
	if d := r.Dir; d != nil && d.State == "allowed" {
		r.Profiles, r.Source, r.Why = []string{string(d.Profile.Profile)}, "directory", d.File+" (allowed)"
		return r
	}
	cur, err := st.hubCurrent(c.Context, true)
	if err != nil {
		r.Profiles, r.Source, r.Why = []string{"default"}, "fallback", "the hub did not answer ("+err.Error()+")"
		return r
	}
	r.Profiles, r.Source, r.Why = []string{cur.Default}, "hub", cur.Why
	return r
}

// findDirProfile finds the directory profile file of the working directory and says
// whether it may be used.
func (st *state) findDirProfile() *dirFile {
	wd, err := os.Getwd()
	if err != nil {
		return nil
	}
	file, err := config.FindDir(wd)
	if err != nil || file == "" {
		return nil
	}
	return st.checkDirFile(file)
}

func (st *state) allowList() (config.AllowList, error) {
	dir, err := st.e.StateDir()
	if err != nil {
		return config.AllowList{}, err
	}
	return config.AllowList{Path: filepath.Join(dir, "sesame", "allowed.json")}, nil
}

func (st *state) checkDirFile(file string) *dirFile {
	if real, err := filepath.EvalSymlinks(file); err == nil {
		file = real
	}
	d := &dirFile{File: file}
	data, err := os.ReadFile(file)
	if err != nil {
		d.State, d.Problem = "invalid", err.Error()
		return d
	}
	al, err := st.allowList()
	var state config.AllowState
	if err == nil {
		state, err = al.Check(file, data)
	}
	switch {
	case err != nil:
		d.State, d.Problem = "invalid", err.Error()
		return d
	case state == config.NotAllowed:
		d.State, d.Problem = "not-allowed", "not allowed (a directory profile is used only after `sesame allow`)"
		return d
	case state == config.Changed:
		d.State, d.Problem = "changed", "changed since it was allowed"
		return d
	}
	dp, err := config.ParseDir(file, data)
	if err != nil {
		d.State, d.Problem = "invalid", err.Error()
		return d
	}
	d.State, d.Profile, d.Prefix = "allowed", dp, dp.SecretPrefix
	d.Env = slices.Sorted(maps.Keys(dp.Env))
	return d
}

// hubCurrent asks the hub for the default profile. With keep, the connection stays open
// for the command's own dial: a command without -p costs one handshake, not two.
func (st *state) hubCurrent(ctx context.Context, keep bool) (*api.CurrentReply, error) {
	cl, err := st.dial(ctx)
	if err != nil {
		return nil, err
	}
	var cur api.CurrentReply
	err = cl.Call(ctx, api.HubCurrent, "", nil, &cur)
	if err != nil || !keep {
		cl.Close()
	} else {
		st.spare = cl
	}
	if err != nil {
		return nil, err
	}
	return &cur, nil
}

// prefix is --prefix, else the directory profile's secret_prefix when the profiles come
// from it.
func (st *state) prefix(c *cli.Context) string {
	if c.IsSet("prefix") {
		return c.String("prefix")
	}
	if r := st.resolve(c); r.Source == "directory" {
		return r.Dir.Prefix
	}
	return ""
}

// addDirEnv gives the command `sesame env` runs the directory profile's plain variables
// (when the profiles come from it): never a variable sesame refuses to set, never one a
// secret also sets.
func (st *state) addDirEnv(c *cli.Context, ins []injected) error {
	r := st.resolve(c)
	if r.Source != "directory" || len(r.Dir.Profile.Env) == 0 {
		return nil
	}
	var extra []string
	for _, k := range r.Dir.Env {
		if api.Denied(k) {
			return fmt.Errorf("%s sets $%s, which sesame never sets (it could change what the program runs)", r.Dir.File, k)
		}
		for _, in := range ins {
			if in.variable == k {
				return fmt.Errorf("%s sets $%s, and so does secret %q of profile %q; rename one", r.Dir.File, k, in.name, in.profile)
			}
		}
		extra = append(extra, k+"="+r.Dir.Profile.Env[k])
	}
	environ := st.e.Environ
	st.e.Environ = func() []string { return append(environ(), extra...) }
	return nil
}

func (st *state) dirCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:  "which",
			Usage: "say which profiles a command run here uses, and why",
			Description: `Without -p: $SESAME_PROFILES, else the directory profile (.sesame.toml here or in a
parent, once allowed), else the default profile (see sesame profile current).`,
			Flags: []cli.Flag{profileFlag("as a command given -p would"), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				r := st.resolveNow(c)
				if r.Dir == nil && r.Source != "directory" {
					r.Dir = st.findDirProfile()
				}
				if c.Bool("json") {
					return json.NewEncoder(st.e.Stdout).Encode(r)
				}
				tw := tabwriter.NewWriter(st.e.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "profile\t%s\n", strings.Join(r.Profiles, ","))
				fmt.Fprintf(tw, "from\t%s\t%s\n", r.Source, r.Why)
				if d := r.Dir; d != nil {
					switch {
					case r.Source == "directory":
						if d.Prefix != "" {
							fmt.Fprintf(tw, "prefix\t%s\n", d.Prefix)
						}
						if len(d.Env) > 0 {
							fmt.Fprintf(tw, "env\t%s\n", strings.Join(d.Env, " "))
						}
					case d.State == "allowed":
						fmt.Fprintf(tw, "ignored\t%s\t(%s takes precedence)\n", d.File, r.Source)
					default:
						fmt.Fprintf(tw, "ignored\t%s\t%s\n", d.File, d.Problem)
					}
				}
				return tw.Flush()
			},
		},
		{
			Name:      "allow",
			Usage:     "trust a directory profile (.sesame.toml) with its current content",
			ArgsUsage: "[DIR|FILE]",
			Description: `Checks the file and records it with a hash of its content: commands run in its
directory and below then use its profile. A change to the file needs allowing again,
so a cloned repository cannot point your commands at another profile's secrets.
Without an argument: the .sesame.toml nearest to the working directory.`,
			Action: func(c *cli.Context) error {
				file, err := st.dirArg(c, true)
				if err != nil {
					return err
				}
				data, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("allow: %w", err)
				}
				dp, err := config.ParseDir(file, data)
				if err != nil {
					return configErrors("allow", err)
				}
				for k := range dp.Env {
					if api.Denied(k) {
						return fmt.Errorf("allow: %s sets $%s, which sesame never sets (it could change what the program runs)", file, k)
					}
				}
				al, err := st.allowList()
				if err == nil {
					err = al.Allow(file, data)
				}
				if err != nil {
					return fmt.Errorf("allow: %w", err)
				}
				what := fmt.Sprintf("profile %q", dp.Profile)
				if dp.SecretPrefix != "" {
					what += ", secret prefix " + dp.SecretPrefix
				}
				if len(dp.Env) > 0 {
					what += ", sets " + strings.Join(slices.Sorted(maps.Keys(dp.Env)), " ")
				}
				fmt.Fprintf(st.e.Stderr, "sesame: allowed %s: %s\n", file, what)
				return nil
			},
		},
		{
			Name:      "deny",
			Usage:     "stop trusting a directory profile",
			ArgsUsage: "[DIR|FILE]",
			Action: func(c *cli.Context) error {
				file, err := st.dirArg(c, false)
				if err != nil {
					return err
				}
				al, err := st.allowList()
				if err != nil {
					return fmt.Errorf("deny: %w", err)
				}
				was, err := al.Deny(file)
				if err != nil {
					return fmt.Errorf("deny: %w", err)
				}
				if was {
					fmt.Fprintf(st.e.Stderr, "sesame: denied %s\n", file)
				} else {
					fmt.Fprintf(st.e.Stderr, "sesame: %s was not allowed\n", file)
				}
				return nil
			},
		},
	}
}

// dirArg is the directory profile file an allow or deny names: a file, a directory's
// .sesame.toml, or the nearest one to the working directory.
func (st *state) dirArg(c *cli.Context, mustExist bool) (string, error) {
	a := c.Args().Slice()
	if len(a) > 1 || len(a) == 1 && strings.HasPrefix(a[0], "-") && a[0] != "-" {
		return "", usagef("usage: sesame %s [DIR|FILE]", c.Command.Name)
	}
	var file string
	if len(a) == 0 {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		if file, err = config.FindDir(wd); err != nil {
			return "", err
		}
		if file == "" {
			return "", withHint(fmt.Errorf("%s: no %s here or in any parent directory", c.Command.Name, config.DirFileName), "write one: profile = \"NAME\"")
		}
	} else {
		file = a[0]
		if fi, err := os.Stat(file); err == nil && fi.IsDir() {
			file = filepath.Join(file, config.DirFileName)
		} else if err != nil && (mustExist || !errors.Is(err, fs.ErrNotExist)) {
			return "", fmt.Errorf("%s: %w", c.Command.Name, err)
		}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	} else if mustExist {
		return "", fmt.Errorf("%s: %w", c.Command.Name, err)
	}
	return abs, nil
}
