package snippets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/vmihailenco/msgpack/v5"
)

func call(t *testing.T, s *server, kind, profile string, req, resp any) error {
	t.Helper()
	var body []byte
	if req != nil {
		var err error
		if body, err = msgpack.Marshal(req); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.handle(context.Background(), &bus.Envelope{Kind: kind, Profile: profile, Body: body})
	if err != nil || resp == nil {
		return err
	}
	b, err := msgpack.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return msgpack.Unmarshal(b, resp)
}

func newTestServer(t *testing.T, dir string) *server {
	e := &env.Env{Now: func() time.Time { return time.Unix(1700000000, 0) }, Logf: t.Logf, Getenv: func(string) string { return "" }}
	s := newServer(e, dir)
	t.Cleanup(s.close)
	return s
}

// Snippets persist across a restart of the role; templates are stored as written, never
// expanded; a trigger is replaced only when asked; only adding creates a file.
func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snippets")
	s := newTestServer(t, dir)
	var list api.SnippetListReply
	if err := call(t, s, api.SnippetsList, "work", nil, &list); err != nil || len(list.Snippets) != 0 {
		t.Fatalf("empty list: %v %v", list, err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a listing created the database")
	}
	add := func(trig, tmpl string, replace bool) error {
		return call(t, s, api.SnippetsAdd, "work", &api.SnippetAddRequest{Trigger: trig, Template: tmpl, Replace: replace}, nil)
	}
	if err := add("tok", "Bearer ${secret:api-key}", false); err != nil {
		t.Fatal(err)
	}
	if err := add("tok", "other", false); bus.ErrCode(err) != bus.CodeExists {
		t.Errorf("duplicate: %v", err)
	}
	if err := add("bad", "${nope}", false); bus.ErrCode(err) != bus.CodeBadRequest || !strings.Contains(err.Error(), "unknown variable") {
		t.Errorf("bad template: %v", err)
	}
	if err := add("has space", "x", false); bus.ErrCode(err) != bus.CodeBadRequest {
		t.Errorf("bad trigger: %v", err)
	}
	if err := call(t, s, api.SnippetsAdd, "../x", &api.SnippetAddRequest{Trigger: "a", Template: "b"}, nil); bus.ErrCode(err) != bus.CodeBadRequest {
		t.Errorf("bad profile: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "work.db"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database: %v %v", fi, err)
	}
	s.close()
	s2 := newTestServer(t, dir)
	var got api.SnippetReply
	if err := call(t, s2, api.SnippetsGet, "work", &api.SnippetRequest{Trigger: "tok"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Template != "Bearer ${secret:api-key}" || len(got.Secrets) != 1 || got.Secrets[0] != "api-key" {
		t.Errorf("after restart: %+v", got)
	}
	if err := call(t, s2, api.SnippetsAdd, "work", &api.SnippetAddRequest{Trigger: "tok", Template: "new", Replace: true}, nil); err != nil {
		t.Fatal(err)
	}
	call(t, s2, api.SnippetsGet, "work", &api.SnippetRequest{Trigger: "tok"}, &got)
	if got.Template != "new" {
		t.Errorf("replace: %q", got.Template)
	}
	if err := call(t, s2, api.SnippetsRemove, "work", &api.SnippetRequest{Trigger: "tok"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := call(t, s2, api.SnippetsGet, "work", &api.SnippetRequest{Trigger: "tok"}, &got); bus.ErrCode(err) != bus.CodeNotFound {
		t.Errorf("after remove: %v", err)
	}
	if err := call(t, s2, api.SnippetsGet, "other", &api.SnippetRequest{Trigger: "tok"}, &got); bus.ErrCode(err) != bus.CodeNotFound {
		t.Errorf("other profile: %v", err)
	}
}

// The profile's snippet settings apply to every request.
func TestSettings(t *testing.T) {
	s := newTestServer(t, filepath.Join(t.TempDir(), "snippets"))
	set := config.Snippets{Enabled: true, SecretTemplates: true}
	s.settings = func(string) (config.Snippets, error) { return set, nil }
	if err := call(t, s, api.SnippetsAdd, "p", &api.SnippetAddRequest{Trigger: "tok", Template: "${secret:k}"}, nil); err != nil {
		t.Fatal(err)
	}
	set.SecretTemplates = false
	if err := call(t, s, api.SnippetsAdd, "p", &api.SnippetAddRequest{Trigger: "t2", Template: "${secret:k}"}, nil); bus.ErrCode(err) != bus.CodeDenied {
		t.Errorf("add with secret templates off: %v", err)
	}
	var got api.SnippetReply
	if err := call(t, s, api.SnippetsGet, "p", &api.SnippetRequest{Trigger: "tok"}, &got); bus.ErrCode(err) != bus.CodeDenied {
		t.Errorf("get with secret templates off: %v", err)
	}
	if err := call(t, s, api.SnippetsAdd, "p", &api.SnippetAddRequest{Trigger: "plain", Template: "hi"}, nil); err != nil {
		t.Errorf("plain add: %v", err)
	}
	set.Enabled = false
	if err := call(t, s, api.SnippetsList, "p", nil, &api.SnippetListReply{}); bus.ErrCode(err) != bus.CodeDenied {
		t.Errorf("list while off: %v", err)
	}
}
