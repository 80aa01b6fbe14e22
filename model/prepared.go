package model

import (
	"context"
	"database/sql"
	"sync"

	"gorm.io/gorm"
)

// maxPrepared bounds the statements one pool keeps prepared. The server
// holds one handle per statement and connection (MariaDB allows 16,382 in
// all by default): 24 statements on 50 connections of each instance
// leave room for a dozen instances. The hottest reads are prepared first
// (the first seen after start); any other runs as before.
const maxPrepared = 24

// Prepared is db whose reads run as statements prepared once per
// connection and kept: the database parses and plans them once, and rows
// come back in the binary protocol, which neither side has to format as
// text or parse back (times above all). Inside a transaction it is db
// unchanged. A statement that cannot be prepared (the server's limit
// reached) runs unprepared, as every statement past maxPrepared does.
func Prepared(db *gorm.DB) *gorm.DB {
	sqlDB, ok := db.Statement.ConnPool.(*sql.DB)
	if !ok {
		return db
	}
	p, _ := stmtPools.Load(sqlDB)
	if p == nil {
		p, _ = stmtPools.LoadOrStore(sqlDB, &stmtPool{DB: sqlDB, stmts: map[string]*sql.Stmt{}})
	}
	tx := db.Session(&gorm.Session{})
	tx.Statement.ConnPool = p.(*stmtPool)
	return tx
}

// stmtPools holds the pool of prepared statements of each *sql.DB.
var stmtPools sync.Map

// stmtPool is a gorm.ConnPool that queries through prepared statements,
// at most maxPrepared of them, and writes as the pool does.
type stmtPool struct {
	*sql.DB
	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	failed map[string]bool
}

// stmt is the prepared statement of query, nil when it is not (or cannot
// be) kept.
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

func (p *stmtPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

func (p *stmtPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
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
