// Command stracesum turns an `strace -f -ff -ttt -o DIR/t` trace of sesame into the list of
// system calls each daemon role made after it sandboxed itself: the input for the seccomp
// tables in package sandbox (see trace.sh next to this file for how the trace is taken).
//
// It rebuilds processes from the per-thread files (a clone with CLONE_THREAD adds a thread to
// its creator's process; any other clone starts a process, named by the argv[0] of its
// execve), takes each role's seccomp(2) call as the moment the sandbox is on (or its execve,
// when the trace was taken without one), and prints, per role, every system call made after
// it with a count, and the distinct argument values of the calls whose arguments the tables
// filter (socket, ioctl, clone, prctl, fcntl, mmap/mprotect prot, kill/tgkill, madvise) and
// of every path opened.
//
// Usage: go run ./sandbox/internal/stracesum DIR [CALL]
//
// With CALL, it prints where each counted call of that name was made (file, process, line)
// instead of the summary: to find out why a role made it.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type call struct {
	t    float64
	name string
	args string
	ret  string
}

// thread is one life of a thread id: the kernel reuses ids, and strace -ff appends a new
// thread's calls to the old file, after a "+++ exited" line.
type thread struct {
	tid   int
	start float64 // time of its first call
	calls []call
}

var (
	lineRE  = regexp.MustCompile(`^(\d+\.\d+) ([a-z0-9_]+)\((.*)\)\s+= (.*)$`)
	startRE = regexp.MustCompile(`^(\d+\.\d+) ([a-z0-9_]+)\((.*) <unfinished \.\.\.>$`)
	resumRE = regexp.MustCompile(`^(\d+\.\d+) <\.\.\. ([a-z0-9_]+) resumed>(.*)\)\s+= (.*)$`)
	argv0RE = regexp.MustCompile(`^"[^"]*", \["([^"]*)"`)
)

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: stracesum DIR [CALL]")
		os.Exit(2)
	}
	why := ""
	if len(os.Args) == 3 {
		why = os.Args[2]
	}
	files, _ := filepath.Glob(filepath.Join(os.Args[1], "t.*"))
	var threads []*thread        // every thread life, indexed below
	lives := map[int][]*thread{} // tid → its lives, in time order
	for _, f := range files {
		tid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(f), "."))
		if err != nil {
			continue
		}
		for _, th := range parse(f, tid) {
			threads = append(threads, th)
			lives[tid] = append(lives[tid], th)
		}
	}
	sort.Slice(threads, func(i, j int) bool { return threads[i].start < threads[j].start })
	// lifeAt is the life of tid that began at or after t (a clone's child starts after it).
	lifeAt := func(tid int, t float64) *thread {
		for _, th := range lives[tid] {
			if th.start >= t {
				return th
			}
		}
		return nil
	}
	// proc maps a thread life to its process leader; name maps a leader to argv[0].
	proc := map[*thread]*thread{}
	name := map[*thread]string{}
	var find func(*thread) *thread
	find = func(t *thread) *thread {
		if p, ok := proc[t]; ok && p != t {
			r := find(p)
			proc[t] = r
			return r
		}
		return t
	}
	for _, th := range threads {
		for _, c := range th.calls {
			switch c.name {
			case "clone", "clone3", "fork", "vfork":
				child, err := strconv.Atoi(strings.Fields(c.ret)[0])
				if err != nil || child <= 0 {
					continue
				}
				ct := lifeAt(child, c.t)
				if ct == nil {
					continue
				}
				if strings.Contains(c.args, "CLONE_THREAD") {
					proc[ct] = th
				} else {
					proc[ct] = ct
				}
			case "execve":
				if m := argv0RE.FindStringSubmatch(c.args); m != nil && strings.HasPrefix(c.ret, "0") {
					name[th] = filepath.Base(m[1])
				}
			}
		}
	}
	type role struct {
		start  map[*thread]float64 // leader → sandbox time
		counts map[string]int
		args   map[string]map[string]int
	}
	roles := map[string]*role{}
	// The sandbox time of each process: its first seccomp(SECCOMP_SET_MODE_FILTER).
	start := map[*thread]float64{}
	for _, th := range threads {
		leader := find(th)
		for _, c := range th.calls {
			if c.name == "seccomp" && strings.HasPrefix(c.args, "SECCOMP_SET_MODE_FILTER") {
				if s, ok := start[leader]; !ok || c.t < s {
					start[leader] = c.t
				}
			}
		}
	}
	unsandboxed := map[string]map[*thread]bool{} // role → leaders with no seccomp call
	for _, th := range threads {
		leader := find(th)
		n := name[leader]
		if !strings.HasPrefix(n, "sesame-") {
			continue
		}
		if _, ok := start[leader]; !ok {
			// Never sandboxed (a role without a policy, or one that exited first): its
			// calls say nothing about what a sandboxed role needs.
			if unsandboxed[n] == nil {
				unsandboxed[n] = map[*thread]bool{}
			}
			unsandboxed[n][leader] = true
			continue
		}
		r := roles[n]
		if r == nil {
			r = &role{start: map[*thread]float64{}, counts: map[string]int{}, args: map[string]map[string]int{}}
			roles[n] = r
		}
		r.start[leader] = start[leader]
		for _, c := range th.calls {
			if c.t <= start[leader] || (c.name == "seccomp" && strings.HasPrefix(c.args, "SECCOMP_SET_MODE_FILTER")) {
				continue
			}
			r.counts[c.name]++
			if c.name == why {
				fmt.Printf("%s t.%d (process %d, sandboxed at %.6f): %.6f %s(%s) = %s\n", n, th.tid, leader.tid, start[leader], c.t, c.name, c.args, c.ret)
			}
			if k := detail(c); k != "" {
				if r.args[c.name] == nil {
					r.args[c.name] = map[string]int{}
				}
				r.args[c.name][k]++
			}
		}
	}
	if why != "" {
		return
	}
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := roles[n]
		sc := make([]string, 0, len(r.counts))
		for s := range r.counts {
			sc = append(sc, s)
		}
		sort.Strings(sc)
		fmt.Printf("== %s: %d system calls (%d sandboxed processes; %d never sandboxed, left out)\n", n, len(sc), len(r.start), len(unsandboxed[n]))
		for _, s := range sc {
			fmt.Printf("%-22s %d\n", s, r.counts[s])
			ks := make([]string, 0, len(r.args[s]))
			for k := range r.args[s] {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				fmt.Printf("    %s  (%d)\n", k, r.args[s][k])
			}
		}
	}
}

// detail is the part of a call's arguments that the seccomp tables (or the Landlock rules)
// care about.
func detail(c call) string {
	a := splitArgs(c.args)
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return "?"
	}
	switch c.name {
	case "socket", "socketpair":
		return arg(0) + " " + arg(1)
	case "ioctl":
		return arg(1)
	case "clone":
		for _, x := range a {
			if strings.HasPrefix(x, "flags=") {
				return x
			}
		}
	case "clone3":
		if m := regexp.MustCompile(`flags=[A-Z_|0-9]+`).FindString(arg(0)); m != "" {
			return m
		}
		return arg(0)
	case "prctl":
		return arg(0)
	case "fcntl":
		return arg(1)
	case "mmap":
		return arg(2) + " " + arg(3)
	case "mprotect", "pkey_mprotect":
		return arg(2)
	case "madvise":
		return arg(2)
	case "kill", "tgkill", "tkill":
		return strings.Join(a[len(a)-1:], "") // the signal
	case "openat", "open", "newfstatat", "statx", "mkdirat", "unlinkat", "renameat", "renameat2", "linkat", "readlinkat", "faccessat", "faccessat2":
		p := arg(1)
		if c.name == "open" {
			p = arg(0)
		}
		return p + " → " + strings.Fields(c.ret)[0]
	case "getsockopt", "setsockopt":
		return arg(1) + " " + arg(2)
	case "futex":
		return arg(1)
	case "rt_sigaction", "rt_sigprocmask":
		return arg(0)
	case "sched_getaffinity", "getrandom", "epoll_ctl":
		return arg(1)
	}
	return ""
}

// splitArgs splits strace's argument list at top-level commas.
func splitArgs(s string) []string {
	var out []string
	depth, q, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case q && ch == '\\':
			i++
		case ch == '"':
			q = !q
		case q:
		case ch == '[' || ch == '{' || ch == '(':
			depth++
		case ch == ']' || ch == '}' || ch == ')':
			depth--
		case ch == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// parse reads one strace -ff file: the lives of thread id tid, split at "+++" lines.
func parse(path string, tid int) []*thread {
	var out []*thread
	th := &thread{tid: tid}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	pending := map[string]call{}
	add := func(c call) {
		if len(th.calls) == 0 {
			th.start = c.t
		}
		th.calls = append(th.calls, c)
	}
	for sc.Scan() {
		l := sc.Text()
		if m := lineRE.FindStringSubmatch(l); m != nil {
			t, _ := strconv.ParseFloat(m[1], 64)
			add(call{t, m[2], m[3], m[4]})
		} else if m := startRE.FindStringSubmatch(l); m != nil {
			t, _ := strconv.ParseFloat(m[1], 64)
			pending[m[2]] = call{t: t, name: m[2], args: m[3]}
		} else if m := resumRE.FindStringSubmatch(l); m != nil {
			c := pending[m[2]]
			c.name, c.args, c.ret = m[2], c.args+m[3], m[4]
			delete(pending, m[2])
			add(c)
		} else if strings.Contains(l, " +++ ") || strings.HasPrefix(l, "+++ ") || strings.Contains(l, "+++ exited") || strings.Contains(l, "+++ killed") {
			if len(th.calls) > 0 {
				out = append(out, th)
			}
			th = &thread{tid: tid}
			pending = map[string]call{}
		}
	}
	if len(th.calls) > 0 {
		out = append(out, th)
	}
	return out
}
