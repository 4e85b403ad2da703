package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/secmem"
	"github.com/urfave/cli/v2"
)

// maxValue bounds one secret value (the vault's own limit).
const maxValue = 1 << 20

func profileFlag(usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: "profile", Aliases: []string{"p"}, Usage: usage}
}

// profiles resolves -p: a comma-separated list, else $SESAME_PROFILES, else "default".
func (st *state) profiles(c *cli.Context) []string {
	spec := c.String("profile")
	if spec == "" {
		spec = st.e.Getenv("SESAME_PROFILES")
	}
	var out []string
	for _, p := range strings.Split(spec, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = []string{"default"}
	}
	return out
}

// profile resolves -p to exactly one profile.
func (st *state) profile(c *cli.Context) (string, error) {
	ps := st.profiles(c)
	if len(ps) != 1 {
		return "", usagef("%s takes one profile, not %s", c.Command.FullName(), joinQuoted(ps))
	}
	return ps[0], nil
}

// sealTo seals plaintext to the secrets role.
func sealTo(cl *bus.Client, ad, plaintext []byte) ([]byte, error) {
	k, ok := cl.SealKey("secrets")
	if !ok {
		return nil, withHint(bus.Errorf(bus.CodeUnavailable, "the secrets role is not running"), "see: sesame status")
	}
	return bus.Seal(k, ad, plaintext)
}

// fetch gets secrets from one profile: the named ones, or all when names is nil. The values
// are views into the returned buffer, which the caller destroys.
func fetch(ctx context.Context, cl *bus.Client, profile string, names []string) (*secmem.Buf, []api.Entry, error) {
	kp := cl.Key() // this connection's fresh key: the reply is readable by this process only
	var reply api.GetReply
	req := &api.GetRequest{Names: names, All: names == nil, ReplyKey: kp.Public}
	if err := cl.Call(ctx, api.SecretsGet, profile, req, &reply); err != nil {
		return nil, nil, busError(err, profile)
	}
	buf, err := bus.Open(kp, api.AD(api.SecretsGet, profile, names...), reply.Sealed)
	if err != nil {
		return nil, nil, err
	}
	ents, err := api.DecodeEntries(buf.Bytes())
	if err != nil {
		buf.Destroy()
		return nil, nil, err
	}
	return buf, ents, nil
}

func kdfFlags() []cli.Flag {
	return []cli.Flag{
		&cli.UintFlag{Name: "kdf-time", Usage: "Argon2id passes (default: tuned to about 0.4 s here)"},
		&cli.UintFlag{Name: "kdf-memory", Usage: "Argon2id memory in MiB (default 64)"},
	}
}

// createProfile asks the secrets role to create a vault.
func (st *state) createProfile(c *cli.Context, profile string) error {
	pw, err := st.readPassword(fmt.Sprintf("new password for profile %q", profile), true)
	if err != nil {
		return fmt.Errorf("create profile %q: %w", profile, err)
	}
	defer pw.Destroy()
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	sealed, err := sealTo(cl, api.AD(api.SecretsCreate, profile), pw.Bytes())
	if err != nil {
		return err
	}
	req := &api.CreateRequest{Sealed: sealed, KDFTime: uint32(c.Uint("kdf-time")), KDFMemoryKiB: uint32(c.Uint("kdf-memory")) * 1024}
	if err := cl.Call(c.Context, api.SecretsCreate, profile, req, nil); err != nil {
		if bus.ErrCode(err) == bus.CodeExists {
			return withHint(fmt.Errorf("create profile %q: %w", profile, err), "to start over, delete it first: sesame profile delete "+profile)
		}
		return fmt.Errorf("create profile %q: %w", profile, busError(err, profile))
	}
	fmt.Fprintf(st.e.Stderr, "sesame: created profile %q (unlocked)\n", profile)
	return nil
}

func (st *state) secretCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "init",
			Usage:     "create sesame's directories and a profile's vault (default: \"default\")",
			ArgsUsage: " ",
			Description: `Asks for a password (twice on a terminal; one line of standard input otherwise)
and creates the profile's encrypted vault. It never touches a vault that exists.`,
			Flags: append([]cli.Flag{profileFlag("the profile to create")}, kdfFlags()...),
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				p, err := st.profile(c)
				if err != nil {
					return err
				}
				return st.createProfile(c, p)
			},
		},
		st.profileCommand(),
		{
			Name:  "unlock",
			Usage: "unlock profiles' vaults (password from a prompt, or one line of stdin each)",
			Flags: []cli.Flag{profileFlag("profiles to unlock, comma-separated")},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				return st.unlock(c, st.profiles(c))
			},
		},
		{
			Name:  "lock",
			Usage: "lock a profile's vault, or every vault, wiping its keys",
			Flags: []cli.Flag{profileFlag("the profile to lock (default: all)")},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				cl, err := st.dial(c.Context)
				if err != nil {
					return err
				}
				defer cl.Close()
				var r api.LockReply
				p := c.String("profile")
				if err := cl.Call(c.Context, api.SecretsLock, p, nil, &r); err != nil {
					return fmt.Errorf("lock: %w", busError(err, p))
				}
				if len(r.Locked) == 0 {
					fmt.Fprintln(st.e.Stderr, "sesame: nothing was unlocked")
				} else {
					fmt.Fprintf(st.e.Stderr, "sesame: locked %s\n", joinQuoted(r.Locked))
				}
				return nil
			},
		},
		{
			Name:  "secret",
			Usage: "store, read, list and delete secrets",
			Subcommands: []*cli.Command{
				st.secretSet(), st.secretGet(), st.secretList(), st.secretDelete(),
			},
		},
		st.envCommand(),
		st.exportCommand(),
	}
}

func (st *state) unlock(c *cli.Context, profiles []string) error {
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	var ps api.ProfilesReply
	if err := cl.Call(c.Context, api.SecretsProfiles, "", nil, &ps); err != nil {
		return busError(err, "")
	}
	state := map[string]bool{}
	for _, p := range ps.Profiles {
		state[p.Name] = p.Unlocked
	}
	for _, p := range profiles {
		unlocked, exists := state[p]
		if !exists {
			return withHint(fmt.Errorf("unlock: no profile %q", p), "create it: sesame profile create "+p)
		}
		if unlocked {
			fmt.Fprintf(st.e.Stderr, "sesame: profile %q is already unlocked\n", p)
			continue
		}
		if err := st.unlockOne(c.Context, cl, p); err != nil {
			return err
		}
		fmt.Fprintf(st.e.Stderr, "sesame: unlocked %q\n", p)
	}
	return nil
}

func (st *state) unlockOne(ctx context.Context, cl *bus.Client, p string) error {
	pw, err := st.readPassword(fmt.Sprintf("password for profile %q", p), false)
	if err != nil {
		return fmt.Errorf("unlock %q: %w", p, err)
	}
	defer pw.Destroy()
	sealed, err := sealTo(cl, api.AD(api.SecretsUnlock, p), pw.Bytes())
	if err != nil {
		return err
	}
	if err := cl.Call(ctx, api.SecretsUnlock, p, &api.UnlockRequest{Sealed: sealed}, nil); err != nil {
		return fmt.Errorf("unlock %q: %w", p, busError(err, p))
	}
	return nil
}

func (st *state) profileCommand() *cli.Command {
	return &cli.Command{
		Name:  "profile",
		Usage: "create, list and delete trust profiles",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a profile and its vault",
				ArgsUsage: "PROFILE",
				Flags:     kdfFlags(),
				Action: func(c *cli.Context) error {
					a, err := args(c, 1, "profile create [--kdf-time N] [--kdf-memory MiB] PROFILE")
					if err != nil {
						return err
					}
					return st.createProfile(c, a[0])
				},
			},
			{
				Name:  "list",
				Usage: "list profiles and whether each is unlocked",
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
					var r api.ProfilesReply
					if err := cl.Call(c.Context, api.SecretsProfiles, "", nil, &r); err != nil {
						return busError(err, "")
					}
					if c.Bool("json") {
						type pj struct {
							Name     string `json:"name"`
							Unlocked bool   `json:"unlocked"`
							Secrets  *int   `json:"secrets"`
						}
						out := []pj{}
						for _, p := range r.Profiles {
							j := pj{Name: p.Name, Unlocked: p.Unlocked}
							if p.Secrets >= 0 {
								n := p.Secrets
								j.Secrets = &n
							}
							out = append(out, j)
						}
						return json.NewEncoder(st.e.Stdout).Encode(out)
					}
					w := st.e.Stdout
					tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
					for _, p := range r.Profiles {
						if p.Unlocked {
							fmt.Fprintf(tw, "%s\t%s\t%d secrets\n", p.Name, st.colour(w, "32", "unlocked"), p.Secrets)
						} else {
							fmt.Fprintf(tw, "%s\t%s\t\n", p.Name, st.colour(w, "33", "locked"))
						}
					}
					return tw.Flush()
				},
			},
			{
				Name:      "delete",
				Usage:     "delete a profile's vault and every secret in it",
				ArgsUsage: "PROFILE",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "do not ask"}},
				Action: func(c *cli.Context) error {
					a, err := args(c, 1, "profile delete [--yes] PROFILE")
					if err != nil {
						return err
					}
					p := a[0]
					if !c.Bool("yes") {
						ok, err := st.confirm(fmt.Sprintf("delete profile %q and every secret in it?", p))
						if err != nil {
							return err
						}
						if !ok {
							fmt.Fprintln(st.e.Stderr, "sesame: cancelled")
							return nil
						}
					}
					cl, err := st.dial(c.Context)
					if err != nil {
						return err
					}
					defer cl.Close()
					if err := cl.Call(c.Context, api.SecretsDrop, p, nil, nil); err != nil {
						return fmt.Errorf("profile delete %q: %w", p, busError(err, p))
					}
					fmt.Fprintf(st.e.Stderr, "sesame: deleted profile %q\n", p)
					return nil
				},
			},
		},
	}
}

func (st *state) secretSet() *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "store a secret (value from a hidden prompt, all of stdin, or --from-file)",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			profileFlag("the profile"),
			&cli.StringFlag{Name: "from-file", Usage: "read the value from `FILE`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 && c.Args().Get(1)[0] != '-' {
				return usagef("secret set takes one NAME (the value is never an argument: it is read from a prompt, stdin or --from-file)")
			}
			a, err := args(c, 1, "secret set [-p PROFILE] [--from-file FILE] NAME")
			if err != nil {
				return err
			}
			name := a[0]
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			var val *secmem.Buf
			switch {
			case c.String("from-file") != "":
				f, err := os.Open(c.String("from-file"))
				if err != nil {
					return fmt.Errorf("secret set: %w", err)
				}
				val, err = readAll(f, maxValue)
				f.Close()
				if err != nil {
					return fmt.Errorf("secret set: %s: %w", c.String("from-file"), err)
				}
			case st.stdinIsTerminal():
				f, _ := st.stdinFile()
				val, err = readHidden(f, st.e.Stderr, fmt.Sprintf("value of %q: ", name))
			default:
				val, err = readAll(st.e.Stdin, maxValue)
			}
			if err != nil {
				return fmt.Errorf("secret set: %w", err)
			}
			defer val.Destroy()
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			sealed, err := sealTo(cl, api.AD(api.SecretsSet, p, name), val.Bytes())
			if err != nil {
				return err
			}
			if err := cl.Call(c.Context, api.SecretsSet, p, &api.SetRequest{Name: name, Sealed: sealed}, nil); err != nil {
				return fmt.Errorf("secret set %q: %w", name, busError(err, p))
			}
			return nil
		},
	}
}

func (st *state) secretGet() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print a secret's value (raw bytes; a newline is added only on a terminal)",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{profileFlag("the profile")},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, "secret get [-p PROFILE] NAME")
			if err != nil {
				return err
			}
			name := a[0]
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			buf, ents, err := fetch(c.Context, cl, p, []string{name})
			if err != nil {
				return fmt.Errorf("secret get %q: %w", name, err)
			}
			defer buf.Destroy()
			if len(ents) != 1 {
				return fmt.Errorf("secret get %q: the secrets role sent %d values", name, len(ents))
			}
			v := ents[0].Value
			if _, err := st.e.Stdout.Write(v); err != nil {
				return err
			}
			if isTerminal(st.e.Stdout) && (len(v) == 0 || v[len(v)-1] != '\n') {
				fmt.Fprintln(st.e.Stdout)
			}
			return nil
		},
	}
}

func (st *state) secretList() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the names of a profile's secrets",
		Flags: []cli.Flag{profileFlag("the profile"), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			var r api.ListReply
			if err := cl.Call(c.Context, api.SecretsList, p, nil, &r); err != nil {
				return fmt.Errorf("secret list: %w", busError(err, p))
			}
			if c.Bool("json") {
				if r.Names == nil {
					r.Names = []string{}
				}
				return json.NewEncoder(st.e.Stdout).Encode(r.Names)
			}
			var b strings.Builder
			for _, n := range r.Names {
				b.WriteString(n)
				b.WriteByte('\n')
			}
			_, err = st.e.Stdout.Write([]byte(b.String()))
			return err
		},
	}
}

func (st *state) secretDelete() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a secret",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{profileFlag("the profile"), &cli.BoolFlag{Name: "yes", Usage: "do not ask"}},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, "secret delete [-p PROFILE] [--yes] NAME")
			if err != nil {
				return err
			}
			name := a[0]
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			if !c.Bool("yes") {
				ok, err := st.confirm(fmt.Sprintf("delete secret %q from profile %q?", name, p))
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(st.e.Stderr, "sesame: cancelled")
					return nil
				}
			}
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := cl.Call(c.Context, api.SecretsDelete, p, &api.NameRequest{Name: name}, nil); err != nil {
				return fmt.Errorf("secret delete %q: %w", name, busError(err, p))
			}
			return nil
		},
	}
}

var errNoCommand = errors.New("env: no command given (usage: sesame env -p PROFILE -- CMD ARGS…)")
