package model

import (
	"context"

	"gorm.io/gorm"
)

// ByID loads the row of T with the given primary key (ErrNotFound when
// there is none).
func ByID[T any](ctx context.Context, db *gorm.DB, id int64) (T, error) {
	var row T
	err := db.WithContext(ctx).Take(&row, id).Error
	return row, Translate(err)
}

// AllByID loads the rows of T whose ids are given (those that exist).
func AllByID[T any](ctx context.Context, db *gorm.DB, ids []int64) ([]T, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []T
	err := db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error
	return rows, Translate(err)
}

// Exists reports whether T has a row with the given primary key.
func Exists[T any](ctx context.Context, db *gorm.DB, id int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(new(T)).Where("id = ?", id).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// Create inserts row (a pointer to a model, or to a slice of them);
// ErrDuplicate when a unique index refuses it.
func Create(ctx context.Context, db *gorm.DB, row any) error {
	return Translate(db.WithContext(ctx).Create(row).Error)
}

// CreateInBatches inserts a slice of models, batch rows per statement.
func CreateInBatches(ctx context.Context, db *gorm.DB, rows any, batch int) error {
	return Translate(db.WithContext(ctx).CreateInBatches(rows, batch).Error)
}

// Patch sets the columns of upd on the row of T with the given id and
// returns the row as it is then; ErrDuplicate when a unique index refuses
// the change, ErrNotFound when the row is gone.
func Patch[T any](ctx context.Context, db *gorm.DB, id int64, upd map[string]any) (T, error) {
	db = db.WithContext(ctx)
	if err := db.Model(new(T)).Where("id = ?", id).Updates(upd).Error; err != nil {
		var zero T
		return zero, Translate(err)
	}
	return ByID[T](ctx, db, id)
}
