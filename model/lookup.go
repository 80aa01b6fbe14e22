package model

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// ByID loads one row of T by primary key (ErrNotFound when missing).
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

// NamesByID maps the ids given to the name column of table (a model such
// as &Compound{}); ids that do not exist are left out.
func NamesByID(ctx context.Context, db *gorm.DB, table any, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID   int64
		Name string
	}
	if err := db.WithContext(ctx).Model(table).Select("id", "name").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("names: %w", Translate(err))
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}
