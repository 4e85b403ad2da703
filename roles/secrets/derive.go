package secrets

import (
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
)

// deriveKey answers secrets.derive-key: a key for one purpose, derived from the profile's
// master key (vault.DeriveKey), for a role to encrypt what it keeps on disk for that profile
// (the clipboard role's history). Only a role may ask, and only for the purpose that is its
// own name, so no client and no other role can obtain another role's key. The key leaves
// this process sealed to the key the requester made for this request; the hub sees only
// ciphertext.
func (s *server) deriveKey(req *bus.Envelope, ev *api.AuditEvent) (*api.DeriveKeyReply, error) {
	ev.Event = "key.derive"
	var r api.DeriveKeyRequest
	if err := decode(req, &r); err != nil {
		return nil, err
	}
	ev.Name = r.Purpose
	if req.Caller == nil || req.Caller.Role == "" {
		return nil, bus.Errorf(bus.CodeDenied, "secrets.derive-key: only a role may derive a key")
	}
	if r.Purpose != req.Caller.Role {
		return nil, bus.Errorf(bus.CodeDenied, "secrets.derive-key: the %s role may derive only its own key, not %q", req.Caller.Role, r.Purpose)
	}
	if r.ReplyKey.IsZero() {
		return nil, bus.Errorf(bus.CodeBadRequest, "secrets.derive-key: no reply key")
	}
	v, err := s.unlocked(req.Profile)
	if err != nil {
		return nil, err
	}
	key, id, err := v.DeriveKeyID(r.Purpose)
	if err != nil {
		return nil, vaultErr(err, req.Profile, "")
	}
	defer key.Destroy()
	sealed, err := bus.Seal(r.ReplyKey, api.AD(api.SecretsDeriveKey, req.Profile, r.Purpose), key.Bytes())
	if err != nil {
		return nil, err
	}
	return &api.DeriveKeyReply{Sealed: sealed, KeyID: id}, nil
}
