package api

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kinds served by the hub for trust profiles and the configuration.
const (
	// HubConfig returns the effective configuration as the roles get it (ConfigPush). Roles
	// call it when they connect; afterwards the hub pushes each change (ROLE.config).
	HubConfig = "hub.config" // nothing → ConfigPush
	// HubCurrent says which profile commands without -p use, and why.
	HubCurrent = "hub.current" // nothing → CurrentReply
	// HubProfileDefault persists the default profile (`sesame profile default`).
	HubProfileDefault = "hub.profile-default" // ProfileRequest → CurrentReply; CodeDenied when policy locks default_profile
	// HubProfileActivate and HubProfileDeactivate take a profile in and out of use:
	// deactivating locks its vault and keeps context rules and the default from choosing it.
	HubProfileActivate   = "hub.profile-activate"   // ProfileRequest → CurrentReply
	HubProfileDeactivate = "hub.profile-deactivate" // ProfileRequest → CurrentReply; CodeNoProfile when no such vault
)

// SecretsConfig is how the hub pushes the configuration to the secrets role. The role
// accepts it only from the hub itself (Caller.Role == bus.HubCaller).
const SecretsConfig = "secrets.config" // ConfigPush → nothing

// ConfigPush is the effective configuration as the hub pushes it to a role (the kind is the
// role's name + ".config") and as hub.config returns it. Seq grows with each change: a role
// ignores a push older than what it has.
type ConfigPush struct {
	_msgpack struct{} `msgpack:",as_array"`

	Seq     uint64
	Default string // the default profile, as hub.current says
	// IdleLock is the idle lock timeout of each profile with a section; IdleLockOther that of
	// every other profile. 0 never locks.
	IdleLock      map[string]time.Duration
	IdleLockOther time.Duration
	// Config is the whole effective configuration: JSON of config.Config.
	Config []byte
	// Inactive is the deactivated profiles (sesame profile deactivate), sorted. The secrets
	// role locks their vaults and refuses them (CodeInactive) until they are activated.
	Inactive []string
	// Auth is the unlock settings of each profile with a section; AuthOther those of every
	// other profile. The CLI makes new vaults with them; where policy locks them, the
	// secrets role keeps every vault of the profile to them.
	Auth      map[string]AuthConfig
	AuthOther AuthConfig
}

// CodeInactive: the profile is deactivated; nothing but lock and delete reaches its vault.
const CodeInactive = "inactive"

// AuthConfig is a profile's [auth] as the configuration has it, and the policy locks on it.
type AuthConfig struct {
	_msgpack struct{} `msgpack:",as_array"`

	Policy  string   // "any", "all", "K-of-N"
	Factors []string // factor types, in order
	// PolicyLock and FactorsLock say where [[policy]] locks auth.policy and auth.factors
	// ("/etc/sesame/config.toml:12"); "" when the setting is only a default.
	PolicyLock  string
	FactorsLock string
}

// Check reports whether a vault of profile with the factor types and policy given (policy
// as vault.Policy.Format writes it for those factors) keeps to what policy locks: the exact
// policy when auth.policy is locked; the same set of factor types (each at least once, no
// other) when auth.factors is locked. The error says what the lock wants.
func (a *AuthConfig) Check(profile, policy string, types []string) error {
	if a.PolicyLock != "" && policy != a.Policy {
		return fmt.Errorf("profile %q: the unlock policy is locked to %s by policy (%s), not %s", profile, a.Policy, a.PolicyLock, policy)
	}
	if a.FactorsLock != "" {
		want, have := typeSet(a.Factors), typeSet(types)
		if !slices.Equal(want, have) {
			return fmt.Errorf("profile %q: the unlock factors are locked to %s by policy (%s), not %s", profile, strings.Join(want, ", "), a.FactorsLock, orNone(have))
		}
	}
	return nil
}

func typeSet(types []string) []string {
	out := slices.Clone(types)
	slices.Sort(out)
	return slices.Compact(out)
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

// AuthFor returns the unlock settings of profile.
func (p *ConfigPush) AuthFor(profile string) AuthConfig {
	if a, ok := p.Auth[profile]; ok {
		return a
	}
	return p.AuthOther
}

// ProfileRequest names a profile; Clear (with an empty Name) forgets the persisted default.
type ProfileRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Name  string
	Clear bool
}

// CurrentReply says which profile commands without -p use, and why.
type CurrentReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Default string // the profile
	Source  string // "context", "manual" (sesame profile default), "config" (default_profile), "policy", "builtin"
	Why     string // for humans: "context: work: ssid=corp-office"

	Manual     string // the persisted `sesame profile default`, "" for none
	Configured string // default_profile of the configuration
	Context    string // the context match ("work: ssid=corp-office"), "" when no rule matches
	Pending    string // a winner waiting out the debounce, "" for none
	Inactive   []string
	ContextOn  bool // context activation is enabled and some profile has rules
}

// ConfigStatus is the state of the configuration as hub.status reports it.
type ConfigStatus struct {
	_msgpack struct{} `msgpack:",as_array"`

	Seq      uint64    // of the configuration applied
	Applied  time.Time // when it was
	Files    []string  // it was read from, lowest layer first
	Warnings []string  // settings it ignored (locked by policy)
	// Rejected is when the files last failed to load, and Errors why; both zero when the
	// files on disk are what is applied. The applied configuration stays until they load.
	Rejected time.Time
	Errors   []string
}
