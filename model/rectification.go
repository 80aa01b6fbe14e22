package model

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Rectification states (差评整改): the handler reports what it put right,
// the community revisits (回访) and tells the resident, who confirms it or
// says it is still not fixed (the order then goes back as rework).
const (
	RectOpen      = "open"      // opened by a rating of 1–2; the handler owes a report
	RectReported  = "reported"  // the handler reported its rectification
	RectRevisited = "revisited" // the community revisited; the resident is asked
	RectConfirmed = "confirmed" // the resident confirmed: closed
	RectReopened  = "reopened"  // not fixed: the order went back as rework; closed
)

// Rectification is the 整改 a rating of 1–2 opens on an order. It is owned
// by the order's handler at the time of the rating (OwnerKind/OwnerID;
// FirmID repeats the firm when the handler is one, for the score), due a
// number of working days after the rating. Round counts the
// rectifications of one order: a reworked order rated low again opens the
// next round.
type Rectification struct {
	Base
	OrderID     int64  `gorm:"not null;uniqueIndex:ux_rect_order,priority:1"`
	Round       int    `gorm:"not null;uniqueIndex:ux_rect_order,priority:2"`
	OrderNumber string `gorm:"size:20;not null"`
	Rating      int    `gorm:"not null"`
	OwnerKind   string `gorm:"size:16;not null;index:ix_rect_owner,priority:1"`
	OwnerID     int64  `gorm:"not null;index:ix_rect_owner,priority:2"`
	FirmID      int64  `gorm:"not null;default:0;index:ix_rect_firm,priority:1"`
	Ancestry
	ResidentID int64     `gorm:"not null;default:0;index"`
	State      string    `gorm:"size:16;not null;index"`
	OpenedAt   time.Time `gorm:"not null"`
	DueAt      time.Time `gorm:"not null;index:ix_rect_firm,priority:2"`

	ReportedBy   int64 `gorm:"not null;default:0"`
	ReportedAt   *time.Time
	Report       string `gorm:"size:1000"`
	ReportPhotos string `gorm:"size:200"`

	RevisitedBy  int64 `gorm:"not null;default:0"`
	RevisitedAt  *time.Time
	RevisitNote  string `gorm:"size:500"`
	RevisitVia   string `gorm:"size:16"` // phone, visit, wechat
	ResidentNote string `gorm:"size:500"`
	AnsweredAt   *time.Time
	ClosedAt     *time.Time

	// Version increases with every change; moves compare-and-set it.
	Version int64 `gorm:"not null;default:1"`
}

// RectLate is the condition of a late rectification at an instant: not
// reported by its due time, or reported after it.
const rectLate = "((reported_at IS NULL AND due_at <= ?) OR reported_at > due_at)"

// UpdateRectification writes cols on a rectification still at version,
// bumping the version; it returns the rows affected (0: it moved meanwhile).
func UpdateRectification(ctx context.Context, tx *gorm.DB, id, version int64, cols map[string]any) (int64, error) {
	set := map[string]any{"version": version + 1}
	for k, v := range cols {
		set[k] = v
	}
	res := tx.WithContext(ctx).Model(&Rectification{}).Where("id = ? AND version = ?", id, version).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}

// LastRectification is the newest rectification of an order; found is
// false when it has none.
func LastRectification(ctx context.Context, db *gorm.DB, orderID int64) (r Rectification, found bool, err error) {
	res := db.WithContext(ctx).Where("order_id = ?", orderID).Order("round DESC").Limit(1).Find(&r)
	return r, res.RowsAffected > 0, Translate(res.Error)
}

// RectificationsOfOrder lists an order's rectifications, oldest first.
func RectificationsOfOrder(ctx context.Context, db *gorm.DB, orderID int64) ([]Rectification, error) {
	var rs []Rectification
	err := db.WithContext(ctx).Where("order_id = ?", orderID).Order("round").Find(&rs).Error
	return rs, Translate(err)
}

// RectReach is the part of the rectifications one reader may see: those
// in any of Places, or owned by any of Owners. All is every one.
type RectReach struct {
	All    bool
	Places []Place
	Owners []ActionOwner
}

// Empty reports whether the reach holds nothing.
func (r RectReach) Empty() bool { return !r.All && len(r.Places) == 0 && len(r.Owners) == 0 }

// RectQuery selects rectifications of Reach, narrowed by every field set.
// Late keeps the late ones at Now; Queue keeps those that wait on
// somebody (not confirmed or reopened) and are late or reported (the
// community's revisit is due).
type RectQuery struct {
	Reach       RectReach
	States      []string
	FirmID      int64
	CommunityID int64
	CompoundID  int64
	Late        bool
	Queue       bool
	Now         time.Time
}

func (q RectQuery) where(db *gorm.DB) *gorm.DB {
	db = db.Model(&Rectification{})
	if !q.Reach.All {
		var conds []string
		var args []any
		for _, p := range q.Reach.Places {
			if col := AncestryColumn(p.Kind); col != "" {
				conds, args = append(conds, col+" = ?"), append(args, p.ID)
			}
		}
		for _, o := range q.Reach.Owners {
			conds, args = append(conds, "(owner_kind = ? AND owner_id = ?)"), append(args, o.Kind, o.ID)
		}
		if len(conds) == 0 {
			conds = []string{"1 = 0"}
		}
		db = db.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	if len(q.States) > 0 {
		db = db.Where("state IN ?", q.States)
	}
	if q.FirmID > 0 {
		db = db.Where("firm_id = ?", q.FirmID)
	}
	if q.CommunityID > 0 {
		db = db.Where("community_id = ?", q.CommunityID)
	}
	if q.CompoundID > 0 {
		db = db.Where("compound_id = ?", q.CompoundID)
	}
	now := q.Now.UTC()
	if q.Late {
		db = db.Where(rectLate, now)
	}
	if q.Queue {
		db = db.Where("state IN ?", []string{RectOpen, RectReported, RectRevisited}).
			Where("("+rectLate+" OR state = ?)", now, RectReported)
	}
	return db
}

// RectificationsPage is a keyset page of what q selects, newest first.
func RectificationsPage(ctx context.Context, db *gorm.DB, q RectQuery, p Page) (Paged[Rectification], error) {
	return KeysetPage[Rectification](ctx, q.where(db), "id", p)
}

// RectTally counts the rectifications of a firm in a compound that fell
// due in a period: Due of them, Late of them (not reported by their due
// time, or reported after it, as of the instant asked), Open of them still
// waiting for the handler's report.
type RectTally struct {
	Due  int64
	Late int64
	Open int64
}

// CountRectifications tallies the rectifications owned by firmID in
// compoundID (0: every compound) whose due time falls in [from, to),
// judged at asOf (a late one stays late; an unreported one not yet due at
// asOf is not late).
func CountRectifications(ctx context.Context, db *gorm.DB, firmID, compoundID int64, from, to, asOf time.Time) (RectTally, error) {
	q := db.WithContext(ctx).Model(&Rectification{}).
		Where("firm_id = ? AND due_at >= ? AND due_at < ?", firmID, from.UTC(), to.UTC())
	if compoundID > 0 {
		q = q.Where("compound_id = ?", compoundID)
	}
	var t RectTally
	err := q.Select("COUNT(*) AS due, "+
		"COALESCE(SUM(CASE WHEN "+rectLate+" THEN 1 ELSE 0 END), 0) AS late, "+
		"COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0) AS open", asOf.UTC(), RectOpen).
		Scan(&t).Error
	return t, Translate(err)
}

// LateRectificationIDs lists, oldest first, the ids of the late
// rectifications CountRectifications counts (after: a keyset cursor, up
// to limit of them): what a score's explanation lists.
func LateRectificationIDs(ctx context.Context, db *gorm.DB, firmID, compoundID int64, from, to, asOf time.Time, after int64, limit int) ([]int64, error) {
	q := db.WithContext(ctx).Model(&Rectification{}).
		Where("firm_id = ? AND due_at >= ? AND due_at < ? AND id > ?", firmID, from.UTC(), to.UTC(), after).
		Where(rectLate, asOf.UTC())
	if compoundID > 0 {
		q = q.Where("compound_id = ?", compoundID)
	}
	var ids []int64
	err := q.Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, Translate(err)
}
