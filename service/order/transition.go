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
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/photo"
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
	// The ladder and the scheduler's moves; not endpoints of Act.
	ActEscalate  = "escalate"
	ActWarn      = "warning"
	ActOverdue   = "overdue"
	ActAutoClose = "auto_close"
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

// step is what one action does to an order.
type step struct {
	from []string
	who  []capacity
	run  func(s *Service, c *act) error
	// entry is where the action is taken when it is not an endpoint of
	// Act: "escalate" (Escalate) or "tick" (the scheduler).
	entry string
	// forbidden and closed replace the generic 403 and 409 of a wrong
	// capacity and a wrong state; refuse is checked between the two.
	forbidden, closed error
	refuse            func(o *model.Order) error
	// same lists what the input names that the order holds once the
	// action is taken: the same person taking the action again with the
	// same targets, while the order's current step is still their act,
	// repeats it and writes nothing (repeat.go). again marks an action
	// every attempt of which is a new act; aside one whose row stands
	// beside a step, so that a repeat looks past it.
	same         []target
	again, aside bool
	// unseen marks an act that takes the order out of its actor's sight
	// (退单): a repeat of it is answered without that sight. Every other
	// repeat still needs it, so that a revoked grant reads nothing.
	unseen bool
}

// act is one action in flight.
type act struct {
	action string
	ctx    context.Context
	// db reads what a step needs to decide: the service's handle before
	// the transaction, or the transaction itself when the step is taken
	// inside one (an escalation on a breach).
	db   *gorm.DB
	by   doer
	role string
	in   Input
	cat  model.Category
	cal  *calendar.Calendar // the working calendar in force, read before the transaction
	// rectCal counts a rectification's working days (a low rating opens
	// one whatever the category counts); read before the transaction.
	rectCal *calendar.Calendar
	// rect is the order's open rectification a 回访 records (nil: none).
	rect   *model.Rectification
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
	ActVerify: {from: []string{model.StateSubmitted}, who: []capacity{capGrid, capDispatcher}, run: (*Service).verify},
	ActReject: {from: []string{model.StateSubmitted, model.StateVerified}, who: []capacity{capGrid, capDispatcher}, run: (*Service).reject},
	ActMerge: {from: []string{model.StateSubmitted, model.StateVerified}, who: []capacity{capGrid, capDispatcher}, run: (*Service).merge,
		same: []target{sameDuplicate}},
	ActResolve: {from: []string{model.StateSubmitted, model.StateVerified}, who: []capacity{capGrid, capDispatcher},
		run: (*Service).resolve},
	ActDispatch: {from: []string{model.StateVerified, model.StateDispatched}, who: []capacity{capDispatcher}, run: (*Service).dispatch,
		same: []target{sameHandler, sameDeadline}},
	ActAccept: {from: []string{model.StateDispatched}, who: []capacity{capHandler}, run: (*Service).accept},
	ActReturn: {from: []string{model.StateDispatched, model.StateAccepted}, who: []capacity{capHandler}, run: (*Service).giveBack,
		unseen: true},
	ActAssign: {from: []string{model.StateAccepted, model.StateInProgress}, who: []capacity{capFirmManager}, run: (*Service).assign,
		same: []target{sameWorker}},
	ActReassign: {from: []string{model.StateAccepted, model.StateInProgress}, who: []capacity{capFirmManager}, run: (*Service).assign,
		same: []target{sameWorker}},
	ActStart: {from: []string{model.StateAccepted}, who: []capacity{capAssignee, capHandler}, run: (*Service).start},
	ActProgress: {from: []string{model.StateAccepted, model.StateInProgress}, who: []capacity{capAssignee, capHandler}, run: (*Service).progress,
		same: []target{sameNote}},
	ActPause:    {from: []string{model.StateAccepted, model.StateInProgress}, who: []capacity{capAssignee, capHandler}, run: (*Service).pause},
	ActResume:   {from: []string{model.StateAccepted, model.StateInProgress}, who: []capacity{capAssignee, capHandler}, run: (*Service).resume},
	ActComplete: {from: []string{model.StateInProgress}, who: []capacity{capAssignee, capHandler}, run: (*Service).complete},
	ActConfirm:  {from: []string{model.StateCompleted}, who: []capacity{capGrid, capDispatcher}, run: (*Service).confirm},
	ActRework:   {from: []string{model.StateCompleted}, who: []capacity{capGrid, capDispatcher}, run: (*Service).rework},
	ActRate: {from: []string{model.StateConfirmed}, who: []capacity{capRater}, run: (*Service).rate,
		same: []target{sameRating}},
	ActRevisit: {from: []string{model.StateClosed}, who: []capacity{capCommunity}, run: (*Service).revisit,
		same: []target{sameReopen}},
	ActCancel: {from: []string{model.StateSubmitted, model.StateVerified, model.StateDispatched}, who: []capacity{capAuthor},
		run: (*Service).cancel},
	ActUrge: {from: []string{model.StateDispatched, model.StateAccepted, model.StateInProgress}, who: []capacity{capUrger},
		run: (*Service).urge, again: true, aside: true},
	// 升级: by the holders of the level, or by the scheduler on a breach.
	ActEscalate: {from: openStates, who: []capacity{capLevelHolder, capSystem}, run: (*Service).escalate,
		entry: "escalate", forbidden: errEscalateHolder, closed: errEscalateClosed, refuse: atTop,
		same: []target{fromLevel}},
	// The scheduler's deadline notices: once per step, on a running clock.
	ActWarn: {from: openStates, who: []capacity{capSystem}, run: (*Service).warn, entry: "tick",
		refuse: stepNotRunning, aside: true},
	ActOverdue: {from: openStates, who: []capacity{capSystem}, run: (*Service).markOverdue, entry: "tick",
		refuse: stepNotRunning, aside: true},
	ActAutoClose: {from: []string{model.StateConfirmed}, who: []capacity{capSystem}, run: (*Service).autoClose,
		entry: "tick"},
}

// Actions lists the endpoints' actions (those Act takes).
func Actions() []string {
	var out []string
	for _, a := range slices.Sorted(maps.Keys(steps)) {
		if steps[a].entry == "" {
			out = append(out, a)
		}
	}
	return out
}

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

// Act takes one action on an order for the actor.
func (s *Service) Act(ctx context.Context, a *service.Actor, id int64, action string, in Input) (View, error) {
	if st, ok := steps[action]; !ok || st.entry != "" {
		return View{}, errActUnknown
	}
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	o, err := s.take(ctx, person(a), id, action, in)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, a, []model.Order{o}, false)
	if err != nil {
		return View{}, err
	}
	return vs[0], nil
}

// take runs one action of the steps table on an order, for a person or
// for the system, and returns the order as it was stored.
func (s *Service) take(ctx context.Context, by doer, id int64, action string, in Input) (model.Order, error) {
	o, err := s.order(ctx, s.db, id)
	if err != nil {
		return o, err
	}
	// A repeat of the person's own last act answers with the order as it
	// is: it comes before the checks of capacity and state, which the
	// first attempt passed and its own move has changed.
	if again, err := s.repeated(ctx, s.db, by, o, action, in); err != nil || again {
		if err != nil {
			return o, err
		}
		// The order was read before its timeline: a copy of this request
		// may have committed in between (a move that keeps the state, as a
		// progress note, looks the same). Read it again so the answer is
		// the order as it is, at least the act found.
		return s.order(ctx, s.db, id)
	}
	cat, err := s.category(ctx, s.db, o)
	if err != nil {
		return o, err
	}
	// Deadlines may be re-armed inside the transaction: the calendar is
	// read before it (SQLite has one connection).
	cal, err := s.workCalendar(ctx, cat)
	if err != nil {
		return o, err
	}
	c, err := s.prepare(ctx, s.db, by, o, action, in, cat, cal, s.clock.Now().UTC())
	if err != nil {
		return o, err
	}
	if action == ActRate && lowRating(c.next.RatingOverall) {
		if c.rectCal, err = s.calendar(ctx); err != nil {
			return o, err
		}
	}
	// A resident's comment passes WeChat's text check before it is stored.
	verdict := message.Verdict{State: model.CheckPass}
	if action == ActRate && c.next.RatingComment != "" {
		if verdict, err = s.msgs.CheckText(ctx, by.userID(), message.SceneComment, c.next.RatingComment); err != nil {
			return o, err
		}
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := s.commit(ctx, tx, c); err != nil {
			return err
		}
		if action == ActRate {
			rec := message.CheckRecord{Subject: fmt.Sprintf("order:%d:rating", o.ID), UserID: by.userID(),
				Scene: message.SceneComment, Text: c.next.RatingComment, Ancestry: o.Ancestry}
			return s.msgs.RecordCheck(ctx, tx, rec, verdict)
		}
		return nil
	})
	if isConflict(err) {
		// Two copies of one request at once: the loser of the
		// compare-and-set finds the winner's act and answers as a repeat.
		if cur, rerr := s.order(ctx, s.db, id); rerr == nil {
			if again, rerr := s.repeated(ctx, s.db, by, cur, action, in); rerr == nil && again {
				return cur, nil
			}
		}
	}
	if err != nil {
		return o, err
	}
	return c.next, nil
}

// category is the category of an order.
func (s *Service) category(ctx context.Context, db *gorm.DB, o model.Order) (model.Category, error) {
	cat, err := s.opts.Names.Category(ctx, db, o.CategoryID)
	if err != nil {
		return cat, fmt.Errorf("category of order %d: %w", o.ID, err)
	}
	return cat, nil
}

// prepare checks that by may take action on o as it is now and works out
// the change, reading through db; it writes nothing.
func (s *Service) prepare(ctx context.Context, db *gorm.DB, by doer, o model.Order, action string, in Input,
	cat model.Category, cal *calendar.Calendar, now time.Time) (*act, error) {
	st, ok := steps[action]
	if !ok {
		return nil, errActUnknown
	}
	if !by.system && !canSee(by.actor, &o) {
		return nil, errOrderHidden
	}
	role := ""
	for _, c := range st.who {
		if r, ok := capacityOf(by, &o, c); ok {
			role = r
			break
		}
	}
	if role == "" {
		if st.forbidden != nil {
			return nil, st.forbidden
		}
		return nil, errActForbidden
	}
	if st.refuse != nil {
		if err := st.refuse(&o); err != nil {
			return nil, err
		}
	}
	if !slices.Contains(st.from, o.State) {
		if st.closed != nil {
			return nil, st.closed
		}
		return nil, conflict(o)
	}
	if utf8.RuneCountInString(in.Note) > 500 {
		return nil, errNote
	}
	if err := photo.CheckIDs(in.PhotoIDs, 0); err != nil {
		return nil, err
	}
	c := &act{action: action, ctx: ctx, db: db, by: by, role: role, in: in, cat: cat, cal: cal, prev: o, next: o,
		now: now, note: strings.TrimSpace(in.Note)}
	if err := st.run(s, c); err != nil {
		return nil, err
	}
	return c, nil
}

// commit writes a prepared action inside tx: the order's move, and what
// the action itself ties to it.
func (s *Service) commit(ctx context.Context, tx *gorm.DB, c *act) error {
	// The call first, then the order: the order of the emergency
	// endpoints, so that the two never wait on each other.
	if c.next.Channel == model.ChannelCall && endsCall[c.action] {
		if err := endCall(tx, c.next.ID, c.by.userID(), c.now); err != nil {
			return err
		}
	}
	m := &move{prev: c.prev, next: c.next, now: c.now, action: c.action, actorID: c.by.userID(), role: c.role,
		note: c.note, photos: c.photos, events: c.events, cat: &c.cat}
	if err := s.move(ctx, tx, m); err != nil {
		return err
	}
	c.next = m.next
	if c.action == ActRate && lowRating(c.next.RatingOverall) {
		if err := s.openRectification(ctx, tx, &c.next, c.rectCal, c.now); err != nil {
			return err
		}
	}
	if c.action == ActRevisit && c.rect != nil {
		if err := s.revisitRectification(ctx, tx, c); err != nil {
			return err
		}
	}
	if c.action == ActRate || c.action == ActAutoClose {
		// The reminder to rate is withdrawn once the order is rated or closes.
		if err := s.msgs.CancelScheduled(ctx, tx, ratingKey(c.prev.ID)); err != nil {
			return err
		}
	}
	return s.attach(ctx, tx, c.by.userID(), c.photos, c.prev.ID)
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
	armStep(&c.next, c.cat, c.now, c.cal)
	return nil
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
	target, err := model.ByID[model.Order](c.ctx, c.db, c.in.DuplicateOf)
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
		firm, err := contractedFirm(c.ctx, c.db, o.CompoundID, c.now)
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
		d, err := model.ByID[model.Department](c.ctx, c.db, id)
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
		g, err := model.ByID[model.Grid](c.ctx, c.db, id)
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
		c.next.AssigneeID = c.by.userID()
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
	ok, err := model.Holds(c.ctx, c.db, c.in.WorkerID, model.Seat{Role: model.RoleFirmWorker, ScopeKind: model.ScopeFirm, ScopeID: o.HandlerID})
	if err != nil {
		return err
	}
	if !ok {
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
		if cal := c.cal; c.cat.WorkingTime && cal != nil {
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

// lowRating is a rating that opens a rectification (非常不满意 / 不满意).
func lowRating(overall int) bool { return overall >= 1 && overall <= 2 }

// revisit is the community's 回访 after a low rating: the revisit step of
// the order's rectification, which it records and reports to the
// resident. Reopening (the revisit found it not fixed) sends the order
// back to its handler as rework.
func (s *Service) revisit(c *act) error {
	if !lowRating(c.prev.RatingOverall) {
		return errNoRevisit
	}
	if c.note == "" {
		return errNoteRequired
	}
	r, found, err := model.LastRectification(c.ctx, c.db, c.prev.ID)
	if err != nil {
		return err
	}
	if found && slices.Contains([]string{model.RectOpen, model.RectReported, model.RectRevisited}, r.State) {
		if utf8.RuneCountInString(c.note) < 5 {
			return errRevisitNote
		}
		c.rect = &r
	}
	if !c.in.Reopen {
		if c.rect != nil {
			c.events = []string{"rectify_revisited"}
		}
		return nil
	}
	c.events = reopen(&c.next)
	armStep(&c.next, c.cat, c.now, c.cal)
	return nil
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
	last, found, err := model.LastOrderEvent(c.ctx, c.db, c.prev.ID, ActUrge)
	if err != nil {
		return err
	}
	if found {
		if wait := last.CreatedAt.Add(urgeGap).Sub(c.now); wait > 0 {
			return service.RateLimited("urged_recently", "该工单刚刚督办过，10 分钟内请勿重复督办", wait)
		}
	}
	c.events = []string{"urged"}
	return nil
}
