package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/secmem"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// `sesame status --doctor [--json] [--strict]` checks what sesame's security rests on and
// says, for each check, pass, warn, fail or skip, the value it saw and, when it is not a pass,
// what to do. It never starts the daemons.
//
// Check ids (stable; the role ones repeat for the hub, "profile", and each role):
//
//	hub.running              the hub answers hub.status
//	mem.backend              memfd_secret(2) works here (else the mlock fallback: warn)
//	role.R.running           R is connected to the hub (a desktop role that is not: warn)
//	role.R.seccomp           /proc/PID/status Seccomp is 2 (a filter): fail otherwise
//	role.R.landlock          the Landlock ABI the hub reports for R (hub.status Sandbox): warn
//	                         at 0; skipped when the hub reports none
//	role.R.no_new_privs      NoNewPrivs is 1: warn otherwise
//	role.R.core              "Max core file size" in /proc/PID/limits is 0: fail otherwise
//	role.R.dumpable          the process is not dumpable (its /proc/PID is owned by root);
//	                         skipped when the doctor runs as root, which cannot tell
//	role.R.swap              VmSwap is 0 kB: warn otherwise
//	runtime.dir              $XDG_RUNTIME_DIR/sesame is ours, 0700
//	units.installed          sesame@.service is in a systemd user unit directory (warn if not)
//	config.valid             the configuration files load (as `sesame config check`); a
//	                         setting ignored because policy locks it: warn
//	vault.dir                $XDG_DATA_HOME/sesame/vaults is ours, 0700 (skip when absent)
//	vault.files              every file in it is ours, 0600 or tighter
//
// Landlock: the kernel shows no Landlock state in /proc, so the doctor takes it from the hub's
// status reply: the hub's own level as it applied it, and, for each role, the hub's reading
// (sandbox.Observe: the hub's ABI when the role has a seccomp filter and no_new_privs, which
// the role's sandbox sets together with its Landlock domain).
//
// --json prints {"schema":1,"version","summary":{"pass","warn","fail","skip"},"checks":[{"id",
// "status","value","hint"}]}; fields are only ever added. The exit status is 1 when a check
// fails (or, with --strict, warns), else 0.

// Check is one line of the doctor's report.
type Check struct {
	ID     string `json:"id"`
	Status string `json:"status"` // pass, warn, fail or skip
	Value  string `json:"value"`
	Hint   string `json:"hint,omitempty"`
}

// Doctor is the --json form of the report.
type Doctor struct {
	Schema  int            `json:"schema"`
	Version string         `json:"version"`
	Summary map[string]int `json:"summary"`
	Checks  []Check        `json:"checks"`
}

const (
	pass = "pass"
	warn = "warn"
	fail = "fail"
	skip = "skip"
)

// desktopRoles run only in a graphical session; not running is a warning, not a failure.
var desktopRoles = map[string]bool{"wm": true, "clipboard": true, "input": true}

// withDoctor adds --doctor and --strict to the status command.
func (st *state) withDoctor(c *cli.Command) *cli.Command {
	c.Flags = append(c.Flags,
		&cli.BoolFlag{Name: "doctor", Usage: "check sandboxing, memory, files and units; exit 1 on a failure"},
		&cli.BoolFlag{Name: "strict", Usage: "with --doctor: warnings fail too"},
	)
	c.Description = strings.TrimSpace(c.Description + `
With --doctor, checks what sesame's security rests on, for the hub and each role:
seccomp and no_new_privs (from /proc/PID/status), core dumps off (/proc/PID/limits),
not dumpable, no swap in use; memfd_secret available; the runtime directory, the
vault directory (0700) and vault files (0600); the systemd user units installed.
Each check passes, warns, fails or is skipped, with a hint when there is something to
do. Exit status 1 when a check fails (with --strict, also when one warns).`)
	status := c.Action
	c.Action = func(ctx *cli.Context) error {
		if !ctx.Bool("doctor") {
			if ctx.Bool("strict") {
				return usagef("--strict goes with --doctor")
			}
			return status(ctx)
		}
		if err := noArgs(ctx); err != nil {
			return err
		}
		d := st.doctor(ctx)
		if ctx.Bool("json") {
			enc := json.NewEncoder(st.e.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(d); err != nil {
				return err
			}
		} else {
			st.printDoctor(d)
		}
		if d.Summary[fail] > 0 || ctx.Bool("strict") && d.Summary[warn] > 0 {
			return ExitError{Code: 1}
		}
		return nil
	}
	return c
}

func (st *state) doctor(c *cli.Context) *Doctor {
	d := &Doctor{Schema: 1, Version: st.e.Version, Summary: map[string]int{pass: 0, warn: 0, fail: 0, skip: 0}}
	add := func(id, status, value, hint string) {
		d.Checks = append(d.Checks, Check{ID: id, Status: status, Value: value, Hint: hint})
		d.Summary[status]++
	}

	dir, dirErr := bus.RuntimeDir(st.e.Getenv)
	var s api.HubStatusReply
	err := dirErr
	if err == nil {
		var cl *bus.Client
		if cl, err = dialHub(c.Context, dir); err == nil {
			err = cl.Call(c.Context, api.HubStatus, "", nil, &s)
			cl.Close()
		}
	}
	now := st.e.Now()
	if err != nil {
		add("hub.running", fail, "not running", "start it: sesame up, or systemctl --user start sesame-headless.target ("+err.Error()+")")
	} else {
		add("hub.running", pass, fmt.Sprintf("pid %d, sesame %s, up %s", s.PID, s.Version, dur(now.Sub(s.Since).Seconds())), "")
	}

	switch b := secmem.Backend(); b {
	case "memfd_secret":
		add("mem.backend", pass, b, "")
	default:
		add("mem.backend", warn, b, "memfd_secret(2) is unavailable: keys are in mlock'ed pages, which root can read; it needs Linux ≥ 5.14 (and secretmem.enable=1 before 6.5)")
	}

	if err == nil {
		procs := []bus.RoleState{{Name: hubRole, Running: true, PID: s.PID, Since: s.Since}}
		procs = append(procs, s.Roles...)
		for _, r := range procs {
			st.checkRole(r, now, s.Sandbox, add)
		}
	}

	if dirErr != nil {
		add("runtime.dir", fail, dirErr.Error(), "fix the owner and mode of the directory, or remove it")
	} else {
		add("runtime.dir", pass, dir+" 0700", "")
	}

	st.checkUnits(add)
	st.checkConfig(add)
	st.checkVaults(add)
	return d
}

// checkRole reads the role's process state from /proc.
func (st *state) checkRole(r bus.RoleState, now time.Time, levels []sandbox.Level, add func(id, status, value, hint string)) {
	id := "role." + r.Name + "."
	if !r.Running {
		if desktopRoles[r.Name] {
			add(id+"running", warn, "stopped", "a desktop role: it runs with sesame-desktop.target in a graphical session")
		} else {
			add(id+"running", fail, "stopped", "see: journalctl --user -u sesame@"+r.Name+" (systemd) or up.log in the runtime directory")
		}
		return
	}
	up := ""
	if !r.Since.IsZero() {
		up = ", up " + dur(now.Sub(r.Since).Seconds())
	}
	add(id+"running", pass, fmt.Sprintf("pid %d%s", r.PID, up), "")
	pid := strconv.Itoa(int(r.PID))

	status, err := procStatus(pid)
	if err != nil {
		add(id+"seccomp", fail, err.Error(), "the process went away while checking; run the doctor again")
		return
	}
	switch sc := status["Seccomp"]; sc {
	case "2":
		add(id+"seccomp", pass, "filter ("+status["Seccomp_filters"]+" filters)", "")
	case "1":
		add(id+"seccomp", pass, "strict", "")
	default:
		add(id+"seccomp", fail, "off (Seccomp: "+sc+")", "the role runs without a system call filter: it did not apply its sandbox")
	}
	found := false
	for _, l := range levels {
		if l.Role != r.Name || l.PID != r.PID {
			continue
		}
		found = true
		if l.Landlock > 0 {
			add(id+"landlock", pass, "ABI "+strconv.Itoa(l.Landlock), "")
		} else {
			add(id+"landlock", warn, "off", "the kernel has no Landlock (Linux ≥ 5.13, lsm=landlock), or the role did not apply its sandbox (see "+id+"seccomp)")
		}
	}
	if !found {
		add(id+"landlock", skip, "not reported by the hub", "the kernel shows no Landlock state in /proc; a hub of this version reports it")
	}
	if status["NoNewPrivs"] == "1" {
		add(id+"no_new_privs", pass, "on", "")
	} else {
		add(id+"no_new_privs", warn, "off", "set by the role's sandbox, and by systemd (NoNewPrivileges=yes)")
	}

	if core, err := coreLimit(pid); err != nil {
		add(id+"core", fail, err.Error(), "")
	} else if core == "0" {
		add(id+"core", pass, "0", "")
	} else {
		add(id+"core", fail, core, "the role would write a core file with its keys in it: it sets RLIMIT_CORE 0 at start (LimitCORE=0 under systemd)")
	}

	switch owner, err := procOwner(pid); {
	case err != nil:
		add(id+"dumpable", fail, err.Error(), "")
	case os.Getuid() == 0:
		add(id+"dumpable", skip, "cannot tell as root", "run the doctor as the user who runs sesame")
	case owner != os.Getuid():
		add(id+"dumpable", pass, "no", "")
	default:
		add(id+"dumpable", fail, "yes", "any process of this user can read the role's memory: it sets PR_SET_DUMPABLE 0 at start")
	}

	if sw := status["VmSwap"]; sw == "0 kB" || sw == "" {
		add(id+"swap", pass, "0 kB", "")
	} else {
		add(id+"swap", warn, sw, "part of the role is in swap; secret pages are locked, but consider encrypted swap or MemorySwapMax=0")
	}
}

// procStatus reads the fields of /proc/PID/status.
func procStatus(pid string) (map[string]string, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out, sc.Err()
}

// coreLimit returns the soft "Max core file size" of /proc/PID/limits.
func coreLimit(pid string) (string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/limits")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max core file size"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0], nil
			}
		}
	}
	return "", errors.New("no core limit in /proc/PID/limits")
}

// procOwner returns the owner of /proc/PID: the process's uid when it is dumpable, root when
// it is not.
func procOwner(pid string) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+pid, &st); err != nil {
		return 0, err
	}
	return int(st.Uid), nil
}

// unitDirs are where a systemd user manager looks for units, most specific first.
func (st *state) unitDirs() []string {
	var dirs []string
	if cfg, err := st.e.ConfigDir(); err == nil {
		dirs = append(dirs, filepath.Join(cfg, "systemd", "user"))
	}
	return append(dirs, "/etc/systemd/user", "/usr/local/lib/systemd/user", "/usr/lib/systemd/user", "/lib/systemd/user")
}

func (st *state) checkUnits(add func(id, status, value, hint string)) {
	for _, d := range st.unitDirs() {
		if _, err := os.Stat(filepath.Join(d, "sesame@.service")); err == nil {
			add("units.installed", pass, d, "")
			return
		}
	}
	add("units.installed", warn, "no sesame@.service", "install the open-sesame package (or copy units/ to ~/.config/systemd/user) to run sesame under systemd; without systemd, sesame up is all you need")
}

func (st *state) checkConfig(add func(id, status, value, hint string)) {
	home, err := st.e.ConfigDir()
	if err != nil {
		add("config.valid", skip, err.Error(), "")
		return
	}
	ld, err := config.Load(config.PathsFor(st.e.Getenv(config.SystemDirEnv), home))
	var es config.Errors
	switch {
	case errors.As(err, &es) && len(es) > 0:
		v := es[0].Error()
		if len(es) > 1 {
			v += fmt.Sprintf(" (and %d more)", len(es)-1)
		}
		add("config.valid", fail, v, "run: sesame config check")
	case err != nil:
		add("config.valid", fail, err.Error(), "run: sesame config check")
	case len(ld.Warnings) > 0:
		add("config.valid", warn, ld.Warnings[0].Error(), "a setting of yours is locked by /etc/sesame policy and ignored")
	case len(ld.Files) == 0:
		add("config.valid", pass, "no configuration files: the defaults", "")
	default:
		add("config.valid", pass, strings.Join(ld.Files, ", "), "")
	}
}

func (st *state) checkVaults(add func(id, status, value, hint string)) {
	data, err := st.e.DataDir()
	if err != nil {
		add("vault.dir", skip, err.Error(), "")
		return
	}
	dir := filepath.Join(data, "sesame", "vaults")
	var sd unix.Stat_t
	if err := unix.Lstat(dir, &sd); errors.Is(err, fs.ErrNotExist) {
		add("vault.dir", skip, dir+" does not exist yet", "")
		return
	} else if err != nil {
		add("vault.dir", fail, err.Error(), "")
		return
	}
	switch mode := sd.Mode & 0o7777; {
	case sd.Mode&unix.S_IFMT != unix.S_IFDIR:
		add("vault.dir", fail, dir+" is not a directory", "it must be a real directory, not a symlink")
		return
	case int(sd.Uid) != os.Getuid():
		add("vault.dir", fail, fmt.Sprintf("%s owned by uid %d", dir, sd.Uid), "it must be yours")
	case mode&0o077 != 0:
		add("vault.dir", fail, fmt.Sprintf("%s %04o", dir, mode), "run: chmod 700 "+dir)
	default:
		add("vault.dir", pass, fmt.Sprintf("%s %04o", dir, mode), "")
	}

	ents, err := os.ReadDir(dir)
	if err != nil {
		add("vault.files", fail, err.Error(), "")
		return
	}
	var bad []string
	n := 0
	for _, e := range ents {
		var sf unix.Stat_t
		p := filepath.Join(dir, e.Name())
		if err := unix.Lstat(p, &sf); err != nil {
			continue
		}
		n++
		if sf.Mode&0o077 != 0 || int(sf.Uid) != os.Getuid() {
			bad = append(bad, fmt.Sprintf("%s %04o", e.Name(), sf.Mode&0o7777))
		}
	}
	switch {
	case len(bad) > 0:
		add("vault.files", fail, strings.Join(bad, ", "), "run: chmod 600 on each, in "+dir)
	case n == 0:
		add("vault.files", skip, "no vault yet", "")
	default:
		add("vault.files", pass, fmt.Sprintf("%d files, 0600", n), "")
	}
}

func (st *state) printDoctor(d *Doctor) {
	w := st.e.Stdout
	colours := map[string]string{pass: "32", warn: "33", fail: "31", skip: "2"}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range d.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", st.colour(w, colours[c.Status], c.Status), c.ID, c.Value)
		if c.Hint != "" && c.Status != pass {
			fmt.Fprintf(tw, "\t\thint: %s\n", c.Hint)
		}
	}
	tw.Flush()
	warnings := "warnings"
	if d.Summary[warn] == 1 {
		warnings = "warning"
	}
	fmt.Fprintf(w, "%d passed, %d %s, %d failed, %d skipped\n", d.Summary[pass], d.Summary[warn], warnings, d.Summary[fail], d.Summary[skip])
}
