package vault

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	v := newVault(t, "work")
	a, err := v.DeriveKey("clipboard")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy()
	b, err := v.DeriveKey("launcher")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	if a.Len() != 32 || bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("purposes share a key")
	}
	// The same after lock and unlock, and after reopening.
	v = reopen(t, v)
	if _, err := v.DeriveKey("clipboard"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if err := v.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	c, err := v.DeriveKey("clipboard")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	if !bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("the clipboard key changed across unlocks")
	}
	// The key id: stable across unlocks, the same from KeyID and DeriveKeyID, none while
	// locked, and not any purpose key's bytes.
	id, err := v.KeyID()
	if err != nil || len(id) != 16 {
		t.Fatalf("key id %q: %v", id, err)
	}
	e, id2, err := v.DeriveKeyID("clipboard")
	if err != nil || id2 != id || !bytes.Equal(e.Bytes(), a.Bytes()) {
		t.Fatalf("DeriveKeyID: %q %v", id2, err)
	}
	e.Destroy()
	if bytes.Contains([]byte(fmt.Sprintf("%x", a.Bytes())), []byte(id)) {
		t.Fatal("the key id is part of the clipboard key")
	}
	v.Lock()
	if _, err := v.KeyID(); !errors.Is(err, ErrLocked) {
		t.Fatalf("key id while locked: %v", err)
	}
	if err := v.Unlock([]byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	if id3, _ := v.KeyID(); id3 != id {
		t.Fatalf("key id %q then %q across unlocks", id, id3)
	}
	// Another vault, same purpose: another key.
	w := newVault(t, "work")
	d, err := w.DeriveKey("clipboard")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Destroy()
	if bytes.Equal(a.Bytes(), d.Bytes()) {
		t.Fatal("two vaults derive the same key")
	}
	for _, bad := range []string{"", "Clipboard", "a/b", "x\x00", "0123456789012345678901234567890123"} {
		if _, err := v.DeriveKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("purpose %q: %v", bad, err)
		}
	}
}
