package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Subjects a household can be told of: what was published (a notice, a
// version of a disclosure board, a red/black list …), named by kind and
// id. Other capabilities add their own kinds.
const (
	SubjectNotice = "notice"
)

// Push states of a receipt at delivery: the outcome of each member's push
// (sent, skipped for want of quota …) is on its outbox row.
const (
	ReceiptPushQueued    = "queued"     // an outbox row per registered member
	ReceiptPushNotAsked  = "not_asked"  // the publisher did not ask for a push
	ReceiptPushNoMembers = "no_members" // nobody is registered in the household
)

// Receipt is what one household was told of one subject: delivered (the
// inbox of its registered members written, pushes queued or skipped and
// why), read (first read, by whom), confirmed where the subject asks for
// it, and told in person by the building steward. Reached is set by the
// first of read, confirmed and told in person. Unit and Room are copied
// from the household so that the list of households not reached reads by
// building and unit from this table alone; Ancestry is the household's.
type Receipt struct {
	Base
	SubjectKind string `gorm:"size:16;not null;uniqueIndex:ux_receipt,priority:1;index:ix_receipt_open,priority:1;index:ix_receipt_household,priority:2"`
	SubjectID   int64  `gorm:"not null;uniqueIndex:ux_receipt,priority:2;index:ix_receipt_open,priority:2"`
	HouseholdID int64  `gorm:"not null;uniqueIndex:ux_receipt,priority:3;index:ix_receipt_household,priority:1"`
	Unit        string `gorm:"size:16;not null;default:''"`
	Room        string `gorm:"size:16;not null;default:''"`
	// Members is how many registered members the inbox was written to.
	Members    int    `gorm:"not null;default:0"`
	Push       string `gorm:"size:16;not null"`
	EventKey   string `gorm:"size:100;not null"` // the inbox and outbox key of the delivery
	Reached    bool   `gorm:"not null;default:false;index:ix_receipt_open,priority:3"`
	ReachedAt  *time.Time
	ReadAt     *time.Time
	ReadBy     int64
	Confirmed  bool `gorm:"not null;default:false"`
	ConfirmAt  *time.Time
	ConfirmBy  int64
	InPersonAt *time.Time
	InPersonBy int64
	// InPersonNote is the steward's note (e.g. 已当面告知户主).
	InPersonNote string `gorm:"size:200;not null;default:''"`
	// Ancestry's building_id also leads the index of migration 50 that
	// reads one building's (and unit's) households not reached in id order.
	Ancestry
}

// ReceiptTally keeps the counts of one subject's receipts, for the whole
// subject (BuildingID 0, no other place), per building (Unit empty) and
// per unit of a building (the building's ancestry, so that a grid
// worker's buildings are an indexed equality),
// moved in the transaction of every change to a receipt: a count never
// scans the receipts. The ancestry columns are spelt out rather than
// embedded so that building_id can close the unique key.
type ReceiptTally struct {
	Base
	SubjectKind string `gorm:"size:16;not null;uniqueIndex:ux_receipt_tally_unit,priority:1"`
	SubjectID   int64  `gorm:"not null;uniqueIndex:ux_receipt_tally_unit,priority:2"`
	BuildingID  int64  `gorm:"not null;uniqueIndex:ux_receipt_tally_unit,priority:3"`
	Unit        string `gorm:"size:16;not null;default:'';uniqueIndex:ux_receipt_tally_unit,priority:4"`
	CityID      int64  `gorm:"not null;default:0"`
	DistrictID  int64  `gorm:"not null;default:0"`
	StreetID    int64  `gorm:"not null;default:0"`
	CommunityID int64  `gorm:"not null;default:0"`
	CompoundID  int64  `gorm:"not null;default:0"`
	GridID      int64  `gorm:"not null;default:0"`
	Households  int64  `gorm:"not null;default:0"`
	// Delivered counts households whose inbox reached at least one
	// registered member; Unregistered those with nobody registered.
	Delivered    int64 `gorm:"not null;default:0"`
	Unregistered int64 `gorm:"not null;default:0"`
	Pushed       int64 `gorm:"not null;default:0"` // households whose members' pushes were queued
	Read         int64 `gorm:"not null;default:0"`
	Confirmed    int64 `gorm:"not null;default:0"`
	InPerson     int64 `gorm:"not null;default:0"`
	Reached      int64 `gorm:"not null;default:0"`
}

// TableName keeps the plural of the struct.
func (ReceiptTally) TableName() string { return "receipt_tallies" }

// ReceiptMember is a registered member of a household being told.
type ReceiptMember struct {
	HouseholdID int64
	UserID      int64
}

// MembersOf lists the registered members of the households ids, by
// household and user.
func MembersOf(ctx context.Context, db *gorm.DB, ids []int64) ([]ReceiptMember, error) {
	var out []ReceiptMember
	if len(ids) == 0 {
		return out, nil
	}
	err := db.WithContext(ctx).Model(&Residency{}).Select("household_id, user_id").
		Where("household_id IN ?", ids).Order("household_id, user_id").Scan(&out).Error
	return out, Translate(err)
}

// HouseholdsUnder lists up to limit households under the nodes of the
// tree given (col is an ancestry column: street_id, community_id,
// compound_id, building_id; or id for households named one by one) with
// ids above after, by id.
func HouseholdsUnder(ctx context.Context, db *gorm.DB, col string, nodes []int64, after int64, limit int) ([]Household, error) {
	var out []Household
	err := db.WithContext(ctx).Where(col+" IN ? AND id > ?", nodes, after).Order("id").Limit(limit).Find(&out).Error
	return out, Translate(err)
}

// HasReceipts reports whether a subject has been delivered.
func HasReceipts(ctx context.Context, db *gorm.DB, kind string, id int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&ReceiptTally{}).Where("subject_kind = ? AND subject_id = ?", kind, id).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// InsertReceipts writes receipts, batch rows per statement.
func InsertReceipts(ctx context.Context, db *gorm.DB, rows []Receipt, batch int) error {
	if len(rows) == 0 {
		return nil
	}
	return Translate(db.WithContext(ctx).CreateInBatches(&rows, batch).Error)
}

// InsertTallies writes a subject's tallies (ErrDuplicate when the subject
// was delivered already).
func InsertTallies(ctx context.Context, db *gorm.DB, rows []ReceiptTally) error {
	if len(rows) == 0 {
		return nil
	}
	return Translate(db.WithContext(ctx).CreateInBatches(&rows, 200).Error)
}

// Tallies reads a subject's tallies: the whole subject first, then its
// buildings by id, each followed by its units. within, when not nil,
// keeps the buildings under one of the places (the whole subject's row
// stays).
func Tallies(ctx context.Context, db *gorm.DB, kind string, id int64, within []Place) ([]ReceiptTally, error) {
	var out []ReceiptTally
	q := db.WithContext(ctx).Where("subject_kind = ? AND subject_id = ?", kind, id)
	if within != nil {
		cond, args := placesCond(within)
		q = q.Where("(building_id = 0 OR "+cond+")", args...)
	}
	err := q.Order("building_id, unit").Find(&out).Error
	return out, Translate(err)
}

// placesCond is "under one of the places" on a table carrying Ancestry;
// none (or only places outside the tree) matches nothing.
func placesCond(within []Place) (string, []any) {
	cond := "(1 = 0"
	var args []any
	for _, p := range within {
		if p.Kind == ScopePlatform {
			return "(1 = 1)", nil
		}
		if col := AncestryColumn(p.Kind); col != "" {
			cond += " OR " + col + " = ?"
			args = append(args, p.ID)
		}
	}
	return cond + ")", args
}

// TallyDelta is the change to a subject's counts one receipt change makes.
type TallyDelta struct {
	Read, Confirmed, InPerson, Reached int64
}

func (d TallyDelta) zero() bool { return d == TallyDelta{} }

// BumpTallies adds d to the whole subject's tally, to its building's and
// to its unit's. One UPDATE takes the rows in the unique key's order
// (the whole subject's first), so concurrent changes never deadlock on
// them.
func BumpTallies(ctx context.Context, tx *gorm.DB, kind string, id, buildingID int64, unit string, d TallyDelta) error {
	if d.zero() {
		return nil
	}
	set := map[string]any{"updated_at": time.Now().UTC()}
	for col, v := range map[string]int64{"read": d.Read, "confirmed": d.Confirmed, "in_person": d.InPerson, "reached": d.Reached} {
		if v != 0 {
			set[col] = gorm.Expr(tx.Statement.Quote(col)+" + ?", v)
		}
	}
	res := tx.WithContext(ctx).Model(&ReceiptTally{}).
		Where("subject_kind = ? AND subject_id = ? AND ((building_id = 0 AND unit = '') OR (building_id = ? AND unit IN ?))",
			kind, id, buildingID, []string{"", unit}).
		UpdateColumns(set)
	return Translate(res.Error)
}

// ReceiptOf reads one household's receipt of a subject.
func ReceiptOf(ctx context.Context, db *gorm.DB, kind string, id, householdID int64) (Receipt, error) {
	var r Receipt
	err := db.WithContext(ctx).Where("subject_kind = ? AND subject_id = ? AND household_id = ?", kind, id, householdID).Take(&r).Error
	return r, Translate(err)
}

// LockReceipts reads, locking them until tx ends, the receipts of a
// subject of the households given, by id.
func LockReceipts(ctx context.Context, tx *gorm.DB, kind string, id int64, households []int64) ([]Receipt, error) {
	var out []Receipt
	if len(households) == 0 {
		return out, nil
	}
	err := ForUpdate(tx.WithContext(ctx)).Where("subject_kind = ? AND subject_id = ? AND household_id IN ?", kind, id, households).
		Order("id").Find(&out).Error
	return out, Translate(err)
}

// UpdateReceipt writes the columns set on receipt id.
func UpdateReceipt(ctx context.Context, tx *gorm.DB, id int64, set map[string]any) error {
	return Translate(tx.WithContext(ctx).Model(&Receipt{}).Where("id = ?", id).UpdateColumns(set).Error)
}

// ReceiptFilter picks receipts of one subject for a list.
type ReceiptFilter struct {
	Kind       string
	ID         int64
	BuildingID int64  // 0: every building
	Unit       string // with BuildingID: one unit
	// Within keeps the receipts under one of the places (nil: all).
	Within []Place
}

// NotReached lists up to limit receipts of the filter's subject whose
// household was not reached, with ids above after, in id order: receipts
// are written in building, unit and room order, so the list reads door by
// door.
func NotReached(ctx context.Context, db *gorm.DB, f ReceiptFilter, after int64, limit int) ([]Receipt, error) {
	q := db.WithContext(ctx).Where("subject_kind = ? AND subject_id = ? AND reached = ? AND id > ?", f.Kind, f.ID, false, after)
	if f.BuildingID != 0 {
		q = q.Where("building_id = ?", f.BuildingID)
		if f.Unit != "" {
			q = q.Where("unit = ?", f.Unit)
		}
	}
	if f.Within != nil {
		cond, args := placesCond(f.Within)
		q = q.Where(cond, args...)
	}
	var out []Receipt
	err := q.Order("id").Limit(limit).Find(&out).Error
	return out, Translate(err)
}

// HouseholdsOfUser lists the ids of the households a user is registered
// in.
func HouseholdsOfUser(ctx context.Context, db *gorm.DB, userID int64) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ?", userID).Order("household_id").Pluck("household_id", &ids).Error
	return ids, Translate(err)
}

// UnreadInboxKeys returns which of keys name an unread inbox message of
// the user.
func UnreadInboxKeys(ctx context.Context, db *gorm.DB, userID int64, keys []string) ([]string, error) {
	var out []string
	if len(keys) == 0 {
		return out, nil
	}
	err := db.WithContext(ctx).Model(&Message{}).Where("user_id = ? AND read_at IS NULL AND event_key IN ?", userID, keys).
		Distinct().Pluck("event_key", &out).Error
	return out, Translate(err)
}

// ReadInbox marks read the user's unread inbox message of event key.
func ReadInbox(ctx context.Context, tx *gorm.DB, userID int64, key string, at time.Time) error {
	return Translate(tx.WithContext(ctx).Model(&Message{}).Where("user_id = ? AND event_key = ? AND read_at IS NULL", userID, key).
		UpdateColumn("read_at", at).Error)
}

// OutboxOfKey lists the outbox rows of one event key for the users given:
// how each member's push went.
func OutboxOfKey(ctx context.Context, db *gorm.DB, key string, users []int64) ([]Outbox, error) {
	var out []Outbox
	if len(users) == 0 {
		return out, nil
	}
	err := db.WithContext(ctx).Select("id", "user_id", "state", "skip_reason", "channel", "sent_at").
		Where("event_key = ? AND user_id IN ?", key, users).Order("user_id").Find(&out).Error
	return out, Translate(err)
}

// CountReceipts counts a subject's receipts by brute force (tests and
// repair only: requests read the tallies).
func CountReceipts(ctx context.Context, db *gorm.DB, kind string, id int64, where string, args ...any) (int64, error) {
	var n int64
	q := db.WithContext(ctx).Model(&Receipt{}).Where("subject_kind = ? AND subject_id = ?", kind, id)
	if where != "" {
		q = q.Where(where, args...)
	}
	err := q.Count(&n).Error
	return n, Translate(err)
}

// ReceiptsOf reads, without locking, the receipts of subjects ids of one
// kind of the households given, by id.
func ReceiptsOf(ctx context.Context, db *gorm.DB, kind string, ids, households []int64) ([]Receipt, error) {
	var out []Receipt
	if len(ids) == 0 || len(households) == 0 {
		return out, nil
	}
	err := db.WithContext(ctx).Where("subject_kind = ? AND subject_id IN ? AND household_id IN ?", kind, ids, households).
		Order("id").Find(&out).Error
	return out, Translate(err)
}
