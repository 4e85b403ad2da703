package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/vault"
)

// testAgent is a real ssh-agent (openssh-client) on a private socket, stopped by PID at the
// end of the test, with keys made by ssh-keygen.
type testAgent struct {
	t    *testing.T
	dir  string
	sock string
}

func startAgent(t *testing.T) *testAgent {
	t.Helper()
	for _, p := range []string{"ssh-agent", "ssh-keygen", "ssh-add"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("needs %s (apt-get install openssh-client)", p)
		}
	}
	dir, err := os.MkdirTemp("", "sa") // short: a unix socket path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	a := &testAgent{t: t, dir: dir, sock: filepath.Join(dir, "agent.sock")}
	cmd := exec.Command("ssh-agent", "-D", "-a", a.sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	})
	waitFor(t, func() bool { _, err := os.Stat(a.sock); return err == nil })
	return a
}

// key makes a key with ssh-keygen (typ and bits as ssh-keygen takes them), adds it to the
// agent unless add is false, and returns its fingerprint.
func (a *testAgent) key(name, typ string, bits int, add bool) string {
	a.t.Helper()
	path := filepath.Join(a.dir, name)
	args := []string{"-q", "-t", typ, "-N", "", "-C", name + "@test", "-f", path}
	if bits > 0 {
		args = append(args, "-b", fmt.Sprint(bits))
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		a.t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	if add {
		a.ssh("ssh-add", path)
	}
	out, err := exec.Command("ssh-keygen", "-lf", path+".pub").Output()
	if err != nil {
		a.t.Fatal(err)
	}
	return strings.Fields(string(out))[1]
}

func (a *testAgent) ssh(args ...string) {
	a.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+a.sock)
	if out, err := cmd.CombinedOutput(); err != nil {
		a.t.Fatalf("%s: %v %s", strings.Join(args, " "), err, out)
	}
}

// env returns sb's environment with SSH_AUTH_SOCK set to sock ("" for no agent) and extra
// variables.
func agentEnv(sb *sandbox, sock string, extra ...string) []string {
	var out []string
	for _, kv := range sb.env {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") && !strings.HasPrefix(kv, "SSH_AGENT_PID=") {
			out = append(out, kv)
		}
	}
	if sock != "" {
		out = append(out, "SSH_AUTH_SOCK="+sock)
	}
	return append(out, extra...)
}

// run runs sesame with env and stdin.
func (sb *sandbox) runEnv(env []string, stdin string, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.Command(sb.bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

func (sb *sandbox) must(env []string, stdin string, args ...string) []byte {
	sb.t.Helper()
	_, errb, err := sb.runEnv(env, stdin, args...)
	if err != nil {
		sb.t.Fatalf("sesame %s: %v\n%s", strings.Join(args, " "), err, errb)
	}
	return errb
}

func (sb *sandbox) mustFail(env []string, stdin, want string, args ...string) {
	sb.t.Helper()
	_, errb, err := sb.runEnv(env, stdin, args...)
	if err == nil || !bytes.Contains(errb, []byte(want)) {
		sb.t.Fatalf("sesame %s: %v, stderr %q; want a failure saying %q", strings.Join(args, " "), err, errb, want)
	}
}

// TestSSHAgentUnlock: a vault with a password and an ssh-agent key (Ed25519, then RSA 3072),
// policy any: with the agent, unlock asks for nothing; without it, it falls back to the
// password; a vault with the key alone and no agent fails saying what is missing. ECDSA is
// refused at enrolment.
func TestSSHAgentUnlock(t *testing.T) {
	ag := startAgent(t)
	for _, k := range []struct {
		typ  string
		bits int
		alg  string
	}{{"ed25519", 0, "ssh-ed25519"}, {"rsa", 3072, "rsa-sha2-256"}} {
		t.Run(k.typ, func(t *testing.T) {
			sb := newSandbox(t)
			fp := ag.key("id_"+k.typ, k.typ, k.bits, true)
			with := agentEnv(sb, ag.sock)
			without := agentEnv(sb, "")
			sb.must(with, "pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
			sb.setBytes("default", "token", []byte("t0ken"))
			sb.must(with, "", "factor", "add", "ssh-agent", "--key", fp)
			list, _, _ := sb.runEnv(with, "", "factor", "list")
			if !bytes.Contains(list, []byte(fp+" "+k.alg)) {
				t.Fatalf("factor list:\n%s", list)
			}
			sb.must(with, "", "lock")
			if errb := sb.must(with, "", "unlock"); !bytes.Contains(errb, []byte(`unlocked "default" with ssh-agent`)) {
				t.Fatalf("unlock with the agent: %s", errb)
			}
			sb.must(with, "", "lock")
			if errb := sb.must(without, "pw\n", "unlock"); !bytes.Contains(errb, []byte(`unlocked "default" with password`)) {
				t.Fatalf("unlock without the agent: %s", errb)
			}
			if got := sb.sesame("", "secret", "get", "token"); string(got) != "t0ken" {
				t.Fatalf("secret: %q", got)
			}

			// The key alone.
			sb.must(with, "", "init", "-p", "keyonly", "--factor", "ssh-agent", "--key", fp)
			sb.must(with, "", "lock", "-p", "keyonly")
			sb.mustFail(without, "pw\n", `missing "ssh-agent" (ssh-agent key `+fp+`: SSH_AUTH_SOCK is not set)`, "unlock", "-p", "keyonly")
			sb.must(with, "", "unlock", "-p", "keyonly")
		})
	}
	t.Run("ecdsa", func(t *testing.T) {
		sb := newSandbox(t)
		fp := ag.key("id_ecdsa", "ecdsa", 256, true)
		sb.mustFail(agentEnv(sb, ag.sock), "", "ECDSA signatures are not deterministic", "init", "--factor", "ssh-agent", "--key", fp)
		if _, err := os.Stat(filepath.Join(sb.home, ".local/share/sesame/vaults/default.db")); !os.IsNotExist(err) {
			t.Fatalf("a refused enrolment left a vault: %v", err)
		}
	})
}

// roleClient talks to the secrets role directly, as a client that computes factor inputs
// itself would: it can send any subset of inputs, which the CLI would not.
type roleClient struct {
	t       *testing.T
	cl      *bus.Client
	profile string
	info    *api.FactorsReply
	inputs  map[string][]byte
}

func newRoleClient(t *testing.T, sb *sandbox, profile string) *roleClient {
	rc := &roleClient{t: t, cl: sb.dial(), profile: profile, inputs: map[string][]byte{}}
	var r api.FactorsReply
	if err := rc.cl.Call(context.Background(), api.SecretsFactors, profile, nil, &r); err != nil {
		t.Fatal(err)
	}
	rc.info = &r
	return rc
}

// compute fills in every factor's input: the password, the real agent's signature, the age
// key decrypted with ids.
func (rc *roleClient) compute(password string, sock string, ids []age.Identity) {
	t := rc.t
	for _, f := range rc.info.Factors {
		switch f.Type {
		case api.FactorPassword:
			rc.inputs[f.ID] = []byte(password)
		case api.FactorSSHAgent:
			conn, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			key, err := ssh.ParsePublicKey(f.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			var flags agent.SignatureFlags
			if f.Algorithm == vault.SSHAlgRSASHA256 {
				flags = agent.SignatureFlagRsaSha256
			}
			sig, err := agent.NewClient(conn).SignWithFlags(key, vault.SSHSignedData(rc.profile, f.Challenge), flags)
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			rc.inputs[f.ID] = sig.Blob
		case api.FactorAge:
			k, err := vault.AgeDecryptKey(f.AgeFile, ids...)
			if err != nil {
				t.Fatal(err)
			}
			rc.inputs[f.ID] = bytes.Clone(k.Bytes())
			k.Destroy()
		}
	}
}

// unlock sends the inputs of ids (with the input of wrong replaced by garbage) and returns
// the bus error code ("" on success).
func (rc *roleClient) unlock(ids []string, wrong string) string {
	rc.t.Helper()
	var b []byte
	sorted := slices.Clone(ids)
	sort.Strings(sorted)
	for _, id := range sorted {
		in := rc.inputs[id]
		if id == wrong {
			in = bytes.Repeat([]byte{'x'}, len(in))
		}
		b = api.AppendEntry(b, id, in)
	}
	var sealed []byte
	if len(b) > 0 {
		k, ok := rc.cl.SealKey("secrets")
		if !ok {
			rc.t.Fatal("no seal key")
		}
		var err error
		if sealed, err = bus.Seal(k, api.AD(api.SecretsUnlockFactors, rc.profile), b); err != nil {
			rc.t.Fatal(err)
		}
	}
	err := rc.cl.Call(context.Background(), api.SecretsUnlockFactors, rc.profile, &api.UnlockFactorsRequest{Sealed: sealed}, nil)
	return bus.ErrCode(err)
}

func (rc *roleClient) lock() {
	rc.t.Helper()
	if err := rc.cl.Call(context.Background(), api.SecretsLock, rc.profile, nil, nil); err != nil {
		rc.t.Fatal(err)
	}
}

func subsets(ids []string) [][]string {
	var out [][]string
	for m := 0; m < 1<<len(ids); m++ {
		var s []string
		for i, id := range ids {
			if m&(1<<i) != 0 {
				s = append(s, id)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestPolicies end to end, through the CLI (enrolment, real ssh-agent, age identity file) and
// the secrets role (every subset of factors sent as inputs): "all" over password + ssh-agent
// needs both; "2-of-3" over password, ssh-agent and age opens with any two and with no single
// one. Too few factors is need-factors and does not count as a failed attempt; a wrong factor
// among enough is bad-factor.
func TestPolicies(t *testing.T) {
	ag := startAgent(t)
	fp := ag.key("id_ed25519", "ed25519", 0, true)
	sb := newSandbox(t)
	with := agentEnv(sb, ag.sock)
	idFile := filepath.Join(t.TempDir(), "id.age")
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(idFile, []byte(ident.String()+"\n"), 0o600)

	sb.must(with, "pw\n", "init", "-p", "both", "--factor", "password", "--factor", "ssh-agent", "--key", fp, "--policy", "all", "--kdf-time", "1", "--kdf-memory", "8")
	sb.must(with, "pw\n", "init", "-p", "two", "--factor", "password", "--factor", "ssh-agent", "--factor", "age", "--identity", idFile, "--key", fp, "--policy", "2-of-3", "--kdf-time", "1", "--kdf-memory", "8")
	sb.must(with, "", "lock")

	for profile, need := range map[string]int{"both": 2, "two": 2} {
		rc := newRoleClient(t, sb, profile)
		rc.compute("pw", ag.sock, []age.Identity{ident})
		ids := make([]string, len(rc.info.Factors))
		for i, f := range rc.info.Factors {
			ids[i] = f.ID
		}
		t.Logf("%s: policy %s over %q", profile, rc.info.Policy, ids)
		all := profile == "both"
		for _, s := range subsets(ids) {
			enough := len(s) >= need && (!all || len(s) == len(ids))
			code := rc.unlock(s, "")
			switch {
			case enough && code != "":
				t.Errorf("%s with %q: %s, want success", profile, s, code)
			case !enough && code != api.CodeNeedFactors:
				t.Errorf("%s with %q: %q, want %s", profile, s, code, api.CodeNeedFactors)
			}
			if !enough {
				continue
			}
			rc.lock()
			// The same set with one factor wrong: exactly enough fails (and backs off: wait
			// it out); more than enough still opens with the right ones.
			code = rc.unlock(s, s[0])
			if len(s) > need && !all {
				if code != "" {
					t.Errorf("%s with %q, %s wrong: %q, want success (the others suffice)", profile, s, s[0], code)
				}
				rc.lock()
				continue
			}
			if code != bus.CodeBadFactor {
				t.Errorf("%s with %q, %s wrong: %q", profile, s, s[0], code)
			}
			time.Sleep(1100 * time.Millisecond) // the first failure's backoff
			if code := rc.unlock(s, ""); code != "" {
				t.Errorf("%s with %q after the backoff: %q", profile, s, code)
			}
			rc.lock()
		}
	}

	// The CLI: 2-of-3 opens with the agent and the identity without asking anything; with the
	// password alone it says what is missing.
	sb.must(with, "", "unlock", "-p", "two", "--identity", idFile)
	sb.must(with, "", "lock")
	sb.mustFail(agentEnv(sb, ""), "pw\n", `policy 2-of-3: not enough factors available: missing "age"`, "unlock", "-p", "two")
	// "all": the agent alone does not open it, nor the password alone.
	sb.mustFail(agentEnv(sb, ""), "pw\n", `policy all: not enough factors available: missing "ssh-agent"`, "unlock", "-p", "both")
	sb.must(with, "pw\n", "unlock", "-p", "both")

	// No vault squatting: inputs for a profile without a vault are refused, and none is made.
	rc := &roleClient{t: t, cl: sb.dial(), profile: "ghost", inputs: map[string][]byte{"password": []byte("pw")}}
	if code := rc.unlock([]string{"password"}, ""); code != bus.CodeNoProfile {
		t.Errorf("unlock of a profile without a vault: %q", code)
	}
	if _, err := os.Stat(filepath.Join(sb.home, ".local/share/sesame/vaults/ghost.db")); !os.IsNotExist(err) {
		t.Errorf("an unlock made a vault: %v", err)
	}
	out := sb.sesame("", "audit", "tail", "--json", "-n", "1000")
	if n := bytes.Count(out, []byte(`"event":"unlock","profile":"two"`)); n < 8 {
		t.Errorf("%d unlocks of two audited", n)
	}
}

// TestUnlockTimePerFactor measures `sesame unlock` end to end (a new process, the bus, the
// agent or the identity, the role's unwrap), per factor: password with the default Argon2id
// cost, ssh-agent with Ed25519 and RSA 3072 keys, age. It reports medians.
func TestUnlockTimePerFactor(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	ag := startAgent(t)
	ed := ag.key("id_ed25519", "ed25519", 0, true)
	rsa := ag.key("id_rsa", "rsa", 3072, true)
	sb := newSandbox(t)
	with := agentEnv(sb, ag.sock)
	idFile := filepath.Join(t.TempDir(), "id.age")
	ident, _ := age.GenerateX25519Identity()
	os.WriteFile(idFile, []byte(ident.String()+"\n"), 0o600)
	sb.must(with, "pw\n", "init", "-p", "password")
	sb.must(with, "", "init", "-p", "ed25519", "--factor", "ssh-agent", "--key", ed)
	sb.must(with, "", "init", "-p", "rsa3072", "--factor", "ssh-agent", "--key", rsa)
	sb.must(with, "", "init", "-p", "age", "--factor", "age", "--identity", idFile)
	const n = 5
	var report []string
	for _, p := range []string{"password", "ed25519", "rsa3072", "age"} {
		var ds []time.Duration
		for range n {
			sb.must(with, "", "lock", "-p", p)
			start := time.Now()
			sb.must(with, "pw\n", "unlock", "-p", p, "--identity", idFile)
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		report = append(report, fmt.Sprintf("%-9s median %v (min %v, max %v)", p, ds[n/2].Round(100*time.Microsecond), ds[0].Round(100*time.Microsecond), ds[n-1].Round(100*time.Microsecond)))
	}
	// The floor: a command that only talks to the role.
	var ds []time.Duration
	for range n {
		start := time.Now()
		sb.must(with, "", "lock", "-p", "age")
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	report = append(report, fmt.Sprintf("%-9s median %v (sesame lock: process + bus, no factor)", "floor", ds[n/2].Round(100*time.Microsecond)))
	t.Logf("sesame unlock, %d runs each, default KDF %v:\n%s", n, vault.DefaultKDF, strings.Join(report, "\n"))
}
