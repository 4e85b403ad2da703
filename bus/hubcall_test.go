package bus

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHubCall(t *testing.T) {
	th := newTestHub(t, nil, "secrets", "launcher")
	var mu sync.Mutex
	var seen *Envelope
	th.role("secrets", func(_ context.Context, req *Envelope) (any, error) {
		mu.Lock()
		seen = req
		mu.Unlock()
		if req.Kind == "secrets.fail" {
			return nil, Errorf(CodeDenied, "no")
		}
		return append([]byte("re:"), req.Body...), nil
	})
	body, err := th.hub.Call(ctxT(t), "secrets", "secrets.config", "work", []byte("x"))
	if err != nil || string(body) != "re:x" {
		t.Fatalf("Call = %q, %v", body, err)
	}
	mu.Lock()
	if seen.Caller == nil || seen.Caller.Role != HubCaller || int(seen.Caller.PID) != os.Getpid() || seen.Profile != "work" {
		t.Errorf("the role saw caller %+v profile %q", seen.Caller, seen.Profile)
	}
	mu.Unlock()
	// A role's error comes back with its code.
	if _, err := th.hub.Call(ctxT(t), "secrets", "secrets.fail", "", nil); !errors.Is(err, &Error{Code: CodeDenied}) {
		t.Errorf("error reply: %v", err)
	}
	// Routing rules hold: the kind must be the role's, the role must run.
	if _, err := th.hub.Call(ctxT(t), "secrets", "launcher.x", "", nil); err == nil {
		t.Error("a kind of another role was sent")
	}
	if _, err := th.hub.Call(ctxT(t), "launcher", "launcher.x", "", nil); ErrCode(err) != CodeUnavailable {
		t.Errorf("a role not running: %v", err)
	}
	if _, err := th.hub.Call(ctxT(t), "nosuch", "nosuch.x", "", nil); ErrCode(err) != CodeUnknownKind {
		t.Errorf("no such role: %v", err)
	}
	if th.hub.PendingForTest() != 0 {
		t.Errorf("%d requests left pending", th.hub.PendingForTest())
	}
	// Clients still get their own replies while the hub calls.
	cl := th.client()
	if err := cl.Call(ctxT(t), "secrets.get", "", []byte("c"), nil); err != nil {
		t.Error(err)
	}
}

// TestHubCallRoleDies: a role that goes away before answering fails the call at once.
func TestHubCallRoleDies(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	release := make(chan struct{})
	role := th.role("secrets", func(ctx context.Context, req *Envelope) (any, error) {
		<-release
		return nil, nil
	})
	defer close(release)
	go func() {
		time.Sleep(50 * time.Millisecond)
		role.Close()
	}()
	_, err := th.hub.Call(ctxT(t), "secrets", "secrets.config", "", nil)
	if ErrCode(err) != CodeUnavailable || !strings.Contains(err.Error(), "stopped before answering") {
		t.Fatalf("err = %v", err)
	}
}

// TestHubCallTimeout: no answer within RequestTimeout is CodeTimeout; a cancelled context
// abandons the wait and the late reply is dropped.
func TestHubCallTimeout(t *testing.T) {
	th := newTestHub(t, func(c *HubConfig) { c.RequestTimeout = 300 * time.Millisecond }, "secrets")
	release := make(chan struct{})
	th.role("secrets", func(ctx context.Context, req *Envelope) (any, error) {
		<-release
		return nil, nil
	})
	_, err := th.hub.Call(ctxT(t), "secrets", "secrets.slow", "", nil)
	if ErrCode(err) != CodeTimeout {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := th.hub.Call(ctx, "secrets", "secrets.slow", "", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled: %v", err)
	}
	close(release)
	time.Sleep(100 * time.Millisecond)
	if n := th.hub.PendingForTest(); n != 0 {
		t.Errorf("%d pending", n)
	}
}

// TestHubCallNotForgeable: a client's request carries its own caller, never the hub's, even
// when it asks for the same kind.
func TestHubCallNotForgeable(t *testing.T) {
	th := newTestHub(t, nil, "secrets")
	roles := make(chan string, 2)
	th.role("secrets", func(_ context.Context, req *Envelope) (any, error) {
		roles <- req.Caller.Role
		return nil, nil
	})
	cl := th.client()
	if err := cl.Call(ctxT(t), "secrets.config", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := <-roles; r != "" {
		t.Errorf("a client's request arrived as role %q", r)
	}
}
