package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fill(t *testing.T, dir string, n int, opt Options) *Log {
	t.Helper()
	l, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		err := l.Append(&Entry{Role: "secrets", Event: "secret.get", Profile: "work", Name: fmt.Sprintf("s%d", i),
			Caller: &Caller{PID: 42, UID: 1000, Exe: "/usr/bin/aws"}, OK: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func lines(t *testing.T, dir string) [][]byte {
	b, err := os.ReadFile(filepath.Join(dir, Current))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(bytes.TrimRight(b, "\n"), []byte("\n"))
}

func writeLines(t *testing.T, dir string, ls [][]byte) {
	var b []byte
	for _, l := range ls {
		b = append(b, bytes.TrimRight(l, "\n")...)
		b = append(b, '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, Current), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, dir string) *Report {
	t.Helper()
	r, err := Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyGood(t *testing.T) {
	dir := t.TempDir()
	l := fill(t, dir, 20, Options{})
	r := mustVerify(t, dir)
	if !r.OK || r.Entries != 20 || r.First != 1 || r.Last != 20 {
		t.Fatalf("%+v", r)
	}
	h := l.Head()
	if r, _ := Verify(dir, &h); !r.OK {
		t.Fatalf("live head: %+v", r)
	}
	// Reopening continues the chain.
	l.Close()
	l = fill(t, dir, 5, Options{})
	if r := mustVerify(t, dir); !r.OK || r.Last != 25 {
		t.Fatalf("%+v", r)
	}
	l.Close()
}

// forge computes a correct-looking entry the way an attacker with the unkeyed hash could.
func forge(t *testing.T, prev Entry, event string) []byte {
	e := &Entry{Seq: prev.Seq + 1, Time: time.Now().UTC(), Role: "secrets", Event: event, OK: true, Prev: prev.Hash}
	line, _, err := encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func parse(t *testing.T, line []byte) Entry {
	var e Entry
	if err := json.Unmarshal(bytes.TrimRight(line, "\n"), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestTampering(t *testing.T) {
	cases := map[string]struct {
		tamper func(t *testing.T, dir string, ls [][]byte)
		bad    uint64
		says   string
	}{
		"edited line": {func(t *testing.T, dir string, ls [][]byte) {
			ls[6] = bytes.Replace(ls[6], []byte(`"name":"s6"`), []byte(`"name":"xx"`), 1)
			writeLines(t, dir, ls)
		}, 7, "edited"},
		"deleted line": {func(t *testing.T, dir string, ls [][]byte) {
			writeLines(t, dir, append(ls[:4:4], ls[5:]...))
		}, 5, "deleted"},
		"reordered lines": {func(t *testing.T, dir string, ls [][]byte) {
			ls[3], ls[4] = ls[4], ls[3]
			writeLines(t, dir, ls)
		}, 4, ""},
		"deleted last 3 lines": {func(t *testing.T, dir string, ls [][]byte) {
			writeLines(t, dir, ls[:7])
		}, 8, "truncated"},
		"forged line with a correct-looking hash": {func(t *testing.T, dir string, ls [][]byte) {
			writeLines(t, dir, append(ls, forge(t, parse(t, ls[len(ls)-1]), "secret.set")))
		}, 11, "past the end"},
		"first lines removed": {func(t *testing.T, dir string, ls [][]byte) {
			writeLines(t, dir, ls[2:])
		}, 1, "earlier lines were removed"},
		"last line rewritten consistently": {func(t *testing.T, dir string, ls [][]byte) {
			ls[9] = forge(t, parse(t, ls[8]), "forged")
			writeLines(t, dir, ls)
		}, 10, "rewritten"},
		"head file deleted": {func(t *testing.T, dir string, ls [][]byte) {
			os.Remove(filepath.Join(dir, HeadName))
		}, 10, "head file is missing"},
		"garbage line": {func(t *testing.T, dir string, ls [][]byte) {
			writeLines(t, dir, append(ls[:5:5], append([][]byte{[]byte("{not json")}, ls[5:]...)...))
		}, 6, "not a JSON entry"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, 10, Options{}).Close()
			c.tamper(t, dir, lines(t, dir))
			r := mustVerify(t, dir)
			if r.OK || r.BadSeq != c.bad || !strings.Contains(r.Problem, c.says) {
				t.Fatalf("got ok=%v bad=%d %q; want bad seq %d saying %q", r.OK, r.BadSeq, r.Problem, c.bad, c.says)
			}
		})
	}
}

// The running hub's head catches a consistent rewrite of both the files and the head file.
func TestLiveHeadCatchesConsistentRewrite(t *testing.T) {
	dir := t.TempDir()
	l := fill(t, dir, 5, Options{})
	live := l.Head()
	l.Close()
	ls := lines(t, dir)
	writeLines(t, dir, ls[:3])
	e := parse(t, ls[2])
	writeHead(dir, Head{Seq: e.Seq, Hash: e.Hash})
	if r := mustVerify(t, dir); !r.OK {
		t.Fatalf("files alone should look consistent: %+v", r)
	}
	r, _ := Verify(dir, &live)
	if r.OK || r.BadSeq != 4 || !strings.Contains(r.Problem, "running hub") {
		t.Fatalf("%+v", r)
	}
}

func TestOpenReportsBreak(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 5, Options{}).Close()
	writeLines(t, dir, lines(t, dir)[:3])
	l, err := Open(dir, Options{})
	var be *BreakError
	if !errors.As(err, &be) || l == nil || be.Seq != 4 {
		t.Fatalf("open: %v", err)
	}
	// The log goes on from what is there; the break stays visible to Verify only through
	// what the caller records, so record it.
	if err := l.Append(&Entry{Role: "profile", Event: "audit.break", Error: be.Error()}); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, dir); !r.OK || r.Last != 4 {
		t.Fatalf("%+v", r)
	}
}

func TestRotationKeepsChain(t *testing.T) {
	dir := t.TempDir()
	l := fill(t, dir, 200, Options{MaxSize: 4 << 10, Keep: 3})
	defer l.Close()
	files, _ := Files(dir)
	if len(files) != 4 {
		t.Fatalf("files: %v", files)
	}
	r := mustVerify(t, dir)
	if !r.OK || r.Last != 200 || r.First == 1 {
		t.Fatalf("%+v", r)
	}
	// Tampering in a rotated file is found.
	b, _ := os.ReadFile(files[1])
	os.WriteFile(files[1], bytes.Replace(b, []byte(`"ok":true`), []byte(`"ok":false`), 1), 0o600)
	if r := mustVerify(t, dir); r.OK {
		t.Fatal("tampered rotated file passed")
	}
}

func TestHashKnownAnswer(t *testing.T) {
	// The chain function is fixed by the format; pin it.
	sum := chain(make([]byte, 32), []byte(`{"seq":1`))
	if got := hex.EncodeToString(sum[:]); len(got) != 64 || got == zeroHash {
		t.Fatal(got)
	}
	again := chain(make([]byte, 32), []byte(`{"seq":1`))
	if sum != again {
		t.Fatal("not deterministic")
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 50, Options{MaxSize: 2 << 10}).Close()
	got, err := Tail(dir, 7)
	if err != nil || len(got) != 7 {
		t.Fatal(len(got), err)
	}
	if e := parse(t, got[6]); e.Seq != 50 {
		t.Fatal(e.Seq)
	}
	if e := parse(t, got[0]); e.Seq != 44 {
		t.Fatal(e.Seq)
	}
}

func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	l, _ := Open(dir, Options{})
	l.Append(&Entry{Role: "r", Event: "e", OK: true}, &Entry{Role: "r", Event: "f"})
	l.Close()
	b, _ := os.ReadFile(filepath.Join(dir, Current))
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, Current), data, 0o600)
		r, err := Verify(d, nil)
		if err == nil && r.OK && r.Entries > 0 {
			// Whatever verifies must have a head file matching it; there is none here.
			t.Fatalf("verified without a head: %+v", r)
		}
	})
}
