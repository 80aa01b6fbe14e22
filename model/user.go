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

// Lookups of users by their WeChat ids, for the messages capability.

// OpenIDOf is the mini-program openid of a user ("" when they never
// logged in through it; ErrNotFound when there is no such user).
func OpenIDOf(ctx context.Context, db *gorm.DB, userID int64) (string, error) {
	var u User
	if err := db.WithContext(ctx).Select("id", "open_id").Where("id = ?", userID).Take(&u).Error; err != nil {
		return "", Translate(err)
	}
	if u.OpenID == nil {
		return "", nil
	}
	return *u.OpenID, nil
}

// UnionIDOf is the WeChat unionid of a user ("" when unknown; ErrNotFound
// when there is no such user).
func UnionIDOf(ctx context.Context, db *gorm.DB, userID int64) (string, error) {
	var u User
	if err := db.WithContext(ctx).Select("id", "union_id").Where("id = ?", userID).Take(&u).Error; err != nil {
		return "", Translate(err)
	}
	if u.UnionID == nil {
		return "", nil
	}
	return *u.UnionID, nil
}

// UserIDByOpenID is the user of a mini-program openid (ErrNotFound: none).
func UserIDByOpenID(ctx context.Context, db *gorm.DB, openID string) (int64, error) {
	var u User
	err := db.WithContext(ctx).Select("id").Where("open_id = ?", openID).Take(&u).Error
	return u.ID, Translate(err)
}

// UserIDByUnionID is the oldest user of a unionid (ErrNotFound: none).
func UserIDByUnionID(ctx context.Context, db *gorm.DB, unionID string) (int64, error) {
	var u User
	err := db.WithContext(ctx).Select("id").Where("union_id = ?", unionID).Order("id").Take(&u).Error
	return u.ID, Translate(err)
}
