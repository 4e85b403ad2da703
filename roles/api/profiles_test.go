package api

import (
	"strings"
	"testing"
)

func TestAuthCheck(t *testing.T) {
	locked := AuthConfig{Policy: "2-of-3", Factors: []string{"password", "ssh-agent", "ssh-agent"}, PolicyLock: "/etc/sesame/config.toml:4", FactorsLock: "/etc/sesame/config.toml:9"}
	for _, c := range []struct {
		a      AuthConfig
		policy string
		types  []string
		err    string
	}{
		{AuthConfig{Policy: "all", Factors: []string{"age"}}, "any", []string{"password"}, ""}, // defaults only: anything goes
		{locked, "2-of-3", []string{"ssh-agent", "password", "ssh-agent"}, ""},
		{locked, "2-of-3", []string{"ssh-agent", "password", "password"}, ""}, // the set of types is what counts
		{locked, "2-of-2", []string{"ssh-agent", "password"}, `the unlock policy is locked to 2-of-3 by policy (/etc/sesame/config.toml:4), not 2-of-2`},
		{locked, "2-of-3", []string{"ssh-agent", "age", "password"}, `the unlock factors are locked to password, ssh-agent by policy (/etc/sesame/config.toml:9), not age, password, ssh-agent`},
		{AuthConfig{Factors: []string{"password"}, FactorsLock: "x:1"}, "any", nil, `locked to password by policy (x:1), not none`},
		{AuthConfig{Policy: "all", PolicyLock: "x:1"}, "any", []string{"password"}, `locked to all by policy (x:1), not any`},
	} {
		err := c.a.Check("work", c.policy, c.types)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%+v %s %v: %v", c.a, c.policy, c.types, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), `profile "work": `)):
			t.Errorf("%+v %s %v: %v, want …%s", c.a, c.policy, c.types, err, c.err)
		}
	}
}
