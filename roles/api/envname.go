package api

import (
	"fmt"
	"strings"
)

// Injecting secrets as environment variables: one mapping and one denylist, shared by every
// injector (sesame env, sesame export, the launcher), so that a secret lands under the same
// name everywhere and the same variables are refused everywhere.

// EnvName maps a secret name to an environment variable: ASCII letters upper-cased, digits and
// '_' kept, every other character ('-', '.', spaces, any non-ASCII rune) becomes '_'. With a
// prefix the result is PREFIX_NAME. A name that would start with a digit gets a leading '_'.
func EnvName(prefix, secret string) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte('_')
	}
	for _, r := range secret {
		switch {
		case 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	v := b.String()
	if v != "" && '0' <= v[0] && v[0] <= '9' {
		v = "_" + v
	}
	return v
}

// ValidPrefix checks a --prefix: a shell identifier.
func ValidPrefix(p string) error {
	for i := 0; i < len(p); i++ {
		c := p[i]
		ok := c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			return fmt.Errorf("prefix %q is not a shell identifier ([A-Za-z_][A-Za-z0-9_]*)", p)
		}
	}
	return nil
}

// deniedPrefixes and denied are variables an injected secret may never set: they change how
// the child loads code (LD_*, BASH_FUNC_*, PYTHONPATH…), where it finds programs, who it
// thinks it is, or how sesame itself talks to its children.
var deniedPrefixes = []string{"LD_", "DYLD_", "BASH_FUNC_", "SESAME_"}

var denied = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "SHELL": true, "LOGNAME": true, "LANG": true,
	"TERM": true, "DISPLAY": true, "WAYLAND_DISPLAY": true, "XDG_RUNTIME_DIR": true,
	"BASH_ENV": true, "ENV": true, "CDPATH": true, "GLOBIGNORE": true, "SHELLOPTS": true,
	"BASHOPTS": true, "PROMPT_COMMAND": true, "PS1": true, "PS2": true, "PS4": true,
	"MAIL": true, "MAILPATH": true, "MAILCHECK": true, "IFS": true, "PYTHONPATH": true,
	"PYTHONSTARTUP": true, "PYTHONHOME": true, "NODE_OPTIONS": true, "NODE_PATH": true,
	"NODE_EXTRA_CA_CERTS": true, "PERL5LIB": true, "PERL5OPT": true, "RUBYLIB": true,
	"RUBYOPT": true, "GOPATH": true, "GOROOT": true, "GOFLAGS": true, "JAVA_HOME": true,
	"CLASSPATH": true, "JAVA_TOOL_OPTIONS": true, "SSH_AUTH_SOCK": true, "GPG_AGENT_INFO": true,
	"KRB5_CONFIG": true, "KRB5CCNAME": true, "SSL_CERT_FILE": true, "SSL_CERT_DIR": true,
	"CURL_CA_BUNDLE": true, "REQUESTS_CA_BUNDLE": true, "GIT_SSL_CAINFO": true,
	"NIX_SSL_CERT_FILE": true, "NIX_PATH": true, "NIX_CONF_DIR": true, "SUDO_ASKPASS": true,
	"SUDO_EDITOR": true, "VISUAL": true, "EDITOR": true, "SYSTEMD_UNIT_PATH": true,
	"DBUS_SESSION_BUS_ADDRESS": true, "GIT_EXEC_PATH": true, "GIT_SSH": true,
	"GIT_SSH_COMMAND": true, "GIT_ASKPASS": true, "SSH_ASKPASS": true, "PAGER": true,
	"TMPDIR": true, "LC_ALL": true, "TZ": true, "HISTFILE": true, "ZDOTDIR": true,
	"PWD": true, "OLDPWD": true, "HOSTNAME": true, "UID": true, "EUID": true, "PPID": true,
}

// Denied reports whether an injected secret may not set variable v (case-insensitively).
func Denied(v string) bool {
	u := strings.ToUpper(v)
	if denied[u] {
		return true
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}
