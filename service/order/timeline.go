package order

import (
	"context"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// appendEvent inserts one timeline row for o inside tx (never updates or
// deletes). Fields the caller leaves empty default to the order as it is
// now: the to-state, level, handler and assignee of o, and — for events
// that change nothing, such as a progress note — the same state and level
// as "from". The first event of an order (action "submit") has no "from".
func (s *Service) appendEvent(ctx context.Context, tx *gorm.DB, o *model.Order, ev model.OrderEvent) error {
	ev.ID = 0
	ev.OrderID = o.ID
	if ev.ToState == "" {
		ev.ToState = o.State
	}
	if ev.ToLevel == "" {
		ev.ToLevel = o.Level
	}
	if ev.Action != ActSubmit {
		if ev.FromState == "" {
			ev.FromState = ev.ToState
		}
		if ev.FromLevel == "" {
			ev.FromLevel = ev.ToLevel
		}
	}
	if ev.HandlerKind == "" && ev.HandlerID == 0 {
		ev.HandlerKind, ev.HandlerID = o.HandlerKind, o.HandlerID
	}
	if ev.AssigneeID == 0 {
		ev.AssigneeID = o.AssigneeID
	}
	ev.Note = service.CutRunes(ev.Note, 500)
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = s.clock.Now().UTC()
	}
	return model.AppendOrderEvent(ctx, tx, &ev)
}
