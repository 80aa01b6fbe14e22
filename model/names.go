package model

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// NameSet asks for one column (Col, usually "name") of the rows of Table
// (a model pointer) with IDs; ids of 0 or less are ignored.
type NameSet struct {
	Table any
	Col   string
	IDs   []int64
}

// NamesOfAll answers several NameSets at once, one map per set in order:
// a single UNION ALL statement instead of one per kind, for the names a
// page of orders shows. Sets larger than a batch fall back to NamesOf.
func NamesOfAll(ctx context.Context, db *gorm.DB, sets ...NameSet) ([]map[int64]string, error) {
	out := make([]map[int64]string, len(sets))
	var parts []string
	var args []any
	for i, set := range sets {
		out[i] = map[int64]string{}
		ids := make([]int64, 0, len(set.IDs))
		for _, id := range set.IDs {
			if id > 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		if len(ids) > nameBatch {
			m, err := NamesOf(ctx, db, set.Table, set.Col, ids)
			if err != nil {
				return nil, err
			}
			out[i] = m
			continue
		}
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(set.Table); err != nil {
			return nil, fmt.Errorf("names from %T: %w", set.Table, err)
		}
		// Table and column names are the models' own, never input.
		parts = append(parts, fmt.Sprintf("SELECT %d AS k, id, %s AS name FROM %s WHERE id IN ?", i, set.Col, stmt.Schema.Table))
		args = append(args, ids)
	}
	if len(parts) == 0 {
		return out, nil
	}
	var rows []struct {
		K    int
		ID   int64
		Name string
	}
	if err := db.WithContext(ctx).Raw(strings.Join(parts, " UNION ALL "), args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("names: %w", Translate(err))
	}
	for _, r := range rows {
		if r.K >= 0 && r.K < len(out) {
			out[r.K][r.ID] = r.Name
		}
	}
	return out, nil
}
