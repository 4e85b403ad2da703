package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration: every layer merged, policy applied, every profile
// resolved. It is what the hub applies and pushes to the roles (as JSON), and what
// `sesame config show` prints.
type Config struct {
	// DefaultProfile is the profile commands use when neither -p, $SESAME_PROFILES, a
	// directory profile, a context rule nor `sesame profile default` names one.
	DefaultProfile ProfileName `toml:"default_profile" json:"default_profile"`
	// Context configures context activation (the rules are per profile).
	Context Context `toml:"context" json:"context"`
	// ProfileDefaults are the settings of every profile, before its own section.
	ProfileDefaults Profile `toml:"profile_defaults" json:"profile_defaults"`
	// Profiles are the profiles that have a section, each fully resolved.
	Profiles map[string]Profile `toml:"profiles" key:"profile" json:"profiles"`
	// WM configures the wm role: the Alt+Tab overlay.
	WM WM `toml:"wm" json:"wm"`

	// Other is what a profile without a section gets: ProfileDefaults with the policy on
	// profiles.* applied. Not a key of the file.
	Other Profile `toml:"-" json:"other_profiles"`
}

// Profile returns the settings of the named profile, whether or not it has a section.
func (c *Config) Profile(name string) Profile {
	if p, ok := c.Profiles[name]; ok {
		return p
	}
	return c.Other
}

// Context configures how the hub evaluates the context rules of [Profile.Context].
type Context struct {
	// Enabled turns context activation on.
	Enabled bool `toml:"enabled" json:"enabled"`
	// Poll is how often the signals (Wi-Fi, USB, host name, clock) are read.
	Poll Duration `toml:"poll" min:"100ms" json:"poll"`
	// Debounce is how long a new winner must keep winning before the switch happens.
	Debounce Duration `toml:"debounce" json:"debounce"`
}

// Profile is the settings of one trust profile.
type Profile struct {
	// Description is shown next to the profile's name.
	Description string `toml:"description" json:"description"`
	// IdleLock locks the profile's vault after this long unused; 0 never.
	IdleLock Duration `toml:"idle_lock" json:"idle_lock"`
	// Auth is how the vault is unlocked.
	Auth Auth `toml:"auth" json:"auth"`
	// Context is the rules that make this profile the default where they match.
	Context []Rule `toml:"context" json:"context"`
	// Launch is the launch profiles, by name: what an application launched in this profile
	// gets (the launcher reads them).
	Launch map[string]Launch `toml:"launch" key:"name" json:"launch"`
	// Snippets configures text snippets in this profile (the snippets role reads it).
	Snippets Snippets `toml:"snippets" json:"snippets"`
	// Clipboard configures the clipboard history of this profile (the clipboard role reads it).
	Clipboard Clipboard `toml:"clipboard" json:"clipboard"`
}

// Auth says which unlock factors a profile's vault takes and how many are needed.
type Auth struct {
	// Policy is "any" (one factor), "all" (every factor together) or "K-of-N".
	Policy AuthPolicy `toml:"policy" json:"policy"`
	// Factors are the factor types the vault is set up with.
	Factors []Factor `toml:"factors" json:"factors"`
}

// Rule is one context rule: it matches when every condition it has holds; within one
// condition, any listed value is enough.
type Rule struct {
	// Priority decides between rules of different profiles that match at once: higher wins.
	Priority int `toml:"priority" min:"-1000" max:"1000" json:"priority"`
	// SSID matches the Wi-Fi network the machine is connected to.
	SSID []string `toml:"ssid" json:"ssid,omitempty"`
	// USB matches a USB device that is plugged in, as vendor:product (hex, from lsusb).
	USB []USBID `toml:"usb" json:"usb,omitempty"`
	// Host matches the host name.
	Host []string `toml:"host" json:"host,omitempty"`
	// Time matches a time window such as "mon-fri 09:00-18:00" (local time).
	Time []TimeWindow `toml:"time" json:"time,omitempty"`
}

// check rejects a rule with no condition, which would match everywhere.
func (r *Rule) check() (key, msg, hint string) {
	if len(r.SSID)+len(r.USB)+len(r.Host)+len(r.Time) == 0 {
		return "", "a context rule needs at least one condition", "add ssid, usb, host or time"
	}
	for _, s := range r.SSID {
		if s == "" || len(s) > 32 {
			return "ssid", fmt.Sprintf("%q is not an SSID (1 to 32 bytes)", s), ""
		}
	}
	for _, h := range r.Host {
		if h == "" || len(h) > 253 {
			return "host", fmt.Sprintf("%q is not a host name", h), ""
		}
	}
	return "", "", ""
}

// Launch is one launch profile.
type Launch struct {
	// Env is variables set for the application (never secrets).
	Env map[string]string `toml:"env" key:"envvar" json:"env"`
	// Secrets names the secrets injected as variables, as `sesame env` does.
	Secrets []string `toml:"secrets" json:"secrets"`
	// Cwd is the working directory, absolute or under "~/"; "" keeps the launcher's.
	Cwd string `toml:"cwd" json:"cwd"`
	// Wrapper is a command the application is run under, e.g. ["nix", "develop", "REF", "-c"].
	Wrapper []string `toml:"wrapper" json:"wrapper"`
}

func (l *Launch) check() (key, msg, hint string) {
	if l.Cwd != "" && !strings.HasPrefix(l.Cwd, "/") && !strings.HasPrefix(l.Cwd, "~/") {
		return "cwd", fmt.Sprintf("%q is neither absolute nor under ~/", l.Cwd), ""
	}
	for _, s := range l.Secrets {
		if s == "" || strings.ContainsAny(s, "/\x00") || strings.Contains(s, "..") {
			return "secrets", fmt.Sprintf("%q is not a secret name", s), ""
		}
	}
	return "", "", ""
}

// Snippets configures the snippets of a profile.
type Snippets struct {
	// Enabled makes the profile's snippets available.
	Enabled bool `toml:"enabled" json:"enabled"`
	// SecretTemplates lets ${secret:NAME} in a template expand to a secret of the profile.
	SecretTemplates bool `toml:"secret_templates" json:"secret_templates"`
}

// Clipboard configures the clipboard history of a profile.
type Clipboard struct {
	// History keeps a history of what was copied while this profile is active.
	History bool `toml:"history" json:"history"`
	// MaxHistory bounds the history, oldest dropped first.
	MaxHistory int `toml:"max_history" min:"0" max:"100000" json:"max_history"`
	// Primary watches the primary selection too.
	Primary bool `toml:"primary" json:"primary"`
	// DetectSensitive recognises secrets (password-manager hints, token shapes, entropy).
	DetectSensitive bool `toml:"detect_sensitive" json:"detect_sensitive"`
	// KeepSensitive keeps sensitive content in the history anyway.
	KeepSensitive bool `toml:"keep_sensitive" json:"keep_sensitive"`
	// SensitiveTTL clears sensitive content from the live clipboard after this long; 0 never.
	SensitiveTTL Duration `toml:"sensitive_ttl" json:"sensitive_ttl"`
}

// Default returns the built-in defaults: the lowest layer.
func Default() *Config {
	return &Config{
		DefaultProfile: "default",
		Context: Context{
			Enabled:  true,
			Poll:     Duration(2 * time.Second),
			Debounce: Duration(3 * time.Second),
		},
		ProfileDefaults: DefaultProfile(),
		Profiles:        map[string]Profile{},
		WM:              DefaultWM(),
	}
}

// DefaultProfile returns the built-in settings of a profile.
func DefaultProfile() Profile {
	return Profile{
		IdleLock: Duration(15 * time.Minute),
		Auth:     Auth{Policy: "any", Factors: []Factor{"password"}},
		Context:  []Rule{},
		Launch:   map[string]Launch{},
		Snippets: Snippets{Enabled: true, SecretTemplates: true},
		Clipboard: Clipboard{
			History:         true,
			MaxHistory:      1000,
			DetectSensitive: true,
			SensitiveTTL:    Duration(30 * time.Second),
		},
	}
}

// WM configures the wm role (the window switcher and its Alt+Tab overlay). The role takes
// it from the hub's push, like every other setting.
type WM struct {
	// TapThreshold separates a tap (quick switch to the previous window, nothing drawn)
	// from a hold (the picker is drawn).
	TapThreshold Duration `toml:"tap_threshold" max:"5s" json:"tap_threshold"`
	// Modifier is the key held with Tab: "alt", "super" or "ctrl". Its release commits.
	Modifier Modifier `toml:"modifier" json:"modifier"`
	// Font is a font family, found in fontconfig's directories ("DejaVu Sans"), or the
	// absolute path of a font file.
	Font Font `toml:"font" json:"font"`
	// DefaultKeys keeps the wm's built-in hint keys (g, f, e, c, v, n, s, d, m, t); false
	// leaves only those of Keys.
	DefaultKeys bool `toml:"default_keys" json:"default_keys"`
	// Colors are the overlay's colours.
	Colors WMColors `toml:"colors" json:"colors"`
	// Keys give hint keys to applications, by key (one lower-case ASCII letter or digit);
	// a key here replaces the built-in one of the same key.
	Keys map[string]WMKey `toml:"keys" key:"hint" json:"keys"`
}

// WMColors are the overlay's colours.
type WMColors struct {
	// Background is drawn over the whole screen while the picker shows.
	Background       Color `toml:"background" json:"background"`
	Card             Color `toml:"card" json:"card"`
	Border           Color `toml:"border" json:"border"`
	Text             Color `toml:"text" json:"text"`
	TextSecondary    Color `toml:"text_secondary" json:"text_secondary"`
	Badge            Color `toml:"badge" json:"badge"`
	BadgeText        Color `toml:"badge_text" json:"badge_text"`
	BadgeMatched     Color `toml:"badge_matched" json:"badge_matched"`
	BadgeMatchedText Color `toml:"badge_matched_text" json:"badge_matched_text"`
	Selection        Color `toml:"selection" json:"selection"`
}

// WMKey is one hint key: the windows of Apps get it (f, ff, fff, …), and typing it with no
// such window open launches Launch.
type WMKey struct {
	// Apps are the app ids (Wayland app_id) whose windows get the key.
	Apps []string `toml:"apps" json:"apps"`
	// Launch is a desktop-file ID the launcher starts when no window of Apps is open.
	Launch string `toml:"launch" json:"launch"`
}

func (k *WMKey) check() (key, msg, hint string) {
	if len(k.Apps) == 0 && k.Launch == "" {
		return "", "a hint key needs apps, launch or both", `write apps = ["APP-ID"] or launch = "DESKTOP-FILE-ID"`
	}
	for _, a := range k.Apps {
		if a == "" {
			return "apps", "an app id cannot be empty", ""
		}
	}
	return "", "", ""
}

// DefaultWM returns the built-in settings of the wm role.
func DefaultWM() WM {
	return WM{
		TapThreshold: Duration(250 * time.Millisecond),
		Modifier:     "alt",
		Font:         "DejaVu Sans",
		DefaultKeys:  true,
		Colors: WMColors{
			Background:       "#00000060",
			Card:             "#1e1e1ef0",
			Border:           "#89b4fac0",
			Text:             "#ffffff",
			TextSecondary:    "#ffffffb4",
			Badge:            "#646464",
			BadgeText:        "#ffffff",
			BadgeMatched:     "#4caf50",
			BadgeMatchedText: "#ffffff",
			Selection:        "#ffffff28",
		},
		Keys: map[string]WMKey{},
	}
}

// layer is the schema of one configuration file: the settings, and (in the system file
// only) the policy.
type layer struct {
	DefaultProfile  ProfileName        `toml:"default_profile"`
	Context         Context            `toml:"context"`
	ProfileDefaults Profile            `toml:"profile_defaults"`
	Profiles        map[string]Profile `toml:"profiles" key:"profile"`
	WM              WM                 `toml:"wm"`
	Policy          []PolicyEntry      `toml:"policy"`
}

// PolicyEntry is one [[policy]] table of the system configuration.
type PolicyEntry struct {
	// Key is the dotted key locked ("profiles.*.idle_lock"); "*" stands for any one
	// profile or launch-profile name, and a table locks everything in it.
	Key string `toml:"key"`
	// Value, when given, is the value the key has, whatever any file says.
	Value *Value `toml:"value"`
	// Reason is shown to users whose setting is ignored.
	Reason string `toml:"reason"`
}

// Text-valued types. Each is written as a TOML string with a syntax of its own, checked
// when the file is read.

// textType is implemented by the pointer to each.
type textType interface {
	UnmarshalText([]byte) error
	// want describes the syntax, for "want …, not …" messages.
	want() string
}

// Duration is a Go duration written as a string: "90s", "15m", "1h30m"; "0" for never.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(FormatDuration(time.Duration(d))), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write it as \"90s\", \"15m\" or \"1h30m\")", b)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", b)
	}
	*d = Duration(v)
	return nil
}

func (*Duration) want() string { return `a duration (a string such as "15m")` }

// FormatDuration writes d as briefly as ParseDuration reads it back: "15m", not "15m0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ProfileName is the name of a trust profile: 1 to 64 bytes, an ASCII letter or digit
// first, then letters, digits, '_' or '-' (the vault's rule).
type ProfileName string

func (p *ProfileName) UnmarshalText(b []byte) error {
	if err := ValidProfileName(string(b)); err != nil {
		return err
	}
	*p = ProfileName(b)
	return nil
}

func (*ProfileName) want() string { return "a profile name" }

// ValidProfileName checks a profile name (the rule of vault.ValidateProfile).
func ValidProfileName(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("a profile name cannot be empty")
	case len(p) > 64:
		return fmt.Errorf("profile name %q is longer than 64 bytes", p)
	case !isAlnum(p[0]):
		return fmt.Errorf("profile name %q must start with an ASCII letter or digit", p)
	}
	for i := 1; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && c != '_' && c != '-' {
			return fmt.Errorf("profile name %q: %q is not an ASCII letter, digit, '_' or '-'", p, c)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// validEnvName checks a variable name: a shell identifier.
func validEnvName(s string) error {
	if s == "" {
		return fmt.Errorf("a variable name cannot be empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return fmt.Errorf("%q is not a variable name (letters, digits and '_', not starting with a digit)", s)
		}
	}
	return nil
}

// AuthPolicy is "any", "all" or "K-of-N" with 1 ≤ K ≤ N ≤ 16.
type AuthPolicy string

func (a *AuthPolicy) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "any" || s == "all" {
		*a = AuthPolicy(s)
		return nil
	}
	ks, ns, ok := strings.Cut(s, "-of-")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || strconv.Itoa(k) != ks || strconv.Itoa(n) != ns || k < 1 || n < k || n > 16 {
		return fmt.Errorf("%q is not an unlock policy: want \"any\", \"all\" or \"K-of-N\" (for example \"2-of-3\")", s)
	}
	*a = AuthPolicy(s)
	return nil
}

func (*AuthPolicy) want() string { return `an unlock policy ("any", "all" or "K-of-N")` }

// Factor is an unlock factor type.
type Factor string

// Factors lists the factor types sesame knows.
var factorTypes = []string{"password", "ssh-agent", "age"}

func (f *Factor) UnmarshalText(b []byte) error {
	for _, t := range factorTypes {
		if string(b) == t {
			*f = Factor(b)
			return nil
		}
	}
	msg := fmt.Sprintf("%q is not a factor type (want one of %s)", b, strings.Join(factorTypes, ", "))
	if s := suggest(string(b), factorTypes); s != "" {
		return hintError{msg, fmt.Sprintf("did you mean %q?", s)}
	}
	return fmt.Errorf("%s", msg)
}

func (*Factor) want() string { return "a factor type" }

// USBID is a USB device as vendor:product, four hex digits each ("1050:0407"), stored in
// lower case.
type USBID string

func (u *USBID) UnmarshalText(b []byte) error {
	s := strings.ToLower(string(b))
	v, p, ok := strings.Cut(s, ":")
	if !ok || !isHex4(v) || !isHex4(p) {
		return fmt.Errorf("%q is not a USB id: want vendor:product, four hex digits each (as lsusb prints them, e.g. \"1050:0407\")", b)
	}
	*u = USBID(s)
	return nil
}

func (*USBID) want() string { return `a USB id (a string such as "1050:0407")` }

func isHex4(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Modifier is the key held with Tab in the wm's overlay: "alt", "super" or "ctrl".
type Modifier string

var modifiers = []string{"alt", "super", "ctrl"}

func (m *Modifier) UnmarshalText(b []byte) error {
	for _, k := range modifiers {
		if string(b) == k {
			*m = Modifier(b)
			return nil
		}
	}
	msg := fmt.Sprintf("%q is not a modifier (want alt, super or ctrl)", b)
	if s := suggest(strings.ToLower(string(b)), append(modifiers, "control", "logo", "win", "mod1", "mod4")); s != "" {
		switch s {
		case "control":
			s = "ctrl"
		case "logo", "win", "mod4":
			s = "super"
		case "mod1":
			s = "alt"
		}
		return hintError{msg, fmt.Sprintf("write %q", s)}
	}
	return fmt.Errorf("%s", msg)
}

func (*Modifier) want() string { return `a modifier ("alt", "super" or "ctrl")` }

// Font is a font family, found in fontconfig's directories ("DejaVu Sans"), or the absolute
// path of a font file.
type Font string

func (f *Font) UnmarshalText(b []byte) error {
	s := string(b)
	switch {
	case strings.TrimSpace(s) == "":
		return hintError{"a font cannot be empty", `write font = "DejaVu Sans", or the absolute path of a font file`}
	case strings.ContainsRune(s, '/') && !strings.HasPrefix(s, "/"):
		return hintError{fmt.Sprintf("%q is neither a font family nor an absolute path", s), "write a font file's path in full, from /"}
	}
	*f = Font(s)
	return nil
}

func (*Font) want() string {
	return `a font (a family such as "DejaVu Sans", or a file's absolute path)`
}

// Color is "#RRGGBB" or "#RRGGBBAA" in hex (alpha last, ff when left out), stored in lower
// case.
type Color string

func (c *Color) UnmarshalText(b []byte) error {
	s := strings.ToLower(string(b))
	h, ok := strings.CutPrefix(s, "#")
	if ok && (len(h) == 6 || len(h) == 8) && isHex(h) {
		*c = Color(s)
		return nil
	}
	msg := fmt.Sprintf("%q is not a colour: want \"#RRGGBB\" or \"#RRGGBBAA\" (hex, alpha last)", b)
	if !ok && (len(h) == 6 || len(h) == 8) && isHex(h) {
		return hintError{msg, fmt.Sprintf("write \"#%s\"", h)}
	}
	return fmt.Errorf("%s", msg)
}

func (*Color) want() string { return `a colour (a string such as "#1e1e1ef0")` }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validHintKey checks a key of [wm.keys]: one lower-case ASCII letter or digit (the
// overlay's hints are lower case; one spelling per key keeps layers and policy locks on
// the same entry).
func validHintKey(k string) error {
	if len(k) == 1 {
		c := k[0]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			return nil
		}
		if 'A' <= c && c <= 'Z' {
			return hintError{fmt.Sprintf("%q is not a hint key: hint keys are lower case", k), fmt.Sprintf("write [wm.keys.%c]", c+'a'-'A')}
		}
	}
	return fmt.Errorf("%q is not a hint key: one ASCII letter or digit", k)
}

// hintError is an error that carries a hint for the user.
type hintError struct{ msg, hint string }

func (h hintError) Error() string { return h.msg }
