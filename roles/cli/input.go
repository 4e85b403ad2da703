package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/open-sesame/sesame/secmem"
	"golang.org/x/term"
)

// Reading secrets from the user.
//
// Passwords and values go straight into secure memory. From a terminal, x/term reads the
// line into a heap buffer that we copy and wipe at once (it is the only heap copy, and short
// lived). From a pipe, we read into secure memory directly: a password line one byte at a time
// (so that `sesame unlock -p a,b` can take one line per profile from the same stdin), a value
// in growing secure buffers.

const maxPassword = 4096

// stdinFile returns stdin as an *os.File when it is one.
func (st *state) stdinFile() (*os.File, bool) {
	f, ok := st.e.Stdin.(*os.File)
	return f, ok
}

func (st *state) stdinIsTerminal() bool {
	f, ok := st.stdinFile()
	return ok && term.IsTerminal(int(f.Fd()))
}

// readPassword reads a password: a hidden prompt on a terminal (twice when confirm is set),
// else one line of standard input.
func (st *state) readPassword(prompt string, confirm bool) (*secmem.Buf, error) {
	if st.stdinIsTerminal() {
		f, _ := st.stdinFile()
		for {
			pw, err := readHidden(f, st.e.Stderr, prompt+": ")
			if err != nil {
				return nil, err
			}
			if pw.Len() == 0 {
				pw.Destroy()
				fmt.Fprintln(st.e.Stderr, "sesame: an empty password is not allowed")
				continue
			}
			if !confirm {
				return pw, nil
			}
			again, err := readHidden(f, st.e.Stderr, "again: ")
			if err != nil {
				pw.Destroy()
				return nil, err
			}
			same := pw.Equal(again.Bytes())
			again.Destroy()
			if same {
				return pw, nil
			}
			pw.Destroy()
			fmt.Fprintln(st.e.Stderr, "sesame: the passwords differ; try again")
		}
	}
	pw, err := readLine(st.e.Stdin, maxPassword)
	if err != nil {
		return nil, err
	}
	if pw.Len() == 0 {
		pw.Destroy()
		return nil, errors.New("an empty password is not allowed (read one line from standard input)")
	}
	return pw, nil
}

func readHidden(f *os.File, w io.Writer, prompt string) (*secmem.Buf, error) {
	fmt.Fprint(w, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(w)
	defer secmem.Wipe(b)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	return secmem.FromBytes(b)
}

// readLine reads one line (without its "\n" or "\r\n") into secure memory, a byte at a time
// so that nothing past the line is consumed.
func readLine(r io.Reader, max int) (*secmem.Buf, error) {
	buf, err := secmem.New(max)
	if err != nil {
		return nil, err
	}
	b := buf.Bytes()
	n := 0
	var one [1]byte
	for {
		k, err := r.Read(one[:])
		if k == 1 {
			if one[0] == '\n' {
				break
			}
			if n == max {
				buf.Destroy()
				return nil, fmt.Errorf("line longer than %d bytes", max)
			}
			b[n] = one[0]
			n++
			continue
		}
		if err == io.EOF {
			if n == 0 {
				buf.Destroy()
				return nil, errors.New("no input: expected one line on standard input")
			}
			break
		}
		if err != nil {
			buf.Destroy()
			return nil, err
		}
	}
	one[0] = 0
	if n > 0 && b[n-1] == '\r' {
		n--
	}
	out, err := secmem.FromBytes(b[:n])
	buf.Destroy()
	return out, err
}

// readAll reads everything from r into secure memory, up to max bytes.
func readAll(r io.Reader, max int) (*secmem.Buf, error) {
	buf, err := secmem.New(4096)
	if err != nil {
		return nil, err
	}
	n := 0
	for {
		if n == buf.Len() {
			if n >= max {
				buf.Destroy()
				return nil, fmt.Errorf("value larger than %d bytes", max)
			}
			bigger, err := secmem.New(min(2*n, max+1))
			if err != nil {
				buf.Destroy()
				return nil, err
			}
			copy(bigger.Bytes(), buf.Bytes())
			buf.Destroy()
			buf = bigger
		}
		k, err := r.Read(buf.Bytes()[n:])
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			buf.Destroy()
			return nil, err
		}
	}
	if n > max {
		buf.Destroy()
		return nil, fmt.Errorf("value larger than %d bytes", max)
	}
	out, err := secmem.New(n)
	if err == nil {
		copy(out.Bytes(), buf.Bytes()[:n])
	}
	buf.Destroy()
	return out, err
}

// confirm asks a yes/no question: on a terminal, a prompt; else one line of stdin.
func (st *state) confirm(question string) (bool, error) {
	fmt.Fprintf(st.e.Stderr, "%s [y/N] ", question)
	line, err := readLine(st.e.Stdin, 64)
	if err != nil {
		fmt.Fprintln(st.e.Stderr)
		return false, nil
	}
	defer line.Destroy()
	s := string(line.Bytes())
	return s == "y" || s == "Y" || s == "yes" || s == "YES" || s == "Yes", nil
}
