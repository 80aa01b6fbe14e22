package order

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
)

// appendEvent inserts one timeline row for o inside tx (never updates or
// deletes). Fields the caller leaves empty default to the order as it is
// now: the to-state, level, handler and assignee of o, and — for events
// that change nothing, such as a progress note — the same state and level
// as "from". The first event of an order (action "submit") has no "from".
func (s *Service) appendEvent(tx *gorm.DB, o *model.Order, ev model.OrderEvent) error {
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
	if err := tx.Create(&ev).Error; err != nil {
		return fmt.Errorf("append order event: %w", err)
	}
	return nil
}

// stepMinutes is the budget of the step an order in state waits in.
func stepMinutes(cat model.Category, state string) int {
	switch state {
	case model.StateSubmitted:
		return cat.VerifyMinutes
	case model.StateVerified:
		return cat.DispatchMinutes
	case model.StateDispatched:
		return cat.AcceptMinutes
	case model.StateAccepted, model.StateInProgress:
		return cat.CompleteMinutes
	case model.StateCompleted:
		return cat.ConfirmMinutes
	}
	return 0
}

// armStep starts the clock of the step o.State is now in. It only sets
// fields; the caller saves them with its compare-and-set update.
func (s *Service) armStep(ctx context.Context, o *model.Order, cat model.Category, now time.Time) error {
	now = now.UTC()
	o.WarnedAt = nil
	o.Overdue = false
	o.PausedAt = nil
	o.PauseReason = ""
	o.StepStartedAt, o.StepDeadline = nil, nil
	var deadline *time.Time
	if mins := stepMinutes(cat, o.State); mins > 0 {
		d, err := s.addStep(ctx, cat, now, time.Duration(mins)*time.Minute)
		if err != nil {
			return err
		}
		deadline = &d
	}
	// A dispatcher's due date bounds every step of the handler.
	if o.DueAt != nil && handlerStep(o.State) && (deadline == nil || o.DueAt.Before(*deadline)) {
		d := o.DueAt.UTC()
		deadline = &d
	}
	if deadline != nil {
		o.StepStartedAt, o.StepDeadline = &now, deadline
	}
	return nil
}

// handlerStep reports whether the handler holds an order in state.
func handlerStep(state string) bool {
	return state == model.StateDispatched || state == model.StateAccepted || state == model.StateInProgress
}

// addStep adds a step budget to start: working time where the category
// counts working days, wall-clock time otherwise.
func (s *Service) addStep(ctx context.Context, cat model.Category, start time.Time, d time.Duration) (time.Time, error) {
	if !cat.WorkingTime || s.cal == nil {
		return start.Add(d).UTC(), nil
	}
	// Deadlines are armed inside transactions, where loading the calendar
	// would need a second connection (SQLite has one: it would wait on
	// itself). Every entry reads it first with withCalendar.
	cal, ok := calendarIn(ctx)
	if !ok {
		return time.Time{}, errors.New("working calendar not read before the transaction (withCalendar)")
	}
	if cal == nil {
		return start.Add(d).UTC(), nil
	}
	return cal.AddWorking(start, d).UTC(), nil
}

type calendarKey struct{}

// calendarIn returns the calendar withCalendar put in ctx (nil when there
// is no calendar service), and false when it was never read.
func calendarIn(ctx context.Context) (*calendar.Calendar, bool) {
	cal, ok := ctx.Value(calendarKey{}).(*calendar.Calendar)
	return cal, ok
}

// withCalendar loads the working calendar before a transaction and keeps
// it in ctx for armStep. Inside a transaction the calendar service would
// need a second connection, and SQLite has only one.
func (s *Service) withCalendar(ctx context.Context) (context.Context, error) {
	if s.cal == nil {
		return ctx, nil
	}
	cal, err := s.cal.Current(ctx)
	if err != nil {
		return ctx, fmt.Errorf("working calendar: %w", err)
	}
	return context.WithValue(ctx, calendarKey{}, cal), nil
}

// Template kinds of the inbox messages (DESIGN.md §5).
const (
	kindNewReport = message.KindNewReport
	kindProgress  = message.KindProgress
	kindRating    = message.KindRating
)

// audience is who an event is told to.
type audience int

const (
	toGrid     audience = iota // grid workers of the grid, else the community's dispatchers
	toLevel                    // dispatchers of o.Level
	toHandler                  // managers of the handler firm, staff of the department …
	toAuthor                   // the author
	toAssignee                 // the firm worker the order is assigned to
	toHolder                   // whoever holds the order in its current state
	toResident                 // the resident it is for (else the author)
)

// eventRoute says who an event reaches and as which template.
var eventRoute = map[string]struct {
	to    audience
	kind  string
	title string
}{
	"submitted":  {toGrid, kindNewReport, "新工单待核实"},
	"patrol":     {toGrid, kindNewReport, "巡查上报工单"},
	"verified":   {toLevel, kindNewReport, "工单待派单"},
	"returned":   {toLevel, kindNewReport, "工单被退回"},
	"escalated":  {toLevel, kindNewReport, "工单已升级"},
	"overdue":    {toLevel, kindNewReport, "工单已超时"},
	"reopened":   {toLevel, kindNewReport, "工单经回访重新办理"},
	"dispatched": {toHandler, kindNewReport, "新派工单待接单"},
	"urged":      {toHandler, kindNewReport, "工单被督办"},
	"reworked":   {toHandler, kindNewReport, "工单验收未通过需返工"},
	"assigned":   {toAssignee, kindNewReport, "您有新的维修任务"},
	"accepted":   {toResident, kindProgress, "您的工单已受理"},
	"completed":  {toResident, kindProgress, "您的工单已办结"},
	"rejected":   {toAuthor, kindProgress, "您的工单未予受理"},
	"cancelled":  {toHandler, kindNewReport, "工单已被撤销"},
	"merged":     {toAuthor, kindProgress, "您的工单已合并处理"},
	"confirmed":  {toResident, kindRating, "请为工单服务评价"},
	"to_confirm": {toGrid, kindNewReport, "工单待验收"},
}

// notify writes one inbox message per recipient of event about o inside
// tx (DESIGN.md §5). Recipients are found with one query. Events it does
// not know go to whoever holds the order now (a deadline warning, say).
// Messages never carry a resident's phone or name.
func (s *Service) notify(ctx context.Context, tx *gorm.DB, o *model.Order, event string) error {
	route, ok := eventRoute[event]
	if !ok {
		route.to, route.kind, route.title = toHolder, kindNewReport, "工单即将超时，请尽快处理"
	}
	users, err := s.recipients(ctx, tx, o, route.to)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return nil
	}
	var cat model.Category
	if err := tx.WithContext(ctx).Select("id", "name").Where("id = ?", o.CategoryID).Take(&cat).Error; err != nil {
		cat.Name = o.CategoryCode
	}
	body := fmt.Sprintf("工单 %s（%s）", o.Number, cat.Name)
	if o.Place != "" {
		body += "，地点：" + o.Place
	}
	if d := maskDigits(service.CutRunes(o.Description, 60)); d != "" {
		body += "。" + d
	}
	ev := message.Event{
		Kind: route.kind, Event: "order." + event, Key: fmt.Sprintf("order:%d:%s:v%d", o.ID, event, o.Version),
		UserIDs: users, Title: route.title, Body: body, OrderID: o.ID,
		Fields: map[string]string{
			message.FieldNumber: o.Number, message.FieldCategory: cat.Name, message.FieldPlace: o.Place,
			message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339), message.FieldState: o.State,
			message.FieldTitle: route.title,
		},
	}
	if err := s.msgs.Publish(ctx, tx, ev); err != nil {
		return err
	}
	if event != "confirmed" {
		return nil
	}
	// One reminder to rate, withdrawn when the order is rated or closes.
	remind := ev
	remind.Event, remind.Key = "order.rating_reminder", fmt.Sprintf("order:%d:rating_reminder:v%d", o.ID, o.Version)
	remind.Title, remind.Fields = "工单待评价提醒", maps.Clone(ev.Fields)
	remind.Fields[message.FieldTitle] = remind.Title
	remind.NotBefore, remind.CancelKey = s.clock.Now().UTC().Add(s.opts.RatingReminder), ratingKey(o.ID)
	return s.msgs.Publish(ctx, tx, remind)
}

// ratingKey cancels the rating reminder of an order.
func ratingKey(orderID int64) string { return fmt.Sprintf("rating:order:%d", orderID) }

// recipients returns the distinct user ids an audience of o consists of,
// with one query.
func (s *Service) recipients(ctx context.Context, tx *gorm.DB, o *model.Order, to audience) ([]int64, error) {
	if to == toHolder {
		to = holderOf(o)
	}
	switch to {
	case toAuthor:
		return nonZero(o.AuthorID), nil
	case toResident:
		if o.ResidentID != 0 {
			return nonZero(o.ResidentID), nil
		}
		return nonZero(o.AuthorID), nil
	case toAssignee:
		return nonZero(o.AssigneeID), nil
	}
	q := tx.WithContext(ctx).Model(&model.Grant{}).Select("user_id", "role").Where("revoked_at IS NULL")
	var gridFirst bool
	switch to {
	case toGrid:
		gridFirst = true
		q = q.Where("(role = ? AND scope_kind = ? AND scope_id = ?) OR (role = ? AND scope_kind = ? AND scope_id = ?)",
			model.RoleGridWorker, model.ScopeGrid, o.GridID,
			model.RoleCommunityStaff, model.ScopeCommunity, o.CommunityID)
	case toLevel:
		role, kind, id := levelScope(o)
		q = q.Where("role = ? AND scope_kind = ? AND scope_id = ?", role, kind, id)
	case toHandler:
		role, kind := handlerRole(o.HandlerKind)
		if role == "" {
			return nil, nil
		}
		q = q.Where("role = ? AND scope_kind = ? AND scope_id = ?", role, kind, o.HandlerID)
	}
	var rows []struct {
		UserID int64
		Role   string
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("find recipients: %w", err)
	}
	pick := func(role string) []int64 {
		seen := map[int64]bool{}
		var ids []int64
		for _, r := range rows {
			if (role == "" || r.Role == role) && !seen[r.UserID] {
				seen[r.UserID] = true
				ids = append(ids, r.UserID)
			}
		}
		return ids
	}
	if gridFirst {
		if ids := pick(model.RoleGridWorker); len(ids) > 0 {
			return ids, nil
		}
		return pick(model.RoleCommunityStaff), nil
	}
	return pick(""), nil
}

// holderOf says who must act on o next.
func holderOf(o *model.Order) audience {
	switch o.State {
	case model.StateSubmitted, model.StateCompleted:
		return toGrid
	case model.StateDispatched:
		return toHandler
	case model.StateAccepted, model.StateInProgress:
		if o.AssigneeID != 0 {
			return toAssignee
		}
		return toHandler
	case model.StateConfirmed:
		return toResident
	}
	return toLevel
}

// levelScope is the dispatcher role and scope that own an order at its
// level.
func levelScope(o *model.Order) (role, kind string, id int64) {
	switch o.Level {
	case model.OrderLevelGrid:
		return model.RoleGridWorker, model.ScopeGrid, o.GridID
	case model.OrderLevelStreet:
		return model.RoleStreetStaff, model.ScopeStreet, o.StreetID
	case model.OrderLevelCity:
		return model.RoleCityStaff, model.ScopeCity, o.CityID
	}
	return model.RoleCommunityStaff, model.ScopeCommunity, o.CommunityID
}

// handlerRole is the role and scope kind that speak for a handler kind.
func handlerRole(kind string) (role, scope string) {
	switch kind {
	case model.HandlerFirm:
		return model.RoleFirmManager, model.ScopeFirm
	case model.HandlerDepartment:
		return model.RoleDepartmentStaff, model.ScopeDepartment
	case model.HandlerVolunteer:
		return model.RoleVolunteer, model.ScopeCommunity
	case model.HandlerGrid:
		return model.RoleGridWorker, model.ScopeGrid
	}
	return "", ""
}

func nonZero(id int64) []int64 {
	if id == 0 {
		return nil
	}
	return []int64{id}
}

// maskDigits hides runs of 7 or more digits (phone numbers a resident
// typed into a description) so that messages never carry them.
func maskDigits(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i := 0; i < len(r); {
		j := i
		for j < len(r) && r[j] >= '0' && r[j] <= '9' {
			j++
		}
		if j == i {
			b.WriteRune(r[i])
			i++
			continue
		}
		if j-i >= 7 {
			b.WriteString(strings.Repeat("*", j-i))
		} else {
			b.WriteString(string(r[i:j]))
		}
		i = j
	}
	return b.String()
}
