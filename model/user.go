package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// User is one person, known by their mini-program openid. Phone and names
// are personal data: never logged.
type User struct {
	Base
	OpenID      *string `gorm:"size:64;uniqueIndex"`
	UnionID     *string `gorm:"size:64;index"`
	Phone       string  `gorm:"size:20;index"`
	DisplayName string  `gorm:"size:32"`
}

// Relations of a resident to a household.
const (
	RelationOwner  = "owner"
	RelationTenant = "tenant"
	RelationFamily = "family"
)

// Residency links a user to a household once an application was approved.
type Residency struct {
	Base
	UserID      int64  `gorm:"not null;uniqueIndex:ux_residency,priority:1"`
	HouseholdID int64  `gorm:"not null;uniqueIndex:ux_residency,priority:2;index"`
	Relation    string `gorm:"size:16;not null"`
	Ancestry
}

// Application states.
const (
	ApplicationPending   = "pending"
	ApplicationApproved  = "approved"
	ApplicationRejected  = "rejected"
	ApplicationWithdrawn = "withdrawn"
)

// ResidencyApplication is a user's request to join a household, decided by
// a building steward, grid worker or firm manager of that building.
type ResidencyApplication struct {
	Base
	UserID      int64  `gorm:"not null;uniqueIndex:ux_application_open,priority:1"`
	HouseholdID int64  `gorm:"not null;uniqueIndex:ux_application_open,priority:2"`
	Relation    string `gorm:"size:16;not null"`
	Note        string `gorm:"size:200"`
	State       string `gorm:"size:16;not null;index"`
	// Open is 1 while pending and NULL after: one pending application per
	// user and household, enforced by the unique index.
	Open      *int8  `gorm:"uniqueIndex:ux_application_open,priority:3"`
	Reason    string `gorm:"size:200"`
	DecidedBy int64
	DecidedAt *time.Time
	Ancestry
}

// TakeUser reads one user; ErrNotFound when there is none.
func TakeUser(ctx context.Context, db *gorm.DB, id int64) (User, error) {
	var u User
	err := db.WithContext(ctx).Where("id = ?", id).Take(&u).Error
	return u, Translate(err)
}

// UserNames maps user ids to their display names; unknown ids are absent.
func UserNames(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]string, error) {
	return NamesOf(ctx, db, &User{}, "display_name", ids)
}

// LivesIn reports whether a user lives in a household, in any relation.
func LivesIn(ctx context.Context, db *gorm.DB, userID, householdID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ? AND household_id = ?", userID, householdID).
		Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// LivesInCompound reports whether a user lives in any household of a
// compound, in any relation.
func LivesInCompound(ctx context.Context, db *gorm.DB, userID, compoundID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ? AND compound_id = ?", userID, compoundID).
		Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// HomeCompounds are the compounds a user lives in, in any relation.
func HomeCompounds(ctx context.Context, db *gorm.DB, userID int64) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ?", userID).Distinct().Pluck("compound_id", &ids).Error
	return ids, Translate(err)
}

// Ownership is a user's residency as an owner of a household; ErrNotFound
// when they are not one.
func Ownership(ctx context.Context, db *gorm.DB, userID, householdID int64) (Residency, error) {
	var r Residency
	err := db.WithContext(ctx).Where("user_id = ? AND household_id = ? AND relation = ?", userID, householdID, RelationOwner).
		Take(&r).Error
	return r, Translate(err)
}

// OwnedHouseholds are the households a user owns in a compound, by id.
func OwnedHouseholds(ctx context.Context, db *gorm.DB, userID, compoundID int64) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ? AND compound_id = ? AND relation = ?",
		userID, compoundID, RelationOwner).Order("household_id").Pluck("household_id", &ids).Error
	return ids, Translate(err)
}

// OwnersAfter are up to limit owners of a compound's households with a
// user id above after, ascending: a keyset over owners that never holds a
// compound in memory.
func OwnersAfter(ctx context.Context, db *gorm.DB, compoundID, after int64, limit int) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Raw(`SELECT DISTINCT user_id FROM residencies
		WHERE compound_id = ? AND relation = ? AND user_id > ? ORDER BY user_id LIMIT ?`,
		compoundID, RelationOwner, after, limit).Scan(&ids).Error
	return ids, Translate(err)
}

// ResidentsIn returns those of userIDs who live inside place.
func ResidentsIn(ctx context.Context, db *gorm.DB, userIDs []int64, place Place) ([]int64, error) {
	col, ok := AncestryColumn(place.Kind)
	if len(userIDs) == 0 || !ok {
		return nil, nil
	}
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Distinct("user_id").
		Where("user_id IN ? AND "+col+" = ?", userIDs, place.ID).Order("user_id").Pluck("user_id", &ids).Error
	return ids, Translate(err)
}

// ResidenciesAfter is a keyset page of the residencies of a compound:
// up to limit rows with an id above after, by id, holding only ID and
// UserID.
func ResidenciesAfter(ctx context.Context, db *gorm.DB, compoundID, after int64, limit int) ([]Residency, error) {
	var rows []Residency
	err := db.WithContext(ctx).Select("id", "user_id").Where("compound_id = ? AND id > ?", compoundID, after).
		Order("id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}
