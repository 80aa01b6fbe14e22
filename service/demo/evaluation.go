package demo

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
)

// Evaluation is what LoadEvaluation added: two more firms, six more
// compounds of the street with their contracts, and the score rows of the
// last two closed quarters.
type Evaluation struct {
	Firms     []model.Firm
	Compounds []model.Compound
	Quarters  [2]string // the earlier one first
}

// LoadEvaluation adds, for the sandbox's walk through the 红黑榜, two firms
// and six compounds (without buildings) enough to rank, and score rows of the last two closed
// quarters as the scoring job writes them (formula version 1), with a run
// naming the formula. They are sample figures: no orders lie behind
// them, and scoring those quarters from orders replaces them. Tests do
// not load it: their fixtures stay the demo city alone.
func LoadEvaluation(ctx context.Context, db *gorm.DB, c *City, now time.Time) (*Evaluation, error) {
	ev := &Evaluation{}
	err := model.InTx(ctx, db, func(tx *gorm.DB) error { return ev.load(ctx, tx, c, now) })
	if err != nil {
		return nil, fmt.Errorf("load demo evaluation: %w", err)
	}
	return ev, nil
}

func (ev *Evaluation) load(ctx context.Context, tx *gorm.DB, c *City, now time.Time) error {
	for _, name := range []string{"安居物业管理有限公司", "城投物业服务有限公司"} {
		f := model.Firm{Name: name, CityID: c.CityID, DistrictID: c.DistrictID}
		if err := model.Create(ctx, tx, &f); err != nil {
			return err
		}
		ev.Firms = append(ev.Firms, f)
	}
	for i, name := range []string{"文昌花苑", "书香门第", "光安新村", "锦绣华庭", "康乐小区", "丽景湾"} {
		cp := model.Compound{Name: name, Address: fmt.Sprintf("文昌路 %d 号", 100+i), Ancestry: c.Communities[i%2].Ancestry}
		if err := model.CreateInTree(ctx, tx, &cp); err != nil {
			return err
		}
		ev.Compounds = append(ev.Compounds, cp)
	}
	// Who serves where: the demo firm at 金日天玺 and 华旗绿城, 安居 at
	// the first three new compounds, 城投 at the other three (光安花园
	// keeps having no firm).
	firm := []int64{c.Firm.ID, c.Firm.ID, ev.Firms[0].ID, ev.Firms[0].ID, ev.Firms[0].ID, ev.Firms[1].ID, ev.Firms[1].ID, ev.Firms[1].ID}
	compounds := append([]model.Compound{c.Compounds[0], c.Compounds[1]}, ev.Compounds...)
	start := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 2; i < len(compounds); i++ {
		ct := model.Contract{FirmID: firm[i], StartsOn: start, EndsOn: start.AddDate(3, 0, -1), Ancestry: compounds[i].Ancestry}
		if err := model.Create(ctx, tx, &ct); err != nil {
			return err
		}
	}
	f, err := model.FormulaVersion(ctx, tx, model.ScoreKindFirm, 1)
	if err != nil {
		return err
	}
	// Points × 100 per compound, in the order above; 0 is a project with
	// too few orders to be ranked. 金日天玺 is last in both quarters.
	points := [2][]int64{
		{5640, 7420, 9050, 8610, 0, 8230, 6880, 7790},
		{5820, 7135, 9210, 8840, 0, 8375, 6690, 7615},
	}
	last := quarterStart(now)
	for q := range 2 {
		from := last.AddDate(0, -3*(2-q), 0)
		period := fmt.Sprintf("%dQ%d", from.Year(), (int(from.Month())-1)/3+1)
		ev.Quarters[q] = period
		var rows []model.ScoredRow
		for i, cp := range compounds {
			rows = append(rows, sampleScore(f, period, from, cp, firm[i], points[q][i]))
		}
		if _, err := model.WriteScores(ctx, tx, model.ScoreKindFirm, period, f.ID, rows); err != nil {
			return err
		}
		run := model.ScoreRun{Kind: model.ScoreKindFirm, Period: period, FormulaID: f.ID, FormulaVersion: f.Version,
			Rows: len(rows), Written: len(rows), StartedAt: now.UTC(), FinishedAt: now.UTC()}
		if err := model.Create(ctx, tx, &run); err != nil {
			return err
		}
	}
	return nil
}

// quarterStart is the first day of the Beijing quarter holding t, as a
// Beijing midnight.
func quarterStart(t time.Time) time.Time {
	bj := t.In(beijing)
	return time.Date(bj.Year(), time.Month(3*((int(bj.Month())-1)/3)+1), 1, 0, 0, 0, 0, beijing)
}

// sampleScore is one firm × compound row with two components whose
// figures agree with its points.
func sampleScore(f model.ScoreFormula, period string, from time.Time, cp model.Compound, firmID, points int64) model.ScoredRow {
	sc := model.Score{Kind: model.ScoreKindFirm, Period: period, FormulaID: f.ID, FormulaVersion: f.Version,
		PeriodStart: from.UTC(), PeriodEnd: from.AddDate(0, 3, 0).UTC(), ScopeKind: model.ScopeCompound, ScopeID: cp.ID,
		FirmID: firmID, Ancestry: cp.Ancestry, Points: points, Samples: 60, Sufficient: 2, RankEligible: true}
	rated := int64(40)
	good := rated * points / 10000
	if points == 0 {
		sc.Points, sc.Samples, sc.Sufficient, sc.RankEligible, sc.Ineligible = 8800, 3, 0, false, "样本不足：3 件，少于 10 件"
		rated, good = 2, 2
	}
	return model.ScoredRow{Score: sc, Components: []model.ScoreComponent{
		{Name: model.CompSatisfaction, Status: status(rated, 5), Numerator: good, Denominator: rated, Raw: 10000 * good / rated,
			MinSamples: 5, Weight: 50, EffWeight: 5000, Points: sc.Points / 2},
		{Name: model.CompOnTime, Status: status(rated, 5), Numerator: good, Denominator: rated, Raw: 10000 * good / rated,
			MinSamples: 5, Weight: 50, EffWeight: 5000, Points: sc.Points - sc.Points/2},
	}}
}

func status(samples, min int64) string {
	if samples < min {
		return model.ComponentInsufficient
	}
	return model.ComponentOK
}
