package order

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Who may submit a category (Category.Submitters).
const (
	SubmitterResident = "resident"
	SubmitterGrid     = model.RoleGridWorker
	SubmitterSteward  = model.RoleBuildingSteward
)

const (
	hour       = 60
	workingDay = 24 * hour // working time counts whole working days (calendar.AddWorking)
	allSubmit  = SubmitterResident + "," + SubmitterGrid + "," + SubmitterSteward
	staffOnly  = SubmitterGrid + "," + SubmitterSteward
)

// DefaultCategories are the categories a fresh database starts with.
// Admins change them through the API; SeedCategories never overwrites.
func DefaultCategories() []model.Category {
	repair := func(code, name string, sort, accept, complete int, working, escalate bool) model.Category {
		return model.Category{Code: code, Name: name, ParentCode: "repair", Submitters: allSubmit,
			AutoDispatch: model.HandlerFirm, VerifyMinutes: 2 * hour, DispatchMinutes: 4 * hour,
			AcceptMinutes: accept, CompleteMinutes: complete, ConfirmMinutes: workingDay, WorkingTime: working,
			EscalateOnBreach: escalate, AutoCloseHours: 72, PhotosRequired: true, Active: true, SortOrder: sort}
	}
	plain := func(code, name string, sort, verify, dispatch, accept, complete int, working, escalate bool) model.Category {
		return model.Category{Code: code, Name: name, Submitters: allSubmit, VerifyMinutes: verify,
			DispatchMinutes: dispatch, AcceptMinutes: accept, CompleteMinutes: complete, ConfirmMinutes: workingDay,
			WorkingTime: working, EscalateOnBreach: escalate, AutoCloseHours: 72, Active: true, SortOrder: sort}
	}
	cats := []model.Category{
		// The group row is listed for the mini-program's menu; nobody
		// submits "repair" itself.
		{Code: "repair", Name: "报事报修", AutoCloseHours: 72, Active: true, SortOrder: 10},
		repair("repair.plumbing", "水暖管道", 11, 2*hour, 2*workingDay, true, true),
		repair("repair.electrical", "电路照明", 12, 2*hour, 2*workingDay, true, true),
		// A stuck lift traps people: wall-clock hours, not working days.
		repair("repair.lift", "电梯故障", 13, 30, 24*hour, false, true),
		repair("repair.walls", "墙面屋顶渗漏", 14, 4*hour, 5*workingDay, true, true),
		repair("repair.doors_access", "门禁单元门", 15, 2*hour, 2*workingDay, true, true),
		plain("environment", "环境卫生", 20, 2*hour, 4*hour, 4*hour, workingDay, true, true),
		plain("order_parking", "秩序停车", 30, 2*hour, 4*hour, 2*hour, workingDay, true, true),
		plain("safety_hazard", "安全隐患", 40, hour, 2*hour, hour, 24*hour, false, true),
		plain("dispute", "邻里纠纷", 50, 4*hour, workingDay, workingDay, 5*workingDay, true, true),
		plain("complaint_firm", "投诉物业", 60, 4*hour, workingDay, workingDay, 5*workingDay, true, true),
		plain("suggestion", "意见建议", 70, workingDay, 2*workingDay, 0, 10*workingDay, true, false),
		plain("wish", "微心愿", 80, workingDay, 0, 2*workingDay, 10*workingDay, true, false),
		// Emergency orders come from the one-key call, never from the
		// submit form.
		{Code: "emergency", Name: "紧急求助", Submitters: "", VerifyMinutes: 10, DispatchMinutes: 15,
			AcceptMinutes: 10, CompleteMinutes: 4 * hour, ConfirmMinutes: workingDay, EscalateOnBreach: true,
			AutoCloseHours: 72, Active: true, SortOrder: 90},
	}
	for i := range cats {
		switch cats[i].Code {
		case "complaint_firm":
			cats[i].ComplaintAgainstFirm = true
		case "wish":
			cats[i].Submitters = SubmitterResident + "," + staffOnly
			cats[i].AutoDispatch = model.HandlerVolunteer
		case "environment", "order_parking":
			cats[i].PhotosRequired = true
		}
	}
	return cats
}

// SeedCategories inserts the default categories that are missing, by
// code. It is idempotent and never overwrites an admin's change; main's
// migrate and start-up call it.
func SeedCategories(ctx context.Context, db *gorm.DB) error {
	if err := model.InsertMissingCategories(ctx, db, DefaultCategories()); err != nil {
		return fmt.Errorf("seed order categories: %w", err)
	}
	return nil
}

// Categories lists the categories, active first by sort order. Inactive
// ones are listed only when asked for (admins editing them).
func (s *Service) Categories(ctx context.Context, a *service.Actor, includeInactive bool) ([]model.Category, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	return model.Categories(ctx, s.db, includeInactive)
}

// CategoryPatch changes some fields of a category; nil leaves a field.
type CategoryPatch struct {
	Name                 *string
	Submitters           *[]string
	AutoDispatch         *string
	AutoDepartmentKind   *string
	VerifyMinutes        *int
	DispatchMinutes      *int
	AcceptMinutes        *int
	CompleteMinutes      *int
	ConfirmMinutes       *int
	WorkingTime          *bool
	EscalateOnBreach     *bool
	AutoCloseHours       *int
	PhotosRequired       *bool
	ComplaintAgainstFirm *bool
	Active               *bool
	SortOrder            *int
}

var (
	errCategoryMissing  = service.NotFound("category_not_found", "工单类别不存在")
	errCategoryName     = service.Invalid("bad_category_name", "类别名称须为 1 到 40 个字")
	errCategorySubmit   = service.Invalid("bad_submitters", "提交人只能是 resident、grid_worker、building_steward")
	errCategoryDispatch = service.Invalid("bad_auto_dispatch", "自动派单只能是空、firm、department 或 volunteer")
	errCategoryDeptKind = service.Invalid("bad_department_kind", "自动派给职能部门时须指明部门类型")
	errCategoryMinutes  = service.Invalid("bad_minutes", "时限须在 0 到 525600 分钟之间")
	errCategoryClose    = service.Invalid("bad_auto_close", "自动关闭时间须在 1 到 720 小时之间")
	errCategoryNotAdmin = service.Forbidden("not_admin", "只有平台管理员可以修改工单类别")
)

// UpdateCategory changes a category (platform admins only).
func (s *Service) UpdateCategory(ctx context.Context, a *service.Actor, id int64, p CategoryPatch) (model.Category, error) {
	if !a.IsAdmin() {
		return model.Category{}, errCategoryNotAdmin
	}
	var cat model.Category
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		if cat, err = model.LockByID[model.Category](ctx, tx, id); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return errCategoryMissing
			}
			return err
		}
		if err := applyPatch(&cat, p); err != nil {
			return err
		}
		return model.SaveCategory(ctx, tx, &cat)
	})
	if err == nil {
		s.opts.Names.Forget(ctx, &model.Category{}, id)
	}
	return cat, err
}

func applyPatch(c *model.Category, p CategoryPatch) error {
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if n == "" || utf8.RuneCountInString(n) > 40 {
			return errCategoryName
		}
		c.Name = n
	}
	if p.Submitters != nil {
		var out []string
		for _, s := range *p.Submitters {
			if !slices.Contains([]string{SubmitterResident, SubmitterGrid, SubmitterSteward}, s) {
				return errCategorySubmit
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		c.Submitters = strings.Join(out, ",")
	}
	if p.AutoDispatch != nil {
		if !slices.Contains([]string{"", model.HandlerFirm, model.HandlerDepartment, model.HandlerVolunteer}, *p.AutoDispatch) {
			return errCategoryDispatch
		}
		c.AutoDispatch = *p.AutoDispatch
	}
	if p.AutoDepartmentKind != nil {
		k := strings.TrimSpace(*p.AutoDepartmentKind)
		if utf8.RuneCountInString(k) > 32 {
			return errCategoryDeptKind
		}
		c.AutoDepartmentKind = k
	}
	if c.AutoDispatch == model.HandlerDepartment && c.AutoDepartmentKind == "" {
		return errCategoryDeptKind
	}
	for _, m := range []struct {
		p *int
		f *int
	}{{p.VerifyMinutes, &c.VerifyMinutes}, {p.DispatchMinutes, &c.DispatchMinutes}, {p.AcceptMinutes, &c.AcceptMinutes},
		{p.CompleteMinutes, &c.CompleteMinutes}, {p.ConfirmMinutes, &c.ConfirmMinutes}} {
		if m.p == nil {
			continue
		}
		if *m.p < 0 || *m.p > 525600 {
			return errCategoryMinutes
		}
		*m.f = *m.p
	}
	if p.AutoCloseHours != nil {
		if *p.AutoCloseHours < 1 || *p.AutoCloseHours > 720 {
			return errCategoryClose
		}
		c.AutoCloseHours = *p.AutoCloseHours
	}
	for _, b := range []struct {
		p *bool
		f *bool
	}{{p.WorkingTime, &c.WorkingTime}, {p.EscalateOnBreach, &c.EscalateOnBreach}, {p.PhotosRequired, &c.PhotosRequired},
		{p.ComplaintAgainstFirm, &c.ComplaintAgainstFirm}, {p.Active, &c.Active}} {
		if b.p != nil {
			*b.f = *b.p
		}
	}
	if p.SortOrder != nil {
		c.SortOrder = *p.SortOrder
	}
	return nil
}

// submitters splits a category's comma list.
func submitters(c model.Category) []string {
	if c.Submitters == "" {
		return nil
	}
	return strings.Split(c.Submitters, ",")
}
