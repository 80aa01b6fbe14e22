package score_test

import (
	"testing"

	"redprop/model"
	"redprop/service/demo"
	"redprop/service/order"
	"redprop/service/score"
	"redprop/service/servicetest"
)

// The sandbox's history is scored by the scheduler once per period.
func TestDemoHistoryScoredByTheScheduler(t *testing.T) {
	c := servicetest.New(t, order.SeedCategories)
	h, err := demo.LoadHistory(c.Ctx, c.DB, c.Clock.Now())
	servicetest.Must(t, err)
	if h.Quarter != "2026Q3" || h.Month != "2026-10" {
		t.Fatalf("history of %s and %s, want the closed 2026Q3 and 2026-10 before 2026-11-23", h.Quarter, h.Month)
	}
	svc := score.New(c.DB, c.Clock, score.Options{})
	for _, kind := range []string{model.ScoreKindFirm, model.ScoreKindGridWorker} {
		res, ran, err := svc.Tick(c.Ctx, kind)
		servicetest.Must(t, err)
		if !ran || res.Run.Written == 0 {
			t.Fatalf("%s: the first tick ran %v, wrote %d", kind, ran, res.Run.Written)
		}
		if _, ran, err := svc.Tick(c.Ctx, kind); err != nil || ran {
			t.Fatalf("%s: a second tick ran again (%v)", kind, err)
		}
	}
	rows, _, err := svc.PeriodScores(c.Ctx, score.Query{Kind: model.ScoreKindFirm, Period: "2026Q3", ScopeKind: model.ScopeCompound})
	servicetest.Must(t, err)
	seen := map[int64]bool{}
	for _, r := range rows {
		seen[r.CompoundID] = true
		if r.CompoundID == c.Compounds[0].ID && (r.Samples != 24 || !r.RankEligible) {
			t.Errorf("compound 0: %+v, want 24 orders due and ranked", r)
		}
		if r.CompoundID == c.Compounds[1].ID && r.RankEligible {
			t.Errorf("compound 1 with 4 orders ranked: %+v", r)
		}
	}
	if !seen[c.Compounds[0].ID] || !seen[c.Compounds[1].ID] {
		t.Fatalf("compound rows %v: want rows of compounds 0 and 1", seen)
	}
}
