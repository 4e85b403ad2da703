// Package api is the contract between sesame's processes: the kinds each role serves and the
// bodies of their requests and replies. Roles do not import each other; they, and the CLI,
// import this.
//
// Bodies are msgpack arrays: fields are positional, so only ever append. Fields named Sealed
// carry bus.Seal ciphertext whose associated data is built by the AD helpers here; the hub
// forwards them without being able to read them.
package api

//lint:file-ignore U1000 the _msgpack fields carry msgpack's as_array tag; the library reads them

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/sandbox"
)

// Kinds served by the hub (profile role).
const (
	HubStatus = "hub.status"
	HubPing   = bus.KindPing
)

// HubStatusReply is the body of a hub.status reply.
type HubStatusReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Version string
	PID     int32
	Since   time.Time
	Memory  string // secure memory backend of the hub: memfd_secret or mlock
	Roles   []bus.RoleState
	// Sandbox is the hub's own sandbox level (first, Role "profile") and each running role's
	// (see sandbox.Level and sandbox.Observe).
	Sandbox []sandbox.Level
	// Profile is which profile commands without -p use, and why; Config is the state of the
	// configuration (nil from a hub that predates them).
	Profile *CurrentReply
	Config  *ConfigStatus
}

// Kinds served by the secrets role. The envelope's Profile names the vault.
const (
	SecretsProfiles = "secrets.profiles" // → ProfilesReply
	SecretsCreate   = "secrets.create"   // CreateRequest → nothing; CodeExists when the vault exists
	SecretsDrop     = "secrets.drop"     // nothing → nothing; deletes the profile's vault
	SecretsUnlock   = "secrets.unlock"   // UnlockRequest → nothing; CodeBadFactor on a wrong password
	SecretsLock     = "secrets.lock"     // nothing → LockReply; Profile "" locks every vault
	SecretsGet      = "secrets.get"      // GetRequest → GetReply
	SecretsSet      = "secrets.set"      // SetRequest → nothing
	SecretsDelete   = "secrets.delete"   // NameRequest → nothing
	SecretsList     = "secrets.list"     // nothing → ListReply
)

// ProfileState describes one vault.
type ProfileState struct {
	_msgpack struct{} `msgpack:",as_array"`

	Name     string
	Unlocked bool
	Secrets  int    // -1 while locked
	KeyID    string // vault.KeyID while unlocked: it changes when the master key is rotated
}

// ProfilesReply lists every vault, sorted by name.
type ProfilesReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Profiles []ProfileState
}

// CreateRequest creates a vault protected by a password.
type CreateRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Sealed []byte // the password, sealed with AD(SecretsCreate, profile)
	// Argon2id cost; zero means the default. Stored in the vault, so unlock uses the same.
	KDFTime      uint32
	KDFMemoryKiB uint32
}

// UnlockRequest unlocks a vault.
type UnlockRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Sealed []byte // the password, sealed with AD(SecretsUnlock, profile)
}

// LockReply names the vaults that were locked.
type LockReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Locked []string
}

// GetRequest asks for secret values. With All, every secret in the vault is returned and
// Names is ignored. The values come back sealed to ReplyKey, a key the caller made for this
// request alone.
type GetRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Names    []string
	All      bool
	ReplyKey bus.PublicKey
}

// GetReply carries the entries, sealed to the request's ReplyKey with
// AD(SecretsGet, profile, the request's names…) and encoded by AppendEntry.
type GetReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Sealed []byte
}

// SetRequest stores a value.
type SetRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Name   string
	Sealed []byte // the value, sealed with AD(SecretsSet, profile, name)
}

// NameRequest names one secret.
type NameRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Name string
}

// ListReply lists secret names, sorted.
type ListReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Names []string
}

// AD builds the associated data that binds a sealed body to its purpose.
func AD(kind, profile string, parts ...string) []byte {
	return []byte("sesame/" + kind + "\x00" + profile + "\x00" + strings.Join(parts, "\x00"))
}

// Entries inside a sealed GetReply: for each secret, name length (u16), name, value length
// (u32), value. Encoding into and decoding from a caller's buffer keeps values in secure
// memory end to end.

// EntrySize is the encoded size of one entry.
func EntrySize(name string, valueLen int) int { return 2 + len(name) + 4 + valueLen }

// AppendEntry appends one encoded entry to dst.
func AppendEntry(dst []byte, name string, value []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(name)))
	dst = append(dst, name...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// Entry is one decoded secret. Value is a view into the buffer it was decoded from.
type Entry struct {
	Name  string
	Value []byte
}

var errEntries = errors.New("api: malformed secret entries")

// DecodeEntries decodes entries; the values alias b.
func DecodeEntries(b []byte) ([]Entry, error) {
	var out []Entry
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errEntries
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if len(b) < n+4 {
			return nil, errEntries
		}
		name := string(b[:n])
		b = b[n:]
		m := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		if m > len(b) {
			return nil, errEntries
		}
		out = append(out, Entry{Name: name, Value: b[:m:m]})
		b = b[m:]
	}
	return out, nil
}

// Kinds for the audit log, which the hub keeps.
const (
	// HubAudit records an event. Only roles may send it; the hub stamps the sending role
	// itself and refuses it from clients.
	HubAudit = "hub.audit" // AuditEvent → nothing (answered once the line is on disk)
	// HubAuditHead returns the running hub's head of the chain (AuditHead).
	HubAuditHead = "hub.audit-head"
)

// AuditEvent is one event a role reports. Never put a secret value here.
type AuditEvent struct {
	_msgpack struct{} `msgpack:",as_array"`

	Event   string // e.g. "secret.get", "unlock"
	Profile string
	Name    string   // the secret, when one
	Names   []string // the secrets, when several
	Caller  *bus.Caller
	OK      bool
	Error   string
	Detail  map[string]string
}

// AuditHead is the last sequence number and hash of the audit chain.
type AuditHead struct {
	_msgpack struct{} `msgpack:",as_array"`

	Seq  uint64
	Hash string
}

// Unlock factors and policies (issue 4). A vault has factors (password, ssh-agent, age), each
// able to take part in unwrapping its master key, and a policy saying which sets of them
// unlock it: "any", "all" or "K-of-N". The CLI computes every factor input itself (it reads the
// password, asks the user's ssh-agent to sign, decrypts the age file with the user's identity)
// and sends the inputs sealed; the secrets role never talks to the agent or reads an identity.
const (
	// SecretsFactors describes a vault's factors and policy. Everything in the reply is
	// public (it is in the vault header); it works on a locked vault, and never creates one.
	SecretsFactors = "secrets.factors" // nothing → FactorsReply
	// SecretsCreateFactors creates a vault with the given factors and policy.
	SecretsCreateFactors = "secrets.create-factors" // CreateFactorsRequest → nothing; CodeExists when the vault exists
	// SecretsUnlockFactors unlocks a vault with factor inputs. It never creates a vault: a
	// profile without one is CodeNoProfile.
	SecretsUnlockFactors = "secrets.unlock-factors" // UnlockFactorsRequest → nothing; CodeBadFactor, CodeNeedFactors
	// The factor changes need the vault unlocked, and may need inputs of existing factors
	// (CodeNeedFactors says which); the reply names the factors and policy afterwards.
	SecretsFactorAdd    = "secrets.factor-add"    // FactorChangeRequest (Add) → FactorChangeReply
	SecretsFactorRemove = "secrets.factor-remove" // FactorChangeRequest (Remove) → FactorChangeReply
	SecretsFactorPolicy = "secrets.factor-policy" // FactorChangeRequest (Policy) → FactorChangeReply
)

// CodeNeedFactors: the factors presented are not enough for the policy (nothing was tried, so
// it is not a failed attempt); the message says what is missing.
const CodeNeedFactors = "need-factors"

// Factor types.
const (
	FactorPassword = "password"
	FactorSSHAgent = "ssh-agent"
	FactorAge      = "age"
)

// FactorInfo is the public description of one factor.
type FactorInfo struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID    string // "password", "ssh-agent", "age", "password-2", …
	Type  string // FactorPassword, FactorSSHAgent, FactorAge, or a type the role does not know
	Label string

	KDF string // password: "argon2id t=… m=…KiB p=…"

	PublicKey   []byte // ssh-agent: the key (SSH wire format)
	Fingerprint string // ssh-agent: SHA256:…
	Algorithm   string // ssh-agent: the pinned signature algorithm (ssh-ed25519, rsa-sha2-256)
	Challenge   []byte // ssh-agent: the agent signs vault.SSHSignedData(profile, Challenge)

	Recipient string // age: age1…
	AgeFile   []byte // age: decrypts, with the identity, to the factor key to present
}

// FactorsReply describes a vault's factors.
type FactorsReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Policy   string // "any", "all" or "K-of-N"
	Unlocked bool
	Factors  []FactorInfo // sorted by ID
}

// NewFactor is a factor to enrol. Only public parameters travel here; the password, or the
// agent's signature over vault.SSHSignedData(profile, Challenge), travels sealed.
type NewFactor struct {
	_msgpack struct{} `msgpack:",as_array"`

	Type  string
	Label string // the type when empty

	KDFTime      uint32 // password: Argon2id cost; zero means the default
	KDFMemoryKiB uint32

	PublicKey []byte // ssh-agent: the key the agent holds (SSH wire format)
	Challenge []byte // ssh-agent: 32 random bytes the CLI chose

	Recipient string // age: the X25519 recipient; the role draws the factor key and encrypts it
}

// Sealed factor inputs are entries (AppendEntry) named by factor id, or "+N" for the Nth new
// factor of the request, each valued with the input: a password, an ssh-agent signature blob,
// or an age factor key. They are sealed to the secrets role with AD(kind, profile).

// NewFactorEntry is the entry name of the input of the i-th new factor of a request.
func NewFactorEntry(i int) string {
	d := []byte{byte('0' + i%10)}
	for i /= 10; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return "+" + string(d)
}

// CreateFactorsRequest creates a vault protected by Factors under Policy.
type CreateFactorsRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Policy  string // "any", "all" or "K-of-N" with N = len(Factors)
	Factors []NewFactor
	Sealed  []byte // entries "+N" → input of Factors[N], sealed with AD(SecretsCreateFactors, profile)
}

// UnlockFactorsRequest unlocks a vault with factor inputs.
type UnlockFactorsRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Sealed []byte // entries factor id → input, sealed with AD(SecretsUnlockFactors, profile)
}

// FactorChangeRequest adds a factor, removes one, or changes the policy.
type FactorChangeRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Add    *NewFactor // factor-add
	Remove string     // factor-remove: the factor's id
	Policy string     // the new policy; "" keeps it (a K-of-N keeps K)
	// Inputs of existing factors the change needs (vault.InputsNeeded) and of the new factor
	// ("+0"), sealed with AD(kind, profile).
	Sealed []byte
}

// FactorChangeReply describes the vault after a change.
type FactorChangeReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Added  string // the new factor's id (factor-add)
	Policy string
	IDs    []string // every factor id, sorted
	// Rotated: the change replaced the master key (vault.ChangeResult), and Reencrypted
	// secrets were re-encrypted under it.
	Rotated     bool
	Reencrypted int
}
