package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
	"unsafe"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/secmem"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// injected is one secret bound to an environment variable.
type injected struct {
	profile, name, variable string
	value                   []byte // view into a secure buffer
}

// gather fetches every secret of each profile (one request per profile, however many
// secrets), maps each to its variable, and refuses denied variables and collisions. The
// returned buffers hold the values; the caller destroys them.
func (st *state) gather(ctx context.Context, profiles []string, prefix string) ([]injected, []*secmem.Buf, error) {
	if err := api.ValidPrefix(prefix); err != nil {
		return nil, nil, usageError{err}
	}
	cl, err := st.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	wants := make([]want, len(profiles))
	for i, p := range profiles {
		wants[i] = want{profile: p}
	}
	return collect(ctx, cl, wants, prefix)
}

// want is what to fetch from one profile: every secret (names nil), or the named ones.
type want struct {
	profile string
	names   []string
}

// collect fetches each want in one request per profile and binds every secret to its
// variable with the mapping and denylist that every injector shares (api.EnvName,
// api.Denied); two secrets mapping to one variable are an error. `sesame env`, `sesame
// export` and `sesame launch run` all inject through here. The caller destroys the buffers.
func collect(ctx context.Context, cl *bus.Client, wants []want, prefix string) ([]injected, []*secmem.Buf, error) {
	var out []injected
	var bufs []*secmem.Buf
	fail := func(err error) ([]injected, []*secmem.Buf, error) {
		for _, b := range bufs {
			b.Destroy()
		}
		return nil, nil, err
	}
	seen := map[string]injected{}
	for _, w := range wants {
		buf, ents, err := fetch(ctx, cl, w.profile, w.names)
		if err != nil {
			return fail(fmt.Errorf("profile %q: %w", w.profile, err))
		}
		bufs = append(bufs, buf)
		for _, e := range ents {
			in, err := bind(seen, w.profile, e.Name, prefix)
			if err != nil {
				return fail(err)
			}
			in.value = e.Value
			out = append(out, in)
		}
	}
	return out, bufs, nil
}

// bind maps one secret to its variable, refusing a denied variable and one that an earlier
// secret (in seen) already maps to.
func bind(seen map[string]injected, profile, name, prefix string) (injected, error) {
	in := injected{profile: profile, name: name, variable: api.EnvName(prefix, name)}
	if api.Denied(in.variable) {
		return in, fmt.Errorf("secret %q of profile %q maps to $%s, which sesame never sets (it could change what the program runs); rename the secret or use --prefix", name, profile, in.variable)
	}
	if o, dup := seen[in.variable]; dup {
		return in, fmt.Errorf("secrets %q (profile %q) and %q (profile %q) both map to $%s; rename one or use --prefix", o.name, o.profile, name, profile, in.variable)
	}
	seen[in.variable] = in
	return in, nil
}

// valueString returns the secret as a string without copying it: a view into secure memory, valid
// while its buffer is.
func (in injected) valueString() string {
	return unsafe.String(unsafe.SliceData(in.value), len(in.value))
}

// withoutVars returns environ (sesame's own descriptor variables dropped, see childEnv)
// without the variables in drop.
func withoutVars(environ []string, drop map[string]bool) []string {
	var out []string
	for _, kv := range childEnv(environ) {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

func (st *state) envCommand() *cli.Command {
	return &cli.Command{
		Name:      "env",
		Usage:     "run a command with a profile's secrets in its environment",
		ArgsUsage: "-- CMD [ARGS…]",
		Description: `Each secret becomes a variable: its name upper-cased, with '-', '.' and any other
character that is not a letter, digit or '_' turned into '_' (api-key → API_KEY),
after --prefix and '_' when given. Variables that change how programs load code or
find things (PATH, HOME, LD_*, BASH_FUNC_*, …) are never set; two secrets that map
to one variable are an error. With --file, each variable holds the path of an
in-memory file with the value instead (/proc/PID/environ then holds no secret).
The exit status is the command's (128+N when killed by signal N).`,
		Flags: []cli.Flag{
			profileFlag("profiles, comma-separated (default: see sesame which)"),
			&cli.StringFlag{Name: "prefix", Usage: "prefix every variable with `PREFIX`_"},
			&cli.BoolFlag{Name: "file", Usage: "pass each secret as the path of an in-memory file"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return usageError{errNoCommand}
			}
			profiles := st.profiles(c)
			ins, bufs, err := st.gather(c.Context, profiles, st.prefix(c))
			if err != nil {
				return fmt.Errorf("env: %w", err)
			}
			defer func() {
				for _, b := range bufs {
					b.Destroy()
				}
			}()
			if err := st.addDirEnv(c, ins); err != nil {
				return fmt.Errorf("env: %w", err)
			}
			return st.run(args, ins, profiles, c.Bool("file"))
		},
	}
}

// run starts the command with the secrets and waits for it, forwarding signals.
//
// What Go cannot avoid: syscall.StartProcess copies every environment string into a
// NUL-terminated heap buffer for execve, so each value (in the default mode) has one copy on
// this process's heap until it is collected; this process only waits for the child and exits.
// The strings we pass are views into secure memory (no copy of our own), kept alive until the
// child has exited.
func (st *state) run(args []string, ins []injected, profiles []string, asFiles bool) error {
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(st.e.Stderr, "sesame: env: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) {
			return ExitError{Code: 127}
		}
		return ExitError{Code: 126}
	}
	set := map[string]bool{"SESAME_PROFILES": true}
	for _, in := range ins {
		set[in.variable] = true
	}
	environ := withoutVars(st.e.Environ(), set)
	environ = append(environ, "SESAME_PROFILES="+strings.Join(profiles, ","))
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, in := range ins {
		if !asFiles {
			environ = append(environ, in.variable+"="+in.valueString())
			continue
		}
		f, err := memfdWith(in.name, in.value)
		if err != nil {
			return fmt.Errorf("env: %w", err)
		}
		environ = append(environ, in.variable+"=/dev/fd/"+strconv.Itoa(3+len(files)))
		files = append(files, f)
	}
	cmd := &exec.Cmd{
		Path:       path,
		Args:       args,
		Env:        environ,
		Stdin:      st.e.Stdin,
		Stdout:     st.e.Stdout,
		Stderr:     st.e.Stderr,
		ExtraFiles: files,
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(st.e.Stderr, "sesame: env: %v\n", err)
		return ExitError{Code: 126}
	}
	for _, f := range files {
		f.Close()
	}
	files = nil
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ExitError{Code: 128 + int(ws.Signal())}
		}
		return ExitError{Code: ee.ExitCode()}
	}
	return fmt.Errorf("env: %w", err)
}

// memfdWith returns a sealed, read-only in-memory file holding value.
func memfdWith(name string, value []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("sesame:"+name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sesame:"+name)
	for len(value) > 0 {
		n, err := f.Write(value)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("memfd: %w", err)
		}
		value = value[n:]
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd: seal: %w", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (st *state) exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "print a profile's secrets as shell, dotenv or JSON",
		Description: `shell: export NAME='value' lines; evaluated by bash or any POSIX shell they give
back every value exactly. dotenv: NAME='value', or NAME="value" with \\ \" \n \r
escapes when the value has a quote or a newline; a value no dotenv reader can take
back exactly (a NUL, invalid UTF-8, both ' and $ or a backtick) is refused. json: one
object, exact for UTF-8 values (others are refused); {} when there is none.`,
		Flags: []cli.Flag{
			profileFlag("profiles, comma-separated (default: see sesame which)"),
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "shell", Usage: "shell, dotenv or json"},
			&cli.StringFlag{Name: "prefix", Usage: "prefix every variable with `PREFIX`_"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			var enc func(dst []byte, in injected) ([]byte, error)
			switch f := c.String("format"); f {
			case "shell":
				enc = appendShell
			case "dotenv":
				enc = appendDotenv
			case "json":
				enc = appendJSON
			default:
				return usagef("export: unknown format %q (shell, dotenv or json)", f)
			}
			ins, bufs, err := st.gather(c.Context, st.profiles(c), st.prefix(c))
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer func() {
				for _, b := range bufs {
					b.Destroy()
				}
			}()
			// The output is assembled in secure memory and written in one go.
			size := 16
			for _, in := range ins {
				size += len(in.variable) + 6*len(in.value) + 16
			}
			out, err := secmem.New(size)
			if err != nil {
				return err
			}
			defer out.Destroy()
			b := out.Bytes()[:0]
			if c.String("format") == "json" {
				b = append(b, '{')
			}
			for i, in := range ins {
				if c.String("format") == "json" && i > 0 {
					b = append(b, ',')
				}
				if b, err = enc(b, in); err != nil {
					return fmt.Errorf("export: %w", err)
				}
			}
			if c.String("format") == "json" {
				b = append(b, '}', '\n')
			}
			if cap(b) != out.Len() {
				return errCap // append left secure memory: never write a heap copy
			}
			_, err = st.e.Stdout.Write(b)
			return err
		},
	}
}

var errCap = errors.New("export: output buffer too small")

// appendShell writes export NAME='value' with single quotes, inside which a POSIX shell
// takes every byte literally; a single quote is written as '\”.
func appendShell(b []byte, in injected) ([]byte, error) {
	if i := indexByte(in.value, 0); i >= 0 {
		return b, fmt.Errorf("secret %q holds a NUL byte, which no shell variable can hold", in.name)
	}
	b = append(b, "export "...)
	b = append(b, in.variable...)
	b = append(b, '=', '\'')
	for _, c := range in.value {
		if c == '\'' {
			b = append(b, '\'', '\\', '\'', '\'')
		} else {
			b = append(b, c)
		}
	}
	return append(b, '\'', '\n'), nil
}

// appendDotenv writes NAME='value' when the value has no quote and no line break (every
// dotenv reader takes single-quoted values literally), else NAME="value" with \\, \", \n and
// \r escapes, which the common readers (python-dotenv, dotenv for Node, godotenv, docker
// compose) decode; values those readers would expand ($, `) inside double quotes are refused.
func appendDotenv(b []byte, in injected) ([]byte, error) {
	v := in.value
	switch {
	case indexByte(v, 0) >= 0:
		return b, fmt.Errorf("secret %q holds a NUL byte, which dotenv cannot represent", in.name)
	case !utf8.Valid(v):
		return b, fmt.Errorf("secret %q is not UTF-8, which dotenv cannot represent exactly", in.name)
	}
	b = append(b, in.variable...)
	b = append(b, '=')
	if indexByte(v, '\'') < 0 && indexByte(v, '\n') < 0 && indexByte(v, '\r') < 0 {
		b = append(b, '\'')
		b = append(b, v...)
		return append(b, '\'', '\n'), nil
	}
	if indexByte(v, '$') >= 0 || indexByte(v, '`') >= 0 {
		return b, fmt.Errorf("secret %q holds a quote or line break and a $ or `: no dotenv quoting gives it back exactly; use -f shell or -f json", in.name)
	}
	b = append(b, '"')
	for _, c := range v {
		switch c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"', '\n'), nil
}

// appendJSON writes "NAME":"value" with JSON escapes; the value must be UTF-8 to be exact.
func appendJSON(b []byte, in injected) ([]byte, error) {
	if !utf8.Valid(in.value) {
		return b, fmt.Errorf("secret %q is not UTF-8, which JSON cannot represent exactly; use -f shell", in.name)
	}
	b = appendJSONString(b, []byte(in.variable))
	b = append(b, ':')
	return appendJSONString(b, in.value), nil
}

func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
