package bus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/open-sesame/sesame/secmem"
	"github.com/vmihailenco/msgpack/v5"
)

// Key provisioning.
//
// Every daemon role has its own static key; the hub knows each role's public key. The
// supervisor (sesame up) generates the keys, in secure memory, when it starts, and hands each
// child exactly its own private key through an inherited pipe whose descriptor number is in
// SESAME_BOOT_FD. The key is never in argv, the environment, or a file, so no other role (and
// no other process: roles are not dumpable, so their /proc/PID/fd is closed to the user) can
// read it. The hub's boot message carries the hub's private key and every role's public key.
// Keys live as long as the supervisor; a restarted role gets its same key again, so clients
// need not learn anything new.
//
// Readiness: a role writes "ready\n" to the descriptor in SESAME_READY_FD once it serves,
// then closes it. A supervisor or systemd wrapper waits on that instead of sleeping.
const (
	BootFDEnv  = "SESAME_BOOT_FD"
	ReadyFDEnv = "SESAME_READY_FD"
)

// Boot is the message a role reads at start.
type Boot struct {
	_msgpack struct{} `msgpack:",as_array"`

	Role    string
	Private []byte               // the role's static private key, 32 bytes
	Hub     PublicKey            // the hub's public key (roles only)
	Roles   map[string]PublicKey // every role's public key (hub only)
}

// WriteBoot writes b to w. The caller wipes b.Private when it owns a copy.
func WriteBoot(w io.Writer, b *Boot) error {
	enc, err := msgpack.Marshal(b)
	if err != nil {
		return err
	}
	defer secmem.Wipe(enc)
	_, err = w.Write(enc)
	return err
}

// Identity is what a role learned from its boot message.
type Identity struct {
	Role   string
	Static *Keypair
	Hub    PublicKey
	Roles  map[string]PublicKey
}

// ReadBoot reads the boot message from the descriptor named in SESAME_BOOT_FD, closes it, and
// returns the role's identity with its private key moved into secure memory.
func ReadBoot(getenv func(string) string) (*Identity, error) {
	s := getenv(BootFDEnv)
	if s == "" {
		return nil, errors.New("bus: no key was provisioned (" + BootFDEnv + " unset): roles are started by `sesame up` or systemd")
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("bus: %s=%q is not a descriptor", BootFDEnv, s)
	}
	f := os.NewFile(uintptr(fd), "boot")
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, 1<<20))
	defer secmem.Wipe(raw)
	if err != nil {
		return nil, fmt.Errorf("bus: read boot message: %w", err)
	}
	var b Boot
	if err := msgpack.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("bus: malformed boot message: %v", err)
	}
	defer secmem.Wipe(b.Private)
	priv, err := secmem.FromBytes(b.Private)
	if err != nil {
		return nil, err
	}
	kp, err := KeypairFromPrivate(priv)
	if err != nil {
		return nil, err
	}
	return &Identity{Role: b.Role, Static: kp, Hub: b.Hub, Roles: b.Roles}, nil
}

// SignalReady tells whoever started this role that it is serving: it writes "ready\n" to the
// descriptor in SESAME_READY_FD (and closes it). Without one it does nothing.
func SignalReady(getenv func(string) string) error {
	s := getenv(ReadyFDEnv)
	if s == "" {
		return nil
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		return fmt.Errorf("bus: %s=%q is not a descriptor", ReadyFDEnv, s)
	}
	f := os.NewFile(uintptr(fd), "ready")
	defer f.Close()
	_, err = io.WriteString(f, "ready\n")
	return err
}
