package bus

//lint:file-ignore U1000 the _msgpack fields carry msgpack's as_array tag; the library reads them

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/open-sesame/sesame/internal/atomicfile"
	"github.com/open-sesame/sesame/secmem"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

// Key provisioning.
//
// Every daemon role has its own static key; the hub knows each role's public key. There are
// two ways a role gets its key, one for each way sesame runs.
//
// Under `sesame up` (no systemd: containers, jump hosts, a terminal) the supervisor generates
// the keys, in secure memory, when it starts, and hands each child exactly its own private key
// through an inherited pipe whose descriptor number is in SESAME_BOOT_FD. The key is never in
// argv, the environment, or a file, so no other role (and no other process: roles are not
// dumpable, so their /proc/PID/fd is closed to the user) can read it. The hub's boot message
// carries the hub's private key and every role's public key. Keys live as long as the
// supervisor; a restarted role gets its same key again, so clients need not learn anything new.
//
// Under systemd there is no parent to hand keys down, so they go through files on the runtime
// tmpfs. sesame-keys.service runs `sesame keys` (ProvisionKeys) once per login: it writes
// $XDG_RUNTIME_DIR/sesame/keys/ROLE.key for the hub and every role (32 raw bytes, 0600, in a
// 0700 directory; an existing key is kept, so it is idempotent, and each file is written to a
// temporary name and renamed, so a reader never sees half a key), hub.pub and roles.pub. Each
// unit sesame@ROLE.service then gets only its own key, with
//
//	LoadCredential=bus.key:%t/sesame/keys/%i.key
//	LoadCredential=hub.pub:%t/sesame/keys/hub.pub
//	SetCredential=role:%i
//
// plus, for the hub, LoadCredential=roles.pub:…; systemd copies them into the unit's
// $CREDENTIALS_DIRECTORY, and ReadBoot reads them from there when SESAME_BOOT_FD is unset. The
// units hide the key directory from every role (InaccessiblePaths=), so a compromised role
// cannot read another role's key through it, and a restarted unit gets the same key again.
//
// What this gives up, compared with `sesame up`: the keys are files. Until logout removes the
// runtime directory, any process running as the user, outside sesame's units, can read
// keys/*.key (and the credential copies, which a user manager cannot put on a private mount:
// $XDG_RUNTIME_DIR/credentials/UNIT/), and with a role's key it can impersonate that role to
// the hub. Mitigations: the files exist only on tmpfs and only for the session; nothing else
// of the user's is exposed by them (vault keys and values never touch these files, and values
// are sealed end to end); a user who wants no key on any file runs `sesame up` instead, which
// can itself be a user service. A same-uid attacker who can edit the user's units can replace
// sesame's binaries anyway, so these files lower the bar only for a process that can read the
// user's files but not run commands as them.
//
// Readiness: a role writes "ready\n" to the descriptor in SESAME_READY_FD once it serves,
// then closes it. Under systemd (Type=notify) it sends READY=1 to $NOTIFY_SOCKET instead, and
// then WATCHDOG=1 every WATCHDOG_USEC/2 for as long as it runs (see SignalReady).
const (
	BootFDEnv  = "SESAME_BOOT_FD"
	ReadyFDEnv = "SESAME_READY_FD"

	// CredentialsEnv names the directory where systemd puts a unit's credentials.
	CredentialsEnv = "CREDENTIALS_DIRECTORY"
)

// Credentials a unit passes to a role (LoadCredential=/SetCredential=).
const (
	CredKey   = "bus.key"   // the role's private key: 32 raw bytes
	CredHub   = "hub.pub"   // the hub's public key, hex
	CredRoles = "roles.pub" // the hub only: "ROLE HEX" lines, one per role
	CredRole  = "role"      // the role's name (optional)
)

// Files in the key directory that ProvisionKeys fills: ROLE.key for each role, and these.
const (
	KeysDirName  = "keys" // below the runtime directory
	HubPubName   = CredHub
	RolesPubName = CredRoles
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

// ReadBoot returns the role's identity with its private key in secure memory: from the boot
// message on the descriptor named in SESAME_BOOT_FD (which it closes), or, when that is unset,
// from the credentials systemd put in $CREDENTIALS_DIRECTORY.
func ReadBoot(getenv func(string) string) (*Identity, error) {
	s := getenv(BootFDEnv)
	if s == "" {
		if dir := getenv(CredentialsEnv); dir != "" {
			return readCredentials(dir)
		}
		return nil, errors.New("bus: no key was provisioned (neither " + BootFDEnv + " nor " + CredentialsEnv + " is set): roles are started by `sesame up` or by systemd (sesame@ROLE.service)")
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

// readCredentials builds an identity from a systemd credentials directory: bus.key, and
// roles.pub (the hub) or hub.pub (a role); role when present.
func readCredentials(dir string) (*Identity, error) {
	priv, err := readKeyFile(filepath.Join(dir, CredKey))
	if err != nil {
		return nil, fmt.Errorf("bus: credentials: %w", err)
	}
	kp, err := KeypairFromPrivate(priv)
	if err != nil {
		return nil, err
	}
	id := &Identity{Static: kp}
	fail := func(err error) (*Identity, error) {
		kp.Destroy()
		return nil, fmt.Errorf("bus: credentials: %w", err)
	}
	if b, err := readSmall(filepath.Join(dir, CredRole)); err == nil {
		id.Role = strings.TrimSpace(string(b))
		if !validRole(id.Role) {
			return fail(fmt.Errorf("%s: %q is not a role name", CredRole, id.Role))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	hub, hubErr := readPubFile(filepath.Join(dir, CredHub))
	if hubErr != nil && !errors.Is(hubErr, fs.ErrNotExist) {
		return fail(hubErr)
	}
	b, err := readSmall(filepath.Join(dir, CredRoles))
	switch {
	case err == nil:
		// The hub: it knows every role, and hub.pub, if given, must be its own key.
		if id.Roles, err = ParseRolesPub(b); err != nil {
			return fail(fmt.Errorf("%s: %w", CredRoles, err))
		}
		if hubErr == nil && !hub.Equal(kp.Public) {
			return fail(fmt.Errorf("%s does not match %s", CredHub, CredKey))
		}
		id.Hub = kp.Public
	case !errors.Is(err, fs.ErrNotExist):
		return fail(err)
	case hubErr != nil:
		return fail(fmt.Errorf("neither %s nor %s in %s", CredHub, CredRoles, dir))
	default:
		id.Hub = hub
	}
	return id, nil
}

// readKeyFile reads a 32-byte private key straight into secure memory. The file must be a
// regular file of exactly 32 bytes, owned by us, not readable by group or others.
func readKeyFile(path string) (*secmem.Buf, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, fmt.Errorf("%s: not a regular file", path)
	case int(st.Uid) != os.Getuid():
		return nil, fmt.Errorf("%s: owned by uid %d, not %d", path, st.Uid, os.Getuid())
	case st.Mode&0o077 != 0:
		return nil, fmt.Errorf("%s: mode %04o, want 0600 or tighter", path, st.Mode&0o777)
	case st.Size != 32:
		return nil, fmt.Errorf("%s: %d bytes, want a 32-byte key", path, st.Size)
	}
	buf, err := secmem.New(32)
	if err != nil {
		return nil, err
	}
	// read(2) fills the secure page directly: no copy on the Go heap.
	if _, err := io.ReadFull(f, buf.Bytes()); err != nil {
		buf.Destroy()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf, nil
}

// readSmall reads a small public file (at most 64 KiB).
func readSmall(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 64<<10 {
		return nil, fmt.Errorf("%s: too large", path)
	}
	return b, nil
}

func readPubFile(path string) (PublicKey, error) {
	b, err := readSmall(path)
	if err != nil {
		return PublicKey{}, err
	}
	k, err := ParsePublicKey(strings.TrimSpace(string(b)))
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// validRole reports whether name can be a role name (and so a file name in the key
// directory): 1 to 32 of a-z, 0-9 and "-", starting with a letter.
func validRole(name string) bool {
	if name == "" || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// FormatRolesPub encodes the roles' public keys as roles.pub: "ROLE HEX" lines, sorted.
func FormatRolesPub(roles map[string]PublicKey) []byte {
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + " " + roles[n].String() + "\n")
	}
	return []byte(b.String())
}

// ParseRolesPub decodes roles.pub. Every line is "ROLE HEX"; a role appears at most once.
func ParseRolesPub(b []byte) (map[string]PublicKey, error) {
	out := make(map[string]PublicKey)
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" && len(b) == 0 {
			break
		}
		name, hexKey, ok := strings.Cut(line, " ")
		if !ok || !validRole(name) {
			return nil, fmt.Errorf("line %d: want \"ROLE HEX\"", i+1)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("line %d: role %q listed twice", i+1, name)
		}
		k, err := ParsePublicKey(hexKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out[name] = k
	}
	return out, nil
}

// ProvisionKeys makes sure dir (the key directory, created 0700 when absent) holds a private
// key for the hub and for each role, and that hub.pub and roles.pub describe them. Keys that
// are there are kept, so running it again changes nothing; each file is written to a
// temporary name, synced and renamed into place, and concurrent runs are serialised by a lock
// file, so a reader sees either no key or a whole one. It returns the names whose key it
// created.
func ProvisionKeys(dir, hub string, roles []string) (created []string, err error) {
	var names []string
	for _, r := range append([]string{hub}, roles...) {
		if !validRole(r) {
			return nil, fmt.Errorf("bus: keys: %q is not a role name", r)
		}
		if !slices.Contains(names, r) {
			names = append(names, r)
		}
	}
	if err := os.Mkdir(dir, 0o700); err == nil {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("bus: keys: %w", err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("bus: keys: %w", err)
	}
	if err := CheckPrivateDir(dir); err != nil {
		return nil, fmt.Errorf("bus: keys: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bus: keys: %w", err)
	}
	defer lock.Close()
	for {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bus: keys: lock: %w", err)
	}

	pubs := make(map[string]PublicKey)
	for _, r := range names {
		path := filepath.Join(dir, r+".key")
		priv, err := readKeyFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			kp, gerr := GenerateKeypair()
			if gerr != nil {
				return created, gerr
			}
			// The write reads the key from its secure page; no copy is made.
			werr := atomicfile.Write(path, kp.Private(), 0o600)
			pubs[r] = kp.Public
			kp.Destroy()
			if werr != nil {
				return created, fmt.Errorf("bus: keys: %w", werr)
			}
			created = append(created, r)
			continue
		}
		if err != nil {
			return created, fmt.Errorf("bus: keys: %w (remove it to make a new key)", err)
		}
		kp, err := KeypairFromPrivate(priv)
		if err != nil {
			return created, err
		}
		pubs[r] = kp.Public
		kp.Destroy()
	}
	hubPub := []byte(pubs[hub].String() + "\n")
	delete(pubs, hub)
	for name, data := range map[string][]byte{HubPubName: hubPub, RolesPubName: FormatRolesPub(pubs)} {
		path := filepath.Join(dir, name)
		if old, err := readSmall(path); err == nil && string(old) == string(data) {
			continue
		}
		if err := atomicfile.Write(path, data, 0o600); err != nil {
			return created, fmt.Errorf("bus: keys: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return created, nil
}

// SignalReady tells whoever started this role that it is serving. Under a supervisor it
// writes "ready\n" to the descriptor in SESAME_READY_FD (and closes it). Otherwise, when
// NOTIFY_SOCKET is set (systemd, Type=notify), it sends READY=1 there and, when systemd asks
// for a watchdog (WATCHDOG_USEC, for this process), starts pinging it for as long as the
// process lives: a role that stops being scheduled is killed and restarted by systemd. With
// neither it does nothing.
func SignalReady(getenv func(string) string) error {
	s := getenv(ReadyFDEnv)
	if s == "" {
		sent, err := Notify(getenv, "READY=1")
		if err != nil || !sent {
			return err
		}
		if WatchdogInterval(getenv) > 0 {
			go Watchdog(context.Background(), getenv)
		}
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

// Environment of the systemd notification protocol (sd_notify(3)).
const (
	NotifySocketEnv = "NOTIFY_SOCKET"
	WatchdogUsecEnv = "WATCHDOG_USEC"
	WatchdogPIDEnv  = "WATCHDOG_PID"
)

// Notify sends state ("READY=1", "WATCHDOG=1", newline-separated assignments) to the service
// manager, as sd_notify(3) does: one datagram to the AF_UNIX socket named in NOTIFY_SOCKET, a
// path or an abstract address written with a leading "@". It reports whether it sent anything:
// false, nil when NOTIFY_SOCKET is unset.
func Notify(getenv func(string) string, state string) (bool, error) {
	addr := getenv(NotifySocketEnv)
	if addr == "" {
		return false, nil
	}
	if addr[0] != '/' && addr[0] != '@' || len(addr) < 2 {
		return false, fmt.Errorf("bus: %s=%q is neither a path nor an abstract address", NotifySocketEnv, addr)
	}
	// Go maps a leading "@" to the abstract namespace (a NUL first byte) itself.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("bus: notify: %w", err)
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("bus: notify: %w", err)
	}
	return true, nil
}

// WatchdogInterval is how often this process should send WATCHDOG=1: half of WATCHDOG_USEC
// when that is set and WATCHDOG_PID is unset or names this process; else 0.
func WatchdogInterval(getenv func(string) string) time.Duration {
	usec, err := strconv.ParseUint(getenv(WatchdogUsecEnv), 10, 63)
	if err != nil || usec == 0 {
		return 0
	}
	if p := getenv(WatchdogPIDEnv); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec/2) * time.Microsecond
}

// Watchdog sends WATCHDOG=1 every WatchdogInterval until ctx ends (nil) or the notification
// socket is gone (the error). It returns at once when no watchdog is asked for.
func Watchdog(ctx context.Context, getenv func(string) string) error {
	every := WatchdogInterval(getenv)
	if every <= 0 {
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, err := Notify(getenv, "WATCHDOG=1")
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
				return err
			}
			// Anything else (a full queue) may pass; a missed ping or two is within the
			// margin, and if they keep failing systemd restarts the role, as it should.
		}
	}
}
