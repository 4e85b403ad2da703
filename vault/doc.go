// Package vault stores the secrets of one trust profile in one encrypted
// SQLite file.
//
// A vault is created with [Create], which leaves it unlocked, and opened
// later with [Open], which leaves it locked until [Vault.Unlock]:
//
//	v, err := vault.Open(vault.Path(dataDir, "work"), "work")
//	if err != nil {
//		return err
//	}
//	defer v.Close()
//	if err := v.Unlock(password); err != nil { // errors.Is(err, vault.ErrBadFactor)
//		return err
//	}
//	token, err := v.Get("api-token") // a *secmem.Buf
//	if err != nil {
//		return err
//	}
//	defer token.Destroy()
//
// Secret names and values are both encrypted. What the file shows is the
// header (profile name, creation time, factor labels and KDF parameters)
// and the number and sizes of the secrets. Nothing is
// ever written to disk in the clear: not in the database, its write-ahead
// log, a journal or a temporary file.
//
// # States
//
//	         Create
//	           |
//	Open -> locked <--Lock--> unlocked
//	           |                 |
//	           +----> closed <---+  (Close; terminal)
//
// A locked vault has read and validated its header but holds no key:
// secret operations fail with [ErrLocked]. Unlock derives the master key
// from the password and the working keys from the master key; Lock and Close
// wipe them. Unlock on an unlocked vault checks the password again and keeps
// the current keys.
//
// # Files and permissions
//
// The caller chooses the path; by convention it is [Path](dataDir, profile),
// that is $XDG_DATA_HOME/sesame/vaults/<profile>.db. Create and Open create
// the directory (and missing parents) with mode 0700 and set the directory
// itself to 0700; the database and its -wal and -shm files are 0600. Modes
// are set explicitly, so the umask does not matter, and Open repairs modes
// that were loosened. Open refuses a symlink, a file owned by another user,
// and any file that does not start with the SQLite magic and sesame's
// application id, before SQLite touches it.
//
// Create never touches an existing vault: it fails with [ErrExists] if the
// path, or a -wal, -shm or -journal file next to it, exists. It builds the new
// vault in a temporary file in the same directory, checkpoints and fsyncs
// it, and then hard-links it to the path (which fails if the path appeared
// meanwhile) and fsyncs the directory.
//
// # Keys
//
// Every vault has a random 256-bit master key. It is never stored in the
// clear: the header holds it wrapped (encrypted) under key-encryption keys
// derived from the unlock factors. All other keys are derived from it with
// HKDF-SHA256, with an info string naming the purpose and containing the
// vault's random 16-byte id:
//
//	lookup key   HKDF(mk, "sesame vault v1 lookup\x00" || vault id)      HMAC-SHA256 key for row ids
//	name key     HKDF(mk, "sesame vault v1 name\x00" || vault id)        XChaCha20-Poly1305 for names
//	value key    HKDF(mk, "sesame vault v1 value\x00" || vault id)       XChaCha20-Poly1305 for values
//	header key   HKDF(mk, "sesame vault v1 header-mac\x00" || vault id)  HMAC-SHA256 over the header
//
// # Unlock factors and policies
//
// A factor turns what the user presents into a 32-byte factor secret:
//
//	password   Argon2id over the password, with the salt and cost stored in
//	           the factor's record ([DefaultKDF] for new factors; each keeps
//	           its own parameters).
//	ssh-agent  HKDF over a signature by an Ed25519 or RSA key that an
//	           ssh-agent holds, of [SSHSignedData](profile, challenge): an
//	           SSHSIG blob over a random 32-byte challenge stored in the
//	           record with the public key and the pinned algorithm
//	           (ssh-ed25519, or rsa-sha2-256 for RSA). Only deterministic
//	           signatures can derive a key: ECDSA, DSA and FIDO (sk-) keys are
//	           refused ([SSHAlgorithm]). The signature is checked against the
//	           stored key before use. No Argon2id: a signature cannot be
//	           guessed without the private key, so there is nothing to slow
//	           down.
//	age        HKDF over a random 32-byte key that the vault drew at
//	           enrolment and encrypted to an age X25519 recipient; the record
//	           holds the recipient and the age file. Whoever holds the
//	           identity decrypts it ([AgeDecryptKey]).
//
// For ssh-agent and age the HKDF info is "sesame vault v1 factor <type>\x00"
// || vault id || str8 profile || str8 factor id || parameters. The private
// key of an ssh-agent factor never leaves the agent, and the identity of an
// age factor never reaches the vault: the client presents the signature or
// the decrypted key, which the vault sees only as a factor input
// ([Vault.UnlockWith]). [Vault.Factors] lists the public part of every
// factor (challenge, public key, recipient, age file) that a client needs
// for that.
//
// The policy says which sets of factors unlock the vault: "any" one factor,
// "all" of them together, or any k of the n ("k-of-n"). It is enforced
// cryptographically: the header holds one wrap of the master key for each
// accepted set of factors, and nothing else, so "any" has one wrap per
// factor, "all" has one wrap over all factors, and "k-of-n" has one wrap per
// k-combination. The key-encryption key of a wrap is
//
//	HKDF-SHA256(secret(f1) || … || secret(fk), "sesame vault v1 kek\x00" || context)
//
// over the factors of the wrap in id order, and the wrap is
// XChaCha20-Poly1305(kek, nonce, master key) with associated data
// "sesame vault v1 wrap\x00" || context, where context is the header
// version, the vault id, the profile, and each factor's id, type and
// parameters. Editing a factor's Argon2 parameters, swapping wraps, or
// moving a header to another vault or profile therefore makes the unwrap
// fail. What the wraps do not cover (the policy, labels, creation time and
// the lists themselves) is covered by the header MAC, checked right after
// the master key is unwrapped. A wrong factor is reported as [ErrBadFactor]
// without saying which factor was wrong; a header that unwraps but fails its
// MAC is reported as [ErrCorrupt]. Inputs that do not cover any accepted
// set are reported as [ErrMissingFactors], saying what is missing, before
// any factor is derived.
//
// What each policy proves: with the file and fewer than the policy's number
// of factors, every wrap lacks the secret of at least one of its factors,
// and a missing factor secret is 256 bits (a signature, a random key, or the
// output of Argon2id over a password the attacker must guess offline at
// Argon2id's cost). "all" over a password and an ssh-agent key thus needs
// both; "2-of-3" opens with any two and with no single one.
// TestOfflineSubsets tries every subset of factors against every wrap,
// offline. A k-of-n policy with 1 < k < n is limited to 8 factors (at most
// C(8,4) = 70 wraps); "any" and "all" to 16.
//
// [Vault.ChangeFactors] adds and removes factors and changes the policy of
// an unlocked vault. Unless the change replaces the master key (see
// Rotation), it keeps the wraps the new policy still calls for and seals the
// others from the master key held while unlocked. A new wrap over existing
// factors needs their secrets, so those factors are presented again
// ([InputsNeeded] says which): an ssh-agent signature is checked against the
// stored key, as at enrolment, and a password or an age key must open an
// existing wrap to the master key (a mistyped password would otherwise
// become the factor). Adding a factor to an "any" or "k-of-n" vault needs
// nothing; changing an "all" vault takes all its factors. The new header
// replaces the old in one transaction, with a fresh MAC, and the WAL is
// checkpointed at once.
//
// # Rotation
//
// A copy of the file made before a change (a backup, a synced folder) keeps
// opening with the factors of its time. Were the master key to stay, whoever
// holds a removed factor and such a copy would get the key that protects
// every secret written since, in any later copy of the file. So a change
// after which some set of factors opens the old header but not the new one
// replaces the master key: removing a factor, raising the threshold (any to
// all, 1-of-3 to 2-of-3), adding a factor to an "all" vault. Lowering the
// threshold, or adding a factor under "any" or "k-of-n", keeps it: every set
// that opened the old header opens the new one. [Change].Rotate forces a
// rotation.
//
// A rotation draws a new random master key, seals every wrap afresh over it,
// and, in one SQLite transaction, stores the new header and rewrites every
// secret: decrypted under the old keys (the value into protected memory),
// sealed under the new ones with a fresh nonce, stored under its new lookup
// id. The new wraps need the secret of every remaining factor, so each
// password and ssh-agent factor is presented (and proved, as above); an age
// factor is re-enrolled to its recipient instead (a new factor key and age
// file), which needs no input. The vault's write lock is held from the first
// row read to the swap of the keys, so nothing is written under the old key
// after the commit.
//
//	unlocked (mk)
//	   | prove the inputs, enrol, draw mk', seal the new header under mk'
//	   v
//	transaction: new header; every row decrypted under mk, sealed under mk'
//	   |                        \
//	   | COMMIT (fsync)          \ error or crash: rolled back; the file is
//	   v                          \ the old vault, whole (old factors, mk)
//	committed: the file is the new vault, whole (new factors, mk')
//	   | swap the keys, wipe mk and the old working keys, checkpoint the WAL
//	   v
//	unlocked (mk')
//
// TestRotationCrash kills a rotation at each step. If COMMIT itself fails,
// the commit record may or may not be in the WAL, so the vault refuses every
// operation until it is reopened, which reads whichever vault is there.
// A secret that fails to decrypt stops the rotation, and nothing changes.
//
// What a rotation cannot do: the old copy still holds the secrets of its
// time under the old key, readable with the removed factor. A secret that
// its holder must not know has to be changed where it is used.
//
// Cost: 19 to 35 ms per 1,000 small secrets on the 2-core development VM
// (the low end when it was quiet), linear in their number (BenchmarkRekey),
// plus one Argon2id derivation per password presented.
//
// # On-disk format
//
// The file is an SQLite 3 database (application id 0x7365736d, "sesm") in
// WAL mode with two tables:
//
//	meta    (key TEXT PRIMARY KEY, value)    'schema' → 1, 'header' → header blob
//	secrets (lid BLOB PRIMARY KEY, nonce BLOB, name BLOB, value BLOB) WITHOUT ROWID
//
// A secrets row is one secret. lid is HMAC-SHA256(lookup key, name); nonce
// is 24 random bytes, new on every write; name and value are the
// XChaCha20-Poly1305 encryptions of the name (under the name key) and of the
// value (under the value key), both with that nonce, and with associated
// data
//
//	"sesame vault v1 record\x00" || vault id || len(profile) || profile || 'n' or 'v' || lid
//
// so a row's ciphertexts cannot be moved to another row or another vault,
// and a name and a value from different writes never decrypt together. After
// decrypting, Get also checks that the name is the one asked for.
//
// The header blob (all integers big-endian; str8 is a u8 length and bytes):
//
//	magic    "SESAMEVH"
//	version  u16 = 1
//	vault id [16]
//	profile  str8
//	created  i64 Unix seconds
//	policy   u8 kind (1 any, 2 all, 3 k-of-n), u8 k (0 unless k-of-n)
//	factors  u8 count (1..16), each: id str8 ([a-z0-9-], sorted, unique),
//	         type str8, label str8 (UTF-8), params (u16 length, bytes)
//	wraps    u16 count, each: u8 count, that many factor id str8,
//	         nonce [24], ciphertext [48]; exactly the k-combinations of the
//	         factor ids, in lexicographic order
//	mac      [32] HMAC-SHA256(header key, everything above)
//	checksum [32] SHA-256 of everything above
//
// Factor parameters (at most 2048 bytes):
//
//	password   salt [16] | time u32 | memory KiB u32 | threads u8
//	ssh-agent  challenge [32] | algorithm str8 | public key (SSH wire format)
//	age        recipient str8 | age file (binary, at most 1 KiB)
//
// The decoder is strict: every header has exactly one encoding, unknown
// fields are impossible, and a header of another version is refused with
// [ErrUnsupported]. The magic, the version's position and the trailing
// SHA-256 are the same in every version, so bit rot is reported as a
// checksum mismatch rather than as a newer format.
//
// # Versions and migrations
//
// meta 'schema' is the schema version. Open applies the migrations from the
// file's version up to this build's, in the same transaction that reads the
// header, and refuses a file whose schema is newer than this build knows
// with [ErrUnsupported] without changing it.
//
// # Durability and atomicity
//
// Every Set and Delete, and every factor change with its rotation, is one
// SQLite transaction, committed with synchronous=FULL before it returns, so an acknowledged write survives the
// process being killed at any instant (and a power loss). GetMany reads in
// one transaction. temp_store=MEMORY keeps temporary data off the disk, and
// secure_delete overwrites deleted cells in the main file; an old
// ciphertext can linger in the WAL until SQLite reuses that part of it.
//
// # Concurrency
//
// A Vault may be used from several goroutines: reads run in parallel, writes
// and key changes are serialized. Several processes may open the same file;
// SQLite serializes their writes (busy_timeout is 5 s), but the name cache
// of one process does not see another's writes, so one process (the secrets
// role) should own each vault.
//
// # Memory
//
// The master key and every value returned by Get live in [secmem.Buf]s;
// values are decrypted straight into them. Go copies some key material this
// package cannot reach: Argon2id's working memory (MemoryKiB of it) is on the
// Go heap, as are the HMAC pads of the lookup key and the per-nonce subkeys
// XChaCha20 derives for each Seal and Open. The two long-lived AEAD keys are
// wiped on Lock (see wipeAEAD). Names are strings (they are arguments of the
// API); decrypted names are cached in memory while the vault is unlocked,
// for List and Len, and dropped on Lock.
//
// # Errors
//
// Errors are lower-case and start with their context, for example
//
//	vault: get "work": secret "api-token": not found
//	vault: unlock "work": incorrect password
//	vault: "/home/u/.local/share/sesame/vaults/work.db": corrupt header: checksum mismatch
//
// and wrap one of the sentinels [ErrLocked], [ErrNotFound], [ErrExists],
// [ErrBadFactor], [ErrMissingFactors], [ErrCorrupt], [ErrUnsupported], [ErrInvalid] or
// [ErrClosed] where a caller may need to tell them apart.
package vault
