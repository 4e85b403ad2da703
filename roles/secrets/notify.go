package secrets

import (
	"context"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
)

// notifier tells the clipboard role when a vault is locked or its master key rotated
// (api.ClipboardVaultChanged), so that it drops its key for the profile's history at once
// rather than at its next poll, and re-encrypts the history when the key it derives changes.
//
// Nothing here waits for the clipboard: tell only queues the event (dropping it, with a line
// in the log, when maxVaultEvents are already waiting), and run sends each in a goroutine of
// its own, so a slow or absent clipboard never holds up a lock or a reply. No clipboard role
// running, or none configured (CodeUnavailable, CodeUnknownKind), is normal and not logged. A
// lost message costs only time: the clipboard polls secrets.profiles every couple of seconds.
type notifier struct {
	in   chan api.ClipboardVaultEvent
	logf func(string, ...any)
}

const (
	maxVaultEvents    = 64
	maxEventsInFlight = 8
	// eventTimeout bounds one delivery; a re-encryption of a long history takes a while.
	eventTimeout = 30 * time.Second
)

func newNotifier(logf func(string, ...any)) *notifier {
	return &notifier{in: make(chan api.ClipboardVaultEvent, maxVaultEvents), logf: logf}
}

// tell queues an event; it never blocks.
func (n *notifier) tell(profile, event string) {
	select {
	case n.in <- api.ClipboardVaultEvent{Profile: profile, Event: event}:
	default:
		n.logf("clipboard: %d vault events already waiting; %s of %q not sent (the clipboard's poll sees a lock)", maxVaultEvents, event, profile)
	}
}

// run sends the queued events over cl until ctx ends or cl closes; what is queued meanwhile
// goes over the next connection.
func (n *notifier) run(ctx context.Context, cl *bus.Client) {
	slots := make(chan struct{}, maxEventsInFlight)
	for {
		select {
		case <-ctx.Done():
			return
		case <-cl.Done():
			return
		case ev := <-n.in:
			slots <- struct{}{}
			go func() {
				defer func() { <-slots }()
				cctx, cancel := context.WithTimeout(ctx, eventTimeout)
				defer cancel()
				err := cl.Call(cctx, api.ClipboardVaultChanged, ev.Profile, &ev, nil)
				switch code := bus.ErrCode(err); {
				case err == nil, code == bus.CodeUnavailable, code == bus.CodeUnknownKind:
				default:
					n.logf("clipboard: telling it that %q was %s: %v", ev.Profile, ev.Event, err)
				}
			}()
		}
	}
}
