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

// AllByID loads the rows of T whose ids are given (those that exist), by
// ascending id.
func AllByID[T any](ctx context.Context, db *gorm.DB, ids []int64) ([]T, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []T
	err := db.WithContext(ctx).Where("id IN ?", ids).Order("id").Find(&rows).Error
	return rows, Translate(err)
}

// LockByID loads the row of T with the given primary key and locks it
// until tx ends (ErrNotFound when there is none). Moves of a row lock it by
// primary key before they check: conditional updates over a secondary
// index can deadlock on MariaDB under concurrency. SQLite drops the lock;
// its one connection serialises writers already.
func LockByID[T any](ctx context.Context, tx *gorm.DB, id int64) (T, error) {
	var row T
	err := ForUpdate(tx.WithContext(ctx)).Take(&row, id).Error
	return row, Translate(err)
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

// updateVersioned is the compare-and-set of a versioned row: it writes the
// columns cols of next (a pointer to a model whose Version and UpdatedAt
// the caller has set) with version and updated_at, on the row id if it is
// still at version, and returns the rows affected.
func updateVersioned(ctx context.Context, db *gorm.DB, next any, id, version int64, cols []string) (int64, error) {
	res := db.WithContext(ctx).Model(next).Where("id = ? AND version = ?", id, version).
		Select(append(cols[:len(cols):len(cols)], "version", "updated_at")).UpdateColumns(next)
	return res.RowsAffected, Translate(res.Error)
}
