package order

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
	"redprop/service/message"
)

// The one-key emergency call (一键呼叫, 民呼社应). A grid worker registers
// the vulnerable people of their grid; they, or anyone living in their
// household, raise a call with one request. The call becomes an order of
// category "emergency" at community level — the seeds' call goes straight
// to the community service hall, with the grid worker and the building
// steward as first responders — and alerts all three at once. The alert
// repeats until somebody acknowledges; unacknowledged for too long, the
// call goes to the street. While unacknowledged, the order has no step
// deadline: the call's own clock governs, so the ordinary breach ladder
// does not escalate it a second time. Acknowledging hands the order to the
// grid (accepted), arriving starts the work, resolving completes it; the
// grid worker then confirms it like any other order.

// Timeline actions of emergency calls.
const (
	evCall        = "emergency_call"
	evCallAck     = "emergency_ack"
	evCallArrive  = "emergency_arrive"
	evCallResolve = "emergency_resolve"
)

// emergencyCategory is the category code of emergency orders.
const emergencyCategory = "emergency"

// Fallbacks for Options left zero (the configuration's defaults).
const (
	defaultEmergencyRepeat        = 3 * time.Minute
	defaultEmergencyEscalateAfter = 10 * time.Minute
)

// VulnerableKinds lists the kinds of vulnerable person.
var VulnerableKinds = []string{model.VulnerableElderlyAlone, model.VulnerableLeftBehindChild,
	model.VulnerableDisabled, model.VulnerableOther}

var vulnerableLabel = map[string]string{
	model.VulnerableElderlyAlone:    "独居老人",
	model.VulnerableLeftBehindChild: "留守儿童",
	model.VulnerableDisabled:        "残疾人",
	model.VulnerableOther:           "关爱对象",
}

// responderRoles may see, acknowledge, arrive at and resolve a call in
// their scope: the three alerted groups, the community's dispatchers
// (alerted when it has nobody on duty) and the street it may escalate to.
var responderRoles = []string{model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityDuty,
	model.RoleCommunityStaff, model.RoleStreetStaff}

// vulnerableRoles may list the registrations of their scope; only grid
// workers register and remove them.
var vulnerableRoles = []string{model.RoleGridWorker, model.RoleCommunityDuty, model.RoleCommunityStaff}

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

	errCallNotAllowed = service.Forbidden("not_vulnerable", "只有登记的关爱对象及其同户家人可以使用一键呼叫，请联系网格员登记")
	errCallHousehold  = service.Invalid("household_required", "您关联了多个登记房屋，请选择为哪一户呼叫")
	errCallNote       = service.Invalid("bad_note", "补充说明不能超过 200 个字")
	errCallMissing    = service.NotFound("call_not_found", "紧急呼叫不存在")
	errCallHidden     = service.Forbidden("out_of_scope", "该紧急呼叫不在您的管辖范围内")
	errCallResponder  = service.Forbidden("not_responder", "只有该网格的网格员、该楼栋的楼栋长和社区、街道工作人员可以处置紧急呼叫")
	errCallResolved   = service.Unprocessable("call_resolved", "该紧急呼叫已处置完毕")
	errCallAcked      = service.Conflict("already_acknowledged", "该紧急呼叫已有人响应")
	errCallArrived    = service.Conflict("already_arrived", "已有人到达现场")
	errCallUnready    = service.Unavailable("emergency_unavailable", "一键呼叫暂不可用，请直接拨打社区电话")
	errCallListRole   = service.Forbidden("not_responder", "只有网格员、楼栋长和社区、街道工作人员可以查看紧急呼叫")
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
	db := s.db.WithContext(ctx)
	if in.UserID != 0 {
		if err := model.Translate(db.Select("id").Take(&model.User{}, in.UserID).Error); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return VulnerableView{}, errVulnUser
			}
			return VulnerableView{}, err
		}
	}
	var h model.Household
	if in.HouseholdID != 0 {
		if err := model.Translate(db.Take(&h, in.HouseholdID).Error); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return VulnerableView{}, errVulnHousehold
			}
			return VulnerableView{}, err
		}
		if !a.Can(service.Target{Kind: "household", ID: h.ID, Ancestry: h.Ancestry}, model.RoleGridWorker) {
			return VulnerableView{}, errVulnNotGrid
		}
		if in.UserID != 0 {
			var n int64
			if err := db.Model(&model.Residency{}).Where("user_id = ? AND household_id = ?", in.UserID, h.ID).Count(&n).Error; err != nil {
				return VulnerableView{}, err
			}
			if n == 0 {
				return VulnerableView{}, errVulnNotThere
			}
		}
	} else {
		// Only a user: their one household in the actor's grids.
		var rs []model.Residency
		if err := db.Where("user_id = ?", in.UserID).Order("id").Find(&rs).Error; err != nil {
			return VulnerableView{}, err
		}
		var mine []model.Residency
		for _, r := range rs {
			if a.Can(service.Target{Kind: "household", ID: r.HouseholdID, Ancestry: r.Ancestry}, model.RoleGridWorker) {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 && (len(rs) > 0 || !a.Has(model.RoleGridWorker)) {
			return VulnerableView{}, errVulnNotGrid
		}
		if len(mine) != 1 {
			return VulnerableView{}, errVulnNoHome
		}
		if err := db.Take(&h, mine[0].HouseholdID).Error; err != nil {
			return VulnerableView{}, err
		}
	}
	one := int8(1)
	v.HouseholdID, v.Ancestry, v.Active, v.RegisteredBy = h.ID, h.Ancestry, &one, a.UserID
	now := s.clock.Now().UTC()
	v.CreatedAt, v.UpdatedAt = now, now
	if err := model.Translate(db.Create(&v).Error); err != nil {
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
	var v model.Vulnerable
	if err := model.Translate(s.db.WithContext(ctx).Where("active = 1").Take(&v, id).Error); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return errVulnMissing
		}
		return err
	}
	if !a.Can(service.Target{Kind: "household", ID: v.HouseholdID, Ancestry: v.Ancestry}, model.RoleGridWorker) {
		return errVulnNotGrid
	}
	now := s.clock.Now().UTC()
	res := s.db.WithContext(ctx).Model(&model.Vulnerable{}).Where("id = ? AND active = 1", id).
		Updates(map[string]any{"active": nil, "removed_at": now, "removed_by": a.UserID, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
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
	cond, args := scopeCondition(a, vulnerableRoles)
	if cond == "" {
		return none, errVulnRole
	}
	q := s.db.WithContext(ctx).Model(&model.Vulnerable{}).Where("active = 1").Where(cond, args...)
	if gridID != 0 {
		var g model.Grid
		if err := model.Translate(s.db.WithContext(ctx).Take(&g, gridID).Error); err != nil && !errors.Is(err, model.ErrNotFound) {
			return none, err
		}
		if !a.Can(service.Target{Kind: model.ScopeGrid, ID: gridID, Ancestry: g.Ancestry}, vulnerableRoles...) {
			return none, errVulnScope
		}
		q = q.Where("grid_id = ?", gridID)
	}
	if p.After > 0 {
		q = q.Where("id < ?", p.After)
	}
	if p.Limit <= 0 {
		p.Limit = 20
	}
	var rows []model.Vulnerable
	if err := q.Order("id DESC").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return none, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.vulnerableViews(ctx, page.Items)
	if err != nil {
		return none, err
	}
	return service.Paged[VulnerableView]{Items: vs, More: page.More}, nil
}

// scopeCondition is the SQL condition on the Ancestry columns of the rows
// the actor's grants of roles cover ("" when none do).
func scopeCondition(a *service.Actor, roles []string) (string, []any) {
	var parts []string
	var args []any
	treeScopes(a, func(sql string, xs ...any) {
		parts = append(parts, "("+sql+")")
		args = append(args, xs...)
	}, "", append(slices.Clone(roles), model.RolePlatformAdmin)...)
	if len(parts) == 0 {
		return "", nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
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
	places, err := s.places(ctx, hhs)
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
	out := map[int64]model.User{}
	if len(ids) == 0 {
		return out, nil
	}
	var us []model.User
	if err := s.db.WithContext(ctx).Select("id", "display_name", "phone").Where("id IN ?", ids.list()).Find(&us).Error; err != nil {
		return nil, err
	}
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// places loads the addresses of households with one query.
func (s *Service) places(ctx context.Context, ids idSet) (map[int64]callPlace, error) {
	out := map[int64]callPlace{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID           int64
		Unit, Room   string
		BuildingName string
		CompoundName string
	}
	err := s.db.WithContext(ctx).Table("households h").
		Select("h.id, h.unit, h.room, b.name AS building_name, c.name AS compound_name").
		Joins("JOIN buildings b ON b.id = h.building_id").
		Joins("JOIN compounds c ON c.id = h.compound_id").
		Where("h.id IN ?", ids.list()).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("household places: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = callPlace{CompoundName: r.CompoundName, BuildingName: r.BuildingName, Unit: r.Unit, Room: r.Room}
	}
	return out, nil
}

// CallInput raises an emergency call. Both fields are optional: a caller
// linked to one registered household needs to say nothing.
type CallInput struct {
	HouseholdID int64
	Note        string
}

// CallView is a call with its order and the person it is for. Caller's
// name and phone are filled for responders only.
type CallView struct {
	model.EmergencyCall
	OrderNumber string
	OrderState  string
	OrderLevel  string
	Vulnerable  VulnerableView
	CallerName  string
	CallerPhone string
}

// Status is open, acknowledged, arrived or resolved.
func (v CallView) Status() string {
	switch {
	case v.ResolvedAt != nil:
		return "resolved"
	case v.ArrivedAt != nil:
		return "arrived"
	case v.AcknowledgedAt != nil:
		return "acknowledged"
	}
	return "open"
}

// CallTarget is a household the actor may raise a call for.
type CallTarget struct {
	VulnerableView
	OpenCallID int64 // the household's unresolved call, 0 when none
}

// CallTargets lists the registrations the actor may call for: their own
// and those of the households they live in. The mini-program shows the
// button only when there is one.
func (s *Service) CallTargets(ctx context.Context, a *service.Actor) ([]CallTarget, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	regs, err := s.callableFor(ctx, a.UserID, 0)
	if err != nil {
		return nil, err
	}
	vs, err := s.vulnerableViews(ctx, regs)
	if err != nil {
		return nil, err
	}
	hids := make([]int64, len(regs))
	for i, r := range regs {
		hids[i] = r.HouseholdID
	}
	open := map[int64]int64{}
	if len(hids) > 0 {
		var calls []model.EmergencyCall
		if err := s.db.WithContext(ctx).Select("id", "household_id").Where("open_household IN ?", hids).Find(&calls).Error; err != nil {
			return nil, err
		}
		for _, c := range calls {
			open[c.HouseholdID] = c.ID
		}
	}
	out := make([]CallTarget, len(vs))
	for i, v := range vs {
		out[i] = CallTarget{VulnerableView: v, OpenCallID: open[v.HouseholdID]}
	}
	return out, nil
}

// callableFor returns the live registrations userID may call for: their
// own, and any of a household they live in (of one household if given).
func (s *Service) callableFor(ctx context.Context, userID, householdID int64) ([]model.Vulnerable, error) {
	q := s.db.WithContext(ctx).Where("active = 1").
		Where("(user_id = ? OR household_id IN (?))", userID,
			s.db.Model(&model.Residency{}).Select("household_id").Where("user_id = ?", userID))
	if householdID != 0 {
		q = q.Where("household_id = ?", householdID)
	}
	var regs []model.Vulnerable
	if err := q.Order("id").Find(&regs).Error; err != nil {
		return nil, err
	}
	return regs, nil
}

// Call raises an emergency call for a registered vulnerable person, or
// returns the household's call that is still open (created is then
// false): a double tap, or two family members at once, raise one call.
func (s *Service) Call(ctx context.Context, a *service.Actor, in CallInput) (CallView, bool, error) {
	if a == nil {
		return CallView{}, false, service.ErrUnauthenticated
	}
	in.Note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(in.Note) > 200 {
		return CallView{}, false, errCallNote
	}
	if in.HouseholdID < 0 {
		return CallView{}, false, errCallNotAllowed
	}
	regs, err := s.callableFor(ctx, a.UserID, in.HouseholdID)
	if err != nil {
		return CallView{}, false, err
	}
	if len(regs) == 0 {
		return CallView{}, false, errCallNotAllowed
	}
	reg := regs[0]
	for _, r := range regs {
		if r.HouseholdID != reg.HouseholdID {
			return CallView{}, false, errCallHousehold
		}
		if r.UserID == a.UserID && reg.UserID != a.UserID {
			reg = r // the caller's own registration speaks for them best
		}
	}
	if c, ok, err := s.openCall(ctx, reg.HouseholdID); err != nil || ok {
		return s.callAfterWrite(ctx, a, c, false, err)
	}
	var cat model.Category
	if err := model.Translate(s.db.WithContext(ctx).Where("code = ?", emergencyCategory).Take(&cat).Error); err != nil {
		return CallView{}, false, errCallUnready.Wrap(err)
	}
	vv, err := s.vulnerableViews(ctx, []model.Vulnerable{reg})
	if err != nil {
		return CallView{}, false, err
	}
	now := s.clock.Now().UTC()
	var call model.EmergencyCall
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		num, err := nextNumber(ctx, tx, now)
		if err != nil {
			return err
		}
		who := vulnerableLabel[reg.Kind]
		if vv[0].Name != "" {
			who += vv[0].Name
		}
		desc := "一键呼叫：" + who + "（" + vv[0].Address() + "）请求紧急帮助"
		if in.Note != "" {
			desc += "。" + in.Note
		}
		resident := reg.UserID
		if resident == 0 {
			resident = a.UserID
		}
		o := model.Order{Number: num, CategoryID: cat.ID, CategoryCode: cat.Code, State: model.StateVerified,
			Level: model.OrderLevelCommunity, Channel: model.ChannelCall, AuthorID: a.UserID, ResidentID: resident,
			HouseholdID: reg.HouseholdID, Description: service.CutRunes(desc, 1000), Ancestry: reg.Ancestry, Version: 1}
		o.CreatedAt, o.UpdatedAt = now, now
		if err := tx.Create(&o).Error; err != nil {
			return err
		}
		hid := reg.HouseholdID
		call = model.EmergencyCall{OrderID: o.ID, CallerID: a.UserID, VulnerableID: reg.ID, HouseholdID: hid,
			Note: in.Note, OpenHousehold: &hid, AlertCount: 1, LastAlertAt: now, Ancestry: reg.Ancestry}
		call.CreatedAt, call.UpdatedAt = now, now
		if err := tx.Create(&call).Error; err != nil {
			return err
		}
		role := SubmitterResident
		if reg.UserID == a.UserID {
			role = "vulnerable"
		}
		if err := s.appendEvent(ctx, tx, &o, model.OrderEvent{Action: evCall, ActorID: a.UserID, Role: role,
			Note: in.Note, CreatedAt: now}); err != nil {
			return err
		}
		return s.alert(ctx, tx, &call, &o, vv[0].callPlace, reg.Kind, "emergency.call", "紧急呼叫，请立即响应", false)
	})
	if errors.Is(model.Translate(err), model.ErrDuplicate) {
		// Another request of the household won the race: return its call.
		if c, ok, ferr := s.openCall(ctx, reg.HouseholdID); ferr == nil && ok {
			return s.callAfterWrite(ctx, a, c, false, nil)
		}
	}
	if err != nil {
		return CallView{}, false, err
	}
	return s.callAfterWrite(ctx, a, call, true, nil)
}

func (s *Service) openCall(ctx context.Context, householdID int64) (model.EmergencyCall, bool, error) {
	var c model.EmergencyCall
	err := model.Translate(s.db.WithContext(ctx).Where("open_household = ?", householdID).Take(&c).Error)
	if errors.Is(err, model.ErrNotFound) {
		return c, false, nil
	}
	return c, err == nil, err
}

func (s *Service) callAfterWrite(ctx context.Context, a *service.Actor, c model.EmergencyCall, created bool, err error) (CallView, bool, error) {
	if err != nil {
		return CallView{}, false, err
	}
	vs, err := s.callViews(ctx, a, []model.EmergencyCall{c})
	if err != nil {
		return CallView{}, false, err
	}
	return vs[0], created, nil
}

// alert writes one inbox message to each person who must respond to the
// call: the grid workers of its grid, the building stewards of its
// building and the community's duty staff (its dispatchers when nobody is
// on duty), and street staff once the call has gone to the street.
func (s *Service) alert(ctx context.Context, tx *gorm.DB, c *model.EmergencyCall, o *model.Order, place callPlace, kind, event, title string, streetOnly bool) error {
	users, err := alertRecipients(ctx, tx, c.Ancestry, c.EscalatedAt != nil, streetOnly)
	if err != nil || len(users) == 0 {
		return err
	}
	body := fmt.Sprintf("%s（%s）发起一键呼叫，工单 %s", place.Address(), vulnerableLabel[kind], o.Number)
	if c.AlertCount > 1 {
		body += fmt.Sprintf("，第 %d 次提醒", c.AlertCount)
	}
	return s.msgs.Publish(ctx, tx, message.Event{
		Kind: kindNewReport, Event: event, Key: fmt.Sprintf("emergency:%d:%s:%d", c.ID, event, c.AlertCount),
		UserIDs: users, Title: title, Body: body, OrderID: o.ID,
		Fields: map[string]string{
			message.FieldNumber: o.Number, message.FieldCategory: "一键呼叫", message.FieldPlace: place.Address(),
			message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339), message.FieldTitle: title,
		},
	})
}

// alertRecipients finds the responders of a place with one query.
func alertRecipients(ctx context.Context, tx *gorm.DB, anc model.Ancestry, street, streetOnly bool) ([]int64, error) {
	cond := "(role = ? AND scope_kind = ? AND scope_id = ?)"
	var parts []string
	var args []any
	add := func(role, kind string, id int64) {
		parts = append(parts, cond)
		args = append(args, role, kind, id)
	}
	if !streetOnly {
		add(model.RoleGridWorker, model.ScopeGrid, anc.GridID)
		add(model.RoleBuildingSteward, model.ScopeBuilding, anc.BuildingID)
		add(model.RoleCommunityDuty, model.ScopeCommunity, anc.CommunityID)
		add(model.RoleCommunityStaff, model.ScopeCommunity, anc.CommunityID)
	}
	if street || streetOnly {
		add(model.RoleStreetStaff, model.ScopeStreet, anc.StreetID)
	}
	var rows []struct {
		UserID int64
		Role   string
	}
	err := tx.WithContext(ctx).Model(&model.Grant{}).Select("user_id", "role").
		Where("revoked_at IS NULL").Where(strings.Join(parts, " OR "), args...).Order("id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("find emergency responders: %w", err)
	}
	duty := slices.ContainsFunc(rows, func(r struct {
		UserID int64
		Role   string
	}) bool {
		return r.Role == model.RoleCommunityDuty
	})
	seen := map[int64]bool{}
	var ids []int64
	for _, r := range rows {
		if (r.Role == model.RoleCommunityStaff && duty) || seen[r.UserID] {
			continue
		}
		seen[r.UserID] = true
		ids = append(ids, r.UserID)
	}
	return ids, nil
}

// EmergencyCall returns one call to its caller, the household and the
// vulnerable person, or a responder in scope.
func (s *Service) EmergencyCall(ctx context.Context, a *service.Actor, id int64) (CallView, error) {
	if a == nil {
		return CallView{}, service.ErrUnauthenticated
	}
	c, err := s.call(ctx, s.db, id)
	if err != nil {
		return CallView{}, err
	}
	if !isResponder(a, &c) {
		ok, err := s.isCallFamily(ctx, a, &c)
		if err != nil {
			return CallView{}, err
		}
		if !ok {
			return CallView{}, errCallHidden
		}
	}
	vs, err := s.callViews(ctx, a, []model.EmergencyCall{c})
	if err != nil {
		return CallView{}, err
	}
	return vs[0], nil
}

func (s *Service) call(ctx context.Context, db *gorm.DB, id int64) (model.EmergencyCall, error) {
	var c model.EmergencyCall
	if err := model.Translate(db.WithContext(ctx).Take(&c, id).Error); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return c, errCallMissing
		}
		return c, err
	}
	return c, nil
}

func callTarget(c *model.EmergencyCall) service.Target {
	return service.Target{Kind: "household", ID: c.HouseholdID, Ancestry: c.Ancestry}
}

// responderRole is the role in which the actor responds to c ("" if not).
func responderRole(a *service.Actor, c *model.EmergencyCall) string {
	g, ok := a.GrantFor(callTarget(c), responderRoles...)
	if !ok {
		return ""
	}
	return g.Role
}

func isResponder(a *service.Actor, c *model.EmergencyCall) bool {
	return responderRole(a, c) != "" || a.IsAdmin()
}

// isCallFamily reports whether the actor raised the call, is the person it
// is for, or lives in its household.
func (s *Service) isCallFamily(ctx context.Context, a *service.Actor, c *model.EmergencyCall) (bool, error) {
	if a.UserID == c.CallerID {
		return true, nil
	}
	var n int64
	err := s.db.WithContext(ctx).Model(&model.Residency{}).Where("user_id = ? AND household_id = ?", a.UserID, c.HouseholdID).Count(&n).Error
	if err != nil || n > 0 {
		return n > 0, err
	}
	err = s.db.WithContext(ctx).Model(&model.Vulnerable{}).Where("id = ? AND user_id = ?", c.VulnerableID, a.UserID).Count(&n).Error
	return n > 0, err
}

// OpenCalls lists the unresolved calls in the actor's scope, newest first.
func (s *Service) OpenCalls(ctx context.Context, a *service.Actor, p service.Page) (service.Paged[CallView], error) {
	var none service.Paged[CallView]
	if a == nil {
		return none, service.ErrUnauthenticated
	}
	cond, args := scopeCondition(a, responderRoles)
	if cond == "" {
		return none, errCallListRole
	}
	q := s.db.WithContext(ctx).Model(&model.EmergencyCall{}).Where("resolved_at IS NULL").Where(cond, args...)
	if p.After > 0 {
		q = q.Where("id < ?", p.After)
	}
	if p.Limit <= 0 {
		p.Limit = 20
	}
	var rows []model.EmergencyCall
	if err := q.Order("id DESC").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return none, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.callViews(ctx, a, page.Items)
	if err != nil {
		return none, err
	}
	return service.Paged[CallView]{Items: vs, More: page.More}, nil
}

// callViews converts calls with a constant number of queries.
func (s *Service) callViews(ctx context.Context, a *service.Actor, calls []model.EmergencyCall) ([]CallView, error) {
	orderIDs, vulnIDs, callers := idSet{}, idSet{}, idSet{}
	for _, c := range calls {
		orderIDs.add(c.OrderID)
		vulnIDs.add(c.VulnerableID)
		callers.add(c.CallerID)
	}
	db := s.db.WithContext(ctx)
	orders := map[int64]model.Order{}
	if len(orderIDs) > 0 {
		var os []model.Order
		if err := db.Select("id", "number", "state", "level").Where("id IN ?", orderIDs.list()).Find(&os).Error; err != nil {
			return nil, err
		}
		for _, o := range os {
			orders[o.ID] = o
		}
	}
	var regs []model.Vulnerable
	if len(vulnIDs) > 0 {
		if err := db.Where("id IN ?", vulnIDs.list()).Find(&regs).Error; err != nil {
			return nil, err
		}
	}
	rvs, err := s.vulnerableViews(ctx, regs)
	if err != nil {
		return nil, err
	}
	byVuln := map[int64]VulnerableView{}
	for _, v := range rvs {
		byVuln[v.ID] = v
	}
	users, err := s.userNames(ctx, callers)
	if err != nil {
		return nil, err
	}
	out := make([]CallView, len(calls))
	for i, c := range calls {
		o := orders[c.OrderID]
		v := CallView{EmergencyCall: c, OrderNumber: o.Number, OrderState: o.State, OrderLevel: o.Level, Vulnerable: byVuln[c.VulnerableID]}
		v.OpenHousehold = nil
		if isResponder(a, &c) || a.UserID == c.CallerID {
			// Responders must be able to phone whoever pressed the button.
			v.CallerName, v.CallerPhone = users[c.CallerID].DisplayName, users[c.CallerID].Phone
		}
		out[i] = v
	}
	return out, nil
}

// Responder actions on a call.
const (
	// CallAcknowledge records that a responder has taken the call: the
	// alerts stop, and the order goes to the grid (accepted) if nobody had
	// taken it.
	CallAcknowledge = "acknowledge"
	// CallArrive records that a responder is on the spot (acknowledging
	// the call too, if nobody had).
	CallArrive = "arrive"
	// CallResolve closes the call and completes its order; the grid
	// worker then confirms it like any other order.
	CallResolve = "resolve"
)

var callEvents = map[string]string{CallAcknowledge: evCallAck, CallArrive: evCallArrive, CallResolve: evCallResolve}

var errCallAction = service.Invalid("bad_action", "紧急呼叫的操作只能是 acknowledge、arrive 或 resolve")

// RespondCall runs a responder action on a call, with an optional note
// for the timeline.
func (s *Service) RespondCall(ctx context.Context, a *service.Actor, id int64, action, note string) (CallView, error) {
	ev, ok := callEvents[action]
	if !ok {
		return CallView{}, errCallAction
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 500 {
		return CallView{}, errNote
	}
	return s.respond(ctx, a, id, ev, note)
}

// respond runs one responder action: a compare-and-set on the call's
// times, then the order's move, in one transaction.
func (s *Service) respond(ctx context.Context, a *service.Actor, id int64, action, note string) (CallView, error) {
	if a == nil {
		return CallView{}, service.ErrUnauthenticated
	}
	c, err := s.call(ctx, s.db, id)
	if err != nil {
		return CallView{}, err
	}
	role := responderRole(a, &c)
	if role == "" {
		return CallView{}, errCallResponder
	}
	if c.ResolvedAt != nil {
		return CallView{}, errCallResolved
	}
	now := s.clock.Now().UTC()
	var cat model.Category
	if err := s.db.WithContext(ctx).Where("code = ?", emergencyCategory).Take(&cat).Error; err != nil {
		return CallView{}, errCallUnready.Wrap(err)
	}
	// Deadlines may be re-armed inside the transaction: the calendar is
	// read before it (SQLite has one connection).
	cal, err := s.workCalendar(ctx, cat)
	if err != nil {
		return CallView{}, err
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		set := map[string]any{"updated_at": now}
		q := tx.Model(&model.EmergencyCall{}).Where("id = ? AND resolved_at IS NULL", id)
		switch action {
		case evCallAck:
			q = q.Where("acknowledged_at IS NULL")
			set["acknowledged_at"], set["acknowledged_by"] = now, a.UserID
		case evCallArrive:
			q = q.Where("arrived_at IS NULL")
			set["arrived_at"], set["arrived_by"] = now, a.UserID
		case evCallResolve:
			set["resolved_at"], set["resolved_by"], set["open_household"] = now, a.UserID, nil
		}
		res := q.Updates(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			cur, err := s.call(ctx, tx, id)
			switch {
			case err != nil:
				return err
			case cur.ResolvedAt != nil:
				return errCallResolved
			case action == evCallAck:
				return errCallAcked.WithDetail(map[string]any{"acknowledged_by": cur.AcknowledgedBy})
			}
			return errCallArrived.WithDetail(map[string]any{"arrived_by": cur.ArrivedBy})
		}
		if action != evCallAck {
			// Arriving or resolving is the first response when nobody
			// acknowledged before.
			if err := tx.Model(&model.EmergencyCall{}).Where("id = ? AND acknowledged_at IS NULL", id).
				Updates(map[string]any{"acknowledged_at": now, "acknowledged_by": a.UserID}).Error; err != nil {
				return err
			}
		}
		return s.moveCallOrder(ctx, tx, c.OrderID, cat, cal, action, a.UserID, role, note, now)
	})
	if err != nil {
		return CallView{}, err
	}
	c, err = s.call(ctx, s.db, id)
	if err != nil {
		return CallView{}, err
	}
	vs, err := s.callViews(ctx, a, []model.EmergencyCall{c})
	if err != nil {
		return CallView{}, err
	}
	return vs[0], nil
}

// moveCallOrder moves the call's order for a responder action, as far as
// its state allows (a dispatcher may have moved it meanwhile), and writes
// the timeline row either way. The order row is locked first so the
// compare-and-set cannot lose to a transition in between.
func (s *Service) moveCallOrder(ctx context.Context, tx *gorm.DB, orderID int64, cat model.Category, cal *calendar.Calendar, action string, actorID int64, role, note string, now time.Time) error {
	o, err := model.LockOrder(ctx, tx, orderID)
	if err != nil {
		return fmt.Errorf("lock order %d: %w", orderID, err)
	}
	prev := o
	toGridHands := func() {
		if o.HandlerKind == "" {
			o.HandlerKind, o.HandlerID = model.HandlerGrid, o.GridID
		}
	}
	var events []string
	switch {
	case action == evCallAck && o.State == model.StateVerified:
		toGridHands()
		o.State = model.StateAccepted
		armStep(&o, cat, now, cal)
		events = []string{"accepted"}
	case action == evCallArrive && (o.State == model.StateVerified || o.State == model.StateAccepted):
		toGridHands()
		o.State = model.StateInProgress
		if prev.State == model.StateVerified {
			armStep(&o, cat, now, cal)
		}
	case action == evCallResolve && slices.Contains([]string{model.StateVerified, model.StateDispatched,
		model.StateAccepted, model.StateInProgress}, o.State):
		toGridHands()
		o.State = model.StateCompleted
		o.CompletedAt = &now
		armStep(&o, cat, now, cal)
		events = []string{"completed", "to_confirm"}
	}
	return s.move(ctx, tx, &move{prev: prev, next: o, now: now, action: action, actorID: actorID, role: role,
		note: note, events: events, keepIfSame: o.State == prev.State})
}

// tickEmergency sends unacknowledged calls to the street once they have
// waited EmergencyEscalateAfter, and repeats their alert every
// EmergencyRepeat.
func (s *Service) tickEmergency(ctx context.Context, now time.Time, st *TickStats) error {
	repeat, after := s.opts.EmergencyRepeat, s.opts.EmergencyEscalateAfter
	if repeat <= 0 {
		repeat = defaultEmergencyRepeat
	}
	if after <= 0 {
		after = defaultEmergencyEscalateAfter
	}
	callID := func(c model.EmergencyCall) int64 { return c.ID }
	waiting := s.db.WithContext(ctx).Model(&model.EmergencyCall{}).Where("resolved_at IS NULL AND acknowledged_at IS NULL")
	page := func(q *gorm.DB) func(after int64, limit int) ([]model.EmergencyCall, error) {
		return func(after int64, limit int) ([]model.EmergencyCall, error) {
			var rows []model.EmergencyCall
			err := q.Session(&gorm.Session{}).Where("id > ?", after).Order("id").Limit(limit).Find(&rows).Error
			return rows, err
		}
	}
	err := eachBatch(page(waiting.Session(&gorm.Session{}).Where("escalated_at IS NULL AND created_at <= ?", now.Add(-after))), callID,
		func(rows []model.EmergencyCall) error {
			for i := range rows {
				won, err := s.escalateCall(ctx, &rows[i], now)
				if err != nil {
					return fmt.Errorf("escalate call %d: %w", rows[i].ID, err)
				}
				if won {
					st.EmergencyEscalated++
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	return eachBatch(page(waiting.Session(&gorm.Session{}).Where("last_alert_at <= ?", now.Add(-repeat))), callID,
		func(rows []model.EmergencyCall) error {
			for i := range rows {
				won, err := s.repeatAlert(ctx, &rows[i], now)
				if err != nil {
					return fmt.Errorf("repeat alert of call %d: %w", rows[i].ID, err)
				}
				if won {
					st.EmergencyAlerts++
				}
			}
			return nil
		})
}

// repeatAlert alerts the responders again (compare-and-set on the alert
// count, so two schedulers send one repeat).
func (s *Service) repeatAlert(ctx context.Context, c *model.EmergencyCall, now time.Time) (bool, error) {
	var won bool
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&model.EmergencyCall{}).
			Where("id = ? AND alert_count = ? AND acknowledged_at IS NULL AND resolved_at IS NULL", c.ID, c.AlertCount).
			Updates(map[string]any{"alert_count": c.AlertCount + 1, "last_alert_at": now, "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		won = true
		c.AlertCount++
		c.LastAlertAt = now
		o, place, kind, err := s.callContext(ctx, tx, c)
		if err != nil {
			return err
		}
		title := fmt.Sprintf("紧急呼叫仍无人响应（第 %d 次提醒）", c.AlertCount)
		return s.alert(ctx, tx, c, &o, place, kind, "emergency.repeat", title, false)
	})
	return won, err
}

// escalateCall sends an unacknowledged call to the street: the order's
// level becomes street (unless someone raised it higher already) and the
// street's staff are alerted. The call's escalated_at is the
// compare-and-set that makes it happen once.
func (s *Service) escalateCall(ctx context.Context, c *model.EmergencyCall, now time.Time) (bool, error) {
	var won bool
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&model.EmergencyCall{}).
			Where("id = ? AND escalated_at IS NULL AND acknowledged_at IS NULL AND resolved_at IS NULL", c.ID).
			Updates(map[string]any{"escalated_at": now, "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		won = true
		c.EscalatedAt = &now
		o, err := model.LockOrder(ctx, tx, c.OrderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", c.OrderID, err)
		}
		if slices.Index(ladder, o.Level) < slices.Index(ladder, model.OrderLevelStreet) {
			next := o
			next.Level = model.OrderLevelStreet
			m := &move{prev: o, next: next, now: now, action: evEscalate, role: roleSystem, note: "紧急呼叫无人响应，自动升级至街道"}
			if err := s.move(ctx, tx, m); err != nil {
				return err
			}
			o = m.next
		}
		_, place, kind, err := s.callContext(ctx, tx, c)
		if err != nil {
			return err
		}
		return s.alert(ctx, tx, c, &o, place, kind, "emergency.escalated", "紧急呼叫无人响应，已升级至街道", true)
	})
	return won, err
}

// callContext loads what an alert says: the order number, the address and
// the kind of person.
func (s *Service) callContext(ctx context.Context, tx *gorm.DB, c *model.EmergencyCall) (model.Order, callPlace, string, error) {
	var o model.Order
	if err := tx.WithContext(ctx).Select("id", "number").Take(&o, c.OrderID).Error; err != nil {
		return o, callPlace{}, "", err
	}
	var v model.Vulnerable
	if err := tx.WithContext(ctx).Select("id", "kind").Take(&v, c.VulnerableID).Error; err != nil {
		return o, callPlace{}, "", err
	}
	var h struct {
		Unit, Room   string
		BuildingName string
		CompoundName string
	}
	err := tx.WithContext(ctx).Table("households h").
		Select("h.unit, h.room, b.name AS building_name, c.name AS compound_name").
		Joins("JOIN buildings b ON b.id = h.building_id").
		Joins("JOIN compounds c ON c.id = h.compound_id").
		Where("h.id = ?", c.HouseholdID).Scan(&h).Error
	if err != nil {
		return o, callPlace{}, "", err
	}
	return o, callPlace{CompoundName: h.CompoundName, BuildingName: h.BuildingName, Unit: h.Unit, Room: h.Room}, v.Kind, nil
}

// endsCall are the ordinary order actions after which an emergency call
// has nothing left to alert about: the caller cancelled (误按), a
// responder rejected, merged or resolved it on the spot.
var endsCall = map[string]bool{ActCancel: true, ActReject: true, ActMerge: true, ActResolve: true}

// endCall settles the open call of an order ended outside the call's own
// endpoints, inside the order's transaction: no more repeats, no street
// escalation, and the household may call again.
func endCall(tx *gorm.DB, orderID, by int64, now time.Time) error {
	return tx.Model(&model.EmergencyCall{}).Where("order_id = ? AND resolved_at IS NULL", orderID).
		Updates(map[string]any{"resolved_at": now, "resolved_by": by, "open_household": nil, "updated_at": now}).Error
}
