// Package launcher is the launcher role: it indexes the desktop entries of the applications
// installed for the user, answers fuzzy searches ranked by match and per-profile frecency,
// and composes launch plans. It never starts a program itself.
//
// # The index
//
// At start the role scans $XDG_DATA_HOME/applications and each $XDG_DATA_DIRS/*/applications
// (package xdg: precedence, IDs, localization by LC_ALL/LC_MESSAGES/LANG, Shown rules), and
// watches every directory it read with inotify — plus the nearest existing parent of an
// applications directory that does not exist yet — so that an application installed,
// changed or removed is in the next search without a restart. A change is picked up after
// 100 ms without further events; the rescan reparses only files whose size, time or inode
// changed. A file that does not parse is skipped and logged once, with its file and line
// (`sesame launch status` lists them).
//
// # Searching
//
// See "Scoring" in search.go for the formula. Frecency is per trust profile, kept in
// $XDG_STATE_HOME/sesame/launcher/PROFILE.db and updated the moment a launch is reported.
//
// # Launching
//
// The role is sandboxed, and a sandbox (Landlock, seccomp, no_new_privs) is inherited by
// every process it would start, so it starts none. `sesame launch run` (the unsandboxed
// command line) asks for a plan (api.LauncherPlan: the command lines with field codes
// expanded and the wrapper applied, the launch profiles' variables, the working directory,
// the secrets to inject by profile and name), fetches the secrets itself, starts the program,
// and reports the launch (api.LauncherRecord), which this role records in the profile's
// frecency and in the audit log: the application, the profile, the launch profiles, and
// which secrets by name.
package launcher

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/sandbox"
	"github.com/open-sesame/sesame/xdg"
	"github.com/vmihailenco/msgpack/v5"
)

// settle is how long the desktop directories must be quiet before a rescan.
const settle = 100 * time.Millisecond

// maxLimit bounds the hits of one search.
const maxLimit = 1000

// Run runs the launcher role.
func Run(ctx context.Context, e *env.Env, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("launcher: unexpected arguments %q", args)
	}
	rs, err := bus.StartRole(e.Getenv)
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	defer rs.Close()
	id, rdir, seal := rs.Identity, rs.RuntimeDir, rs.Seal
	state, err := e.StateDir()
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	cfgHome, err := e.ConfigDir()
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	s := newServer(e, filepath.Join(state, "sesame", "launcher"), xdg.DataDirs(e.Getenv))
	defer s.frec.close()
	cl := &configLaunch{paths: config.PathsFor(e.Getenv(config.SystemDirEnv), cfgHome), logf: e.Logf}
	s.launch = cl.profiles
	w, err := xdg.NewWatcher()
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	s.watcher = w
	// From here on the role reads only the desktop entries and the configuration, and
	// writes only its frecency databases (package sandbox).
	sdirs := sandbox.NewDirs(rdir, e.DataDir, e.ConfigDir, e.StateDir)
	sdirs.SystemConfig = filepath.Dir(cl.paths.System)
	sdirs.DataDirs = s.dirs
	if _, err := sandbox.Apply(sandbox.Launcher, sdirs, e.Getenv, e.Logf); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	// The first scan runs while the role connects and reports ready (thousands of files
	// take a while on a busy machine); requests wait for it (see handle).
	go func() {
		s.rescan()
		close(s.scanned)
		go s.watchLoop(ctx)
	}()
	go w.Run(ctx)
	err = bus.ServeRole(ctx, e.Getenv, bus.RoleConfig{
		Identity:   id,
		Seal:       seal,
		RuntimeDir: rdir,
		Handler:    s.handle,
		Logf:       e.Logf,
		Connected:  func(c *bus.Client) { s.cl.Store(c) },
	})
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	return nil
}

type server struct {
	e       *env.Env
	dirs    []string
	scanner *xdg.Scanner
	showEnv xdg.Env
	watcher *xdg.Watcher // nil in tests that do not watch
	frec    *frecencies
	launch  launchProfiles
	cl      atomic.Pointer[bus.Client] // for audit events

	scans   atomic.Int64
	scanned chan struct{} // closed once the first scan is in
	mu      struct {
		sync.RWMutex
		ix     *index
		warned map[string]bool // warnings already logged
	}
}

func newServer(e *env.Env, frecDir string, dirs []string) *server {
	s := &server{
		e:       e,
		dirs:    dirs,
		scanner: xdg.NewScanner(dirs, xdg.LocaleFromEnv(e.Getenv)),
		showEnv: xdg.ShowEnv(e.Getenv),
		frec:    newFrecencies(frecDir),
		launch:  func(string) (map[string]config.Launch, error) { return nil, nil },
	}
	s.scanned = make(chan struct{})
	s.mu.ix = &index{byID: map[string]*item{}}
	s.mu.warned = map[string]bool{}
	return s
}

// rescan scans until no new directory needs watching (so a file created in a new
// subdirectory between the scan and its watch is not missed), then swaps the index in.
func (s *server) rescan() {
	var r *xdg.Result
	for range 8 {
		r = s.scanner.Scan()
		if s.watcher == nil {
			break
		}
		n, err := s.watcher.Set(s.scanner.Targets())
		if err != nil {
			s.e.Logf("launcher: %v", err)
		}
		if n == 0 {
			break
		}
	}
	ix := newIndex(r, s.showEnv)
	s.scans.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.ix = ix
	now := map[string]bool{}
	for _, w := range ix.warnings {
		now[w] = true
		if !s.mu.warned[w] {
			s.e.Logf("launcher: skipped %s", w)
		}
	}
	s.mu.warned = now
}

func (s *server) index() *index {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.ix
}

// watchLoop rescans after each burst of changes.
func (s *server) watchLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.watcher.C:
		}
		t := time.NewTimer(settle)
	quiet:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-s.watcher.C:
				t.Reset(settle)
			case <-t.C:
				break quiet
			}
		}
		s.rescan()
	}
}

func (s *server) handle(ctx context.Context, req *bus.Envelope) (any, error) {
	select {
	case <-s.scanned:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	profile := req.Profile
	if profile == "" {
		profile = "default"
	}
	switch req.Kind {
	case api.LauncherSearch:
		var r api.SearchRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		return s.search(profile, &r)
	case api.LauncherPlan:
		var r api.PlanRequest
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		it, err := s.index().resolve(r.ID)
		if err != nil {
			return nil, bus.Errorf(bus.CodeNotFound, "%v", err)
		}
		return compose(it, profile, &r, s.launch)
	case api.LauncherRecord:
		var r api.LaunchRecord
		if err := decode(req, &r); err != nil {
			return nil, err
		}
		return nil, s.record(ctx, profile, req.Caller, &r)
	case api.LauncherStatus:
		ix := s.index()
		st := &api.LauncherStatusReply{
			Entries:  int32(len(ix.items)),
			Shown:    int32(ix.shown),
			Dirs:     s.dirs,
			Warnings: ix.warnings,
			Scans:    s.scans.Load(),
		}
		if s.watcher != nil {
			st.Watched = int32(s.watcher.Len())
		}
		return st, nil
	}
	return nil, bus.Errorf(bus.CodeUnknownKind, "launcher: unknown request %q", req.Kind)
}

func decode(req *bus.Envelope, v any) error {
	if err := msgpack.Unmarshal(req.Body, v); err != nil {
		return bus.Errorf(bus.CodeBadRequest, "%s: malformed request: %v", req.Kind, err)
	}
	return nil
}

func (s *server) search(profile string, r *api.SearchRequest) (*api.SearchReply, error) {
	limit := int(r.Limit)
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, maxLimit)
	frec, err := s.frec.scores(profile, s.e.Now())
	if err != nil {
		return nil, bus.Errorf(bus.CodeBadRequest, "%v", err)
	}
	ix := s.index()
	hits, matched := ix.search(r.Query, frec, limit)
	out := &api.SearchReply{Hits: make([]api.SearchHit, len(hits)), Matched: int32(matched), Entries: int32(ix.shown)}
	for i, h := range hits {
		e := h.it.e
		sh := api.SearchHit{
			ID: e.ID, Name: e.Name, GenericName: e.GenericName, Comment: e.Comment,
			Score: h.score, Match: int32(h.match), Frecency: h.frec, Terminal: e.Terminal,
		}
		for _, a := range e.Actions {
			sh.Actions = append(sh.Actions, a.ID)
		}
		if strings.TrimSpace(r.Query) != "" {
			sh.NamePos = ix.namePositions(h.it, r.Query)
		}
		out.Hits[i] = sh
	}
	return out, nil
}

// record counts a launch in the profile's frecency (when it started) and audits it.
func (s *server) record(ctx context.Context, profile string, caller *bus.Caller, r *api.LaunchRecord) error {
	it, err := s.index().resolve(r.ID)
	if err != nil {
		return bus.Errorf(bus.CodeNotFound, "%v", err)
	}
	if r.OK {
		if err := s.frec.record(profile, it.e.ID, s.e.Now()); err != nil {
			return err
		}
	}
	ev := &api.AuditEvent{Event: "launch", Profile: profile, Caller: caller, OK: r.OK, Error: r.Error,
		Detail: map[string]string{"app": it.e.ID}}
	for _, sr := range r.Secrets {
		ev.Names = append(ev.Names, sr.Profile+":"+sr.Name)
	}
	if r.Action != "" {
		ev.Detail["action"] = r.Action
	}
	if len(r.Tags) > 0 {
		ev.Detail["tags"] = strings.Join(r.Tags, ",")
	}
	if r.Unit != "" {
		ev.Detail["unit"] = r.Unit
	}
	if len(r.PIDs) > 0 {
		pids := make([]string, len(r.PIDs))
		for i, p := range r.PIDs {
			pids[i] = strconv.Itoa(int(p))
		}
		ev.Detail["pids"] = strings.Join(pids, ",")
	}
	slices.Sort(ev.Names)
	cl := s.cl.Load()
	if cl == nil {
		s.e.Logf("launcher: audit: launch of %s in %q not recorded: not connected", it.e.ID, profile)
		return nil
	}
	if err := cl.Call(ctx, api.HubAudit, "", ev, nil); err != nil {
		s.e.Logf("launcher: audit: launch of %s in %q not recorded: %v", it.e.ID, profile, err)
	}
	return nil
}
