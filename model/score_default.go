package model

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Components of a firm's score card. Ratios are in basis points.
const (
	CompSatisfaction  = "satisfaction"  // 满意率: ratings of 4–5 / ratings
	CompOnTime        = "on_time"       // 按期结案率: confirmed by the deadline / due
	CompCompletion    = "completion"    // 结案率: confirmed / due
	CompResponse      = "response"      // 响应率: accepted within the deadline / accept steps due
	CompRework        = "rework"        // 返工率: sent back at least once / completed
	CompComplaints    = "complaints"    // complaints per 100 households (hundredths)
	CompInspections   = "inspections"   // mean inspection points out of 100 (hundredths)
	CompRectification = "rectification" // overdue rectifications / due
)

// Components of a grid worker's monthly score.
const (
	CompVerifyTime   = "verify_time"    // median seconds from submission to verification
	CompPatrol       = "patrol"         // patrol reports filed (a count)
	CompConfirmTime  = "confirm_ontime" // confirmations within the deadline / confirmations
	CompCallAck      = "call_ack"       // emergency calls acknowledged / calls in the grid
	CompCallAckTime  = "call_ack_time"  // median seconds to acknowledge
	CompRatings      = "ratings"        // ratings of 4–5 / ratings of the orders confirmed
	CompRectFollowed = "rect_followed"  // rectifications revisited in time / due
)

// formulaEpoch is the effective date of the default versions: every
// period can be scored with them.
var formulaEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(-8 * time.Hour)

// DefaultFormulas are version 1 of each kind, seeded by migration 20.
func DefaultFormulas() []ScoreFormula {
	return []ScoreFormula{
		{Kind: ScoreKindFirm, Version: 1, EffectiveFrom: formulaEpoch, Note: "默认计分公式", Spec: FormulaSpec{
			Components: []FormulaComponent{
				{Name: CompSatisfaction, Weight: 25, MinSamples: 5, Better: BetterHigher, Full: 9500, Zero: 6000},
				{Name: CompOnTime, Weight: 15, MinSamples: 5, Better: BetterHigher, Full: 9500, Zero: 5000},
				{Name: CompCompletion, Weight: 15, MinSamples: 5, Better: BetterHigher, Full: 10000, Zero: 6000},
				{Name: CompResponse, Weight: 10, MinSamples: 5, Better: BetterHigher, Full: 10000, Zero: 6000},
				{Name: CompRework, Weight: 10, MinSamples: 5, Better: BetterLower, Full: 200, Zero: 2000},
				{Name: CompComplaints, Weight: 5, MinSamples: 10, Better: BetterLower, Full: 0, Zero: 500},
				{Name: CompInspections, Weight: 15, MinSamples: 1, Better: BetterHigher, Full: 9500, Zero: 6000},
				{Name: CompRectification, Weight: 5, MinSamples: 1, Better: BetterLower, Full: 0, Zero: 3000},
			},
			Redistribute:   RedistributeProportional,
			RankMinSamples: 10,
			MinComponents:  3,
			List:           &ListRule{Kind: "top_bottom", Group: LevelStreet, N: 3},
			Stars: []StarBand{{Stars: 5, Min: 9000}, {Stars: 4, Min: 8000}, {Stars: 3, Min: 7000},
				{Stars: 2, Min: 6000}, {Stars: 1, Min: 0}},
		}},
		{Kind: ScoreKindGridWorker, Version: 1, EffectiveFrom: formulaEpoch, Note: "默认计分公式", Spec: FormulaSpec{
			Components: []FormulaComponent{
				{Name: CompVerifyTime, Weight: 20, MinSamples: 5, Better: BetterLower, Full: 3600, Zero: 86400},
				{Name: CompPatrol, Weight: 20, MinSamples: 0, Better: BetterHigher, Full: 20, Zero: 0},
				{Name: CompConfirmTime, Weight: 20, MinSamples: 5, Better: BetterHigher, Full: 9500, Zero: 5000},
				{Name: CompCallAck, Weight: 10, MinSamples: 1, Better: BetterHigher, Full: 10000, Zero: 5000},
				{Name: CompCallAckTime, Weight: 10, MinSamples: 1, Better: BetterLower, Full: 300, Zero: 1800},
				{Name: CompRatings, Weight: 10, MinSamples: 5, Better: BetterHigher, Full: 9500, Zero: 6000},
				{Name: CompRectFollowed, Weight: 10, MinSamples: 1, Better: BetterHigher, Full: 10000, Zero: 5000},
			},
			Redistribute:   RedistributeProportional,
			RankMinSamples: 5,
			MinComponents:  2,
		}},
	}
}

// SeedFormulas inserts the default versions that are missing (migration
// 20, and tests that empty the tables).
func SeedFormulas(ctx context.Context, db *gorm.DB) error {
	fs := DefaultFormulas()
	now := time.Now().UTC()
	for i := range fs {
		fs[i].CreatedAt = now
	}
	err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&fs).Error
	return Translate(err)
}

// scoreIndexes serve the scoring job's scans of a period: the timeline
// by time (covering what the firms' candidate orders are picked by, so a
// quarter is one range of the index, not a read of years of rows),
// ratings by when they closed the order, complaints by when they were
// made.
var scoreIndexes = []struct{ table, name, cols string }{
	{"order_events", "ix_order_event_time", "created_at, action, handler_kind, handler_id, order_id"},
	{"orders", "ix_order_closed", "closed_at"},
	{"orders", "ix_order_created", "created_at"},
}
