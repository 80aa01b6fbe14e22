package order

import (
	"context"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// move is one change of an order on its way to the database: the order as
// it was read (prev) and as it is to be (next), and what the timeline and
// the notices say about it.
type move struct {
	prev, next model.Order
	now        time.Time
	action     string  // the timeline row's action
	actorID    int64   // 0: the system
	role       string  // the capacity the actor acted in, "system" for the scheduler
	note       string  // the timeline row's note
	photos     []int64 // photo ids the timeline row lists
	events     []string
	// quiet writes no timeline row and no notice: a late text verdict
	// hides text, it is no step of the loop.
	quiet bool
	// keepIfSame writes no order row when next equals prev (a responder's
	// note on an emergency order already past that step); the timeline row
	// is still written.
	keepIfSame bool
	// cat is the order's category when the caller has read it already
	// (an action of the steps table): the notices name it without
	// reading it again inside the transaction.
	cat *model.Category
}

// move is the one path by which an order changes, whoever changes it: a
// person's action of the steps table, the scheduler's warning, overdue
// mark, escalation and auto-close, an emergency call's responders, a late
// text verdict. Inside tx it
//
//  1. writes the columns in which m.next differs from m.prev, and
//     updated_at, with the one compare-and-set of model.MoveOrder: UPDATE
//     orders SET <changed>, version = version + 1 WHERE id = ? AND
//     version = ?;
//  2. when no row matched (someone moved the order since m.prev was
//     read), returns the 409 state_conflict carrying the order's current
//     state and version, having written nothing: the caller's transaction
//     rolls back whatever it wrote before;
//  3. otherwise sets m.next.Version and UpdatedAt to what was stored,
//     appends the timeline row (unless m.quiet) and writes the inbox and
//     push of every event in m.events, once each: their keys carry the new
//     version.
//
// It decides nothing about who may move the order or from which state:
// the caller has checked that (the steps table, the scheduler's query).
func (s *Service) move(ctx context.Context, tx *gorm.DB, m *move) error {
	m.next.IntakeNode = model.IntakeNodeOf(&m.next)
	cols := changes(&m.prev, &m.next)
	if len(cols) > 0 || !m.keepIfSame {
		cols["updated_at"] = m.now
		n, err := model.MoveOrder(ctx, tx, m.prev.ID, m.prev.Version, cols)
		if err != nil {
			return err
		}
		if n == 0 {
			cur, err := s.order(ctx, tx, m.prev.ID)
			if err != nil {
				return err
			}
			return conflict(cur)
		}
		m.next.Version = m.prev.Version + 1
		m.next.UpdatedAt = m.now
	}
	if m.quiet {
		return nil
	}
	ev := model.OrderEvent{Action: m.action, ActorID: m.actorID, Role: m.role, FromState: m.prev.State,
		FromLevel: m.prev.Level, Note: m.note, Photos: joinIDs(m.photos), CreatedAt: m.now}
	if err := s.appendEvent(ctx, tx, &m.next, ev); err != nil {
		return err
	}
	for _, e := range m.events {
		if err := s.notifyIn(ctx, tx, &m.next, e, m.cat); err != nil {
			return err
		}
	}
	return nil
}

// conflict is the 409 a loser of a race or a wrong state gets, with the
// order's current state and version.
func conflict(o model.Order) error {
	return service.Conflict("state_conflict", "工单状态已变化，请刷新后重试").
		WithDetail(map[string]any{"state": o.State, "version": o.Version})
}

// order loads one order (404 when missing).
func (s *Service) order(ctx context.Context, db *gorm.DB, id int64) (model.Order, error) {
	o, err := model.OrderByID(ctx, db, id)
	return o, service.OrNotFound(err, errOrderMissing)
}

// changes lists the columns a move changed. Only those are written, so a
// move never undoes what another writer set meanwhile on a field it did
// not touch.
func changes(a, b *model.Order) map[string]any {
	m := map[string]any{}
	str := func(col, x, y string) {
		if x != y {
			m[col] = y
		}
	}
	num := func(col string, x, y int64) {
		if x != y {
			m[col] = y
		}
	}
	tm := func(col string, x, y *time.Time) {
		if (x == nil) != (y == nil) || (x != nil && !x.Equal(*y)) {
			m[col] = y
		}
	}
	str("state", a.State, b.State)
	str("level", a.Level, b.Level)
	num("intake_node", a.IntakeNode, b.IntakeNode)
	str("handler_kind", a.HandlerKind, b.HandlerKind)
	num("handler_id", a.HandlerID, b.HandlerID)
	num("assignee_id", a.AssigneeID, b.AssigneeID)
	num("duplicate_of", a.DuplicateOf, b.DuplicateOf)
	tm("step_started_at", a.StepStartedAt, b.StepStartedAt)
	tm("step_deadline", a.StepDeadline, b.StepDeadline)
	tm("paused_at", a.PausedAt, b.PausedAt)
	str("pause_reason", a.PauseReason, b.PauseReason)
	tm("due_at", a.DueAt, b.DueAt)
	tm("warned_at", a.WarnedAt, b.WarnedAt)
	if a.Overdue != b.Overdue {
		m["overdue"] = b.Overdue
	}
	num("breaches", int64(a.Breaches), int64(b.Breaches))
	num("rating_overall", int64(a.RatingOverall), int64(b.RatingOverall))
	num("rating_timely", int64(a.RatingTimely), int64(b.RatingTimely))
	num("rating_attitude", int64(a.RatingAttitude), int64(b.RatingAttitude))
	str("rating_comment", a.RatingComment, b.RatingComment)
	str("description", a.Description, b.Description)
	tm("completed_at", a.CompletedAt, b.CompletedAt)
	tm("confirmed_at", a.ConfirmedAt, b.ConfirmedAt)
	tm("closed_at", a.ClosedAt, b.ClosedAt)
	return m
}
