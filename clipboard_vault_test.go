package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// TestDesktopClipboardVaultEvents, on real sway under `sesame up --desktop`: the secrets role
// tells the clipboard role of a lock at once, so right after `sesame lock` the history on
// disk is closed (not up to 2 s later, at the clipboard's poll); and of a master key rotation
// (`sesame factor remove`), after which the history, re-encrypted under the new key, still
// reads — across a lock and an unlock, when the role fetches the new key afresh.
func TestDesktopClipboardVaultEvents(t *testing.T) {
	d := newDesk(t, deskOptions{})
	d.sesame("pw\n", "init", "--kdf-time", "1", "--kdf-memory", "8")
	d.waitClip("the key of profile default", func(s clipStatus) bool { return s.Unlocked })
	d.copy("first entry")
	es := d.waitHistory("first entry")
	id := fmt.Sprint(es[0].ID)

	// Lock: the next command already finds the history closed. Three times, as the poll
	// could by chance fall right after one lock.
	var worst time.Duration
	for range 3 {
		start := time.Now()
		d.sesame("", "lock")
		lockTook := time.Since(start)
		if _, errb, err := d.Run("", "sesame", "clipboard", "get", id); err == nil || !bytes.Contains(errb, []byte(`profile "default" is locked`)) {
			t.Fatalf("clipboard get right after sesame lock (%v): %v %s", lockTook, err, errb)
		}
		if s := d.clipStatus(); s.Unlocked {
			t.Fatalf("right after sesame lock the clipboard holds the key: %+v", s)
		}
		worst = max(worst, time.Since(start))
		d.sesame("pw\n", "unlock")
		if got := string(d.sesame("", "clipboard", "get", id)); got != "first entry" {
			t.Fatalf("after unlock: %q", got)
		}
	}
	t.Logf("sesame lock, then the clipboard found locked by two commands: at most %v", worst.Round(time.Millisecond))

	// A second factor, then its removal: the master key rotates.
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	d.sesame("", "factor", "add", "age", "--recipient", ident.Recipient().String())
	d.copy("second entry")
	d.waitHistory("second entry", "first entry")
	if _, errb, err := d.Run("pw\n", "sesame", "factor", "remove", "age"); err != nil || !bytes.Contains(errb, []byte(`rotated the master key of "default"`)) {
		t.Fatalf("factor remove: %v %s", err, errb)
	}
	// The clipboard asked for its new key (audited) after the rotation; a status request
	// waits for the re-encryption that follows (both hold the role's lock).
	d.waitAuditAfter("factor.remove", "key.derive")
	d.clipStatus()
	d.waitHistory("second entry", "first entry")
	d.copy("third entry")
	d.waitHistory("third entry", "second entry", "first entry")
	// Locked and unlocked: the key is derived afresh from the new master key, and the file
	// is that key's (before, it was found written under another key and started afresh).
	d.sesame("", "lock")
	d.sesame("pw\n", "unlock")
	d.waitClip("the key back", func(s clipStatus) bool { return s.Unlocked })
	d.waitHistory("third entry", "second entry", "first entry")
	d.noPlaintext("first entry", "second entry", "third entry")
}

// waitAuditAfter waits until the audit log has an event next after an event first.
func (d *desk) waitAuditAfter(first, next string) {
	d.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var events []string
	for time.Now().Before(deadline) {
		events = events[:0]
		for _, line := range strings.Split(strings.TrimSpace(string(d.sesame("", "audit", "tail", "--json", "-n", "20"))), "\n") {
			var e struct {
				Event string `json:"event"`
			}
			json.Unmarshal([]byte(line), &e)
			events = append(events, e.Event)
		}
		seen := false
		for _, e := range events {
			if seen && e == next {
				return
			}
			seen = seen || e == first
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("audit log: no %s after %s: %v", next, first, events)
}
