package vault

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// benchFiles caches populated vault files for the whole test binary run, so
// that BenchmarkGet with -count=N populates each size once. TestMain removes
// the directory.
var benchFiles struct {
	sync.Mutex
	dir   string
	paths map[int]string
}

func benchCleanup() {
	benchFiles.Lock()
	defer benchFiles.Unlock()
	if benchFiles.dir != "" {
		os.RemoveAll(benchFiles.dir)
	}
}

func benchName(i int) string { return fmt.Sprintf("bench.secret.%06d", i) }

// benchVault returns the path of a closed vault of profile "bench" holding
// n secrets, populated in one transaction.
func benchVault(b *testing.B, n int) string {
	b.Helper()
	benchFiles.Lock()
	defer benchFiles.Unlock()
	if p, ok := benchFiles.paths[n]; ok {
		return p
	}
	if benchFiles.dir == "" {
		dir, err := os.MkdirTemp("", "sesame-vault-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchFiles.dir = dir
		benchFiles.paths = map[int]string{}
	}
	path := filepath.Join(benchFiles.dir, fmt.Sprintf("bench-%d.db", n))
	start := time.Now()
	v, err := Create(path, "bench", []byte(testPassword), testKDF)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, n)
	values := make([][]byte, n)
	for i := range names {
		names[i] = benchName(i)
		values[i] = fmt.Appendf(nil, "value-%06d-%032x", i, mrand.Uint64())
	}
	if err := v.setMany(names, values); err != nil {
		b.Fatal(err)
	}
	if err := v.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("populated %d secrets in %v", n, time.Since(start).Round(time.Millisecond))
	benchFiles.paths[n] = path
	return path
}

// BenchmarkGet reads random secrets from vaults of different sizes: the cost
// of Get should hardly depend on the number of secrets.
func BenchmarkGet(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			v, err := Open(benchVault(b, n), "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			if err := v.Unlock([]byte(testPassword)); err != nil {
				b.Fatal(err)
			}
			order := mrand.Perm(n)
			i := 0
			for b.Loop() {
				buf, err := v.Get(benchName(order[i%n]))
				if err != nil {
					b.Fatal(err)
				}
				buf.Destroy()
				i++
			}
		})
	}
}

// BenchmarkSet measures one durable insert (a commit with fsync).
func BenchmarkSet(b *testing.B) {
	v := newVault(b, "bench")
	value := []byte("a secret value of about forty bytes......")
	i := 0
	for b.Loop() {
		if err := v.Set(benchName(i), value); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkUnlockDefaultKDF measures Unlock with DefaultKDF: one Argon2id
// derivation plus the key schedule.
func BenchmarkUnlockDefaultKDF(b *testing.B) {
	v, err := Create(filepath.Join(b.TempDir(), "work.db"), "work", []byte(testPassword), DefaultKDF)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	b.Logf("DefaultKDF: %v", DefaultKDF)
	cpu := cpuTime()
	for b.Loop() {
		v.Lock()
		if err := v.Unlock([]byte(testPassword)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/unlock")
	reportCPU(b, cpu)
}

// cpuTime returns the CPU time (user + system) this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start: on a loaded machine it says more
// about the cost than the wall time does (Argon2id's two lanes run in parallel, so on an idle
// machine with two cores the wall time is about half of it).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkUnlockFactor measures UnlockWith (the role's side: checking the signature or
// taking the key, HKDF, the unwrap, the header MAC and the key schedule) for each factor
// type other than the password (see BenchmarkUnlockDefaultKDF), and what a client computes:
// the signature (in process here; an agent adds a socket round trip) and the age decryption.
func BenchmarkUnlockFactor(b *testing.B) {
	rsa3072, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		b.Fatal(err)
	}
	rsaSigner, err := ssh.NewSignerFromKey(rsa3072)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		e    func() Enrollment
	}{
		{"ssh-ed25519", func() Enrollment { return sshEnrollment(b, testEd25519(b), "bench") }},
		{"ssh-rsa3072", func() Enrollment { return sshEnrollment(b, rsaSigner, "bench") }},
		{"age", func() Enrollment { return Enrollment{Type: FactorAge, Recipient: testAgeRecipient} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v := createWith(b, "bench", PolicyAny, tc.e())
			_, fis := v.Factors()
			signers := []ssh.Signer{testEd25519(b), rsaSigner}
			b.Run("role", func(b *testing.B) {
				in := map[string][]byte{fis[0].ID: factorInput(b, "bench", fis[0], "", signers, []age.Identity{testAge(b)})}
				cpu := cpuTime()
				for b.Loop() {
					v.Lock()
					if err := v.UnlockWith(in); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu)
			})
			b.Run("client", func(b *testing.B) {
				cpu := cpuTime()
				for b.Loop() {
					factorInput(b, "bench", fis[0], "", signers, []age.Identity{testAge(b)})
				}
				reportCPU(b, cpu)
			})
		})
	}
}

// BenchmarkRekey measures a rotation of the master key (Change{Rotate: true},
// what removing a factor does) of a vault of n secrets of about 45 bytes:
// every row read, decrypted, sealed under the new keys and rewritten, the
// header sealed afresh, all in one transaction, committed (fsync) and
// checkpointed. The vault's one factor is an age identity, re-enrolled at
// each rotation, so no factor input is derived: a password factor would add
// one Argon2id derivation (see BenchmarkUnlockDefaultKDF).
func BenchmarkRekey(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			v := createWith(b, "bench", PolicyAny, Enrollment{Type: FactorAge, Recipient: testAgeRecipient})
			names := make([]string, n)
			values := make([][]byte, n)
			for i := range names {
				names[i] = benchName(i)
				values[i] = fmt.Appendf(nil, "value-%06d-%032x", i, mrand.Uint64())
			}
			if err := v.setMany(names, values); err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime()
			for b.Loop() {
				res, err := v.ChangeFactors(Change{Rotate: true}, nil)
				if err != nil || res.Reencrypted != n {
					b.Fatal(res, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/secret")
			reportCPU(b, cpu)
		})
	}
}
