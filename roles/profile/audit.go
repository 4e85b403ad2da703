package profile

import (
	"context"

	"github.com/open-sesame/sesame/audit"
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/vmihailenco/msgpack/v5"
)

// auditor owns the audit log. Events from every role go through one goroutine that writes
// whatever has queued up as one batch — one write, one fsync — and then answers each sender,
// so a burst of events costs one fsync, not one each.
type auditor struct {
	log *audit.Log
	in  chan auditReq
}

type auditReq struct {
	e    *audit.Entry
	done chan error
}

func newAuditor(log *audit.Log) *auditor {
	return &auditor{log: log, in: make(chan auditReq, 1024)}
}

func (a *auditor) run(ctx context.Context) {
	for {
		var batch []auditReq
		select {
		case <-ctx.Done():
			return
		case r := <-a.in:
			batch = append(batch, r)
		}
		for n := len(a.in); n > 0; n-- {
			batch = append(batch, <-a.in)
		}
		entries := make([]*audit.Entry, len(batch))
		for i, r := range batch {
			entries[i] = r.e
		}
		err := a.log.Append(entries...)
		for _, r := range batch {
			r.done <- err
		}
	}
}

// record appends e and waits until it is on disk.
func (a *auditor) record(ctx context.Context, e *audit.Entry) error {
	done := make(chan error, 1)
	select {
	case a.in <- auditReq{e: e, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle serves hub.audit: only a role may report, and the role is the one the hub
// recognised by its key, whatever the event says.
func (a *auditor) handle(ctx context.Context, from *bus.Caller, req *bus.Envelope) (any, error) {
	if from.Role == "" {
		return nil, bus.Errorf(bus.CodeDenied, "audit: only sesame's roles may write the audit log")
	}
	var ev api.AuditEvent
	if err := msgpack.Unmarshal(req.Body, &ev); err != nil {
		return nil, bus.Errorf(bus.CodeBadRequest, "audit: malformed event: %v", err)
	}
	e := &audit.Entry{
		Role:    from.Role,
		Event:   ev.Event,
		Profile: ev.Profile,
		Name:    ev.Name,
		Names:   ev.Names,
		OK:      ev.OK,
		Error:   ev.Error,
		Detail:  ev.Detail,
	}
	if c := ev.Caller; c != nil {
		e.Caller = &audit.Caller{PID: c.PID, UID: c.UID, Exe: c.Exe, Role: c.Role}
	}
	return nil, a.record(ctx, e)
}

func (a *auditor) head(context.Context, *bus.Caller, *bus.Envelope) (any, error) {
	h := a.log.Head()
	return &api.AuditHead{Seq: h.Seq, Hash: h.Hash}, nil
}
