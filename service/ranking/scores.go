package ranking

import (
	"context"
	"errors"

	"redprop/model"
	"redprop/service"
	"redprop/service/score"
)

// ScoreCards reads the firm score cards of service/score as Scores.
type ScoreCards struct {
	Cards *score.Service
}

// QuarterScores returns the firm × compound scores of a quarter under the
// scope, computed by the formula of the quarter's newest run; none when
// the quarter has not been scored.
func (c ScoreCards) QuarterScores(ctx context.Context, period string, scope Scope) (ScoreSet, error) {
	rows, f, err := c.Cards.PeriodScores(ctx, score.Query{Kind: model.ScoreKindFirm, Period: period,
		ScopeKind: model.ScopeCompound, UnderKind: scope.Kind, UnderID: scope.ID})
	var se *service.Error
	if errors.As(err, &se) && se.Code == "period_not_scored" {
		return ScoreSet{}, nil
	}
	if err != nil {
		return ScoreSet{}, err
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	comps, err := c.Cards.Components(ctx, ids)
	if err != nil {
		return ScoreSet{}, err
	}
	set := ScoreSet{FormulaVersion: int64(f.Version), Rule: ruleOfSpec(f.Spec, scope)}
	for _, r := range rows {
		row := ScoreRow{ScoreID: r.ID, FirmID: r.FirmID, CompoundID: r.ScopeID, Ancestry: r.Ancestry, Centi: r.Points,
			Insufficient: !r.RankEligible}
		if !r.RankEligible && r.Ineligible != "" {
			row.Reason = r.Ineligible + "，不参加排名"
		}
		for _, cp := range comps[r.ID] {
			name := score.Labels[cp.Name]
			if name == "" {
				name = cp.Name
			}
			row.Components = append(row.Components, Component{Key: cp.Name, Name: name, Numerator: cp.Numerator,
				Denominator: cp.Denominator, PointsCenti: cp.Points, Insufficient: cp.Status == model.ComponentInsufficient})
		}
		set.Rows = append(set.Rows, row)
	}
	return set, nil
}

// ruleOfSpec reads the list rule and star bands of a formula; a formula
// with neither gives the zero rule (the service's default applies). A
// formula that states only one of them keeps the default for the other.
func ruleOfSpec(spec model.FormulaSpec, scope Scope) Rule {
	if spec.List == nil && len(spec.Stars) == 0 {
		return Rule{}
	}
	r := DefaultRule()
	if spec.List != nil {
		switch spec.List.Kind {
		case "threshold":
			r.Mode, r.RedMin, r.BlackBelow = ModeThreshold, spec.List.RedMin, spec.List.BlackMax
		default:
			r.Mode, r.Top, r.Bottom = ModeRank, spec.List.N, spec.List.N
		}
		// Firms are compared within each street or district of a wider scope.
		switch {
		case spec.List.Group == model.LevelStreet && scope.Kind != model.LevelStreet:
			r.GroupBy = model.LevelStreet
		case spec.List.Group == model.LevelDistrict && scope.Kind == model.LevelCity:
			r.GroupBy = model.LevelDistrict
		}
	}
	if len(spec.Stars) > 0 {
		r.StarBands = starBands(spec.Stars)
	}
	return r
}

// starBands turns a formula's bands into the least scores of 5, 4, 3 and
// 2 stars. A grade the formula leaves out is never given: its least score
// is that of the next grade up (unreachable above 100), so a score below
// the lowest band stated is 1 star.
func starBands(stated []model.StarBand) []int64 {
	least := map[int]int64{}
	for _, b := range stated {
		least[b.Stars] = b.Min
	}
	out := make([]int64, 0, 4)
	next := int64(10001)
	for stars := 5; stars >= 2; stars-- {
		if m, ok := least[stars]; ok {
			next = m
		}
		out = append(out, next)
	}
	return out
}
