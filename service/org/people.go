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
type ApplicationView = model.ApplicationView

// ApplicationFilter narrows the deciders' inbox to one building or grid.
type ApplicationFilter struct {
	BuildingID int64
	GridID     int64
}

// ResidentView is one resident of a household as a steward sees it. The
// phone is left out on purpose: firm managers decide applications too, and
// a firm sees a resident's phone only through an accepted order.
type ResidentView = model.ResidentView

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
	h, err := take[model.Household](ctx, s.db, in.HouseholdID, errApplyHouseholdGone)
	if err != nil {
		return model.ResidencyApplication{}, err
	}
	open := int8(1)
	app := model.ResidencyApplication{
		UserID: a.UserID, HouseholdID: h.ID, Relation: in.Relation, Note: note,
		State: model.ApplicationPending, Open: &open, Ancestry: h.Ancestry,
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		resident, err := model.LivesIn(ctx, tx, a.UserID, h.ID)
		if err != nil {
			return err
		}
		if resident {
			return errAlreadyResident
		}
		// The unique index over (user, household, open) is what really keeps
		// one pending application: two taps racing here both reach Create.
		err = model.Create(ctx, tx, &app)
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
		// Lock, then compare: see model.LockApplicationState for why the
		// state is not part of the WHERE clause.
		state, err := model.LockApplicationState(ctx, tx, app.ID)
		if err != nil {
			return err
		}
		if state != model.ApplicationPending {
			lost = true
			return nil
		}
		if err := model.CloseApplication(ctx, tx, app.ID, to, reason, a.UserID, now); err != nil {
			return err
		}
		if to != model.ApplicationApproved {
			return nil
		}
		r := model.Residency{UserID: app.UserID, HouseholdID: app.HouseholdID, Relation: app.Relation, Ancestry: app.Ancestry}
		err = model.Create(ctx, tx, &r)
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
	v, err := model.ApplicationViewByID(ctx, s.db, id)
	if errors.Is(err, model.ErrNotFound) {
		return ApplicationView{}, errApplicationGone
	}
	if err != nil {
		return ApplicationView{}, err
	}
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
	return model.ApplicationsPage(ctx, s.db, model.ApplicationQuery{UserID: a.UserID}, p)
}

// PendingApplications is the deciders' inbox: pending applications of the
// buildings the actor may decide for, optionally of one building or grid.
// Asking for a building or grid outside the actor's scope is refused rather
// than answered with an empty page, so a client cannot mistake it for
// "nothing to do".
func (s *Service) PendingApplications(ctx context.Context, a *service.Actor, f ApplicationFilter, p service.Page) (service.Paged[ApplicationView], error) {
	reach := s.deciderReach(a)
	if reach.None() {
		return service.Paged[ApplicationView]{}, errNotDecider
	}
	if f.BuildingID != 0 || f.GridID != 0 {
		if f.BuildingID != 0 {
			if err := s.filterTargetExists(ctx, model.Exists[model.Building], f.BuildingID, errFilterBuilding); err != nil {
				return service.Paged[ApplicationView]{}, err
			}
		}
		if f.GridID != 0 {
			if err := s.filterTargetExists(ctx, model.Exists[model.Grid], f.GridID, errFilterGrid); err != nil {
				return service.Paged[ApplicationView]{}, err
			}
		}
		within, err := model.BuildingsWithin(ctx, s.db, reach, f.BuildingID, f.GridID)
		if err != nil {
			return service.Paged[ApplicationView]{}, err
		}
		if !within {
			return service.Paged[ApplicationView]{}, service.ErrOutOfScope
		}
	}
	q := model.ApplicationQuery{State: model.ApplicationPending, Reach: &reach, BuildingID: f.BuildingID, GridID: f.GridID}
	return model.ApplicationsPage(ctx, s.db, q, p)
}

func (s *Service) filterTargetExists(ctx context.Context, exists func(context.Context, *gorm.DB, int64) (bool, error), id int64, missing error) error {
	ok, err := exists(ctx, s.db, id)
	if err != nil {
		return err
	}
	if !ok {
		return missing
	}
	return nil
}

func (s *Service) applicationByID(ctx context.Context, id int64) (model.ResidencyApplication, error) {
	return take[model.ResidencyApplication](ctx, s.db, id, errApplicationGone)
}

// HouseholdResidents lists the residents of a household for those who may
// decide its applications.
func (s *Service) HouseholdResidents(ctx context.Context, a *service.Actor, householdID int64) ([]ResidentView, error) {
	h, err := take[model.Household](ctx, s.db, householdID, errApplyHouseholdGone)
	if err != nil {
		return nil, err
	}
	ok, err := s.mayDecide(ctx, a, h.Ancestry)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotDecider
	}
	return model.ResidentsOf(ctx, s.db, h.ID)
}

// RemoveResidency ends a residency: the resident leaves, or someone who may
// decide the building's applications removes them.
func (s *Service) RemoveResidency(ctx context.Context, a *service.Actor, id int64) error {
	r, err := take[model.Residency](ctx, s.db, id, errResidencyMissing)
	if err != nil {
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
	n, err := model.DeleteResidency(ctx, s.db, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return errResidencyMissing
	}
	return nil
}
