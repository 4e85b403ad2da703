//lint:file-ignore U1000 the _msgpack fields carry msgpack's as_array tag; the library reads them

package api

import (
	"time"

	"github.com/open-sesame/sesame/bus"
)

// Kinds served by the wm role (window switching on Wayland).
const (
	WmList    = "wm.list"    // nothing → WmListReply
	WmSwitch  = "wm.switch"  // WmSwitchRequest → WmWindow, the window activated
	WmFocus   = "wm.focus"   // WmFocusRequest → WmFocusReply; CodeNotFound when nothing matches or is bound
	WmOverlay = "wm.overlay" // WmOverlayRequest → WmOverlayReply, once the overlay ends
	WmStatus  = "wm.status"  // nothing → WmStatusReply
	// WmConfig is how the hub pushes the configuration (ConfigPush), [wm] being what the
	// role reads; the role accepts it only from the hub.
	WmConfig = "wm.config"
)

// WmWindow is one toplevel window. ID lasts as long as the wm role runs.
type WmWindow struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID     string
	AppID  string
	Title  string
	Active bool
}

// WmListReply lists the windows, most recently used first.
type WmListReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Windows []WmWindow
}

// WmSwitchRequest switches to the previous window (or, Backward, to the least recent).
type WmSwitchRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Backward bool
}

// WmFocusRequest names a window by ID or application (app id, its last dotted part, or a
// bound hint letter).
type WmFocusRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Target string
}

// WmFocusReply is the window activated, or, when the target has no window but a key binding
// names an application, Launch: the desktop-file ID the caller launches (the wm role starts
// no programs).
type WmFocusReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Window *WmWindow
	Launch string
}

// WmOverlayRequest is what a compositor key binding sends (through `sesame wm overlay`).
type WmOverlayRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Backward bool
	Launcher bool
	Sent     time.Time // when the command started, for latency figures
}

// WmOverlayReply says how the overlay ended. Result is "activated", "launch" (the caller
// launches Launch), "cancelled", "advanced" (another overlay was open: its selection moved)
// or "none" (no window to switch to).
type WmOverlayReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Result string
	Window *WmWindow
	Launch string
	Quick  bool // a tap: released before the threshold, nothing drawn
}

// WmOverlayTiming is one overlay session's latencies (zero when not applicable).
type WmOverlayTiming struct {
	_msgpack struct{} `msgpack:",as_array"`

	Result           string
	Quick            bool
	Drawn            bool
	SentToMapped     time.Duration // the command's start → the compositor has the first buffer
	ReceivedToMapped time.Duration // the request reaching the role → the same
	SentToPresented  time.Duration // the command's start → the first frame callback
	KeyToActivated   time.Duration // a hint key press → the compositor reports the window activated
	SwitchToActive   time.Duration // activate request → the compositor reports the window activated
	MappedAt         time.Time     // when the overlay was mapped (this machine's clock)
}

// WmStatusReply describes the wm role.
type WmStatusReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Windows  int32
	Font     string // the font file drawing the overlay
	Overlays []WmOverlayTiming
}

// Kinds served by the clipboard role. The envelope's Profile names whose history; "" is the
// profile the role records into.
const (
	ClipboardHistory = "clipboard.history" // ClipboardListRequest → ClipboardListReply (sealed)
	ClipboardSearch  = "clipboard.search"  // ClipboardListRequest with Query → ClipboardListReply (sealed)
	ClipboardGet     = "clipboard.get"     // ClipboardGetRequest → ClipboardGetReply (sealed); CodeNotFound
	ClipboardCopy    = "clipboard.copy"    // ClipboardIDRequest → nothing: the entry is the selection again
	ClipboardClear   = "clipboard.clear"   // nothing → ClipboardClearReply
	ClipboardStatus  = "clipboard.status"  // nothing → ClipboardStatusReply
	// ClipboardConfig is how the hub pushes the configuration (ConfigPush): the default
	// profile is the one recorded for, its [clipboard] section the settings. From the hub only.
	ClipboardConfig = "clipboard.config"
	// ClipboardVaultChanged is how the secrets role tells the clipboard role, as soon as it
	// happens, that a vault was locked or its master key rotated (ClipboardVaultEvent →
	// nothing). From the secrets role only. The clipboard drops the profile's key on
	// VaultLocked; on VaultRotated it derives the new key and re-encrypts the history under
	// it. Sent without waiting: the clipboard's own poll of secrets.profiles still catches a
	// lock whose message was lost.
	ClipboardVaultChanged = "clipboard.vault-changed"
)

// Events of ClipboardVaultEvent.
const (
	VaultLocked  = "locked"
	VaultRotated = "rotated"
)

// ClipboardVaultEvent says what happened to the vault of Profile.
type ClipboardVaultEvent struct {
	_msgpack struct{} `msgpack:",as_array"`

	Profile string
	Event   string // VaultLocked or VaultRotated
}

// ClipboardListRequest lists (or, with Query, searches) a history, newest first.
type ClipboardListRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Limit    int32  // 0: 20
	Query    string // case-insensitive substring of the text
	ReplyKey bus.PublicKey
}

// ClipboardEntry is one history entry, without its content.
type ClipboardEntry struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID          int64
	MimeType    string
	Size        int64
	Preview     string // text on one line, cut at 80 characters; "" for images
	Sensitivity string // "public", or why it is sensitive: "password-manager", "aws-key", "entropy", …
	Copied      time.Time
	Count       int32 // how many times it was copied (repeats are one entry)
	Source      string
}

// ClipboardListReply carries the entries, msgpack-encoded (ClipboardEntries) and sealed to
// the request's ReplyKey with AD(kind, profile).
type ClipboardListReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Sealed []byte
}

// ClipboardEntries is the plaintext of ClipboardListReply.Sealed.
type ClipboardEntries struct {
	_msgpack struct{} `msgpack:",as_array"`

	Entries  []ClipboardEntry
	Locked   bool // the profile is locked: only what was copied since is listed (memory only)
	Recorded string
}

// ClipboardGetRequest asks for one entry's content.
type ClipboardGetRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID       int64
	ReplyKey bus.PublicKey
}

// ClipboardGetReply is the entry and its content sealed to ReplyKey with
// AD(ClipboardGet, profile, the id in decimal).
type ClipboardGetReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Entry  ClipboardEntry
	Sealed []byte
}

// ClipboardIDRequest names an entry.
type ClipboardIDRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID int64
}

// ClipboardClearReply says how many entries were removed.
type ClipboardClearReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Removed int32
}

// ClipboardStatusReply describes the clipboard role.
type ClipboardStatusReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Profile   string // recorded into
	Unlocked  bool   // its key is held: history is on disk, encrypted
	Protocol  string // the data-control global in use
	Primary   bool   // the primary selection is watched too
	Captured  int64  // selections seen since start
	Sensitive int64  // of which sensitive
	Cleared   int64  // sensitive selections cleared after their TTL
	Memory    int32  // entries held in memory only (captured while locked)
	ConfigSeq uint64 // of the configuration the hub pushed; 0: read from the files
}

// SecretsDeriveKey derives a 32-byte key for a purpose from the profile's master key. Only a
// role may ask, and only for its own purpose (the clipboard role for "clipboard"); the key
// comes back sealed to ReplyKey with AD(SecretsDeriveKey, profile, purpose). CodeLocked while
// the vault is locked.
const SecretsDeriveKey = "secrets.derive-key"

// DeriveKeyRequest asks for a purpose key.
type DeriveKeyRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Purpose  string
	ReplyKey bus.PublicKey
}

// DeriveKeyReply carries the sealed key.
type DeriveKeyReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Sealed []byte
	KeyID  string // the master key's vault.KeyID: ProfileState.KeyID differs once it is rotated
}
