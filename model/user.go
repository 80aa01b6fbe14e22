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

// UserExists reports whether a user of id exists.
func UserExists(ctx context.Context, db *gorm.DB, id int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&User{}).Where("id = ?", id).Count(&n).Error
	return n > 0, Translate(err)
}

// UsersByID returns the users of ids.
func UsersByID(ctx context.Context, db *gorm.DB, ids []int64) ([]User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var us []User
	err := db.WithContext(ctx).Where("id IN ?", ids).Order("id").Find(&us).Error
	return us, Translate(err)
}

// IsResident reports whether the user lives in the household.
func IsResident(ctx context.Context, db *gorm.DB, userID, householdID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ? AND household_id = ?", userID, householdID).Count(&n).Error
	return n > 0, Translate(err)
}

// ResidenciesOf returns the households a user lives in, oldest first.
func ResidenciesOf(ctx context.Context, db *gorm.DB, userID int64) ([]Residency, error) {
	var rs []Residency
	err := db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&rs).Error
	return rs, Translate(err)
}
