package model

import "time"

// Action item states (问题清单 → 认领 → 整改 → 验收, DESIGN.md §6). A sent-back
// item goes from done to claimed again.
const (
	ActionOpen     = "open"
	ActionClaimed  = "claimed"
	ActionDone     = "done"
	ActionVerified = "verified"
)

// Kinds of organisation that own an action item.
const (
	OwnerFirm       = "firm"
	OwnerCommittee  = "committee"
	OwnerDepartment = "department"
	OwnerCommunity  = "community"
)

// Where an action item comes from.
const (
	SourceMeeting    = "meeting"    // a resolution of a meeting
	SourceInspection = "inspection" // a community or street inspection (日查/月考)
	SourceOrder      = "order"      // an order the community cannot close alone
)

// ActionItem is one entry of the issue list (问题清单): a thing an owner
// organisation must put right by a due date, claimed by one of its
// members, done with evidence and verified by the organiser. Its history
// rows (ActionItemEvent) are the rectification ledger (整改台账).
type ActionItem struct {
	Base
	Title  string `gorm:"size:100;not null"`
	Detail string `gorm:"size:2000"`

	OwnerKind string `gorm:"size:16;not null;index:ix_action_owner,priority:1"`
	OwnerID   int64  `gorm:"not null;index:ix_action_owner,priority:2"`

	// DueAt is the end of the due date in Beijing time: the item is overdue
	// from this instant on unless done.
	DueAt time.Time `gorm:"not null;index"`

	SourceKind string `gorm:"size:16;not null;index:ix_action_source,priority:1"`
	SourceID   int64  `gorm:"not null;default:0;index:ix_action_source,priority:2"`

	// The compound or community the item concerns; Ancestry places it.
	ScopeKind string `gorm:"size:16;not null"`
	ScopeID   int64  `gorm:"not null"`
	Ancestry

	// OrganiserID verifies the work: the meeting's organiser for items of a
	// meeting, otherwise the creator.
	OrganiserID int64 `gorm:"not null;index"`
	CreatorID   int64 `gorm:"not null;index;uniqueIndex:ux_action_idem,priority:1"`

	State     string `gorm:"size:16;not null;index"`
	Overdue   bool   `gorm:"not null;default:false;index"`
	OverdueAt *time.Time

	ClaimedBy  int64 `gorm:"not null;default:0;index"`
	ClaimedAt  *time.Time
	DoneBy     int64 `gorm:"not null;default:0"`
	DoneAt     *time.Time
	Evidence   string `gorm:"size:1000"`
	Photos     string `gorm:"size:200"` // evidence photo ids, comma-separated
	VerifiedBy int64  `gorm:"not null;default:0"`
	VerifiedAt *time.Time
	SendBacks  int `gorm:"not null;default:0"`

	// Version increases with every change.
	Version int64 `gorm:"not null;default:1"`
	// IdemKey is the creator's Idempotency-Key; unique per creator.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_action_idem,priority:2"`
}

// ActionItemEvent is one row of an action item's history. Rows are only
// ever inserted: no code path updates or deletes them.
type ActionItemEvent struct {
	ID        int64     `gorm:"primaryKey"`
	ItemID    int64     `gorm:"not null;index"`
	Action    string    `gorm:"size:16;not null"`
	ActorID   int64     `gorm:"not null"` // 0: the system (scheduler)
	Role      string    `gorm:"size:32"`
	FromState string    `gorm:"size:16"`
	ToState   string    `gorm:"size:16;not null"`
	Note      string    `gorm:"size:1000"`
	Photos    string    `gorm:"size:200"` // comma-separated photo ids
	CreatedAt time.Time `gorm:"not null"`
}
