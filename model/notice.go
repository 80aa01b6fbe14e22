package model

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Notice states: scheduled → published, either → withdrawn (kept, never
// deleted).
const (
	NoticeScheduled = "scheduled"
	NoticePublished = "published"
	NoticeWithdrawn = "withdrawn"
)

// Notice is a 公告 by a community, a street, a committee, a firm or a
// party branch to a scope of the tree (a street, a community, a compound,
// a building, or several buildings of one compound). Its households are
// told when it is published (receipts of SubjectNotice). Ancestry is the
// scope's place: the compound's for a list of buildings.
type Notice struct {
	Base
	PublisherKind string `gorm:"size:16;not null"`
	PublisherID   int64  `gorm:"not null"`
	PublisherName string `gorm:"size:100;not null"`
	AuthorID      int64  `gorm:"not null;index;uniqueIndex:ux_notice_idem,priority:1"`
	ScopeKind     string `gorm:"size:16;not null"`
	// ScopeIDs are the nodes of ScopeKind told (one, or the buildings).
	ScopeIDs     []int64   `gorm:"serializer:json;type:text"`
	Title        string    `gorm:"size:60;not null"`
	Body         string    `gorm:"type:text;not null"`
	Photos       []int64   `gorm:"serializer:json;type:text"`
	Push         bool      `gorm:"not null;default:false"`
	NeedsConfirm bool      `gorm:"not null;default:false"`
	State        string    `gorm:"size:16;not null;index:ix_notice_due,priority:1"`
	PublishAt    time.Time `gorm:"not null;index:ix_notice_due,priority:2"`
	PublishedAt  *time.Time
	ExpiresAt    *time.Time
	// Households is how many households were told.
	Households     int64 `gorm:"not null;default:0"`
	WithdrawnAt    *time.Time
	WithdrawnBy    int64  `gorm:"not null;default:0"`
	WithdrawReason string `gorm:"size:200;not null;default:''"`
	Version        int64  `gorm:"not null;default:1"`
	// IdemKey is the author's Idempotency-Key; unique per author.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_notice_idem,priority:2"`
	Ancestry
}

// MoveNotice is the compare-and-set of a notice's state: it writes set on
// notice id if it is still in state from at version, with the next
// version, and says whether it did (0 or 1).
func MoveNotice(ctx context.Context, tx *gorm.DB, id int64, from string, version int64, set map[string]any) (int64, error) {
	set["version"] = version + 1
	res := tx.WithContext(ctx).Model(&Notice{}).Where("id = ? AND state = ? AND version = ?", id, from, version).UpdateColumns(set)
	return res.RowsAffected, Translate(res.Error)
}

// DueNotices lists up to limit scheduled notices whose publish time has
// come by now, oldest first.
func DueNotices(ctx context.Context, db *gorm.DB, now time.Time, limit int) ([]Notice, error) {
	var out []Notice
	err := db.WithContext(ctx).Where("state = ? AND publish_at <= ?", NoticeScheduled, now).
		Order("publish_at, id").Limit(limit).Find(&out).Error
	return out, Translate(err)
}

// NoticeOfHousehold is a notice as one household received it.
type NoticeOfHousehold struct {
	Notice
	ReceiptID   int64
	HouseholdID int64
	ReadAt      *time.Time
	Confirmed   bool
	ConfirmAt   *time.Time
}

// NoticesOfHouseholds reads one keyset page (by receipt id, newest first)
// of the published, unexpired notices the households were told of.
func NoticesOfHouseholds(ctx context.Context, db *gorm.DB, households []int64, now time.Time, p Page) (Paged[NoticeOfHousehold], error) {
	if len(households) == 0 {
		return Paged[NoticeOfHousehold]{Items: []NoticeOfHousehold{}}, nil
	}
	q := db.Table("receipts AS r").
		Select("n.*, r.id AS receipt_id, r.household_id, r.read_at, r.confirmed, r.confirm_at").
		Joins("JOIN notices n ON n.id = r.subject_id").
		Where("r.household_id IN ? AND r.subject_kind = ?", households, SubjectNotice).
		Where("n.state = ? AND (n.expires_at IS NULL OR n.expires_at > ?)", NoticePublished, now)
	return KeysetPage[NoticeOfHousehold](ctx, q, "r.id", p)
}

// NoticesByAuthor reads one keyset page of the notices an author wrote,
// newest first.
func NoticesByAuthor(ctx context.Context, db *gorm.DB, authorID int64, p Page) (Paged[Notice], error) {
	return KeysetPage[Notice](ctx, db.Model(&Notice{}).Where("author_id = ?", authorID), "id", p)
}

// CommitteeOf is the committee of a compound (ErrNotFound: none).
func CommitteeOf(ctx context.Context, db *gorm.DB, compoundID int64) (Committee, error) {
	var c Committee
	err := db.WithContext(ctx).Where("compound_id = ?", compoundID).Take(&c).Error
	return c, Translate(err)
}

// NoticeReach is who asks for the notices of their part of the tree: each
// field adds notices to the list (an OR of indexed equalities).
type NoticeReach struct {
	All      bool    // a platform admin: every notice
	AuthorID int64   // the notices they wrote
	Under    []Place // every notice under one of these places (staff of the tree)
	// Around are places inside a community: for a compound or a building,
	// the notices of its compound and those of its community and street as
	// a whole; for a grid or the community itself, every notice of the
	// community and those of its street as a whole.
	Around []Ancestry
	Firms  []int64 // notices published by these firms
}

// NoticesReaching reads one keyset page, newest first, of the notices r
// reaches.
func NoticesReaching(ctx context.Context, db *gorm.DB, r NoticeReach, p Page) (Paged[Notice], error) {
	q := db.Model(&Notice{})
	if !r.All {
		conds := []string{"author_id = ?"}
		args := []any{r.AuthorID}
		for _, pl := range r.Under {
			if col := AncestryColumn(pl.Kind); col != "" {
				conds = append(conds, col+" = ?")
				args = append(args, pl.ID)
			}
		}
		for _, a := range r.Around {
			if a.CompoundID != 0 {
				conds = append(conds, "compound_id = ?", "(community_id = ? AND compound_id = 0)")
				args = append(args, a.CompoundID, a.CommunityID)
			} else {
				conds = append(conds, "community_id = ?")
				args = append(args, a.CommunityID)
			}
			conds = append(conds, "(street_id = ? AND community_id = 0)")
			args = append(args, a.StreetID)
		}
		if len(r.Firms) > 0 {
			conds = append(conds, "(publisher_kind = 'firm' AND publisher_id IN ?)")
			args = append(args, r.Firms)
		}
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	return KeysetPage[Notice](ctx, q, "id", p)
}
