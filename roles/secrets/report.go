package secrets

import (
	"context"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
)

// reporter sends audit events to the hub. Requests do not wait for their event to be on disk
// (the hub fsyncs batches; waiting would put an fsync on every get); report blocks only when
// maxQueued events are already waiting, so a flood slows down instead of going unrecorded.
// Events still queued when the hub goes away are lost with it; the hub's own log says it
// stopped.
type reporter struct {
	in   chan *api.AuditEvent
	logf func(string, ...any)
}

const (
	maxQueued   = 4096
	maxInFlight = 32
)

func newReporter(logf func(string, ...any)) *reporter {
	return &reporter{in: make(chan *api.AuditEvent, maxQueued), logf: logf}
}

func (r *reporter) report(ev *api.AuditEvent) { r.in <- ev }

// run forwards events over cl, up to maxInFlight at once, until ctx ends or cl closes.
func (r *reporter) run(ctx context.Context, cl *bus.Client) {
	slots := make(chan struct{}, maxInFlight)
	for {
		select {
		case <-ctx.Done():
			return
		case <-cl.Done():
			return
		case ev := <-r.in:
			slots <- struct{}{}
			go func() {
				defer func() { <-slots }()
				if err := cl.Call(ctx, api.HubAudit, "", ev, nil); err != nil {
					r.logf("audit: %s on %q not recorded: %v", ev.Event, ev.Profile, err)
				}
			}()
		}
	}
}
