package secrets

import (
	"context"
	"sync/atomic"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
)

// reporter sends audit events to the hub.
//
// Events that change who can read what — unlock (failed or not), lock, creating or deleting a
// profile, factor changes — are recorded before the request is answered (recordNow): the
// caller learns the outcome only once it is on disk. Reads and writes of secrets are frequent,
// so their events are queued (report) and sent without holding up the reply (the hub fsyncs
// them in batches); report blocks only when maxQueued events are already waiting, so a flood
// slows down instead of going unrecorded. Queued events still in flight when the hub goes away
// are lost with it.
type reporter struct {
	in   chan *api.AuditEvent
	logf func(string, ...any)
	cl   atomic.Pointer[bus.Client]
}

const (
	maxQueued   = 4096
	maxInFlight = 32
)

func newReporter(logf func(string, ...any)) *reporter {
	return &reporter{in: make(chan *api.AuditEvent, maxQueued), logf: logf}
}

func (r *reporter) report(ev *api.AuditEvent) { r.in <- ev }

// recordNow sends ev and waits until the hub has it on disk.
func (r *reporter) recordNow(ctx context.Context, ev *api.AuditEvent) error {
	cl := r.cl.Load()
	if cl == nil {
		return bus.Errorf(bus.CodeUnavailable, "audit: not connected to the hub")
	}
	if err := cl.Call(ctx, api.HubAudit, "", ev, nil); err != nil {
		r.logf("audit: %s on %q not recorded: %v", ev.Event, ev.Profile, err)
		return err
	}
	return nil
}

// run forwards events over cl, up to maxInFlight at once, until ctx ends or cl closes.
func (r *reporter) run(ctx context.Context, cl *bus.Client) {
	r.cl.Store(cl)
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
