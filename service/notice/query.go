package notice

import (
	"context"
	"slices"

	"redprop/model"
	"redprop/service"
	"redprop/service/receipt"
)

// View is a notice as one actor sees it: with the receipts of their own
// households (residents), and whether they manage it or see its counts.
type View struct {
	model.Notice
	AuthorName string
	Receipts   []model.Receipt
	Manage     bool
	Staff      bool
}

// view is n as the actor sees it; created is passed through for Create.
func (s *Service) view(ctx context.Context, a *service.Actor, n model.Notice) (View, bool, error) {
	st, err := s.standing(ctx, a, n)
	if err != nil {
		return View{}, false, err
	}
	v, err := s.viewOf(ctx, n, st)
	return v, false, err
}

func (s *Service) viewOf(ctx context.Context, n model.Notice, st standing) (View, error) {
	names, err := model.UserNames(ctx, s.db, []int64{n.AuthorID})
	if err != nil {
		return View{}, err
	}
	return View{Notice: n, AuthorName: names[n.AuthorID], Receipts: st.told, Manage: st.manage, Staff: st.staff()}, nil
}

// Get reads one notice for a resident whose household was told, or for
// its staff.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	n, st, err := s.load(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	return s.viewOf(ctx, n, st)
}

// Lists of notices.
const (
	ListHousehold = "household" // the notices the actor's households were told (residents)
	ListMine      = "mine"      // the notices the actor wrote
	ListStaff     = "staff"     // the notices of the actor's part of the tree (staff, grid workers, stewards …)
)

var (
	errList      = service.Invalid("bad_list", "list 须为 household、mine 或 staff")
	errHousehold = service.Forbidden("not_resident", "您不是该房屋的住户")
)

// Filter picks a list.
type Filter struct {
	List string
	// HouseholdID narrows the household list to one of the actor's
	// households (0: all of them).
	HouseholdID int64
}

// Item is one notice of a list, with how the household received it
// (household list only).
type Item struct {
	model.Notice
	HouseholdID int64
	Read        bool
	Confirmed   bool
	cursor      int64
}

// Cursor is the id the list's next page starts below: the receipt's for
// the household list, the notice's for the author's.
func (i Item) Cursor() int64 { return i.cursor }

// List reads one keyset page of a list, newest first. The household list
// holds the published, unexpired notices the actor's households were
// told of: a resident of one compound never sees another's.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[Item], error) {
	if a == nil {
		return service.Paged[Item]{}, service.ErrUnauthenticated
	}
	switch f.List {
	case "", ListHousehold:
		households, err := model.HouseholdsOfUser(ctx, s.db, a.UserID)
		if err != nil {
			return service.Paged[Item]{}, err
		}
		if f.HouseholdID != 0 {
			if !slices.Contains(households, f.HouseholdID) {
				return service.Paged[Item]{}, errHousehold
			}
			households = []int64{f.HouseholdID}
		}
		res, err := model.NoticesOfHouseholds(ctx, s.db, households, s.now(), p)
		if err != nil {
			return service.Paged[Item]{}, err
		}
		out := service.Paged[Item]{Items: make([]Item, len(res.Items)), More: res.More}
		for i, r := range res.Items {
			out.Items[i] = Item{Notice: r.Notice, HouseholdID: r.HouseholdID, Read: r.ReadAt != nil, Confirmed: r.Confirmed,
				cursor: r.ReceiptID}
		}
		return out, nil
	case ListMine, ListStaff:
		var res service.Paged[model.Notice]
		var err error
		if f.List == ListMine {
			res, err = model.NoticesByAuthor(ctx, s.db, a.UserID, p)
		} else {
			res, err = model.NoticesReaching(ctx, s.db, reachOf(a), p)
		}
		if err != nil {
			return service.Paged[Item]{}, err
		}
		out := service.Paged[Item]{Items: make([]Item, len(res.Items)), More: res.More}
		for i, n := range res.Items {
			out.Items[i] = Item{Notice: n, cursor: n.ID}
		}
		return out, nil
	}
	return service.Paged[Item]{}, errList
}

// reachOf is the part of the tree whose notices the actor follows: the
// tree staff's scopes, the places of grid workers, stewards, committees
// and party branches (their compound's, community's and street's
// notices), the firm managers' firms, and their own.
func reachOf(a *service.Actor) model.NoticeReach {
	r := model.NoticeReach{AuthorID: a.UserID, All: a.IsAdmin()}
	for _, g := range a.Scopes(overseerRoles...) {
		if p, ok := model.PlaceOf(g); ok {
			r.Under = append(r.Under, p)
		}
	}
	for _, g := range a.Scopes(append(doorRoles, model.RoleCommittee, model.RolePartyBranch)...) {
		if g.CommunityID != 0 {
			r.Around = append(r.Around, g.Ancestry)
		}
	}
	for _, g := range a.Scopes(model.RoleFirmManager) {
		if g.ScopeKind == model.ScopeFirm {
			r.Firms = append(r.Firms, g.ScopeID)
		}
	}
	return r
}

// staffOf loads a notice and checks the actor sees its counts: the
// places it sees (nil: all).
func (s *Service) staffOf(ctx context.Context, a *service.Actor, id int64) (model.Notice, []model.Place, error) {
	n, st, err := s.load(ctx, a, id)
	if err != nil {
		return n, nil, err
	}
	if !st.staff() {
		return n, nil, errNotStaff
	}
	if st.manage {
		return n, nil, nil
	}
	return n, st.within, nil
}

// Tally reads a notice's counts (from its tallies, never a count of the
// receipts) and those of its buildings the actor sees.
func (s *Service) Tally(ctx context.Context, a *service.Actor, id int64) (receipt.Tally, error) {
	_, within, err := s.staffOf(ctx, a, id)
	if err != nil {
		return receipt.Tally{}, err
	}
	return s.receipts.Tally(ctx, subject(id), within)
}

// NotReached lists the households not yet reached the actor sees, door
// by door, one keyset page (ascending: Page.After is the last id seen).
func (s *Service) NotReached(ctx context.Context, a *service.Actor, id int64, f receipt.Filter, p service.Page) (service.Paged[receipt.Door], error) {
	_, within, err := s.staffOf(ctx, a, id)
	if err != nil {
		return service.Paged[receipt.Door]{}, err
	}
	f.Within = within
	return s.receipts.NotReached(ctx, subject(id), f, p)
}

// ExportNotReached builds the list of households not reached the actor
// sees as an .xlsx workbook.
func (s *Service) ExportNotReached(ctx context.Context, a *service.Actor, id int64, f receipt.Filter) (*receipt.Workbook, model.Notice, error) {
	n, within, err := s.staffOf(ctx, a, id)
	if err != nil {
		return nil, n, err
	}
	f.Within = within
	wb, err := s.receipts.ExportNotReached(ctx, subject(id), f)
	return wb, n, err
}

// Receipt reads one household's receipt of a notice, with its members'
// pushes, for staff who see that household.
func (s *Service) Receipt(ctx context.Context, a *service.Actor, id, householdID int64) (receipt.Detail, error) {
	_, within, err := s.staffOf(ctx, a, id)
	if err != nil {
		return receipt.Detail{}, err
	}
	d, err := s.receipts.Of(ctx, subject(id), householdID)
	if err != nil {
		return d, err
	}
	if within != nil && !covered(within, d.Receipt) {
		return receipt.Detail{}, service.ErrOutOfScope
	}
	return d, nil
}

func covered(within []model.Place, r model.Receipt) bool {
	t := service.TargetOf("household", r.HouseholdID, r.Ancestry)
	for _, p := range within {
		if service.ScopeCovers(model.Grant{ScopeKind: p.Kind, ScopeID: p.ID}, t) {
			return true
		}
	}
	return false
}
