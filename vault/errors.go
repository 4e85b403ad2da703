package vault

import "errors"

// Sentinel errors. The errors returned by this package wrap them, so test for
// them with [errors.Is]; the wrapping error's message carries the context
// (operation, profile, file, secret name).
var (
	// ErrLocked is returned by secret operations on a locked vault.
	ErrLocked = errors.New("locked")

	// ErrNotFound is returned when a secret does not exist. The error names
	// the missing secret.
	ErrNotFound = errors.New("not found")

	// ErrExists is returned by [Create] when the vault file (or a leftover
	// -wal or -shm file next to it) already exists. Create never opens,
	// truncates or removes an existing file.
	ErrExists = errors.New("already exists")

	// ErrBadFactor is returned by [Vault.Unlock] when the factors given do
	// not unwrap the master key. It does not say which factor was wrong.
	ErrBadFactor = errors.New("incorrect password")

	// ErrMissingFactors is returned by [Vault.UnlockWith] and
	// [Vault.ChangeFactors] when the factors presented, even if right, are
	// not enough for the policy; the error says what is missing. No factor
	// was tried, so it is not a failed attempt.
	ErrMissingFactors = errors.New("more factors needed")

	// ErrCorrupt is returned when the file is not a sesame vault, or its
	// header or a record fails a structural or cryptographic check. The error
	// names the file.
	ErrCorrupt = errors.New("corrupt")

	// ErrUnsupported is returned for a vault written by a newer sesame: a
	// schema or header version this build does not know.
	ErrUnsupported = errors.New("unsupported vault format")

	// ErrInvalid is returned for an invalid secret name, profile name, value
	// or KDF parameter.
	ErrInvalid = errors.New("invalid")

	// ErrClosed is returned by every operation on a closed vault.
	ErrClosed = errors.New("closed")
)
