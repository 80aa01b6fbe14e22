package score

import (
	"context"

	"redprop/model"
	"redprop/service"
)

// gridRows computes every grid worker's row of a month (see the
// definitions in model/score_grid.go).
func (s *Service) gridRows(ctx context.Context, f model.ScoreFormula, p Period) ([]model.ScoredRow, error) {
	db := s.db
	seats, err := model.GridWorkerSeats(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	verify, err := model.VerifyMedians(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	acks, err := model.AckMedians(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	calls, err := model.GridCallCounts(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	rects, err := model.GridRectCounts(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	patrols, err := model.PatrolCounts(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	confirms, err := model.ConfirmCounts(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	ratings, err := model.RatingCounts(ctx, db, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	byUser := func(ms []model.Median) map[int64]model.Median {
		out := map[int64]model.Median{}
		for _, m := range ms {
			out[m.ID] = m
		}
		return out
	}
	counts := func(us []model.UserCount) map[int64]model.UserCount {
		out := map[int64]model.UserCount{}
		for _, u := range us {
			out[u.UserID] = u
		}
		return out
	}
	// pairs sums a grid's rows (the denominator) and keeps the user's part.
	pairs := func(ps []model.PairCount) (map[int64]int64, map[[2]int64]int64) {
		total, part := map[int64]int64{}, map[[2]int64]int64{}
		for _, pc := range ps {
			total[pc.GridID] += pc.N
			part[[2]int64{pc.GridID, pc.UserID}] += pc.N
		}
		return total, part
	}
	verifyOf, ackOf := byUser(verify), byUser(acks)
	callTotal, callPart := pairs(calls)
	rectTotal, rectPart := pairs(rects)
	patrolOf, confirmOf, ratingOf := counts(patrols), counts(confirms), counts(ratings)

	rows := make([]model.ScoredRow, 0, len(seats))
	for _, seat := range seats {
		u, g := seat.UserID, seat.GridID
		v, a, cf, rt, pt := verifyOf[u], ackOf[u], confirmOf[u], ratingOf[u], patrolOf[u]
		callsN, acked := callTotal[g], callPart[[2]int64{g, u}]
		rectN, followed := rectTotal[g], rectPart[[2]int64{g, u}]
		figs := map[string]figure{
			model.CompVerifyTime:   {num: v.Seconds, den: v.N, raw: v.Seconds, samples: v.N},
			model.CompPatrol:       {num: pt.N, raw: pt.N, samples: pt.N},
			model.CompConfirmTime:  {num: cf.Part, den: cf.N, raw: ratio(cf.Part, cf.N), samples: cf.N},
			model.CompCallAck:      {num: acked, den: callsN, raw: ratio(acked, callsN), samples: callsN},
			model.CompCallAckTime:  {num: a.Seconds, den: a.N, raw: a.Seconds, samples: a.N},
			model.CompRatings:      {num: rt.Part, den: rt.N, extra: rt.Extra, raw: ratio(rt.Part, rt.N), samples: rt.N},
			model.CompRectFollowed: {num: followed, den: rectN, raw: ratio(followed, rectN), samples: rectN},
		}
		sc, comps := scoreRow(f.Spec, figs, v.N+cf.N)
		sc.Kind, sc.Period, sc.FormulaID, sc.FormulaVersion = model.ScoreKindGridWorker, p.Name, f.ID, f.Version
		sc.PeriodStart, sc.PeriodEnd = p.Start, p.End
		sc.ScopeKind, sc.ScopeID, sc.UserID, sc.Ancestry = model.ScopeGrid, g, u, seat.Ancestry
		rows = append(rows, model.ScoredRow{Score: sc, Components: comps})
	}
	return rows, nil
}

func (s *Service) gridEvidence(ctx context.Context, sc model.Score, comp string, p service.Page) (service.Paged[model.Evidence], bool, error) {
	return model.GridEvidence(ctx, s.db, sc.PeriodStart, sc.PeriodEnd, sc.UserID, sc.ScopeID, comp, p)
}
