package sandbox

import (
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp program is assembled here, with golang.org/x/net/bpf, rather than by
// go-seccomp-bpf: that library cannot make SECCOMP_RET_USER_NOTIF the default action (its
// policy validation rejects it), never returns the listener descriptor that
// SECCOMP_FILTER_FLAG_NEW_LISTENER creates, cannot return ENOSYS for one call and EPERM for
// the rest, and its architecture tables cost every start of the multi-call binary — the CLI
// included — about 0.4 ms of package initialisation. The program is small enough to read:
//
//	load arch;   arch != AUDIT_ARCH_<this one>      → kill   (i386 or another ABI's entry)
//	load nr;     nr ≥ x32 bit (amd64)                → kill   (the x32 ABI)
//	for each listed call, in table order:
//	  nr == kill-listed                               → kill
//	  nr == ENOSYS-listed                             → errno ENOSYS
//	  nr == allowed, no conditions                    → allow
//	  nr == allowed with conditions: for each alternative, all conditions hold → allow;
//	                                 else             → default
//	                                                  → default (EPERM: notify, or errno + log)
//
// Every jump is short and forward (each call's block ends in a return), so no block can fall
// into another. The kernel caches the verdict of calls whose result does not depend on their
// arguments (Linux 5.11+), so the unconditional allow list costs nothing per call.

// Return values of the program.
const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retKill   = unix.SECCOMP_RET_KILL_PROCESS
	retNotify = unix.SECCOMP_RET_USER_NOTIF
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// Offsets in struct seccomp_data (little-endian: the low half of an argument comes first).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// runtimeValues are the values of Arg.Is when a filter is built.
type runtimeValues struct {
	pid      uint32
	notifyFD int // -1 when there is no supervisor
}

// rule is one system call number with what to do about it.
type rule struct {
	nr     uint32
	name   string
	action uint32  // retKill, retENOSYS, or retAllow
	alts   [][]Arg // for retAllow: nil means unconditional; else any alternative, all of its Args
	order  int     // first appearance in the tables
	uncond bool    // some entry allows it without conditions
}

// compile turns a policy into rules for this architecture: names are resolved through
// sysNames, a name this architecture lacks is skipped, and an unknown name on every
// architecture is an error (the tests catch typos before that).
func compile(p *Policy, v runtimeValues) ([]*rule, error) {
	byNr := map[uint32]*rule{}
	var out []*rule
	get := func(name string) (*rule, bool, error) {
		nr, ok := sysNumber(name)
		if !ok {
			if knownName(name) {
				return nil, false, nil // not on this architecture
			}
			return nil, false, fmt.Errorf("sandbox: %s: unknown system call %q", p.Role, name)
		}
		r := byNr[nr]
		if r == nil {
			r = &rule{nr: nr, name: name, order: len(out)}
			byNr[nr] = r
			out = append(out, r)
		}
		return r, true, nil
	}
	for _, list := range [][]Deny{Kill, ENOSYS} {
		for _, d := range list {
			r, ok, err := get(d.Name)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			act := uint32(retKill)
			if d.Action == ActENOSYS {
				act = retENOSYS
			}
			if r.action != 0 && r.action != act {
				return nil, fmt.Errorf("sandbox: %s: %s is listed with two actions", p.Role, d.Name)
			}
			r.action = act
		}
	}
	for _, group := range p.Syscalls {
		for _, s := range group {
			r, ok, err := get(s.Name)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if r.action != 0 && r.action != retAllow {
				return nil, fmt.Errorf("sandbox: %s: %s is both allowed and denied", p.Role, s.Name)
			}
			r.action = retAllow
			if len(s.Args) == 0 {
				r.uncond = true
				continue
			}
			args := make([]Arg, len(s.Args))
			possible := true
			for i, a := range s.Args {
				if a.N < 0 || a.N > 5 {
					return nil, fmt.Errorf("sandbox: %s: %s: no argument %d", p.Role, s.Name, a.N)
				}
				switch a.Is {
				case SelfPID:
					a.In = []uint32{v.pid}
				case NotifyFD:
					a.In = nil
					if v.notifyFD >= 0 {
						a.In = []uint32{uint32(v.notifyFD)}
					}
				}
				if len(a.In) == 0 {
					possible = false // e.g. no supervisor: this entry never allows anything
				}
				args[i] = a
			}
			if !possible {
				continue
			}
			r.alts = append(r.alts, args)
		}
	}
	// An allowed call whose every entry turned out impossible is simply not allowed.
	out = slices.DeleteFunc(out, func(r *rule) bool { return r.action == retAllow && !r.uncond && len(r.alts) == 0 })
	// Conditional blocks first: they run the filter on every call (the kernel caches only
	// unconditional verdicts), so the hot ones (futex, mmap) should be found early.
	slices.SortStableFunc(out, func(a, b *rule) int {
		ca, cb := a.action == retAllow && !a.uncond, b.action == retAllow && !b.uncond
		switch {
		case ca && !cb:
			return -1
		case cb && !ca:
			return 1
		}
		return a.order - b.order
	})
	return out, nil
}

// label-based assembly: jumps name the instruction they go to; resolve turns them into the
// relative skips BPF wants, and refuses any that do not fit in 8 bits.
type asm struct {
	ins    []bpf.Instruction
	fixups []fixup
	labels map[int]int // label → instruction index
	next   int
}

type fixup struct {
	at          int
	true, false int // labels; -1 means the next instruction
}

func (a *asm) label() int             { a.next++; return a.next }
func (a *asm) mark(l int)             { a.labels[l] = len(a.ins) }
func (a *asm) emit(i bpf.Instruction) { a.ins = append(a.ins, i) }
func (a *asm) ret(v uint32)           { a.emit(bpf.RetConstant{Val: v}) }
func (a *asm) load(off uint32)        { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }

// jump jumps to label t when the condition holds, else to label f (-1: the next instruction).
func (a *asm) jump(cond bpf.JumpTest, v uint32, t, f int) {
	a.fixups = append(a.fixups, fixup{at: len(a.ins), true: t, false: f})
	a.emit(bpf.JumpIf{Cond: cond, Val: v})
}

func (a *asm) resolve() ([]bpf.Instruction, error) {
	for _, fx := range a.fixups {
		j := a.ins[fx.at].(bpf.JumpIf)
		skip := func(l int) (uint8, error) {
			if l < 0 {
				return 0, nil
			}
			to, ok := a.labels[l]
			if !ok {
				return 0, fmt.Errorf("sandbox: seccomp: unresolved label %d", l)
			}
			d := to - fx.at - 1
			if d < 0 || d > 255 {
				return 0, fmt.Errorf("sandbox: seccomp: jump of %d instructions", d)
			}
			return uint8(d), nil
		}
		var err error
		if j.SkipTrue, err = skip(fx.true); err != nil {
			return nil, err
		}
		if j.SkipFalse, err = skip(fx.false); err != nil {
			return nil, err
		}
		a.ins[fx.at] = j
	}
	return a.ins, nil
}

// program assembles the filter for rules with the given default action.
func program(rules []*rule, def uint32) ([]bpf.Instruction, error) {
	a := &asm{labels: map[int]int{}}
	a.load(offArch)
	good := a.label()
	a.jump(bpf.JumpEqual, auditArch, good, -1)
	a.ret(retKill)
	a.mark(good)
	a.load(offNr)
	if x32Bit != 0 {
		ok := a.label()
		a.jump(bpf.JumpGreaterOrEqual, x32Bit, -1, ok)
		a.ret(retKill)
		a.mark(ok)
	}
	for _, r := range rules {
		next := a.label()
		a.jump(bpf.JumpEqual, r.nr, -1, next)
		switch {
		case r.action != retAllow:
			a.ret(r.action)
		case r.uncond:
			a.ret(retAllow)
		default:
			for _, alt := range r.alts {
				nextAlt := a.label()
				for _, c := range alt {
					a.load(offArgs + 8*uint32(c.N))
					if c.Mask != 0 && c.Mask != ^uint32(0) {
						a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: c.Mask})
					}
					ok := a.label()
					for i, v := range c.In {
						if i == len(c.In)-1 {
							a.jump(bpf.JumpEqual, v, ok, nextAlt)
						} else {
							a.jump(bpf.JumpEqual, v, ok, -1)
						}
					}
					a.mark(ok)
				}
				a.ret(retAllow)
				a.mark(nextAlt)
			}
			a.ret(def)
		}
		a.mark(next)
	}
	a.ret(def)
	return a.resolve()
}
