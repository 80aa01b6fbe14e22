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

// ResidentsIn returns those of userIDs who live inside place.
func ResidentsIn(ctx context.Context, db *gorm.DB, userIDs []int64, place Place) ([]int64, error) {
	col := ancestryColumn(place.Kind)
	if len(userIDs) == 0 || col == "" {
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
