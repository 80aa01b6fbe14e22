package dbtest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"
)

// Statements counts the SQL statements gorm sends on db while On is true.
type Statements struct {
	On atomic.Bool
	// Except, when set before counting, leaves out the statements whose
	// SQL contains it (the work of a background loop).
	Except string
	n      atomic.Int64
	mu     sync.Mutex
	sql    []string
}

// CountStatements registers a counter on every kind of gorm statement of
// db (queries, scans, creates, updates, deletes, raw SQL). Transactions'
// BEGIN and COMMIT are not counted.
func CountStatements(t testing.TB, db *gorm.DB) *Statements {
	t.Helper()
	s := &Statements{}
	name := fmt.Sprintf("dbtest:count:%p", s)
	count := func(d *gorm.DB) {
		// A dry run builds SQL (the parts of a UNION) and sends nothing.
		if !s.On.Load() || d.DryRun || d.Statement.DryRun {
			return
		}
		if s.Except != "" && strings.Contains(d.Statement.SQL.String(), s.Except) {
			return
		}
		s.n.Add(1)
		s.mu.Lock()
		s.sql = append(s.sql, d.Statement.SQL.String())
		s.mu.Unlock()
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register(name, count),
		cb.Row().After("gorm:row").Register(name, count),
		cb.Raw().After("gorm:raw").Register(name, count),
		cb.Create().After("gorm:create").Register(name, count),
		cb.Update().After("gorm:update").Register(name, count),
		cb.Delete().After("gorm:delete").Register(name, count),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// Take returns the statements counted since the last Take, and restarts.
func (s *Statements) Take() (int64, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sql := s.sql
	s.sql = nil
	return s.n.Swap(0), sql
}
