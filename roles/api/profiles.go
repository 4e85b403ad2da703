package api

import "time"

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
