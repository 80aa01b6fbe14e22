package score

import (
	"fmt"

	"redprop/model"
)

// figure is what the facts give for one component: its sample count
// (the denominator, or for a count component the samples behind it), its
// numerator, its raw value in the component's unit, and an extra figure.
type figure struct {
	num, den, extra, raw, samples int64
	// missing marks a component no fact source exists for yet: always
	// insufficient.
	missing bool
}

// ratio is num/den in basis points, rounded down (0 when den is 0).
func ratio(num, den int64) int64 {
	if den <= 0 {
		return 0
	}
	return num * 10000 / den
}

// per100 is num per 100 of den, in hundredths, rounded down.
func per100(num, den int64) int64 {
	if den <= 0 {
		return 0
	}
	return num * 10000 / den
}

// scoreRow applies a formula to the figures of one row: each component's
// status, effective weight and points, the total, and whether the row may
// be ranked. figs holds a figure per component name; samples is the
// row's rank sample.
func scoreRow(spec model.FormulaSpec, figs map[string]figure, samples int64) (model.Score, []model.ScoreComponent) {
	comps := make([]model.ScoreComponent, 0, len(spec.Components))
	var okWeight, allWeight int64
	for _, fc := range spec.Components {
		f := figs[fc.Name]
		c := model.ScoreComponent{Name: fc.Name, Numerator: f.num, Denominator: f.den, Extra: f.extra, Raw: f.raw,
			MinSamples: fc.MinSamples, Weight: fc.Weight, Status: model.ComponentOK}
		if f.missing || f.samples < fc.MinSamples {
			c.Status = model.ComponentInsufficient
		}
		if c.Status == model.ComponentOK {
			okWeight += fc.Weight
		}
		allWeight += fc.Weight
		comps = append(comps, c)
	}
	var total int64
	sufficient := 0
	for i, fc := range spec.Components {
		c := &comps[i]
		if c.Status != model.ComponentOK {
			continue
		}
		sufficient++
		// Effective weight in hundredths of a point of 100.
		switch {
		case spec.Redistribute == model.RedistributeProportional && okWeight > 0:
			c.EffWeight = fc.Weight * 10000 / okWeight
		case allWeight > 0:
			c.EffWeight = fc.Weight * 10000 / allWeight
		}
		c.Points = earned(fc, c.Raw, c.EffWeight)
		total += c.Points
	}
	total = min(max(total, 0), 10000)
	sc := model.Score{Points: total, Samples: samples, Sufficient: sufficient, RankEligible: true}
	switch {
	case samples < spec.RankMinSamples:
		sc.RankEligible = false
		sc.Ineligible = fmt.Sprintf("样本不足：%d 件，少于 %d 件", samples, spec.RankMinSamples)
	case sufficient < spec.MinComponents:
		sc.RankEligible = false
		sc.Ineligible = fmt.Sprintf("有效指标不足：%d 项，少于 %d 项", sufficient, spec.MinComponents)
	}
	return sc, comps
}

// earned is the points a raw value earns of weight w: all of it at or
// beyond Full, none at or beyond Zero, linearly between, rounded down.
func earned(fc model.FormulaComponent, raw, w int64) int64 {
	if fc.Full == fc.Zero {
		if (fc.Better == model.BetterLower && raw <= fc.Full) || (fc.Better != model.BetterLower && raw >= fc.Full) {
			return w
		}
		return 0
	}
	if fc.Better == model.BetterLower {
		switch {
		case raw <= fc.Full:
			return w
		case raw >= fc.Zero:
			return 0
		}
		return w * (fc.Zero - raw) / (fc.Zero - fc.Full)
	}
	switch {
	case raw >= fc.Full:
		return w
	case raw <= fc.Zero:
		return 0
	}
	return w * (raw - fc.Zero) / (fc.Full - fc.Zero)
}
