// Package config reads sesame's configuration: layered TOML files merged into one
// effective [Config], with policy locks enforced, every value's origin kept, every
// problem reported at its file, line and column. It also holds the pieces that act on the
// configuration without being a role: the context rules and their signal sources
// ([Evaluate], [Switcher], [Source]), directory profiles and their allow list
// ([ParseDir], [FindDir], [AllowList]), and the inotify watcher ([Watch]).
//
// # Layers
//
// Lowest first; a later layer overrides an earlier one:
//
//  1. the built-in defaults ([Default]);
//  2. the system file, /etc/sesame/config.toml ($SESAME_SYSTEM_CONFIG_DIR overrides the
//     directory, for tests and packagers) — the only file that may hold [[policy]];
//  3. the user file, $XDG_CONFIG_HOME/sesame/config.toml;
//  4. the drop-ins, $XDG_CONFIG_HOME/sesame/config.d/*.toml, in lexical order of file name
//     (files whose name starts with "." are skipped).
//
// A missing file is no layer. Each file is checked on its own against the schema before
// anything is merged, so every error names the file it is in; if any file has an error the
// whole load fails ([Errors]) — on first load as on reload.
//
// # Merge rules
//
//   - Tables merge key by key, recursively, whether they are sections ([context]) or maps
//     ([profiles.NAME], [profiles.NAME.launch.NAME], env = {…}): a later layer adds keys
//     and overrides the keys it sets; keys it does not mention keep their earlier value.
//   - Everything else replaces: a scalar, and a list as a whole — lists of tables too
//     ([[profiles.NAME.context]]): a layer that sets a list sets all of it. To add one rule
//     to a profile's rules, repeat the list.
//   - Nothing is removed by a later layer; set a value (an empty list, 0, false) instead.
//   - Each profile resolves as [profile_defaults] overlaid with [profiles.NAME], by the same
//     rules, after all layers are merged: a user's [profile_defaults] reaches every profile,
//     a system [profiles.work] section is not overridden by a user's [profile_defaults].
//     Context rules cannot be put in [profile_defaults].
//
// # Policy
//
// Each [[policy]] entry of the system file locks one key:
//
//	[[policy]]
//	key = "profiles.*.idle_lock"   # "*" is any one profile (or launch profile) name
//	value = "5m"                   # optional: the value it has, whatever any file says
//	reason = "ISMS 4.2"            # shown to whoever tries to change it
//
// A user layer (the user file or a drop-in) that sets a locked key, or a key inside a
// locked table, is reported as a [Warning] at its file and line and ignored. Without a
// value, the locked key keeps what the defaults and the system file give it. Since
// [profile_defaults] feeds every profile, a lock on profile_defaults.K also locks
// profiles.*.K and the other way round; a lock on profiles.NAME.K holds even when the user
// sets K in [profile_defaults]. Lists are locked whole (a key cannot point into a list).
//
// # Origins
//
// Parsing keeps the position of every key and value ([Pos]); merging moves whole nodes,
// so [Loaded.Entries] can say for each effective value which file and line it came from
// (a value a profile inherits shows the [profile_defaults] line it came from).
package config
