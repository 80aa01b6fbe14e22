package score

import (
	"context"
	"maps"
	"slices"

	"redprop/model"
)

// firmFigures are the summed facts of one firm over one place.
type firmFigures struct {
	orders                 model.FirmOrderFigure
	rated, good, ratingSum int64
	complaints, households int64
	itemsDue, itemsLate    int64
	inspections, inspSum   int64 // inspections and their points out of 100, in hundredths
	inspKnown              bool  // an inspection source exists
}

func (f *firmFigures) add(o firmFigures) {
	f.orders.Due += o.orders.Due
	f.orders.Confirmed += o.orders.Confirmed
	f.orders.OnTime += o.orders.OnTime
	f.orders.Completed += o.orders.Completed
	f.orders.Reworked += o.orders.Reworked
	f.orders.AcceptDue += o.orders.AcceptDue
	f.orders.AcceptOnTime += o.orders.AcceptOnTime
	f.rated += o.rated
	f.good += o.good
	f.ratingSum += o.ratingSum
	f.complaints += o.complaints
	f.households += o.households
	f.itemsDue += o.itemsDue
	f.itemsLate += o.itemsLate
	f.inspections += o.inspections
	f.inspSum += o.inspSum
	f.inspKnown = f.inspKnown || o.inspKnown
}

// components turns the summed facts into each component's figure.
func (f firmFigures) components() map[string]figure {
	o := f.orders
	rf := func(num, den int64) figure { return figure{num: num, den: den, raw: ratio(num, den), samples: den} }
	figs := map[string]figure{
		model.CompSatisfaction: {num: f.good, den: f.rated, extra: f.ratingSum, raw: ratio(f.good, f.rated), samples: f.rated},
		model.CompOnTime:       rf(o.OnTime, o.Due),
		model.CompCompletion:   rf(o.Confirmed, o.Due),
		model.CompResponse:     rf(o.AcceptOnTime, o.AcceptDue),
		model.CompRework:       rf(o.Reworked, o.Completed),
		model.CompComplaints: {num: f.complaints, den: f.households, raw: per100(f.complaints, f.households),
			samples: f.households},
		model.CompRectification: rf(f.itemsLate, f.itemsDue),
	}
	insp := figure{num: f.inspSum, den: f.inspections, samples: f.inspections, missing: !f.inspKnown}
	if f.inspections > 0 {
		insp.raw = f.inspSum / f.inspections
	}
	figs[model.CompInspections] = insp
	return figs
}

type firmPlace struct {
	firm  int64
	kind  string
	id    int64
	place model.Ancestry
}

// firmRows computes every firm's rows of a period: per compound, and
// rolled up per street and per city from the same facts (ratios of sums,
// not means of ratios).
func (s *Service) firmRows(ctx context.Context, f model.ScoreFormula, p Period) ([]model.ScoredRow, error) {
	db := s.db
	orders, err := model.FirmOrderFigures(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	ratings, err := model.FirmRatingFigures(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	complaints, err := model.CompoundComplaints(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	households, err := model.CompoundHouseholds(ctx, db)
	if err != nil {
		return nil, err
	}
	served, err := model.ServedPairs(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	items, err := model.FirmActionFigures(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	extra, err := s.firmExtra(ctx, p)
	if err != nil {
		return nil, err
	}

	type pair struct{ firm, compound int64 }
	figs := map[pair]*firmFigures{}
	at := func(firm, compound int64) *firmFigures {
		k := pair{firm, compound}
		if figs[k] == nil {
			figs[k] = &firmFigures{inspKnown: extra.known}
		}
		return figs[k]
	}
	servedPair := map[pair]bool{}
	for _, sp := range served {
		at(sp.FirmID, sp.CompoundID)
		servedPair[pair{sp.FirmID, sp.CompoundID}] = true
	}
	for _, o := range orders {
		at(o.FirmID, o.CompoundID).orders = o
	}
	for _, r := range ratings {
		g := at(r.FirmID, r.CompoundID)
		g.rated, g.good, g.ratingSum = r.Rated, r.Good, r.Sum
	}
	// Items of a community (no compound) count in the roll-ups only.
	type commItem struct {
		firm int64
		anc  model.Ancestry
		fig  firmFigures
	}
	var communityItems []commItem
	for _, it := range items {
		if it.CompoundID == 0 {
			communityItems = append(communityItems, commItem{firm: it.FirmID,
				anc: model.Ancestry{CityID: it.CityID, StreetID: it.StreetID, CommunityID: it.CommunityID},
				fig: firmFigures{itemsDue: it.Due, itemsLate: it.Overdue}})
			continue
		}
		g := at(it.FirmID, it.CompoundID)
		g.itemsDue += it.Due
		g.itemsLate += it.Overdue
	}
	for k, e := range extra.byPair {
		g := at(k[0], k[1])
		g.inspections += e.inspections
		g.inspSum += e.inspSum
		g.itemsDue += e.itemsDue
		g.itemsLate += e.itemsLate
	}
	complaintsOf := map[int64]int64{}
	for _, c := range complaints {
		complaintsOf[c.ID] = c.N
	}
	householdsOf := map[int64]int64{}
	for _, h := range households {
		householdsOf[h.ID] = h.N
	}
	var compoundIDs []int64
	for k := range figs {
		compoundIDs = append(compoundIDs, k.compound)
	}
	slices.Sort(compoundIDs)
	compounds, err := model.CompoundsByID(ctx, db, slices.Compact(compoundIDs))
	if err != nil {
		return nil, err
	}

	places := map[firmPlace]*firmFigures{}
	into := func(fp firmPlace, g firmFigures) {
		if places[fp] == nil {
			places[fp] = &firmFigures{}
		}
		places[fp].add(g)
	}
	for k, g := range figs {
		c, ok := compounds[k.compound]
		if !ok {
			continue // orders of no compound (public places of a community) have no card
		}
		// Complaints and households are a compound's: they count for the
		// firms that served it in the period under a contract.
		if servedPair[k] {
			g.complaints, g.households = complaintsOf[k.compound], householdsOf[k.compound]
		}
		anc := c.Ancestry
		anc.CompoundID = c.ID
		into(firmPlace{firm: k.firm, kind: model.ScopeCompound, id: c.ID, place: anc}, *g)
		into(firmPlace{firm: k.firm, kind: model.ScopeStreet, id: anc.StreetID,
			place: model.Ancestry{CityID: anc.CityID, DistrictID: anc.DistrictID, StreetID: anc.StreetID}}, *g)
		into(firmPlace{firm: k.firm, kind: model.ScopeCity, id: anc.CityID, place: model.Ancestry{CityID: anc.CityID}}, *g)
	}
	for _, ci := range communityItems {
		// Only into roll-ups the firm already has (it serves the street).
		for fp, g := range places {
			if fp.firm == ci.firm && ((fp.kind == model.ScopeStreet && fp.id == ci.anc.StreetID) ||
				(fp.kind == model.ScopeCity && fp.id == ci.anc.CityID)) {
				g.add(ci.fig)
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(places), func(a, b firmPlace) int {
		if a.firm != b.firm {
			return cmpInt(a.firm, b.firm)
		}
		if a.kind != b.kind {
			return cmpInt(kindOrder(a.kind), kindOrder(b.kind))
		}
		return cmpInt(a.id, b.id)
	})
	rows := make([]model.ScoredRow, 0, len(keys))
	for _, fp := range keys {
		g := places[fp]
		sc, comps := scoreRow(f.Spec, g.components(), g.orders.Due)
		sc.Kind, sc.Period, sc.FormulaID, sc.FormulaVersion = model.ScoreKindFirm, p.Name, f.ID, f.Version
		sc.PeriodStart, sc.PeriodEnd = p.Start, p.End
		sc.ScopeKind, sc.ScopeID, sc.FirmID, sc.Ancestry = fp.kind, fp.id, fp.firm, fp.place
		rows = append(rows, model.ScoredRow{Score: sc, Components: comps})
	}
	return rows, nil
}

func kindOrder(kind string) int64 {
	switch kind {
	case model.ScopeCompound:
		return 0
	case model.ScopeStreet:
		return 1
	}
	return 2
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// firmExtraFigures are the facts of the inspection tables per (firm,
// compound): inspections and rating rectifications.
type firmExtraFigures struct {
	inspections, inspSum int64
	itemsDue, itemsLate  int64
}

type firmExtra struct {
	known  bool // the inspection tables exist
	byPair map[[2]int64]firmExtraFigures
}
