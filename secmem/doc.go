// Package secmem keeps secret bytes (keys, passwords, decrypted values) in
// memory that the Go runtime does not manage and that the kernel protects.
//
// For most uses, allocate with [New] or [FromBytes], work on [Buf.Bytes],
// and call [Buf.Destroy] when the secret is no longer needed:
//
//	key, err := secmem.New(32)
//	if err != nil {
//		return err
//	}
//	defer key.Destroy()
//	if _, err := io.ReadFull(rand.Reader, key.Bytes()); err != nil {
//		return err
//	}
//
// Role processes call [Harden] once, first thing, and log [Backend] so that an
// operator can see which protection they got.
//
// # Backends
//
// Every [Buf] lives in its own page-aligned mapping outside the Go heap. The
// package picks one backend per process, the first time it is needed, and
// [Backend] reports which:
//
//   - "memfd_secret" (preferred): the data pages come from memfd_secret(2).
//     The kernel removes them from its own direct map, so they cannot be read
//     through /proc/PID/mem, ptrace, process_vm_readv or a kernel bug that
//     reads the direct map, are never swapped, and are left out of core dumps.
//     They count against RLIMIT_MEMLOCK (8 MiB by default for non-root users;
//     root is not limited). mlock(2) is not called: the pages are already
//     unevictable and mlock returns ENOMEM on them. The mapping is marked
//     MADV_DONTFORK so a forked child does not share it.
//   - "mlock" (fallback, for kernels without memfd_secret or where it is
//     disabled): anonymous private memory, locked with mlock(2) and marked
//     MADV_DONTDUMP and MADV_WIPEONFORK. If any of these calls fails, [New]
//     fails: this package never hands out secret memory that could be swapped
//     out. Raise RLIMIT_MEMLOCK (LimitMEMLOCK= in a systemd unit) if needed.
//
// The probe runs once, on the first call to [New], [Backend] or [Harden]. A
// seccomp filter that denies memfd_secret would silently demote the process to
// the fallback, so probe before installing one, and allow memfd_secret,
// ftruncate, close, mmap, mprotect, madvise, mlock and munmap in the filter.
//
// # Layout of an allocation
//
//	| guard page | padding ... canary | data | guard page |
//	  PROT_NONE    <-------- data pages ------>  PROT_NONE
//
// The data is placed at the very end of the data pages, so reading or
// writing even one byte past its end touches the trailing guard page and the
// process dies of SIGSEGV at once (the Go runtime reports "unexpected fault
// address" and exits with status 2; this cannot be recovered). A 16-byte
// canary sits just before the data, and the data pages before it are filled
// with a fixed pattern. [Buf.Destroy] checks both: a write before the start
// of the data (an under-run) is detected there, and the process is aborted
// with a loud message on standard error. Reaching back past the data pages
// hits the leading guard page.
//
// The canary is 16 random bytes chosen once per process from crypto/rand and
// kept in a package-level array. It guards against bugs (an off-by-one or a
// negative index through unsafe code or cgo), not against an attacker who can
// already read the process's memory: such an attacker would read the secrets
// themselves. Keeping it in a protected region of its own would add nothing
// against either.
//
// # Costs and limits
//
// However small, each Buf takes one locked page (4 KiB) plus two guard pages
// of address space, two or three kernel mappings, and about 20 µs (mlock) to
// 60 µs (memfd_secret) to create and destroy. A non-root process with the
// default RLIMIT_MEMLOCK of 8 MiB can hold 2048 small Bufs at once, and
// vm.max_map_count (65530) caps any process at about 32,000. Keep long-lived
// keys in Bufs created once, pack many small secrets into one Buf, and do not
// allocate a Buf per message on a hot path.
//
// # Lifetime
//
// [Buf.Destroy] checks the canary, zeroes every data page, and unmaps the
// whole range. The slice returned by [Buf.Bytes] points into that range: it
// must not be used after Destroy (drop it before calling Destroy: the address
// range may be reused), and it does not keep the Buf alive. Keep a reference
// to the *Buf (or call runtime.KeepAlive on it) for as long as you use its
// bytes; otherwise the safety net below may unmap them under you.
//
// A Buf that becomes unreachable without Destroy is destroyed by a cleanup
// function registered with runtime.AddCleanup. This is a safety net, not a
// substitute: the garbage collector may run it late or never, and the secret
// stays in memory until it does. Always call Destroy, usually with defer.
//
// # What Go cannot guarantee
//
// This package protects the bytes that live in a Buf. It cannot protect
// copies that leave it, and Go makes copies easy to create and impossible to
// find afterwards:
//
//   - Anything converted to a string, appended to (append reallocates on the
//     heap once the capacity, which is exactly Len, is exceeded), passed to a
//     function that copies into its own buffer (bufio, bytes.Buffer, encoders,
//     fmt), or held in an array value ends up on the Go heap or a goroutine
//     stack. The garbage collector may move or copy stacks and never zeroes
//     freed memory on purpose; such copies linger until reused.
//   - Values pass through CPU registers and spill slots; the runtime does not
//     clear them. (GOEXPERIMENT=runtimesecret in Go 1.26 provides an
//     experimental runtime/secret.Do that erases registers and stack after a
//     function returns; this package does not depend on it.)
//   - Ciphers keep expanded keys in their own structures: crypto/aes and
//     crypto/cipher AEADs, chacha20poly1305, and the Noise CipherState hold
//     the key schedule on the Go heap for as long as the object lives. So do
//     hash states (HMAC, BLAKE2, HKDF) keyed with a secret.
//   - System calls copy: a read into a Buf is fine, but a write from a
//     heap-allocated intermediate buffer leaves that buffer behind.
//
// To keep the exposure small: read and decrypt straight into [Buf.Bytes];
// never convert a secret to a string; build AEADs and keyed hashes as late as
// possible and drop them as soon as possible; [Wipe] every temporary []byte
// that held secret material (including the source of [FromBytes], which it
// wipes for you); and comment every place where a copy cannot be avoided.
//
// # Formatting and encoding
//
// [Buf] implements fmt.Formatter, fmt.Stringer, fmt.GoStringer,
// json.Marshaler and encoding.TextMarshaler, and all of them produce a
// redacted form such as `secmem.Buf(32 bytes)` or "[redacted]", whatever the
// verb or flags, so the contents cannot be logged or serialised by accident.
// Note that an encoder using these methods (encoding/json, log/slog, TOML)
// writes "[redacted]" without an error: to send a secret, encode Bytes
// explicitly.
//
// # Process hardening
//
// [Harden] makes the process non-dumpable (no core dumps, no ptrace attach
// and no /proc/PID/mem access for other processes of the same user) and sets
// RLIMIT_CORE to zero. execve resets the dumpable flag (RLIMIT_CORE is
// inherited), so every role process calls Harden itself when it starts.
package secmem
