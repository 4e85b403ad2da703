// Package xdg reads freedesktop.org desktop entries: the .desktop files that describe the
// applications installed for a user.
//
// # What it implements
//
//   - The Desktop Entry Specification 1.5 file format ([Parse]): groups, keys, localized keys
//     (Name[de_DE]=…), string escapes (\s \n \t \r \\), lists separated by ';' (with \;),
//     booleans, and the keys a launcher needs: Type, Name, GenericName, Comment, Keywords,
//     Icon, Exec, TryExec, Path, Terminal, NoDisplay, Hidden, OnlyShowIn, NotShowIn,
//     DBusActivatable, Categories, StartupWMClass and Actions with their [Desktop Action …]
//     groups. A file that breaks the format is an error naming the file and the line
//     ([ParseError]); the caller skips it.
//   - Localized values chosen as the specification says for LC_MESSAGES
//     lang_COUNTRY.ENCODING@MODIFIER: lang_COUNTRY@MODIFIER, lang_COUNTRY, lang@MODIFIER,
//     lang, then the unlocalized value ([Locale]). The locale comes from LC_ALL, else
//     LC_MESSAGES, else LANG (POSIX precedence); C and POSIX mean no translation.
//   - The Exec key ([ParseExec], [Command.Expand]): the command line is split into arguments
//     with the specification's quoting rules, without a shell, and field codes are expanded
//     (%f %F %u %U %i %c %k %%) or dropped (the deprecated %d %D %n %N %v %m).
//   - The XDG Base Directory search path ([DataDirs]) and desktop-file IDs ([Scanner]):
//     $XDG_DATA_HOME/applications first, then each $XDG_DATA_DIRS/*/applications, the first
//     file with an ID winning (a Hidden=true file hides the ID in every later directory);
//     files in subdirectories get IDs with '/' turned into '-'.
//   - Whether an entry is shown ([Entry.Shown]): NoDisplay, OnlyShowIn and NotShowIn against
//     $XDG_CURRENT_DESKTOP, TryExec looked up in $PATH.
//   - Change notification ([Watcher]): inotify on every applications directory and its
//     subdirectories, and on the nearest existing parent of one that does not exist yet.
//
// # Where it is more lenient than the specification
//
// Real files break some rules, and refusing them would hide installed applications. These
// are accepted and documented here rather than silently:
//
//   - Exec: outside double quotes, a single-quoted string is taken literally and a backslash
//     escapes the next character, as GLib and KDE do; other reserved characters (> | & ; $ *
//     and the like) are taken literally, since no shell is involved. Inside double quotes an
//     unknown backslash escape is kept as written.
//   - Booleans also accept 0 and 1 (from version 0.9 of the specification).
//   - The [Desktop Entry] group need not be the first one; lines may end in CR LF.
//   - A string escape other than \s \n \t \r \\ (and \; in lists) is kept as written, which
//     is what makes \" and \$ in Exec reach the Exec quoting rules.
package xdg
