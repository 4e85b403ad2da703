// Package snippets is the snippets role: it keeps each profile's text snippets and serves
// the snippets.* kinds of package api.
//
// # Storage
//
// One SQLite file per profile, $XDG_DATA_HOME/sesame/snippets/PROFILE.db (0600 in 0700
// directories, WAL, every write synced before it is acknowledged), so snippets survive a
// restart of the role and any configuration reload. What is stored is the template as
// written: a ${secret:NAME} stays a reference and no expansion is ever stored. A template is
// parsed (package snippet) before it is stored, so a stored template always expands.
//
// # Expanding
//
// The role hands the template to whoever expands it (api.SnippetsGet): `sesame snippet
// expand`, and later the input role that types it. The expander fetches the secrets itself,
// sealed to its own key, reads its own environment and clock and the clipboard role. This
// role never holds a secret value.
//
// # Configuration
//
// [profiles.P.snippets] enabled = false turns a profile's snippets off (every request for it
// is refused); secret_templates = false refuses templates with ${secret:…} in that profile,
// both when they are added and when they are fetched. The files are read on each request, so
// a change applies at once; a configuration that does not load keeps the last one that did.
package snippets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/localdb"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/snippet"
	"github.com/open-sesame/sesame/vault"
	"github.com/vmihailenco/msgpack/v5"
)

// MaxTrigger bounds a trigger, in bytes.
const MaxTrigger = 128

// previewWidth is the width of a listing's preview, in terminal columns.
const previewWidth = 60

const schema = `CREATE TABLE IF NOT EXISTS snippets (
	trigger  TEXT PRIMARY KEY NOT NULL,
	template TEXT NOT NULL, -- as written; ${secret:NAME} is a reference, never a value
	created  INTEGER NOT NULL, -- unix milliseconds
	updated  INTEGER NOT NULL
) WITHOUT ROWID`

// Run runs the snippets role.
func Run(ctx context.Context, e *env.Env, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("snippets: unexpected arguments %q", args)
	}
	rs, err := bus.StartRole(e.Getenv)
	if err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	defer rs.Close()
	id, rdir, seal := rs.Identity, rs.RuntimeDir, rs.Seal
	data, err := e.DataDir()
	if err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	cfgHome, err := e.ConfigDir()
	if err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	s := newServer(e, filepath.Join(data, "sesame", "snippets"))
	defer s.close()
	cs := &configSnippets{paths: config.PathsFor(e.Getenv(config.SystemDirEnv), cfgHome), logf: e.Logf}
	s.settings = cs.settings
	// From here on the role reaches only its snippets, the configuration and the bus
	// (package sandbox).
	sdirs := sandbox.NewDirs(rdir, e.DataDir, e.ConfigDir, e.StateDir)
	sdirs.SystemConfig = filepath.Dir(cs.paths.System)
	if _, err := sandbox.Apply(sandbox.Snippets, sdirs, e.Getenv, e.Logf); err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	err = bus.ServeRole(ctx, e.Getenv, bus.RoleConfig{
		Identity:   id,
		Seal:       seal,
		RuntimeDir: rdir,
		Handler:    s.handle,
		Logf:       e.Logf,
		Connected:  func(c *bus.Client) { s.cl.Store(c) },
	})
	if err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	return nil
}

type server struct {
	e        *env.Env
	dir      string // one database per profile in here
	settings func(profile string) (config.Snippets, error)
	cl       atomic.Pointer[bus.Client]

	mu struct {
		sync.Mutex
		dbs map[string]*sql.DB
	}
}

func newServer(e *env.Env, dir string) *server {
	s := &server{e: e, dir: dir, settings: func(string) (config.Snippets, error) { return config.DefaultProfile().Snippets, nil }}
	s.mu.dbs = map[string]*sql.DB{}
	return s
}

func (s *server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, db := range s.mu.dbs {
		db.Close()
		delete(s.mu.dbs, p)
	}
}

// db returns the profile's database, opening it on first use. Without create, a profile
// with no database yet gives nil: only adding a snippet creates a file.
func (s *server) db(profile string, create bool) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if db := s.mu.dbs[profile]; db != nil {
		return db, nil
	}
	path := filepath.Join(s.dir, profile+".db")
	if _, err := os.Stat(path); !create && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	db, err := localdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	s.mu.dbs[profile] = db
	return db, nil
}

// configSnippets reads [profiles.P.snippets] from the configuration files on each call;
// when they do not load it keeps the last configuration that did, else the defaults.
type configSnippets struct {
	paths config.Paths
	logf  func(string, ...any)

	mu struct {
		sync.Mutex
		last    *config.Config
		lastErr string
	}
}

func (c *configSnippets) settings(profile string) (config.Snippets, error) {
	ld, err := config.Load(c.paths)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != c.mu.lastErr {
			c.logf("snippets: configuration not loaded, settings unchanged: %v", err)
			c.mu.lastErr = msg
		}
		if c.mu.last == nil {
			return config.DefaultProfile().Snippets, nil
		}
		return c.mu.last.Profile(profile).Snippets, nil
	}
	c.mu.last, c.mu.lastErr = ld.Config, ""
	return ld.Config.Profile(profile).Snippets, nil
}

func (s *server) handle(ctx context.Context, req *bus.Envelope) (any, error) {
	ev := &api.AuditEvent{Profile: req.Profile, Caller: req.Caller}
	body, err := s.serve(req, ev)
	if ev.Event != "" {
		ev.OK = err == nil
		if err != nil {
			ev.Error = err.Error()
		}
		s.audit(ctx, ev)
	}
	return body, err
}

func (s *server) audit(ctx context.Context, ev *api.AuditEvent) {
	cl := s.cl.Load()
	if cl == nil {
		return
	}
	if err := cl.Call(ctx, api.HubAudit, "", ev, nil); err != nil {
		s.e.Logf("snippets: audit: %s on %q not recorded: %v", ev.Event, ev.Profile, err)
	}
}

func (s *server) serve(req *bus.Envelope, ev *api.AuditEvent) (any, error) {
	profile := req.Profile
	if err := vault.ValidateProfile(profile); err != nil {
		return nil, bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	set, err := s.settings(profile)
	if err != nil {
		return nil, err
	}
	if !set.Enabled {
		return nil, bus.Errorf(bus.CodeDenied, "snippets are turned off for profile %q (config: profiles.%s.snippets.enabled)", profile, profile)
	}
	switch req.Kind {
	case api.SnippetsAdd:
		ev.Event = "snippet.add"
		var r api.SnippetAddRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		ev.Name = r.Trigger
		return nil, s.add(profile, set, &r, ev)
	case api.SnippetsList:
		return s.list(profile)
	case api.SnippetsRemove:
		ev.Event = "snippet.remove"
		var r api.SnippetRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		ev.Name = r.Trigger
		return nil, s.remove(profile, r.Trigger)
	case api.SnippetsGet:
		ev.Event = "snippet.get"
		var r api.SnippetRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		ev.Name = r.Trigger
		reply, err := s.get(profile, r.Trigger)
		if reply != nil {
			ev.Names = reply.Secrets
			if len(reply.Secrets) > 0 && !set.SecretTemplates {
				return nil, bus.Errorf(bus.CodeDenied, "snippet %q uses ${secret:…}, which is turned off for profile %q (config: profiles.%s.snippets.secret_templates)", r.Trigger, profile, profile)
			}
		}
		return reply, err
	}
	return nil, bus.Errorf(bus.CodeUnknownKind, "snippets: unknown request %q", req.Kind)
}

func decode(req *bus.Envelope, v any) error {
	if err := msgpack.Unmarshal(req.Body, v); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%s: malformed request: %v", req.Kind, err)
	}
	return nil
}

// ValidTrigger checks a trigger: 1 to MaxTrigger bytes of UTF-8, no spaces or control
// characters (a trigger is typed, and ends where a space is typed).
func ValidTrigger(t string) error {
	switch {
	case t == "":
		return errors.New("a trigger cannot be empty")
	case len(t) > MaxTrigger:
		return fmt.Errorf("trigger is longer than %d bytes", MaxTrigger)
	case !utf8.ValidString(t):
		return errors.New("trigger is not UTF-8")
	case strings.IndexFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("trigger %q has a space or control character", t)
	}
	return nil
}

func (s *server) add(profile string, set config.Snippets, r *api.SnippetAddRequest, ev *api.AuditEvent) error {
	if err := ValidTrigger(r.Trigger); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	t, err := snippet.Parse(r.Template)
	if err != nil {
		return bus.Errorf(bus.CodeBadRequest, "snippet %q: %v", r.Trigger, err)
	}
	ev.Names = t.Secrets()
	if len(ev.Names) > 0 && !set.SecretTemplates {
		return bus.Errorf(bus.CodeDenied, "${secret:…} is turned off for profile %q (config: profiles.%s.snippets.secret_templates)", profile, profile)
	}
	db, err := s.db(profile, true)
	if err != nil {
		return err
	}
	now := s.e.Now().UnixMilli()
	q := `INSERT INTO snippets (trigger, template, created, updated) VALUES (?, ?, ?, ?)`
	if r.Replace {
		q += ` ON CONFLICT (trigger) DO UPDATE SET template = excluded.template, updated = excluded.updated`
	} else {
		q += ` ON CONFLICT (trigger) DO NOTHING`
	}
	res, err := db.Exec(q, r.Trigger, r.Template, now, now)
	if err != nil {
		return fmt.Errorf("snippets: add %q: %w", r.Trigger, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return bus.Errorf(bus.CodeExists, "profile %q already has a snippet %q", profile, r.Trigger)
	}
	return nil
}

func (s *server) list(profile string) (*api.SnippetListReply, error) {
	out := &api.SnippetListReply{Snippets: []api.SnippetInfo{}}
	db, err := s.db(profile, false)
	if err != nil || db == nil {
		return out, err
	}
	rows, err := db.Query(`SELECT trigger, template, updated FROM snippets ORDER BY trigger`)
	if err != nil {
		return nil, fmt.Errorf("snippets: list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var trig, tmpl string
		var updated int64
		if err := rows.Scan(&trig, &tmpl, &updated); err != nil {
			return nil, fmt.Errorf("snippets: list: %w", err)
		}
		info := api.SnippetInfo{Trigger: trig, Preview: snippet.Preview(tmpl, previewWidth), Updated: time.UnixMilli(updated)}
		if t, err := snippet.Parse(tmpl); err == nil {
			info.Secrets = t.Secrets()
		}
		out.Snippets = append(out.Snippets, info)
	}
	return out, rows.Err()
}

func (s *server) remove(profile, trigger string) error {
	db, err := s.db(profile, false)
	if err != nil {
		return err
	}
	if db == nil {
		return bus.Errorf(bus.CodeNotFound, "profile %q has no snippet %q", profile, trigger)
	}
	res, err := db.Exec(`DELETE FROM snippets WHERE trigger = ?`, trigger)
	if err != nil {
		return fmt.Errorf("snippets: remove %q: %w", trigger, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return bus.Errorf(bus.CodeNotFound, "profile %q has no snippet %q", profile, trigger)
	}
	return nil
}

func (s *server) get(profile, trigger string) (*api.SnippetReply, error) {
	db, err := s.db(profile, false)
	if err != nil {
		return nil, err
	}
	if db == nil {
		return nil, bus.Errorf(bus.CodeNotFound, "profile %q has no snippet %q", profile, trigger)
	}
	var tmpl string
	var updated int64
	err = db.QueryRow(`SELECT template, updated FROM snippets WHERE trigger = ?`, trigger).Scan(&tmpl, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bus.Errorf(bus.CodeNotFound, "profile %q has no snippet %q", profile, trigger)
	}
	if err != nil {
		return nil, fmt.Errorf("snippets: get %q: %w", trigger, err)
	}
	t, err := snippet.Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("snippets: stored snippet %q does not parse: %w", trigger, err)
	}
	return &api.SnippetReply{Trigger: trigger, Template: tmpl, Secrets: t.Secrets(), Updated: time.UnixMilli(updated)}, nil
}
