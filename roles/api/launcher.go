package api

// Kinds served by the launcher role. The envelope's Profile is the trust profile whose
// frecency ranks the results and whose launch profiles a plain tag names.
//
// The launcher role never starts a program: it is sandboxed, and a sandbox is inherited by
// every child. `sesame launch run` asks it for a plan (LauncherPlan), fetches the plan's
// secrets itself (one request per profile, sealed to its own key, as `sesame env` does),
// starts the program outside any sandbox, and reports back (LauncherRecord), which updates
// frecency and the audit log.
const (
	LauncherSearch = "launcher.search" // SearchRequest → SearchReply
	LauncherPlan   = "launcher.plan"   // PlanRequest → LaunchPlan; CodeNotFound for an unknown ID or launch profile
	LauncherRecord = "launcher.record" // LaunchRecord → nothing, once frecency is updated
	LauncherStatus = "launcher.status" // nothing → LauncherStatusReply
)

// SearchRequest is a fuzzy query. An empty Query lists every entry, most frecent first.
type SearchRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Query string
	Limit int32 // at most this many hits; 0 means 20
}

// SearchHit is one matching entry.
type SearchHit struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID          string // desktop-file ID
	Name        string // localized
	GenericName string
	Comment     string
	Score       float64 // the combined score the hits are ordered by
	Match       int32   // fzf's score of the match (0 for an empty query)
	Frecency    float64 // decayed launch count in this profile
	Terminal    bool
	Actions     []string // action IDs, for `sesame launch run --action`
	NamePos     []int32  // rune offsets of Name that the query matched (for highlighting)
}

// SearchReply is the best hits, best first.
type SearchReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Hits    []SearchHit
	Matched int32 // hits before the limit
	Entries int32 // entries searched
}

// PlanRequest asks how to launch an entry.
type PlanRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID     string   // a desktop-file ID, with or without .desktop, or its last dotted part
	Action string   // a [Desktop Action] ID, or ""
	Tags   []string // launch profiles: "name" (in the request's profile) or "profile:name"
	Args   []string // files or URLs for the Exec field codes
}

// SecretRef names one secret of one profile.
type SecretRef struct {
	_msgpack struct{} `msgpack:",as_array"`

	Profile string
	Name    string
}

// LaunchPlan is everything needed to start an entry, except the secret values.
type LaunchPlan struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID       string     // the resolved desktop-file ID
	Name     string     // localized name
	Argv     [][]string // the command lines, wrapper included: one, or one per file for %f/%u
	Env      []string   // NAME=value from the launch profiles (never secrets)
	Cwd      string     // absolute, "~/…", or "" for the caller's home
	Terminal bool       // the entry wants a terminal emulator
	Secrets  []SecretRef
	Tags     []string // the launch profiles applied, as "profile:name"
	File     string   // the desktop file
}

// LaunchRecord reports a launch that was attempted.
type LaunchRecord struct {
	_msgpack struct{} `msgpack:",as_array"`

	ID      string
	Action  string
	Tags    []string
	Secrets []SecretRef // injected, by name only
	PIDs    []int32
	Unit    string // the systemd scope, when one was used
	OK      bool
	Error   string
}

// LauncherStatusReply describes the index.
type LauncherStatusReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Entries  int32    // entries indexed (shown or not)
	Shown    int32    // entries a search can return
	Dirs     []string // data directories searched, best first
	Watched  int32    // directories watched with inotify
	Warnings []string // files skipped, with file:line and why
	Scans    int64    // scans so far
}
