package vault

import (
	"bytes"
	"errors"
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
