package model

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
)

// TestStmtPoolKeepsTheHotStatements checks the pool's policy: a statement
// is prepared at its preparedAfter-th use and not before, uses decay so
// that a statement seen now and then is never prepared, no more than
// maxPrepared are kept, and inside a transaction nothing is.
func TestStmtPoolKeepsTheHotStatements(t *testing.T) {
	ctx := context.Background()
	db, err := Open("", "file:stmtpool?mode=memory&cache=shared", nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { sqlDB.Close() })
	count := func() int {
		p, ok := stmtPools.Load(sqlDB)
		if !ok {
			return 0
		}
		return p.(*stmtPool).prepared()
	}
	run := func(t *testing.T, db *gorm.DB, query string, times int) {
		t.Helper()
		for i := range times {
			var n int
			if err := Prepared(db).WithContext(ctx).Raw(query, i).Scan(&n).Error; err != nil || n != i+1 {
				t.Fatalf("%s with %d: %d, %v", query, i, n, err)
			}
		}
	}
	t.Run("prepared at its preparedAfter-th use", func(t *testing.T) {
		run(t, db, "SELECT ? + 1", preparedAfter-1)
		if n := count(); n != 0 {
			t.Fatalf("%d prepared before the threshold", n)
		}
		run(t, db, "SELECT ? + 1", 1)
		if n := count(); n != 1 {
			t.Fatalf("%d prepared at the threshold, want 1", n)
		}
	})
	t.Run("uses decay", func(t *testing.T) {
		run(t, db, "SELECT ? + 2 - 1", preparedAfter-1)
		// A window of calls of other statements, each used once.
		for i := range usesWindow {
			run(t, db, fmt.Sprintf("SELECT ? + 1 + %d - %d", i, i), 1)
		}
		run(t, db, "SELECT ? + 2 - 1", preparedAfter/2)
		if n := count(); n != 1 {
			t.Fatalf("%d prepared: the uses before the window counted whole", n)
		}
	})
	t.Run("the db given is left as it was", func(t *testing.T) {
		_ = Prepared(db)
		if _, ok := db.Statement.ConnPool.(*sql.DB); !ok {
			t.Fatalf("db's own pool is now %T", db.Statement.ConnPool)
		}
		for i := range 2 * preparedAfter {
			var n int
			if err := db.WithContext(ctx).Raw("SELECT ? + 4 - 3", i).Scan(&n).Error; err != nil || n != i+1 {
				t.Fatalf("unprepared read: %d, %v", n, err)
			}
		}
		if n := count(); n != 1 {
			t.Fatalf("%d prepared after reads not through Prepared", n)
		}
	})
	t.Run("in a transaction nothing is kept", func(t *testing.T) {
		err := db.Transaction(func(tx *gorm.DB) error {
			run(t, tx, "SELECT ? + 3 - 2", 2*preparedAfter)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d prepared after a transaction's statements", n)
		}
	})
	t.Run("at most maxPrepared", func(t *testing.T) {
		for i := range maxPrepared + 5 {
			run(t, db, fmt.Sprintf("SELECT ? + %d - %d", i+1, i), preparedAfter)
		}
		if n := count(); n != maxPrepared {
			t.Fatalf("%d prepared, want the bound %d", n, maxPrepared)
		}
	})
}

// TestTooManyStatementsIsTheServersLimit checks the one error on which a
// kept statement is run unprepared instead.
func TestTooManyStatementsIsTheServersLimit(t *testing.T) {
	limit := &mysqldriver.MySQLError{Number: 1461, Message: "Can't create more than max_prepared_stmt_count statements"}
	if !tooManyStatements(fmt.Errorf("query: %w", limit)) {
		t.Fatal("1461 not recognised")
	}
	for _, err := range []error{nil, context.Canceled, &mysqldriver.MySQLError{Number: 1054, Message: "Unknown column"}} {
		if tooManyStatements(err) {
			t.Fatalf("%v taken for the statement limit", err)
		}
	}
}
