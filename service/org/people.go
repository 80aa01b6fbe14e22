package org

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// applicationDeciders may decide the residency applications of a building
// their grant covers. Firm managers decide too, but through the contracts
// of their firm, which ScopeCovers cannot see (see mayDecide).
var applicationDeciders = []string{
	model.RoleBuildingSteward, model.RoleGridWorker, model.RoleCommunityStaff,
	model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin,
}

// Errors of residency applications.
var (
	errApplyRelation      = service.Invalid("bad_relation", "与房屋的关系须为 owner（业主）、tenant（租户）或 family（家属）")
	errApplyNote          = service.Invalid("note_too_long", "备注不能超过 200 个字")
	errApplyHousehold     = service.Invalid("bad_household", "请选择要加入的房屋")
	errApplyHouseholdGone = service.NotFound("household_not_found", "房屋不存在")
	errFilterBuilding     = service.NotFound("building_not_found", "楼栋不存在")
	errFilterGrid         = service.NotFound("grid_not_found", "网格不存在")
	errAlreadyResident    = service.Conflict("already_resident", "您已是该房屋的住户")
	errApplicationOpen    = service.Conflict("application_pending", "您已提交过该房屋的申请，请等待审核")
	errApplicationGone    = service.NotFound("application_not_found", "申请不存在")
	errApplicantResident  = service.Conflict("already_resident", "申请人已是该房屋的住户")
	errRejectReason       = service.Invalid("reason_required", "驳回申请须填写理由（不超过 200 个字）")
	errNotDecider         = service.Forbidden("not_approver", "您无权审核该房屋的住户申请")
	errOwnApplication     = service.Forbidden("own_application", "不能审核自己的入户申请，请由其他楼栋长、网格员或物业经理审核")
	errNotApplicant       = service.Forbidden("not_applicant", "只能撤回自己的申请")
	errResidencyMissing   = service.NotFound("residency_not_found", "住户记录不存在")
	errResidencyNotYours  = service.Forbidden("residency_forbidden", "只有住户本人或该楼栋的管理人员可以移除住户")
)

// ApplyInput is a user's request to join a household.
type ApplyInput struct {
	HouseholdID int64
	Relation    string
	Note        string
}

// ApplicationView is an application with what a person needs to read it:
// who applied and for which dwelling.
type ApplicationView struct {
	model.ResidencyApplication
	ApplicantName string
	Unit          string
	Room          string
	BuildingName  string
	CompoundName  string
}

// ApplicationFilter narrows the deciders' inbox to one building or grid.
type ApplicationFilter struct {
	BuildingID int64
	GridID     int64
}

// ResidentView is one resident of a household as a steward sees it. The
// phone is left out on purpose: firm managers decide applications too, and
// a firm sees a resident's phone only through an accepted order.
type ResidentView struct {
	model.Residency
	DisplayName string
}

// Apply files the actor's application to join a household.
func (s *Service) Apply(ctx context.Context, a *service.Actor, in ApplyInput) (model.ResidencyApplication, error) {
	switch in.Relation {
	case model.RelationOwner, model.RelationTenant, model.RelationFamily:
	default:
		return model.ResidencyApplication{}, errApplyRelation
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > 200 {
		return model.ResidencyApplication{}, errApplyNote
	}
	if in.HouseholdID <= 0 {
		return model.ResidencyApplication{}, errApplyHousehold
	}
	var h model.Household
	if err := model.Translate(s.db.WithContext(ctx).Take(&h, in.HouseholdID).Error); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return model.ResidencyApplication{}, errApplyHouseholdGone
		}
		return model.ResidencyApplication{}, err
	}
	open := int8(1)
	app := model.ResidencyApplication{
		UserID: a.UserID, HouseholdID: h.ID, Relation: in.Relation, Note: note,
		State: model.ApplicationPending, Open: &open, Ancestry: h.Ancestry,
	}
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&model.Residency{}).Where("user_id = ? AND household_id = ?", a.UserID, h.ID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return errAlreadyResident
		}
		// The unique index over (user, household, open) is what really keeps
		// one pending application: two taps racing here both reach Create.
		err := model.Translate(tx.Create(&app).Error)
		if errors.Is(err, model.ErrDuplicate) {
			return errApplicationOpen
		}
		return err
	})
	return app, err
}

// ApproveApplication accepts a pending application and makes the applicant
// a resident, in one transaction.
func (s *Service) ApproveApplication(ctx context.Context, a *service.Actor, id int64) (model.ResidencyApplication, error) {
	return s.decide(ctx, a, id, model.ApplicationApproved, "")
}

// RejectApplication refuses a pending application; the reason is shown to
// the applicant.
func (s *Service) RejectApplication(ctx context.Context, a *service.Actor, id int64, reason string) (model.ResidencyApplication, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 200 {
		return model.ResidencyApplication{}, errRejectReason
	}
	return s.decide(ctx, a, id, model.ApplicationRejected, reason)
}

// WithdrawApplication lets the applicant take back a pending application.
func (s *Service) WithdrawApplication(ctx context.Context, a *service.Actor, id int64) (model.ResidencyApplication, error) {
	app, err := s.applicationByID(ctx, id)
	if err != nil {
		return app, err
	}
	if app.UserID != a.UserID {
		return app, errNotApplicant
	}
	return s.closeApplication(ctx, a, app, model.ApplicationWithdrawn, "")
}

func (s *Service) decide(ctx context.Context, a *service.Actor, id int64, to, reason string) (model.ResidencyApplication, error) {
	app, err := s.applicationByID(ctx, id)
	if err != nil {
		return app, err
	}
	ok, err := s.mayDecide(ctx, a, app.Ancestry)
	if err != nil {
		return app, err
	}
	if !ok {
		return app, errNotDecider
	}
	// Nobody decides their own application: a firm manager could make
	// himself an owner, and owners vote.
	if app.UserID == a.UserID {
		return app, errOwnApplication
	}
	return s.closeApplication(ctx, a, app, to, reason)
}

// closeApplication moves a pending application to its final state with a
// compare-and-set; approval creates the residency in the same transaction.
func (s *Service) closeApplication(ctx context.Context, a *service.Actor, app model.ResidencyApplication, to, reason string) (model.ResidencyApplication, error) {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	lost := false
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// The compare-and-set locks the row through the primary key alone,
		// then checks the state. Given `WHERE id = ? AND state = ?`, MariaDB
		// walks the state index instead (its entries end with the id), and
		// two deciders of one application deadlock on that index's gap locks.
		var cur model.ResidencyApplication
		if err := model.ForUpdate(tx).Select("id", "state").Where("id = ?", app.ID).Take(&cur).Error; err != nil {
			return model.Translate(err)
		}
		if cur.State != model.ApplicationPending {
			lost = true
			return nil
		}
		err := tx.Model(&model.ResidencyApplication{}).Where("id = ?", app.ID).
			Updates(map[string]any{"state": to, "open": nil, "reason": reason, "decided_by": a.UserID, "decided_at": now}).Error
		if err != nil {
			return err
		}
		if to != model.ApplicationApproved {
			return nil
		}
		r := model.Residency{UserID: app.UserID, HouseholdID: app.HouseholdID, Relation: app.Relation, Ancestry: app.Ancestry}
		err = model.Translate(tx.Create(&r).Error)
		if errors.Is(err, model.ErrDuplicate) {
			return errApplicantResident
		}
		return err
	})
	if err != nil {
		return app, err
	}
	cur, err := s.applicationByID(ctx, app.ID)
	if err != nil {
		return cur, err
	}
	if lost {
		return cur, applicationDecided(cur.State)
	}
	return cur, nil
}

// applicationDecided is the 409 of a second decision; it names the state
// the application is in now, for people and (in the detail) for programs.
func applicationDecided(state string) *service.Error {
	names := map[string]string{
		model.ApplicationApproved: "已通过", model.ApplicationRejected: "已驳回", model.ApplicationWithdrawn: "已撤回",
	}
	name, ok := names[state]
	if !ok {
		name = "已处理"
	}
	return service.Conflict("application_decided", "该申请"+name+"，不能重复操作").
		WithDetail(map[string]string{"state": state})
}

// GetApplication returns one application to its applicant or to someone
// who may decide it.
func (s *Service) GetApplication(ctx context.Context, a *service.Actor, id int64) (ApplicationView, error) {
	var rows []ApplicationView
	if err := s.applicationQuery(ctx).Where("a.id = ?", id).Scan(&rows).Error; err != nil {
		return ApplicationView{}, err
	}
	if len(rows) == 0 {
		return ApplicationView{}, errApplicationGone
	}
	v := rows[0]
	if v.UserID == a.UserID {
		return v, nil
	}
	ok, err := s.mayDecide(ctx, a, v.Ancestry)
	if err != nil {
		return v, err
	}
	if !ok {
		return ApplicationView{}, errNotDecider
	}
	return v, nil
}

// MyApplications lists the actor's own applications, newest first.
func (s *Service) MyApplications(ctx context.Context, a *service.Actor, p service.Page) (service.Paged[ApplicationView], error) {
	q := s.applicationQuery(ctx).Where("a.user_id = ?", a.UserID)
	return s.applicationPage(q, p)
}

// PendingApplications is the deciders' inbox: pending applications of the
// buildings the actor may decide for, optionally of one building or grid.
// Asking for a building or grid outside the actor's scope is refused rather
// than answered with an empty page, so a client cannot mistake it for
// "nothing to do".
func (s *Service) PendingApplications(ctx context.Context, a *service.Actor, f ApplicationFilter, p service.Page) (service.Paged[ApplicationView], error) {
	sql, args, ok := s.deciderScope(a, "a")
	if !ok {
		return service.Paged[ApplicationView]{}, errNotDecider
	}
	db := s.db.WithContext(ctx)
	if f.BuildingID != 0 || f.GridID != 0 {
		bsql, bargs, _ := s.deciderScope(a, "b")
		q := db.Table("buildings b").Where(bsql, bargs...)
		if f.BuildingID != 0 {
			if err := s.filterTargetExists(ctx, &model.Building{}, f.BuildingID, errFilterBuilding); err != nil {
				return service.Paged[ApplicationView]{}, err
			}
			q = q.Where("b.id = ?", f.BuildingID)
		}
		if f.GridID != 0 {
			if err := s.filterTargetExists(ctx, &model.Grid{}, f.GridID, errFilterGrid); err != nil {
				return service.Paged[ApplicationView]{}, err
			}
			q = q.Where("b.grid_id = ?", f.GridID)
		}
		var n int64
		if err := q.Count(&n).Error; err != nil {
			return service.Paged[ApplicationView]{}, err
		}
		if n == 0 {
			return service.Paged[ApplicationView]{}, service.ErrOutOfScope
		}
	}
	q := s.applicationQuery(ctx).Where("a.state = ?", model.ApplicationPending).Where(sql, args...)
	if f.BuildingID != 0 {
		q = q.Where("a.building_id = ?", f.BuildingID)
	}
	if f.GridID != 0 {
		q = q.Where("a.grid_id = ?", f.GridID)
	}
	return s.applicationPage(q, p)
}

func (s *Service) filterTargetExists(ctx context.Context, m any, id int64, missing error) error {
	var n int64
	if err := s.db.WithContext(ctx).Model(m).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return missing
	}
	return nil
}

func (s *Service) applicationQuery(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Table("residency_applications a").
		Select("a.*, u.display_name AS applicant_name, h.unit, h.room, b.name AS building_name, c.name AS compound_name").
		Joins("JOIN users u ON u.id = a.user_id").
		Joins("JOIN households h ON h.id = a.household_id").
		Joins("JOIN buildings b ON b.id = a.building_id").
		Joins("JOIN compounds c ON c.id = a.compound_id")
}

func (s *Service) applicationPage(q *gorm.DB, p service.Page) (service.Paged[ApplicationView], error) {
	if p.After > 0 {
		q = q.Where("a.id < ?", p.After)
	}
	var rows []ApplicationView
	if err := q.Order("a.id DESC").Limit(p.Limit + 1).Scan(&rows).Error; err != nil {
		return service.Paged[ApplicationView]{}, err
	}
	return service.Cut(rows, p.Limit), nil
}

func (s *Service) applicationByID(ctx context.Context, id int64) (model.ResidencyApplication, error) {
	var app model.ResidencyApplication
	err := model.Translate(s.db.WithContext(ctx).Take(&app, id).Error)
	if errors.Is(err, model.ErrNotFound) {
		return app, errApplicationGone
	}
	return app, err
}

// mayDecide reports whether the actor may decide applications of (and
// manage the residents of) the building anc belongs to.
func (s *Service) mayDecide(ctx context.Context, a *service.Actor, anc model.Ancestry) (bool, error) {
	t := service.Target{Kind: model.ScopeBuilding, ID: anc.BuildingID, Ancestry: anc}
	if a.Can(t, applicationDeciders...) {
		return true, nil
	}
	firms := managedFirms(a)
	if len(firms) == 0 || anc.CompoundID == 0 {
		return false, nil
	}
	day := residencyContractDay(s.clock.Now())
	var n int64
	err := s.db.WithContext(ctx).Model(&model.Contract{}).
		Where("firm_id IN ? AND compound_id = ? AND starts_on <= ? AND ends_on >= ?", firms, anc.CompoundID, day, day).
		Count(&n).Error
	return n > 0, err
}

// deciderScope returns a SQL condition over the ancestry columns of alias
// selecting the rows the actor may decide for; ok is false when the actor
// holds no role that decides applications. It mirrors mayDecide.
func (s *Service) deciderScope(a *service.Actor, alias string) (sql string, args []any, ok bool) {
	var parts []string
	for _, g := range a.Scopes(applicationDeciders...) {
		if g.ScopeKind == model.ScopePlatform {
			return "1 = 1", nil, true
		}
		col := deciderColumn(g.ScopeKind)
		if col == "" {
			continue
		}
		parts = append(parts, alias+"."+col+" = ?")
		args = append(args, g.ScopeID)
	}
	if firms := managedFirms(a); len(firms) > 0 {
		day := residencyContractDay(s.clock.Now())
		parts = append(parts, alias+".compound_id IN (SELECT k.compound_id FROM contracts k WHERE k.firm_id IN ? AND k.starts_on <= ? AND k.ends_on >= ?)")
		args = append(args, firms, day, day)
	}
	if len(parts) == 0 {
		return "", nil, false
	}
	return "(" + strings.Join(parts, " OR ") + ")", args, true
}

// deciderColumn names the Ancestry column that holds the id of a tree
// scope kind ("" for kinds outside the tree).
func deciderColumn(kind string) string {
	switch kind {
	case model.ScopeCity, model.ScopeDistrict, model.ScopeStreet, model.ScopeCommunity,
		model.ScopeCompound, model.ScopeGrid, model.ScopeBuilding:
		return kind + "_id"
	}
	return ""
}

func managedFirms(a *service.Actor) []int64 {
	var ids []int64
	for _, g := range a.Scopes(model.RoleFirmManager) {
		if g.ScopeKind == model.ScopeFirm {
			ids = append(ids, g.ScopeID)
		}
	}
	return ids
}

// residencyContractDay is today's date in Beijing, in the form contract
// dates are stored (midnight UTC of the calendar day): a contract ending on
// the 31st still covers 23:00 of the 31st in Beijing.
func residencyContractDay(now time.Time) time.Time {
	y, m, d := now.In(time.FixedZone("CST", 8*3600)).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// HouseholdResidents lists the residents of a household for those who may
// decide its applications.
func (s *Service) HouseholdResidents(ctx context.Context, a *service.Actor, householdID int64) ([]ResidentView, error) {
	var h model.Household
	if err := model.Translate(s.db.WithContext(ctx).Take(&h, householdID).Error); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return nil, errApplyHouseholdGone
		}
		return nil, err
	}
	ok, err := s.mayDecide(ctx, a, h.Ancestry)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotDecider
	}
	rows := []ResidentView{}
	err = s.db.WithContext(ctx).Table("residencies r").
		Select("r.*, u.display_name").
		Joins("JOIN users u ON u.id = r.user_id").
		Where("r.household_id = ?", h.ID).Order("r.id").Scan(&rows).Error
	return rows, err
}

// RemoveResidency ends a residency: the resident leaves, or someone who may
// decide the building's applications removes them.
func (s *Service) RemoveResidency(ctx context.Context, a *service.Actor, id int64) error {
	var r model.Residency
	if err := model.Translate(s.db.WithContext(ctx).Take(&r, id).Error); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return errResidencyMissing
		}
		return err
	}
	if r.UserID != a.UserID {
		ok, err := s.mayDecide(ctx, a, r.Ancestry)
		if err != nil {
			return err
		}
		if !ok {
			return errResidencyNotYours
		}
	}
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&model.Residency{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errResidencyMissing
	}
	return nil
}
