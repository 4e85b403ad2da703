package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/open-sesame/sesame/internal/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"golang.org/x/sys/unix"
)

// DirFileName is the file that names a directory's profile.
const DirFileName = ".sesame.toml"

// DirProfile is what a directory profile file says: the profile commands run in the
// directory (and below) use, and optionally a secret prefix and plain variables for
// `sesame env`.
//
//	profile = "work"
//	secret_prefix = "MYAPP"   # api-key → $MYAPP_API_KEY
//	[env]
//	AWS_REGION = "eu-west-1"
type DirProfile struct {
	Profile      ProfileName       `toml:"profile"`
	SecretPrefix string            `toml:"secret_prefix"`
	Env          map[string]string `toml:"env" key:"envvar"`
}

// ParseDir reads a directory profile file, with the same errors (positions and hints) as
// the configuration.
func ParseDir(name string, data []byte) (*DirProfile, error) {
	tree, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	var d decoder
	var dp DirProfile
	d.decode(tree, reflect.ValueOf(&dp).Elem(), nil, "")
	if tree.Fields["profile"] == nil {
		d.fail(tree.Pos, nil, "a directory profile must name its profile", `write profile = "NAME"`)
	}
	if p := tree.Fields["secret_prefix"]; p != nil && dp.SecretPrefix != "" {
		if err := validEnvName(dp.SecretPrefix); err != nil {
			d.fail(p.Pos, []string{"secret_prefix"}, err.Error(), "")
		}
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return &dp, nil
}

// FindDir returns the directory profile file nearest to dir (dir itself, then each
// parent), or "" when there is none.
func FindDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, DirFileName)
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.Mode().IsRegular():
			return p, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR):
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// AllowState says whether a directory profile file may be used.
type AllowState int

const (
	NotAllowed AllowState = iota // never allowed (or denied)
	Allowed                      // allowed with exactly this content
	Changed                      // allowed once, but the content changed since
)

// AllowList records which directory profile files the user allowed, by absolute path and
// the SHA-256 of their content: a file changed after `sesame allow` is not honoured until
// it is allowed again. It lives in $XDG_STATE_HOME/sesame/allowed.json (0600 in a 0700
// directory), written atomically under an flock.
type AllowList struct {
	Path string
}

type allowFile struct {
	Version int               `json:"version"`
	Allowed map[string]string `json:"allowed"` // path → "sha256:HEX"
}

// Digest is how the allow list names a file's content.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (a AllowList) read() (allowFile, error) {
	af := allowFile{Version: 1, Allowed: map[string]string{}}
	b, err := os.ReadFile(a.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return af, nil
	}
	if err != nil {
		return af, fmt.Errorf("allow list: %w", err)
	}
	if err := json.Unmarshal(b, &af); err != nil {
		return af, fmt.Errorf("allow list %s: %v", a.Path, err)
	}
	if af.Allowed == nil {
		af.Allowed = map[string]string{}
	}
	return af, nil
}

// Check says whether file, with this content, is allowed.
func (a AllowList) Check(file string, data []byte) (AllowState, error) {
	af, err := a.read()
	if err != nil {
		return NotAllowed, err
	}
	d, ok := af.Allowed[file]
	switch {
	case !ok:
		return NotAllowed, nil
	case d == Digest(data):
		return Allowed, nil
	}
	return Changed, nil
}

// Allow records file with this content.
func (a AllowList) Allow(file string, data []byte) error {
	return a.update(func(af *allowFile) { af.Allowed[file] = Digest(data) })
}

// Deny forgets file; it reports whether it was there.
func (a AllowList) Deny(file string) (bool, error) {
	was := false
	err := a.update(func(af *allowFile) {
		_, was = af.Allowed[file]
		delete(af.Allowed, file)
	})
	return was, err
}

func (a AllowList) update(fn func(*allowFile)) error {
	dir := filepath.Dir(a.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("allow list: %w", err)
	}
	lock, err := os.OpenFile(a.Path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("allow list: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("allow list: lock: %w", err)
	}
	af, err := a.read()
	if err != nil {
		return err
	}
	fn(&af)
	b, err := json.MarshalIndent(af, "", "  ") // map keys sorted
	if err != nil {
		return err
	}
	return WriteFileAtomic(a.Path, append(b, '\n'))
}

// WriteFileAtomic writes data to path with mode 0600, creating the directory 0700 when it is
// missing, and replacing the file atomically and durably (internal/atomicfile).
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
