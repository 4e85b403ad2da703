package bus

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/open-sesame/sesame/secmem"
)

// RoleConfig is what ServeRole needs to run a daemon role's side of the bus.
type RoleConfig struct {
	Identity   *Identity // from ReadBoot
	Seal       *Keypair  // the key announced for sealed bodies
	RuntimeDir string
	Handler    Handler
	Logf       func(format string, args ...any)
	// Connected, when set, is called with the connection once it is up, before readiness
	// is reported; the role can use it to send its own requests (audit events).
	Connected func(*Client)
}

// ServeRole connects a role to the hub with its provisioned key, reports readiness (to the
// supervisor's pipe, or to systemd with READY=1 and watchdog pings: see SignalReady), and
// serves requests until ctx ends (nil) or the hub goes away (an error: the supervisor, or
// systemd's Restart=on-failure, restarts the role once the hub is back).
func ServeRole(ctx context.Context, getenv func(string) string, cfg RoleConfig) error {
	cl, err := Dial(ctx, filepath.Join(cfg.RuntimeDir, SocketName), cfg.Identity.Hub, DialConfig{
		Static:  cfg.Identity.Static,
		Seal:    cfg.Seal,
		Handler: cfg.Handler,
		Logf:    cfg.Logf,
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	if cfg.Connected != nil {
		cfg.Connected(cl)
	}
	if err := SignalReady(getenv); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return nil
	case <-cl.Done():
		if ctx.Err() != nil {
			return nil // stopping: the hub closing too is not a loss
		}
		return fmt.Errorf("lost the hub: %v", cl.Err())
	}
}

// RoleStart is what a daemon role holds from its first lines on: its provisioned identity,
// the runtime directory, and the seal key it announces to the hub.
type RoleStart struct {
	Identity   *Identity
	RuntimeDir string
	Seal       *Keypair
}

// StartRole does what every daemon role does first: harden the process (not dumpable, no core
// files: secmem.Harden), read the key the supervisor or systemd provisioned (ReadBoot), find
// the runtime directory, and make the seal key the role will announce. Close wipes the keys.
func StartRole(getenv func(string) string) (*RoleStart, error) {
	if err := secmem.Harden(); err != nil {
		return nil, err
	}
	id, err := ReadBoot(getenv)
	if err != nil {
		return nil, err
	}
	rdir, err := RuntimeDir(getenv)
	if err != nil {
		id.Static.Destroy()
		return nil, err
	}
	seal, err := GenerateKeypair()
	if err != nil {
		id.Static.Destroy()
		return nil, err
	}
	return &RoleStart{Identity: id, RuntimeDir: rdir, Seal: seal}, nil
}

// Close wipes the role's static and seal keys.
func (r *RoleStart) Close() {
	r.Identity.Static.Destroy()
	r.Seal.Destroy()
}
