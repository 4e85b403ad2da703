// Package atomicfile replaces a small file so that a crash at any instant leaves either the old
// content or the new, never a mix: write a temporary file in the same directory, fsync it,
// rename it over the target, fsync the directory.
//
// It is the one way sesame writes such files (the hub's public key, role keys, the audit head,
// profile state, unlock throttles, the wm's window order), so durability is decided once.
// The directory must exist; callers create it (often before their sandbox is applied).
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, with the given mode. The temporary file is created 0600 and
// only changed (fchmod) when mode differs, so a sandboxed role that writes 0600 files needs no
// fchmod.
func Write(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if mode != 0o600 {
		if err := f.Chmod(mode); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
