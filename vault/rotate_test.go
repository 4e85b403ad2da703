package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-sesame/sesame/secmem"
)

// TestRotationLocksOutRemovedFactor is the attack that rotation stops: the
// holder of a removed factor (here the age identity) with a copy of the
// file from before the removal gets the old master key from that copy, as
// before, but it no longer opens anything in the vault as it is now: not the
// new header, not the re-encrypted secrets, not a secret written after.
func TestRotationLocksOutRemovedFactor(t *testing.T) {
	v := createWith(t, "work", PolicyAny, testPasswordEnrollment(testPassword), Enrollment{Type: FactorAge, Recipient: testAgeRecipient})
	for i := range 20 {
		mustSet(t, v, fmt.Sprintf("before-%02d", i), fmt.Sprintf("value %d", i))
	}
	path := v.Path()
	v = reopen(t, v) // closed, so checkpointed: the main file alone is a whole copy
	backup := filepath.Join(t.TempDir(), "work.db")
	copyFile(t, path, backup)

	if err := v.UnlockWith(inputsFor(t, v, "password")); err != nil {
		t.Fatal(err)
	}
	oldKeys := v.state.keys
	oldMK := bytes.Clone(oldKeys.master.Bytes())
	res, err := v.ChangeFactors(Change{Remove: []string{"age"}}, inputsFor(t, v, "password"))
	if err != nil || !res.Rotated || res.Reencrypted != 20 {
		t.Fatalf("remove age: %+v %v", res, err)
	}
	if oldKeys.master.Bytes() != nil || oldKeys.lookup.mac != nil {
		t.Error("the old keys were not wiped")
	}
	if v.state.keys.master.Equal(oldMK) {
		t.Fatal("the master key did not change")
	}
	mustSet(t, v, "after", "written after the removal")
	for i := range 20 {
		if got := mustGet(t, v, fmt.Sprintf("before-%02d", i)); got != fmt.Sprintf("value %d", i) {
			t.Errorf("before-%02d = %q", i, got)
		}
	}
	v.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v after the rotation", p, fi.Mode().Perm())
		}
	}

	// The attacker opens the backup with the removed factor: that still
	// works (the backup's own secrets are theirs; nothing can change that).
	b, err := Open(backup, "work")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.UnlockWith(inputsFor(t, b, "age")); err != nil {
		t.Fatalf("the backup no longer opens with its factor: %v", err)
	}
	stolen, err := secmem.FromBytes(bytes.Clone(b.state.keys.master.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !stolen.Equal(oldMK) {
		t.Fatal("the backup holds another master key than the vault had")
	}
	// The new file: no wrap for the age factor, a MAC that fails under the
	// stolen key, and no row that decrypts under the keys derived from it.
	h, err := decodeHeader(headerBlob(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if h.factor("age") != nil {
		t.Fatal("the new header still has the age factor")
	}
	if mac, err := headerMAC(h, stolen); err != nil || mac == h.mac {
		t.Errorf("the new header's MAC verifies under the old master key (%v)", err)
	}
	ak, err := newKeys(h, stolen)
	if err != nil {
		t.Fatal(err)
	}
	defer ak.destroy()
	db := rawDB(t, path)
	rows, err := db.Query(`SELECT lid, nonce, name, value FROM secrets`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	afterLID := ak.lookupID("after")
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.lid, &r.nonce, &r.name, &r.value); err != nil {
			t.Fatal(err)
		}
		n++
		if bytes.Equal(r.lid, afterLID) {
			t.Error("the old lookup key finds the secret written after the removal")
		}
		if name, err := ak.openName(&r); err == nil {
			t.Errorf("the old master key decrypts the name %q in the new file", name)
		}
		if buf, err := ak.openValue(&r); err == nil {
			buf.Destroy()
			t.Errorf("the old master key decrypts the value of row %x in the new file", r.lid)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	db.Close()
	if n != 21 {
		t.Errorf("%d rows in the new file, want 21", n)
	}
	// While the vault's factors read everything.
	w, err := Open(path, "work")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.UnlockWith(map[string][]byte{"age": inputsFor(t, b, "age")["age"]}); !errors.Is(err, ErrInvalid) {
		t.Errorf("the removed factor's input on the new file: %v", err)
	}
	if err := w.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, w, "after"); got != "written after the removal" {
		t.Errorf("after = %q", got)
	}
}

// rotationValues are the secrets the rotation tests re-encrypt: small,
// empty, and large.
func rotationValues() map[string]string {
	m := map[string]string{"empty": "", "big": string(bytes.Repeat([]byte("0123456789abcdef"), 8<<10))}
	for i := range 40 {
		m[fmt.Sprintf("secret.%02d", i)] = fmt.Sprintf("value %d %x", i, bytes.Repeat([]byte{byte(i)}, i))
	}
	return m
}

func setAll(t testing.TB, v *Vault, m map[string]string) {
	t.Helper()
	for name, value := range m {
		mustSet(t, v, name, value)
	}
}

// checkAll checks that v holds exactly the secrets of m.
func checkAll(t testing.TB, v *Vault, m map[string]string) {
	t.Helper()
	names, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name := range m {
		want = append(want, name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("List = %d names, want %d", len(names), len(want))
	}
	for name, value := range m {
		if got := mustGet(t, v, name); got != value {
			t.Errorf("%s: %d bytes, want %d", name, len(got), len(value))
		}
	}
}

// TestRotation runs changes that do and do not replace the master key over
// a password, an ssh-agent key and an age identity, and checks that every
// secret reads before and after reopening with the factors that remain.
func TestRotation(t *testing.T) {
	all, two, any := PolicyAll, KOfN(2), PolicyAny
	for _, tc := range []struct {
		name    string
		start   Policy
		change  Change
		present []string // the inputs the change takes
		rotate  bool
	}{
		{"any remove ssh-agent", PolicyAny, Change{Remove: []string{"ssh-agent"}}, []string{"password"}, true},
		{"any remove password", PolicyAny, Change{Remove: []string{"password"}}, []string{"ssh-agent"}, true},
		{"any remove age", PolicyAny, Change{Remove: []string{"age"}}, []string{"password", "ssh-agent"}, true},
		{"any rotate", PolicyAny, Change{Rotate: true}, []string{"password", "ssh-agent"}, true},
		{"any to all", PolicyAny, Change{Policy: &all}, []string{"password", "ssh-agent"}, true},
		{"any to 2-of-3", PolicyAny, Change{Policy: &two}, []string{"password", "ssh-agent"}, true},
		{"any add password", PolicyAny, Change{Add: []Enrollment{testPasswordEnrollment("second")}}, nil, false},
		{"2-of-3 to any", KOfN(2), Change{Policy: &any}, []string{"age", "password", "ssh-agent"}, false},
		{"2-of-3 remove age", KOfN(2), Change{Remove: []string{"age"}}, []string{"password", "ssh-agent"}, true},
		{"all to any", PolicyAll, Change{Policy: &any}, []string{"age", "password", "ssh-agent"}, false},
		{"all remove age to any", PolicyAll, Change{Remove: []string{"age"}, Policy: &any}, []string{"age", "password", "ssh-agent"}, false},
		{"all add password", PolicyAll, Change{Add: []Enrollment{testPasswordEnrollment("second")}}, []string{"age", "password", "ssh-agent"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := createWith(t, "work", tc.start, threeFactors(t, "work")...)
			m := rotationValues()
			setAll(t, v, m)
			mk := bytes.Clone(v.state.keys.master.Bytes())
			pk, id, err := v.DeriveKeyID("clipboard")
			if err != nil {
				t.Fatal(err)
			}
			defer pk.Destroy()
			_, before := v.Factors()
			res, err := v.ChangeFactors(tc.change, inputsFor(t, v, tc.present...))
			if err != nil {
				t.Fatal(err)
			}
			// Purpose keys change with the master key (DeriveKey).
			pk2, err := v.DeriveKey("clipboard")
			if err != nil {
				t.Fatal(err)
			}
			if pk2.Equal(pk.Bytes()) == tc.rotate {
				t.Errorf("purpose key changed: %v, want %v", !pk2.Equal(pk.Bytes()), tc.rotate)
			}
			pk2.Destroy()
			// The key id changes with it, and only with it.
			if id2, err := v.KeyID(); err != nil || (id2 != id) != tc.rotate || len(id2) != 16 {
				t.Errorf("key id %q then %q (%v), want changed %v", id, id2, err, tc.rotate)
			}
			if res.Rotated != tc.rotate || v.state.keys.master.Equal(mk) == tc.rotate {
				t.Errorf("rotated %v (master key changed %v), want %v", res.Rotated, !v.state.keys.master.Equal(mk), tc.rotate)
			}
			if tc.rotate && res.Reencrypted != len(m) {
				t.Errorf("%d secrets re-encrypted, want %d", res.Reencrypted, len(m))
			}
			_, after := v.Factors()
			for _, f := range after {
				i := slices.IndexFunc(before, func(g FactorInfo) bool { return g.ID == f.ID })
				if f.Type == FactorAge && i >= 0 && bytes.Equal(f.AgeFile, before[i].AgeFile) == tc.rotate {
					t.Errorf("age factor re-enrolled: %v, want %v", !bytes.Equal(f.AgeFile, before[i].AgeFile), tc.rotate)
				}
			}
			checkAll(t, v, m)
			mustSet(t, v, "new", "after the change")
			m["new"] = "after the change"
			v = reopen(t, v)
			var ids []string
			for _, f := range after {
				ids = append(ids, f.ID)
			}
			in := inputsFor(t, v, ids...)
			if _, ok := in["password-2"]; ok {
				in["password-2"] = []byte("second")
			}
			if err := v.UnlockWith(in); err != nil {
				t.Fatalf("unlock with %q: %v", ids, err)
			}
			checkAll(t, v, m)
		})
	}
}

// TestRotationRefused: a rotation that lacks a factor, or gets a wrong one,
// or meets a secret it cannot decrypt, changes nothing.
func TestRotationRefused(t *testing.T) {
	v := createWith(t, "work", PolicyAny, threeFactors(t, "work")...)
	m := rotationValues()
	setAll(t, v, m)
	h0 := v.header()
	mk := bytes.Clone(v.state.keys.master.Bytes())
	unchanged := func(what string) {
		t.Helper()
		if v.header() != h0 || !v.state.keys.master.Equal(mk) {
			t.Errorf("%s: the vault changed", what)
		}
		checkAll(t, v, m)
	}
	rm := Change{Remove: []string{"age"}}
	for what, in := range map[string]map[string][]byte{
		"nothing":       nil,
		"password only": inputsFor(t, v, "password"),
		"age only":      inputsFor(t, v, "age"),
	} {
		if _, err := v.ChangeFactors(rm, in); !errors.Is(err, ErrMissingFactors) {
			t.Errorf("%s: %v, want ErrMissingFactors", what, err)
		}
		unchanged(what)
	}
	wrongPW := inputsFor(t, v, "password", "ssh-agent")
	wrongPW["password"] = []byte("wrong")
	wrongKey := inputsFor(t, v, "password")
	_, fis := v.Factors()
	wrongKey["ssh-agent"] = sshSign(t, testRSA(t), "work", fis[2].Challenge)
	for what, in := range map[string]map[string][]byte{"wrong password": wrongPW, "another key": wrongKey} {
		if _, err := v.ChangeFactors(rm, in); !errors.Is(err, ErrBadFactor) {
			t.Errorf("%s: %v, want ErrBadFactor", what, err)
		}
		unchanged(what)
	}

	// A row that does not authenticate stops the rotation before the commit.
	if _, err := v.db.Exec(`UPDATE secrets SET value = (SELECT value FROM secrets WHERE lid = ?1) WHERE lid = ?2`,
		v.state.keys.lookupID("secret.01"), v.state.keys.lookupID("secret.02")); err != nil {
		t.Fatal(err)
	}
	_, err := v.ChangeFactors(rm, inputsFor(t, v, "password", "ssh-agent"))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("rotation over a corrupt row: %v, want ErrCorrupt", err)
	}
	t.Log(err)
	if v.header() != h0 || !v.state.keys.master.Equal(mk) {
		t.Error("a failed rotation changed the vault")
	}
	v = reopen(t, v)
	if err := v.UnlockWith(inputsFor(t, v, "age")); err != nil {
		t.Fatalf("the old header is gone after a failed rotation: %v", err)
	}
	if got := mustGet(t, v, "secret.01"); got != m["secret.01"] {
		t.Errorf("secret.01 = %q", got)
	}
}

// TestRotationConcurrent rotates while other goroutines read and write:
// every acknowledged write reads back, in this process and after reopening.
func TestRotationConcurrent(t *testing.T) {
	v := createWith(t, "work", PolicyAny, testPasswordEnrollment(testPassword), Enrollment{Type: FactorAge, Recipient: testAgeRecipient})
	m := rotationValues()
	setAll(t, v, m)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]string{}
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name, value := fmt.Sprintf("w%d.%d", g, i), strconv.Itoa(i)
				if err := v.Set(name, []byte(value)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[name] = value
				mu.Unlock()
				b, err := v.Get("secret.07")
				if err != nil {
					t.Error(err)
					return
				}
				if string(b.Bytes()) != m["secret.07"] {
					t.Errorf("secret.07 = %q during a rotation", b.Bytes())
				}
				b.Destroy()
			}
		})
	}
	for range 5 {
		if res, err := v.ChangeFactors(Change{Rotate: true}, inputsFor(t, v, "password")); err != nil || !res.Rotated {
			t.Fatal(res, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d writes during 5 rotations", len(acked))
	for k, val := range acked {
		m[k] = val
	}
	checkAll(t, v, m)
	v = reopenUnlocked(t, v)
	checkAll(t, v, m)
}

// Crash tests: a child process rotates (removes the age factor of a vault
// opened by a password or the age identity) and SIGKILLs itself at one step
// of the rotation; the parent opens what is left.
const (
	rotateChildEnv = "SESAME_VAULT_TEST_ROTATE_CHILD" // the vault's path
	rotateStepEnv  = "SESAME_VAULT_TEST_ROTATE_STEP"  // "step" or "step:n" (the nth time)
)

// rotateChild is the child's main.
func rotateChild(path string) int {
	step, nth, _ := strings.Cut(os.Getenv(rotateStepEnv), ":")
	at, _ := strconv.Atoi(nth)
	at = max(at, 1)
	seen := 0
	testHookRotate = func(s string) {
		if s != step {
			return
		}
		if seen++; seen == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	v, err := Open(path, "work")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := v.Unlock([]byte(testPassword)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	res, err := v.ChangeFactors(Change{Remove: []string{"age"}}, map[string][]byte{"password": []byte(testPassword)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("rotated %d\n", res.Reencrypted)
	v.Close()
	return 0
}

// TestRotationCrash kills a rotation at each of its steps and checks that
// the vault opens either as it was (the age identity opens it) or as the
// rotation left it (only the password does), whole: every secret reads and
// there are no others. The values are large enough (about 12 MiB) that
// SQLite spills uncommitted pages into the WAL before the commit.
func TestRotationCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 12 MiB per step")
	}
	m := rotationValues()
	for i := range 12 {
		m[fmt.Sprintf("large.%02d", i)] = string(bytes.Repeat([]byte{'a' + byte(i)}, 1<<20-i))
	}
	for _, tc := range []struct {
		step string
		new  bool // the new vault, else the old
	}{
		{"begun", false},
		{"header", false},
		{"row:1", false},
		{"row:30", false},
		{fmt.Sprintf("row:%d", len(m)), false},
		{"rows", false},
		{"committed", true},
		{"done", true},
		{"", true}, // not killed
	} {
		t.Run(tc.step, func(t *testing.T) {
			v := createWith(t, "work", PolicyAny, testPasswordEnrollment(testPassword), Enrollment{Type: FactorAge, Recipient: testAgeRecipient})
			if err := v.setMany(mapKeys(m), mapValues(m)); err != nil {
				t.Fatal(err)
			}
			path := v.Path()
			v.Close()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), rotateChildEnv+"="+path, rotateStepEnv+"="+tc.step)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
			if tc.step != "" && !killed {
				t.Fatalf("child was not killed: %v; stdout %q; stderr:\n%s", err, stdout.String(), stderr.String())
			}
			if tc.step == "" && (err != nil || stdout.String() != fmt.Sprintf("rotated %d\n", len(m))) {
				t.Fatalf("child: %v; stdout %q; stderr:\n%s", err, stdout.String(), stderr.String())
			}
			if fi, err := os.Stat(path + "-wal"); err == nil {
				t.Logf("WAL after the kill: %d bytes", fi.Size())
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v", p, fi.Mode().Perm())
				}
			}

			w, err := Open(path, "work")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			_, fis := w.Factors()
			hasAge := slices.ContainsFunc(fis, func(f FactorInfo) bool { return f.ID == "age" })
			if hasAge == tc.new {
				t.Fatalf("after a kill at %q: factors %d (age: %v), want the %s vault", tc.step, len(fis), hasAge, map[bool]string{true: "new", false: "old"}[tc.new])
			}
			if !tc.new {
				if err := w.UnlockWith(inputsFor(t, w, "age")); err != nil {
					t.Fatalf("the old vault does not open with the age identity: %v", err)
				}
				checkAll(t, w, m)
				w.Lock()
			}
			if err := w.Unlock([]byte(testPassword)); err != nil {
				t.Fatal(err)
			}
			checkAll(t, w, m)
		})
	}
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mapValues(m map[string]string) [][]byte {
	out := make([][]byte, 0, len(m))
	for _, k := range mapKeys(m) {
		out = append(out, []byte(m[k]))
	}
	return out
}
