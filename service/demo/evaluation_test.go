package demo

import (
	"context"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

func TestLoadEvaluation(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	c, err := Load(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := LoadEvaluation(ctx, db, c, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Quarters != [2]string{"2026Q2", "2026Q3"} || len(ev.Firms) != 2 || len(ev.Compounds) != 6 {
		t.Fatalf("%+v", ev)
	}
	f, err := model.FormulaVersion(ctx, db, model.ScoreKindFirm, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range ev.Quarters {
		rows, err := model.Scores(ctx, db, model.ScoreQuery{Kind: model.ScoreKindFirm, Period: q, FormulaID: f.ID})
		if err != nil {
			t.Fatal(err)
		}
		eligible := 0
		for _, r := range rows {
			if r.RankEligible {
				eligible++
			}
			if r.StreetID != c.StreetID {
				t.Fatalf("row outside the street: %+v", r)
			}
		}
		if len(rows) != 8 || eligible != 7 {
			t.Fatalf("%s: %d rows, %d eligible", q, len(rows), eligible)
		}
		if _, found, err := model.LatestScoreRun(ctx, db, model.ScoreKindFirm, q); err != nil || !found {
			t.Fatalf("%s has no run: %v", q, err)
		}
	}
	// 光安花园 still has no firm.
	var n int64
	db.Model(&model.Contract{}).Where("compound_id = ?", c.Compounds[2].ID).Count(&n)
	if n != 0 {
		t.Fatalf("光安花园 has %d contracts", n)
	}
}
