package model

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Wish states: open → claimed → fulfilled → thanked; an open wish may be
// withdrawn by its author, a claimed one released by its claimer.
const (
	WishOpen      = "open"
	WishClaimed   = "claimed"
	WishFulfilled = "fulfilled"
	WishThanked   = "thanked"
	WishWithdrawn = "withdrawn"
)

// Wish is a micro-wish (微心愿) of a resident, posted by them or by the
// building steward for them, claimed and fulfilled by one party member or
// volunteer of the community, whose hours count for the community's
// records.
type Wish struct {
	Base
	Title       string  `gorm:"size:30;not null"`
	Detail      string  `gorm:"size:500"`
	Photos      []int64 `gorm:"serializer:json;type:text"` // the author's photo ids
	State       string  `gorm:"size:16;not null;index"`
	AuthorID    int64   `gorm:"not null;index;uniqueIndex:ux_wish_idem,priority:1"` // who posted it
	ResidentID  int64   `gorm:"not null;index"`                                     // whose wish it is
	HouseholdID int64   `gorm:"not null"`
	Channel     string  `gorm:"size:16;not null"` // self | on_behalf
	// Flagged: WeChat's text check asked for a human review.
	Flagged bool `gorm:"not null;default:false"`

	ClaimerID   int64  `gorm:"not null;default:0;index"`
	ClaimerRole string `gorm:"size:32"`
	ClaimedAt   *time.Time

	FulfilledAt  *time.Time `gorm:"index"`
	FulfilNote   string     `gorm:"size:500"`
	FulfilPhotos []int64    `gorm:"serializer:json;type:text"`
	HoursCenti   int64      `gorm:"not null;default:0"` // hours × 100 the claimer spent, exact

	ThankedAt  *time.Time
	ThankedBy  int64  `gorm:"not null;default:0"`
	ThanksNote string `gorm:"size:200"`

	WithdrawnAt *time.Time

	// Version increases with every change.
	Version int64 `gorm:"not null;default:1"`
	// IdemKey is the author's Idempotency-Key; unique per author.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_wish_idem,priority:2"`
	Ancestry
}

// UpdateWish is the compare-and-set of a wish: it writes the columns cols
// of next, with the version after version and updated_at now, if the wish
// is still at version. It returns the rows affected: 0 when another writer
// moved the wish first. next.Version and next.UpdatedAt are set.
func UpdateWish(ctx context.Context, db *gorm.DB, next *Wish, version int64, now time.Time, cols ...string) (int64, error) {
	next.Version, next.UpdatedAt = version+1, now
	return updateVersioned(ctx, db, next, next.ID, version, cols)
}

// FlagWish marks a wish for the community's review, whatever its state.
func FlagWish(ctx context.Context, db *gorm.DB, id int64, now time.Time) error {
	err := db.WithContext(ctx).Model(&Wish{}).Where("id = ?", id).
		UpdateColumns(map[string]any{"flagged": true, "version": gorm.Expr("version + 1"), "updated_at": now}).Error
	return Translate(err)
}

// WithdrawOpenWish withdraws a wish if it is still open and returns the
// rows affected: 0 when it is not (claimed meanwhile, or gone).
func WithdrawOpenWish(ctx context.Context, db *gorm.DB, id int64, now time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&Wish{}).Where("id = ? AND state = ?", id, WishOpen).
		UpdateColumns(map[string]any{"state": WishWithdrawn, "withdrawn_at": now, "updated_at": now,
			"version": gorm.Expr("version + 1")})
	return res.RowsAffected, Translate(res.Error)
}

// WishFilter picks the wishes of a list: those posted by or for For,
// claimed by ClaimerID and in the subtree of one of Under's scopes, each
// when set, and passing State, CommunityID and CompoundID when set.
type WishFilter struct {
	For         int64
	ClaimerID   int64
	Under       []Grant
	State       string
	CommunityID int64
	CompoundID  int64
	Before      int64 // ids below it only; 0: from the newest
	Limit       int
}

// ListWishes lists wishes newest first.
func ListWishes(ctx context.Context, db *gorm.DB, f WishFilter) ([]Wish, error) {
	q := db.WithContext(ctx).Model(&Wish{})
	if f.For != 0 {
		q = q.Where("author_id = ? OR resident_id = ?", f.For, f.For)
	}
	if f.ClaimerID != 0 {
		q = q.Where("claimer_id = ?", f.ClaimerID)
	}
	if cond, args := underAny(f.Under); cond != "" {
		q = q.Where(cond, args...)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.CommunityID > 0 {
		q = q.Where("community_id = ?", f.CommunityID)
	}
	if f.CompoundID > 0 {
		q = q.Where("compound_id = ?", f.CompoundID)
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	var ws []Wish
	err := q.Order("id DESC").Limit(f.Limit).Find(&ws).Error
	return ws, Translate(err)
}

// WishHoursFilter picks the fulfilled wishes of a community by fulfilment
// time, in [From, To), either end open when zero.
type WishHoursFilter struct {
	CommunityID int64
	From, To    time.Time
}

// WishHours is what fulfilled wishes add up to: all the hours reported,
// and those of wishes the resident thanked for (confirmed done).
type WishHours struct {
	UserID         int64 // the claimer; 0 in the totals
	Wishes         int64
	HoursCenti     int64
	ConfirmedCenti int64
}

func (f WishHoursFilter) query(ctx context.Context, db *gorm.DB) *gorm.DB {
	q := db.WithContext(ctx).Model(&Wish{}).Where("community_id = ? AND fulfilled_at IS NOT NULL", f.CommunityID)
	if !f.From.IsZero() {
		q = q.Where("fulfilled_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("fulfilled_at < ?", f.To.UTC())
	}
	return q
}

func confirmedHours() clause.Expr {
	return gorm.Expr("COALESCE(SUM(CASE WHEN state = ? THEN hours_centi ELSE 0 END), 0)", WishThanked)
}

// SumWishHours sums the hours of the wishes f picks.
func SumWishHours(ctx context.Context, db *gorm.DB, f WishHoursFilter) (WishHours, error) {
	var h WishHours
	err := f.query(ctx, db).Select("COUNT(*) AS wishes, COALESCE(SUM(hours_centi), 0) AS hours_centi, ? AS confirmed_centi",
		confirmedHours()).Scan(&h).Error
	return h, Translate(err)
}

// WishHoursByClaimer sums the hours of the wishes f picks per claimer, the
// highest user id first, below before (0: from the top), limit claimers.
func WishHoursByClaimer(ctx context.Context, db *gorm.DB, f WishHoursFilter, before int64, limit int) ([]WishHours, error) {
	q := f.query(ctx, db)
	if before > 0 {
		q = q.Where("claimer_id < ?", before)
	}
	var rows []WishHours
	err := q.Select("claimer_id AS user_id, COUNT(*) AS wishes, COALESCE(SUM(hours_centi), 0) AS hours_centi, ? AS confirmed_centi",
		confirmedHours()).Group("claimer_id").Order("claimer_id DESC").Limit(limit).Scan(&rows).Error
	return rows, Translate(err)
}
