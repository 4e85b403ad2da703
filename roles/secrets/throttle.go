package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/open-sesame/sesame/internal/atomicfile"
)

// Brute-force protection.
//
// Each failed unlock of a profile doubles the time before the next attempt is even looked at:
// 1 s, 2 s, 4 s … capped at maxBackoff. The count lives next to the vault, in
// PROFILE.throttle (written atomically), so restarting the role does not reset it; a
// successful unlock does. Every failure is also audited.
const maxBackoff = 15 * time.Minute

type throttle struct {
	path string
}

type throttleState struct {
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

func (s *server) throttle(profile string) throttle {
	return throttle{path: filepath.Join(filepath.Dir(s.path(profile)), profile+".throttle")}
}

func (t throttle) read() throttleState {
	var st throttleState
	b, err := os.ReadFile(t.path)
	if err == nil {
		if json.Unmarshal(b, &st) != nil {
			// A damaged file must not lift the brake: treat it as the maximum.
			st = throttleState{Failures: 30, Until: time.Now().Add(maxBackoff)}
		}
	}
	return st
}

// wait says how long until the next attempt may be tried.
func (t throttle) wait(now time.Time) time.Duration {
	return max(t.read().Until.Sub(now), 0)
}

// Backoff returns the delay after n consecutive failures.
func Backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	if n > 20 {
		return maxBackoff
	}
	return min(time.Second<<(n-1), maxBackoff)
}

func (t throttle) fail(now time.Time) error {
	st := t.read()
	st.Failures++
	st.Until = now.Add(Backoff(st.Failures))
	b, _ := json.Marshal(st)
	// Durable before the failure is answered: a crash must not reset the backoff.
	if err := atomicfile.Write(t.path, b, 0o600); err != nil {
		return fmt.Errorf("secrets: throttle: %w", err)
	}
	return nil
}

func (t throttle) reset() error {
	if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("secrets: throttle: %w", err)
	}
	return nil
}
