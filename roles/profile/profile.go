// Package profile is the profile role: it runs the bus hub that every other role and every
// CLI invocation connects to, and answers the hub's own requests (hub.status, hub.ping).
//
// It also owns trust profiles and the configuration (config.go): the effective
// configuration, hot-reloaded and pushed to the roles; the default profile and why
// (context rules, `sesame profile default`, default_profile); activation.
//
// # Start-up
//
//  1. harden the process (not dumpable, no core files);
//  2. read its key and the roles' public keys from the supervisor (bus.ReadBoot);
//  3. listen on the bus socket in the runtime directory and publish bus.pub;
//     open the audit log ($XDG_STATE_HOME/sesame/audit, see package audit), which only the
//     hub writes, on behalf of the roles (hub.audit);
//  4. start the SSID probe (ssid.go), the child that reads the Wi-Fi network for context rules,
//     since the hub's own sandbox dials nothing;
//  5. sandbox itself (package sandbox), report ready (bus.SignalReady) and serve until SIGTERM.
//
// With the one argument "ssid-probe", Run is that probe instead.
package profile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/open-sesame/sesame/audit"
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/secmem"
)

// Run runs the hub, or with the argument "ssid-probe" the hub's SSID probe.
func Run(ctx context.Context, e *env.Env, args []string) error {
	if len(args) == 1 && args[0] == ssidProbeArg {
		return runSSIDProbe(ctx, e)
	}
	if len(args) > 0 {
		return fmt.Errorf("profile: unexpected arguments %q", args)
	}
	if err := secmem.Harden(); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	id, err := bus.ReadBoot(e.Getenv)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer id.Static.Destroy()
	dir, err := bus.RuntimeDir(e.Getenv)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	ln, err := bus.Listen(filepath.Join(dir, bus.SocketName))
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer ln.Close()
	state, err := e.StateDir()
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	alog, err := audit.Open(filepath.Join(state, "sesame", "audit"), audit.Options{Now: e.Now})
	var brk *audit.BreakError
	if errors.As(err, &brk) {
		// Record the break in the chain itself and go on: a log that stops on tampering is
		// a log an attacker can switch off.
		e.Logf("%v", brk)
		if aerr := alog.Append(&audit.Entry{Role: "profile", Event: "audit.break", Error: brk.Error()}); aerr != nil {
			return fmt.Errorf("profile: %w", aerr)
		}
	} else if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer alog.Close()
	aud := newAuditor(alog)
	go aud.run(ctx)
	// Before the sandbox, which forbids starting it.
	ssid, stopProbe := ssidSource(e)
	defer stopProbe()
	mgr, err := newManager(e, ssid)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	mgr.record = aud.record
	started := e.Now()
	var sandboxed sandbox.Level
	var hub *bus.Hub
	hub, err = bus.NewHub(bus.HubConfig{
		Static: id.Static,
		Roles:  id.Roles,
		Logf:   e.Logf,
		Local: mgr.handlers(map[string]bus.LocalHandler{
			api.HubAudit:     aud.handle,
			api.HubAuditHead: aud.head,
			api.HubStatus: func(context.Context, *bus.Caller, *bus.Envelope) (any, error) {
				return mgr.statusInto(&api.HubStatusReply{
					Version: e.Version,
					PID:     int32(os.Getpid()),
					Since:   started,
					Memory:  secmem.Backend(),
					Roles:   hub.Roles(),
					Sandbox: sandboxLevels(sandboxed, hub.Roles()),
				}), nil
			},
		}),
	})
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if err := bus.WritePub(dir, id.Static.Public); err != nil {
		return fmt.Errorf("profile: publish hub key: %w", err)
	}
	// From here on the hub reaches only its runtime dir, its audit log and state, the
	// configuration, /proc and the USB devices (package sandbox); sandboxed is what
	// hub.status reports.
	sdirs := sandbox.NewDirs(dir, e.DataDir, e.ConfigDir, e.StateDir)
	sdirs.SystemConfig = filepath.Dir(mgr.paths.System)
	if root := e.Getenv(config.SysfsRootEnv); root != "" {
		sdirs.Sysfs = root
	}
	sandboxed, err = sandbox.Apply(sandbox.Profile, sdirs, e.Getenv, e.Logf)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	mgr.attach(hub)
	go mgr.run(ctx)
	if err := bus.SignalReady(e.Getenv); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	return hub.Serve(ctx, ln)
}

// sandboxLevels is the hub's own sandbox (as applied, with its current /proc state) and each
// running role's (read from /proc; see sandbox.Observe for what can and cannot be seen).
func sandboxLevels(self sandbox.Level, roles []bus.RoleState) []sandbox.Level {
	now := sandbox.Observe(self.Role, self.PID, self.Landlock)
	self.Seccomp, self.Filters, self.NoNewPrivs = now.Seccomp, now.Filters, now.NoNewPrivs
	out := []sandbox.Level{self}
	for _, r := range roles {
		if r.Running {
			out = append(out, sandbox.Observe(r.Name, r.PID, self.Landlock))
		}
	}
	return out
}
