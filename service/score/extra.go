package score

import (
	"context"

	"redprop/model"
	"redprop/service"
)

// firmExtra reads the inspections (日查/月考/季评) and the rating
// rectifications (差评整改) of a period per firm and compound.
func (s *Service) firmExtra(ctx context.Context, p Period) (firmExtra, error) {
	out := firmExtra{known: true, byPair: map[[2]int64]firmExtraFigures{}}
	insp, err := model.FirmInspectionFigures(ctx, s.db, p.Start, p.End)
	if err != nil {
		return out, err
	}
	for _, r := range insp {
		k := [2]int64{r.FirmID, r.CompoundID}
		e := out.byPair[k]
		e.inspections, e.inspSum = e.inspections+r.N, e.inspSum+r.Sum
		out.byPair[k] = e
	}
	rects, err := model.FirmRectFigures(ctx, s.db, p.Start, p.End)
	if err != nil {
		return out, err
	}
	for _, r := range rects {
		k := [2]int64{r.FirmID, r.CompoundID}
		e := out.byPair[k]
		e.itemsDue, e.itemsLate = e.itemsDue+r.Due, e.itemsLate+r.Late
		out.byPair[k] = e
	}
	return out, nil
}

// extraEvidence lists the inspections, or the action items and rating
// rectifications, behind a firm's row. The rectification component lists
// action items first, then rectifications: Source tells them apart by the
// page (see Explain).
func (s *Service) extraEvidence(ctx context.Context, sc model.Score, ff model.ScoreFilter, comp string, p service.Page) (service.Paged[model.Evidence], bool, error) {
	if comp == model.CompInspections {
		page, err := model.FirmInspectionEvidence(ctx, s.db, sc.PeriodStart, sc.PeriodEnd, ff, p)
		return page, true, err
	}
	page, err := model.FirmRectEvidence(ctx, s.db, sc.PeriodStart, sc.PeriodEnd, ff, p)
	return page, true, err
}
