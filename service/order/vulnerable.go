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

// The register of vulnerable people (关爱对象) the one-key emergency call
// is for: grid workers register the people of their grid, and community
// staff read the register of theirs.

// VulnerableKinds lists the kinds of vulnerable person.
var VulnerableKinds = []string{model.VulnerableElderlyAlone, model.VulnerableLeftBehindChild,
	model.VulnerableDisabled, model.VulnerableOther}

var vulnerableLabel = map[string]string{
	model.VulnerableElderlyAlone:    "独居老人",
	model.VulnerableLeftBehindChild: "留守儿童",
	model.VulnerableDisabled:        "残疾人",
	model.VulnerableOther:           "关爱对象",
}

var (
	errVulnKind      = service.Invalid("bad_kind", "关爱对象类型只能是 elderly_alone、left_behind_child、disabled 或 other")
	errVulnWho       = service.Invalid("person_required", "请指定用户或房屋（至少一项）")
	errVulnName      = service.Invalid("bad_name", "姓名须为 1 到 32 个字；未绑定用户时必须填写")
	errVulnNote      = service.Invalid("bad_note", "备注不能超过 200 个字")
	errVulnContacts  = service.Invalid("bad_contacts", "紧急联系人最多 5 位，姓名 1 到 20 个字，电话 5 到 20 位数字，关系不超过 10 个字")
	errVulnHousehold = service.NotFound("household_not_found", "房屋不存在")
	errVulnUser      = service.NotFound("user_not_found", "用户不存在")
	errVulnNotGrid   = service.Forbidden("not_grid_worker", "只有该网格的网格员可以登记或移除关爱对象")
	errVulnNotThere  = service.Unprocessable("not_resident_there", "该用户不住在所选房屋，请先让其加入房屋")
	errVulnNoHome    = service.Unprocessable("household_required", "该用户在您的网格内没有唯一的房屋，请指定房屋")
	errVulnDuplicate = service.Conflict("already_registered", "该关爱对象已登记")
	errVulnMissing   = service.NotFound("vulnerable_not_found", "关爱对象登记不存在或已移除")
	errVulnScope     = service.Forbidden("out_of_scope", "该网格不在您的管辖范围内")
	errVulnRole      = service.Forbidden("not_vulnerable_staff", "只有网格员、社区工作人员可以查看关爱对象")
)

// VulnerableInput registers a vulnerable person: a user of the
// mini-program, a household, or both.
type VulnerableInput struct {
	UserID      int64
	HouseholdID int64
	Name        string
	Kind        string
	Note        string
	Contacts    []model.EmergencyContact
}

// VulnerableView is a registration with where and who it is.
type VulnerableView struct {
	model.Vulnerable
	UserName string
	callPlace
}

// callPlace is a household's address.
type callPlace struct {
	CompoundName string
	BuildingName string
	Unit         string
	Room         string
}

// Address is "金日天玺1号楼1单元101".
func (p callPlace) Address() string {
	if p.Room == "" {
		return p.CompoundName + p.BuildingName
	}
	return p.CompoundName + p.BuildingName + p.Unit + "单元" + p.Room
}

// RegisterVulnerable records a vulnerable person of the actor's grid.
func (s *Service) RegisterVulnerable(ctx context.Context, a *service.Actor, in VulnerableInput) (VulnerableView, error) {
	if a == nil {
		return VulnerableView{}, service.ErrUnauthenticated
	}
	v, err := checkVulnerable(in)
	if err != nil {
		return VulnerableView{}, err
	}
	if in.UserID != 0 {
		ok, err := model.Exists[model.User](ctx, s.db, in.UserID)
		if err != nil {
			return VulnerableView{}, err
		}
		if !ok {
			return VulnerableView{}, errVulnUser
		}
	}
	h, err := s.vulnerableHome(ctx, a, in)
	if err != nil {
		return VulnerableView{}, err
	}
	one := int8(1)
	v.HouseholdID, v.Ancestry, v.Active, v.RegisteredBy = h.ID, h.Ancestry, &one, a.UserID
	now := s.clock.Now().UTC()
	v.CreatedAt, v.UpdatedAt = now, now
	if err := model.Create(ctx, s.db, &v); err != nil {
		if errors.Is(err, model.ErrDuplicate) {
			return VulnerableView{}, errVulnDuplicate
		}
		return VulnerableView{}, err
	}
	vs, err := s.vulnerableViews(ctx, []model.Vulnerable{v})
	if err != nil {
		return VulnerableView{}, err
	}
	return vs[0], nil
}

// vulnerableHome is the household a registration is for: the one given,
// which must be in the actor's grid (and the user's home, if a user is
// given), or else the user's one household in the actor's grids.
func (s *Service) vulnerableHome(ctx context.Context, a *service.Actor, in VulnerableInput) (model.Household, error) {
	if in.HouseholdID != 0 {
		h, err := model.ByID[model.Household](ctx, s.db, in.HouseholdID)
		if errors.Is(err, model.ErrNotFound) {
			return h, errVulnHousehold
		}
		if err != nil {
			return h, err
		}
		if !a.Can(service.Target{Kind: "household", ID: h.ID, Ancestry: h.Ancestry}, model.RoleGridWorker) {
			return h, errVulnNotGrid
		}
		if in.UserID != 0 {
			lives, err := model.LivesIn(ctx, s.db, in.UserID, h.ID)
			if err != nil {
				return h, err
			}
			if !lives {
				return h, errVulnNotThere
			}
		}
		return h, nil
	}
	rs, err := model.ResidenciesOf(ctx, s.db, in.UserID)
	if err != nil {
		return model.Household{}, err
	}
	var mine []model.Residency
	for _, r := range rs {
		if a.Can(service.Target{Kind: "household", ID: r.HouseholdID, Ancestry: r.Ancestry}, model.RoleGridWorker) {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 && (len(rs) > 0 || !a.Has(model.RoleGridWorker)) {
		return model.Household{}, errVulnNotGrid
	}
	if len(mine) != 1 {
		return model.Household{}, errVulnNoHome
	}
	return model.ByID[model.Household](ctx, s.db, mine[0].HouseholdID)
}

func checkVulnerable(in VulnerableInput) (model.Vulnerable, error) {
	v := model.Vulnerable{UserID: in.UserID, Kind: in.Kind, Name: strings.TrimSpace(in.Name), Note: strings.TrimSpace(in.Note)}
	if in.UserID < 0 || in.HouseholdID < 0 || (in.UserID == 0 && in.HouseholdID == 0) {
		return v, errVulnWho
	}
	if !slices.Contains(VulnerableKinds, in.Kind) {
		return v, errVulnKind
	}
	if n := utf8.RuneCountInString(v.Name); n > 32 || (n == 0 && in.UserID == 0) {
		return v, errVulnName
	}
	if utf8.RuneCountInString(v.Note) > 200 {
		return v, errVulnNote
	}
	if len(in.Contacts) > 5 {
		return v, errVulnContacts
	}
	v.Contacts = make([]model.EmergencyContact, 0, len(in.Contacts))
	for _, c := range in.Contacts {
		c = model.EmergencyContact{Name: strings.TrimSpace(c.Name), Phone: strings.TrimSpace(c.Phone), Relation: strings.TrimSpace(c.Relation)}
		if n := utf8.RuneCountInString(c.Name); n == 0 || n > 20 || !phoneLike(c.Phone) || utf8.RuneCountInString(c.Relation) > 10 {
			return v, errVulnContacts
		}
		v.Contacts = append(v.Contacts, c)
	}
	return v, nil
}

// phoneLike accepts mobile and landline numbers: 5 to 20 digits with an
// optional leading + and dashes.
func phoneLike(p string) bool {
	digits := 0
	for i, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '-' && i > 0:
		case r == '+' && i == 0:
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 20
}

// RemoveVulnerable ends a registration (grid workers of its grid). The row
// stays for the calls that refer to it.
func (s *Service) RemoveVulnerable(ctx context.Context, a *service.Actor, id int64) error {
	if a == nil {
		return service.ErrUnauthenticated
	}
	v, err := model.LiveVulnerable(ctx, s.db, id)
	if errors.Is(err, model.ErrNotFound) {
		return errVulnMissing
	}
	if err != nil {
		return err
	}
	if !a.Can(service.Target{Kind: "household", ID: v.HouseholdID, Ancestry: v.Ancestry}, model.RoleGridWorker) {
		return errVulnNotGrid
	}
	n, err := model.RemoveVulnerable(ctx, s.db, id, a.UserID, s.clock.Now().UTC())
	if err != nil {
		return err
	}
	if n == 0 {
		return errVulnMissing
	}
	return nil
}

// Vulnerables lists the live registrations in the actor's scope, newest
// first, optionally of one grid.
func (s *Service) Vulnerables(ctx context.Context, a *service.Actor, gridID int64, p service.Page) (service.Paged[VulnerableView], error) {
	var none service.Paged[VulnerableView]
	if a == nil {
		return none, service.ErrUnauthenticated
	}
	scopes := treeScopesOf(a, vulnerableRoles)
	if len(scopes) == 0 {
		return none, errVulnRole
	}
	if gridID != 0 {
		g, err := model.ByID[model.Grid](ctx, s.db, gridID)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return none, err
		}
		if !a.Can(service.Target{Kind: model.ScopeGrid, ID: gridID, Ancestry: g.Ancestry}, vulnerableRoles...) {
			return none, errVulnScope
		}
	}
	if p.Limit <= 0 {
		p.Limit = 20
	}
	rows, err := model.LiveVulnerablesIn(ctx, s.db, scopes, gridID, p.After, p.Limit+1)
	if err != nil {
		return none, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.vulnerableViews(ctx, page.Items)
	if err != nil {
		return none, err
	}
	return service.Paged[VulnerableView]{Items: vs, More: page.More}, nil
}

func (s *Service) vulnerableViews(ctx context.Context, vs []model.Vulnerable) ([]VulnerableView, error) {
	users, hhs := idSet{}, idSet{}
	for _, v := range vs {
		users.add(v.UserID)
		hhs.add(v.HouseholdID)
	}
	names, err := s.userNames(ctx, users)
	if err != nil {
		return nil, err
	}
	places, err := placesOf(ctx, s.db, hhs.list())
	if err != nil {
		return nil, err
	}
	out := make([]VulnerableView, len(vs))
	for i, v := range vs {
		out[i] = VulnerableView{Vulnerable: v, UserName: names[v.UserID].DisplayName, callPlace: places[v.HouseholdID]}
		if out[i].Name == "" {
			out[i].Name = out[i].UserName
		}
	}
	return out, nil
}

func (s *Service) userNames(ctx context.Context, ids idSet) (map[int64]model.User, error) {
	us, err := model.AllByID[model.User](ctx, s.db, ids.list())
	if err != nil {
		return nil, err
	}
	out := make(map[int64]model.User, len(us))
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// placesOf loads the addresses of households with one query.
func placesOf(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]callPlace, error) {
	ps, err := model.HouseholdPlaces(ctx, db, ids)
	if err != nil {
		return nil, fmt.Errorf("household places: %w", err)
	}
	out := make(map[int64]callPlace, len(ps))
	for _, p := range ps {
		out[p.ID] = callPlace{CompoundName: p.CompoundName, BuildingName: p.BuildingName, Unit: p.Unit, Room: p.Room}
	}
	return out, nil
}
