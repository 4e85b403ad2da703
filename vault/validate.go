package vault

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Limits on names and values.
const (
	// MaxNameLen is the longest secret name, in bytes.
	MaxNameLen = 256
	// MaxProfileLen is the longest profile name, in bytes.
	MaxProfileLen = 64
	// MaxValueLen is the largest secret value, in bytes.
	MaxValueLen = 1 << 20
)

// Path returns the conventional location of the vault of profile under
// dataDir (normally $XDG_DATA_HOME): dataDir/sesame/vaults/<profile>.db.
// It does not validate profile; [Create] and [Open] do.
func Path(dataDir, profile string) string {
	return filepath.Join(dataDir, "sesame", "vaults", profile+".db")
}

// ValidateName reports whether name is a valid secret name: 1 to
// [MaxNameLen] bytes, with no NUL byte, no "/" and no "..". The error wraps
// [ErrInvalid].
func ValidateName(name string) error {
	if err := validateName(name); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

// ValidateProfile reports whether p is a valid profile name: 1 to
// [MaxProfileLen] bytes, the first an ASCII letter or digit, the rest ASCII
// letters, digits, '_' or '-'. A valid profile name is safe as a file name.
// The error wraps [ErrInvalid].
func ValidateProfile(p string) error {
	if err := validateProfile(p); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

// validateName is ValidateName without the "vault: " prefix, for use inside
// errors that already carry it.
func validateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w secret name: empty", ErrInvalid)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w secret name: %d bytes, longer than %d", ErrInvalid, len(name), MaxNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w secret name %q: contains a NUL byte", ErrInvalid, name)
	case strings.IndexByte(name, '/') >= 0:
		return fmt.Errorf("%w secret name %q: contains \"/\"", ErrInvalid, name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%w secret name %q: contains \"..\"", ErrInvalid, name)
	}
	return nil
}

// validateProfile is ValidateProfile without the "vault: " prefix.
func validateProfile(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w profile name: empty", ErrInvalid)
	case len(p) > MaxProfileLen:
		return fmt.Errorf("%w profile name: %d bytes, longer than %d", ErrInvalid, len(p), MaxProfileLen)
	case !isAlnum(p[0]):
		return fmt.Errorf("%w profile name %q: must start with an ASCII letter or digit", ErrInvalid, p)
	}
	for i := 1; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && c != '_' && c != '-' {
			return fmt.Errorf("%w profile name %q: byte %d (%q) is not an ASCII letter, digit, '_' or '-'", ErrInvalid, p, i, c)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
