package model_test

import (
	"context"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

// A contract covers Beijing dates (stored as midnight UTC, the end
// inclusive): one ending on the day before a quarter, or starting on the
// day after it, did not serve in it.
func TestServedPairsByBeijingDates(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	for i, c := range []struct{ from, to time.Time }{
		{day(1, 1), day(6, 30)},   // ends the day before Q3
		{day(10, 1), day(12, 31)}, // starts the day after
		{day(9, 30), day(9, 30)},  // Q3's last day only
		{day(7, 1), day(7, 1)},    // its first day only
	} {
		ct := model.Contract{FirmID: int64(i + 1), StartsOn: c.from, EndsOn: c.to, Ancestry: model.Ancestry{CompoundID: 9}}
		if err := db.Create(&ct).Error; err != nil {
			t.Fatal(err)
		}
	}
	bj := time.FixedZone("CST", 8*3600)
	got, err := model.ServedPairs(ctx, db, time.Date(2026, 7, 1, 0, 0, 0, 0, bj), time.Date(2026, 10, 1, 0, 0, 0, 0, bj))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].FirmID != 3 || got[1].FirmID != 4 {
		t.Fatalf("served in Q3: %+v, want firms 3 and 4", got)
	}
}
