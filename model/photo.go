package model

import (
	"context"

	"gorm.io/gorm"
)

// Photo is an uploaded picture. The bytes live in storage under Key (random,
// never derived from user input); OrderID is 0 until an order claims it.
type Photo struct {
	Base
	Key        string `gorm:"size:64;not null;uniqueIndex"`
	UploaderID int64  `gorm:"not null;index"`
	Mime       string `gorm:"size:32;not null"`
	Size       int64  `gorm:"not null"`
	SHA256     string `gorm:"column:sha256;size:64;not null"`
	OrderID    int64  `gorm:"not null;default:0;index"`
}

// CountFreePhotos counts the photos among ids that uploaderID uploaded
// and no order has claimed.
func CountFreePhotos(ctx context.Context, db *gorm.DB, uploaderID int64, ids []int64) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Photo{}).Where("id IN ? AND uploader_id = ? AND order_id = 0", ids, uploaderID).
		Count(&n).Error
	return n, Translate(err)
}

// OwnPhotoIDs returns those of ids that are photos uploaded by uploaderID.
func OwnPhotoIDs(ctx context.Context, db *gorm.DB, uploaderID int64, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var found []int64
	err := db.WithContext(ctx).Model(&Photo{}).Where("id IN ? AND uploader_id = ?", ids, uploaderID).
		Order("id").Pluck("id", &found).Error
	return found, Translate(err)
}

// LockPhotos loads the photos of ids that exist and locks their rows until
// the transaction ends.
func LockPhotos(ctx context.Context, tx *gorm.DB, ids []int64) ([]Photo, error) {
	var rows []Photo
	err := ForUpdate(tx.WithContext(ctx)).Where("id IN ?", ids).Find(&rows).Error
	return rows, Translate(err)
}

// AttachPhotos ties the photos of ids to an order and returns how many
// rows it changed. It goes by primary key only: a condition on order_id
// would let MariaDB walk that index and lock the gaps around every other
// user's unattached photos, so the caller locks and checks the rows first.
func AttachPhotos(ctx context.Context, tx *gorm.DB, ids []int64, orderID int64) (int64, error) {
	res := tx.WithContext(ctx).Model(&Photo{}).Where("id IN ?", ids).Update("order_id", orderID)
	return res.RowsAffected, Translate(res.Error)
}
