package cli

import (
	"path/filepath"
	"strings"

	"github.com/open-sesame/sesame/bus"
	"github.com/urfave/cli/v2"
)

// keysCommand is `sesame keys`, run by sesame-keys.service before any role starts under
// systemd. It is hidden: people never need it, `sesame up` provisions keys its own way.
func (st *state) keysCommand() *cli.Command {
	return &cli.Command{
		Name:   "keys",
		Usage:  "make the roles' bus keys for systemd units (run by sesame-keys.service)",
		Hidden: true,
		Description: `Writes $XDG_RUNTIME_DIR/sesame/keys/ROLE.key (32 bytes, 0600, directory 0700) for
the hub and every role, plus hub.pub and roles.pub, for the units to pass on with
LoadCredential=. Existing keys are kept: running it again changes nothing.
Under sesame up none of this is used: keys go through a pipe and never touch a file.`,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			dir, err := bus.RuntimeDir(st.e.Getenv)
			if err != nil {
				return err
			}
			var roles []string
			for _, r := range st.roles {
				if r != hubRole {
					roles = append(roles, r)
				}
			}
			keys := filepath.Join(dir, bus.KeysDirName)
			created, err := bus.ProvisionKeys(keys, hubRole, roles)
			if err != nil {
				return err
			}
			if len(created) > 0 {
				st.e.Logf("keys: made %s in %s", strings.Join(created, ", "), keys)
			}
			return nil
		},
	}
}
