package model

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
)

// The pool of prepared statements keeps the hot reads only. A statement
// is prepared at its preparedAfter-th use; uses decay (halve) every
// usesWindow calls, so a query shape seen now and then (a rare filter)
// never takes a place. At most maxPrepared are kept: the server holds one
// handle per statement and connection (MariaDB allows 16,382 in all by
// default, max_prepared_stmt_count), and 64 statements on 50 connections
// of each instance leave room for five instances.
const (
	maxPrepared   = 64
	preparedAfter = 16
	usesWindow    = 4096
)

// Prepared is db whose reads run as statements prepared once per
// connection and kept: the database parses and plans them once, and rows
// come back in the binary protocol, which neither side has to format as
// text or parse back (times above all). Inside a transaction it is db
// unchanged. A statement that cannot be prepared, or runs into the
// server's limit of statements, runs unprepared.
//
// Only statements whose text is one of a few shapes belong here: a query
// whose text varies with its input (an IN list of any length) would take
// the places of the hot ones.
func Prepared(db *gorm.DB) *gorm.DB {
	sqlDB, ok := db.Statement.ConnPool.(*sql.DB)
	if !ok {
		return db
	}
	p, _ := stmtPools.Load(sqlDB)
	if p == nil {
		p, _ = stmtPools.LoadOrStore(sqlDB, &stmtPool{DB: sqlDB, stmts: map[string]*sql.Stmt{}, uses: map[string]int{}})
	}
	// A session with a context is one with a statement of its own: the
	// pool is set on it, never on db's (which other requests share).
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	tx := db.Session(&gorm.Session{Context: ctx})
	tx.Statement.ConnPool = p.(*stmtPool)
	return tx
}

// stmtPools holds the pool of prepared statements of each *sql.DB.
var stmtPools sync.Map

// stmtPool is a gorm.ConnPool that queries through prepared statements
// and writes as the pool does.
type stmtPool struct {
	*sql.DB
	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	uses   map[string]int  // recent uses of statements not (yet) prepared
	calls  int             // since the uses last decayed
	failed map[string]bool // could not be prepared: not tried again
}

// stmt is the prepared statement of query, nil when it is not (or not
// yet) kept.
func (p *stmtPool) stmt(ctx context.Context, query string) *sql.Stmt {
	p.mu.RLock()
	st, ok := p.stmts[query]
	full := len(p.stmts) >= maxPrepared
	p.mu.RUnlock()
	if ok || full {
		return st
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.stmts[query]; ok {
		return st
	}
	if len(p.stmts) >= maxPrepared || p.failed[query] {
		return nil
	}
	if p.calls++; p.calls >= usesWindow {
		p.calls = 0
		for q, n := range p.uses {
			if n /= 2; n == 0 {
				delete(p.uses, q)
			} else {
				p.uses[q] = n
			}
		}
	}
	if p.uses[query]++; p.uses[query] < preparedAfter {
		return nil
	}
	delete(p.uses, query)
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the request ended, not the statement
		}
		// Not tried again: the unprepared statement reports its own
		// error, if it has one.
		if p.failed == nil {
			p.failed = map[string]bool{}
		}
		if len(p.failed) < maxPrepared {
			p.failed[query] = true
		}
		return nil
	}
	p.stmts[query] = st
	return st
}

// tooManyStatements reports whether err is the server's refusal to
// prepare one more statement (1461, max_prepared_stmt_count), which a
// kept statement meets when it is first run on another connection.
func tooManyStatements(err error) bool {
	var me *mysqldriver.MySQLError
	return errors.As(err, &me) && me.Number == 1461
}

func (p *stmtPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		if !tooManyStatements(err) {
			return rows, err
		}
	}
	return p.DB.QueryContext(ctx, query, args...)
}

func (p *stmtPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		row := st.QueryRowContext(ctx, args...)
		if !tooManyStatements(row.Err()) {
			return row
		}
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// GetDBConn lets gorm's DB() find the pool under the statements.
func (p *stmtPool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

// prepared counts the statements the pool keeps (for tests).
func (p *stmtPool) prepared() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.stmts)
}
