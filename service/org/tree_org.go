package org

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Committee kinds (业委会 / 物管会).
const (
	CommitteeOwners     = "owners"
	CommitteeManagement = "management"
)

// Limits of firms, contracts and departments.
const (
	firmNameMax       = 100
	firmHotlineMax    = 32
	departmentKindMax = 32
	contractMinYear   = 2000
	contractMaxYear   = 2100
)

// Errors of firms, contracts, committees and departments.
var (
	errFirmName        = service.Invalid("bad_name", "请填写企业名称（不超过 100 个字）")
	errFirmCreditCode  = service.Invalid("bad_credit_code", "统一社会信用代码须为 18 位数字或大写字母")
	errFirmHotline     = service.Invalid("bad_hotline", "服务电话只能包含数字、空格、“-”和“+”，不超过 32 个字符")
	errFirmDistrict    = service.Invalid("bad_district", "请选择企业注册所在的区")
	errFirmNotDistrict = service.Unprocessable("not_district", "企业须登记在区级区域下")
	errFirmDup         = service.Conflict("firm_exists", "已有相同统一社会信用代码的企业")
	errFirmGone        = service.NotFound("firm_not_found", "物业企业不存在")
	errContractDates   = service.Invalid("bad_dates", "请填写合同起止日期（格式 2026-01-01）")
	errContractPeriod  = service.Unprocessable("bad_period", "合同结束日期不能早于开始日期")
	errContractGone    = service.NotFound("contract_not_found", "合同不存在")
	errCommitteeKind   = service.Invalid("bad_kind", "委员会类型须为 owners（业主委员会）或 management（物业管理委员会）")
	errCommitteeDup    = service.Conflict("committee_exists", "该小区已有业委会或物管会")
	errCommitteeGone   = service.NotFound("committee_not_found", "业委会不存在")
	errDepartmentKind  = service.Invalid("bad_kind", "部门类别不能超过 32 个字")
	errDepartmentGone  = service.NotFound("department_not_found", "职能部门不存在")
)

// ---- firms ----

// FirmInput describes a property firm to register in a district.
type FirmInput struct {
	DistrictID int64
	Name       string
	CreditCode string // optional
	Hotline    string
}

// FirmPatch changes a firm; nil fields stay. An empty credit code clears it.
type FirmPatch struct {
	Name       *string
	CreditCode *string
	Hotline    *string
}

// FirmFilter narrows the list of firms; zero does not filter.
type FirmFilter struct {
	DistrictID int64
}

// creditCode checks the form of a 统一社会信用代码: 18 digits or capital
// letters. The standard's alphabet and check digit are not enforced: staff
// copy codes from licences, test data use made-up ones, and the unique
// index still catches a firm registered twice under one code.
func creditCode(s string) (*string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return nil, nil
	}
	if len(s) != 18 || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z')
	}) >= 0 {
		return nil, errFirmCreditCode
	}
	return &s, nil
}

func hotline(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > firmHotlineMax || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '-' || r == '+' || r == ' ')
	}) >= 0 {
		return "", errFirmHotline
	}
	return s, nil
}

// CreateFirm registers a firm in a district the actor keeps as district or
// city staff.
func (s *Service) CreateFirm(ctx context.Context, a *service.Actor, in FirmInput) (model.Firm, error) {
	name, err := cleanText(in.Name, 1, firmNameMax, errFirmName)
	if err != nil {
		return model.Firm{}, err
	}
	code, err := creditCode(in.CreditCode)
	if err != nil {
		return model.Firm{}, err
	}
	tel, err := hotline(in.Hotline)
	if err != nil {
		return model.Firm{}, err
	}
	if in.DistrictID <= 0 {
		return model.Firm{}, errFirmDistrict
	}
	d, err := take[model.Region](ctx, s.db, in.DistrictID, errTreeRegionGone)
	if err != nil {
		return model.Firm{}, err
	}
	if err := mayWrite(a, regionTarget(d), firmWriters); err != nil {
		return model.Firm{}, err
	}
	if d.Level != model.LevelDistrict {
		return model.Firm{}, errFirmNotDistrict
	}
	f := model.Firm{Name: name, CreditCode: code, Hotline: tel, CityID: d.CityID, DistrictID: d.ID}
	err = model.Create(ctx, s.db, &f)
	if errors.Is(err, model.ErrDuplicate) {
		return model.Firm{}, errFirmDup
	}
	return f, err
}

// Firm returns a firm to those whose scope covers where it is registered,
// to its own people, and to those who keep a compound it has served: a
// community dispatcher needs the hotline of the firm in its compounds.
func (s *Service) Firm(ctx context.Context, a *service.Actor, id int64) (model.Firm, error) {
	f, err := take[model.Firm](ctx, s.db, id, errFirmGone)
	if err != nil {
		return f, err
	}
	if a.Can(firmTarget(f)) {
		return f, nil
	}
	reach := treeReach(a)
	if reach.None() {
		return model.Firm{}, service.ErrOutOfScope
	}
	served, err := model.FirmServesWithin(ctx, s.db, f.ID, reach)
	if err != nil {
		return model.Firm{}, err
	}
	if !served {
		return model.Firm{}, service.ErrOutOfScope
	}
	return f, nil
}

// UpdateFirm changes a firm's name, credit code or hotline. Where it is
// registered does not change.
func (s *Service) UpdateFirm(ctx context.Context, a *service.Actor, id int64, p FirmPatch) (model.Firm, error) {
	f, err := take[model.Firm](ctx, s.db, id, errFirmGone)
	if err != nil {
		return f, err
	}
	if err := mayWrite(a, firmTarget(f), firmWriters); err != nil {
		return model.Firm{}, err
	}
	upd := map[string]any{}
	if err := patchText(upd, "name", p.Name, 1, firmNameMax, errFirmName); err != nil {
		return f, err
	}
	if p.CreditCode != nil {
		code, err := creditCode(*p.CreditCode)
		if err != nil {
			return f, err
		}
		upd["credit_code"] = code
	}
	if p.Hotline != nil {
		tel, err := hotline(*p.Hotline)
		if err != nil {
			return f, err
		}
		upd["hotline"] = tel
	}
	return update[model.Firm](ctx, s, id, upd, errFirmDup)
}

// Firms lists the firms registered where the actor's scope reaches (or
// the actor's own firms), newest first.
func (s *Service) Firms(ctx context.Context, a *service.Actor, f FirmFilter, p service.Page) (service.Paged[model.Firm], error) {
	mf := model.FirmFilter{DistrictID: f.DistrictID}
	if a.Can(service.Target{Kind: model.ScopePlatform}) {
		mf.Reach.All = true
	} else {
		for _, g := range a.Grants {
			switch g.ScopeKind {
			case model.ScopeCity, model.ScopeDistrict:
				mf.Reach.Nodes = append(mf.Reach.Nodes, model.Node{Kind: g.ScopeKind, ID: g.ScopeID})
			case model.ScopeFirm:
				mf.IDs = append(mf.IDs, g.ScopeID)
			}
		}
		if len(mf.Reach.Nodes) == 0 && len(mf.IDs) == 0 {
			return service.Paged[model.Firm]{}, nil
		}
	}
	return model.FirmsPage(ctx, s.db, mf, p)
}

// ---- contracts ----

// ContractInput describes a contract: a firm serves a compound from
// StartsOn to EndsOn, both days included (calendar dates; the time of day
// is ignored).
type ContractInput struct {
	FirmID     int64
	CompoundID int64
	StartsOn   time.Time
	EndsOn     time.Time
	// Optional: the project manager and the 24-hour hotline for the
	// compound, shown on its disclosure board.
	ProjectManager string
	ManagerPhone   string
	Hotline24      string
}

// ContractPatch moves a contract's dates; terminating a contract early is
// setting EndsOn. nil fields stay.
type ContractPatch struct {
	StartsOn       *time.Time
	EndsOn         *time.Time
	ProjectManager *string
	ManagerPhone   *string
	Hotline24      *string
}

var errContractManager = service.Invalid("bad_project_manager", "项目经理姓名不能超过 32 个字")

// contractPeople checks the project manager's name and the two phone
// numbers of a contract, written into upd under their columns.
func contractPeople(upd map[string]any, manager, phone, hot *string) error {
	if manager != nil {
		m := strings.TrimSpace(*manager)
		if utf8.RuneCountInString(m) > 32 {
			return errContractManager
		}
		upd["project_manager"] = m
	}
	for col, v := range map[string]*string{"manager_phone": phone, "hotline24": hot} {
		if v == nil {
			continue
		}
		tel, err := hotline(*v)
		if err != nil {
			return err
		}
		upd[col] = tel
	}
	return nil
}

// ContractView is a contract with the names people read it by.
type ContractView = model.ContractView

// contractDay reduces a date to midnight UTC of its calendar day, the
// form contract dates are stored in.
func contractDay(t time.Time) (time.Time, bool) {
	y, m, d := t.Date()
	if y < contractMinYear || y > contractMaxYear {
		return time.Time{}, false
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
}

// overlapError is the 409 of a period that meets another contract of the
// compound; the detail names it.
func overlapError(o ContractView) *service.Error {
	return service.Conflict("contract_overlap", fmt.Sprintf("该小区在 %s 至 %s 已有物业服务合同（%s），合同期不能重叠",
		o.StartsOn.Format(time.DateOnly), o.EndsOn.Format(time.DateOnly), o.FirmName)).
		WithDetail(map[string]any{"contract_id": o.ID, "firm_id": o.FirmID,
			"starts_on": o.StartsOn.Format(time.DateOnly), "ends_on": o.EndsOn.Format(time.DateOnly)})
}

// checkOverlap finds another contract of the compound meeting [from, to].
// One firm serves a compound on any day (orders go to it, its manager
// decides applications): a second contract over the same days is refused,
// be it of another firm or a duplicate of the same one. The caller holds
// the compound's row lock.
func checkOverlap(ctx context.Context, tx *gorm.DB, compoundID, self int64, from, to time.Time) error {
	o, found, err := model.OverlappingContract(ctx, tx, compoundID, self, from, to)
	if err != nil {
		return err
	}
	if found {
		return overlapError(o)
	}
	return nil
}

// CreateContract lets a firm serve a compound for a period. District and
// city staff whose scope covers the compound sign contracts.
func (s *Service) CreateContract(ctx context.Context, a *service.Actor, in ContractInput) (ContractView, error) {
	from, ok1 := contractDay(in.StartsOn)
	to, ok2 := contractDay(in.EndsOn)
	if !ok1 || !ok2 {
		return ContractView{}, errContractDates
	}
	if to.Before(from) {
		return ContractView{}, errContractPeriod
	}
	c, err := take[model.Compound](ctx, s.db, in.CompoundID, errTreeCompoundGone)
	if err != nil {
		return ContractView{}, err
	}
	if err := mayWrite(a, compoundTarget(c), firmWriters); err != nil {
		return ContractView{}, err
	}
	if _, err := take[model.Firm](ctx, s.db, in.FirmID, errFirmGone); err != nil {
		return ContractView{}, err
	}
	people := map[string]any{}
	if err := contractPeople(people, &in.ProjectManager, &in.ManagerPhone, &in.Hotline24); err != nil {
		return ContractView{}, err
	}
	k := model.Contract{FirmID: in.FirmID, StartsOn: from, EndsOn: to, Ancestry: c.Ancestry,
		ProjectManager: people["project_manager"].(string), ManagerPhone: people["manager_phone"].(string),
		Hotline24: people["hotline24"].(string)}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// The overlap check and the write happen under the compound's
		// row lock: contracts of one compound are decided one at a time.
		if err := model.LockCompound(ctx, tx, c.ID); err != nil {
			return err
		}
		if err := checkOverlap(ctx, tx, c.ID, 0, from, to); err != nil {
			return err
		}
		return model.Create(ctx, tx, &k)
	})
	if err != nil {
		return ContractView{}, err
	}
	return s.contractView(ctx, k.ID)
}

func (s *Service) contractView(ctx context.Context, id int64) (ContractView, error) {
	k, err := model.ContractViewByID(ctx, s.db, id)
	if errors.Is(err, model.ErrNotFound) {
		return k, errContractGone
	}
	return k, err
}

// Contract returns a contract to those whose scope covers its compound
// and to the people of its firm.
func (s *Service) Contract(ctx context.Context, a *service.Actor, id int64) (ContractView, error) {
	k, err := s.contractView(ctx, id)
	if err != nil {
		return k, err
	}
	if a.Can(contractTarget(k.Contract)) || a.Can(service.Target{Kind: model.ScopeFirm, ID: k.FirmID}) {
		return k, nil
	}
	return ContractView{}, service.ErrOutOfScope
}

// UpdateContract moves a contract's start or end, within the same rules as
// creating it; setting the end date terminates it early.
func (s *Service) UpdateContract(ctx context.Context, a *service.Actor, id int64, p ContractPatch) (ContractView, error) {
	k, err := take[model.Contract](ctx, s.db, id, errContractGone)
	if err != nil {
		return ContractView{}, err
	}
	if err := mayWrite(a, contractTarget(k), firmWriters); err != nil {
		if a.Can(service.Target{Kind: model.ScopeFirm, ID: k.FirmID}) {
			return ContractView{}, service.ErrForbidden
		}
		return ContractView{}, err
	}
	people := map[string]any{}
	if err := contractPeople(people, p.ProjectManager, p.ManagerPhone, p.Hotline24); err != nil {
		return ContractView{}, err
	}
	if p.StartsOn == nil && p.EndsOn == nil && len(people) == 0 {
		return ContractView{}, errTreeNoChange
	}
	newFrom, err := optionalDay(p.StartsOn)
	if err != nil {
		return ContractView{}, err
	}
	newTo, err := optionalDay(p.EndsOn)
	if err != nil {
		return ContractView{}, err
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.LockCompound(ctx, tx, k.CompoundID); err != nil {
			return err
		}
		// Re-read under the lock: another edit may have moved the dates.
		cur, err := model.ByID[model.Contract](ctx, tx, id)
		if err != nil {
			return err
		}
		from, to := cur.StartsOn, cur.EndsOn
		if newFrom != nil {
			from = *newFrom
		}
		if newTo != nil {
			to = *newTo
		}
		if to.Before(from) {
			return errContractPeriod
		}
		if err := checkOverlap(ctx, tx, cur.CompoundID, cur.ID, from, to); err != nil {
			return err
		}
		if len(people) > 0 {
			if _, err := model.Patch[model.Contract](ctx, tx, cur.ID, people); err != nil {
				return err
			}
		}
		return model.SetContractDates(ctx, tx, cur.ID, from, to)
	})
	if err != nil {
		return ContractView{}, err
	}
	return s.contractView(ctx, id)
}

// optionalDay reduces an optional date to its calendar day.
func optionalDay(v *time.Time) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	d, ok := contractDay(*v)
	if !ok {
		return nil, errContractDates
	}
	return &d, nil
}

// CompoundContracts lists the contracts of a compound, newest first.
func (s *Service) CompoundContracts(ctx context.Context, a *service.Actor, compoundID int64, p service.Page) (service.Paged[ContractView], error) {
	c, err := s.Compound(ctx, a, compoundID)
	if err != nil {
		return service.Paged[ContractView]{}, err
	}
	return model.ContractsPage(ctx, s.db, model.ContractFilter{CompoundID: c.ID, Reach: model.Reach{All: true}}, p)
}

// FirmContracts lists a firm's contracts: all of them to its own people
// and platform admins, to others those whose compound their scope covers.
func (s *Service) FirmContracts(ctx context.Context, a *service.Actor, firmID int64, p service.Page) (service.Paged[ContractView], error) {
	f, err := s.Firm(ctx, a, firmID)
	if err != nil {
		return service.Paged[ContractView]{}, err
	}
	cf := model.ContractFilter{FirmID: f.ID, Reach: model.Reach{All: true}}
	if !a.Can(service.Target{Kind: model.ScopeFirm, ID: f.ID}) {
		if cf.Reach = treeReach(a); cf.Reach.None() {
			return service.Paged[ContractView]{}, nil
		}
	}
	return model.ContractsPage(ctx, s.db, cf, p)
}

// ---- committees ----

// CommitteeInput describes a compound's committee: its owners' committee
// (业委会) or, where none was elected, its management committee (物管会).
type CommitteeInput struct {
	CompoundID int64
	Kind       string
	Name       string
}

// CommitteePatch changes a committee; nil fields stay (an elected owners'
// committee replaces a management committee by changing the kind).
type CommitteePatch struct {
	Kind *string
	Name *string
}

func committeeKind(k string) bool { return k == CommitteeOwners || k == CommitteeManagement }

// CreateCommittee gives a compound its committee; a compound has one.
func (s *Service) CreateCommittee(ctx context.Context, a *service.Actor, in CommitteeInput) (model.Committee, error) {
	if !committeeKind(in.Kind) {
		return model.Committee{}, errCommitteeKind
	}
	name, err := cleanText(in.Name, 1, treeNameMax, errTreeName)
	if err != nil {
		return model.Committee{}, err
	}
	c, err := take[model.Compound](ctx, s.db, in.CompoundID, errTreeCompoundGone)
	if err != nil {
		return model.Committee{}, err
	}
	if err := mayWrite(a, compoundTarget(c), communityWriters); err != nil {
		return model.Committee{}, err
	}
	m := model.Committee{Kind: in.Kind, Name: name, Ancestry: c.Ancestry}
	// The unique index on compound_id (migration step 3) decides races.
	err = model.Create(ctx, s.db, &m)
	if errors.Is(err, model.ErrDuplicate) {
		return model.Committee{}, errCommitteeDup
	}
	return m, err
}

// Committee returns a committee the actor's scope covers.
func (s *Service) Committee(ctx context.Context, a *service.Actor, id int64) (model.Committee, error) {
	m, err := take[model.Committee](ctx, s.db, id, errCommitteeGone)
	if err != nil {
		return m, err
	}
	return m, mayRead(a, committeeTarget(m))
}

// UpdateCommittee renames a committee or changes its kind.
func (s *Service) UpdateCommittee(ctx context.Context, a *service.Actor, id int64, p CommitteePatch) (model.Committee, error) {
	m, err := take[model.Committee](ctx, s.db, id, errCommitteeGone)
	if err != nil {
		return m, err
	}
	if err := mayWrite(a, committeeTarget(m), communityWriters); err != nil {
		return model.Committee{}, err
	}
	upd := map[string]any{}
	if p.Kind != nil {
		if !committeeKind(*p.Kind) {
			return m, errCommitteeKind
		}
		upd["kind"] = *p.Kind
	}
	if err := patchText(upd, "name", p.Name, 1, treeNameMax, errTreeName); err != nil {
		return m, err
	}
	return update[model.Committee](ctx, s, id, upd, nil)
}

// Committees lists the committees anywhere below a region.
func (s *Service) Committees(ctx context.Context, a *service.Actor, regionID int64, p service.Page) (service.Paged[model.Committee], error) {
	return within[model.Committee](ctx, s, a, regionID, p)
}

// ---- departments ----

// DepartmentInput describes a functional department (城管, 公安 …)
// attached to a region.
type DepartmentInput struct {
	RegionID int64
	Name     string
	Kind     string
}

// DepartmentPatch changes a department; nil fields stay.
type DepartmentPatch struct {
	Name *string
	Kind *string
}

// CreateDepartment attaches a department to a region kept by the actor
// as street, district or city staff.
func (s *Service) CreateDepartment(ctx context.Context, a *service.Actor, in DepartmentInput) (model.Department, error) {
	name, err := cleanText(in.Name, 1, treeNameMax, errTreeName)
	if err != nil {
		return model.Department{}, err
	}
	kind, err := cleanText(in.Kind, 0, departmentKindMax, errDepartmentKind)
	if err != nil {
		return model.Department{}, err
	}
	r, err := take[model.Region](ctx, s.db, in.RegionID, errTreeRegionGone)
	if err != nil {
		return model.Department{}, err
	}
	if err := mayWrite(a, regionTarget(r), regionWriters); err != nil {
		return model.Department{}, err
	}
	d := model.Department{Name: name, Kind: kind, Ancestry: r.Ancestry}
	return d, model.Create(ctx, s.db, &d)
}

// Department returns a department the actor's scope covers (its own staff
// included).
func (s *Service) Department(ctx context.Context, a *service.Actor, id int64) (model.Department, error) {
	d, err := take[model.Department](ctx, s.db, id, errDepartmentGone)
	if err != nil {
		return d, err
	}
	return d, mayRead(a, departmentTarget(d))
}

// UpdateDepartment renames a department or changes its kind.
func (s *Service) UpdateDepartment(ctx context.Context, a *service.Actor, id int64, p DepartmentPatch) (model.Department, error) {
	d, err := take[model.Department](ctx, s.db, id, errDepartmentGone)
	if err != nil {
		return d, err
	}
	if err := mayWrite(a, departmentTarget(d), regionWriters); err != nil {
		return model.Department{}, err
	}
	upd := map[string]any{}
	if err := patchText(upd, "name", p.Name, 1, treeNameMax, errTreeName); err != nil {
		return d, err
	}
	if err := patchText(upd, "kind", p.Kind, 0, departmentKindMax, errDepartmentKind); err != nil {
		return d, err
	}
	return update[model.Department](ctx, s, id, upd, nil)
}

// Departments lists the departments anywhere below a region.
func (s *Service) Departments(ctx context.Context, a *service.Actor, regionID int64, p service.Page) (service.Paged[model.Department], error) {
	return within[model.Department](ctx, s, a, regionID, p)
}
