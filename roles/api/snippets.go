package api

import "time"

// Kinds served by the snippets role. The envelope's Profile names whose snippets.
//
// The role stores templates, never expansions: a ${secret:NAME} stays a reference, and
// whoever expands a snippet (`sesame snippet expand`, later the input role) fetches the
// secret from the secrets role itself, sealed to its own key (see package snippet).
const (
	SnippetsAdd    = "snippets.add"    // SnippetAddRequest → nothing; CodeExists unless Replace
	SnippetsList   = "snippets.list"   // nothing → SnippetListReply
	SnippetsRemove = "snippets.remove" // SnippetRequest → nothing; CodeNotFound
	SnippetsGet    = "snippets.get"    // SnippetRequest → SnippetReply; CodeNotFound
)

// SnippetAddRequest stores a snippet.
type SnippetAddRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Trigger  string
	Template string
	Replace  bool
}

// SnippetRequest names one snippet.
type SnippetRequest struct {
	_msgpack struct{} `msgpack:",as_array"`

	Trigger string
}

// SnippetReply is one snippet's template, for expansion by the caller.
type SnippetReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Trigger  string
	Template string
	Secrets  []string // the secrets the template references
	Updated  time.Time
}

// SnippetInfo is one line of a listing.
type SnippetInfo struct {
	_msgpack struct{} `msgpack:",as_array"`

	Trigger string
	Preview string // the template on one line, cut at 60 columns between characters
	Secrets []string
	Updated time.Time
}

// SnippetListReply lists a profile's snippets by trigger.
type SnippetListReply struct {
	_msgpack struct{} `msgpack:",as_array"`

	Snippets []SnippetInfo
}
