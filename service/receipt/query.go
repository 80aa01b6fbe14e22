package receipt

import (
	"context"
	"slices"

	"redprop/model"
	"redprop/service"
)

// Counts are a subject's numbers, for the whole of it or one building.
type Counts struct {
	Households   int64
	Delivered    int64
	Unregistered int64
	Pushed       int64
	Read         int64
	Confirmed    int64
	InPerson     int64
	Reached      int64
	NotReached   int64
}

func countsOf(t model.ReceiptTally) Counts {
	return Counts{Households: t.Households, Delivered: t.Delivered, Unregistered: t.Unregistered, Pushed: t.Pushed,
		Read: t.Read, Confirmed: t.Confirmed, InPerson: t.InPerson, Reached: t.Reached, NotReached: t.Households - t.Reached}
}

// BuildingCounts are one building's counts, and its units'.
type BuildingCounts struct {
	BuildingID int64
	Name       string
	CompoundID int64
	GridID     int64
	Counts
	Units []UnitCounts
}

// UnitCounts are one unit's counts.
type UnitCounts struct {
	Unit string
	Counts
}

// Tally is a subject's counts and its buildings'.
type Tally struct {
	Counts
	Buildings []BuildingCounts
}

// Tally reads the subject's counts from its tallies (one indexed read,
// whatever the number of households): the whole subject's, and those of
// its buildings under one of within (nil: every building). A subject never
// delivered has zero counts.
func (s *Service) Tally(ctx context.Context, subj Subject, within []model.Place) (Tally, error) {
	rows, err := model.Tallies(ctx, s.db, subj.Kind, subj.ID, within)
	if err != nil {
		return Tally{}, err
	}
	var out Tally
	var ids []int64
	for _, r := range rows {
		switch {
		case r.BuildingID == 0:
			out.Counts = countsOf(r)
		case r.Unit == "":
			ids = append(ids, r.BuildingID)
			out.Buildings = append(out.Buildings, BuildingCounts{BuildingID: r.BuildingID, CompoundID: r.CompoundID,
				GridID: r.GridID, Counts: countsOf(r), Units: []UnitCounts{}})
		case len(out.Buildings) > 0 && out.Buildings[len(out.Buildings)-1].BuildingID == r.BuildingID:
			// Rows come by building and unit: a unit follows its building.
			b := &out.Buildings[len(out.Buildings)-1]
			b.Units = append(b.Units, UnitCounts{Unit: r.Unit, Counts: countsOf(r)})
		}
	}
	names, err := model.NamesOf(ctx, s.db, &model.Building{}, "name", ids)
	if err != nil {
		return Tally{}, err
	}
	for i := range out.Buildings {
		b := &out.Buildings[i]
		b.Name = names[b.BuildingID]
		slices.SortFunc(b.Units, func(x, y UnitCounts) int { return compareRoom(x.Unit, y.Unit) })
	}
	return out, nil
}

// Door is a household on the list of those not reached: its receipt and
// the name of its building.
type Door struct {
	model.Receipt
	BuildingName string
}

// Filter narrows the list of households not reached.
type Filter struct {
	BuildingID int64
	Unit       string // with BuildingID
	// Within keeps the households under one of the places (nil: all):
	// the grid worker's grid, the steward's building.
	Within []model.Place
}

var errUnitWithoutBuilding = service.Invalid("bad_unit", "按单元筛选时须同时指定楼栋")

// NotReached lists the subject's households not yet reached, door by door
// (building, unit, room), one keyset page: Page.After is the last receipt
// id of the previous page (0: from the start), and the list runs in
// ascending id order, the order the receipts were written in.
func (s *Service) NotReached(ctx context.Context, subj Subject, f Filter, p service.Page) (service.Paged[Door], error) {
	if f.Unit != "" && f.BuildingID == 0 {
		return service.Paged[Door]{}, errUnitWithoutBuilding
	}
	limit := p.Limit
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	rows, err := model.NotReached(ctx, s.db, model.ReceiptFilter{Kind: subj.Kind, ID: subj.ID, BuildingID: f.BuildingID,
		Unit: f.Unit, Within: f.Within}, p.After, limit+1)
	if err != nil {
		return service.Paged[Door]{}, err
	}
	page := service.Cut(rows, limit)
	doors, err := s.doors(ctx, page.Items)
	if err != nil {
		return service.Paged[Door]{}, err
	}
	return service.Paged[Door]{Items: doors, More: page.More}, nil
}

func (s *Service) doors(ctx context.Context, rows []model.Receipt) ([]Door, error) {
	var ids []int64
	seen := map[int64]bool{}
	for _, r := range rows {
		if !seen[r.BuildingID] {
			seen[r.BuildingID] = true
			ids = append(ids, r.BuildingID)
		}
	}
	names, err := model.NamesOf(ctx, s.db, &model.Building{}, "name", ids)
	if err != nil {
		return nil, err
	}
	out := make([]Door, len(rows))
	for i, r := range rows {
		out[i] = Door{Receipt: r, BuildingName: names[r.BuildingID]}
	}
	return out, nil
}

// Push is how one member's push of a delivery went.
type Push struct {
	UserID     int64
	State      string // the outbox row's state: pending, sent, skipped …
	SkipReason string
	Channel    string
}

// Detail is one household's receipt with its members' pushes.
type Detail struct {
	Door
	Pushes []Push
}

// Of reads one household's receipt of the subject, with the outcome of
// each member's push.
func (s *Service) Of(ctx context.Context, subj Subject, householdID int64) (Detail, error) {
	r, err := model.ReceiptOf(ctx, s.db, subj.Kind, subj.ID, householdID)
	if err != nil {
		return Detail{}, service.OrNotFound(err, errNoReceipt)
	}
	doors, err := s.doors(ctx, []model.Receipt{r})
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Door: doors[0], Pushes: []Push{}}
	members, err := model.MembersOf(ctx, s.db, []int64{householdID})
	if err != nil {
		return Detail{}, err
	}
	users := make([]int64, len(members))
	for i, m := range members {
		users[i] = m.UserID
	}
	rows, err := model.OutboxOfKey(ctx, s.db, r.EventKey, users)
	if err != nil {
		return Detail{}, err
	}
	for _, o := range rows {
		d.Pushes = append(d.Pushes, Push{UserID: o.UserID, State: o.State, SkipReason: o.SkipReason, Channel: o.Channel})
	}
	return d, nil
}
