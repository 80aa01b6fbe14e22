package model_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

// openDeadlines opens the engine under test with its own, short deadlines.
func openDeadlines(t *testing.T, d model.Deadlines) *gorm.DB {
	t.Helper()
	dsn, path := "", fmt.Sprintf("file:deadline%d?mode=memory&cache=shared", time.Now().UnixNano())
	if dbtest.MySQL() {
		cfg, err := mysqldrv.ParseDSN(os.Getenv(dbtest.EnvMySQL))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = ""
		dsn = cfg.FormatDSN()
	}
	db, err := model.OpenWith(dsn, path, nil, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// stalled returns a statement that does not answer for longer than any
// deadline of these tests: on MariaDB a SLEEP, on SQLite any statement
// while the one pool connection is held elsewhere (the wait for the pool
// is what the deadline must bound there).
func stalled(t *testing.T, db *gorm.DB) string {
	t.Helper()
	if model.IsMySQL(db) {
		return "SELECT SLEEP(30)"
	}
	sqlDB, _ := db.DB()
	conn, err := sqlDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return "SELECT 1"
}

func TestQueryAndTransactionDeadlines(t *testing.T) {
	ctx := context.Background()
	fresh := func(t *testing.T) *gorm.DB {
		return openDeadlines(t, model.Deadlines{Query: 300 * time.Millisecond, Tx: 800 * time.Millisecond})
	}

	t.Run("a statement past the query deadline is ErrUnavailable, in bounded time", func(t *testing.T) {
		db := fresh(t)
		q := stalled(t, db)
		start := time.Now()
		var n int64
		err := db.WithContext(ctx).Raw(q).Scan(&n).Error
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("the query took %s", took)
		}
		if !errors.Is(model.Translate(err), model.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("an Exec past the deadline is marked unavailable without Translate", func(t *testing.T) {
		db := fresh(t)
		q := stalled(t, db)
		start := time.Now()
		err := db.WithContext(ctx).Exec(q).Error
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("the statement took %s", took)
		}
		if !errors.Is(err, model.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("a transaction past its budget is rolled back as ErrUnavailable", func(t *testing.T) {
		db := fresh(t)
		start := time.Now()
		err := model.InTx(ctx, db, func(tx *gorm.DB) error {
			// Each statement is well inside the query deadline; together
			// they outlast the transaction's.
			for i := 0; i < 20; i++ {
				if err := tx.Exec("SELECT 1").Error; err != nil {
					return err
				}
				time.Sleep(100 * time.Millisecond)
			}
			return nil
		})
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("the transaction took %s", took)
		}
		if !errors.Is(err, model.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("a caller's cancellation is not an outage", func(t *testing.T) {
		db := fresh(t)
		q := stalled(t, db)
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		var n int64
		err := model.Translate(db.WithContext(cctx).Raw(q).Scan(&n).Error)
		if err == nil || errors.Is(err, model.ErrUnavailable) {
			t.Fatalf("err = %v, want a cancellation", err)
		}
	})
	t.Run("a shorter deadline of the caller is kept", func(t *testing.T) {
		long := openDeadlines(t, model.Deadlines{Query: time.Minute})
		q := stalled(t, long)
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		var n int64
		err := long.WithContext(cctx).Raw(q).Scan(&n).Error
		if took := time.Since(start); took > 3*time.Second || err == nil {
			t.Fatalf("took %s, err %v", took, err)
		}
	})
	t.Run("quick statements and transactions are untouched", func(t *testing.T) {
		db := fresh(t)
		var n int64
		if err := db.WithContext(ctx).Raw("SELECT 1").Row().Scan(&n); err != nil || n != 1 {
			t.Fatalf("row: %d %v", n, err)
		}
		err := model.InTx(ctx, db, func(tx *gorm.DB) error { return tx.Raw("SELECT 2").Scan(&n).Error })
		if err != nil || n != 2 {
			t.Fatalf("tx: %d %v", n, err)
		}
	})
}

func TestTranslateClassifiesOutages(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("query: %w", refused), true},
		{"bad connection", mysqldrv.ErrInvalidConn, true},
		{"deadline", context.DeadlineExceeded, true},
		{"too many connections", &mysqldrv.MySQLError{Number: 1040}, true},
		{"sqlite locked", errors.New("database is locked (5) (SQLITE_BUSY)"), true},
		{"cancelled by the caller", context.Canceled, false},
		{"cancelled, worded as a broken connection", errors.Join(context.Canceled, mysqldrv.ErrInvalidConn), false},
		{"deadlock", &mysqldrv.MySQLError{Number: 1213}, false},
		{"syntax", &mysqldrv.MySQLError{Number: 1064}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(model.Translate(c.err), model.ErrUnavailable); got != c.want {
				t.Fatalf("unavailable = %v, want %v", got, c.want)
			}
		})
	}
}

// CreateInBatches runs one callback chain per batch on one statement: a
// batch must not start from the context the previous one released.
func TestDeadlineAcrossBatches(t *testing.T) {
	db := dbtest.Open(t)
	rows := make([]model.Region, 7)
	for i := range rows {
		rows[i] = model.Region{Level: model.LevelCity, Name: fmt.Sprintf("市%d", i), Code: fmt.Sprintf("9%05d", i)}
	}
	if err := model.InTx(context.Background(), db, func(tx *gorm.DB) error {
		return model.CreateInBatches(context.Background(), tx, &rows, 2)
	}); err != nil {
		t.Fatal(err)
	}
}
