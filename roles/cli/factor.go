package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/secmem"
	"github.com/open-sesame/sesame/vault"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Unlock factors.
//
// The CLI computes every factor's input, because it runs as the user with the user's
// credentials and the secrets role is sandboxed away from them: it reads passwords, asks the
// ssh-agent at $SSH_AUTH_SOCK to sign the bytes vault.SSHSignedData(profile, challenge) (built
// here, never taken from the role, so nothing can use this as a signing oracle), and decrypts
// an age factor's file with the identities given by --identity. The inputs travel sealed to the
// secrets role, which checks and uses them.
//
// `sesame unlock` tries the non-interactive factors first (an ssh-agent that holds an enrolled
// key, an --identity that decrypts an age factor) and prompts only for the passwords still
// needed to satisfy the policy, in factor-id order (one line of stdin each when stdin is not a
// terminal). When what is missing cannot be prompted for (policy "all" and no agent), it says
// so and prompts for nothing.

const agentTimeout = 30 * time.Second // long enough for an ssh-add -c confirmation

// identityFlag is --identity, repeatable; SESAME_AGE_IDENTITY is a comma-separated fallback.
func identityFlag(usage string) *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: "identity", Aliases: []string{"i"}, EnvVars: []string{"SESAME_AGE_IDENTITY"}, Usage: usage}
}

// lineage returns the value of a string flag set on this command or the nearest parent that
// set it (the factor subcommands take -p before or after the type).
func lineage(c *cli.Context, name string) string {
	for _, x := range c.Lineage() {
		if slices.Contains(x.LocalFlagNames(), name) {
			return x.String(name)
		}
	}
	return ""
}

// lineageSlice is lineage for a repeatable flag (or its environment variable).
func lineageSlice(c *cli.Context, name string) []string {
	for _, x := range c.Lineage() {
		if v := slices.DeleteFunc(x.StringSlice(name), func(s string) bool { return s == "" }); len(v) > 0 && x.IsSet(name) {
			return v
		}
	}
	return nil
}

// factorProfile resolves -p for the factor commands, which take it before or after the
// factor type; without it, the profile is resolved as for every command (st.profile).
func (st *state) factorProfile(c *cli.Context) (string, error) {
	if spec := lineage(c, "profile"); spec != "" {
		ps := splitProfiles(spec)
		if len(ps) != 1 {
			return "", usagef("%s takes one profile, not %q", c.Command.FullName(), spec)
		}
		return ps[0], nil
	}
	return st.profile(c)
}

// ---- ssh-agent ----

// sshAgent is a connection to the user's ssh-agent.
type sshAgent struct {
	agent.ExtendedAgent
	conn net.Conn
}

func (st *state) dialAgent() (*sshAgent, error) {
	sock := st.e.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, errors.New("SSH_AUTH_SOCK is not set")
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the ssh-agent at %s: %v", sock, err)
	}
	conn.SetDeadline(time.Now().Add(agentTimeout))
	return &sshAgent{ExtendedAgent: agent.NewClient(conn), conn: conn}, nil
}

func (a *sshAgent) Close() { a.conn.Close() }

// sign has the agent sign the factor data for profile and challenge with key, using alg, and
// returns the signature blob in secure memory. It checks the format and the signature itself.
// x/crypto's agent client holds the reply on the heap; the blob is copied and wiped there.
func (a *sshAgent) sign(key ssh.PublicKey, alg, profile string, challenge []byte) (*secmem.Buf, error) {
	var flags agent.SignatureFlags
	if alg == vault.SSHAlgRSASHA256 {
		flags = agent.SignatureFlagRsaSha256
	}
	data := vault.SSHSignedData(profile, challenge)
	sig, err := a.SignWithFlags(key, data, flags)
	if err != nil {
		return nil, fmt.Errorf("the ssh-agent did not sign with %s: %v", ssh.FingerprintSHA256(key), err)
	}
	defer secmem.Wipe(sig.Blob)
	if sig.Format != alg {
		return nil, fmt.Errorf("the ssh-agent signed with %s, not %s (is it too old for rsa-sha2-256?)", sig.Format, alg)
	}
	if err := key.Verify(data, sig); err != nil {
		return nil, fmt.Errorf("the ssh-agent's signature by %s does not verify", ssh.FingerprintSHA256(key))
	}
	return secmem.FromBytes(bytes.Clone(sig.Blob))
}

// pickAgentKey chooses the agent key to enrol: the one with fingerprint fp, or the only
// usable one. ECDSA and other refused keys are named with the reason.
func (a *sshAgent) pickAgentKey(fp string) (*agent.Key, string, error) {
	keys, err := a.List()
	if err != nil {
		return nil, "", fmt.Errorf("ssh-agent: %v", err)
	}
	if len(keys) == 0 {
		return nil, "", withHint(errors.New("the ssh-agent holds no key"), "add one: ssh-add ~/.ssh/id_ed25519")
	}
	if fp != "" {
		for _, k := range keys {
			if ssh.FingerprintSHA256(k) == fp || ssh.FingerprintLegacyMD5(k) == strings.TrimPrefix(fp, "MD5:") {
				alg, err := vault.SSHAlgorithm(k)
				if err != nil {
					return nil, "", fmt.Errorf("%s (%s): %w", fp, k.Comment, stripInvalid(err))
				}
				return k, alg, nil
			}
		}
		return nil, "", withHint(fmt.Errorf("the ssh-agent holds no key %s", fp), "see: ssh-add -l")
	}
	var usable []*agent.Key
	var refused []string
	var lastErr error
	for _, k := range keys {
		if _, err := vault.SSHAlgorithm(k); err != nil {
			refused = append(refused, ssh.FingerprintSHA256(k)+" "+k.Type())
			lastErr = err
			continue
		}
		usable = append(usable, k)
	}
	switch len(usable) {
	case 0:
		return nil, "", fmt.Errorf("no key in the ssh-agent can unlock a vault (%s): %w", strings.Join(refused, ", "), stripInvalid(lastErr))
	case 1:
		alg, _ := vault.SSHAlgorithm(usable[0])
		return usable[0], alg, nil
	}
	var names []string
	for _, k := range usable {
		names = append(names, fmt.Sprintf("%s (%s %s)", ssh.FingerprintSHA256(k), k.Type(), k.Comment))
	}
	return nil, "", withHint(fmt.Errorf("the ssh-agent holds %d usable keys: %s", len(usable), strings.Join(names, ", ")), "choose one with --key SHA256:…")
}

// stripInvalid drops vault's "invalid " prefix from an error meant for the user.
func stripInvalid(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.TrimPrefix(err.Error(), vault.ErrInvalid.Error()+" "))
}

// enrolAgentKey makes the public part and the input of a new ssh-agent factor: a random
// challenge, and the agent's signature over it, which must come out the same twice (a
// non-deterministic signer could never unlock again).
func (st *state) enrolAgentKey(profile, fp, label string) (*api.NewFactor, *secmem.Buf, error) {
	a, err := st.dialAgent()
	if err != nil {
		return nil, nil, err
	}
	defer a.Close()
	key, alg, err := a.pickAgentKey(fp)
	if err != nil {
		return nil, nil, err
	}
	challenge := make([]byte, vault.SSHChallengeLen)
	rand.Read(challenge)
	sig, err := a.sign(key, alg, profile, challenge)
	if err != nil {
		return nil, nil, err
	}
	again, err := a.sign(key, alg, profile, challenge)
	if err != nil {
		sig.Destroy()
		return nil, nil, err
	}
	same := sig.Equal(again.Bytes())
	again.Destroy()
	if !same {
		sig.Destroy()
		return nil, nil, fmt.Errorf("the ssh-agent signs non-deterministically with %s: it cannot derive a key", ssh.FingerprintSHA256(key))
	}
	if label == "" {
		label = key.Comment
		if label == "" {
			label = key.Type()
		}
		if len(label) > 255 {
			label = strings.ToValidUTF8(label[:255], "")
		}
	}
	return &api.NewFactor{Type: api.FactorSSHAgent, Label: label, PublicKey: key.Marshal(), Challenge: challenge}, sig, nil
}

// ---- age ----

// loadIdentities reads age identity files (age-keygen's format). The keys are parsed onto
// the Go heap by filippo.io/age; they live as long as this short process.
func loadIdentities(paths []string) ([]age.Identity, error) {
	var out []age.Identity
	for _, p := range paths {
		if p == "" {
			continue // SESAME_AGE_IDENTITY= (set but empty)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("age identity: %w", err)
		}
		ids, err := age.ParseIdentities(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("age identity %s: %v", p, err)
		}
		out = append(out, ids...)
	}
	return out, nil
}

// recipientOf returns the recipient of the one X25519 identity in ids.
func recipientOf(ids []age.Identity) (string, error) {
	var rs []string
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			rs = append(rs, x.Recipient().String())
		}
	}
	if len(rs) != 1 {
		return "", fmt.Errorf("the identity file holds %d X25519 identities; give exactly one, or --recipient age1…", len(rs))
	}
	return rs[0], nil
}

// ---- inputs ----

// inputs collects factor inputs for one vault.
type inputs struct {
	st         *state
	profile    string
	info       *api.FactorsReply
	identities []age.Identity
	got        map[string]*secmem.Buf
	why        map[string]string // why a non-interactive factor is unavailable
	agent      *sshAgent
	agentErr   error
}

func (st *state) newInputs(profile string, info *api.FactorsReply, identities []age.Identity) *inputs {
	return &inputs{st: st, profile: profile, info: info, identities: identities, got: map[string]*secmem.Buf{}, why: map[string]string{}}
}

func (in *inputs) destroy() {
	for _, b := range in.got {
		b.Destroy()
	}
	if in.agent != nil {
		in.agent.Close()
	}
}

func (in *inputs) factor(id string) *api.FactorInfo {
	for i := range in.info.Factors {
		if in.info.Factors[i].ID == id {
			return &in.info.Factors[i]
		}
	}
	return nil
}

// auto gets the inputs of the non-interactive factors among ids: ssh-agent signatures when
// the agent holds the key, age keys when an identity decrypts the file.
func (in *inputs) auto(ids []string) {
	for _, id := range ids {
		f := in.factor(id)
		if f == nil || in.got[id] != nil {
			continue
		}
		switch f.Type {
		case api.FactorSSHAgent:
			if in.agent == nil && in.agentErr == nil {
				in.agent, in.agentErr = in.st.dialAgent()
			}
			if in.agentErr != nil {
				in.why[id] = in.agentErr.Error()
				continue
			}
			key, err := ssh.ParsePublicKey(f.PublicKey)
			if err != nil {
				in.why[id] = err.Error()
				continue
			}
			keys, err := in.agent.List()
			if err != nil {
				in.why[id] = "ssh-agent: " + err.Error()
				continue
			}
			if !slices.ContainsFunc(keys, func(k *agent.Key) bool { return bytes.Equal(k.Marshal(), f.PublicKey) }) {
				in.why[id] = "not in the ssh-agent"
				continue
			}
			sig, err := in.agent.sign(key, f.Algorithm, in.profile, f.Challenge)
			if err != nil {
				in.why[id] = err.Error()
				continue
			}
			in.got[id] = sig
		case api.FactorAge:
			if len(in.identities) == 0 {
				in.why[id] = "no --identity given"
				continue
			}
			k, err := vault.AgeDecryptKey(f.AgeFile, in.identities...)
			if err != nil {
				in.why[id] = "no --identity given decrypts it"
				continue
			}
			in.got[id] = k
		case api.FactorPassword:
		default:
			in.why[id] = "this sesame does not know factor type " + f.Type
		}
	}
}

// prompt reads the password of factor id.
func (in *inputs) prompt(id, what string) error {
	prompt := fmt.Sprintf("%s for profile %q", what, in.profile)
	if n := in.count(api.FactorPassword); n > 1 {
		f := in.factor(id)
		prompt = fmt.Sprintf("%s for profile %q, factor %q (%s)", what, in.profile, id, f.Label)
	}
	pw, err := in.st.readPassword(prompt, false)
	if err != nil {
		return err
	}
	in.got[id] = pw
	return nil
}

func (in *inputs) count(typ string) int {
	n := 0
	for _, f := range in.info.Factors {
		if f.Type == typ {
			n++
		}
	}
	return n
}

// describe names a factor for a message: its id, and what would make it available.
func (in *inputs) describe(id string) string {
	f := in.factor(id)
	s := fmt.Sprintf("%q", id)
	switch {
	case f == nil:
		return s
	case f.Type == api.FactorSSHAgent:
		s += " (ssh-agent key " + f.Fingerprint
	case f.Type == api.FactorAge:
		s += " (age identity of " + f.Recipient
	default:
		s += " (" + f.Type
	}
	if in.why[id] != "" {
		s += ": " + in.why[id]
	}
	return s + ")"
}

// satisfy makes sure the inputs hold every factor of need and at least total inputs in all
// among pool (need ⊆ pool): non-interactive factors first, then password prompts, in id
// order. It fails, before prompting, when the factors that cannot be prompted for make that
// impossible.
func (in *inputs) satisfy(need []string, pool []string, total int, what string) error {
	in.auto(pool)
	var lack []string
	for _, id := range need {
		if in.got[id] == nil && in.factor(id).Type != api.FactorPassword {
			lack = append(lack, in.describe(id))
		}
	}
	have := 0
	var prompts []string
	for _, id := range pool {
		switch {
		case in.got[id] != nil:
			have++
		case in.factor(id).Type == api.FactorPassword:
			prompts = append(prompts, id)
		}
	}
	// Passwords of need come first; then others, as many as still needed.
	slices.SortStableFunc(prompts, func(a, b string) int {
		return boolCmp(slices.Contains(need, b), slices.Contains(need, a))
	})
	var ask []string
	for _, id := range prompts {
		if slices.Contains(need, id) || have+len(ask) < total {
			ask = append(ask, id)
		}
	}
	if len(lack) > 0 || have+len(ask) < total {
		var missing []string
		if len(lack) > 0 {
			missing = lack
		} else {
			for _, id := range pool {
				if in.got[id] == nil && in.factor(id).Type != api.FactorPassword {
					missing = append(missing, in.describe(id))
				}
			}
		}
		return withHint(fmt.Errorf("policy %s: not enough factors available: missing %s", in.info.Policy, strings.Join(missing, ", ")), in.hint())
	}
	slices.Sort(ask)
	for _, id := range ask {
		if err := in.prompt(id, what); err != nil {
			return err
		}
	}
	return nil
}

// hint says how to make the missing non-interactive factors available.
func (in *inputs) hint() string {
	var h []string
	if in.count(api.FactorSSHAgent) > 0 {
		h = append(h, "start an ssh-agent (SSH_AUTH_SOCK) and ssh-add the key")
	}
	if in.count(api.FactorAge) > 0 {
		h = append(h, "pass --identity FILE (or set SESAME_AGE_IDENTITY) for the age factor")
	}
	return strings.Join(h, ", or ") + "; see: sesame factor list -p " + in.profile
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// seal seals the inputs (and extra, named entries) to the secrets role with ad.
func sealEntries(cl *bus.Client, ad []byte, ents map[string]*secmem.Buf) ([]byte, error) {
	if len(ents) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(ents))
	size := 0
	for n, b := range ents {
		names = append(names, n)
		size += api.EntrySize(n, b.Len())
	}
	slices.Sort(names)
	buf, err := secmem.New(size)
	if err != nil {
		return nil, err
	}
	defer buf.Destroy()
	b := buf.Bytes()[:0]
	for _, n := range names {
		b = api.AppendEntry(b, n, ents[n].Bytes())
	}
	return sealTo(cl, ad, b)
}

// factorInfo asks the secrets role for a vault's factors.
func factorInfo(ctx context.Context, cl *bus.Client, profile string) (*api.FactorsReply, error) {
	var r api.FactorsReply
	if err := cl.Call(ctx, api.SecretsFactors, profile, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func factorIDs(info *api.FactorsReply) []string {
	ids := make([]string, len(info.Factors))
	for i, f := range info.Factors {
		ids[i] = f.ID
	}
	return ids
}

// unlockInputs collects what unlocks the vault described by info.
func (in *inputs) unlockInputs() error {
	ids := factorIDs(in.info)
	pol, _, err := vault.ParsePolicy(in.info.Policy)
	if err != nil {
		return err
	}
	t, err := pol.Threshold(len(ids))
	if err != nil {
		return err
	}
	var need []string
	if t == len(ids) {
		need = ids
	}
	return in.satisfy(need, ids, t, "password")
}

// ---- the command ----

func (st *state) factorCommand() *cli.Command {
	common := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{
			profileFlag("the profile"),
			&cli.StringFlag{Name: "label", Usage: "a `LABEL` shown by factor list"},
			&cli.StringFlag{Name: "policy", Usage: "also set the policy: any, all or `K-of-N` (default: keep; K-of-N keeps K)"},
			identityFlag("age identity `FILE`s, for existing age factors"),
		}, extra...)
	}
	add := func(typ, usage, args string, extra []cli.Flag, desc string) *cli.Command {
		return &cli.Command{
			Name: typ, Usage: usage, ArgsUsage: " ", Flags: common(extra...), Description: desc,
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return usagef("usage: sesame factor add [-p PROFILE] %s%s", typ, args)
				}
				return st.factorAdd(c, typ)
			},
		}
	}
	return &cli.Command{
		Name:  "factor",
		Usage: "list, add and remove a vault's unlock factors, and set its policy",
		Description: `Factors: password (Argon2id), ssh-agent (an Ed25519 or RSA key in the running
ssh-agent signs a per-vault challenge; ECDSA is refused), age (an X25519 identity
decrypts a per-vault key). Policies: any (one factor), all (every factor together),
K-of-N (any K). Every policy is enforced by the vault's encryption, not by a check.
Changes need the vault unlocked; a change that seals new wraps over existing factors
(under "all", for example) asks for those factors again.`,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the factors and the policy",
				Flags: []cli.Flag{profileFlag("the profile"), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return st.factorList(c)
				},
			},
			{
				Name:      "add",
				Usage:     "add a factor (the vault must be unlocked)",
				ArgsUsage: "password|ssh-agent|age",
				Flags:     common(),
				Subcommands: []*cli.Command{
					add("password", "add a password", " [--kdf-time N] [--kdf-memory MiB]", kdfFlags(),
						"Asks for the new password (twice on a terminal; one line of stdin otherwise), then for\nthe passwords of existing factors the change needs."),
					add("ssh-agent", "add a key held by the ssh-agent ($SSH_AUTH_SOCK)", " [--key SHA256:…]",
						[]cli.Flag{&cli.StringFlag{Name: "key", Usage: "the key's `FINGERPRINT` (see ssh-add -l); needed when the agent holds several"}},
						"The agent signs a random challenge twice (the signatures must match: Ed25519 and RSA\nwith rsa-sha2-256 do; ECDSA does not and is refused). The private key never leaves\nthe agent."),
					add("age", "add an age X25519 identity", " --recipient age1… | --identity FILE",
						[]cli.Flag{&cli.StringFlag{Name: "recipient", Usage: "the identity's `RECIPIENT` (age1…)"}},
						"The secrets role draws a random key and encrypts it to the recipient. With --identity,\nthe recipient is that identity's (the file must hold one X25519 identity), and the\nnew factor is checked to decrypt with it."),
				},
				Action: func(c *cli.Context) error {
					return usagef("usage: sesame factor add [-p PROFILE] password|ssh-agent|age [FLAGS]")
				},
			},
			{
				Name:      "remove",
				Usage:     "remove a factor (never the last one)",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{profileFlag("the profile"), &cli.StringFlag{Name: "policy", Usage: "also set the policy: any, all or `K-of-N`"}, identityFlag("age identity `FILE`s, for existing age factors")},
				Action: func(c *cli.Context) error {
					a, err := args(c, 1, "factor remove [-p PROFILE] [--policy POLICY] ID")
					if err != nil {
						return err
					}
					return st.factorChange(c, api.SecretsFactorRemove, nil, a[0], c.String("policy"))
				},
			},
			{
				Name:      "policy",
				Usage:     "set the policy: any, all or K-of-N",
				ArgsUsage: "any|all|K-of-N",
				Flags:     []cli.Flag{profileFlag("the profile"), identityFlag("age identity `FILE`s, for existing age factors")},
				Action: func(c *cli.Context) error {
					a, err := args(c, 1, "factor policy [-p PROFILE] any|all|K-of-N")
					if err != nil {
						return err
					}
					return st.factorChange(c, api.SecretsFactorPolicy, nil, "", a[0])
				},
			},
		},
	}
}

func (st *state) factorList(c *cli.Context) error {
	p, cl, err := st.session(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	info, err := factorInfo(c.Context, cl, p)
	if err != nil {
		return fmt.Errorf("factor list: %w", busError(err, p))
	}
	var cfg api.ConfigPush
	if err := cl.Call(c.Context, api.HubConfig, "", nil, &cfg); err != nil {
		return fmt.Errorf("factor list: read the configuration: %w", err)
	}
	auth := cfg.AuthFor(p)
	types := make([]string, len(info.Factors))
	for i, f := range info.Factors {
		types[i] = f.Type
	}
	// What [[policy]] locks, and whether the vault keeps to it (one made before the lock
	// may not: its next factor change must bring it into line).
	var locks []string
	if auth.PolicyLock != "" {
		locks = append(locks, fmt.Sprintf("policy %s (%s)", auth.Policy, auth.PolicyLock))
	}
	if auth.FactorsLock != "" {
		locks = append(locks, fmt.Sprintf("factors %s (%s)", strings.Join(auth.Factors, ", "), auth.FactorsLock))
	}
	conformErr := auth.Check(p, info.Policy, types)
	detail := func(f api.FactorInfo) string {
		switch f.Type {
		case api.FactorPassword:
			return f.KDF
		case api.FactorSSHAgent:
			return f.Fingerprint + " " + f.Algorithm
		case api.FactorAge:
			return f.Recipient
		}
		return "(unknown type)"
	}
	if c.Bool("json") {
		type fj struct {
			ID          string `json:"id"`
			Type        string `json:"type"`
			Label       string `json:"label"`
			KDF         string `json:"kdf,omitempty"`
			Fingerprint string `json:"fingerprint,omitempty"`
			Algorithm   string `json:"algorithm,omitempty"`
			Recipient   string `json:"recipient,omitempty"`
		}
		out := struct {
			Policy   string   `json:"policy"`
			Unlocked bool     `json:"unlocked"`
			Factors  []fj     `json:"factors"`
			Locked   []string `json:"locked_by_policy"`
			Conforms bool     `json:"conforms"`
		}{Policy: info.Policy, Unlocked: info.Unlocked, Factors: []fj{}, Locked: append([]string{}, locks...), Conforms: conformErr == nil}
		for _, f := range info.Factors {
			out.Factors = append(out.Factors, fj{f.ID, f.Type, f.Label, f.KDF, f.Fingerprint, f.Algorithm, f.Recipient})
		}
		return json.NewEncoder(st.e.Stdout).Encode(out)
	}
	w := st.e.Stdout
	fmt.Fprintf(w, "policy: %s\n", info.Policy)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range info.Factors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.ID, f.Type, f.Label, detail(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(locks) > 0 {
		fmt.Fprintf(st.e.Stderr, "sesame: locked by policy: %s\n", strings.Join(locks, "; "))
	}
	if conformErr != nil {
		fmt.Fprintf(st.e.Stderr, "sesame: warning: %v; the next factor change must fix that\n", conformErr)
	}
	return nil
}

// factorAdd prepares the new factor of type typ, then runs the change.
func (st *state) factorAdd(c *cli.Context, typ string) error {
	label := lineage(c, "label")
	nf := &api.NewFactor{Type: typ, Label: label}
	var checkWith []age.Identity
	switch typ {
	case api.FactorPassword:
		nf.KDFTime = uint32(c.Uint("kdf-time"))
		nf.KDFMemoryKiB = uint32(c.Uint("kdf-memory")) * 1024
	case api.FactorSSHAgent:
	case api.FactorAge:
		nf.Recipient = c.String("recipient")
		if nf.Recipient == "" {
			files := lineageSlice(c, "identity")
			if len(files) == 0 {
				return usagef("factor add age: give --recipient age1… or --identity FILE")
			}
			ids, err := loadIdentities(files[:1])
			if err != nil {
				return err
			}
			if nf.Recipient, err = recipientOf(ids); err != nil {
				return err
			}
			checkWith = ids
		}
		if _, err := age.ParseX25519Recipient(nf.Recipient); err != nil {
			return fmt.Errorf("factor add age: %q is not an X25519 recipient (age1…): %v", nf.Recipient, err)
		}
	}
	return st.factorChange(c, api.SecretsFactorAdd, nf, "", lineage(c, "policy"), checkWith...)
}

// factorChange runs one factor change: it gets the vault's factors, works out which existing
// factors the change needs (vault.InputsNeeded), makes the new factor's input (for add),
// collects the needed inputs, and sends the request.
func (st *state) factorChange(c *cli.Context, kind string, nf *api.NewFactor, remove, policy string, checkWith ...age.Identity) error {
	p, err := st.factorProfile(c)
	if err != nil {
		return err
	}
	verb := strings.TrimPrefix(kind, "secrets.")
	verb = strings.Replace(verb, "-", " ", 1)
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	info, err := factorInfo(c.Context, cl, p)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, busError(err, p))
	}
	if !info.Unlocked {
		return withHint(fmt.Errorf("%s: profile %q is locked; changing its factors needs it unlocked", verb, p), "run: sesame unlock -p "+p)
	}
	oldIDs := factorIDs(info)
	newIDs := slices.Clone(oldIDs)
	switch {
	case nf != nil:
		newIDs = append(newIDs, "+new")
		if nf.Type == api.FactorAge {
			for _, f := range info.Factors {
				if f.Recipient == nf.Recipient {
					return fmt.Errorf("%s: %s is already factor %q", verb, nf.Recipient, f.ID)
				}
			}
		}
	case remove != "":
		if !slices.Contains(oldIDs, remove) {
			return withHint(fmt.Errorf("%s: profile %q has no factor %q", verb, p, remove), "see: sesame factor list -p "+p)
		}
		newIDs = slices.DeleteFunc(newIDs, func(id string) bool { return id == remove })
		if len(newIDs) == 0 {
			return fmt.Errorf("%s: refusing to remove the last factor of %q (the vault could never be opened again)", verb, p)
		}
	}
	cur, _, err := vault.ParsePolicy(info.Policy)
	if err != nil {
		return err
	}
	next := cur
	if policy != "" {
		var n int
		if next, n, err = vault.ParsePolicy(policy); err != nil {
			return usagef("%s: %v", verb, stripInvalid(err))
		}
		if n != 0 && n != len(newIDs) {
			return usagef("%s: policy %s, but the vault would have %d factors", verb, policy, len(newIDs))
		}
	}
	need, more, err := vault.InputsNeeded(cur, oldIDs, next, newIDs)
	if err != nil {
		return withHint(fmt.Errorf("%s: %v", verb, strings.TrimPrefix(err.Error(), vault.ErrInvalid.Error()+": ")), "set the policy in the same command: --policy any|all|K-of-N")
	}

	ents := map[string]*secmem.Buf{}
	defer func() {
		for _, b := range ents {
			b.Destroy()
		}
	}()
	// The new factor's input first (its password is what the user came to type).
	if nf != nil {
		switch nf.Type {
		case api.FactorPassword:
			pw, err := st.readPassword(fmt.Sprintf("new password for profile %q", p), true)
			if err != nil {
				return fmt.Errorf("%s: %w", verb, err)
			}
			ents[api.NewFactorEntry(0)] = pw
		case api.FactorSSHAgent:
			f, sig, err := st.enrolAgentKey(p, c.String("key"), nf.Label)
			if err != nil {
				return fmt.Errorf("%s: %w", verb, err)
			}
			for _, old := range info.Factors {
				if bytes.Equal(old.PublicKey, f.PublicKey) {
					sig.Destroy()
					return fmt.Errorf("%s: %s is already factor %q", verb, old.Fingerprint, old.ID)
				}
			}
			*nf = *f
			ents[api.NewFactorEntry(0)] = sig
		}
	}
	if len(need) > 0 {
		ids, err := loadIdentities(lineageSlice(c, "identity"))
		if err != nil {
			return err
		}
		in := st.newInputs(p, info, ids)
		defer in.destroy()
		pool := need
		if more > 0 {
			pool = oldIDs
		}
		fmt.Fprintf(st.e.Stderr, "sesame: this change seals new wraps over %s, so it needs %s again\n", joinQuoted(need), map[bool]string{true: "that factor", false: "those factors"}[len(need) == 1])
		if err := in.satisfy(need, pool, len(need)+more, "current password"); err != nil {
			return fmt.Errorf("%s: %w", verb, err)
		}
		for id, b := range in.got {
			ents[id] = b
		}
		in.got = map[string]*secmem.Buf{}
	}
	sealed, err := sealEntries(cl, api.AD(kind, p), ents)
	if err != nil {
		return err
	}
	req := &api.FactorChangeRequest{Add: nf, Remove: remove, Policy: policy, Sealed: sealed}
	var r api.FactorChangeReply
	if err := cl.Call(c.Context, kind, p, req, &r); err != nil {
		return fmt.Errorf("%s: %w", verb, busError(err, p))
	}
	switch {
	case nf != nil:
		fmt.Fprintf(st.e.Stderr, "sesame: added factor %q to %q (policy %s; factors %s)\n", r.Added, p, r.Policy, strings.Join(r.IDs, ", "))
	case remove != "":
		fmt.Fprintf(st.e.Stderr, "sesame: removed factor %q from %q (policy %s; factors %s)\n", remove, p, r.Policy, strings.Join(r.IDs, ", "))
	default:
		fmt.Fprintf(st.e.Stderr, "sesame: policy of %q is now %s (factors %s)\n", p, r.Policy, strings.Join(r.IDs, ", "))
	}
	if r.Rotated {
		fmt.Fprintf(st.e.Stderr, "sesame: rotated the master key of %q (%d %s re-encrypted)\n", p, r.Reencrypted, map[bool]string{true: "secret", false: "secrets"}[r.Reencrypted == 1])
	}
	if len(checkWith) > 0 && r.Added != "" {
		info, err := factorInfo(c.Context, cl, p)
		if err == nil {
			for _, f := range info.Factors {
				if f.ID == r.Added {
					k, err := vault.AgeDecryptKey(f.AgeFile, checkWith...)
					if err != nil {
						return fmt.Errorf("%s: the new age factor does not decrypt with the identity given: %v; remove it: sesame factor remove -p %s %s", verb, err, p, r.Added)
					}
					k.Destroy()
				}
			}
		}
	}
	return nil
}
