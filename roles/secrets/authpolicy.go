package secrets

import (
	"slices"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/vault"
)

// Unlock settings locked by policy.
//
// A profile's auth.policy and auth.factors (package config) are what `sesame init` gives a
// new vault. When the administrator locks them ([[policy]] in /etc/sesame/config.toml), this
// role keeps every vault of the profile to them, whoever asks: a vault is only created, and
// its factors or policy only changed, when the result has exactly the locked policy and the
// locked set of factor types (several factors of one type are allowed: a second ssh key). A
// vault made before the lock keeps working; a change to it must bring it into line.

// conforms checks a vault of profile with these factor types and policy (as
// vault.Policy.Format writes it) against the locks; CodeDenied says what they want.
func (s *server) conforms(profile, policy string, types []string) error {
	a := s.authFor(profile)
	if err := a.Check(profile, policy, types); err != nil {
		return bus.Errorf(bus.CodeDenied, "%v", err)
	}
	return nil
}

// changeConforms checks what v would be after ch (add being ch's new factor, n the
// number of factors after it).
func (s *server) changeConforms(profile string, v *vault.Vault, ch *vault.Change, add *api.NewFactor, n int) error {
	pol, fis := v.Factors()
	if ch.Policy != nil {
		pol = *ch.Policy
	}
	var types []string
	for _, f := range fis {
		if !slices.Contains(ch.Remove, f.ID) {
			types = append(types, f.Type)
		}
	}
	if add != nil {
		types = append(types, add.Type)
	}
	if len(types) != n {
		return nil // an unknown factor id: the vault says so
	}
	return s.conforms(profile, pol.Format(n), types)
}
