package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"filippo.io/age"
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/secmem"
	"github.com/open-sesame/sesame/vault"
	"github.com/urfave/cli/v2"
)

// maxValue bounds one secret value (the vault's own limit).
const maxValue = 1 << 20

func profileFlag(usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: "profile", Aliases: []string{"p"}, Usage: usage}
}

// profiles resolves -p: a comma-separated list, else $SESAME_PROFILES, else the allowed
// directory profile, else the hub's default profile, else "default" (see resolve).
func (st *state) profiles(c *cli.Context) []string {
	return st.resolve(c).Profiles
}

// profile resolves -p to exactly one profile.
func (st *state) profile(c *cli.Context) (string, error) {
	ps := st.profiles(c)
	if len(ps) != 1 {
		return "", usagef("%s takes one profile, not %s", c.Command.FullName(), joinQuoted(ps))
	}
	return ps[0], nil
}

// session resolves the one profile a command works on and connects to the hub, reusing the
// connection resolving the default profile may have opened. The caller closes the client.
func (st *state) session(c *cli.Context) (string, *bus.Client, error) {
	p, err := st.profile(c)
	if err != nil {
		return "", nil, err
	}
	cl, err := st.dial(c.Context)
	if err != nil {
		return "", nil, err
	}
	return p, cl, nil
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

// createFlags are the flags of init and profile create: the factors and the policy.
func createFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "factor", Usage: "an unlock factor: password, ssh-agent or age; repeat for several (default: password)"},
		&cli.StringFlag{Name: "policy", Usage: "which factors unlock it: any, all or `K-of-N` (default: any)"},
		&cli.StringFlag{Name: "key", Usage: "ssh-agent: the key's `FINGERPRINT` (SHA256:…), when the agent holds several"},
		&cli.StringFlag{Name: "recipient", Usage: "age: the identity's `RECIPIENT` (age1…)"},
		identityFlag("age: the identity `FILE` (its recipient is used)"),
	}, kdfFlags()...)
}

// createProfile asks the secrets role to create a vault with the factors of --factor under
// --policy; without them, the profile's auth.factors and auth.policy in the configuration
// (a password, "any", by default). When policy locks those, a vault that does not keep to
// them is refused here, before anything is asked (and again by the secrets role). Every
// input is made here first: passwords read, the ssh-agent's signature of a fresh challenge
// (twice, to see that it is deterministic), the age recipient; the role draws the age
// factor's key itself.
func (st *state) createProfile(c *cli.Context, profile string) error {
	fail := func(err error) error { return fmt.Errorf("create profile %q: %w", profile, err) }
	// Flags that cannot be right are said so before anything connects (and starts sesame).
	if p := c.String("policy"); p != "" {
		if _, _, err := vault.ParsePolicy(p); err != nil {
			return usagef("create profile %q: %v", profile, stripInvalid(err))
		}
	}
	for _, t := range c.StringSlice("factor") {
		if err := factorType(profile, t); err != nil {
			return err
		}
	}
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	var cfg api.ConfigPush
	if err := cl.Call(c.Context, api.HubConfig, "", nil, &cfg); err != nil {
		return fail(fmt.Errorf("read the configuration: %w", err))
	}
	auth := cfg.AuthFor(profile)
	types := c.StringSlice("factor")
	if len(types) == 0 {
		types = auth.Factors
	}
	if len(types) == 0 {
		types = []string{api.FactorPassword}
	}
	policy := c.String("policy")
	if policy == "" {
		policy = auth.Policy
	}
	if policy == "" {
		policy = "any"
	}
	pol, n, err := vault.ParsePolicy(policy)
	if err != nil {
		return usagef("create profile %q: %v", profile, stripInvalid(err))
	}
	if n != 0 && n != len(types) {
		return usagef("create profile %q: policy %s, but %d factors (--factor)", profile, policy, len(types))
	}
	if _, err := pol.Threshold(len(types)); err != nil {
		return usagef("create profile %q: %v", profile, stripInvalid(err))
	}
	if err := auth.Check(profile, pol.Format(len(types)), types); err != nil {
		return withHint(fmt.Errorf("create profile %q: %w", profile, err), "run: sesame config show --origin | grep auth")
	}
	nfs := make([]api.NewFactor, len(types))
	ents := map[string]*secmem.Buf{}
	defer func() {
		for _, b := range ents {
			b.Destroy()
		}
	}()
	passwords := 0
	for _, t := range types {
		if t == api.FactorPassword {
			passwords++
		}
	}
	seen := map[string]bool{}
	for i, t := range types {
		switch t {
		case api.FactorPassword:
			prompt := fmt.Sprintf("new password for profile %q", profile)
			if passwords > 1 {
				prompt = fmt.Sprintf("new password %d for profile %q", i+1, profile)
			}
			pw, err := st.readPassword(prompt, true)
			if err != nil {
				return fail(err)
			}
			ents[api.NewFactorEntry(i)] = pw
			nfs[i] = api.NewFactor{Type: t, KDFTime: uint32(c.Uint("kdf-time")), KDFMemoryKiB: uint32(c.Uint("kdf-memory")) * 1024}
		case api.FactorSSHAgent:
			if seen[t] {
				return usagef("create profile %q: one ssh-agent factor at creation (add more with: sesame factor add)", profile)
			}
			nf, sig, err := st.enrolAgentKey(profile, c.String("key"), "")
			if err != nil {
				return fail(err)
			}
			ents[api.NewFactorEntry(i)] = sig
			nfs[i] = *nf
		case api.FactorAge:
			if seen[t] {
				return usagef("create profile %q: one age factor at creation (add more with: sesame factor add)", profile)
			}
			r := c.String("recipient")
			if r == "" {
				files := slices.DeleteFunc(c.StringSlice("identity"), func(s string) bool { return s == "" })
				if len(files) == 0 {
					return usagef("create profile %q: --factor age needs --recipient age1… or --identity FILE", profile)
				}
				ids, err := loadIdentities(files[:1])
				if err != nil {
					return fail(err)
				}
				if r, err = recipientOf(ids); err != nil {
					return fail(err)
				}
			}
			nfs[i] = api.NewFactor{Type: t, Recipient: r}
		default:
			return factorType(profile, t)
		}
		seen[t] = true
	}
	sealed, err := sealEntries(cl, api.AD(api.SecretsCreateFactors, profile), ents)
	if err != nil {
		return err
	}
	req := &api.CreateFactorsRequest{Policy: policy, Factors: nfs, Sealed: sealed}
	if err := cl.Call(c.Context, api.SecretsCreateFactors, profile, req, nil); err != nil {
		if bus.ErrCode(err) == bus.CodeExists {
			return withHint(fail(err), "to start over, delete it first: sesame profile delete "+profile)
		}
		return fail(busError(err, profile))
	}
	if len(types) == 1 && types[0] == api.FactorPassword && pol.Format(1) == "any" {
		fmt.Fprintf(st.e.Stderr, "sesame: created profile %q (unlocked)\n", profile)
	} else {
		fmt.Fprintf(st.e.Stderr, "sesame: created profile %q (unlocked; factors %s, policy %s)\n", profile, strings.Join(types, ", "), pol.Format(len(types)))
	}
	return nil
}

// factorType refuses a factor type that is not one.
func factorType(profile, t string) error {
	switch t {
	case api.FactorPassword, api.FactorSSHAgent, api.FactorAge:
		return nil
	}
	return usagef("create profile %q: unknown factor %q (want password, ssh-agent or age)", profile, t)
}

func (st *state) secretCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "init",
			Usage:     "create sesame's directories and a profile's vault (default: \"default\")",
			ArgsUsage: " ",
			Description: `Asks for a password (twice on a terminal; one line of standard input otherwise)
and creates the profile's encrypted vault. It never touches a vault that exists.
With --factor (repeatable) the vault gets other unlock factors instead or as well:
an ssh-agent key (--key), an age identity (--recipient or --identity); --policy
says which of them unlock it: any, all or K-of-N. Without them, the profile's
auth.factors and auth.policy in the configuration apply (a password, any, by
default); where [[policy]] locks those, a vault that does not keep to them is refused.`,
			Flags: append([]cli.Flag{profileFlag("the profile to create")}, createFlags()...),
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
			Usage: "unlock profiles' vaults (ssh-agent and age factors first, then passwords from a prompt or one line of stdin each)",
			Description: `For each profile, the factors that need no typing come first: an ssh-agent
($SSH_AUTH_SOCK) holding an enrolled key signs the vault's challenge, and an age
identity (--identity, or $SESAME_AGE_IDENTITY) decrypts an age factor's key. Then
the passwords still needed by the policy are asked for (a prompt, or one line of
standard input each, in factor-id order). When the policy needs a factor that is
not available and cannot be typed, unlock says which and asks for nothing.`,
			Flags: []cli.Flag{profileFlag("profiles to unlock, comma-separated"), identityFlag("age identity `FILE`s, for age factors")},
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
	ids, err := loadIdentities(c.StringSlice("identity"))
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, p := range profiles {
		info, err := factorInfo(c.Context, cl, p)
		if bus.ErrCode(err) == bus.CodeNoProfile {
			return withHint(fmt.Errorf("unlock: no profile %q", p), "create it: sesame profile create "+p)
		}
		if err != nil {
			return fmt.Errorf("unlock %q: %w", p, busError(err, p))
		}
		if info.Unlocked {
			fmt.Fprintf(st.e.Stderr, "sesame: profile %q is already unlocked\n", p)
			continue
		}
		used, err := st.unlockOne(c.Context, cl, p, info, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(st.e.Stderr, "sesame: unlocked %q with %s\n", p, strings.Join(used, ", "))
	}
	return nil
}

// unlockOne unlocks one vault: it collects the inputs the policy needs (non-interactive
// factors first, then password prompts) and sends them sealed. It returns the factors used.
func (st *state) unlockOne(ctx context.Context, cl *bus.Client, p string, info *api.FactorsReply, ids []age.Identity) ([]string, error) {
	in := st.newInputs(p, info, ids)
	defer in.destroy()
	if err := in.unlockInputs(); err != nil {
		return nil, fmt.Errorf("unlock %q: %w", p, err)
	}
	sealed, err := sealEntries(cl, api.AD(api.SecretsUnlockFactors, p), in.got)
	if err != nil {
		return nil, err
	}
	if err := cl.Call(ctx, api.SecretsUnlockFactors, p, &api.UnlockFactorsRequest{Sealed: sealed}, nil); err != nil {
		return nil, fmt.Errorf("unlock %q: %w", p, busError(err, p))
	}
	var used []string
	for id := range in.got {
		used = append(used, id)
	}
	slices.Sort(used)
	return used, nil
}

func (st *state) profileCommand() *cli.Command {
	return &cli.Command{
		Name:  "profile",
		Usage: "create, list and delete trust profiles",
		Subcommands: append([]*cli.Command{
			{
				Name:      "create",
				Usage:     "create a profile and its vault",
				ArgsUsage: "PROFILE",
				Flags:     createFlags(),
				Action: func(c *cli.Context) error {
					a, err := args(c, 1, "profile create [--factor TYPE]… [--policy POLICY] [--key FP] [--recipient R | --identity FILE] [--kdf-time N] [--kdf-memory MiB] PROFILE")
					if err != nil {
						return err
					}
					return st.createProfile(c, a[0])
				},
			},
			{
				Name:  "list",
				Usage: "list profiles and whether each is unlocked or deactivated",
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
					var cur api.CurrentReply
					if err := cl.Call(c.Context, api.HubCurrent, "", nil, &cur); err != nil {
						return err
					}
					inactive := func(p string) bool { return slices.Contains(cur.Inactive, p) }
					if c.Bool("json") {
						type pj struct {
							Name     string `json:"name"`
							Unlocked bool   `json:"unlocked"`
							Active   bool   `json:"active"`
							Secrets  *int   `json:"secrets"`
						}
						out := []pj{}
						for _, p := range r.Profiles {
							j := pj{Name: p.Name, Unlocked: p.Unlocked, Active: !inactive(p.Name)}
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
						switch {
						case inactive(p.Name):
							fmt.Fprintf(tw, "%s\t%s\t\n", p.Name, st.colour(w, "2", "locked, deactivated"))
						case p.Unlocked:
							fmt.Fprintf(tw, "%s\t%s\t%d secrets\n", p.Name, st.colour(w, "32", "unlocked"), p.Secrets)
						default:
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
		}, st.profileSubcommands()...),
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
			p, cl, err := st.session(c)
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
			p, cl, err := st.session(c)
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
