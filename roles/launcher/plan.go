package launcher

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/vault"
	"github.com/open-sesame/sesame/xdg"
)

// Launch profiles
//
// A launch profile (config: [profiles.P.launch.NAME]) gives an application environment
// variables, secrets of P's vault, a working directory and a wrapper command. A launch in
// profile P applies, in order: P's launch profile "default" when there is one, then each
// --tag: "NAME" is P's launch profile NAME, "Q:NAME" is profile Q's (its secrets come from
// Q's vault). Composing them: env, later wins; secrets accumulate (the same secret of the
// same profile once); cwd and wrapper, the last one set wins. Variables from env obey the
// same denylist as injected secrets (api.Denied).

// launchProfiles returns the launch profiles of a trust profile.
type launchProfiles func(profile string) (map[string]config.Launch, error)

// configLaunch reads launch profiles from the configuration files on every call, so a launch
// always sees the configuration as it is now; when the files do not load, it keeps using
// the last configuration that did (as the hub does) and logs why.
type configLaunch struct {
	paths config.Paths
	logf  func(string, ...any)

	mu struct {
		sync.Mutex
		last    *config.Config
		lastErr string
	}
}

func (c *configLaunch) profiles(profile string) (map[string]config.Launch, error) {
	ld, err := config.Load(c.paths)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != c.mu.lastErr {
			c.logf("configuration not loaded, launch profiles unchanged: %v", err)
			c.mu.lastErr = msg
		}
		if c.mu.last == nil {
			return nil, fmt.Errorf("the configuration does not load (see: sesame config check): %v", err)
		}
		return c.mu.last.Profile(profile).Launch, nil
	}
	c.mu.last, c.mu.lastErr = ld.Config, ""
	return ld.Config.Profile(profile).Launch, nil
}

// compose builds the plan for it in profile.
func compose(it *item, profile string, req *api.PlanRequest, lp launchProfiles) (*api.LaunchPlan, error) {
	e := it.e
	cmd, name := e.Command, e.Name
	if req.Action != "" {
		i := slices.IndexFunc(e.Actions, func(a xdg.Action) bool { return a.ID == req.Action })
		if i < 0 {
			ids := make([]string, len(e.Actions))
			for j, a := range e.Actions {
				ids[j] = a.ID
			}
			return nil, bus.Errorf(bus.CodeNotFound, "%s has no action %q (actions: %s)", e.ID, req.Action, orNone(ids))
		}
		a := e.Actions[i]
		if a.Command == nil {
			return nil, bus.Errorf(bus.CodeNotFound, "action %q of %s has no Exec", a.ID, e.ID)
		}
		cmd, name = a.Command, a.Name
	}
	if cmd == nil {
		return nil, bus.Errorf(bus.CodeNotFound, "%s has no Exec (D-Bus activation only)", e.ID)
	}
	if !it.shown && it.why == "TryExec" {
		return nil, bus.Errorf(bus.CodeNotFound, "%s is not installed: its TryExec program %q is not found", e.ID, e.TryExec)
	}
	plan := &api.LaunchPlan{ID: e.ID, Name: name, Terminal: e.Terminal, Cwd: e.Path, File: e.File}
	// Launch profiles.
	type ref struct{ profile, name string }
	var refs []ref
	if own, err := lp(profile); err != nil {
		return nil, err
	} else if _, ok := own["default"]; ok {
		refs = append(refs, ref{profile, "default"})
	}
	for _, t := range req.Tags {
		p, n, cross := strings.Cut(t, ":")
		if !cross {
			p, n = profile, t
		}
		if err := vault.ValidateProfile(p); err != nil {
			return nil, bus.Errorf(bus.CodeBadRequest, "tag %q: %v", t, err)
		}
		if n == "" {
			return nil, bus.Errorf(bus.CodeBadRequest, "tag %q names no launch profile", t)
		}
		refs = append(refs, ref{p, n})
	}
	env := map[string]string{}
	var wrapper []string
	for _, r := range refs {
		all, err := lp(r.profile)
		if err != nil {
			return nil, err
		}
		l, ok := all[r.name]
		if !ok {
			return nil, bus.Errorf(bus.CodeNotFound, "no launch profile %q in profile %q (config: [profiles.%s.launch.%s]; have: %s)", r.name, r.profile, r.profile, r.name, orNone(sortedKeys(all)))
		}
		tag := r.profile + ":" + r.name
		if !slices.Contains(plan.Tags, tag) {
			plan.Tags = append(plan.Tags, tag)
		}
		for k, v := range l.Env {
			if api.Denied(k) || !validEnvName(k) {
				return nil, bus.Errorf(bus.CodeBadRequest, "launch profile %s sets $%s, which sesame never sets for a launched program", tag, k)
			}
			env[k] = v
		}
		for _, s := range l.Secrets {
			sr := api.SecretRef{Profile: r.profile, Name: s}
			if !slices.Contains(plan.Secrets, sr) {
				plan.Secrets = append(plan.Secrets, sr)
			}
		}
		if l.Cwd != "" {
			plan.Cwd = l.Cwd
		}
		if len(l.Wrapper) > 0 {
			wrapper = l.Wrapper
		}
	}
	for _, k := range sortedKeys(env) {
		plan.Env = append(plan.Env, k+"="+env[k])
	}
	for _, argv := range cmd.Expand(xdg.ExpandInfo{Icon: e.Icon, Name: e.Name, Location: e.File}, req.Args) {
		plan.Argv = append(plan.Argv, append(slices.Clone(wrapper), argv...))
	}
	return plan, nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}
