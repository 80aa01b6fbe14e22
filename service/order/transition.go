package order

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// Actions on an order (DESIGN.md §4). Submit and auto_dispatch only appear
// in the timeline; the others are endpoints.
const (
	ActSubmit       = "submit"
	ActAutoDispatch = "auto_dispatch"
	ActVerify       = "verify"
	ActReject       = "reject"
	ActMerge        = "merge"
	ActResolve      = "resolve"
	ActDispatch     = "dispatch"
	ActAccept       = "accept"
	ActReturn       = "return"
	ActAssign       = "assign"
	ActReassign     = "reassign"
	ActStart        = "start"
	ActProgress     = "progress"
	ActPause        = "pause"
	ActResume       = "resume"
	ActComplete     = "complete"
	ActConfirm      = "confirm"
	ActRework       = "rework"
	ActRate         = "rate"
	ActRevisit      = "revisit"
	ActCancel       = "cancel"
	ActUrge         = "urge"
)

// Input carries what the actions take; each reads only its own fields.
type Input struct {
	Note        string  // every action: a free note for the timeline
	Reason      string  // reject, return, pause, rework, cancel
	PhotoIDs    []int64 // resolve, progress, complete
	DuplicateOf int64   // merge
	HandlerKind string  // dispatch
	HandlerID   int64   // dispatch
	Deadline    *time.Time
	WorkerID    int64 // assign, reassign
	Overall     int   // rate: 1–5
	Timeliness  int   // rate: 0 (not given) or 1–5
	Attitude    int   // rate: 0 (not given) or 1–5
	Comment     string
	Reopen      bool // revisit
}

// capacity is a way a person may stand towards an order.
type capacity int

const (
	capGrid        capacity = iota + 1 // grid worker of the order's grid
	capDispatcher                      // dispatcher of the order's level
	capCommunity                       // community staff of the order's community
	capUrger                           // community, district, street or city staff over the order
	capHandler                         // speaks for the handler organisation
	capFirmManager                     // manager of the handler firm
	capAssignee                        // the firm worker the order is assigned to
	capAuthor                          // who submitted it
	capRater                           // the resident it is for (the author when none)
)

// step is what one action does to an order.
type step struct {
	from []string
	who  []capacity
	run  func(s *Service, c *act) error
}

// act is one action in flight.
type act struct {
	action string
	ctx    context.Context
	actor  *service.Actor
	in     Input
	cat    model.Category
	prev   model.Order
	next   model.Order
	now    time.Time
	note   string
	photos []int64
	events []string // notify these after the change
}

var mergeable = []string{model.StateSubmitted, model.StateVerified, model.StateDispatched, model.StateAccepted,
	model.StateInProgress, model.StateCompleted, model.StateConfirmed}

// steps is the transition table of DESIGN.md §4: per action, the states it
// leaves from, who may take it, and what it does.
var steps = map[string]step{
	ActVerify: {[]string{model.StateSubmitted}, []capacity{capGrid, capDispatcher}, (*Service).verify},
	ActReject: {[]string{model.StateSubmitted, model.StateVerified}, []capacity{capGrid, capDispatcher}, (*Service).reject},
	ActMerge:  {[]string{model.StateSubmitted, model.StateVerified}, []capacity{capGrid, capDispatcher}, (*Service).merge},
	ActResolve: {[]string{model.StateSubmitted, model.StateVerified}, []capacity{capGrid, capDispatcher},
		(*Service).resolve},
	ActDispatch: {[]string{model.StateVerified, model.StateDispatched}, []capacity{capDispatcher}, (*Service).dispatch},
	ActAccept:   {[]string{model.StateDispatched}, []capacity{capHandler}, (*Service).accept},
	ActReturn:   {[]string{model.StateDispatched, model.StateAccepted}, []capacity{capHandler}, (*Service).giveBack},
	ActAssign:   {[]string{model.StateAccepted, model.StateInProgress}, []capacity{capFirmManager}, (*Service).assign},
	ActReassign: {[]string{model.StateAccepted, model.StateInProgress}, []capacity{capFirmManager}, (*Service).assign},
	ActStart:    {[]string{model.StateAccepted}, []capacity{capAssignee, capHandler}, (*Service).start},
	ActProgress: {[]string{model.StateAccepted, model.StateInProgress}, []capacity{capAssignee, capHandler}, (*Service).progress},
	ActPause:    {[]string{model.StateAccepted, model.StateInProgress}, []capacity{capAssignee, capHandler}, (*Service).pause},
	ActResume:   {[]string{model.StateAccepted, model.StateInProgress}, []capacity{capAssignee, capHandler}, (*Service).resume},
	ActComplete: {[]string{model.StateInProgress}, []capacity{capAssignee, capHandler}, (*Service).complete},
	ActConfirm:  {[]string{model.StateCompleted}, []capacity{capGrid, capDispatcher}, (*Service).confirm},
	ActRework:   {[]string{model.StateCompleted}, []capacity{capGrid, capDispatcher}, (*Service).rework},
	ActRate:     {[]string{model.StateConfirmed}, []capacity{capRater}, (*Service).rate},
	ActRevisit:  {[]string{model.StateClosed}, []capacity{capCommunity}, (*Service).revisit},
	ActCancel: {[]string{model.StateSubmitted, model.StateVerified, model.StateDispatched}, []capacity{capAuthor},
		(*Service).cancel},
	ActUrge: {[]string{model.StateDispatched, model.StateAccepted, model.StateInProgress}, []capacity{capUrger},
		(*Service).urge},
}

// Actions lists the endpoints' actions.
func Actions() []string { return slices.Sorted(maps.Keys(steps)) }

var (
	errActUnknown   = service.Invalid("bad_action", "未知的工单操作")
	errActForbidden = service.Forbidden("action_forbidden", "您无权对该工单进行此操作")
	errOrderMissing = service.NotFound("order_not_found", "工单不存在")
	errOrderHidden  = service.Forbidden("out_of_scope", "该工单不在您的管辖范围内")
	errReason       = service.Invalid("reason_required", "请填写原因（1 到 200 个字）")
	errNote         = service.Invalid("bad_note", "说明不能超过 500 个字")
	errNoteRequired = service.Invalid("note_required", "请填写说明（1 到 500 个字）")
	errPhotosNeeded = service.Unprocessable("photos_required", "该类工单办结时须上传现场照片")
	errMergeTarget  = service.Unprocessable("bad_duplicate", "只能合并到同一小区另一张未办结的工单")
	errHandler      = service.Invalid("bad_handler", "处理单位类型只能是 firm、department、volunteer 或 grid")
	errHandlerFirm  = service.Unprocessable("firm_not_contracted", "该物业企业未签约服务此小区")
	errHandlerDept  = service.Unprocessable("department_out_of_area", "该职能部门不负责此区域")
	errHandlerGrid  = service.Unprocessable("grid_out_of_community", "只能派给本社区的网格")
	errHandlerVol   = service.Unprocessable("volunteer_out_of_community", "只能派给本社区的志愿者队伍")
	errDeadline     = service.Invalid("bad_deadline", "办结时限须在现在之后一年以内")
	errWorker       = service.Unprocessable("bad_worker", "只能指派给本物业企业的维修人员")
	errNotFirm      = service.Unprocessable("not_firm_order", "只有派给物业企业的工单可以指派维修人员")
	errAssigned     = service.Conflict("already_assigned", "工单已指派，请使用改派")
	errNotAssigned  = service.Unprocessable("not_assigned", "工单尚未指派，请先指派")
	errSameWorker   = service.Unprocessable("same_worker", "改派的人员与当前人员相同")
	errPaused       = service.Conflict("already_paused", "工单已挂起")
	errNotPaused    = service.Conflict("not_paused", "工单未挂起")
	errRating       = service.Invalid("bad_rating", "评分须为 1 到 5 星")
	errComment      = service.Invalid("bad_comment", "评价内容不能超过 500 个字")
	errNoRevisit    = service.Unprocessable("revisit_not_needed", "只有评价为不满意（2 星及以下）的工单需要回访")
)

// conflict is the 409 a loser of a race or a wrong state gets, with the
// order's current state and version.
func conflict(o model.Order) error {
	return service.Conflict("state_conflict", "工单状态已变化，请刷新后重试").
		WithDetail(map[string]any{"state": o.State, "version": o.Version})
}

// Act takes one action on an order for the actor.
func (s *Service) Act(ctx context.Context, a *service.Actor, id int64, action string, in Input) (View, error) {
	// Deadlines may be re-armed inside the transaction: the calendar is
	// read before it (SQLite has one connection).
	ctx, err := s.withCalendar(ctx)
	if err != nil {
		return View{}, err
	}
	st, ok := steps[action]
	if !ok {
		return View{}, errActUnknown
	}
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	o, err := s.order(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	if !canSee(a, &o) {
		return View{}, errOrderHidden
	}
	role := ""
	for _, c := range st.who {
		if r, ok := capacityOf(a, &o, c); ok {
			role = r
			break
		}
	}
	if role == "" {
		return View{}, errActForbidden
	}
	if !slices.Contains(st.from, o.State) {
		return View{}, conflict(o)
	}
	if utf8.RuneCountInString(in.Note) > 500 {
		return View{}, errNote
	}
	if err := checkPhotoIDs(in.PhotoIDs); err != nil {
		return View{}, err
	}
	var cat model.Category
	if err := s.db.WithContext(ctx).Take(&cat, o.CategoryID).Error; err != nil {
		return View{}, fmt.Errorf("category of order %d: %w", o.ID, err)
	}
	c := &act{action: action, ctx: ctx, actor: a, in: in, cat: cat, prev: o, next: o, now: s.clock.Now().UTC(),
		note: strings.TrimSpace(in.Note)}
	if err := st.run(s, c); err != nil {
		return View{}, err
	}
	// A resident's comment passes WeChat's text check before it is stored.
	verdict := message.Verdict{State: model.CheckPass}
	if action == ActRate && c.next.RatingComment != "" {
		if verdict, err = s.msgs.CheckText(ctx, a.UserID, message.SceneComment, c.next.RatingComment); err != nil {
			return View{}, err
		}
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// The call first, then the order: the order of the emergency
		// endpoints, so that the two never wait on each other.
		if c.next.Channel == model.ChannelCall && endsCall[action] {
			if err := endCall(tx, c.next.ID, a.UserID, c.now); err != nil {
				return err
			}
		}
		if err := s.casUpdate(ctx, tx, &c.prev, &c.next, c.now); err != nil {
			return err
		}
		if action == ActRate {
			if err := s.msgs.CancelScheduled(ctx, tx, ratingKey(o.ID)); err != nil {
				return err
			}
			rec := message.CheckRecord{Subject: fmt.Sprintf("order:%d:rating", o.ID), UserID: a.UserID,
				Scene: message.SceneComment, Text: c.next.RatingComment, Ancestry: o.Ancestry}
			if err := s.msgs.RecordCheck(ctx, tx, rec, verdict); err != nil {
				return err
			}
		}
		if err := s.attach(ctx, tx, a.UserID, c.photos, o.ID); err != nil {
			return err
		}
		ev := model.OrderEvent{Action: action, ActorID: a.UserID, Role: role, FromState: c.prev.State,
			FromLevel: c.prev.Level, Note: c.note, Photos: joinIDs(c.photos), CreatedAt: c.now}
		if err := s.appendEvent(tx, &c.next, ev); err != nil {
			return err
		}
		for _, e := range c.events {
			if err := s.notify(ctx, tx, &c.next, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, a, []model.Order{c.next}, false)
	if err != nil {
		return View{}, err
	}
	return vs[0], nil
}

// order loads one order (404 when missing).
func (s *Service) order(ctx context.Context, db *gorm.DB, id int64) (model.Order, error) {
	var o model.Order
	if err := model.Translate(db.WithContext(ctx).Take(&o, id).Error); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return o, errOrderMissing
		}
		return o, err
	}
	return o, nil
}

// casUpdate writes the fields that differ between prev and next, if the
// order is still in prev's state and version; otherwise it answers 409
// with the order as it is now. next.Version becomes the new version.
func (s *Service) casUpdate(ctx context.Context, tx *gorm.DB, prev, next *model.Order, now time.Time) error {
	cols := changes(prev, next)
	cols["version"] = gorm.Expr("version + 1")
	cols["updated_at"] = now
	res := tx.WithContext(ctx).Model(&model.Order{}).
		Where("id = ? AND state = ? AND version = ?", prev.ID, prev.State, prev.Version).Updates(cols)
	if res.Error != nil {
		return fmt.Errorf("update order %d: %w", prev.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		cur, err := s.order(ctx, tx, prev.ID)
		if err != nil {
			return err
		}
		return conflict(cur)
	}
	next.Version = prev.Version + 1
	next.UpdatedAt = now
	return nil
}

// changes lists the columns a transition changed. Only those are written,
// so a transition never undoes what the scheduler set meanwhile on a field
// it did not touch.
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
	num("rating_overall", int64(a.RatingOverall), int64(b.RatingOverall))
	num("rating_timely", int64(a.RatingTimely), int64(b.RatingTimely))
	num("rating_attitude", int64(a.RatingAttitude), int64(b.RatingAttitude))
	str("rating_comment", a.RatingComment, b.RatingComment)
	tm("completed_at", a.CompletedAt, b.CompletedAt)
	tm("confirmed_at", a.ConfirmedAt, b.ConfirmedAt)
	tm("closed_at", a.ClosedAt, b.ClosedAt)
	return m
}

// capacityOf reports whether the actor stands in capacity c towards o,
// and in which role (for the timeline).
func capacityOf(a *service.Actor, o *model.Order, c capacity) (string, bool) {
	t := orderTarget(o)
	grant := func(t service.Target, roles ...string) (string, bool) {
		g, ok := a.GrantFor(t, roles...)
		return g.Role, ok
	}
	switch c {
	case capGrid:
		// Once the order has climbed past the community (the grid did not
		// act in time), the grid no longer rejects, merges or resolves it
		// behind the level that now owns it.
		if o.Level == model.OrderLevelStreet || o.Level == model.OrderLevelCity {
			return "", false
		}
		return grant(t, model.RoleGridWorker)
	case capDispatcher:
		role, kind, id := levelScope(o)
		return grant(service.Target{Kind: kind, ID: id, Ancestry: o.Ancestry}, role)
	case capCommunity:
		return grant(t, model.RoleCommunityStaff)
	case capUrger:
		return grant(t, model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff)
	case capHandler:
		role, _ := handlerRole(o.HandlerKind)
		if role == "" || o.HandlerID == 0 {
			return "", false
		}
		return grant(handlerTarget(o), role)
	case capFirmManager:
		if o.HandlerKind != model.HandlerFirm {
			return "", false
		}
		return grant(handlerTarget(o), model.RoleFirmManager)
	case capAssignee:
		if o.AssigneeID == 0 || o.AssigneeID != a.UserID || o.HandlerKind != model.HandlerFirm {
			return "", false
		}
		return grant(handlerTarget(o), model.RoleFirmWorker)
	case capAuthor:
		if o.AuthorID == a.UserID {
			if o.ResidentID == a.UserID {
				return SubmitterResident, true
			}
			return "author", true
		}
	case capRater:
		if raterOf(o) == a.UserID {
			return SubmitterResident, true
		}
	}
	return "", false
}

func raterOf(o *model.Order) int64 {
	if o.ResidentID != 0 {
		return o.ResidentID
	}
	return o.AuthorID
}

// orderTarget places an order for tree scope checks.
func orderTarget(o *model.Order) service.Target {
	return service.Target{Kind: "order", ID: o.ID, Ancestry: o.Ancestry}
}

// handlerTarget is the organisation an order is dispatched to.
func handlerTarget(o *model.Order) service.Target {
	_, kind := handlerRole(o.HandlerKind)
	t := service.Target{Kind: kind, ID: o.HandlerID}
	switch o.HandlerKind {
	case model.HandlerVolunteer:
		t.CommunityID = o.HandlerID
	case model.HandlerGrid:
		t.GridID = o.HandlerID
	}
	return t
}

func (c *act) requireReason() (string, error) {
	r := strings.TrimSpace(c.in.Reason)
	if r == "" || utf8.RuneCountInString(r) > 200 {
		return "", errReason
	}
	return r, nil
}

// withReason puts the reason first in the timeline note.
func (c *act) withReason(r string) {
	if c.note == "" {
		c.note = r
	} else {
		c.note = service.CutRunes(r+"；"+c.note, 500)
	}
}

// arm moves the order to state and starts that step's clock.
func (s *Service) arm(c *act, state string) error {
	c.next.State = state
	return s.armStep(c.ctx, &c.next, c.cat, c.now)
}

func (s *Service) verify(c *act) error {
	if c.next.Level == model.OrderLevelGrid {
		c.next.Level = model.OrderLevelCommunity
	}
	c.events = []string{"verified"}
	return s.arm(c, model.StateVerified)
}

func (s *Service) reject(c *act) error {
	r, err := c.requireReason()
	if err != nil {
		return err
	}
	c.withReason(r)
	c.events = []string{"rejected"}
	return s.arm(c, model.StateRejected)
}

func (s *Service) merge(c *act) error {
	if c.in.DuplicateOf <= 0 || c.in.DuplicateOf == c.prev.ID {
		return errMergeTarget
	}
	var target model.Order
	err := model.Translate(s.db.WithContext(c.ctx).Select("id", "number", "state", "compound_id").
		Take(&target, c.in.DuplicateOf).Error)
	if errors.Is(err, model.ErrNotFound) {
		return errMergeTarget
	}
	if err != nil {
		return err
	}
	if target.CompoundID == 0 || target.CompoundID != c.prev.CompoundID || !slices.Contains(mergeable, target.State) {
		return errMergeTarget
	}
	c.next.DuplicateOf = target.ID
	c.withReason("与工单 " + target.Number + " 重复")
	c.events = []string{"merged"}
	return s.arm(c, model.StateMerged)
}

func (s *Service) resolve(c *act) error {
	if c.note == "" {
		return errNoteRequired
	}
	c.photos = c.in.PhotoIDs
	now := c.now
	c.next.CompletedAt = &now
	c.events = []string{"completed"}
	return s.arm(c, model.StateCompleted)
}

func (s *Service) dispatch(c *act) error {
	o := &c.next
	kind, id := c.in.HandlerKind, c.in.HandlerID
	if id < 0 {
		return errHandler
	}
	switch kind {
	case model.HandlerFirm:
		firm, err := contractedFirm(c.ctx, s.db, o.CompoundID, c.now)
		if err != nil {
			return err
		}
		if id == 0 {
			id = firm
		}
		if firm == 0 || id != firm {
			return errHandlerFirm
		}
	case model.HandlerDepartment:
		var d model.Department
		err := model.Translate(s.db.WithContext(c.ctx).Take(&d, id).Error)
		if errors.Is(err, model.ErrNotFound) || (err == nil && !departmentCovers(d.Ancestry, o.Ancestry)) {
			return errHandlerDept
		}
		if err != nil {
			return err
		}
	case model.HandlerVolunteer:
		if id == 0 {
			id = o.CommunityID
		}
		if id != o.CommunityID {
			return errHandlerVol
		}
	case model.HandlerGrid:
		if id == 0 {
			id = o.GridID
		}
		var g model.Grid
		err := model.Translate(s.db.WithContext(c.ctx).Take(&g, id).Error)
		if errors.Is(err, model.ErrNotFound) || (err == nil && g.CommunityID != o.CommunityID) {
			return errHandlerGrid
		}
		if err != nil {
			return err
		}
	default:
		return errHandler
	}
	if d := c.in.Deadline; d != nil {
		if !d.After(c.now) || d.After(c.now.AddDate(1, 0, 0)) {
			return errDeadline
		}
		due := d.UTC()
		o.DueAt = &due
	} else {
		o.DueAt = nil
	}
	o.HandlerKind, o.HandlerID, o.AssigneeID = kind, id, 0
	c.events = []string{"dispatched"}
	return s.arm(c, model.StateDispatched)
}

func (s *Service) accept(c *act) error {
	// A volunteer team has no manager to assign: whoever accepts does it,
	// and only they learn who asked.
	if c.next.HandlerKind == model.HandlerVolunteer {
		c.next.AssigneeID = c.actor.UserID
	}
	c.events = []string{"accepted"}
	return s.arm(c, model.StateAccepted)
}

// giveBack is the 退单: the handler returns the order to the dispatchers
// of its level.
func (s *Service) giveBack(c *act) error {
	r, err := c.requireReason()
	if err != nil {
		return err
	}
	c.withReason(r)
	c.next.HandlerKind, c.next.HandlerID, c.next.AssigneeID, c.next.DueAt = "", 0, 0, nil
	c.events = []string{"returned"}
	return s.arm(c, model.StateVerified)
}

func (s *Service) assign(c *act) error {
	o := &c.next
	if o.HandlerKind != model.HandlerFirm {
		return errNotFirm
	}
	if c.action == ActAssign && c.prev.AssigneeID != 0 {
		return errAssigned.WithDetail(map[string]any{"state": c.prev.State, "version": c.prev.Version})
	}
	if c.action == ActReassign && c.prev.AssigneeID == 0 {
		return errNotAssigned
	}
	if c.in.WorkerID <= 0 {
		return errWorker
	}
	var n int64
	err := s.db.WithContext(c.ctx).Model(&model.Grant{}).
		Where("user_id = ? AND role = ? AND scope_kind = ? AND scope_id = ? AND revoked_at IS NULL",
			c.in.WorkerID, model.RoleFirmWorker, model.ScopeFirm, o.HandlerID).Count(&n).Error
	if err != nil {
		return err
	}
	if n == 0 {
		return errWorker
	}
	if c.prev.AssigneeID == c.in.WorkerID {
		return errSameWorker
	}
	o.AssigneeID = c.in.WorkerID
	c.events = []string{"assigned"}
	return nil
}

func (s *Service) start(c *act) error {
	// The complete budget runs from acceptance: starting does not reset it.
	c.next.State = model.StateInProgress
	return nil
}

func (s *Service) progress(c *act) error {
	if c.note == "" {
		return errNoteRequired
	}
	c.photos = c.in.PhotoIDs
	return nil
}

func (s *Service) pause(c *act) error {
	if c.prev.PausedAt != nil {
		return errPaused
	}
	r, err := c.requireReason()
	if err != nil {
		return err
	}
	c.withReason(r)
	now := c.now
	c.next.PausedAt, c.next.PauseReason = &now, r
	return nil
}

// resume restarts the clock; the time spent paused moves the deadline
// (working time where the category counts it).
func (s *Service) resume(c *act) error {
	o := &c.next
	if o.PausedAt == nil {
		return errNotPaused
	}
	if o.StepDeadline != nil {
		var moved time.Time
		if c.cat.WorkingTime && s.cal != nil {
			cal, ok := calendarIn(c.ctx)
			if !ok || cal == nil {
				return errors.New("working calendar not read before the action (withCalendar)")
			}
			left := cal.WorkingBetween(*o.PausedAt, *o.StepDeadline)
			moved = cal.AddWorking(c.now, left).UTC()
		} else {
			moved = o.StepDeadline.Add(c.now.Sub(*o.PausedAt)).UTC()
		}
		if o.StepStartedAt != nil {
			started := o.StepStartedAt.Add(moved.Sub(*o.StepDeadline)).UTC()
			o.StepStartedAt = &started
		}
		// The step's warning and overdue mark stand: a pause moves the
		// deadline, it does not earn a second notice for the same step.
		o.StepDeadline = &moved
	}
	o.PausedAt, o.PauseReason = nil, ""
	return nil
}

func (s *Service) complete(c *act) error {
	if c.cat.PhotosRequired && len(c.in.PhotoIDs) == 0 {
		return errPhotosNeeded
	}
	c.photos = c.in.PhotoIDs
	now := c.now
	c.next.CompletedAt = &now
	c.events = []string{"completed", "to_confirm"}
	return s.arm(c, model.StateCompleted)
}

func (s *Service) confirm(c *act) error {
	now := c.now
	c.next.ConfirmedAt = &now
	c.events = []string{"confirmed"}
	return s.arm(c, model.StateConfirmed)
}

// rework sends completed work back to the same handler; work resolved on
// the spot, which has no handler, goes back to the dispatchers.
func (s *Service) rework(c *act) error {
	r, err := c.requireReason()
	if err != nil {
		return err
	}
	c.withReason(r)
	c.next.CompletedAt = nil
	if c.next.HandlerKind == "" {
		if c.next.Level == model.OrderLevelGrid {
			c.next.Level = model.OrderLevelCommunity
		}
		c.events = []string{"returned"}
		return s.arm(c, model.StateVerified)
	}
	c.events = []string{"reworked"}
	return s.arm(c, model.StateInProgress)
}

func (s *Service) rate(c *act) error {
	in := c.in
	if in.Overall < 1 || in.Overall > 5 || in.Timeliness < 0 || in.Timeliness > 5 || in.Attitude < 0 || in.Attitude > 5 {
		return errRating
	}
	comment := strings.TrimSpace(in.Comment)
	if utf8.RuneCountInString(comment) > 500 {
		return errComment
	}
	o := &c.next
	o.RatingOverall, o.RatingTimely, o.RatingAttitude, o.RatingComment = in.Overall, in.Timeliness, in.Attitude, comment
	now := c.now
	o.ClosedAt = &now
	c.withReason(fmt.Sprintf("评分 %d 星", in.Overall))
	return s.arm(c, model.StateClosed)
}

// revisit is the community's 回访 after a low rating; it may reopen the
// order for dispatch.
func (s *Service) revisit(c *act) error {
	if c.prev.RatingOverall < 1 || c.prev.RatingOverall > 2 {
		return errNoRevisit
	}
	if c.note == "" {
		return errNoteRequired
	}
	if !c.in.Reopen {
		return nil
	}
	o := &c.next
	o.HandlerKind, o.HandlerID, o.AssigneeID, o.DueAt = "", 0, 0, nil
	o.RatingOverall, o.RatingTimely, o.RatingAttitude, o.RatingComment = 0, 0, 0, ""
	o.CompletedAt, o.ConfirmedAt, o.ClosedAt = nil, nil, nil
	o.Level = model.OrderLevelCommunity
	c.events = []string{"reopened"}
	return s.arm(c, model.StateVerified)
}

func (s *Service) cancel(c *act) error {
	if r := strings.TrimSpace(c.in.Reason); r != "" {
		if utf8.RuneCountInString(r) > 200 {
			return errReason
		}
		c.withReason(r)
	}
	if c.prev.HandlerKind != "" {
		c.events = []string{"cancelled"}
	}
	return s.arm(c, model.StateCancelled)
}

// urgeGap is how long after one 督办 another of the same order is
// refused: a double tap or a retry must not push the firm twice.
const urgeGap = 10 * time.Minute

func (s *Service) urge(c *act) error {
	var last []model.OrderEvent
	if err := s.db.WithContext(c.ctx).Select("id", "created_at").Where("order_id = ? AND action = ?", c.prev.ID, ActUrge).
		Order("id DESC").Limit(1).Find(&last).Error; err != nil {
		return err
	}
	if len(last) > 0 {
		if wait := last[0].CreatedAt.Add(urgeGap).Sub(c.now); wait > 0 {
			return service.RateLimited("urged_recently", "该工单刚刚督办过，10 分钟内请勿重复督办", wait)
		}
	}
	c.events = []string{"urged"}
	return nil
}
