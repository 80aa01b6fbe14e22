package servicetest

import (
	"database/sql"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// Analyze runs MariaDB's ANALYZE of a statement: its plan with the rows
// each step actually read (r_rows), one map of column to value per row.
func Analyze(t testing.TB, db *sql.DB, query string, vars []any) []map[string]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "ANALYZE "+query, vars...)
	if err != nil {
		t.Fatalf("analyze: %v\nsql: %s", err, query)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := map[string]string{}
		for i, col := range cols {
			r[col] = vals[i].String
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Statement is one SQL statement as gorm sent it.
type Statement struct {
	SQL  string
	Vars []any
}

// Capture records the queries db runs whose SQL contains every one of
// parts until the returned stop is called, and returns what it recorded
// (stop removes its callbacks).
func Capture(t testing.TB, db *gorm.DB, name string, parts ...string) (stop func() []Statement) {
	t.Helper()
	var seen []Statement
	on := true
	record := func(tx *gorm.DB) {
		s := tx.Statement.SQL.String()
		if !on || tx.DryRun {
			return
		}
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return
			}
		}
		seen = append(seen, Statement{s, append([]any(nil), tx.Statement.Vars...)})
	}
	// Finds run the query callbacks, Rows and Row the row callbacks.
	if err := db.Callback().Query().After("gorm:query").Register(name, record); err != nil {
		t.Fatal(err)
	}
	if err := db.Callback().Row().After("gorm:row").Register(name, record); err != nil {
		t.Fatal(err)
	}
	return func() []Statement {
		on = false
		db.Callback().Query().Remove(name)
		db.Callback().Row().Remove(name)
		return seen
	}
}
