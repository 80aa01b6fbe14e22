package order

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Responder actions on a call.
const (
	// CallAcknowledge records that a responder has taken the call: the
	// alerts stop, and the order goes to the grid (accepted) if nobody had
	// taken it.
	CallAcknowledge = "acknowledge"
	// CallArrive records that a responder is on the spot (acknowledging
	// the call too, if nobody had).
	CallArrive = "arrive"
	// CallResolve closes the call and completes its order; the grid
	// worker then confirms it like any other order.
	CallResolve = "resolve"
)

var (
	errCallResponder = service.Forbidden("not_responder", "只有该网格的网格员、该楼栋的楼栋长和社区、街道工作人员可以处置紧急呼叫")
	errCallResolved  = service.Unprocessable("call_resolved", "该紧急呼叫已处置完毕")
	errCallAcked     = service.Conflict("already_acknowledged", "该紧急呼叫已有人响应")
	errCallArrived   = service.Conflict("already_arrived", "已有人到达现场")
	errCallAction    = service.Invalid("bad_action", "紧急呼叫的操作只能是 acknowledge、arrive 或 resolve")
)

// callAction is what one responder action does to a call.
type callAction struct {
	event string   // its timeline action
	who   []string // the roles that may take it, over the call's household
	from  map[string]callStep
	// by is who took the step this action stamps, 0 while nobody has.
	// The same responder pressing again (a retry on a bad network)
	// repeats their own act: the call as it is, nothing written. Another
	// responder is refused with who took it.
	by func(c *model.EmergencyCall) int64
}

// callStep is a responder action from one state of the call: where it
// goes and what it stamps, or why it is refused.
type callStep struct {
	to     string
	marks  model.CallMarks
	refuse func(c *model.EmergencyCall) error
}

// callActions is the responders' state machine: per action and state of
// the call (open → acknowledged → arrived → resolved), the next state and
// the times written. A later step stamps the earlier ones nobody took: the
// first responder on the spot has acknowledged the call too.
var callActions = map[string]callAction{
	CallAcknowledge: {evCallAck, responderRoles, map[string]callStep{
		model.CallOpen:         {to: model.CallAcknowledged, marks: model.CallMarks{Acknowledged: true}},
		model.CallAcknowledged: {refuse: acknowledgedBy},
		model.CallArrived:      {refuse: acknowledgedBy},
		model.CallResolved:     {refuse: resolvedCall},
	}, func(c *model.EmergencyCall) int64 { return c.AcknowledgedBy }},
	CallArrive: {evCallArrive, responderRoles, map[string]callStep{
		model.CallOpen:         {to: model.CallArrived, marks: model.CallMarks{Acknowledged: true, Arrived: true}},
		model.CallAcknowledged: {to: model.CallArrived, marks: model.CallMarks{Arrived: true}},
		model.CallArrived:      {refuse: arrivedBy},
		model.CallResolved:     {refuse: resolvedCall},
	}, func(c *model.EmergencyCall) int64 { return c.ArrivedBy }},
	CallResolve: {evCallResolve, responderRoles, map[string]callStep{
		model.CallOpen:         {to: model.CallResolved, marks: model.CallMarks{Acknowledged: true, Resolved: true}},
		model.CallAcknowledged: {to: model.CallResolved, marks: model.CallMarks{Resolved: true}},
		model.CallArrived:      {to: model.CallResolved, marks: model.CallMarks{Resolved: true}},
		model.CallResolved:     {refuse: resolvedCall},
	}, func(c *model.EmergencyCall) int64 { return c.ResolvedBy }},
}

func acknowledgedBy(c *model.EmergencyCall) error {
	return errCallAcked.WithDetail(map[string]any{"acknowledged_by": c.AcknowledgedBy})
}

func arrivedBy(c *model.EmergencyCall) error {
	return errCallArrived.WithDetail(map[string]any{"arrived_by": c.ArrivedBy})
}

func resolvedCall(*model.EmergencyCall) error { return errCallResolved }

// stepFrom is the step of action from c's state, or the refusal.
func (ca callAction) stepFrom(c *model.EmergencyCall) (callStep, error) {
	st, ok := ca.from[c.State()]
	if !ok {
		return st, fmt.Errorf("call %d: no step from state %q", c.ID, c.State())
	}
	if st.refuse != nil {
		return st, st.refuse(c)
	}
	return st, nil
}

// RespondCall runs a responder action on a call, with an optional note
// for the timeline.
func (s *Service) RespondCall(ctx context.Context, a *service.Actor, id int64, action, note string) (CallView, error) {
	ca, ok := callActions[action]
	if !ok {
		return CallView{}, errCallAction
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 500 {
		return CallView{}, errNote
	}
	return s.respond(ctx, a, id, ca, note)
}

// respond runs one responder action: a compare-and-set on the call's
// state, then the order's move, in one transaction.
func (s *Service) respond(ctx context.Context, a *service.Actor, id int64, ca callAction, note string) (CallView, error) {
	if a == nil {
		return CallView{}, service.ErrUnauthenticated
	}
	c, err := s.call(ctx, s.db, id)
	if err != nil {
		return CallView{}, err
	}
	g, ok := a.GrantFor(callTarget(&c), ca.who...)
	if !ok {
		return CallView{}, errCallResponder
	}
	if ca.by(&c) == a.UserID {
		return s.callView(ctx, a, id)
	}
	if _, err := ca.stepFrom(&c); err != nil {
		return CallView{}, err
	}
	cat, err := model.CategoryByCode(ctx, s.db, emergencyCategory)
	if err != nil {
		return CallView{}, errCallUnready.Wrap(err)
	}
	// Deadlines may be re-armed inside the transaction: the calendar is
	// read before it (SQLite has one connection).
	cal, err := s.workCalendar(ctx, cat)
	if err != nil {
		return CallView{}, err
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// Another responder may move the call between the read and the
		// write; the step is then decided again from where it is. States
		// only move forward, so this ends within one round per state.
		for range len(ca.from) {
			st, err := ca.stepFrom(&c)
			if err != nil {
				return err
			}
			n, err := model.MarkCall(ctx, tx, id, c.State(), st.marks, a.UserID, now)
			if err != nil {
				return err
			}
			if n > 0 {
				return s.moveCallOrder(ctx, tx, c.OrderID, cat, cal, ca.event, a.UserID, g.Role, note, now)
			}
			if c, err = s.call(ctx, tx, id); err != nil {
				return err
			}
			if ca.by(&c) == a.UserID {
				return nil // the same press twice at once: the other copy took it
			}
		}
		return fmt.Errorf("call %d kept moving under %s", id, ca.event)
	})
	if err != nil {
		return CallView{}, err
	}
	return s.callView(ctx, a, id)
}

// callView is the call as it is now, for a.
func (s *Service) callView(ctx context.Context, a *service.Actor, id int64) (CallView, error) {
	c, err := s.call(ctx, s.db, id)
	if err != nil {
		return CallView{}, err
	}
	vs, err := s.callViews(ctx, a, []model.EmergencyCall{c})
	if err != nil {
		return CallView{}, err
	}
	return vs[0], nil
}
