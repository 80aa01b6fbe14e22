package score_test

import (
	"testing"

	"redprop/model"
	"redprop/service"
	"redprop/service/score"
	"redprop/service/servicetest"
)

// testSpec is a formula whose points are easy to work out by hand.
func testSpec() model.FormulaSpec {
	return model.FormulaSpec{
		Components: []model.FormulaComponent{
			{Name: model.CompSatisfaction, Weight: 30, MinSamples: 3, Better: model.BetterHigher, Full: 10000, Zero: 0},
			{Name: model.CompOnTime, Weight: 20, MinSamples: 3, Better: model.BetterHigher, Full: 10000, Zero: 0},
			{Name: model.CompCompletion, Weight: 20, MinSamples: 3, Better: model.BetterHigher, Full: 10000, Zero: 0},
			{Name: model.CompResponse, Weight: 10, MinSamples: 3, Better: model.BetterHigher, Full: 10000, Zero: 0},
			{Name: model.CompRework, Weight: 10, MinSamples: 3, Better: model.BetterLower, Full: 0, Zero: 10000},
			{Name: model.CompComplaints, Weight: 10, MinSamples: 10, Better: model.BetterLower, Full: 0, Zero: 2000},
		},
		Redistribute: model.RedistributeProportional, RankMinSamples: 5, MinComponents: 3,
	}
}

type want struct{ num, den int64 }

func componentsByName(cs []model.ScoreComponent) map[string]model.ScoreComponent {
	out := map[string]model.ScoreComponent{}
	for _, c := range cs {
		out[c.Name] = c
	}
	return out
}

// rowOf finds a firm's row of a scope in a period's views.
func rowOf(t *testing.T, svc *score.Service, c *servicetest.City, version int, kind string, id int64) score.View {
	t.Helper()
	rows, _, err := svc.PeriodScores(c.Ctx, score.Query{Kind: model.ScoreKindFirm, Period: "2026Q3", FormulaVersion: version})
	servicetest.Must(t, err)
	for _, r := range rows {
		if r.ScopeKind == kind && r.ScopeID == id && r.FirmID == c.Firm.ID {
			v, err := svc.Get(c.Ctx, c.Actor("admin"), r.ID)
			servicetest.Must(t, err)
			return v
		}
	}
	t.Fatalf("no %s row %d under version %d", kind, id, version)
	return score.View{}
}

// snapshot reads every score row and component, for byte comparisons.
func snapshot(t *testing.T, c *servicetest.City) ([]model.Score, []model.ScoreComponent) {
	t.Helper()
	var ss []model.Score
	var cs []model.ScoreComponent
	servicetest.Must(t, c.DB.Order("id").Find(&ss).Error)
	servicetest.Must(t, c.DB.Order("id").Find(&cs).Error)
	return ss, cs
}

func TestFirmScoreCard(t *testing.T) {
	f := newFixture(t)
	c := f.c
	f.quarter3()
	svc := score.New(c.DB, c.Clock, score.Options{})
	admin := c.Actor("admin")
	v2, err := svc.AddFormula(c.Ctx, c.Actor("city"), score.NewFormula{Kind: model.ScoreKindFirm, EffectiveFrom: "2026-07-01",
		Note: "测试公式", Spec: testSpec()})
	servicetest.Must(t, err)
	if v2.Version != 2 {
		t.Fatalf("new formula version %d, want 2", v2.Version)
	}

	c.Step(t, "a list rule the lists cannot apply is refused", func(t *testing.T) {
		// Red at or above 80 and black below 80 at once: no line could be
		// placed by it, so it is refused rather than replaced unseen.
		spec := testSpec()
		spec.List = &model.ListRule{Kind: "threshold", Group: model.LevelStreet, RedMin: 8000, BlackMax: 8000}
		_, err := svc.AddFormula(c.Ctx, c.Actor("city"), score.NewFormula{Kind: model.ScoreKindFirm, EffectiveFrom: "2026-07-01", Spec: spec})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_formula")
	})

	c.Step(t, "an open period is refused", func(t *testing.T) {
		_, err := svc.RunPeriod(c.Ctx, admin, model.ScoreKindFirm, "2026Q4", 0)
		servicetest.WantErr(t, err, service.KindUnprocessable, "period_not_closed")
	})

	var first []model.Score
	var firstComps []model.ScoreComponent
	c.Step(t, "each component's numerator and denominator", func(t *testing.T) {
		res, err := svc.RunPeriod(c.Ctx, admin, model.ScoreKindFirm, "2026Q3", 0)
		servicetest.Must(t, err)
		if res.Formula.Version != 2 || res.Run.Rows != 4 || res.Run.Written != 4 {
			t.Fatalf("run %+v formula v%d, want v2 with 4 rows (2 compounds, street, city)", res.Run, res.Formula.Version)
		}
		v := rowOf(t, svc, c, 2, model.ScopeCompound, c.Compounds[0].ID)
		got := componentsByName(v.Components)
		for name, w := range map[string]want{
			model.CompSatisfaction: {2, 3}, // o1 (5), o3 (4) of o1, o2, o3
			model.CompOnTime:       {3, 6}, // o1, o3, o6 of o1–o6
			model.CompCompletion:   {4, 6}, // o1, o2, o3, o6
			model.CompResponse:     {4, 5}, // o1, o3, o4, o5 of o1–o5 (o6 accepted in Q2)
			model.CompRework:       {1, 5}, // o3 of the completed o1, o2, o3, o5, o6
			model.CompComplaints:   {1, 8}, // o8 per 8 households
		} {
			if g := got[name]; g.Numerator != w.num || g.Denominator != w.den {
				t.Errorf("%s: %d/%d, want %d/%d", name, g.Numerator, g.Denominator, w.num, w.den)
			}
		}
		if g := got[model.CompSatisfaction]; g.Extra != 11 || g.Raw != 6666 {
			t.Errorf("satisfaction extra %d raw %d, want rating sum 11, 6666 bp", g.Extra, g.Raw)
		}
		if g := got[model.CompComplaints]; g.Status != model.ComponentInsufficient || g.Raw != 1250 || g.Points != 0 {
			t.Errorf("complaints %+v, want insufficient (8 households < 10) at 12.50 per 100", g)
		}
		// Proportional redistribution over the 90 points left:
		// 3333·0.6666 + 2222·0.5 + 2222·0.6666 + 1111·0.8 + 1111·0.8 (rounded down each).
		if v.Points != 2221+1111+1481+888+888 || !v.RankEligible || v.Samples != 6 || v.Sufficient != 5 {
			t.Errorf("compound 0: points %d eligible %v samples %d sufficient %d, want 6589, ranked, 6, 5",
				v.Points, v.RankEligible, v.Samples, v.Sufficient)
		}
		small := rowOf(t, svc, c, 2, model.ScopeCompound, c.Compounds[1].ID)
		if small.RankEligible || small.Samples != 2 || small.Ineligible == "" {
			t.Errorf("compound 1 with 2 orders: eligible %v samples %d (%q), want never ranked", small.RankEligible, small.Samples, small.Ineligible)
		}
		street := rowOf(t, svc, c, 2, model.ScopeStreet, c.StreetID)
		sg := componentsByName(street.Components)
		if g := sg[model.CompCompletion]; g.Numerator != 6 || g.Denominator != 8 {
			t.Errorf("street completion %d/%d, want 6/8 (the sums of both compounds)", g.Numerator, g.Denominator)
		}
		if g := sg[model.CompComplaints]; g.Numerator != 1 || g.Denominator != 16 || g.Status != model.ComponentOK {
			t.Errorf("street complaints %+v, want 1 per 16 households, sufficient", g)
		}
		first, firstComps = snapshot(t, c)
	})

	c.Step(t, "the explanation lists the orders behind each figure, paged", func(t *testing.T) {
		v := rowOf(t, svc, c, 2, model.ScopeCompound, c.Compounds[0].ID)
		ids := func(comp string, limit int) (all []int64, counted []int64) {
			p := service.Page{Limit: limit}
			for {
				ev, err := svc.Explain(c.Ctx, admin, v.ID, comp, "", p)
				servicetest.Must(t, err)
				for _, e := range ev.Page.Items {
					all = append(all, e.ID)
					if e.Counted {
						counted = append(counted, e.ID)
					}
				}
				if !ev.Page.More {
					return
				}
				p.After = ev.Page.Items[len(ev.Page.Items)-1].ID
			}
		}
		o := f.ids
		all, counted := ids(model.CompOnTime, 2)
		wantIDs(t, "on-time due", all, o["o6"], o["o5"], o["o4"], o["o3"], o["o2"], o["o1"])
		wantIDs(t, "on-time counted", counted, o["o6"], o["o3"], o["o1"])
		all, counted = ids(model.CompResponse, 100)
		wantIDs(t, "response due", all, o["o5"], o["o4"], o["o3"], o["o2"], o["o1"])
		wantIDs(t, "response counted", counted, o["o5"], o["o4"], o["o3"], o["o1"])
		all, counted = ids(model.CompSatisfaction, 1)
		wantIDs(t, "ratings", all, o["o3"], o["o2"], o["o1"])
		wantIDs(t, "good ratings", counted, o["o3"], o["o1"])
		all, _ = ids(model.CompComplaints, 10)
		wantIDs(t, "complaints", all, o["o8"])
		_, err := svc.Explain(c.Ctx, admin, v.ID, "nonsense", "", service.Page{})
		servicetest.WantErr(t, err, service.KindNotFound, "component_not_found")
	})

	c.Step(t, "re-running the period leaves the rows byte for byte", func(t *testing.T) {
		res, err := svc.RunPeriod(c.Ctx, admin, model.ScoreKindFirm, "2026Q3", 0)
		servicetest.Must(t, err)
		if res.Run.Written != 0 {
			t.Fatalf("a re-run wrote %d rows, want 0", res.Run.Written)
		}
		ss, cs := snapshot(t, c)
		sameRows(t, first, ss, firstComps, cs)
	})

	c.Step(t, "another formula version is a new set; the old stays", func(t *testing.T) {
		res, err := svc.RunPeriod(c.Ctx, admin, model.ScoreKindFirm, "2026Q3", 1)
		servicetest.Must(t, err)
		if res.Formula.Version != 1 || res.Run.Written != 4 {
			t.Fatalf("run %+v, want 4 rows written under version 1", res.Run)
		}
		ss, cs := snapshot(t, c)
		sameRows(t, first, ss[:len(first)], firstComps, cs[:len(firstComps)])
		v1 := rowOf(t, svc, c, 1, model.ScopeCompound, c.Compounds[0].ID)
		if v1.FormulaVersion != 1 || v1.RankEligible {
			t.Errorf("version 1 row %+v: the default formula needs 10 due orders to rank", v1.Score)
		}
		g := componentsByName(v1.Components)
		// n1 90/100 and n2 40/50 (n0 is of Q2): 9000 + 8000 hundredths.
		if i := g[model.CompInspections]; i.Status != model.ComponentOK || i.Numerator != 17000 || i.Denominator != 2 || i.Raw != 8500 {
			t.Errorf("version 1 inspections %+v", i)
		}
		// i2 and r1 late, of the items i1, i2 and the rectifications r1, r2.
		if r := g[model.CompRectification]; r.Numerator != 2 || r.Denominator != 4 || r.Raw != 5000 {
			t.Errorf("version 1 rectification %+v", r)
		}
		ev, err := svc.Explain(c.Ctx, admin, v1.ID, model.CompInspections, "", service.Page{})
		servicetest.Must(t, err)
		wantIDs(t, "inspections", evidenceIDs(ev), f.ids["n2"], f.ids["n1"])
		ev, err = svc.Explain(c.Ctx, admin, v1.ID, model.CompRectification, "", service.Page{})
		servicetest.Must(t, err)
		wantIDs(t, "action items", evidenceIDs(ev), f.ids["i2"], f.ids["i1"])
		if ev.Source != "action_item" || !ev.Page.Items[0].Counted || ev.Page.Items[1].Counted {
			t.Errorf("action item evidence %+v", ev)
		}
		ev, err = svc.Explain(c.Ctx, admin, v1.ID, model.CompRectification, "rectification", service.Page{})
		servicetest.Must(t, err)
		wantIDs(t, "rectifications", evidenceIDs(ev), f.ids["r2"], f.ids["r1"])
		if ev.Source != "rectification" || ev.Page.Items[0].Counted || !ev.Page.Items[1].Counted {
			t.Errorf("rectification evidence %+v", ev)
		}
		// The newest run decides the default version of a read.
		rows, f, err := svc.PeriodScores(c.Ctx, score.Query{Kind: model.ScoreKindFirm, Period: "2026Q3"})
		servicetest.Must(t, err)
		if f.Version != 1 || len(rows) != 4 {
			t.Errorf("default read: version %d, %d rows", f.Version, len(rows))
		}
	})
	c.Step(t, "a late fact changes in place only the rows it touches", func(t *testing.T) {
		before := rowOf(t, svc, c, 2, model.ScopeCompound, c.Compounds[0].ID)
		f.order("o11", 1, f.repair, bj(9, 1, 8, 0), 3, bj(9, 3, 9, 0),
			ev{"dispatch", "verified", bj(9, 1, 8, 10)}, ev{"accept", "dispatched", bj(9, 1, 8, 20)},
			ev{"complete", "in_progress", bj(9, 2, 8, 0)}, ev{"confirm", "completed", bj(9, 2, 10, 0)})
		res, err := svc.RunPeriod(c.Ctx, admin, model.ScoreKindFirm, "2026Q3", 2)
		servicetest.Must(t, err)
		if res.Run.Written != 3 {
			t.Fatalf("wrote %d rows, want compound 1, the street and the city", res.Run.Written)
		}
		after := rowOf(t, svc, c, 2, model.ScopeCompound, c.Compounds[0].ID)
		if after.ID != before.ID || after.Points != before.Points {
			t.Errorf("compound 0 changed: %+v then %+v", before.Score, after.Score)
		}
		small := rowOf(t, svc, c, 2, model.ScopeCompound, c.Compounds[1].ID)
		if g := componentsByName(small.Components)[model.CompSatisfaction]; g.Numerator != 2 || g.Denominator != 3 {
			t.Errorf("compound 1 satisfaction %d/%d, want 2/3", g.Numerator, g.Denominator)
		}
	})
}

func evidenceIDs(ev score.Evidence) []int64 {
	var out []int64
	for _, e := range ev.Page.Items {
		out = append(out, e.ID)
	}
	return out
}

func wantIDs(t *testing.T, what string, got []int64, want ...int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
	}
}

func sameRows(t *testing.T, a, b []model.Score, ac, bc []model.ScoreComponent) {
	t.Helper()
	if len(a) != len(b) || len(ac) != len(bc) {
		t.Fatalf("%d rows and %d components, then %d and %d", len(a), len(ac), len(b), len(bc))
	}
	for i := range a {
		if a[i].ID != b[i].ID || !a[i].PeriodStart.Equal(b[i].PeriodStart) {
			t.Fatalf("row %d changed: %+v then %+v", i, a[i], b[i])
		}
		// Times are compared as instants (the drivers read them in
		// different locations); every other field byte for byte.
		x, y := a[i], b[i]
		if !x.PeriodEnd.Equal(y.PeriodEnd) {
			t.Fatalf("row %d changed: %+v then %+v", i, a[i], b[i])
		}
		x.PeriodStart, x.PeriodEnd = y.PeriodStart, y.PeriodEnd
		if x != y {
			t.Fatalf("row %d changed: %+v then %+v", i, a[i], b[i])
		}
	}
	for i := range ac {
		if ac[i] != bc[i] {
			t.Fatalf("component %d changed: %+v then %+v", i, ac[i], bc[i])
		}
	}
}
