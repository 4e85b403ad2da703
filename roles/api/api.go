// Package api is the contract between sesame's processes: the kinds each role serves and the
// bodies of their requests and replies. Roles do not import each other; they, and the CLI,
// import this.
//
// Bodies are msgpack arrays: fields are positional, so only ever append. Fields named Sealed
// carry bus.Seal ciphertext whose associated data is built by the AD helpers here; the hub
// forwards them without being able to read them.
package api

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/open-sesame/sesame/bus"
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
	Secrets  int // -1 while locked
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
