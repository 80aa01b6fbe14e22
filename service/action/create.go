package action

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

// CreateInput is what a new item takes. CompoundID or CommunityID names
// the place it concerns; items of a meeting or an order may leave both out
// and take the place of their source.
type CreateInput struct {
	Title       string
	Detail      string
	OwnerKind   string
	OwnerID     int64
	DueDate     string // YYYY-MM-DD, a Beijing date
	SourceKind  string
	SourceID    int64
	CompoundID  int64
	CommunityID int64
	IdemKey     string // the Idempotency-Key header
}

var (
	errTitle       = service.Invalid("bad_title", "标题须为 1 到 100 个字")
	errDetail      = service.Invalid("bad_detail", "详细说明不能超过 2000 个字")
	errOwnerKind   = service.Invalid("bad_owner_kind", "责任单位类型只能是 firm、committee、department 或 community")
	errOwnerID     = service.Invalid("bad_owner", "请指定责任单位")
	errSourceKind  = service.Invalid("bad_source_kind", "来源只能是 meeting、inspection 或 order")
	errSourceID    = service.Invalid("bad_source", "来自会议或工单的事项须指明会议或工单编号")
	errDueFormat   = service.Invalid("bad_due_date", "截止日期须为 YYYY-MM-DD 格式的日期")
	errDuePast     = service.Invalid("due_date_past", "截止日期不能早于今天")
	errDueFar      = service.Invalid("due_date_far", "截止日期须在两年以内")
	errScopeBoth   = service.Invalid("bad_scope", "小区和社区只能指定一个")
	errScopeNeeded = service.Invalid("scope_required", "请指定事项所属的小区或社区")
	errScopeGone   = service.Unprocessable("scope_not_found", "所指定的小区或社区不存在")
	errScopeOut    = service.Unprocessable("scope_outside_source", "所指定的小区或社区不在来源会议或工单的范围内")
	errOwnerGone   = service.Unprocessable("owner_not_found", "责任单位不存在")
	errOwnerFirm   = service.Unprocessable("firm_not_serving", "该物业企业没有服务此小区或社区的有效合同")
	errOwnerComm   = service.Unprocessable("committee_outside_scope", "该业委会不属于此小区或社区")
	errOwnerDept   = service.Unprocessable("department_outside_scope", "该职能部门不负责此区域")
	errOwnerComty  = service.Unprocessable("community_outside_scope", "责任社区须为事项所在的社区")
	errOrderGone   = service.NotFound("order_not_found", "工单不存在")
	errOrderState  = service.Unprocessable("order_not_open", "已撤销或已合并的工单不能生成整改事项")
	errCreateRole  = service.Forbidden("create_forbidden", "只有该范围的社区或街道工作人员可以登记整改事项")
	errOrderRole   = service.Forbidden("create_forbidden", "只有该工单所在社区的社区工作人员可以据此生成整改事项")
	errMeetingGone = service.NotFound("meeting_not_found", "会议不存在")
	errMeetingRole = service.Forbidden("create_forbidden", "只有会议的组织者或该范围的社区工作人员可以登记会议决议事项")
	errMeetingOpen = service.Unprocessable("meeting_not_held", "会议尚未召开或已取消，不能登记决议事项")
)

// inspectorRoles may raise items from an inspection.
var inspectorRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff}

// place is the compound or community an item concerns.
type place struct {
	kind string // model.ScopeCompound or model.ScopeCommunity
	id   int64
	anc  model.Ancestry
}

func (p place) target() service.Target { return service.TargetOf(p.kind, p.id, p.anc) }

// Create raises a new item for the actor. created is false when the actor
// already raised one with the same Idempotency-Key: that one is returned.
func (s *Service) Create(ctx context.Context, a *service.Actor, in CreateInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	if in.IdemKey != "" {
		if _, err := checkCreate(&in, s.clock.Now().UTC()); err != nil {
			return View{}, false, err
		}
		if it, ok, err := model.ByIdemKey[model.ActionItem](ctx, s.db, "creator_id", a.UserID, in.IdemKey); err != nil || ok {
			return s.viewAfterWrite(ctx, a, it, false, err)
		}
	}
	p, err := s.prepare(ctx, a, in)
	if err != nil {
		return View{}, false, err
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error { return p.insert(ctx, tx) })
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		// A concurrent double tap with the same key: the other one won.
		prev, ok, ferr := model.ByIdemKey[model.ActionItem](ctx, s.db, "creator_id", a.UserID, in.IdemKey)
		if ferr == nil && ok {
			return s.viewAfterWrite(ctx, a, prev, false, nil)
		}
	}
	if err != nil {
		return View{}, false, fmt.Errorf("create action item: %w", err)
	}
	return s.viewAfterWrite(ctx, a, p.it, true, nil)
}

// Prepared is a new item checked outside any transaction; Commit writes
// it inside the caller's.
type Prepared struct {
	s    *Service
	it   model.ActionItem
	role string
}

// PrepareRaise checks an item another capability raises in its own
// transaction (a failed inspection item): the same checks as Create,
// read before the caller's transaction (SQLite has one connection).
func (s *Service) PrepareRaise(ctx context.Context, a *service.Actor, in CreateInput) (*Prepared, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	in.IdemKey = ""
	return s.prepare(ctx, a, in)
}

// Commit inserts the prepared item inside tx, its source id set to
// sourceID when that is not zero (the source row may be written in the
// same transaction), and returns it as stored.
func (p *Prepared) Commit(ctx context.Context, tx *gorm.DB, sourceID int64) (model.ActionItem, error) {
	if sourceID != 0 {
		p.it.SourceID = sourceID
	}
	err := p.insert(ctx, tx)
	return p.it, err
}

func (s *Service) prepare(ctx context.Context, a *service.Actor, in CreateInput) (*Prepared, error) {
	now := s.clock.Now().UTC()
	due, err := checkCreate(&in, now)
	if err != nil {
		return nil, err
	}
	it := model.ActionItem{
		Title: in.Title, Detail: in.Detail, OwnerKind: in.OwnerKind, OwnerID: in.OwnerID, DueAt: due,
		SourceKind: in.SourceKind, SourceID: in.SourceID, CreatorID: a.UserID, OrganiserID: a.UserID,
		State: model.ActionOpen, Version: 1,
	}
	it.CreatedAt, it.UpdatedAt = now, now
	if in.IdemKey != "" {
		k := in.IdemKey
		it.IdemKey = &k
	}
	var where place
	switch in.SourceKind {
	case model.SourceMeeting:
		where, it.OrganiserID, err = s.fromMeeting(ctx, a, in)
	case model.SourceOrder:
		where, err = s.fromOrder(ctx, a, in)
	default:
		where, err = s.fromInspection(ctx, a, in)
	}
	if err != nil {
		return nil, err
	}
	it.ScopeKind, it.ScopeID, it.Ancestry = where.kind, where.id, where.anc
	if err := s.checkOwner(ctx, &it, now); err != nil {
		return nil, err
	}
	return &Prepared{s: s, it: it, role: s.creatorRole(a, &it)}, nil
}

// insert writes the item, its first history row and its notice.
func (p *Prepared) insert(ctx context.Context, tx *gorm.DB) error {
	s, it := p.s, &p.it
	if err := model.Create(ctx, tx, it); err != nil {
		return err
	}
	ev := model.ActionItemEvent{Action: ActCreate, ActorID: it.CreatorID, Role: p.role, ToState: it.State,
		Note: it.Title, CreatedAt: it.CreatedAt}
	if err := appendEvent(ctx, tx, it, ev); err != nil {
		return err
	}
	return s.notify(ctx, tx, it, ActCreate)
}

// checkCreate validates and normalises what needs no database, and
// returns the instant the item falls due: the end of its Beijing due date.
func checkCreate(in *CreateInput, now time.Time) (time.Time, error) {
	in.Title, in.Detail = strings.TrimSpace(in.Title), strings.TrimSpace(in.Detail)
	switch n := utf8.RuneCountInString(in.Title); {
	case n == 0 || n > 100:
		return time.Time{}, errTitle
	}
	if utf8.RuneCountInString(in.Detail) > 2000 {
		return time.Time{}, errDetail
	}
	if !slices.Contains(OwnerKinds, in.OwnerKind) {
		return time.Time{}, errOwnerKind
	}
	if in.OwnerID <= 0 {
		return time.Time{}, errOwnerID
	}
	if !slices.Contains(SourceKinds, in.SourceKind) {
		return time.Time{}, errSourceKind
	}
	if in.SourceID < 0 || (in.SourceKind != model.SourceInspection && in.SourceID == 0) {
		return time.Time{}, errSourceID
	}
	if in.CompoundID < 0 || in.CommunityID < 0 || (in.CompoundID > 0 && in.CommunityID > 0) {
		return time.Time{}, errScopeBoth
	}
	day, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(in.DueDate), calendar.Beijing)
	if err != nil {
		return time.Time{}, errDueFormat
	}
	today := beijingDay(now)
	if day.Before(today) {
		return time.Time{}, errDuePast
	}
	if day.After(today.AddDate(2, 0, 0)) {
		return time.Time{}, errDueFar
	}
	if err := service.CheckIdemKey(in.IdemKey); err != nil {
		return time.Time{}, err
	}
	return day.AddDate(0, 0, 1).UTC(), nil
}

// beijingDay is the start of t's Beijing date.
func beijingDay(t time.Time) time.Time {
	y, m, d := t.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, calendar.Beijing)
}

// placeOf loads the compound or community the input names (ok false when
// it names neither).
func (s *Service) placeOf(ctx context.Context, in CreateInput) (place, bool, error) {
	switch {
	case in.CompoundID > 0:
		c, err := model.ByID[model.Compound](ctx, s.db, in.CompoundID)
		if err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return place{}, false, errScopeGone
			}
			return place{}, false, err
		}
		return place{kind: model.ScopeCompound, id: c.ID, anc: compoundAncestry(c.Ancestry)}, true, nil
	case in.CommunityID > 0:
		r, err := model.TakeRegion(ctx, s.db, in.CommunityID, model.LevelCommunity)
		if err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return place{}, false, errScopeGone
			}
			return place{}, false, err
		}
		return place{kind: model.ScopeCommunity, id: r.ID, anc: communityAncestry(r.Ancestry)}, true, nil
	}
	return place{}, false, nil
}

// fromInspection: community or street staff raise an item for a place in
// their scope; they organise it.
func (s *Service) fromInspection(ctx context.Context, a *service.Actor, in CreateInput) (place, error) {
	p, ok, err := s.placeOf(ctx, in)
	if err != nil {
		return p, err
	}
	if !ok {
		return p, errScopeNeeded
	}
	if !a.Can(p.target(), inspectorRoles...) {
		return p, errCreateRole
	}
	return p, nil
}

// fromOrder: community staff over an order raise an item for what the
// community cannot close alone. The item concerns the order's compound;
// the order itself is not touched (it keeps its own timeline).
func (s *Service) fromOrder(ctx context.Context, a *service.Actor, in CreateInput) (place, error) {
	o, err := model.ByID[model.Order](ctx, s.db, in.SourceID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return place{}, errOrderGone
		}
		return place{}, err
	}
	if !a.Can(service.TargetOf("order", o.ID, o.Ancestry), model.RoleCommunityStaff) {
		return place{}, errOrderRole
	}
	if o.State == model.StateCancelled || o.State == model.StateMerged {
		return place{}, errOrderState
	}
	p := place{kind: model.ScopeCompound, id: o.CompoundID, anc: compoundAncestry(o.Ancestry)}
	asked, ok, err := s.placeOf(ctx, in)
	if err != nil {
		return p, err
	}
	if ok && !(asked.kind == p.kind && asked.id == p.id) &&
		!(asked.kind == model.ScopeCommunity && asked.id == o.CommunityID) {
		return p, errScopeOut
	}
	if ok {
		p = asked
	}
	return p, nil
}

// checkOwner makes sure the owner organisation exists and answers for the
// item's place: a firm under a contract there that has not ended, the
// committee of a compound there, a department whose area contains it, or
// the item's own community.
func (s *Service) checkOwner(ctx context.Context, it *model.ActionItem, now time.Time) error {
	gone := func(err error) error {
		if errors.Is(err, model.ErrNotFound) {
			return errOwnerGone
		}
		return err
	}
	switch it.OwnerKind {
	case model.OwnerFirm:
		f, err := model.ByID[model.Firm](ctx, s.db, it.OwnerID)
		if err != nil {
			return gone(err)
		}
		y, m, d := now.In(calendar.Beijing).Date()
		today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		where := model.Place{Kind: model.ScopeCommunity, ID: it.CommunityID}
		if it.ScopeKind == model.ScopeCompound {
			where = model.Place{Kind: model.ScopeCompound, ID: it.CompoundID}
		}
		served, err := model.FirmsServing(ctx, s.db, []int64{f.ID}, where, &today)
		if err != nil {
			return err
		}
		if len(served) == 0 {
			return errOwnerFirm
		}
	case model.OwnerCommittee:
		c, err := model.ByID[model.Committee](ctx, s.db, it.OwnerID)
		if err != nil {
			return gone(err)
		}
		if (it.ScopeKind == model.ScopeCompound && c.CompoundID != it.CompoundID) ||
			(it.ScopeKind == model.ScopeCommunity && c.CommunityID != it.CommunityID) {
			return errOwnerComm
		}
	case model.OwnerDepartment:
		d, err := model.ByID[model.Department](ctx, s.db, it.OwnerID)
		if err != nil {
			return gone(err)
		}
		if !contains(d.Ancestry, it.Ancestry) {
			return errOwnerDept
		}
	case model.OwnerCommunity:
		if it.OwnerID != it.CommunityID {
			return errOwnerComty
		}
	}
	return nil
}

// contains reports whether the region an ancestry outer describes holds
// inner: every level outer names, inner shares.
func contains(outer, inner model.Ancestry) bool {
	pairs := [][2]int64{{outer.CityID, inner.CityID}, {outer.DistrictID, inner.DistrictID},
		{outer.StreetID, inner.StreetID}, {outer.CommunityID, inner.CommunityID}, {outer.CompoundID, inner.CompoundID}}
	for _, p := range pairs {
		if p[0] != 0 && p[0] != p[1] {
			return false
		}
	}
	return true
}

// creatorRole is the role the creator acted in, for the history.
func (s *Service) creatorRole(a *service.Actor, it *model.ActionItem) string {
	if g, ok := a.GrantFor(itemTarget(it), model.RoleCommunityStaff, model.RoleStreetStaff); ok {
		return g.Role
	}
	if it.OrganiserID == a.UserID {
		return "organiser"
	}
	return ""
}

// viewAfterWrite returns the view of an item just written (or found by
// its Idempotency-Key).
func (s *Service) viewAfterWrite(ctx context.Context, a *service.Actor, it model.ActionItem, created bool, err error) (View, bool, error) {
	if err != nil {
		return View{}, false, err
	}
	v, err := s.Get(ctx, a, it.ID)
	return v, created, err
}
