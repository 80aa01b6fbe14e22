package model

import "time"

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
