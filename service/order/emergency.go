package order

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// The one-key emergency call (一键呼叫, 民呼社应). A grid worker registers
// the vulnerable people of their grid; they, or anyone living in their
// household, raise a call with one request. The call becomes an order of
// category "emergency" at community level — the seeds' call goes straight
// to the community service hall, with the grid worker and the building
// steward as first responders — and alerts all three at once. The alert
// repeats until somebody acknowledges; unacknowledged for too long, the
// call goes to the street. While unacknowledged, the order has no step
// deadline: the call's own clock governs, so the ordinary breach ladder
// does not escalate it a second time. Acknowledging hands the order to the
// grid (accepted), arriving starts the work, resolving completes it; the
// grid worker then confirms it like any other order.

// Timeline actions of emergency calls.
const (
	evCall        = "emergency_call"
	evCallAck     = "emergency_ack"
	evCallArrive  = "emergency_arrive"
	evCallResolve = "emergency_resolve"
)

// emergencyCategory is the category code of emergency orders.
const emergencyCategory = "emergency"

var (
	errCallNotAllowed = service.Forbidden("not_vulnerable", "只有登记的关爱对象及其同户家人可以使用一键呼叫，请联系网格员登记")
	errCallHousehold  = service.Invalid("household_required", "您关联了多个登记房屋，请选择为哪一户呼叫")
	errCallNote       = service.Invalid("bad_note", "补充说明不能超过 200 个字")
	errCallMissing    = service.NotFound("call_not_found", "紧急呼叫不存在")
	errCallHidden     = service.Forbidden("out_of_scope", "该紧急呼叫不在您的管辖范围内")
	errCallUnready    = service.Unavailable("emergency_unavailable", "一键呼叫暂不可用，请直接拨打社区电话")
	errCallListRole   = service.Forbidden("not_responder", "只有网格员、楼栋长和社区、街道工作人员可以查看紧急呼叫")
)

// CallInput raises an emergency call. Both fields are optional: a caller
// linked to one registered household needs to say nothing.
type CallInput struct {
	HouseholdID int64
	Note        string
}

// CallView is a call with its order and the person it is for. Caller's
// name and phone are filled for responders only.
type CallView struct {
	model.EmergencyCall
	OrderNumber string
	OrderState  string
	OrderLevel  string
	Vulnerable  VulnerableView
	CallerName  string
	CallerPhone string
}

// Status is open, acknowledged, arrived or resolved.
func (v CallView) Status() string { return v.State() }

// CallTarget is a household the actor may raise a call for.
type CallTarget struct {
	VulnerableView
	OpenCallID int64 // the household's unresolved call, 0 when none
}

// CallTargets lists the registrations the actor may call for: their own
// and those of the households they live in. The mini-program shows the
// button only when there is one.
func (s *Service) CallTargets(ctx context.Context, a *service.Actor) ([]CallTarget, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	regs, err := model.CallableVulnerables(ctx, s.db, a.UserID, 0)
	if err != nil {
		return nil, err
	}
	vs, err := s.vulnerableViews(ctx, regs)
	if err != nil {
		return nil, err
	}
	hids := make([]int64, len(regs))
	for i, r := range regs {
		hids[i] = r.HouseholdID
	}
	calls, err := model.OpenCallsOf(ctx, s.db, hids...)
	if err != nil {
		return nil, err
	}
	open := map[int64]int64{}
	for _, c := range calls {
		open[c.HouseholdID] = c.ID
	}
	out := make([]CallTarget, len(vs))
	for i, v := range vs {
		out[i] = CallTarget{VulnerableView: v, OpenCallID: open[v.HouseholdID]}
	}
	return out, nil
}

// Call raises an emergency call for a registered vulnerable person, or
// returns the household's call that is still open (created is then
// false): a double tap, or two family members at once, raise one call.
func (s *Service) Call(ctx context.Context, a *service.Actor, in CallInput) (CallView, bool, error) {
	if a == nil {
		return CallView{}, false, service.ErrUnauthenticated
	}
	in.Note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(in.Note) > 200 {
		return CallView{}, false, errCallNote
	}
	if in.HouseholdID < 0 {
		return CallView{}, false, errCallNotAllowed
	}
	regs, err := model.CallableVulnerables(ctx, s.db, a.UserID, in.HouseholdID)
	if err != nil {
		return CallView{}, false, err
	}
	if len(regs) == 0 {
		return CallView{}, false, errCallNotAllowed
	}
	reg := regs[0]
	for _, r := range regs {
		if r.HouseholdID != reg.HouseholdID {
			return CallView{}, false, errCallHousehold
		}
		if r.UserID == a.UserID && reg.UserID != a.UserID {
			reg = r // the caller's own registration speaks for them best
		}
	}
	if c, ok, err := s.openCall(ctx, reg.HouseholdID); err != nil || ok {
		return s.callAfterWrite(ctx, a, c, false, err)
	}
	cat, err := model.CategoryByCode(ctx, s.db, emergencyCategory)
	if err != nil {
		return CallView{}, false, errCallUnready.Wrap(err)
	}
	vv, err := s.vulnerableViews(ctx, []model.Vulnerable{reg})
	if err != nil {
		return CallView{}, false, err
	}
	now := s.clock.Now().UTC()
	var call model.EmergencyCall
	// Numbered before the transaction: the counter row is not locked
	// while the call is written.
	num, err := s.numbers.take(ctx, now)
	if err != nil {
		return CallView{}, false, err
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		who := vulnerableLabel[reg.Kind]
		if vv[0].Name != "" {
			who += vv[0].Name
		}
		desc := "一键呼叫：" + who + "（" + vv[0].Address() + "）请求紧急帮助"
		if in.Note != "" {
			desc += "。" + in.Note
		}
		resident := reg.UserID
		if resident == 0 {
			resident = a.UserID
		}
		o := model.Order{Number: num, CategoryID: cat.ID, CategoryCode: cat.Code, State: model.StateVerified,
			Level: model.OrderLevelCommunity, Channel: model.ChannelCall, AuthorID: a.UserID, ResidentID: resident,
			HouseholdID: reg.HouseholdID, Description: service.CutRunes(desc, 1000), Ancestry: reg.Ancestry, Version: 1}
		o.CreatedAt, o.UpdatedAt = now, now
		if err := model.Create(ctx, tx, &o); err != nil {
			return err
		}
		hid := reg.HouseholdID
		call = model.EmergencyCall{OrderID: o.ID, CallerID: a.UserID, VulnerableID: reg.ID, HouseholdID: hid,
			Note: in.Note, OpenHousehold: &hid, AlertCount: 1, LastAlertAt: now, Ancestry: reg.Ancestry}
		call.CreatedAt, call.UpdatedAt = now, now
		if err := model.Create(ctx, tx, &call); err != nil {
			return err
		}
		role := SubmitterResident
		if reg.UserID == a.UserID {
			role = "vulnerable"
		}
		if err := s.appendEvent(ctx, tx, &o, model.OrderEvent{Action: evCall, ActorID: a.UserID, Role: role,
			Note: in.Note, CreatedAt: now}); err != nil {
			return err
		}
		_, err = s.alert(ctx, tx, &call, &o, vv[0].callPlace, reg.Kind, "emergency.call", "紧急呼叫，请立即响应", false)
		return err
	})
	if errors.Is(err, model.ErrDuplicate) {
		// Another request of the household won the race: return its call.
		if c, ok, ferr := s.openCall(ctx, reg.HouseholdID); ferr == nil && ok {
			return s.callAfterWrite(ctx, a, c, false, nil)
		}
	}
	if err != nil {
		return CallView{}, false, err
	}
	return s.callAfterWrite(ctx, a, call, true, nil)
}

// openCall returns the household's unresolved call, if it has one.
func (s *Service) openCall(ctx context.Context, householdID int64) (model.EmergencyCall, bool, error) {
	cs, err := model.OpenCallsOf(ctx, s.db, householdID)
	if err != nil || len(cs) == 0 {
		return model.EmergencyCall{}, false, err
	}
	return cs[0], true, nil
}

func (s *Service) callAfterWrite(ctx context.Context, a *service.Actor, c model.EmergencyCall, created bool, err error) (CallView, bool, error) {
	if err != nil {
		return CallView{}, false, err
	}
	vs, err := s.callViews(ctx, a, []model.EmergencyCall{c})
	if err != nil {
		return CallView{}, false, err
	}
	return vs[0], created, nil
}

// call loads one call (tx may be a transaction).
func (s *Service) call(ctx context.Context, tx *gorm.DB, id int64) (model.EmergencyCall, error) {
	c, err := model.ByID[model.EmergencyCall](ctx, tx, id)
	return c, service.OrNotFound(err, errCallMissing)
}

// OpenCalls lists the unresolved calls in the actor's scope, newest first.
func (s *Service) OpenCalls(ctx context.Context, a *service.Actor, p service.Page) (service.Paged[CallView], error) {
	var none service.Paged[CallView]
	if a == nil {
		return none, service.ErrUnauthenticated
	}
	scopes := treeScopesOf(a, responderRoles)
	if len(scopes) == 0 {
		return none, errCallListRole
	}
	if p.Limit <= 0 {
		p.Limit = 20
	}
	rows, err := model.OpenCallsIn(ctx, s.db, scopes, p.After, p.Limit+1)
	if err != nil {
		return none, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.callViews(ctx, a, page.Items)
	if err != nil {
		return none, err
	}
	return service.Paged[CallView]{Items: vs, More: page.More}, nil
}

// callViews converts calls with a constant number of queries.
func (s *Service) callViews(ctx context.Context, a *service.Actor, calls []model.EmergencyCall) ([]CallView, error) {
	orderIDs, vulnIDs, callers := idSet{}, idSet{}, idSet{}
	for _, c := range calls {
		orderIDs.add(c.OrderID)
		vulnIDs.add(c.VulnerableID)
		callers.add(c.CallerID)
	}
	os, err := model.OrderHeads(ctx, s.db, orderIDs.list())
	if err != nil {
		return nil, err
	}
	orders := make(map[int64]model.Order, len(os))
	for _, o := range os {
		orders[o.ID] = o
	}
	regs, err := model.AllByID[model.Vulnerable](ctx, s.db, vulnIDs.list())
	if err != nil {
		return nil, err
	}
	rvs, err := s.vulnerableViews(ctx, regs)
	if err != nil {
		return nil, err
	}
	byVuln := map[int64]VulnerableView{}
	for _, v := range rvs {
		byVuln[v.ID] = v
	}
	users, err := s.userNames(ctx, callers)
	if err != nil {
		return nil, err
	}
	out := make([]CallView, len(calls))
	for i, c := range calls {
		o := orders[c.OrderID]
		v := CallView{EmergencyCall: c, OrderNumber: o.Number, OrderState: o.State, OrderLevel: o.Level, Vulnerable: byVuln[c.VulnerableID]}
		v.OpenHousehold = nil
		if isResponder(a, &c) || a.UserID == c.CallerID {
			// Responders must be able to phone whoever pressed the button.
			v.CallerName, v.CallerPhone = users[c.CallerID].DisplayName, users[c.CallerID].Phone
		}
		out[i] = v
	}
	return out, nil
}

// EmergencyCall returns one call to its caller, the household and the
// vulnerable person, or a responder in scope.
func (s *Service) EmergencyCall(ctx context.Context, a *service.Actor, id int64) (CallView, error) {
	if a == nil {
		return CallView{}, service.ErrUnauthenticated
	}
	c, err := s.call(ctx, s.db, id)
	if err != nil {
		return CallView{}, err
	}
	if !isResponder(a, &c) {
		ok, err := s.isCallFamily(ctx, a, &c)
		if err != nil {
			return CallView{}, err
		}
		if !ok {
			return CallView{}, errCallHidden
		}
	}
	vs, err := s.callViews(ctx, a, []model.EmergencyCall{c})
	if err != nil {
		return CallView{}, err
	}
	return vs[0], nil
}

// moveCallOrder moves the call's order for a responder action, as far as
// its state allows (a dispatcher may have moved it meanwhile), and writes
// the timeline row either way. The order row is locked first so the
// compare-and-set cannot lose to a transition in between.
func (s *Service) moveCallOrder(ctx context.Context, tx *gorm.DB, orderID int64, cat model.Category, cal *calendar.Calendar, action string, actorID int64, role, note string, now time.Time) error {
	o, err := model.LockByID[model.Order](ctx, tx, orderID)
	if err != nil {
		return fmt.Errorf("lock order %d: %w", orderID, err)
	}
	prev := o
	toGridHands := func() {
		if o.HandlerKind == "" {
			o.HandlerKind, o.HandlerID = model.HandlerGrid, o.GridID
		}
	}
	var events []string
	switch {
	case action == evCallAck && o.State == model.StateVerified:
		toGridHands()
		o.State = model.StateAccepted
		armStep(&o, cat, now, cal)
		events = []string{"accepted"}
	case action == evCallArrive && (o.State == model.StateVerified || o.State == model.StateAccepted):
		toGridHands()
		o.State = model.StateInProgress
		if prev.State == model.StateVerified {
			armStep(&o, cat, now, cal)
		}
	case action == evCallResolve && slices.Contains([]string{model.StateVerified, model.StateDispatched,
		model.StateAccepted, model.StateInProgress}, o.State):
		toGridHands()
		o.State = model.StateCompleted
		o.CompletedAt = &now
		armStep(&o, cat, now, cal)
		events = []string{"completed", "to_confirm"}
	}
	return s.move(ctx, tx, &move{prev: prev, next: o, now: now, action: action, actorID: actorID, role: role,
		note: note, events: events, keepIfSame: o.State == prev.State})
}

// endsCall are the ordinary order actions after which an emergency call
// has nothing left to alert about: the caller cancelled (误按), a
// responder rejected, merged or resolved it on the spot.
var endsCall = map[string]bool{ActCancel: true, ActReject: true, ActMerge: true, ActResolve: true}

// endCall settles the open call of an order ended outside the call's own
// endpoints, inside the order's transaction: no more repeats, no street
// escalation, and the household may call again.
func endCall(tx *gorm.DB, orderID, by int64, now time.Time) error {
	// transition.go hands over the transaction alone; it carries the
	// request's context.
	return model.EndOrderCall(tx.Statement.Context, tx, orderID, by, now)
}
