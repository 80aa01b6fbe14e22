package wish

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// View is a wish as one actor may see it.
type View struct {
	Wish           model.Wish
	AuthorName     string
	ResidentName   string
	ResidentPhone  string // for its claimer, the steward and staff only
	ClaimerName    string
	HouseholdLabel string // e.g. 金日天玺1号楼1单元101: where to help
}

// standing is what one actor is to one wish.
type standing struct {
	own     bool // its author or the resident it is for
	claimer bool
	helper  bool // a party member or volunteer whose grant covers it: may claim
	steward bool // the building steward or grid worker: may thank for the resident
	staff   bool // community staff and above
}

func (s *Service) standing(ctx context.Context, a *service.Actor, w model.Wish) (standing, error) {
	t := householdTarget(w.HouseholdID, w.Ancestry)
	st := standing{
		own:     a.UserID == w.AuthorID || a.UserID == w.ResidentID,
		claimer: w.ClaimerID != 0 && a.UserID == w.ClaimerID,
		helper:  a.Can(t, helperRoles...),
		steward: a.Can(t, stewardRoles...),
		staff:   a.Can(t, staffRoles...),
	}
	if st == (standing{}) {
		return st, service.ErrOutOfScope
	}
	return st, nil
}

// Get returns one wish to its author and resident, its claimer, the party
// members and volunteers, steward, grid worker and staff whose scope
// covers it.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	w, err := take(ctx, s.db, id, false)
	if err != nil {
		return View{}, err
	}
	st, err := s.standing(ctx, a, w)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, []model.Wish{w})
	if err != nil {
		return View{}, err
	}
	v := vs[0]
	phone := st.steward || st.staff || (st.claimer && (w.State == model.WishClaimed || w.State == model.WishFulfilled))
	if phone {
		var u model.User
		if err := s.db.WithContext(ctx).Select("id", "phone").Take(&u, w.ResidentID).Error; err == nil {
			v.ResidentPhone = u.Phone
		}
	}
	return v, nil
}

// views names the people and the household of wishes.
func (s *Service) views(ctx context.Context, ws []model.Wish) ([]View, error) {
	db := s.db.WithContext(ctx)
	var uids, hids []int64
	for _, w := range ws {
		uids = append(uids, w.AuthorID, w.ResidentID)
		if w.ClaimerID != 0 {
			uids = append(uids, w.ClaimerID)
		}
		hids = append(hids, w.HouseholdID)
	}
	names := map[int64]string{}
	if len(uids) > 0 {
		var us []model.User
		if err := db.Select("id", "display_name").Where("id IN ?", uids).Find(&us).Error; err != nil {
			return nil, err
		}
		for _, u := range us {
			names[u.ID] = u.DisplayName
		}
	}
	labels, err := householdLabels(ctx, db, hids)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(ws))
	for _, w := range ws {
		out = append(out, View{Wish: w, AuthorName: names[w.AuthorID], ResidentName: names[w.ResidentID],
			ClaimerName: names[w.ClaimerID], HouseholdLabel: labels[w.HouseholdID]})
	}
	return out, nil
}

// householdLabels names households as 金日天玺1号楼1单元101.
func householdLabels(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var hs []model.Household
	if err := db.WithContext(ctx).Where("id IN ?", ids).Find(&hs).Error; err != nil {
		return nil, err
	}
	var bids, cids []int64
	for _, h := range hs {
		bids, cids = append(bids, h.BuildingID), append(cids, h.CompoundID)
	}
	var bs []model.Building
	var cs []model.Compound
	if err := db.WithContext(ctx).Select("id", "name").Where("id IN ?", bids).Find(&bs).Error; err != nil {
		return nil, err
	}
	if err := db.WithContext(ctx).Select("id", "name").Where("id IN ?", cids).Find(&cs).Error; err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, b := range bs {
		names[b.ID] = b.Name
	}
	compounds := map[int64]string{}
	for _, c := range cs {
		compounds[c.ID] = c.Name
	}
	for _, h := range hs {
		l := compounds[h.CompoundID] + names[h.BuildingID]
		if h.Unit != "" {
			l += h.Unit + "单元"
		}
		out[h.ID] = l + h.Room
	}
	return out, nil
}

// Lists of wishes.
const (
	ListMine    = "mine"    // posted by me or for me
	ListOpen    = "open"    // open wishes I may claim (party members, volunteers)
	ListClaimed = "claimed" // claimed by me
	ListAll     = "all"     // every wish of my scope (stewards, grid workers, staff)
)

// Filter narrows a list of wishes.
type Filter struct {
	List        string
	State       string
	CommunityID int64
	CompoundID  int64
}

var (
	errList     = service.Invalid("bad_list", "列表只能是 mine、open、claimed 或 all")
	errState    = service.Invalid("bad_state", "状态只能是 open、claimed、fulfilled、thanked 或 withdrawn")
	errNoHelper = service.Forbidden("not_helper", "只有本社区的党员和志愿者可以查看和认领心愿")
	errNoStaff  = service.Forbidden("not_staff", "只有楼栋长、网格员和社区工作人员可以查看辖区全部心愿")
)

// scopeColumn is the ancestry column a grant's scope kind is matched on.
var scopeColumn = map[string]string{
	model.ScopeCity: "city_id", model.ScopeDistrict: "district_id", model.ScopeStreet: "street_id",
	model.ScopeCommunity: "community_id", model.ScopeCompound: "compound_id",
	model.ScopeGrid: "grid_id", model.ScopeBuilding: "building_id",
}

// scopeWhere turns grants into a condition on the ancestry columns; all is
// true for a platform grant.
func scopeWhere(grants []model.Grant) (cond string, args []any, all bool) {
	var parts []string
	for _, g := range grants {
		if g.ScopeKind == model.ScopePlatform {
			return "", nil, true
		}
		if col, ok := scopeColumn[g.ScopeKind]; ok {
			parts = append(parts, col+" = ?")
			args = append(args, g.ScopeID)
		}
	}
	return strings.Join(parts, " OR "), args, false
}

// List returns one page of a list, newest first.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[View], error) {
	if a == nil {
		return service.Paged[View]{}, service.ErrUnauthenticated
	}
	if f.List == "" {
		f.List = ListMine
	}
	if f.State != "" && !validState(f.State) {
		return service.Paged[View]{}, errState
	}
	q := s.db.WithContext(ctx).Model(&model.Wish{})
	switch f.List {
	case ListMine:
		q = q.Where("author_id = ? OR resident_id = ?", a.UserID, a.UserID)
	case ListClaimed:
		q = q.Where("claimer_id = ?", a.UserID)
	case ListOpen, ListAll:
		roles := helperRoles
		if f.List == ListAll {
			roles = append(append([]string{}, stewardRoles...), staffRoles...)
		}
		cond, args, all := scopeWhere(a.Scopes(roles...))
		if !all && cond == "" {
			if f.List == ListOpen {
				return service.Paged[View]{}, errNoHelper
			}
			return service.Paged[View]{}, errNoStaff
		}
		if !all {
			q = q.Where(cond, args...)
		}
		if f.List == ListOpen {
			if f.State != "" && f.State != model.WishOpen {
				return service.Paged[View]{}, errState
			}
			f.State = model.WishOpen
		}
	default:
		return service.Paged[View]{}, errList
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.CommunityID > 0 {
		q = q.Where("community_id = ?", f.CommunityID)
	}
	if f.CompoundID > 0 {
		q = q.Where("compound_id = ?", f.CompoundID)
	}
	if p.After > 0 {
		q = q.Where("id < ?", p.After)
	}
	var rows []model.Wish
	if err := q.Order("id DESC").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return service.Paged[View]{}, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.views(ctx, page.Items)
	if err != nil {
		return service.Paged[View]{}, err
	}
	return service.Paged[View]{Items: vs, More: page.More}, nil
}

func validState(st string) bool {
	switch st {
	case model.WishOpen, model.WishClaimed, model.WishFulfilled, model.WishThanked, model.WishWithdrawn:
		return true
	}
	return false
}

// HoursFilter picks the fulfilled wishes of one community in a period
// ([From, To), either end open when zero).
type HoursFilter struct {
	CommunityID int64
	From, To    time.Time
}

// VolunteerHours is what one person did for the community's wishes.
type VolunteerHours struct {
	UserID     int64
	Name       string
	Wishes     int64
	HoursCenti int64 // hours × 100
	// ConfirmedCenti are the hours of wishes the resident has thanked for
	// (confirmed done); the rest are the claimer's own report so far.
	ConfirmedCenti int64
}

// HoursPage is one page of volunteer hours and the period's totals.
type HoursPage struct {
	service.Paged[VolunteerHours]
	TotalWishes     int64
	TotalHoursCenti int64
	TotalConfirmed  int64 // hours × 100 of thanked wishes
}

var (
	errCommunity = service.Invalid("bad_community", "请指明社区")
	errPeriod    = service.Invalid("bad_period", "起始日期须早于结束日期")
)

// Hours sums the hours of fulfilled wishes per claimer for a community's
// volunteer records — all reported, and those the resident confirmed by
// thanking — by fulfilment time, one page of claimers at a time
// (highest user id first). Community staff and those above them only.
func (s *Service) Hours(ctx context.Context, a *service.Actor, f HoursFilter, p service.Page) (HoursPage, error) {
	if a == nil {
		return HoursPage{}, service.ErrUnauthenticated
	}
	if f.CommunityID <= 0 {
		return HoursPage{}, errCommunity
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return HoursPage{}, errPeriod
	}
	db := s.db.WithContext(ctx)
	var r model.Region
	err := model.Translate(db.Where("id = ? AND level = ?", f.CommunityID, model.LevelCommunity).Take(&r).Error)
	if errors.Is(err, model.ErrNotFound) {
		return HoursPage{}, service.NotFound("community_not_found", "社区不存在")
	}
	if err != nil {
		return HoursPage{}, err
	}
	r.CommunityID = r.ID
	if !a.Can(service.TargetOf(model.ScopeCommunity, r.ID, r.Ancestry), staffRoles...) {
		return HoursPage{}, service.ErrOutOfScope
	}
	base := func() *gorm.DB {
		q := db.Model(&model.Wish{}).Where("community_id = ? AND fulfilled_at IS NOT NULL", r.ID)
		if !f.From.IsZero() {
			q = q.Where("fulfilled_at >= ?", f.From.UTC())
		}
		if !f.To.IsZero() {
			q = q.Where("fulfilled_at < ?", f.To.UTC())
		}
		return q
	}
	var out HoursPage
	var tot struct {
		Wishes    int64
		Hours     int64
		Confirmed int64
	}
	confirmed := gorm.Expr("COALESCE(SUM(CASE WHEN state = ? THEN hours_centi ELSE 0 END), 0)", model.WishThanked)
	if err := base().Select("COUNT(*) AS wishes, COALESCE(SUM(hours_centi), 0) AS hours, ? AS confirmed", confirmed).
		Scan(&tot).Error; err != nil {
		return HoursPage{}, err
	}
	out.TotalWishes, out.TotalHoursCenti, out.TotalConfirmed = tot.Wishes, tot.Hours, tot.Confirmed
	q := base()
	if p.After > 0 {
		q = q.Where("claimer_id < ?", p.After)
	}
	var rows []VolunteerHours
	if err := q.Select("claimer_id AS user_id, COUNT(*) AS wishes, COALESCE(SUM(hours_centi), 0) AS hours_centi, ? AS confirmed_centi", confirmed).
		Group("claimer_id").Order("claimer_id DESC").Limit(p.Limit + 1).Scan(&rows).Error; err != nil {
		return HoursPage{}, err
	}
	out.Paged = service.Cut(rows, p.Limit)
	var ids []int64
	for _, h := range out.Items {
		ids = append(ids, h.UserID)
	}
	if len(ids) > 0 {
		var us []model.User
		if err := db.Select("id", "display_name").Where("id IN ?", ids).Find(&us).Error; err != nil {
			return HoursPage{}, err
		}
		names := map[int64]string{}
		for _, u := range us {
			names[u.ID] = u.DisplayName
		}
		for i := range out.Items {
			out.Items[i].Name = names[out.Items[i].UserID]
		}
	}
	if out.Items == nil {
		out.Items = []VolunteerHours{}
	}
	return out, nil
}
