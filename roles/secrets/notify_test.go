package secrets

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/vmihailenco/msgpack/v5"
)

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// notifyRig is a hub on a real socket that knows the roles in names, and the secrets role's
// connection to it.
func notifyRig(t *testing.T, names ...string) (dial func(role string, h bus.Handler) *bus.Client, sec *bus.Client) {
	t.Helper()
	key := func() *bus.Keypair {
		kp, err := bus.GenerateKeypair()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kp.Destroy)
		return kp
	}
	static := key()
	keys := map[string]*bus.Keypair{}
	cfg := bus.HubConfig{Static: static, Roles: map[string]bus.PublicKey{}}
	for _, n := range append(names, "secrets") {
		keys[n] = key()
		cfg.Roles[n] = keys[n].Public
	}
	hub, err := bus.NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), bus.SocketName)
	ln, err := bus.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { hub.Serve(ctx, ln); close(served) }()
	t.Cleanup(func() { cancel(); <-served })
	dial = func(role string, h bus.Handler) *bus.Client {
		cl, err := bus.Dial(context.Background(), path, static.Public, bus.DialConfig{Static: keys[role], Seal: key(), Handler: h})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		for range 200 {
			for _, rs := range hub.Roles() {
				if rs.Name == role && rs.Running {
					return cl
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("role %s did not register", role)
		return nil
	}
	return dial, dial("secrets", func(context.Context, *bus.Envelope) (any, error) { return nil, nil })
}

// TestNotifierTellsClipboard: events reach the clipboard role, the secrets role named as
// their caller, even while it is slow to answer; tell does not wait for them.
func TestNotifierTellsClipboard(t *testing.T) {
	dial, sec := notifyRig(t, "clipboard")
	got := make(chan string, 10)
	release := make(chan struct{})
	dial("clipboard", func(_ context.Context, req *bus.Envelope) (any, error) {
		var ev api.ClipboardVaultEvent
		msgpack.Unmarshal(req.Body, &ev)
		got <- fmt.Sprintf("%s %s %s from %s", req.Kind, ev.Profile, ev.Event, req.Caller.Role)
		<-release // a slow clipboard
		return nil, nil
	})
	log := &logBuf{}
	n := newNotifier(log.logf)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.run(ctx, sec)
	start := time.Now()
	n.tell("work", api.VaultLocked)
	n.tell("work", api.VaultRotated)
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("tell took %v", d)
	}
	want := map[string]bool{"clipboard.vault-changed work locked from secrets": true, "clipboard.vault-changed work rotated from secrets": true}
	for range 2 {
		select {
		case g := <-got:
			if !want[g] {
				t.Fatalf("got %q", g)
			}
			delete(want, g)
		case <-time.After(5 * time.Second):
			t.Fatalf("not delivered: %v", want)
		}
	}
	close(release)
	// A full queue drops, and says so, rather than block a lock.
	cancel()
	n2 := newNotifier(log.logf)
	for range maxVaultEvents + 1 {
		n2.tell("work", api.VaultLocked)
	}
	if !strings.Contains(log.String(), "not sent") {
		t.Fatalf("log:\n%s", log)
	}
}

// TestNotifierQuietWithoutClipboard: no clipboard role running (CodeUnavailable) or none
// known to the hub (CodeUnknownKind) is normal and not logged; another error is.
func TestNotifierQuietWithoutClipboard(t *testing.T) {
	for _, known := range []bool{false, true} {
		var names []string
		if known {
			names = []string{"clipboard"}
		}
		_, sec := notifyRig(t, names...)
		log := &logBuf{}
		n := newNotifier(log.logf)
		ctx, cancel := context.WithCancel(context.Background())
		go n.run(ctx, sec)
		n.tell("work", api.VaultLocked)
		n.tell("work", api.VaultRotated)
		time.Sleep(200 * time.Millisecond)
		cancel()
		if log.String() != "" {
			t.Fatalf("clipboard known to the hub %v, not running: logged\n%s", known, log)
		}
	}
	dial, sec := notifyRig(t, "clipboard")
	dial("clipboard", func(context.Context, *bus.Envelope) (any, error) {
		return nil, bus.Errorf(bus.CodeDenied, "no")
	})
	log := &logBuf{}
	n := newNotifier(log.logf)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.run(ctx, sec)
	n.tell("work", api.VaultLocked)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), `telling it that "work" was locked`); {
		if time.Now().After(deadline) {
			t.Fatalf("a refusal was not logged:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
