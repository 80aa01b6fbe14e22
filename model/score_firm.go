package model

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// The facts of a firm's score card, over a period [start, end).
//
// A firm holds two steps of an order: the accept step (dispatched →
// accepted, bounded by the category's accept budget or the dispatcher's
// due date) and the completion step (accepted → completed, bounded by the
// complete budget or the due date, re-armed by a rework). A step "falls
// due" at the first of two timeline rows: the act that ends it (accept,
// complete) or its overdue mark (the scheduler's `overdue` row, written
// when the deadline passes, with the step's state as from_state). So each
// order's step falls due in exactly one period: the one of its overdue
// mark when late, of its act when on time; a step still running within
// its deadline is not due yet. Only timeline rows before the period's end
// count, and the timeline is never edited: once a period is closed its
// facts no longer change.
//
// An order is the firm's when the timeline rows of the step carry the
// firm as handler (handler_kind = firm, handler_id = the firm): an order
// counts once per firm, with its first accept, complete, confirm, rework
// and overdue marks. The compound is the order's.
//
//   - response 响应率: accept steps due in the period that were accepted
//     before their overdue mark / accept steps due;
//   - 应结案数: completion steps due in the period;
//   - completion 结案率: of those, the orders confirmed before the end of
//     the period / due;
//   - on-time 按期结案率: of those, the orders confirmed with no overdue
//     mark of the completion step before the confirmation / due;
//   - rework 返工率: of the due orders completed, those sent back for
//     rework at least once / completed;
//   - satisfaction 满意率: orders of the firm rated in the period (the
//     order's rating as stored, when it was closed by the rating in the
//     period) with 4–5 stars / rated; the mean is their sum / rated;
//   - complaints: orders of a category marked complaint_against_firm
//     submitted in the period in the compound (not rejected, merged or
//     cancelled) per 100 households of the compound, for the firms whose
//     contract covered the compound in the period;
//   - rectification: action items owned by the firm due in the period not
//     done by their due time / due.
const (
	firmFactCols = `e.order_id AS order_id, e.handler_id AS firm_id,
		MIN(CASE WHEN e.action = 'accept' THEN e.created_at END) AS acc,
		MIN(CASE WHEN e.action = 'overdue' AND e.from_state = 'dispatched' THEN e.created_at END) AS acc_late,
		MIN(CASE WHEN e.action = 'complete' THEN e.created_at END) AS cmp,
		MIN(CASE WHEN e.action = 'overdue' AND e.from_state IN ('accepted', 'in_progress') THEN e.created_at END) AS cmp_late,
		MIN(CASE WHEN e.action = 'confirm' THEN e.created_at END) AS cnf,
		MIN(CASE WHEN e.action = 'rework' THEN e.created_at END) AS rwk`
	// firmStepCols classify a fact row: when each step fell due and how.
	firmStepCols = `f.order_id, f.firm_id, o.compound_id, o.community_id, o.street_id, o.city_id,
		CASE WHEN f.acc IS NOT NULL AND (f.acc_late IS NULL OR f.acc <= f.acc_late) THEN f.acc ELSE f.acc_late END AS acc_at,
		CASE WHEN f.acc IS NOT NULL AND (f.acc_late IS NULL OR f.acc <= f.acc_late) THEN 1 ELSE 0 END AS acc_ok,
		CASE WHEN f.cmp IS NOT NULL AND (f.cmp_late IS NULL OR f.cmp <= f.cmp_late) THEN f.cmp ELSE f.cmp_late END AS cmp_at,
		CASE WHEN f.cmp IS NOT NULL THEN 1 ELSE 0 END AS completed,
		CASE WHEN f.cnf IS NOT NULL THEN 1 ELSE 0 END AS confirmed,
		CASE WHEN f.cnf IS NOT NULL AND (f.cmp_late IS NULL OR f.cnf < f.cmp_late) THEN 1 ELSE 0 END AS on_time,
		CASE WHEN f.cmp IS NOT NULL AND f.rwk IS NOT NULL THEN 1 ELSE 0 END AS reworked`
)

// eventsByTime reads the timeline by its time index: on MySQL by name,
// since for a quarter of the history the optimizer would rather scan the
// whole table by another index.
func eventsByTime(db *gorm.DB) *gorm.DB {
	if IsMySQL(db) {
		return db.Table("order_events FORCE INDEX (ix_order_event_time)")
	}
	return db.Table("order_events")
}

// ScoreFilter narrows the facts to one firm and one place (for the
// explanation of one score row); zero values narrow nothing.
type ScoreFilter struct {
	FirmID int64
	Place  Place // compound, street or city
}

// firmSteps is the query of the classified fact rows of the period: one
// per (order, firm) with a step that may have fallen due in it.
func firmSteps(db *gorm.DB, start, end time.Time, ff ScoreFilter) *gorm.DB {
	start, end = start.UTC(), end.UTC()
	// The orders with a row ending or marking a firm's step in the
	// period, read by the timeline's time index.
	cand := eventsByTime(db).Select("DISTINCT order_id").
		Where("created_at >= ? AND created_at < ? AND action IN ? AND handler_kind = ?",
			start, end, []string{"accept", "complete", "overdue"}, HandlerFirm)
	facts := db.Table("order_events AS e").Select(firmFactCols).
		Joins("JOIN (?) AS c ON c.order_id = e.order_id", cand).
		Where("e.handler_kind = ? AND e.created_at < ?", HandlerFirm, end).
		Where("e.action IN ?", []string{"accept", "overdue", "complete", "confirm", "rework"})
	if col := AncestryColumn(ff.Place.Kind); col != "" {
		// One place's facts (an explanation): its orders first, by the
		// orders' ancestry index, then their timelines.
		cand = db.Table("orders AS o").Select("DISTINCT e.order_id").Joins("JOIN order_events e ON e.order_id = o.id").
			Where("o."+col+" = ?", ff.Place.ID).
			Where("e.created_at >= ? AND e.created_at < ? AND e.action IN ? AND e.handler_kind = ?",
				start, end, []string{"accept", "complete", "overdue"}, HandlerFirm)
		if ff.FirmID != 0 {
			cand = cand.Where("e.handler_id = ?", ff.FirmID)
		}
		facts = db.Table("order_events AS e").Select(firmFactCols).
			Joins("JOIN (?) AS c ON c.order_id = e.order_id", cand).
			Where("e.handler_kind = ? AND e.created_at < ?", HandlerFirm, end).
			Where("e.action IN ?", []string{"accept", "overdue", "complete", "confirm", "rework"})
	} else if ff.FirmID != 0 {
		cand = cand.Where("handler_id = ?", ff.FirmID)
	}
	if ff.FirmID != 0 {
		facts = facts.Where("e.handler_id = ?", ff.FirmID)
	}
	facts = facts.Group("e.order_id, e.handler_id")
	q := db.Table("(?) AS f", facts).Select(firmStepCols).Joins("JOIN orders o ON o.id = f.order_id")
	if col := AncestryColumn(ff.Place.Kind); col != "" {
		q = q.Where("o."+col+" = ?", ff.Place.ID)
	}
	return q
}

// FirmOrderFigure is the order facts of one firm in one compound.
type FirmOrderFigure struct {
	FirmID, CompoundID                          int64
	Due, Confirmed, OnTime, Completed, Reworked int64
	AcceptDue, AcceptOnTime                     int64
}

// FirmOrderFigures counts the order components of every firm in every
// compound for the period (see the definitions above), by GROUP BY.
func FirmOrderFigures(ctx context.Context, db *gorm.DB, start, end time.Time) ([]FirmOrderFigure, error) {
	start, end = start.UTC(), end.UTC()
	due := "s.cmp_at >= ? AND s.cmp_at < ?"
	acc := "s.acc_at >= ? AND s.acc_at < ?"
	sel := fmt.Sprintf(`s.firm_id, s.compound_id,
		SUM(CASE WHEN %[1]s THEN 1 ELSE 0 END) AS due,
		SUM(CASE WHEN %[1]s AND s.confirmed = 1 THEN 1 ELSE 0 END) AS confirmed,
		SUM(CASE WHEN %[1]s AND s.on_time = 1 THEN 1 ELSE 0 END) AS on_time,
		SUM(CASE WHEN %[1]s AND s.completed = 1 THEN 1 ELSE 0 END) AS completed,
		SUM(CASE WHEN %[1]s AND s.reworked = 1 THEN 1 ELSE 0 END) AS reworked,
		SUM(CASE WHEN %[2]s THEN 1 ELSE 0 END) AS accept_due,
		SUM(CASE WHEN %[2]s AND s.acc_ok = 1 THEN 1 ELSE 0 END) AS accept_on_time`, due, acc)
	args := []any{start, end, start, end, start, end, start, end, start, end, start, end, start, end}
	var rows []FirmOrderFigure
	err := db.WithContext(ctx).Table("(?) AS s", firmSteps(db, start, end, ScoreFilter{})).
		Select(sel, args...).Group("s.firm_id, s.compound_id").Order("s.firm_id, s.compound_id").Scan(&rows).Error
	return rows, Translate(err)
}

// FirmRatingFigure is the ratings of one firm's orders in one compound.
type FirmRatingFigure struct {
	FirmID, CompoundID int64
	Rated, Good, Sum   int64
}

// ratedOrders are the firm's orders rated in the period.
func ratedOrders(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("orders").Where("closed_at >= ? AND closed_at < ? AND rating_overall > 0 AND handler_kind = ?",
		start.UTC(), end.UTC(), HandlerFirm)
}

// FirmRatingFigures counts the ratings per firm and compound.
func FirmRatingFigures(ctx context.Context, db *gorm.DB, start, end time.Time) ([]FirmRatingFigure, error) {
	var rows []FirmRatingFigure
	err := ratedOrders(db.WithContext(ctx), start, end).
		Select(`handler_id AS firm_id, compound_id, COUNT(*) AS rated,
			SUM(CASE WHEN rating_overall >= 4 THEN 1 ELSE 0 END) AS good, SUM(rating_overall) AS sum`).
		Group("handler_id, compound_id").Order("handler_id, compound_id").Scan(&rows).Error
	return rows, Translate(err)
}

// complaintOrders are the complaints about firms submitted in the period.
func complaintOrders(db *gorm.DB, start, end time.Time) *gorm.DB {
	cats := db.Table("categories").Select("id").Where("complaint_against_firm = ?", true)
	return db.Table("orders").Where("created_at >= ? AND created_at < ? AND category_id IN (?) AND state NOT IN ?",
		start.UTC(), end.UTC(), cats, []string{StateRejected, StateMerged, StateCancelled})
}

// CountPer is a count per id.
type CountPer struct {
	ID int64
	N  int64
}

// CompoundComplaints counts the complaints per compound.
func CompoundComplaints(ctx context.Context, db *gorm.DB, start, end time.Time) ([]CountPer, error) {
	var rows []CountPer
	err := complaintOrders(db.WithContext(ctx), start, end).Select("compound_id AS id, COUNT(*) AS n").
		Group("compound_id").Order("compound_id").Scan(&rows).Error
	return rows, Translate(err)
}

// CompoundHouseholds counts the households per compound.
func CompoundHouseholds(ctx context.Context, db *gorm.DB) ([]CountPer, error) {
	var rows []CountPer
	err := db.WithContext(ctx).Model(&Household{}).Select("compound_id AS id, COUNT(*) AS n").
		Group("compound_id").Order("compound_id").Scan(&rows).Error
	return rows, Translate(err)
}

// ServedPair is a firm serving a compound at some time of a period.
type ServedPair struct {
	FirmID, CompoundID int64
}

// ServedPairs lists the firms' contracts overlapping [start, end), two
// Beijing midnights. Contracts hold Beijing dates as midnight UTC (ends_on
// inclusive): the period's first date is its start plus eight hours.
func ServedPairs(ctx context.Context, db *gorm.DB, start, end time.Time) ([]ServedPair, error) {
	var rows []ServedPair
	first, after := start.UTC().Add(8*time.Hour), end.UTC().Add(8*time.Hour)
	err := db.WithContext(ctx).Model(&Contract{}).Select("DISTINCT firm_id, compound_id").
		Where("starts_on < ? AND ends_on >= ?", after, first).
		Order("firm_id, compound_id").Scan(&rows).Error
	return rows, Translate(err)
}

// FirmActionFigure is the action items a firm owned that fell due in the
// period, per place (CompoundID 0 for items of a community).
type FirmActionFigure struct {
	FirmID, CompoundID, CommunityID, StreetID, CityID int64
	Due, Overdue                                      int64
}

// firmItemLate is true of an item not done by its due time.
const firmItemLate = "NOT (done_at IS NOT NULL AND done_at <= due_at AND state IN ('done', 'verified'))"

func firmItems(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("action_items").Where("owner_kind = ? AND due_at >= ? AND due_at < ?", OwnerFirm, start.UTC(), end.UTC())
}

// FirmActionFigures counts the firms' action items due in the period.
func FirmActionFigures(ctx context.Context, db *gorm.DB, start, end time.Time) ([]FirmActionFigure, error) {
	var rows []FirmActionFigure
	err := firmItems(db.WithContext(ctx), start, end).
		Select(`owner_id AS firm_id, compound_id, community_id, street_id, city_id, COUNT(*) AS due,
			SUM(CASE WHEN ` + firmItemLate + ` THEN 1 ELSE 0 END) AS overdue`).
		Group("owner_id, compound_id, community_id, street_id, city_id").
		Order("owner_id, compound_id, community_id").Scan(&rows).Error
	return rows, Translate(err)
}

// CompoundsByID loads compounds by id, as a map.
func CompoundsByID(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]Compound, error) {
	out := map[int64]Compound{}
	for start := 0; start < len(ids); start += 1000 {
		var cs []Compound
		err := db.WithContext(ctx).Where("id IN ?", ids[start:min(start+1000, len(ids))]).Find(&cs).Error
		if err != nil {
			return nil, Translate(err)
		}
		for _, c := range cs {
			out[c.ID] = c
		}
	}
	return out, nil
}

// Evidence is one fact behind a component: an order, a rating, an
// inspection or an action item, and whether it counts in the numerator.
type Evidence struct {
	ID      int64
	Counted bool
}

// FirmEvidence pages the facts behind one component of a firm's score
// row (ids descending below p.After): the same conditions as the counts.
// ok is false for a component without listed facts.
func FirmEvidence(ctx context.Context, db *gorm.DB, start, end time.Time, ff ScoreFilter, comp string, p Page) (Paged[Evidence], bool, error) {
	start, end = start.UTC(), end.UTC()
	var q *gorm.DB
	place := func(q *gorm.DB) *gorm.DB {
		if col := AncestryColumn(ff.Place.Kind); col != "" {
			return q.Where(col+" = ?", ff.Place.ID)
		}
		return q
	}
	steps := func(dueCol, counted string) *gorm.DB {
		return db.Table("(?) AS s", firmSteps(db, start, end, ff)).
			Select("s.order_id AS id, "+counted+" AS counted").
			Where("s."+dueCol+" >= ? AND s."+dueCol+" < ?", start, end)
	}
	switch comp {
	case CompResponse:
		q = steps("acc_at", "s.acc_ok")
	case CompCompletion:
		q = steps("cmp_at", "s.confirmed")
	case CompOnTime:
		q = steps("cmp_at", "s.on_time")
	case CompRework:
		q = steps("cmp_at", "s.reworked").Where("s.completed = 1")
	case CompSatisfaction:
		q = place(ratedOrders(db, start, end).Where("handler_id = ?", ff.FirmID)).
			Select("id, CASE WHEN rating_overall >= 4 THEN 1 ELSE 0 END AS counted")
	case CompComplaints:
		first, after := start.Add(8*time.Hour), end.Add(8*time.Hour)
		served := db.Model(&Contract{}).Select("compound_id").
			Where("firm_id = ? AND starts_on < ? AND ends_on >= ?", ff.FirmID, after, first)
		q = place(complaintOrders(db, start, end)).Where("compound_id IN (?)", served).Select("id, 1 AS counted")
	case CompRectification:
		q = place(firmItems(db, start, end).Where("owner_id = ?", ff.FirmID)).
			Select("id, CASE WHEN " + firmItemLate + " THEN 1 ELSE 0 END AS counted")
	default:
		return Paged[Evidence]{}, false, nil
	}
	idCol := "id"
	if comp == CompResponse || comp == CompCompletion || comp == CompOnTime || comp == CompRework {
		idCol = "s.order_id"
	}
	page, err := KeysetPage[Evidence](ctx, q, idCol, p)
	return page, true, err
}

// intDiv is integer division in the engine's SQL (MySQL's / is exact).
func intDiv(db *gorm.DB, a, b string) string {
	if IsMySQL(db) {
		return "(" + a + ") DIV (" + b + ")"
	}
	return "(" + a + ") / (" + b + ")"
}

// inspected are the scored inspections of firms in the period.
func inspected(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("inspections").Where("inspected_at >= ? AND inspected_at < ? AND scored = ? AND possible > 0 AND firm_id > 0",
		start.UTC(), end.UTC(), true)
}

// FirmInspectionFigure is a firm's inspections in one compound: how many,
// and the sum of their points out of 100 in hundredths (each rounded
// down), whose mean is the component.
type FirmInspectionFigure struct {
	FirmID, CompoundID int64
	N, Sum             int64
}

// FirmInspectionFigures counts the inspections per firm and compound.
func FirmInspectionFigures(ctx context.Context, db *gorm.DB, start, end time.Time) ([]FirmInspectionFigure, error) {
	var rows []FirmInspectionFigure
	err := inspected(db.WithContext(ctx), start, end).
		Select("firm_id, compound_id, COUNT(*) AS n, SUM(" + intDiv(db, "earned * 10000", "possible") + ") AS sum").
		Group("firm_id, compound_id").Order("firm_id, compound_id").Scan(&rows).Error
	return rows, Translate(err)
}

// rectsDue are the rating rectifications owned by firms due in the
// period; one is late when it was not reported by its due time.
func rectsDue(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("rectifications").Where("firm_id > 0 AND due_at >= ? AND due_at < ?", start.UTC(), end.UTC())
}

const rectLateCol = "(reported_at IS NULL OR reported_at > due_at)"

// FirmRectFigure is a firm's rating rectifications due in one compound.
type FirmRectFigure struct {
	FirmID, CompoundID int64
	Due, Late          int64
}

// FirmRectFigures counts the rating rectifications per firm and compound.
func FirmRectFigures(ctx context.Context, db *gorm.DB, start, end time.Time) ([]FirmRectFigure, error) {
	var rows []FirmRectFigure
	err := rectsDue(db.WithContext(ctx), start, end).
		Select("firm_id, compound_id, COUNT(*) AS due, SUM(CASE WHEN " + rectLateCol + " THEN 1 ELSE 0 END) AS late").
		Group("firm_id, compound_id").Order("firm_id, compound_id").Scan(&rows).Error
	return rows, Translate(err)
}

// FirmInspectionEvidence pages a firm's inspections behind the component
// (all counted: each is a sample of the mean).
func FirmInspectionEvidence(ctx context.Context, db *gorm.DB, start, end time.Time, ff ScoreFilter, p Page) (Paged[Evidence], error) {
	q := inspected(db, start, end).Where("firm_id = ?", ff.FirmID).Select("id, 1 AS counted")
	if col := AncestryColumn(ff.Place.Kind); col != "" {
		q = q.Where(col+" = ?", ff.Place.ID)
	}
	return KeysetPage[Evidence](ctx, q, "id", p)
}

// FirmRectEvidence pages a firm's rating rectifications due in the
// period, late ones counted.
func FirmRectEvidence(ctx context.Context, db *gorm.DB, start, end time.Time, ff ScoreFilter, p Page) (Paged[Evidence], error) {
	q := rectsDue(db, start, end).Where("firm_id = ?", ff.FirmID).
		Select("id, CASE WHEN " + rectLateCol + " THEN 1 ELSE 0 END AS counted")
	if col := AncestryColumn(ff.Place.Kind); col != "" {
		q = q.Where(col+" = ?", ff.Place.ID)
	}
	return KeysetPage[Evidence](ctx, q, "id", p)
}
