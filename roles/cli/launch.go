package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/secmem"
	"github.com/urfave/cli/v2"
)

// Launching
//
// `sesame launch run` is where a program is started, never the launcher role: the role is
// sandboxed (Landlock, seccomp, no_new_privs), and all of that would be inherited by what it
// started. The command line is an ordinary process of the user, so its children are too.
//
//  1. The launcher role resolves the ID and composes the plan: command lines with field
//     codes expanded and the launch profiles' wrapper in front, their variables, the
//     working directory, and the secrets to inject, by profile and name.
//  2. This process checks that every profile the secrets come from is unlocked (the error
//     names all that are not), then fetches them, one request per profile, sealed to a key
//     of its own (the hub sees only ciphertext), and binds them to variables exactly as
//     `sesame env` does (same mapping, same denylist, collisions refused).
//  3. The child's environment is this process's, without sesame's own variables, with the
//     launch profiles' variables, SESAME_PROFILES, SESAME_APP_ID, and the secrets.
//  4. When a systemd user manager is reachable (its private socket and the session bus
//     exist, and systemd-run is installed; see userManager), the program runs in a transient scope of its own,
//     `systemd-run --user --scope --unit=app-sesame-ID-N.scope` (ID escaped as systemd
//     escapes unit names), so it is accounted, and survives, apart from sesame. Otherwise it
//     is started directly, in a session of its own (setsid), with standard input, output
//     and error on /dev/null, and this process does not wait for it: it survives this
//     command, the launcher role and `sesame down`.
//  5. The launch is reported to the role (frecency and the audit log) and the secrets are
//     wiped here. What Go cannot avoid, as for `sesame env`: execve needs the environment
//     as C strings, so each value is copied onto this process's heap until it exits, which
//     is right away.

func (st *state) launchCommand() *cli.Command {
	tagFlag := &cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "apply launch profile `NAME` (or PROFILE:NAME); repeatable"}
	return &cli.Command{
		Name:      "launch",
		Usage:     "find and start applications, with their profile's secrets",
		ArgsUsage: "[QUERY]",
		Description: `Without a subcommand, opens a fuzzy picker in the terminal: type to filter, ↑/↓
(or Ctrl-P/Ctrl-N) to choose, Enter to launch, Esc or Ctrl-C to leave.

Applications are the desktop entries installed for you, found as the freedesktop
specification says and followed with inotify. Results are ranked by fzf's match
score over the name, generic name, keywords and ID, plus the profile's frecency
(see: sesame launch search --help).`,
		Flags: []cli.Flag{profileFlag("the profile (frecency, launch profiles, secrets)"), tagFlag},
		Action: func(c *cli.Context) error {
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			return st.pick(c.Context, p, strings.Join(c.Args().Slice(), " "), c.StringSlice("tag"))
		},
		Subcommands: []*cli.Command{
			st.launchSearch(),
			st.launchRun(tagFlag),
			st.launchStatus(),
		},
	}
}

func (st *state) launchSearch() *cli.Command {
	return &cli.Command{
		Name:      "search",
		Usage:     "search applications, best match first",
		ArgsUsage: "QUERY…",
		Description: `The query's words must each match (fuzzily, as fzf matches) the name, the
untranslated name, the generic name, the keywords or the desktop ID. A word with
an upper-case letter matches case-sensitively. The score is fzf's (weighted by
field: name 1, untranslated name 0.95, ID and generic name 0.85, keywords 0.8)
plus min(48, 16 × ln(1 + frecency)), where frecency is the profile's launches of
the application, each halved every 14 days. No query lists by frecency.`,
		Flags: []cli.Flag{
			profileFlag("the profile whose frecency ranks the results"),
			&cli.IntFlag{Name: "n", Value: 20, Usage: "show at most `N` results"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			for _, a := range c.Args().Slice() {
				if len(a) > 1 && a[0] == '-' {
					return usagef("flags go before the query (%q); usage: sesame launch search [-p PROFILE] [-n N] [--json] QUERY…", a)
				}
			}
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			n := c.Int("n")
			if n < 1 || n > 1000 {
				return usagef("launch search: -n must be between 1 and 1000")
			}
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			var r api.SearchReply
			req := &api.SearchRequest{Query: strings.Join(c.Args().Slice(), " "), Limit: int32(n)}
			if err := cl.Call(c.Context, api.LauncherSearch, p, req, &r); err != nil {
				return fmt.Errorf("launch search: %w", launcherError(err, p))
			}
			if c.Bool("json") {
				type hit struct {
					ID          string   `json:"id"`
					Name        string   `json:"name"`
					GenericName string   `json:"generic_name"`
					Comment     string   `json:"comment"`
					Score       float64  `json:"score"`
					Match       int32    `json:"match"`
					Frecency    float64  `json:"frecency"`
					Terminal    bool     `json:"terminal"`
					Actions     []string `json:"actions"`
				}
				out := []hit{}
				for _, h := range r.Hits {
					if h.Actions == nil {
						h.Actions = []string{}
					}
					out = append(out, hit{h.ID, h.Name, h.GenericName, h.Comment, h.Score, h.Match, h.Frecency, h.Terminal, h.Actions})
				}
				return json.NewEncoder(st.e.Stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(st.e.Stdout, 0, 0, 2, ' ', 0)
			for _, h := range r.Hits {
				desc := h.GenericName
				if desc == "" {
					desc = h.Comment
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\n", h.ID, oneLine(h.Name), oneLine(desc), h.Score)
			}
			return tw.Flush()
		},
	}
}

func (st *state) launchRun(tagFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "start an application, with its launch profiles' secrets",
		ArgsUsage: "ID [-- FILE|URL…]",
		Description: `ID is a desktop-file ID (org.mozilla.firefox.desktop), with or without
.desktop, or its last dotted part when only one application has it (firefox).
Files and URLs after -- fill the Exec line's %f %F %u %U (one instance per file
for %f and %u); relative paths are made absolute first.

Launch profiles come from the configuration: [profiles.P.launch.NAME] with env,
secrets, cwd and wrapper. P's launch profile "default" always applies first, then
each --tag in order: NAME is P's, Q:NAME is profile Q's, whose secrets come from
Q's vault. Variables: later wins; secrets accumulate; cwd and wrapper: last wins.
Secrets become variables as in sesame env (same names, same denylist). A launch
that needs a locked profile fails and names every profile to unlock.

The program runs in a systemd user scope (app-sesame-ID-N.scope) when a user
manager is reachable, otherwise in a session of its own; never under a role's
sandbox; with standard input and output on /dev/null. Every launch is audited.`,
		Flags: []cli.Flag{
			profileFlag("the profile (frecency, launch profiles, secrets)"),
			tagFlag,
			&cli.StringFlag{Name: "action", Usage: "run the entry's [Desktop Action `ID`]"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan as JSON (secret names, no values) instead of launching"},
		},
		Action: func(c *cli.Context) error {
			a := c.Args().Slice()
			const usage = "usage: sesame launch run [-p PROFILE] [--tag T]… [--action A] [--dry-run] ID [-- FILE|URL…]"
			if len(a) == 0 || a[0] == "--" {
				return usagef("%s", usage)
			}
			id, files := a[0], a[1:]
			if len(files) > 0 && files[0] == "--" {
				files = files[1:]
			} else {
				for _, f := range files {
					if len(f) > 1 && f[0] == '-' {
						return usagef("flags go before the ID (%q); %s", f, usage)
					}
				}
			}
			p, cl, err := st.session(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			req := &api.PlanRequest{ID: id, Action: c.String("action"), Tags: c.StringSlice("tag"), Args: absFiles(files)}
			return st.launch(c.Context, cl, p, req, c.Bool("dry-run"))
		},
	}
}

func (st *state) launchStatus() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the launcher's index: entries, directories, files skipped",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			var r api.LauncherStatusReply
			if err := cl.Call(c.Context, api.LauncherStatus, "", nil, &r); err != nil {
				return fmt.Errorf("launch status: %w", launcherError(err, ""))
			}
			if c.Bool("json") {
				type status struct {
					Entries  int32    `json:"entries"`
					Shown    int32    `json:"shown"`
					Dirs     []string `json:"dirs"`
					Watched  int32    `json:"watched"`
					Warnings []string `json:"warnings"`
					Scans    int64    `json:"scans"`
				}
				out := status{r.Entries, r.Shown, r.Dirs, r.Watched, r.Warnings, r.Scans}
				if out.Warnings == nil {
					out.Warnings = []string{}
				}
				return json.NewEncoder(st.e.Stdout).Encode(out)
			}
			fmt.Fprintf(st.e.Stdout, "entries: %d (%d shown)\nwatched: %d directories\nscans: %d\n", r.Entries, r.Shown, r.Watched, r.Scans)
			for _, d := range r.Dirs {
				fmt.Fprintf(st.e.Stdout, "data dir: %s\n", d)
			}
			for _, w := range r.Warnings {
				fmt.Fprintf(st.e.Stdout, "skipped: %s\n", w)
			}
			return nil
		},
	}
}

// launcherError adds what to do to the launcher's errors.
func launcherError(err error, profile string) error {
	switch bus.ErrCode(err) {
	case bus.CodeUnknownKind, bus.CodeUnavailable:
		return withHint(err, "the launcher role is not running; see: sesame status")
	case bus.CodeNotFound:
		return withHint(err, "see: sesame launch search")
	}
	return busError(err, profile)
}

// absFiles makes relative paths that exist absolute (the program runs elsewhere); URLs and
// anything else are passed as they are.
func absFiles(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f
		if f == "" || filepath.IsAbs(f) || strings.Contains(f, "://") {
			continue
		}
		if _, err := os.Lstat(f); err == nil {
			if abs, err := filepath.Abs(f); err == nil {
				out[i] = abs
			}
		}
	}
	return out
}

// dryRun is what --dry-run prints.
type dryRun struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Argv    [][]string `json:"argv"`
	Env     []string   `json:"env"`     // from launch profiles, and sesame's own
	Secrets []string   `json:"secrets"` // PROFILE:NAME → VARIABLE
	Cwd     string     `json:"cwd"`
	Tags    []string   `json:"tags"`
	Scope   bool       `json:"scope"`
}

// launch plans, gathers the secrets, starts the program and reports the launch.
func (st *state) launch(ctx context.Context, cl *bus.Client, profile string, req *api.PlanRequest, dry bool) error {
	var plan api.LaunchPlan
	if err := cl.Call(ctx, api.LauncherPlan, profile, req, &plan); err != nil {
		return fmt.Errorf("launch %s: %w", req.ID, launcherError(err, profile))
	}
	fail := func(err error) error {
		rec := &api.LaunchRecord{ID: plan.ID, Action: req.Action, Tags: plan.Tags, Secrets: plan.Secrets, Error: err.Error()}
		if rerr := cl.Call(ctx, api.LauncherRecord, profile, rec, nil); rerr != nil {
			fmt.Fprintf(st.e.Stderr, "sesame: launch %s: not recorded: %v\n", plan.ID, rerr)
		}
		return fmt.Errorf("launch %s: %w", plan.ID, err)
	}
	if dry {
		// A dry run shows which variables the secrets would become (with the same checks)
		// without fetching a single value.
		seen := map[string]injected{}
		var binds []string
		for _, r := range plan.Secrets {
			in, err := bind(seen, r.Profile, r.Name, "")
			if err != nil {
				return fmt.Errorf("launch %s: %w", plan.ID, err)
			}
			binds = append(binds, r.Profile+":"+r.Name+" → "+in.variable)
		}
		return st.printPlan(&plan, profile, binds)
	}
	ins, bufs, err := st.launchSecrets(ctx, cl, plan.Secrets)
	if err != nil {
		return fail(err)
	}
	defer func() {
		for _, b := range bufs {
			b.Destroy()
		}
	}()
	environ, argvs, cwd, err := st.launchEnviron(&plan, profile, ins)
	if err != nil {
		return fail(err)
	}
	useScope := st.userManager()
	rec := &api.LaunchRecord{ID: plan.ID, Action: req.Action, Tags: plan.Tags, Secrets: plan.Secrets}
	var started []string
	for _, argv := range argvs {
		unit := ""
		if useScope {
			unit = scopeName(plan.ID, time.Now())
			argv = append([]string{"systemd-run", "--user", "--scope", "--quiet", "--collect", "--unit=" + unit, "--description=" + plan.Name, "--"}, argv...)
			rec.Unit = unit
		}
		pid, err := spawn(argv, environ, cwd)
		if err != nil {
			rec.Error = err.Error()
			break
		}
		rec.PIDs = append(rec.PIDs, int32(pid))
		started = append(started, fmt.Sprintf("pid %d", pid))
		if unit != "" {
			started[len(started)-1] += " in " + unit
		}
	}
	rec.OK = len(rec.PIDs) > 0
	if err := cl.Call(ctx, api.LauncherRecord, profile, rec, nil); err != nil {
		fmt.Fprintf(st.e.Stderr, "sesame: launch %s: not recorded: %v\n", plan.ID, err)
	}
	if rec.Error != "" {
		return fmt.Errorf("launch %s: %s", plan.ID, rec.Error)
	}
	fmt.Fprintf(st.e.Stderr, "sesame: launched %s (%s), %s\n", oneLine(plan.Name), plan.ID, strings.Join(started, ", "))
	return nil
}

// launchEnviron composes what the child gets: its environment (this process's, without
// sesame's own variables, then the launch profiles' variables, SESAME_PROFILES and
// SESAME_APP_ID, then the secrets), its command lines (in a terminal emulator when the entry
// asks for one) and its working directory.
func (st *state) launchEnviron(plan *api.LaunchPlan, profile string, ins []injected) (environ []string, argvs [][]string, cwd string, err error) {
	cwd, err = launchDir(plan.Cwd, st.e.Home())
	if err != nil {
		return nil, nil, "", err
	}
	own := ownVars(plan, profile)
	drop := map[string]bool{}
	for _, kv := range append(slices.Clone(plan.Env), own...) {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	for _, in := range ins {
		drop[in.variable] = true
	}
	// Every variable of sesame's own is dropped too: a launched program is not a sesame
	// command, and SESAME_* is never inherited by accident.
	for _, kv := range st.e.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SESAME_") {
			drop[k] = true
		}
	}
	// PWD names the working directory, which is the plan's, not this process's.
	drop["PWD"] = true
	environ = withoutVars(st.e.Environ(), drop)
	environ = append(environ, "PWD="+cwd)
	environ = append(environ, plan.Env...)
	environ = append(environ, own...)
	for _, in := range ins {
		environ = append(environ, in.variable+"="+in.valueString())
	}
	argvs, err = st.terminalArgv(plan)
	return environ, argvs, cwd, err
}

// ownVars are the variables sesame sets for a launched program.
func ownVars(plan *api.LaunchPlan, profile string) []string {
	profiles := []string{profile}
	for _, s := range plan.Secrets {
		if !slices.Contains(profiles, s.Profile) {
			profiles = append(profiles, s.Profile)
		}
	}
	return []string{"SESAME_PROFILES=" + strings.Join(profiles, ","), "SESAME_APP_ID=" + plan.ID}
}

// terminalArgv puts a terminal emulator in front of each command line when the entry has
// Terminal=true.
func (st *state) terminalArgv(plan *api.LaunchPlan) ([][]string, error) {
	if !plan.Terminal {
		return plan.Argv, nil
	}
	term, err := terminal(st.e.Getenv)
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(plan.Argv))
	for i, argv := range plan.Argv {
		out[i] = append(slices.Clone(term), argv...)
	}
	return out, nil
}

// printPlan prints what --dry-run shows: everything but secret values.
func (st *state) printPlan(plan *api.LaunchPlan, profile string, binds []string) error {
	cwd, err := launchDir(plan.Cwd, st.e.Home())
	if err != nil {
		return fmt.Errorf("launch %s: %w", plan.ID, err)
	}
	argvs, err := st.terminalArgv(plan)
	if err != nil {
		return fmt.Errorf("launch %s: %w", plan.ID, err)
	}
	d := dryRun{ID: plan.ID, Name: plan.Name, Argv: argvs, Env: append(slices.Clone(plan.Env), ownVars(plan, profile)...),
		Secrets: binds, Cwd: cwd, Tags: plan.Tags, Scope: st.userManager()}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if d.Secrets == nil {
		d.Secrets = []string{}
	}
	enc := json.NewEncoder(st.e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// launchSecrets fetches the plan's secrets: first it checks that every profile they come
// from exists and is unlocked, and names every one that is not; then one request per
// profile.
func (st *state) launchSecrets(ctx context.Context, cl *bus.Client, refs []api.SecretRef) ([]injected, []*secmem.Buf, error) {
	if len(refs) == 0 {
		return nil, nil, nil
	}
	var wants []want
	for _, r := range refs {
		i := slices.IndexFunc(wants, func(w want) bool { return w.profile == r.Profile })
		if i < 0 {
			wants = append(wants, want{profile: r.Profile})
			i = len(wants) - 1
		}
		wants[i].names = append(wants[i].names, r.Name)
	}
	var ps api.ProfilesReply
	if err := cl.Call(ctx, api.SecretsProfiles, "", nil, &ps); err != nil {
		return nil, nil, busError(err, "")
	}
	var locked, missing []string
	for _, w := range wants {
		i := slices.IndexFunc(ps.Profiles, func(s api.ProfileState) bool { return s.Name == w.profile })
		switch {
		case i < 0:
			missing = append(missing, w.profile)
		case !ps.Profiles[i].Unlocked:
			locked = append(locked, w.profile)
		}
	}
	if len(missing) > 0 {
		return nil, nil, withHint(fmt.Errorf("its secrets come from %s, which %s no vault", plural("profile", missing), hasHave(missing)), "see: sesame profile list")
	}
	if len(locked) > 0 {
		return nil, nil, withHint(bus.Errorf(bus.CodeLocked, "it needs secrets from %s, which %s locked", plural("profile", locked), isAre(locked)), "run: sesame unlock -p "+strings.Join(locked, ","))
	}
	return collect(ctx, cl, wants, "")
}

func plural(word string, names []string) string {
	if len(names) == 1 {
		return word + " " + strconv.Quote(names[0])
	}
	return word + "s " + joinQuoted(names)
}

func isAre(names []string) string {
	if len(names) == 1 {
		return "is"
	}
	return "are"
}

func hasHave(names []string) string {
	if len(names) == 1 {
		return "has"
	}
	return "have"
}

// launchDir resolves the plan's working directory: "" is home, "~/x" is under home; it must
// be an existing directory.
func launchDir(dir, home string) (string, error) {
	switch {
	case dir == "":
		dir = home
	case dir == "~":
		dir = home
	case strings.HasPrefix(dir, "~/"):
		dir = filepath.Join(home, dir[2:])
	}
	if dir == "" {
		dir = "/"
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("working directory %q is not absolute", dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("working directory %q is not a directory", dir)
	}
	return dir, nil
}

// userManager reports whether a systemd user manager is reachable to start scopes: its
// private socket exists, so does the session bus systemd-run --user --scope talks to it
// through ($DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus), and systemd-run is installed.
// (Checked, not tried: a systemd-run that fails after this process is gone could not fall
// back without risking a second start of the program.)
func (st *state) userManager() bool {
	rt := st.e.Getenv("XDG_RUNTIME_DIR")
	if rt == "" || !isSocket(filepath.Join(rt, "systemd", "private")) {
		return false
	}
	if st.e.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" && !isSocket(filepath.Join(rt, "bus")) {
		return false
	}
	_, err := exec.LookPath("systemd-run")
	return err == nil
}

func isSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// scopeName is the transient scope for one launch: app-sesame-ID-N.scope, the launcher
// and application named as systemd's desktop-environment conventions ask (ID escaped as
// unit names are: '-' and anything outside [A-Za-z0-9:_.] as \xNN), N the start time in
// microseconds.
func scopeName(id string, now time.Time) string {
	var b strings.Builder
	b.WriteString("app-sesame-")
	stem := strings.TrimSuffix(id, ".desktop")
	for i := 0; i < len(stem); i++ {
		c := stem[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ':' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteString("-" + strconv.FormatInt(now.UnixMicro(), 10) + ".scope")
	return b.String()
}

// terminals are the terminal emulators tried, in order, for Terminal=true entries, with the
// arguments that come before the command.
var terminals = []struct {
	name string
	pre  []string
}{
	{"xdg-terminal-exec", nil},
	{"x-terminal-emulator", []string{"-e"}},
	{"foot", nil},
	{"kitty", nil},
	{"alacritty", []string{"-e"}},
	{"wezterm", []string{"start", "--"}},
	{"gnome-terminal", []string{"--"}},
	{"konsole", []string{"-e"}},
	{"xfce4-terminal", []string{"-x"}},
	{"xterm", []string{"-e"}},
}

// terminal returns the command prefix that runs a command in a terminal emulator: $TERMINAL
// when set (with -e, unless it is one of the known ones), else the first known one found.
func terminal(getenv func(string) string) ([]string, error) {
	if t := strings.Fields(getenv("TERMINAL")); len(t) > 0 {
		pre := []string{"-e"}
		for _, k := range terminals {
			if filepath.Base(t[0]) == k.name {
				pre = k.pre
			}
		}
		return append(t, pre...), nil
	}
	for _, k := range terminals {
		if _, err := exec.LookPath(k.name); err == nil {
			return append([]string{k.name}, k.pre...), nil
		}
	}
	return nil, withHint(errors.New("it runs in a terminal, and no terminal emulator was found"), "set $TERMINAL to one")
}

// spawn starts argv detached: its own session, /dev/null for standard input, output and
// error, in dir, with environ. It does not wait: the child outlives this process.
func spawn(argv, environ []string, dir string) (int, error) {
	path, err := lookPathIn(argv[0], environ)
	if err != nil {
		return 0, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         environ,
		Dir:         dir,
		Stdin:       devnull,
		Stdout:      devnull,
		Stderr:      devnull,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return pid, nil
}

// lookPathIn finds prog in the PATH of environ (the child's), as the child would.
func lookPathIn(prog string, environ []string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	path := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: not found in $PATH", prog)
}

// oneLine keeps a name from breaking a line or the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
