package wish

import (
	"context"
	"errors"
	"time"

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
		// The phone is a help, not the answer: a read that fails leaves it out.
		if u, err := model.TakeUser(ctx, s.db, w.ResidentID); err == nil {
			v.ResidentPhone = u.Phone
		}
	}
	return v, nil
}

// views names the people and the household of wishes.
func (s *Service) views(ctx context.Context, ws []model.Wish) ([]View, error) {
	var uids, hids []int64
	for _, w := range ws {
		uids = append(uids, w.AuthorID, w.ResidentID)
		if w.ClaimerID != 0 {
			uids = append(uids, w.ClaimerID)
		}
		hids = append(hids, w.HouseholdID)
	}
	names, err := model.UserNames(ctx, s.db, uids)
	if err != nil {
		return nil, err
	}
	homes, err := model.HouseholdPlaces(ctx, s.db, hids)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(ws))
	for _, w := range ws {
		out = append(out, View{Wish: w, AuthorName: names[w.AuthorID], ResidentName: names[w.ResidentID],
			ClaimerName: names[w.ClaimerID], HouseholdLabel: label(homes[w.HouseholdID])})
	}
	return out, nil
}

// label names a household as 金日天玺1号楼1单元101: where to help.
func label(h model.HouseholdPlace) string {
	l := h.CompoundName + h.BuildingName
	if h.Unit != "" {
		l += h.Unit + "单元"
	}
	return l + h.Room
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

// treeScopes keeps the grants whose scope is a node of the tree; all is
// true for a platform grant, which covers every wish.
func treeScopes(grants []model.Grant) (under []model.Grant, all bool) {
	for _, g := range grants {
		if g.ScopeKind == model.ScopePlatform {
			return nil, true
		}
		if _, ok := model.AncestryColumn(g.ScopeKind); ok {
			under = append(under, g)
		}
	}
	return under, false
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
	q := model.WishFilter{CommunityID: f.CommunityID, CompoundID: f.CompoundID, Before: p.After, Limit: p.Limit + 1}
	switch f.List {
	case ListMine:
		q.For = a.UserID
	case ListClaimed:
		q.ClaimerID = a.UserID
	case ListOpen, ListAll:
		roles := helperRoles
		if f.List == ListAll {
			roles = append(append([]string{}, stewardRoles...), staffRoles...)
		}
		under, all := treeScopes(a.Scopes(roles...))
		if !all && len(under) == 0 {
			if f.List == ListOpen {
				return service.Paged[View]{}, errNoHelper
			}
			return service.Paged[View]{}, errNoStaff
		}
		q.Under = under
		if f.List == ListOpen {
			if f.State != "" && f.State != model.WishOpen {
				return service.Paged[View]{}, errState
			}
			f.State = model.WishOpen
		}
	default:
		return service.Paged[View]{}, errList
	}
	q.State = f.State
	rows, err := model.ListWishes(ctx, s.db, q)
	if err != nil {
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
	r, err := model.TakeRegion(ctx, s.db, f.CommunityID, model.LevelCommunity)
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
	hf := model.WishHoursFilter{CommunityID: r.ID, From: f.From, To: f.To}
	tot, err := model.SumWishHours(ctx, s.db, hf)
	if err != nil {
		return HoursPage{}, err
	}
	out := HoursPage{TotalWishes: tot.Wishes, TotalHoursCenti: tot.HoursCenti, TotalConfirmed: tot.ConfirmedCenti}
	rows, err := model.WishHoursByClaimer(ctx, s.db, hf, p.After, p.Limit+1)
	if err != nil {
		return HoursPage{}, err
	}
	page := service.Cut(rows, p.Limit)
	out.More = page.More
	out.Items = make([]VolunteerHours, 0, len(page.Items))
	var ids []int64
	for _, h := range page.Items {
		ids = append(ids, h.UserID)
	}
	names, err := model.UserNames(ctx, s.db, ids)
	if err != nil {
		return HoursPage{}, err
	}
	for _, h := range page.Items {
		out.Items = append(out.Items, VolunteerHours{UserID: h.UserID, Name: names[h.UserID], Wishes: h.Wishes,
			HoursCenti: h.HoursCenti, ConfirmedCenti: h.ConfirmedCenti})
	}
	return out, nil
}
