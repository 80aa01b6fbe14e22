package order

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/photo"
)

// The rectification (差评整改) of a rating of 1–2:
//
//	open ─report (handler)─▶ reported ─revisit (community)─▶ revisited ─confirm (resident)─▶ confirmed
//	  └────────────revisit (community)─────┘                    │  └──not fixed (resident)──▶ reopened
//	                      revisit with reopen (community) ──────┴──────────────────────────▶ reopened
//
// The revisit is the order's own 回访 step (ActRevisit): the one revisit
// of a dissatisfied rating. Reopening moves the order from closed back to
// its handler as rework through the one move path; a new low rating
// after that opens the next round.

// Timeline actions of the rectification steps that are not order moves.
const (
	ActRectifyReport  = "rectify_report"
	ActRectifyConfirm = "rectify_confirm"
	ActRectifyReopen  = "rectify_reopen"
)

// DefaultRectifyDays is the working days a handler has to rectify a bad
// rating when the configuration says nothing.
const DefaultRectifyDays = 5

// RectView is a rectification with the names a reader needs.
type RectView struct {
	model.Rectification
	OwnerName    string
	CompoundName string
	Late         bool
	PhotoIDs     []int64
}

// RectFilter narrows a list of rectifications. Queue keeps those waiting
// for the community: late (unhandled past the deadline or reported late)
// or reported and waiting for the revisit.
type RectFilter struct {
	OrderID     int64
	States      []string
	FirmID      int64
	CommunityID int64
	CompoundID  int64
	Late        bool
	Queue       bool
}

var (
	errRectMissing  = service.NotFound("rectification_not_found", "整改记录不存在")
	errRectHidden   = service.Forbidden("out_of_scope", "该整改记录不在您的管辖范围内")
	errRectReporter = service.Forbidden("rectify_forbidden", "只有该工单的处理单位可以报告整改情况")
	errRectResident = service.Forbidden("rectify_forbidden", "只有评价该工单的居民可以确认整改结果")
	errRectReport   = service.Invalid("bad_report", "请填写整改情况（1 到 1000 个字）")
	errRectNote     = service.Invalid("bad_note", "说明不能超过 500 个字")
	errRectNotFixed = service.Invalid("note_required", "请说明哪里仍未解决（1 到 500 个字）")
	errRevisitNote  = service.Invalid("note_required", "回访须由工作人员填写回访情况（5 到 500 个字）")
	errRectState    = service.Conflict("rectification_state", "整改状态已变化，请刷新后重试")
	errRectStates   = service.Invalid("bad_state", "整改状态只能是 open、reported、revisited、confirmed 或 reopened")
)

func rectConflict(r model.Rectification) error {
	return errRectState.WithDetail(map[string]any{"state": r.State, "version": r.Version})
}

// rectDue is when a rectification opened at now falls due: days working
// days later by the calendar (holidays off, 调休 weekends worked).
func rectDue(cal *calendar.Calendar, now time.Time, days int) time.Time {
	return cal.AddWorking(now, time.Duration(days)*24*time.Hour).UTC()
}

// openRectification opens the next round of rectification of an order
// just rated 1–2, inside the rating's transaction, and tells the handler.
func (s *Service) openRectification(ctx context.Context, tx *gorm.DB, o *model.Order, cal *calendar.Calendar, now time.Time) error {
	last, found, err := model.LastRectification(ctx, tx, o.ID)
	if err != nil {
		return err
	}
	r := model.Rectification{OrderID: o.ID, Round: 1, OrderNumber: o.Number, Rating: o.RatingOverall,
		OwnerKind: o.HandlerKind, OwnerID: o.HandlerID, Ancestry: o.Ancestry, ResidentID: raterOf(o),
		State: model.RectOpen, OpenedAt: now, DueAt: rectDue(cal, now, s.opts.RectifyDays), Version: 1}
	if found {
		r.Round = last.Round + 1
	}
	if r.OwnerKind == "" || r.OwnerID == 0 {
		// Work resolved on the spot has no handler: the community owes it.
		r.OwnerKind, r.OwnerID = model.OwnerCommunity, o.CommunityID
	}
	if r.OwnerKind == model.HandlerFirm {
		r.FirmID = r.OwnerID
	}
	r.CreatedAt, r.UpdatedAt = now, now
	if err := model.Create(ctx, tx, &r); err != nil {
		return err
	}
	return s.notify(ctx, tx, o, "rectify_open")
}

// revisitRectification is the rectification side of a 回访, inside the
// revisit's transaction: the revisit's note is recorded and the resident
// is asked (by the order's "rectify_revisited" event); with reopen the
// rectification ends as reopened.
func (s *Service) revisitRectification(ctx context.Context, tx *gorm.DB, c *act) error {
	r, found, err := model.LastRectification(ctx, tx, c.prev.ID)
	if err != nil || !found {
		return err
	}
	if !slices.Contains([]string{model.RectOpen, model.RectReported, model.RectRevisited}, r.State) {
		return rectConflict(r)
	}
	now := c.now
	cols := map[string]any{"state": model.RectRevisited, "revisited_by": c.by.userID(), "revisited_at": now,
		"revisit_note": c.note, "updated_at": now}
	if c.in.Reopen {
		cols["state"], cols["closed_at"] = model.RectReopened, now
	}
	n, err := model.UpdateRectification(ctx, tx, r.ID, r.Version, cols)
	if err != nil {
		return err
	}
	if n == 0 {
		return errRectState
	}
	return nil
}

// reopen is the change that sends a closed order back to its handler as
// rework (work without a handler goes back to the community's dispatch).
func reopen(o *model.Order) []string {
	o.RatingOverall, o.RatingTimely, o.RatingAttitude, o.RatingComment = 0, 0, 0, ""
	o.CompletedAt, o.ConfirmedAt, o.ClosedAt = nil, nil, nil
	if o.Level == model.OrderLevelGrid {
		o.Level = model.OrderLevelCommunity
	}
	if o.HandlerKind == "" {
		o.State = model.StateVerified
		return []string{"reopened"}
	}
	o.State = model.StateInProgress
	return []string{"reopened", "rectify_rework"}
}

// rectification loads one rectification and its order for the actor.
func (s *Service) rectification(ctx context.Context, id int64) (model.Rectification, error) {
	r, err := model.ByID[model.Rectification](ctx, s.db, id)
	return r, service.OrNotFound(err, errRectMissing)
}

// rectSees reports whether the actor may read a rectification: staff over
// its place, the owner organisation, the resident who rated.
func rectSees(a *service.Actor, r *model.Rectification) bool {
	if a == nil {
		return false
	}
	if r.ResidentID != 0 && r.ResidentID == a.UserID {
		return true
	}
	if a.Can(service.TargetOf("rectification", r.ID, r.Ancestry), rectOfficials...) {
		return true
	}
	_, ok := rectOwnerRole(a, r)
	return ok
}

// rectOfficials read every rectification of their tree scope.
var rectOfficials = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff,
	model.RoleCityStaff, model.RolePlatformAdmin}

// rectOwnerRole is the role in which the actor speaks for the owner.
func rectOwnerRole(a *service.Actor, r *model.Rectification) (string, bool) {
	switch r.OwnerKind {
	case model.OwnerCommunity:
		anc := model.Ancestry{CityID: r.CityID, DistrictID: r.DistrictID, StreetID: r.StreetID, CommunityID: r.CommunityID}
		g, ok := a.GrantFor(service.TargetOf(model.ScopeCommunity, r.OwnerID, anc), model.RoleCommunityStaff)
		return g.Role, ok
	default:
		role, _ := handlerRole(r.OwnerKind)
		o := model.Order{HandlerKind: r.OwnerKind, HandlerID: r.OwnerID}
		g, ok := a.GrantFor(handlerTarget(&o), role)
		return g.Role, ok
	}
}

// Rectification reads one rectification.
func (s *Service) Rectification(ctx context.Context, a *service.Actor, id int64) (RectView, error) {
	if a == nil {
		return RectView{}, service.ErrUnauthenticated
	}
	r, err := s.rectification(ctx, id)
	if err != nil {
		return RectView{}, err
	}
	if !rectSees(a, &r) {
		return RectView{}, errRectHidden
	}
	vs, err := s.rectViews(ctx, []model.Rectification{r})
	if err != nil {
		return RectView{}, err
	}
	return vs[0], nil
}

// Rectifications lists a page of the rectifications the actor may see,
// newest first. The community's queue is Queue: true.
func (s *Service) Rectifications(ctx context.Context, a *service.Actor, f RectFilter, p service.Page) (service.Paged[RectView], error) {
	if a == nil {
		return service.Paged[RectView]{}, service.ErrUnauthenticated
	}
	for _, st := range f.States {
		if !slices.Contains([]string{model.RectOpen, model.RectReported, model.RectRevisited, model.RectConfirmed,
			model.RectReopened}, st) {
			return service.Paged[RectView]{}, errRectStates
		}
	}
	reach := model.RectReach{Resident: a.UserID}
	for _, g := range a.Grants {
		if slices.Contains(rectOfficials, g.Role) {
			if g.ScopeKind == model.ScopePlatform {
				reach = model.RectReach{All: true}
				break
			}
			reach.Places = append(reach.Places, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
			if g.Role == model.RoleCommunityStaff && g.ScopeKind == model.ScopeCommunity {
				reach.Owners = append(reach.Owners, model.ActionOwner{Kind: model.OwnerCommunity, ID: g.ScopeID})
			}
		}
		for _, kind := range []string{model.HandlerFirm, model.HandlerDepartment, model.HandlerVolunteer, model.HandlerGrid} {
			role, scope := handlerRole(kind)
			if g.Role == role && g.ScopeKind == scope {
				reach.Owners = append(reach.Owners, model.ActionOwner{Kind: kind, ID: g.ScopeID})
			}
		}
	}
	q := model.RectQuery{Reach: reach, OrderID: f.OrderID, States: f.States, FirmID: f.FirmID,
		CommunityID: f.CommunityID, CompoundID: f.CompoundID, Late: f.Late, Queue: f.Queue, Now: s.clock.Now()}
	page, err := model.RectificationsPage(ctx, s.db, q, p)
	if err != nil {
		return service.Paged[RectView]{}, err
	}
	vs, err := s.rectViews(ctx, page.Items)
	return service.Paged[RectView]{Items: vs, More: page.More}, err
}

func (s *Service) rectViews(ctx context.Context, rs []model.Rectification) ([]RectView, error) {
	var firms, depts, comms, comps []int64
	for _, r := range rs {
		switch r.OwnerKind {
		case model.HandlerFirm:
			firms = append(firms, r.OwnerID)
		case model.HandlerDepartment:
			depts = append(depts, r.OwnerID)
		default:
			comms = append(comms, r.OwnerID)
		}
		comps = append(comps, r.CompoundID)
	}
	names, err := model.NamesOfAll(ctx, s.db,
		model.NameSet{Table: &model.Firm{}, Col: "name", IDs: firms},
		model.NameSet{Table: &model.Department{}, Col: "name", IDs: depts},
		model.NameSet{Table: &model.Region{}, Col: "name", IDs: comms},
		model.NameSet{Table: &model.Compound{}, Col: "name", IDs: comps})
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := make([]RectView, len(rs))
	for i, r := range rs {
		v := RectView{Rectification: r, CompoundName: names[3][r.CompoundID], PhotoIDs: splitIDs(r.ReportPhotos)}
		switch r.OwnerKind {
		case model.HandlerFirm:
			v.OwnerName = names[0][r.OwnerID]
		case model.HandlerDepartment:
			v.OwnerName = names[1][r.OwnerID]
		default:
			v.OwnerName = names[2][r.OwnerID]
		}
		v.Late = (r.ReportedAt == nil && !r.DueAt.After(now)) || (r.ReportedAt != nil && r.ReportedAt.After(r.DueAt))
		out[i] = v
	}
	return out, nil
}

// ReportRectification records the handler's account of what it put right
// (with photos), once, while the rectification is open.
func (s *Service) ReportRectification(ctx context.Context, a *service.Actor, id int64, report string, photos []int64) (RectView, error) {
	if a == nil {
		return RectView{}, service.ErrUnauthenticated
	}
	report = strings.TrimSpace(report)
	if n := utf8.RuneCountInString(report); n == 0 || n > 1000 {
		return RectView{}, errRectReport
	}
	if err := photo.CheckIDs(photos, 0); err != nil {
		return RectView{}, err
	}
	r, err := s.rectification(ctx, id)
	if err != nil {
		return RectView{}, err
	}
	if !rectSees(a, &r) {
		return RectView{}, errRectHidden
	}
	role, ok := rectOwnerRole(a, &r)
	if !ok {
		return RectView{}, errRectReporter
	}
	if r.State != model.RectOpen {
		if r.ReportedBy == a.UserID && r.Report == service.CutRunes(report, 1000) {
			return s.Rectification(ctx, a, id) // a retry of the same report
		}
		return RectView{}, rectConflict(r)
	}
	if len(photos) > 0 {
		own, err := model.OwnPhotoIDs(ctx, s.db, a.UserID, photos)
		if err != nil {
			return RectView{}, err
		}
		if len(own) != len(photos) {
			return RectView{}, service.Unprocessable("photo_unavailable", "照片不存在或不是您上传的")
		}
	}
	o, err := s.order(ctx, s.db, r.OrderID)
	if err != nil {
		return RectView{}, err
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		n, err := model.UpdateRectification(ctx, tx, r.ID, r.Version, map[string]any{"state": model.RectReported,
			"reported_by": a.UserID, "reported_at": now, "report": report, "report_photos": joinIDs(photos), "updated_at": now})
		if err != nil {
			return err
		}
		if n == 0 {
			return errRectState
		}
		m := &move{prev: o, next: o, now: now, action: ActRectifyReport, actorID: a.UserID, role: role,
			note: service.CutRunes(report, 500), photos: photos, keepIfSame: true, events: []string{"rectify_reported"}}
		return s.move(ctx, tx, m)
	})
	if err != nil {
		return RectView{}, err
	}
	return s.Rectification(ctx, a, id)
}

// AnswerRectification is the resident's word on the revisited result:
// fixed confirms and closes the rectification; not fixed closes it as
// reopened and sends the order back to its handler as rework, through the
// one move path, in the same transaction.
func (s *Service) AnswerRectification(ctx context.Context, a *service.Actor, id int64, fixed bool, note string) (RectView, error) {
	if a == nil {
		return RectView{}, service.ErrUnauthenticated
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 500 {
		return RectView{}, errRectNote
	}
	if !fixed && note == "" {
		return RectView{}, errRectNotFixed
	}
	r, err := s.rectification(ctx, id)
	if err != nil {
		return RectView{}, err
	}
	if !rectSees(a, &r) {
		return RectView{}, errRectHidden
	}
	if r.ResidentID != a.UserID {
		return RectView{}, errRectResident
	}
	want := model.RectConfirmed
	if !fixed {
		want = model.RectReopened
	}
	if r.State != model.RectRevisited {
		if r.State == want && r.AnsweredAt != nil {
			return s.Rectification(ctx, a, id) // a retry of the same answer
		}
		return RectView{}, rectConflict(r)
	}
	o, err := s.order(ctx, s.db, r.OrderID)
	if err != nil {
		return RectView{}, err
	}
	var cat model.Category
	var cal *calendar.Calendar
	if !fixed {
		if cat, err = s.category(ctx, s.db, o); err != nil {
			return RectView{}, err
		}
		if cal, err = s.workCalendar(ctx, cat); err != nil {
			return RectView{}, err
		}
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		n, err := model.UpdateRectification(ctx, tx, r.ID, r.Version, map[string]any{"state": want,
			"resident_note": note, "answered_at": now, "closed_at": now, "updated_at": now})
		if err != nil {
			return err
		}
		if n == 0 {
			return errRectState
		}
		m := &move{prev: o, next: o, now: now, action: ActRectifyConfirm, actorID: a.UserID, role: SubmitterResident,
			note: note, keepIfSame: true}
		if !fixed {
			if o.State != model.StateClosed {
				return conflict(o)
			}
			m.action = ActRectifyReopen
			m.note = service.CutRunes("居民反映仍未解决："+note, 500)
			m.events = reopen(&m.next)
			armStep(&m.next, cat, now, cal)
		}
		return s.move(ctx, tx, m)
	})
	if errors.Is(err, errRectState) {
		if cur, rerr := s.rectification(ctx, id); rerr == nil {
			return RectView{}, rectConflict(cur)
		}
	}
	if err != nil {
		return RectView{}, err
	}
	return s.Rectification(ctx, a, id)
}
