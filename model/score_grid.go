package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// The facts of a grid worker's monthly score, over [start, end). A grid
// worker's acts are the timeline rows they wrote in the grid_worker role.
//
//   - verify_time: the median of the seconds from an order's submission to
//     the worker's first act on it (verify, reject, merge or resolve from
//     submitted), over those acts in the month;
//   - patrol: the patrol reports (巡查上报: orders of the patrol channel)
//     the worker filed in the month;
//   - confirm_ontime: the worker's confirmations in the month with no
//     overdue mark of the confirmation step before them / confirmations;
//   - call_ack: the emergency calls raised in the month in the worker's
//     grid that the worker acknowledged / those calls; call_ack_time: the
//     median seconds from the call to the worker's acknowledgement, over
//     the calls they acknowledged;
//   - ratings: the orders the worker confirmed that were rated in the
//     month with 4–5 stars / rated;
//   - rect_followed: the rating rectifications of the worker's grid
//     reported in the month that the worker revisited / reported.

// secondsBetween is the SQL of the whole seconds from a to b.
func secondsBetween(db *gorm.DB, a, b string) string {
	if IsMySQL(db) {
		return "TIMESTAMPDIFF(SECOND, " + a + ", " + b + ")"
	}
	return "CAST(ROUND((julianday(" + b + ") - julianday(" + a + ")) * 86400) AS INTEGER)"
}

// Median is the lower median of a group of durations, with their count.
type Median struct {
	ID      int64 // the group: a user
	N       int64
	Seconds int64
}

// medians computes the lower median of secs per grp over q's rows by
// window functions: the row ranked ⌈n/2⌉ of each group.
func medians(ctx context.Context, db *gorm.DB, q *gorm.DB) ([]Median, error) {
	ranked := db.Table("(?) AS d", q).
		Select("d.grp, d.secs, ROW_NUMBER() OVER (PARTITION BY d.grp ORDER BY d.secs, d.rid) AS rn, COUNT(*) OVER (PARTITION BY d.grp) AS cnt")
	var rows []Median
	err := db.WithContext(ctx).Table("(?) AS r", ranked).Select("r.grp AS id, r.cnt AS n, r.secs AS seconds").
		Where("2 * r.rn >= r.cnt AND 2 * r.rn <= r.cnt + 1").Order("r.grp").Scan(&rows).Error
	return rows, Translate(err)
}

// firstActs are the grid workers' first acts on submitted orders.
func firstActs(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("order_events AS e").Joins("JOIN orders o ON o.id = e.order_id").
		Where("e.created_at >= ? AND e.created_at < ? AND e.action IN ? AND e.from_state = ? AND e.role = ?",
			start.UTC(), end.UTC(), []string{"verify", "reject", "merge", "resolve"}, StateSubmitted, RoleGridWorker)
}

// VerifyMedians is the median time to verify per grid worker.
func VerifyMedians(ctx context.Context, db *gorm.DB, start, end time.Time) ([]Median, error) {
	q := firstActs(db, start, end).Select("e.actor_id AS grp, e.id AS rid, " + secondsBetween(db, "o.created_at", "e.created_at") + " AS secs")
	return medians(ctx, db, q)
}

// acksBy are the calls of the month acknowledged by someone.
func callsIn(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("emergency_calls").Where("created_at >= ? AND created_at < ?", start.UTC(), end.UTC())
}

// AckMedians is the median acknowledgement time per acknowledging user.
func AckMedians(ctx context.Context, db *gorm.DB, start, end time.Time) ([]Median, error) {
	q := callsIn(db, start, end).Where("acknowledged_at IS NOT NULL AND acknowledged_by > 0").
		Select("acknowledged_by AS grp, id AS rid, " + secondsBetween(db, "created_at", "acknowledged_at") + " AS secs")
	return medians(ctx, db, q)
}

// PairCount is a count per (grid, user): calls of a grid acknowledged by
// a user, rectifications of a grid revisited by a user (user 0: by
// nobody).
type PairCount struct {
	GridID, UserID int64
	N              int64
}

// GridCallCounts counts the month's calls per grid and acknowledging user.
func GridCallCounts(ctx context.Context, db *gorm.DB, start, end time.Time) ([]PairCount, error) {
	var rows []PairCount
	err := callsIn(db.WithContext(ctx), start, end).
		Select("grid_id, CASE WHEN acknowledged_at IS NULL THEN 0 ELSE acknowledged_by END AS user_id, COUNT(*) AS n").
		Group("grid_id, CASE WHEN acknowledged_at IS NULL THEN 0 ELSE acknowledged_by END").
		Order("grid_id, user_id").Scan(&rows).Error
	return rows, Translate(err)
}

// rectsReported are the rating rectifications reported in the month.
func rectsReported(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("rectifications").Where("reported_at >= ? AND reported_at < ?", start.UTC(), end.UTC())
}

// GridRectCounts counts the month's reported rectifications per grid and
// revisiting user (0: not revisited by the end of the month).
func GridRectCounts(ctx context.Context, db *gorm.DB, start, end time.Time) ([]PairCount, error) {
	var rows []PairCount
	who := rectsReported(db, start, end).
		Select("grid_id, CASE WHEN revisited_at IS NOT NULL AND revisited_at < ? THEN revisited_by ELSE 0 END AS user_id", end.UTC())
	err := db.WithContext(ctx).Table("(?) AS w", who).Select("w.grid_id, w.user_id, COUNT(*) AS n").
		Group("w.grid_id, w.user_id").Order("w.grid_id, w.user_id").Scan(&rows).Error
	return rows, Translate(err)
}

// UserCount is a count and a part of it per user.
type UserCount struct {
	UserID  int64
	N, Part int64
	Extra   int64
}

// PatrolCounts counts the patrol reports per author.
func PatrolCounts(ctx context.Context, db *gorm.DB, start, end time.Time) ([]UserCount, error) {
	var rows []UserCount
	err := patrols(db.WithContext(ctx), start, end).Select("author_id AS user_id, COUNT(*) AS n, COUNT(*) AS part").
		Group("author_id").Order("author_id").Scan(&rows).Error
	return rows, Translate(err)
}

func patrols(db *gorm.DB, start, end time.Time) *gorm.DB {
	return db.Table("orders").Where("created_at >= ? AND created_at < ? AND channel = ?", start.UTC(), end.UTC(), ChannelPatrol)
}

// confirmations are the grid workers' confirmations of the month, each
// with whether it came in time.
func confirmations(db *gorm.DB, start, end time.Time) *gorm.DB {
	late := db.Table("order_events AS l").Select("1").
		Where("l.order_id = e.order_id AND l.action = ? AND l.from_state = ? AND l.id < e.id", "overdue", StateCompleted)
	return db.Table("order_events AS e").
		Where("e.created_at >= ? AND e.created_at < ? AND e.action = ? AND e.role = ?", start.UTC(), end.UTC(), "confirm", RoleGridWorker).
		Select("e.id AS eid, e.order_id, e.actor_id, CASE WHEN EXISTS (?) THEN 0 ELSE 1 END AS on_time", late)
}

// ConfirmCounts counts the confirmations per grid worker, and those in time.
func ConfirmCounts(ctx context.Context, db *gorm.DB, start, end time.Time) ([]UserCount, error) {
	var rows []UserCount
	err := db.WithContext(ctx).Table("(?) AS c", confirmations(db, start, end)).
		Select("c.actor_id AS user_id, COUNT(*) AS n, SUM(c.on_time) AS part").
		Group("c.actor_id").Order("c.actor_id").Scan(&rows).Error
	return rows, Translate(err)
}

// confirmedRatings are the orders rated in the month with the grid
// worker who confirmed them.
func confirmedRatings(db *gorm.DB, start, end time.Time) *gorm.DB {
	rated := db.Table("orders").Select("id, rating_overall").
		Where("closed_at >= ? AND closed_at < ? AND rating_overall > 0", start.UTC(), end.UTC())
	return db.Table("(?) AS o", rated).
		Joins("JOIN (SELECT DISTINCT order_id, actor_id FROM order_events WHERE action = 'confirm' AND role = ?) AS c ON c.order_id = o.id", RoleGridWorker).
		Select("o.id, o.rating_overall, c.actor_id")
}

// RatingCounts counts per grid worker the ratings of the orders they
// confirmed, the good ones (4–5) and their sum.
func RatingCounts(ctx context.Context, db *gorm.DB, start, end time.Time) ([]UserCount, error) {
	var rows []UserCount
	err := db.WithContext(ctx).Table("(?) AS r", confirmedRatings(db, start, end)).
		Select("r.actor_id AS user_id, COUNT(*) AS n, SUM(CASE WHEN r.rating_overall >= 4 THEN 1 ELSE 0 END) AS part, SUM(r.rating_overall) AS extra").
		Group("r.actor_id").Order("r.actor_id").Scan(&rows).Error
	return rows, Translate(err)
}

// GridWorkerSeat is a grid worker who held a grid during the period, at
// their first grid.
type GridWorkerSeat struct {
	UserID int64
	Ancestry
}

// GridWorkerSeats lists the grid workers whose grant was in force at some
// time of [start, end), each at the grid of their oldest such grant.
func GridWorkerSeats(ctx context.Context, db *gorm.DB, start, end time.Time) ([]GridWorkerSeat, error) {
	var gs []Grant
	err := db.WithContext(ctx).Where("role = ? AND scope_kind = ? AND created_at < ? AND (revoked_at IS NULL OR revoked_at >= ?)",
		RoleGridWorker, ScopeGrid, end.UTC(), start.UTC()).Order("id").Find(&gs).Error
	if err != nil {
		return nil, Translate(err)
	}
	seen := map[int64]bool{}
	var out []GridWorkerSeat
	for _, g := range gs {
		if seen[g.UserID] {
			continue
		}
		seen[g.UserID] = true
		anc := g.Ancestry
		anc.GridID = g.ScopeID
		out = append(out, GridWorkerSeat{UserID: g.UserID, Ancestry: anc})
	}
	return out, nil
}

// GridEvidence pages the facts behind one component of a grid worker's
// row; ok is false for a component without listed facts.
func GridEvidence(ctx context.Context, db *gorm.DB, start, end time.Time, userID, gridID int64, comp string, p Page) (Paged[Evidence], bool, error) {
	var q *gorm.DB
	idCol := "id"
	switch comp {
	case CompVerifyTime:
		q, idCol = firstActs(db, start, end).Where("e.actor_id = ?", userID).Select("e.order_id AS id, 1 AS counted"), "e.order_id"
	case CompPatrol:
		q = patrols(db, start, end).Where("author_id = ?", userID).Select("id, 1 AS counted")
	case CompConfirmTime:
		q, idCol = db.Table("(?) AS c", confirmations(db, start, end)).Where("c.actor_id = ?", userID).
			Select("c.order_id AS id, c.on_time AS counted"), "c.order_id"
	case CompCallAck:
		q = callsIn(db, start, end).Where("grid_id = ?", gridID).
			Select("id, CASE WHEN acknowledged_at IS NOT NULL AND acknowledged_by = ? THEN 1 ELSE 0 END AS counted", userID)
	case CompCallAckTime:
		q = callsIn(db, start, end).Where("acknowledged_at IS NOT NULL AND acknowledged_by = ?", userID).Select("id, 1 AS counted")
	case CompRatings:
		q, idCol = db.Table("(?) AS r", confirmedRatings(db, start, end)).Where("r.actor_id = ?", userID).
			Select("r.id AS id, CASE WHEN r.rating_overall >= 4 THEN 1 ELSE 0 END AS counted"), "r.id"
	case CompRectFollowed:
		q = rectsReported(db, start, end).Where("grid_id = ?", gridID).
			Select("id, CASE WHEN revisited_at IS NOT NULL AND revisited_at < ? AND revisited_by = ? THEN 1 ELSE 0 END AS counted", end.UTC(), userID)
	default:
		return Paged[Evidence]{}, false, nil
	}
	page, err := KeysetPage[Evidence](ctx, q, idCol, p)
	return page, true, err
}
