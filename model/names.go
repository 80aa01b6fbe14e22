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
// page of orders shows.
func NamesOfAll(ctx context.Context, db *gorm.DB, sets ...NameSet) ([]map[int64]string, error) {
	fs := make([]FieldSet, len(sets))
	for i, set := range sets {
		fs[i] = FieldSet{Table: set.Table, Cols: []string{set.Col}, IDs: set.IDs}
	}
	got, err := FieldsOfAll(ctx, db, fs...)
	if err != nil {
		return nil, err
	}
	out := make([]map[int64]string, len(sets))
	for i, m := range got {
		out[i] = make(map[int64]string, len(m))
		for id, v := range m {
			out[i][id] = v[0]
		}
	}
	return out, nil
}

// FieldSet asks for a few columns (Cols, at most maxFields) of the rows of
// Table (a model pointer) with IDs; ids of 0 or less are ignored.
type FieldSet struct {
	Table any
	Cols  []string
	IDs   []int64
}

// maxFields is the most columns one FieldSet reads.
const maxFields = 4

// FieldsOfAll answers several FieldSets in one UNION ALL statement: per
// set, a map of id to the row's values of Cols in order, as text (a NULL
// is "", a boolean "1" or "0"). Sets larger than a batch are read in
// batches of their own.
func FieldsOfAll(ctx context.Context, db *gorm.DB, sets ...FieldSet) ([]map[int64][]string, error) {
	out := make([]map[int64][]string, len(sets))
	var parts []string
	var args []any
	for i, set := range sets {
		out[i] = map[int64][]string{}
		if len(set.Cols) == 0 || len(set.Cols) > maxFields {
			return nil, fmt.Errorf("fields of %T: %d columns, want 1 to %d", set.Table, len(set.Cols), maxFields)
		}
		ids := make([]int64, 0, len(set.IDs))
		for _, id := range set.IDs {
			if id > 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(set.Table); err != nil {
			return nil, fmt.Errorf("fields of %T: %w", set.Table, err)
		}
		// Table and column names are the models' own, never input.
		cols := make([]string, maxFields)
		for j := range cols {
			cols[j] = "''"
			if j < len(set.Cols) {
				cols[j] = "COALESCE(" + set.Cols[j] + ", '')"
			}
			cols[j] += fmt.Sprintf(" AS v%d", j)
		}
		sel := fmt.Sprintf("SELECT %d AS k, id, %s FROM %s WHERE id IN ?", i, strings.Join(cols, ", "), stmt.Schema.Table)
		for start := 0; start < len(ids); start += nameBatch {
			parts = append(parts, sel)
			args = append(args, ids[start:min(start+nameBatch, len(ids))])
		}
	}
	if len(parts) == 0 {
		return out, nil
	}
	var rows []struct {
		K              int
		ID             int64
		V0, V1, V2, V3 string
	}
	if err := db.WithContext(ctx).Raw(strings.Join(parts, " UNION ALL "), args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("names: %w", Translate(err))
	}
	for _, r := range rows {
		if r.K >= 0 && r.K < len(out) {
			out[r.K][r.ID] = []string{r.V0, r.V1, r.V2, r.V3}[:len(sets[r.K].Cols)]
		}
	}
	return out, nil
}
