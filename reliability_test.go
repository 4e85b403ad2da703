package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/supervise"
)

var soak = flag.Duration("soak", 0, "run the load test for this long (e.g. 5m) instead of a few seconds")

// loadResult is what one load run measured.
type loadResult struct {
	ops, errs     int64
	p50, p99, max time.Duration
	elapsed       time.Duration
	firstErr      error
}

// runLoad drives `clients` concurrent bus clients against the running sandbox for d: 70 %
// sealed gets, 20 % sealed sets, 10 % lists, over a profile holding 100 secrets.
func runLoad(t testing.TB, sb *sandbox, clients int, d time.Duration, errOK func(error) bool) loadResult {
	ctx := context.Background()
	var ops, errs atomic.Int64
	var feMu sync.Mutex
	var fe error
	firstErr := func(err error) {
		feMu.Lock()
		if fe == nil {
			fe = err
		}
		feMu.Unlock()
	}
	lats := make([][]time.Duration, clients)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := sb.tryDial()
			if err != nil {
				errs.Add(1)
				firstErr(err)
				return
			}
			kp, err := bus.GenerateKeypair()
			if err != nil {
				t.Error(err)
				return
			}
			defer kp.Destroy()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for time.Now().Before(deadline) {
				i := r.IntN(100)
				name := fmt.Sprintf("load-%03d", i)
				t0 := time.Now()
				var err error
				switch x := r.IntN(10); {
				case x < 7:
					var rep api.GetReply
					err = cl.Call(ctx, api.SecretsGet, "default", &api.GetRequest{Names: []string{name}, ReplyKey: kp.Public}, &rep)
					if err == nil {
						var b interface{ Destroy() }
						b, err = bus.Open(kp, api.AD(api.SecretsGet, "default", name), rep.Sealed)
						if err == nil {
							b.Destroy()
						}
					}
				case x < 9:
					err = setVia(ctx, cl, "default", name, loadValue(i))
				default:
					err = cl.Call(ctx, api.SecretsList, "default", nil, nil)
				}
				lats[c] = append(lats[c], time.Since(t0))
				ops.Add(1)
				if err != nil {
					errs.Add(1)
					firstErr(err)
					if errOK == nil || !errOK(err) {
						return
					}
					// The role may have restarted: a fresh connection learns its new seal key.
					cl.Close()
					for {
						time.Sleep(20 * time.Millisecond)
						if cl, err = sb.tryDial(); err == nil {
							break
						}
						if time.Now().After(deadline) {
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	res := loadResult{ops: ops.Load(), errs: errs.Load(), elapsed: time.Since(start)}
	res.firstErr = fe
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		res.p50, res.p99, res.max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	return res
}

func loadValue(i int) []byte { return []byte(fmt.Sprintf("load-value-%03d-K7wq", i)) }

func loadSandbox(t testing.TB) *sandbox {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	cl := sb.dial()
	for i := range 100 {
		if err := setVia(context.Background(), cl, "default", fmt.Sprintf("load-%03d", i), loadValue(i)); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	return sb
}

// TestLoad: 64 concurrent clients doing get/set/list against `sesame up` for a bounded time
// (-soak for longer): zero errors; throughput and latency are reported.
func TestLoad(t *testing.T) {
	d := 4 * time.Second
	if *soak > 0 {
		d = *soak
	}
	sb := loadSandbox(t)
	r := runLoad(t, sb, 64, d, nil)
	t.Logf("load: 64 clients, %v: %d ops, %.0f ops/s, p50 %v, p99 %v, max %v, %d errors",
		r.elapsed.Round(time.Millisecond), r.ops, float64(r.ops)/r.elapsed.Seconds(), r.p50, r.p99, r.max, r.errs)
	if r.errs != 0 {
		t.Fatalf("%d errors, first: %v", r.errs, r.firstErr)
	}
	if r.ops == 0 {
		t.Fatal("no operations")
	}
	// Every value is still what the last successful set wrote (sets write the canonical value).
	cl := sb.dial()
	buf, ents := getAll(t, cl, "default")
	defer buf.Destroy()
	if len(ents) != 100 {
		t.Fatalf("%d secrets after load", len(ents))
	}
}

// TestKillEachRoleUnderLoad: while clients run, SIGKILL the secrets role, then the hub. The
// supervisor restarts each; meanwhile clients get clear errors (never a hang), and afterwards
// they succeed again; no acknowledged write is lost.
func TestKillEachRoleUnderLoad(t *testing.T) {
	sb := loadSandbox(t)
	clear := func(err error) bool {
		switch bus.ErrCode(err) {
		case bus.CodeUnavailable, bus.CodeLocked, bus.CodeBadRequest:
			return true
		}
		return strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "connection")
	}
	for _, role := range []string{"secrets", "hub"} {
		before := sb.status()
		done := make(chan loadResult)
		go func() { done <- runLoadResilient(t, sb, 16, 3*time.Second, clear) }()
		time.Sleep(500 * time.Millisecond)
		syscall.Kill(int(before[role]), syscall.SIGKILL)
		waitFor(t, func() bool {
			now := sb.status()
			return now[role] != 0 && now[role] != before[role] && now["secrets"] != 0
		})
		// Restarted roles come back locked.
		sb.sesame("pw\n", "unlock")
		r := <-done
		t.Logf("kill %s: %d ops, %d clear errors during the restart (first: %v)", role, r.ops, r.errs, r.firstErr)
		if r.errs == 0 {
			t.Errorf("kill %s: no client noticed", role)
		}
		// After the restart, a fresh round of load runs clean.
		if r := runLoad(t, sb, 16, time.Second, nil); r.errs != 0 {
			t.Fatalf("after restarting %s: %d errors: %v", role, r.errs, r.firstErr)
		}
	}
}

// runLoadResilient is runLoad that keeps going through errors errOK accepts, redialing (the
// hub may have restarted) and unlocking as needed.
func runLoadResilient(t testing.TB, sb *sandbox, clients int, d time.Duration, errOK func(error) bool) loadResult {
	var mu sync.Mutex
	wrapped := func(err error) bool {
		if bus.ErrCode(err) == bus.CodeLocked {
			mu.Lock()
			sb.try("pw\n", "unlock")
			mu.Unlock()
		}
		return errOK(err)
	}
	return runLoad(t, sb, clients, d, wrapped)
}

// TestKillWholeUpAutostartRecovers: when `sesame up` itself dies (SIGKILL), its children follow
// it, and the next command starts everything again.
func TestKillWholeUpAutostartRecovers(t *testing.T) {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	sb.setBytes("default", "k", []byte("v"))
	pid := supervise.Running(sb.rundir())
	if pid == 0 {
		t.Fatal("no supervisor")
	}
	old := sb.status()
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, func() bool {
		return syscall.Kill(int(old["secrets"]), 0) != nil && syscall.Kill(int(old["hub"]), 0) != nil
	})
	sb.sesame("pw\n", "unlock") // autostarts
	if got := sb.sesame("", "secret", "get", "k"); string(got) != "v" {
		t.Fatalf("after autostart: %q", got)
	}
}

// TestFullDisk: with the data directory on a full filesystem, writes fail with a clear error,
// what was stored stays readable, and the vault still opens after a restart.
func TestFullDisk(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	sb := newSandbox(t)
	data := filepath.Join(sb.home, ".local", "share")
	os.MkdirAll(data, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		supervise.Stop(sb.rundir(), 10*time.Second)
		exec.Command("umount", "-l", data).Run()
	})
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	for i := range 20 {
		sb.setBytes("default", fmt.Sprintf("keep-%02d", i), []byte(fmt.Sprintf("kept-%02d", i)))
	}
	// Fill the filesystem.
	filler := filepath.Join(data, "filler")
	f, _ := os.Create(filler)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	failed := 0
	for i := range 50 {
		cmd := exec.Command(sb.bin, "secret", "set", fmt.Sprintf("new-%02d", i))
		cmd.Env, cmd.Stdin = sb.env, bytes.NewReader(bytes.Repeat([]byte("x"), 32<<10))
		out, err := cmd.CombinedOutput()
		if err != nil {
			failed++
			if !bytes.Contains(out, []byte("full")) && !bytes.Contains(out, []byte("space")) {
				t.Fatalf("unclear error on a full disk: %s", out)
			}
		}
	}
	if failed == 0 {
		t.Fatal("no write failed on a full disk")
	}
	for i := range 20 {
		if got := sb.sesame("", "secret", "get", fmt.Sprintf("keep-%02d", i)); string(got) != fmt.Sprintf("kept-%02d", i) {
			t.Fatalf("keep-%02d: %q", i, got)
		}
	}
	os.Remove(filler)
	sb.sesame("", "down")
	sb.sesame("pw\n", "unlock")
	if got := sb.sesame("", "secret", "get", "keep-07"); string(got) != "kept-07" {
		t.Fatalf("after restart: %q", got)
	}
	sb.setBytes("default", "after", []byte("ok"))
}

// TestCorruptVault: a damaged vault gives a clear error naming its file; other profiles work.
func TestCorruptVault(t *testing.T) {
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	sb.sesame("pw\n", "profile", "create", "--kdf-time", "1", "--kdf-memory", "8", "work")
	sb.setBytes("default", "k", []byte("v"))
	sb.setBytes("work", "k", []byte("w"))
	sb.sesame("", "down")
	path := filepath.Join(sb.home, ".local", "share", "sesame", "vaults", "work.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 97 {
		b[i] ^= 0x5a
	}
	os.WriteFile(path, b, 0o600)
	_, errb, err := sb.try("pw\n", "unlock", "-p", "work")
	if err == nil || !bytes.Contains(errb, []byte("work.db")) {
		t.Fatalf("corrupt vault: %v %s", err, errb)
	}
	sb.sesame("pw\n", "unlock", "-p", "default")
	if got := sb.sesame("", "secret", "get", "-p", "default", "k"); string(got) != "v" {
		t.Fatalf("other profile: %q", got)
	}
}

// leakPins is the number of plaintext copies of secret values the leak search may find in
// sesame's long-lived processes. The goal is zero; it may only go down.
const leakPins = 0

// TestLeakSearch reads every readable mapping of every long-lived sesame process (the
// supervisor, the hub, the secrets role) through /proc/PID/mem after a workload, and every file
// sesame wrote, and counts the plaintext secret values it finds. Pages in memfd_secret are not
// readable at all (EIO): that is the point of them.
func TestLeakSearch(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("reading other processes' memory needs root here")
	}
	sb := newSandbox(t)
	sb.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	var values [][]byte
	for i := range 30 {
		v := []byte(fmt.Sprintf("LEAKCANARY-%02d-%x", i, rand.Uint64()))
		values = append(values, v)
		sb.setBytes("default", fmt.Sprintf("s%02d", i), v)
	}
	for i := range 30 {
		sb.sesame("", "secret", "get", fmt.Sprintf("s%02d", i))
	}
	sb.sesame("", "env", "--", "true")
	sb.sesame("", "export", "-f", "json")
	sb.sesame("", "lock")
	sb.sesame("pw\n", "unlock")
	sb.sesame("", "export", "-f", "shell")
	time.Sleep(200 * time.Millisecond)

	st := sb.status()
	procs := map[string]int{"supervisor": supervise.Running(sb.rundir()), "hub": int(st["hub"]), "secrets": int(st["secrets"])}
	hits := 0
	for name, pid := range procs {
		if pid == 0 {
			t.Fatalf("no pid for %s", name)
		}
		n, regions, err := searchProcess(pid, values)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range regions {
			t.Logf("leak: %s (pid %d): %s", name, pid, r)
		}
		hits += n
	}
	for _, root := range []string{sb.home, sb.run} {
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				b, _ := os.ReadFile(p)
				for _, v := range values {
					if bytes.Contains(b, v) {
						hits++
						t.Logf("leak: file %s holds a value", p)
					}
				}
			}
			return nil
		})
	}
	t.Logf("leak search: %d plaintext copies of %d values in %d processes and their files", hits, len(values), len(procs))
	if hits > leakPins {
		t.Fatalf("%d plaintext copies found; the pinned maximum is %d", hits, leakPins)
	}
}

// searchProcess scans pid's readable private mappings for needles; it returns the hit count
// and a description of where they were.
func searchProcess(pid int, needles [][]byte) (int, []string, error) {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, nil, err
	}
	defer maps.Close()
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return 0, nil, err
	}
	defer mem.Close()
	hits := 0
	var where []string
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[1][0] != 'r' {
			continue
		}
		path := ""
		if len(f) >= 6 {
			path = f[5]
		}
		if strings.HasPrefix(path, "/") && !strings.Contains(path, "secretmem") && path != "[heap]" {
			continue // file-backed text and data of the binary: not where secrets go
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		a, _ := strconv.ParseUint(lo, 16, 64)
		b, _ := strconv.ParseUint(hi, 16, 64)
		if b-a > 1<<30 {
			continue
		}
		buf := make([]byte, b-a)
		n, err := mem.ReadAt(buf, int64(a))
		if err != nil && n == 0 {
			continue // EIO for memfd_secret and guard pages
		}
		for _, nd := range needles {
			if c := bytes.Count(buf[:n], nd); c > 0 {
				hits += c
				where = append(where, fmt.Sprintf("%d× %q in %s %s", c, nd[:14], f[0], path))
			}
		}
	}
	return hits, where, sc.Err()
}
